//! Alerts' side of the vault: what alerts keep and how they queue.
//!
//! Owns: the sealed alert configuration (`alert_config.config`, AAD = vault
//! id ‖ header record ‖ `alerts.config`: the webhook URL and kind, which
//! events are on, the background-audit schedule), the per-key "last
//! alerted" state (`alert_state`), what goes into the outbox of events
//! waiting for delivery (`alert_outbox`) and the last background audit
//! (`alert_runs`). Changing the webhook or the schedule is a security
//! setting (step-up [`GatedAction::SecuritySettings`](crate::mfa::GatedAction::SecuritySettings)): an attacker could
//! redirect or silence alerts. Every change is audited without the URL.
//!
//! The outbox rows are the kernel's (`vault/outbox.rs`: each row MAC'd,
//! checked at unlock, covered by the state seal); alerts decide what goes
//! in ([`enqueue`]) and deliver it (`outbox.rs`). A stored live check
//! reaches alerts as a kernel event ([`hook`], registered on the vault a
//! front end opens), never as a call from the checks.
//!
//! Must never: return, print or audit the webhook URL (front ends get
//! [`WebhookInfo`]: kind, host, a masked form); deliver anything inside a
//! transaction (events are queued in the action's own transaction and sent
//! after commit, see [`super::deliver_alerts`]); let a failed delivery undo
//! or block the action that raised it.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use super::reminders::{self, KeyFindings, Reminder};
use super::webhook::{WebhookError, WebhookKind, WebhookUrl, resolve_kind};
use super::{AlertEvent, AlertKey, AlertSeverity, EventKind, short_key_id};
use crate::audit::{self, Details, Event};
use crate::exchange::{Finding, Severity};
use crate::mfa::StepUpGrant;
use crate::mfa::actions::SecuritySettings;
use crate::vault::{
    self, ALERT_CONFIG_FIELD as CONFIG_FIELD, Actor, IncidentOpened, KernelEvent, KeyChecked,
    META_RECORD, Sealer, Session, VaultError,
};

/// Local reminders (desktop notification, `keyward alerts remind`).
const CHANNEL_REMINDER: &str = "reminder";
/// Webhook messages.
const CHANNEL_WEBHOOK: &str = "webhook";

/// Which events go to the webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EventSwitches {
    /// An incident was opened.
    pub incident_opened: bool,
    /// A live check found something critical.
    pub critical_finding: bool,
    /// A key's rotation is overdue (at most once a day per key).
    pub rotation_overdue: bool,
}

impl Default for EventSwitches {
    fn default() -> Self {
        EventSwitches {
            incident_opened: true,
            critical_finding: true,
            rotation_overdue: true,
        }
    }
}

impl EventSwitches {
    fn allows(&self, kind: EventKind) -> bool {
        match kind {
            EventKind::IncidentOpened => self.incident_opened,
            EventKind::CriticalFinding => self.critical_finding,
            EventKind::RotationOverdue => self.rotation_overdue,
            EventKind::Test => true,
        }
    }
}

/// How often the desktop checks every key live in the background while
/// unlocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum AuditSchedule {
    /// Never.
    Off,
    /// Once a day (the default).
    #[default]
    Daily,
    /// Once a week.
    Weekly,
}

impl AuditSchedule {
    /// Seconds between two background audits (`None`: off).
    pub fn interval_secs(self) -> Option<i64> {
        match self {
            AuditSchedule::Off => None,
            AuditSchedule::Daily => Some(86_400),
            AuditSchedule::Weekly => Some(7 * 86_400),
        }
    }

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditSchedule::Off => "off",
            AuditSchedule::Daily => "daily",
            AuditSchedule::Weekly => "weekly",
        }
    }
}

impl std::str::FromStr for AuditSchedule {
    type Err = VaultError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "off" => Ok(AuditSchedule::Off),
            "daily" => Ok(AuditSchedule::Daily),
            "weekly" => Ok(AuditSchedule::Weekly),
            _ => Err(crate::model::ValidationError::BadSetting {
                name: "background_audit",
            }
            .into()),
        }
    }
}

#[derive(Serialize, Deserialize)]
pub(super) struct StoredWebhook {
    pub(super) url: String,
    pub(super) kind: WebhookKind,
}

impl Drop for StoredWebhook {
    fn drop(&mut self) {
        self.url.zeroize();
    }
}

