//! The vault's side of alerts (the vocabulary, reminder rules and webhook
//! sender are in [`crate::alerts`]).
//!
//! Owns: the sealed alert configuration (`alert_config.config`, AAD = vault
//! id ‖ header record ‖ `alerts.config`: the webhook URL and kind, which
//! events are on, the background-audit schedule), the per-key "last
//! alerted" state (`alert_state`), the outbox of events waiting for
//! delivery (`alert_outbox`) and the last background audit
//! (`alert_runs`). Changing the webhook or the schedule is a security
//! setting (step-up [`GatedAction::SecuritySettings`](crate::mfa::GatedAction::SecuritySettings)): an attacker could
//! redirect or silence alerts. Every change is audited without the URL.
//!
//! Every outbox row carries an HMAC-SHA256 (`alert_outbox.mac`, under an
//! HKDF subkey of the vault key) over its sequence number, time, event
//! text, attempts and next attempt, so a row written into the file by
//! anyone else is never sent: delivery sends only rows whose MAC checks,
//! and the unlock drops the rest (see `state_seal`, which also notices a
//! deleted or rolled-back row through its digest of the whole outbox).
//!
//! Must never: return, print or audit the webhook URL (front ends get
//! [`WebhookInfo`]: kind, host, a masked form); deliver anything inside a
//! transaction (events are queued in the action's own transaction and sent
//! after commit, see [`deliver_alerts`]); let a failed delivery undo or
//! block the action that raised it.

use std::collections::HashMap;
use std::sync::Mutex;

