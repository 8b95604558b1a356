//! Alerts: local reminders (rotation due or overdue, failed live checks)
//! and optional webhook messages (Discord or Slack incoming webhooks).
//!
//! Owns: the alert vocabulary ([`AlertEvent`], [`EventKind`]), the decision
//! which reminders are due ([`reminders`]), the webhook configuration,
//! payloads and sender ([`webhook`]), and the masking rule of everything an
//! alert may say about a key ([`short_key_id`]). Its side of the vault is
//! here too: `store.rs` (the sealed configuration, the per-key "last
//! notified" state, the last background audit, the reminders' records, and
//! [`hook`], the listener that turns a stored check's critical findings
//! into outbox rows inside the check's transaction) and `outbox.rs` (the
//! three-phase delivery); the MAC'd outbox rows themselves are the
//! kernel's (`vault/outbox.rs`). The reminder pass ([`reminder_pass`])
//! evaluates health here and records what is due, so the vault never reads
//! health rules. **The vault does not import `alerts`** (checked by
//! `alerts::store::tests::the_vault_does_not_import_alerts`).
//!
//! Must never: put a secret, a passphrase, a full API key id or the webhook
//! URL in an alert, an error, a log line or an audit entry; make a network
//! call inside a vault transaction or while the desktop holds the session
//! lock; let a failed delivery block or undo the action that raised it.
//!
//! # Data flow
//! ```text
//! core action (incident opened, live check stored, reminder pass)
//!   └─ same transaction: event appended to the outbox (only if a webhook
//!      is configured and the event is switched on; de-duplicated)
//! after commit, without the session lock:
//!   Session::alerts_prepare_delivery()  -> PendingDelivery (URL unsealed)
//!   PendingDelivery::send(&WebhookSender).await -> DeliveryReport
//!   Session::alerts_record_delivery(actor, report)  // audited, retried later
//! ```
//! [`deliver_alerts`] runs the three steps for
//! any [`SessionAccess`](crate::vault::SessionAccess).
//!
//! # What an alert says
//! Event type, key label, exchange, a key id masked to its first four
//! characters ([`short_key_id`]), severity, time, and for findings the
//! finding's code and sentence. Labels and exchange names do leave the
//! machine when a webhook is configured; that is the point of an alert.

mod outbox;
pub mod reminders;
mod store;
pub mod webhook;

use serde::{Deserialize, Serialize};

use crate::exchange::Severity;
use crate::health::{self, RuleId};
use crate::model::{Exchange, KeyStatus};
use crate::vault::{Actor, Session, VaultError};

pub use outbox::{
    DeliveryReport, MAX_DELIVERY_ATTEMPTS, PendingDelivery, QueuedEvent, deliver_alerts,
    send_test_alert,
};
pub use store::{
    AlertSettings, AuditSchedule, BackgroundAuditRun, EventSwitches, ReminderPass, WebhookInfo,
    hook,
};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// An incident was opened.
    IncidentOpened,
    /// A live check stored a critical finding.
    CriticalFinding,
    /// A key's rotation is overdue.
    RotationOverdue,
    /// A test message asked for by the user.
    Test,
}

impl EventKind {
    /// The stable name (JSON, audit details, outbox).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::IncidentOpened => "incident_opened",
            EventKind::CriticalFinding => "critical_finding",
            EventKind::RotationOverdue => "rotation_overdue",
            EventKind::Test => "test",
        }
    }

    fn title(self) -> &'static str {
        match self {
            EventKind::IncidentOpened => "Incident opened",
            EventKind::CriticalFinding => "Critical finding in a live check",
            EventKind::RotationOverdue => "Key rotation overdue",
            EventKind::Test => "Test message",
        }
    }
}

/// A key as an alert may name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertKey {
    /// The key's label.
    pub label: String,
    /// Its exchange.
    #[serde(with = "exchange_name")]
    pub exchange: Exchange,
    /// The API key id masked by [`short_key_id`].
    pub key_id: String,
}

/// One event to deliver. Every field is safe to send to a chat channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// What happened.
    pub kind: EventKind,
    /// How serious.
    pub severity: AlertSeverity,
    /// Unix seconds.
    pub at: i64,
    /// The keys concerned (may be empty: an incident opened for a whole
    /// exchange, a test).
    pub keys: Vec<AlertKey>,
    /// Exchanges concerned.
    #[serde(with = "exchange_names")]
    pub exchanges: Vec<Exchange>,
    /// One line of detail (a finding's sentence, an incident's situation).
    pub detail: String,
}