#[derive(Serialize, Deserialize, Default)]
pub(super) struct StoredConfig {
    pub(super) webhook: Option<StoredWebhook>,
    #[serde(default)]
    events: EventSwitches,
    #[serde(default)]
    background_audit: AuditSchedule,
}

/// What a front end may know of the webhook: never the URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WebhookInfo {
    /// Discord or Slack format.
    pub kind: WebhookKind,
    /// The receiver's host.
    pub host: String,
    /// `https://host/…`.
    pub masked: String,
}

/// The last background audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BackgroundAuditRun {
    /// Unix seconds.
    pub at: i64,
    /// Keys checked.
    pub checked: usize,
    /// Checks the exchange rejected or that could not reach it.
    pub failed: usize,
    /// Checks with a critical finding.
    pub critical: usize,
    /// Why the run did not finish, if it did not (never a secret).
    pub error: Option<String>,
}

/// The alert settings as front ends show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AlertSettings {
    /// The webhook, if one is configured.
    pub webhook: Option<WebhookInfo>,
    /// Which events go to it.
    pub events: EventSwitches,
    /// The background audit schedule.
    pub background_audit: AuditSchedule,
    /// The last background audit, if any ran.
    pub last_background_audit: Option<BackgroundAuditRun>,
    /// Events waiting for delivery.
    pub pending: usize,
}

