//! Delivery of queued alert events: three phases, the network call
//! outside any transaction and without the session lock.
//!
//! Owns: reading the due events from the kernel's outbox with the unsealed
//! webhook ([`PendingDelivery`]), sending them, and recording each
//! outcome (delivered events removed, transient failures rescheduled up to
//! [`MAX_DELIVERY_ATTEMPTS`], each audited without the URL). Must never:
//! return, print or audit the webhook URL, or send a row whose MAC fails
//! (the kernel hands out only rows whose MAC checks).

use rusqlite::params;

use super::webhook::{WebhookError, WebhookKind, WebhookSender, WebhookUrl};
use super::{AlertEvent, AlertSeverity, EventKind};
use crate::audit::{self, Details, Event};
use crate::vault::{self, Actor, Session, SessionAccess, VaultError};

/// Deliveries of one event before it is dropped (and audited as such).
pub const MAX_DELIVERY_ATTEMPTS: i64 = 5;
/// Events sent per delivery pass.
const BATCH: i64 = 20;

/// One event as read from the outbox (or a test message, `seq` = `None`).
#[derive(Debug, Clone)]
pub struct QueuedEvent {
    seq: Option<i64>,
    attempts: i64,
    /// The event.
    pub event: AlertEvent,
}

/// Phase 1 → 2 of a delivery: the unsealed URL and the events. Opaque;
/// its URL is zeroized on drop.
#[derive(Debug)]
pub struct PendingDelivery {
    url: WebhookUrl,
    kind: WebhookKind,
    events: Vec<QueuedEvent>,
}

/// What a delivery pass did, event by event.
#[derive(Debug, Default)]
pub struct DeliveryReport {
    results: Vec<(QueuedEvent, Result<(), WebhookError>)>,
}

impl DeliveryReport {
    /// Events delivered.
    pub fn delivered(&self) -> usize {
        self.results.iter().filter(|(_, r)| r.is_ok()).count()
    }

    /// Each event's kind and outcome.
    pub fn outcomes(&self) -> impl Iterator<Item = (EventKind, &Result<(), WebhookError>)> {
        self.results.iter().map(|(q, r)| (q.event.kind, r))
    }

    /// The first failure, if any.
    pub fn first_error(&self) -> Option<&WebhookError> {
        self.results.iter().find_map(|(_, r)| r.as_ref().err())
    }

    /// Whether there was nothing to send.
    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }
}

impl PendingDelivery {
    /// Phase 2: sends every event in order through `sender`. No session is
    /// held; failures are per event and never panic.
    pub async fn send(self, sender: &WebhookSender) -> DeliveryReport {
        let mut results = Vec::with_capacity(self.events.len());
        for q in self.events {
            let r = sender.send(&self.url, self.kind, &q.event).await;
            results.push((q, r));
        }
        DeliveryReport { results }
    }
}

impl Session {
    /// Phase 1 of a delivery: the webhook (unsealed) and up to 20 queued
    /// events whose next attempt is due at `now`. `None` when no webhook
    /// is configured or nothing is due. Does not count as activity.
    pub fn alerts_prepare_delivery(
        &mut self,
        now: i64,
    ) -> Result<Option<PendingDelivery>, VaultError> {
        self.quietly(|s| {
            let config = s.sealed_config()?;
            let Some(hook) = &config.webhook else {
                return Ok(None);
            };
            // The outbox must be as the last sealed write left it (a row
            // deleted or put back since is refused here, and reported at
            // the next unlock), and each row sent must carry its MAC.
            let rows = s.outbox_due(now, BATCH)?;
            let mut events = Vec::new();
            let mut unreadable = Vec::new();
            for (seq, json, attempts) in rows {
                match serde_json::from_str::<AlertEvent>(&json) {
                    Ok(event) => events.push(QueuedEvent {
                        seq: Some(seq),
                        attempts,
                        event,
                    }),
                    Err(_) => unreadable.push(seq),
                }
            }
            if !unreadable.is_empty() {
                // A row that does not parse can never be sent: drop it.
                s.write_events(
                    Actor::System,
                    None,
                    |_| Vec::new(),
                    |tx, _| {
                        for seq in &unreadable {
                            tx.execute("DELETE FROM alert_outbox WHERE seq = ?1", params![seq])?;
                        }
                        Ok(())
                    },
                )?;
            }
            if events.is_empty() {
                return Ok(None);
            }
            Ok(Some(PendingDelivery {
                url: WebhookUrl::parse(&hook.url)?,
                kind: hook.kind,
                events,
            }))
        })
    }

    /// A test message for the configured webhook (phase 1; send it with
    /// [`PendingDelivery::send`], record it with
    /// [`Session::alerts_record_delivery`]).
    pub fn alerts_prepare_test(&mut self) -> Result<PendingDelivery, VaultError> {
        let config = self.sealed_config()?;
        let hook = config.webhook.as_ref().ok_or(WebhookError::NotConfigured)?;
        Ok(PendingDelivery {
            url: WebhookUrl::parse(&hook.url)?,
            kind: hook.kind,
            events: vec![QueuedEvent {
                seq: None,
                attempts: 0,
                event: AlertEvent {
                    kind: EventKind::Test,
                    severity: AlertSeverity::Info,
                    at: self.now_secs(),
                    keys: Vec::new(),
                    exchanges: Vec::new(),
                    detail: "Keyward alerts reach this channel.".into(),
                },
            }],
        })
    }