use rusqlite::{OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use super::access::SessionAccess;
use super::error::VaultError;
use super::session::{Actor, META_RECORD, Sealer, Session};
use crate::alerts::reminders::{self, KeyFindings, Reminder};
use crate::alerts::webhook::{WebhookError, WebhookKind, WebhookSender, WebhookUrl, resolve_kind};
use crate::alerts::{AlertEvent, AlertKey, AlertSeverity, EventKind, short_key_id};
use crate::audit::{self, Details, Event};
use crate::exchange::{Finding, Severity};
use crate::mfa::StepUpGrant;
use crate::mfa::actions::SecuritySettings;
use crate::model::Exchange;

/// Schema of the alert tables (vault migration 6 → 7).
pub(crate) const SCHEMA: &str = "CREATE TABLE alert_config (
        id      INTEGER PRIMARY KEY CHECK (id = 1),
        config  BLOB NOT NULL
    );
    CREATE TABLE alert_state (
        key_id   BLOB NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
        channel  TEXT NOT NULL,
        kind     TEXT NOT NULL,
        last_at  INTEGER NOT NULL,
        PRIMARY KEY (key_id, channel, kind)
    );
    CREATE TABLE alert_outbox (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at  INTEGER NOT NULL,
        event       TEXT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        next_at     INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE alert_runs (
        id       INTEGER PRIMARY KEY CHECK (id = 1),
        last_at  INTEGER NOT NULL,
        summary  TEXT NOT NULL
    );";

/// Migration 7 → 8: the MAC of each queued webhook event (rows queued
/// before it get theirs at the vault's first sealed unlock).
pub(crate) const OUTBOX_MAC_SCHEMA: &str = "ALTER TABLE alert_outbox ADD COLUMN mac BLOB;";

/// HKDF `info` of the outbox MAC key.
const OUTBOX_KEY_INFO: &[u8] = b"keyward alert outbox v1";
/// Domain tag of an outbox row's MAC.
const OUTBOX_ROW_DOMAIN: &[u8] = b"keyward outbox row v1";

pub(super) const CONFIG_FIELD: &str = "alerts.config";
/// Local reminders (desktop notification, `keyward alerts remind`).
const CHANNEL_REMINDER: &str = "reminder";
/// Webhook messages.
const CHANNEL_WEBHOOK: &str = "webhook";
/// Deliveries of one event before it is dropped (and audited as such).
pub const MAX_DELIVERY_ATTEMPTS: i64 = 5;
/// Events sent per delivery pass.
const BATCH: i64 = 20;

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
struct StoredWebhook {
    url: String,
    kind: WebhookKind,
}

impl Drop for StoredWebhook {
    fn drop(&mut self) {
        self.url.zeroize();
    }
}

#[derive(Serialize, Deserialize, Default)]
struct StoredConfig {
    webhook: Option<StoredWebhook>,
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

pub(super) fn config_aad_record() -> &'static [u8; 16] {
    &META_RECORD
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
        .open(config_aad_record(), CONFIG_FIELD, &blob)
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
    let blob = sealer.seal(config_aad_record(), CONFIG_FIELD, &json)?;
    tx.execute(
        "INSERT INTO alert_config (id, config) VALUES (1, ?1)
         ON CONFLICT(id) DO UPDATE SET config = excluded.config",
        params![blob],
    )?;
    Ok(())
}

/// The MAC of one outbox row: HMAC-SHA256 under a subkey of the vault key
/// over the row's sequence number, creation time, attempts, next attempt
/// and event text (length-prefixed).
fn outbox_mac(
    sealer: &Sealer<'_>,
    seq: i64,
    created_at: i64,
    attempts: i64,
    next_at: i64,
    event: &str,
) -> [u8; 32] {
    use hmac::{KeyInit, Mac};
    let mut subkey = zeroize::Zeroizing::new([0u8; 32]);
    if hkdf::Hkdf::<sha2::Sha256>::new(None, sealer.key.mac_root())
        .expand(OUTBOX_KEY_INFO, subkey.as_mut())
        .is_err()
    {
        unreachable!("HKDF-SHA256 expands 32 bytes");
    }
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(subkey.as_ref())
        .expect("HMAC accepts keys of any length");
    mac.update(OUTBOX_ROW_DOMAIN);
    for n in [seq, created_at, attempts, next_at] {
        mac.update(&n.to_be_bytes());
    }
    mac.update(&(event.len() as u64).to_be_bytes());
    mac.update(event.as_bytes());
    mac.finalize().into_bytes().into()
}

/// An outbox row as stored: seq, created_at, event, attempts, next_at, mac.
type OutboxRow = (i64, i64, String, i64, i64, Option<Vec<u8>>);

/// Recomputes and stores the MAC of outbox row `seq` as it now stands.
fn remac_outbox_row(
    tx: &rusqlite::Connection,
    sealer: &Sealer<'_>,
    seq: i64,
) -> Result<(), VaultError> {
    let (created_at, event, attempts, next_at): (i64, String, i64, i64) = tx.query_row(
        "SELECT created_at, event, attempts, next_at FROM alert_outbox WHERE seq = ?1",
        params![seq],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let mac = outbox_mac(sealer, seq, created_at, attempts, next_at, &event);
    tx.execute(
        "UPDATE alert_outbox SET mac = ?2 WHERE seq = ?1",
        params![seq, &mac[..]],
    )?;
    Ok(())
}

/// Checks every outbox row's MAC inside the unlock's transaction and
/// deletes the rows that fail (never sent); returns how many. With
/// `adopt` (a vault's first sealed unlock) rows without a MAC, queued
/// before MACs existed, get one instead.
pub(crate) fn check_outbox_macs(
    tx: &rusqlite::Connection,
    sealer: &Sealer<'_>,
    adopt: bool,
) -> Result<usize, VaultError> {
    let rows: Vec<OutboxRow> = {
        let mut stmt = tx.prepare(
            "SELECT seq, created_at, event, attempts, next_at, mac FROM alert_outbox
             ORDER BY seq",
        )?;
        stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<Result<_, _>>()?
    };
    let mut dropped = 0;
    for (seq, created_at, event, attempts, next_at, mac) in rows {
        let expected = outbox_mac(sealer, seq, created_at, attempts, next_at, &event);
        match mac {
            None if adopt => {
                tx.execute(
                    "UPDATE alert_outbox SET mac = ?2 WHERE seq = ?1",
                    params![seq, &expected[..]],
                )?;
            }
            Some(mac) if bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], &mac[..])) => {}
            _ => {
                tx.execute("DELETE FROM alert_outbox WHERE seq = ?1", params![seq])?;
                dropped += 1;
            }
        }
    }
    Ok(dropped)
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
    tx.execute(
        "INSERT INTO alert_outbox (created_at, event) VALUES (?1, ?2)",
        params![event.at, json],
    )?;
    remac_outbox_row(tx, sealer, tx.last_insert_rowid())?;
    Ok(true)
}