fn read_config(tx: &rusqlite::Connection, sealer: &Sealer<'_>) -> Result<StoredConfig, VaultError> {
    let blob: Option<Vec<u8>> = tx
        .query_row("SELECT config FROM alert_config WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?;
    let Some(blob) = blob else {
        return Ok(StoredConfig::default());
    };
    let json = sealer
        .open(&META_RECORD, CONFIG_FIELD, &blob)
        .map_err(|_| VaultError::Corrupt {
            record: "alert_config".into(),
            field: CONFIG_FIELD,
        })?;
    serde_json::from_slice(&json).map_err(|_| VaultError::Malformed {
        record: "alert_config".into(),
        field: CONFIG_FIELD,
    })
}

fn write_config(
    tx: &Transaction<'_>,
    sealer: &Sealer<'_>,
    config: &StoredConfig,
) -> Result<(), VaultError> {
    let json =
        zeroize::Zeroizing::new(
            serde_json::to_vec(config).map_err(|_| VaultError::Malformed {
                record: "alert_config".into(),
                field: CONFIG_FIELD,
            })?,
        );
    let blob = sealer.seal(&META_RECORD, CONFIG_FIELD, &json)?;
    tx.execute(
        "INSERT INTO alert_config (id, config) VALUES (1, ?1)
         ON CONFLICT(id) DO UPDATE SET config = excluded.config",
        params![blob],
    )?;
    Ok(())
}

/// Queues `event` for the webhook inside the caller's transaction if a
/// webhook is configured and the event is on. Returns whether it queued.
pub(crate) fn enqueue(
    tx: &rusqlite::Connection,
    sealer: &Sealer<'_>,
    event: &AlertEvent,
) -> Result<bool, VaultError> {
    let config = read_config(tx, sealer)?;
    if config.webhook.is_none() || !config.events.allows(event.kind) {
        return Ok(false);
    }
    let json = serde_json::to_string(event).map_err(|_| VaultError::Malformed {
        record: "alert_outbox".into(),
        field: "event",
    })?;
    vault::push_outbox(tx, sealer, event.at, &json)?;
    Ok(true)
}

/// Alerts' listener for kernel events: a stored live check queues its new
/// critical findings, an opened incident queues `incident_opened`.
struct OutboxHook;

impl vault::Listener for OutboxHook {
    fn on_event(
        &self,
        tx: &rusqlite::Connection,
        sealer: &Sealer<'_>,
        event: &KernelEvent<'_>,
    ) -> Result<(), VaultError> {
        match event {
            KernelEvent::KeyChecked(checked) => after_check(tx, sealer, checked),
            KernelEvent::IncidentOpened(opened) => after_incident(tx, sealer, opened),
        }
    }
}

/// The alerts hook: register it on every vault a front end opens
/// ([`vault::VaultOptions::with_hook`]) so that a stored live check with a
/// critical finding, or an opened incident, queues a webhook event in that
/// write's own transaction.
pub fn hook() -> vault::Hook {
    vault::Hook::new(OutboxHook)
}

/// After an incident is opened: queues one `incident_opened` event (sent
/// after commit) naming its keys (API key ids shortened), its exchanges
/// and its situation.
fn after_incident(
    tx: &rusqlite::Connection,
    sealer: &Sealer<'_>,
    opened: &IncidentOpened<'_>,
) -> Result<(), VaultError> {
    let alert = AlertEvent {
        kind: EventKind::IncidentOpened,
        severity: AlertSeverity::Critical,
        at: opened.at,
        keys: opened
            .keys
            .iter()
            .map(|k| AlertKey {
                label: k.label.to_owned(),
                exchange: k.exchange,
                key_id: short_key_id(k.api_key_id),
            })
            .collect(),
        exchanges: opened.exchanges.to_vec(),
        detail: format!("Situation: {}", opened.situation),
    };
    enqueue(tx, sealer, &alert)?;
    Ok(())
}

/// After a live check is stored: queues one `critical_finding` event per
/// critical finding of the key not alerted before, and forgets findings
/// that are gone (so their return alerts again). `conclusive` is false
/// when the check did not reach the exchange: then nothing is forgotten.
fn after_check(
    tx: &rusqlite::Connection,
    sealer: &Sealer<'_>,
    checked: &KeyChecked<'_>,
) -> Result<(), VaultError> {
    let KeyChecked {
        key_id,
        label,
        exchange,
        api_key_id,
        findings,
        conclusive,
        at,
    } = *checked;
    let critical: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.severity == Severity::Critical)
        .collect();
    if conclusive {
        let mut stmt = tx.prepare(
            "SELECT kind FROM alert_state WHERE key_id = ?1 AND channel = ?2
             AND kind LIKE 'critical:%'",
        )?;
        let known: Vec<String> = stmt
            .query_map(params![&key_id[..], CHANNEL_WEBHOOK], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for kind in known {
            let code = kind.trim_start_matches("critical:");
            if !critical.iter().any(|f| f.code == code) {
                tx.execute(
                    "DELETE FROM alert_state WHERE key_id = ?1 AND channel = ?2 AND kind = ?3",
                    params![&key_id[..], CHANNEL_WEBHOOK, kind],
                )?;
            }
        }
    }
    for f in critical {
        let kind = format!("critical:{}", f.code);
        let seen: Option<i64> = tx
            .query_row(
                "SELECT last_at FROM alert_state WHERE key_id = ?1 AND channel = ?2 AND kind = ?3",
                params![&key_id[..], CHANNEL_WEBHOOK, kind],
                |r| r.get(0),
            )
            .optional()?;
        if seen.is_some() {
            continue;
        }
        let event = AlertEvent {
            kind: EventKind::CriticalFinding,
            severity: AlertSeverity::Critical,
            at,
            keys: vec![AlertKey {
                label: label.to_owned(),
                exchange,
                key_id: short_key_id(api_key_id),
            }],
            exchanges: vec![exchange],
            detail: format!("{} ({})", f.message, f.code),
        };
        if enqueue(tx, sealer, &event)? {
            tx.execute(
                "INSERT INTO alert_state (key_id, channel, kind, last_at) VALUES (?1, ?2, ?3, ?4)",
                params![&key_id[..], CHANNEL_WEBHOOK, kind, at],
            )?;
        }
    }
    Ok(())
}

fn uuid_bytes(id: &str) -> Option<[u8; 16]> {
    uuid::Uuid::try_parse(id).ok().map(|u| *u.as_bytes())
}

fn last_map(
    conn: &rusqlite::Connection,
    channel: &str,
    kind: &str,
) -> Result<HashMap<String, i64>, VaultError> {
    let mut stmt =
        conn.prepare("SELECT key_id, last_at FROM alert_state WHERE channel = ?1 AND kind = ?2")?;
    let rows: Vec<(Vec<u8>, i64)> = stmt
        .query_map(params![channel, kind], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, at)| {
            <[u8; 16]>::try_from(id)
                .ok()
                .map(|b| (uuid::Uuid::from_bytes(b).to_string(), at))
        })
        .collect())
}

fn mark(
    tx: &rusqlite::Connection,
    record_id: &str,
    channel: &str,
    kind: &str,
    at: i64,
) -> Result<(), VaultError> {
    if let Some(id) = uuid_bytes(record_id) {
        tx.execute(
            "INSERT INTO alert_state (key_id, channel, kind, last_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(key_id, channel, kind) DO UPDATE SET last_at = excluded.last_at",
            params![&id[..], channel, kind, at],
        )?;
    }
    Ok(())
}

/// What one reminder pass decided.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReminderPass {
    /// Reminders to show now (each key at most once a day).
    pub reminders: Vec<Reminder>,
    /// `rotation_overdue` events queued for the webhook.
    pub queued: usize,
}