    /// Phase 3: removes delivered events, reschedules transient failures
    /// (backoff, or the receiver's `Retry-After`), drops an event after
    /// [`MAX_DELIVERY_ATTEMPTS`] or a permanent failure; one audit entry
    /// per event (`alert_delivered` / `alert_failed`, with the event and
    /// error code, never the URL). Does not count as activity.
    pub fn alerts_record_delivery(
        &mut self,
        actor: Actor,
        report: &DeliveryReport,
    ) -> Result<(), VaultError> {
        if report.results.is_empty() {
            return Ok(());
        }
        let now = self.now_secs();
        let mut actions = Vec::new();
        for (q, r) in &report.results {
            let attempt = q.attempts + 1;
            let dropped = match r {
                Ok(()) => false,
                Err(e) => !e.is_transient() || attempt >= MAX_DELIVERY_ATTEMPTS,
            };
            let error = r.as_ref().err().map(|e| e.code());
            let mut details = Details::new()
                .with("event", q.event.kind.as_str())
                .with("attempt", u32::try_from(attempt).unwrap_or(u32::MAX));
            if let Some(label) = q.event.label() {
                details = details.with("label", label);
            }
            if let Some(error) = error {
                details = details
                    .with("error", error)
                    .with("dropped", dropped && q.seq.is_some());
            }
            if let Err(WebhookError::Status { status }) = r {
                details = details.with("status", *status);
            }
            let action = if error.is_some() {
                audit::Action::AlertFailed
            } else {
                audit::Action::AlertDelivered
            };
            actions.push(Event::new(action).with_details(details));
        }
        self.quietly(|s| {
            s.write_events(
                actor,
                None,
                |_| actions.clone(),
                |tx, sealer| {
                    for (q, r) in &report.results {
                        let Some(seq) = q.seq else { continue };
                        let attempt = q.attempts + 1;
                        match r {
                            Ok(()) => {
                                tx.execute("DELETE FROM alert_outbox WHERE seq = ?1", params![seq])?;
                            }
                            Err(e) if e.is_transient() && attempt < MAX_DELIVERY_ATTEMPTS => {
                                let wait = match e {
                                    WebhookError::RateLimited { retry_after_secs } => {
                                        i64::try_from(*retry_after_secs).unwrap_or(3600).max(60)
                                    }
                                    _ => 60 * (1 << attempt.min(6)),
                                };
                                tx.execute(
                                    "UPDATE alert_outbox SET attempts = ?2, next_at = ?3 WHERE seq = ?1",
                                    params![seq, attempt, now.saturating_add(wait.min(3600))],
                                )?;
                                vault::remac_outbox_row(tx, sealer, seq)?;
                            }
                            Err(_) => {
                                tx.execute("DELETE FROM alert_outbox WHERE seq = ?1", params![seq])?;
                            }
                        }
                    }
                    Ok(())
                },
            )
        })
    }
}

/// All three phases of a delivery for any [`SessionAccess`], through the
/// vault's driver: prepare under the session (lock), send without it,
/// record under it again. Nothing pending ends it after the prepare (no
/// send, the session not taken again). A vault locked meanwhile keeps the
/// events queued for the next unlock.
pub async fn deliver_alerts<S: SessionAccess>(
    mut access: S,
    sender: &WebhookSender,
    actor: Actor,
    now: i64,
) -> Result<DeliveryReport, VaultError> {
    let report = vault::three_phase_if_any(
        &mut access,
        |s| s.alerts_prepare_delivery(now),
        |pending| pending.send(sender),
        record_delivery(actor),
    )
    .await?;
    Ok(report.unwrap_or_default())
}

/// Sends the test message through the configured webhook and audits the
/// outcome; the error of a failed delivery is returned.
pub async fn send_test_alert<S: SessionAccess>(
    mut access: S,
    sender: &WebhookSender,
    actor: Actor,
) -> Result<(), VaultError> {
    let report = vault::three_phase(
        &mut access,
        |s| s.alerts_prepare_test(),
        |pending| pending.send(sender),
        record_delivery(actor),
    )
    .await?;
    match report.first_error() {
        Some(e) => Err(e.clone().into()),
        None => Ok(()),
    }
}

/// Phase 3 of a delivery: [`Session::alerts_record_delivery`], handing the
/// report on.
fn record_delivery(
    actor: Actor,
) -> impl FnOnce(&mut Session, DeliveryReport) -> Result<DeliveryReport, VaultError> {
    move |s, report| {
        s.alerts_record_delivery(actor, &report)?;
        Ok(report)
    }
}