/// The reminder pass at `now` (unix seconds): evaluates every key's health
/// from its stored metadata, then decides which local reminders are due
/// (rotation due soon or overdue, last check failed; each key at most once
/// per [`reminders::INTERVAL_SECS`]) and queues `rotation_overdue` webhook
/// events (same rule, its own state). Marks what it decided in one audited
/// transaction; writes nothing when nothing is due. Does not count as
/// activity.
pub fn reminder_pass(
    session: &mut Session,
    actor: Actor,
    now: i64,
) -> Result<ReminderPass, VaultError> {
    session.quietly(|s| {
        let mut keys = Vec::new();
        let mut overdue = Vec::new();
        for summary in s.list_keys()? {
            if summary.status == KeyStatus::Revoked {
                continue;
            }
            let detail = s.key_detail(&summary.label)?;
            let checkable = summary.exchange.has_adapter();
            let facts = health::KeyFacts::from_detail(&detail, checkable);
            let findings = health::evaluate(&facts, now);
            if let Some(f) = findings.iter().find(|f| f.rule == RuleId::RotationOverdue) {
                overdue.push((
                    summary.id.clone(),
                    AlertKey {
                        label: summary.label.clone(),
                        exchange: summary.exchange,
                        key_id: short_key_id(&detail.api_key_id),
                    },
                    f.why.clone(),
                ));
            }
            keys.push(reminders::KeyFindings {
                record_id: summary.id,
                label: summary.label,
                exchange: summary.exchange,
                findings,
            });
        }
        s.alerts_record_reminders(actor, now, &keys, overdue)
    })
}

/// Exchanges as their stable names (the outbox reads them back).
mod exchange_name {
    use super::Exchange;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(e: &Exchange, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(e.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Exchange, D::Error> {
        let name = String::deserialize(d)?;
        name.parse()
            .map_err(|_| serde::de::Error::custom("unknown exchange"))
    }
}

mod exchange_names {
    use super::Exchange;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(e: &[Exchange], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(e.iter().map(|e| e.as_str()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Exchange>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|n| {
                n.parse()
                    .map_err(|_| serde::de::Error::custom("unknown exchange"))
            })
            .collect()
    }
}

/// Severity as alerts say it (a copy of [`Severity`] that can be read
/// back from the outbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertSeverity {
    /// Worth knowing.
    Info,
    /// Should be fixed.
    Warning,
    /// Fix now.
    Critical,
}

impl From<Severity> for AlertSeverity {
    fn from(s: Severity) -> Self {
        match s {
            Severity::Critical => AlertSeverity::Critical,
            Severity::Warning => AlertSeverity::Warning,
            _ => AlertSeverity::Info,
        }
    }
}

impl AlertSeverity {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertSeverity::Info => "info",
            AlertSeverity::Warning => "warning",
            AlertSeverity::Critical => "critical",
        }
    }
}

/// The most an alert shows of an API key id: its first four characters and
/// an ellipsis, or only stars when the id is too short for four characters
/// to be a small part of it.
pub fn short_key_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() < 12 {
        return "****".to_owned();
    }
    let head: String = chars[..4].iter().collect();
    format!("{head}…")
}

/// UTC date and time of unix seconds, `YYYY-MM-DD HH:MM UTC`.
pub fn format_time(secs: i64) -> String {
    let t = format_time_seconds(secs);
    format!("{} UTC", &t[..16])
}

/// UTC date and time of unix seconds, `YYYY-MM-DD HH:MM:SS UTC`.
pub fn format_time_seconds(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

impl AlertEvent {
    /// The message as plain lines (shared by both payload kinds).
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "[Keyward] {} ({})",
            self.kind.title(),
            self.severity.as_str()
        )];
        for k in &self.keys {
            out.push(format!(
                "Key: {} on {} (id {})",
                k.label,
                k.exchange.display_name(),
                k.key_id
            ));
        }
        if self.keys.is_empty() && !self.exchanges.is_empty() {
            let names: Vec<&str> = self.exchanges.iter().map(|e| e.display_name()).collect();
            out.push(format!("Exchange: {}", names.join(", ")));
        }
        if !self.detail.is_empty() {
            out.push(self.detail.clone());
        }
        out.push(format!("At: {}", format_time(self.at)));
        out
    }

    /// The first key's label, for audit entries.
    pub fn label(&self) -> Option<&str> {
        self.keys.first().map(|k| k.label.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_show_four_characters_at_most() {
        assert_eq!(short_key_id("AKIAIOSFODNN7EXAMPLE"), "AKIA…");
        assert_eq!(short_key_id("short"), "****");
        assert_eq!(short_key_id(""), "****");
    }

    #[test]
    fn time_is_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(1_700_000_000), "2023-11-14 22:13 UTC");
        assert_eq!(
            format_time_seconds(1_700_000_000),
            "2023-11-14 22:13:20 UTC"
        );
        assert_eq!(format_time_seconds(-1), "1969-12-31 23:59:59 UTC");
    }
}