/// The audit event of a change of the alert configuration (never the
/// webhook URL: `detail` is the kind and host, or the options).
fn settings_changed(change: &'static str, detail: &str) -> Event {
    Event::new(audit::Action::AlertSettingsChanged)
        .with_details(Details::new().with("change", change).with("detail", detail))
}

impl Session {
    pub(super) fn sealed_config(&mut self) -> Result<StoredConfig, VaultError> {
        self.read_sealed(read_config)
    }

    /// The alert settings, without the webhook URL.
    pub fn alert_settings(&mut self) -> Result<AlertSettings, VaultError> {
        let config = self.sealed_config()?;
        let webhook = match &config.webhook {
            Some(w) => {
                let url = WebhookUrl::parse(&w.url)?;
                Some(WebhookInfo {
                    kind: w.kind,
                    host: url.host().to_owned(),
                    masked: url.masked(),
                })
            }
            None => None,
        };
        let last: Option<String> = self
            .conn()
            .query_row("SELECT summary FROM alert_runs WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        let pending: i64 = self
            .conn()
            .query_row("SELECT COUNT(*) FROM alert_outbox", [], |r| r.get(0))?;
        Ok(AlertSettings {
            webhook,
            events: config.events,
            background_audit: config.background_audit,
            last_background_audit: last.and_then(|s| serde_json::from_str(&s).ok()),
            pending: usize::try_from(pending).unwrap_or(0),
        })
    }

    /// Sets (or replaces) the webhook (step-up: SecuritySettings). `kind`
    /// overrides what the URL says; a URL of an unknown service needs it.
    /// `events`: which events to send (`None` keeps the current choice).
    /// Audited with kind and host, never the URL.
    pub fn set_webhook(
        &mut self,
        actor: Actor,
        grant: StepUpGrant<SecuritySettings>,
        url: &WebhookUrl,
        kind: Option<WebhookKind>,
        events: Option<EventSwitches>,
    ) -> Result<AlertSettings, VaultError> {
        let kind = resolve_kind(url, kind)?;
        let host = url.host().to_owned();
        self.write_gated(
            actor,
            grant.method(),
            |_| settings_changed("webhook_set", &format!("{} {host}", kind.as_str())),
            |tx, sealer| {
                let mut config = read_config(tx, sealer)?;
                config.webhook = Some(StoredWebhook {
                    url: url.expose().to_owned(),
                    kind,
                });
                if let Some(e) = events {
                    config.events = e;
                }
                write_config(tx, sealer, &config)
            },
        )?;
        self.alert_settings()
    }

    /// Removes the webhook and drops undelivered events (step-up:
    /// SecuritySettings; audited). Removing none is
    /// [`WebhookError::NotConfigured`].
    pub fn remove_webhook(
        &mut self,
        actor: Actor,
        grant: StepUpGrant<SecuritySettings>,
    ) -> Result<(), VaultError> {
        self.write_gated(
            actor,
            grant.method(),
            |_| settings_changed("webhook_removed", ""),
            |tx, sealer| {
                let mut config = read_config(tx, sealer)?;
                if config.webhook.is_none() {
                    return Err(WebhookError::NotConfigured.into());
                }
                config.webhook = None;
                write_config(tx, sealer, &config)?;
                tx.execute("DELETE FROM alert_outbox", [])?;
                tx.execute(
                    "DELETE FROM alert_state WHERE channel = ?1",
                    params![CHANNEL_WEBHOOK],
                )?;
                Ok(())
            },
        )
    }

    /// Changes the background audit schedule and which events go to the
    /// webhook (step-up: SecuritySettings; audited).
    pub fn set_alert_options(
        &mut self,
        actor: Actor,
        grant: StepUpGrant<SecuritySettings>,
        schedule: AuditSchedule,
        events: EventSwitches,
    ) -> Result<AlertSettings, VaultError> {
        self.write_gated(
            actor,
            grant.method(),
            |_| {
                settings_changed(
                    "options",
                    &format!(
                        "background_audit={} incident_opened={} critical_finding={} rotation_overdue={}",
                        schedule.as_str(),
                        events.incident_opened,
                        events.critical_finding,
                        events.rotation_overdue
                    ),
                )
            },
            |tx, sealer| {
                let mut config = read_config(tx, sealer)?;
                config.background_audit = schedule;
                config.events = events;
                write_config(tx, sealer, &config)
            },
        )?;
        self.alert_settings()
    }

    /// The write half of the reminder pass ([`crate::alerts::reminder_pass`]
    /// gathers `keys`, each key's health findings, and `overdue`, the keys
    /// whose rotation is overdue with the finding's sentence): decides which
    /// local reminders are due (each key at most once per
    /// [`reminders::INTERVAL_SECS`]) and queues `rotation_overdue` webhook
    /// events (same rule, its own state). Marks what it decided in one
    /// audited transaction; writes nothing when nothing is due. Call it
    /// inside [`Session::quietly`].
    pub(crate) fn alerts_record_reminders(
        &mut self,
        actor: Actor,
        now: i64,
        keys: &[KeyFindings],
        overdue: Vec<(String, AlertKey, String)>,
    ) -> Result<ReminderPass, VaultError> {
        let last = last_map(self.conn(), CHANNEL_REMINDER, "any")?;
        let due = reminders::due(keys, &last, now);
        let last_hook = last_map(self.conn(), CHANNEL_WEBHOOK, "rotation_overdue")?;
        let hook_due: Vec<_> = overdue
            .into_iter()
            .filter(|(id, _, _)| reminders::is_due(last_hook.get(id).copied(), now))
            .collect();
        if due.is_empty() && hook_due.is_empty() {
            return Ok(ReminderPass::default());
        }
        let labels: Vec<String> = due.iter().map(|r| r.label.clone()).collect();
        let queued = self.write_events(
            actor,
            None,
            |queued: &usize| {
                vec![
                    Event::new(audit::Action::AlertReminded).with_details(
                        Details::new()
                            .with("labels", serde_json::json!(labels))
                            .with("queued", *queued),
                    ),
                ]
            },
            |tx, sealer| {
                for r in &due {
                    mark(tx, &r.record_id, CHANNEL_REMINDER, "any", now)?;
                }
                let mut queued = 0;
                for (id, key, why) in &hook_due {
                    let event = AlertEvent {
                        kind: EventKind::RotationOverdue,
                        severity: AlertSeverity::Critical,
                        at: now,
                        keys: vec![key.clone()],
                        exchanges: vec![key.exchange],
                        detail: why.clone(),
                    };
                    if enqueue(tx, sealer, &event)? {
                        mark(tx, id, CHANNEL_WEBHOOK, "rotation_overdue", now)?;
                        queued += 1;
                    }
                }
                Ok(queued)
            },
        )?;
        Ok(ReminderPass {
            reminders: due,
            queued,
        })
    }

    /// Whether the background audit is due at `now` (schedule on, and the
    /// last run older than its interval).
    pub fn background_audit_due(&mut self, now: i64) -> Result<bool, VaultError> {
        self.quietly(|s| {
            let config = s.sealed_config()?;
            let Some(interval) = config.background_audit.interval_secs() else {
                return Ok(false);
            };
            let last: Option<i64> = s
                .conn()
                .query_row("SELECT last_at FROM alert_runs WHERE id = 1", [], |r| {
                    r.get(0)
                })
                .optional()?;
            Ok(last.is_none_or(|t| now.saturating_sub(t) >= interval || t > now))
        })
    }

    /// Stores the outcome of a background audit (the checks themselves are
    /// stored and audited one by one). Does not count as activity.
    pub fn record_background_audit(&mut self, run: &BackgroundAuditRun) -> Result<(), VaultError> {
        let json = serde_json::to_string(run).map_err(|_| VaultError::Malformed {
            record: "alert_runs".into(),
            field: "summary",
        })?;
        // The checks themselves are audited one by one; the summary is
        // bookkeeping for the settings screen.
        self.quietly(|s| {
            s.write_events(
                Actor::System,
                None,
                |_| Vec::new(),
                |tx, _| {
                    tx.execute(
                        "INSERT INTO alert_runs (id, last_at, summary) VALUES (1, ?1, ?2)
                         ON CONFLICT(id) DO UPDATE SET last_at = excluded.last_at,
                            summary = excluded.summary",
                        params![run.at, json],
                    )?;
                    Ok(())
                },
            )
        })
    }
}

#[cfg(test)]
mod tests {
    /// Alerts import the vault, never the other way round: a stored check
    /// reaches them as a kernel event through their hook.
    #[test]
    fn the_vault_does_not_import_alerts() {
        let naming = crate::vault::sources_naming(&["crate::alerts", "super::alerts"]);
        assert!(naming.is_empty(), "the vault imports alerts: {naming:?}");
    }
}