/// After a live check is stored: queues one `critical_finding` event per
/// critical finding of the key not alerted before, and forgets findings
/// that are gone (so their return alerts again). `conclusive` is false
/// when the check did not reach the exchange: then nothing is forgotten.
#[allow(clippy::too_many_arguments)]
pub(crate) fn after_check(
    tx: &rusqlite::Connection,
    sealer: &Sealer<'_>,
    key_id: &[u8; 16],
    label: &str,
    exchange: Exchange,
    api_key_id: &str,
    findings: &[Finding],
    conclusive: bool,
    at: i64,
) -> Result<(), VaultError> {
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
    /// Runs `f` without it counting as user activity: the idle auto-lock
    /// deadline stays where it was. For background work (reminders, the
    /// background audit, deliveries), which must not keep a vault open.
    pub fn quietly<T>(&mut self, f: impl FnOnce(&mut Session) -> T) -> T {
        let before = self.last_activity;
        let out = f(self);
        self.last_activity = before;
        out
    }

    fn sealed_config(&mut self) -> Result<StoredConfig, VaultError> {
        self.key()?;
        let Session {
            conn, key, header, ..
        } = self;
        let key = key.as_ref().ok_or(VaultError::Locked)?;
        let sealer = Sealer {
            key,
            vault_id: &header.vault_id,
        };
        read_config(conn, &sealer)
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
            .conn
            .query_row("SELECT summary FROM alert_runs WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        let pending: i64 = self
            .conn
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
        let last = last_map(&self.conn, CHANNEL_REMINDER, "any")?;
        let due = reminders::due(keys, &last, now);
        let last_hook = last_map(&self.conn, CHANNEL_WEBHOOK, "rotation_overdue")?;
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
            let rows: Vec<(i64, String, i64)> = {
                let Session {
                    conn, key, header, ..
                } = &*s;
                let key = key.as_ref().ok_or(VaultError::Locked)?;
                let sealer = Sealer {
                    key,
                    vault_id: &header.vault_id,
                };
                super::state_seal::before_write(conn, &sealer)?;
                let mut stmt = conn.prepare(
                    "SELECT seq, created_at, event, attempts, next_at, mac FROM alert_outbox
                     WHERE next_at <= ?1 ORDER BY seq LIMIT ?2",
                )?;
                let rows: Vec<OutboxRow> = stmt
                    .query_map(params![now, BATCH], |r| {
                        Ok((
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                        ))
                    })?
                    .collect::<Result<_, _>>()?;
                rows.into_iter()
                    .filter(|(seq, created_at, event, attempts, next_at, mac)| {
                        let expected =
                            outbox_mac(&sealer, *seq, *created_at, *attempts, *next_at, event);
                        mac.as_deref().is_some_and(|m| {
                            bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], m))
                        })
                    })
                    .map(|(seq, _, event, attempts, _, _)| (seq, event, attempts))
                    .collect()
            };
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
                                remac_outbox_row(tx, sealer, seq)?;
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

    /// Whether the background audit is due at `now` (schedule on, and the
    /// last run older than its interval).
    pub fn background_audit_due(&mut self, now: i64) -> Result<bool, VaultError> {
        self.quietly(|s| {
            let config = s.sealed_config()?;
            let Some(interval) = config.background_audit.interval_secs() else {
                return Ok(false);
            };
            let last: Option<i64> = s
                .conn
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

/// All three phases of a delivery for any [`SessionAccess`]: prepare under
/// the session (lock), send without it, record under it again. A vault
/// locked meanwhile keeps the events queued for the next unlock.
pub async fn deliver_alerts<S: SessionAccess>(
    mut access: S,
    sender: &WebhookSender,
    actor: Actor,
    now: i64,
) -> Result<DeliveryReport, VaultError> {
    let Some(pending) = access.with_session(|s| s.alerts_prepare_delivery(now))? else {
        return Ok(DeliveryReport::default());
    };
    let report = pending.send(sender).await;
    access.with_session(|s| s.alerts_record_delivery(actor, &report))?;
    Ok(report)
}

/// Sends the test message through the configured webhook and audits the
/// outcome; the error of a failed delivery is returned.
pub async fn send_test_alert<S: SessionAccess>(
    mut access: S,
    sender: &WebhookSender,
    actor: Actor,
) -> Result<(), VaultError> {
    let pending = access.with_session(|s| s.alerts_prepare_test())?;
    let report = pending.send(sender).await;
    access.with_session(|s| s.alerts_record_delivery(actor, &report))?;
    match report.first_error() {
        Some(e) => Err(e.clone().into()),
        None => Ok(()),
    }
}

/// A [`SessionAccess`] over the desktop's mutex whose calls do not count
/// as activity (see [`Session::quietly`]).
pub struct Quiet<'a>(pub &'a Mutex<Option<Session>>);

impl SessionAccess for Quiet<'_> {
    fn with_session<T, E: From<VaultError>>(
        &mut self,
        f: impl FnOnce(&mut Session) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut slot = self.0;
        slot.with_session(|s| s.quietly(f))
    }
}
