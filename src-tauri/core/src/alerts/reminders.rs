//! Which reminders are due now: pure decisions over health findings and the
//! time each key was last reminded of.
//!
//! Owns: the reminder kinds, the once-per-[`INTERVAL_SECS`] rule and the
//! reminder text. Must never: read the clock (`now` is passed in), touch
//! the vault, or name a key by anything but its label and exchange (no key
//! id, masked or not, and never a secret).
//!
//! "Once a day" is a rolling 24 hours per key, not a calendar day: a
//! calendar day depends on a time zone the core does not know, and two
//! reminders a minute apart around midnight would defeat the rule.

use std::collections::HashMap;

use serde::Serialize;

use crate::health::{HealthFinding, RuleId};
use crate::model::Exchange;

/// At most one reminder per key within this many seconds.
pub const INTERVAL_SECS: i64 = 86_400;

/// What a reminder is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum ReminderKind {
    /// Rotation is past due.
    RotationOverdue,
    /// The last live check failed (rejected, unreachable, unusable).
    AuditFailed,
    /// Rotation is due within a week.
    RotationDueSoon,
}

impl ReminderKind {
    /// The health rule behind each kind.
    pub fn from_rule(rule: RuleId) -> Option<ReminderKind> {
        match rule {
            RuleId::RotationOverdue => Some(ReminderKind::RotationOverdue),
            RuleId::RotationDueSoon => Some(ReminderKind::RotationDueSoon),
            RuleId::AuditFailed => Some(ReminderKind::AuditFailed),
            _ => None,
        }
    }

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReminderKind::RotationOverdue => "rotation_overdue",
            ReminderKind::AuditFailed => "audit_failed",
            ReminderKind::RotationDueSoon => "rotation_due_soon",
        }
    }

    fn phrase(self) -> &'static str {
        match self {
            ReminderKind::RotationOverdue => "rotation overdue",
            ReminderKind::AuditFailed => "last live check failed",
            ReminderKind::RotationDueSoon => "rotation due soon",
        }
    }
}

/// One key with its findings, as the reminder pass sees it.
#[derive(Debug, Clone)]
pub struct KeyFindings {
    /// Record id (uuid), the key of the "last reminded" state.
    pub record_id: String,
    /// Label.
    pub label: String,
    /// Exchange.
    pub exchange: Exchange,
    /// The key's health findings (any rule; others are ignored).
    pub findings: Vec<HealthFinding>,
}

/// One reminder to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reminder {
    /// Record id of the key (not shown to people).
    #[serde(skip)]
    pub record_id: String,
    /// Label.
    pub label: String,
    /// Exchange.
    pub exchange: Exchange,
    /// What it is about, most urgent first.
    pub kinds: Vec<ReminderKind>,
    /// Notification title.
    pub title: String,
    /// Notification body.
    pub body: String,
}

/// Whether something last done at `last` may be done again at `now`.
pub fn is_due(last: Option<i64>, now: i64) -> bool {
    match last {
        None => true,
        // A "last" in the future (the clock was set back) does not silence
        // reminders for longer than one interval.
        Some(t) if t > now => t - now > INTERVAL_SECS,
        Some(t) => now - t >= INTERVAL_SECS,
    }
}

/// The reminders due at `now`: one per key that has a reminder kind among
/// its findings and was not reminded within [`INTERVAL_SECS`] (`last`
/// maps record ids to the time of their last reminder).
pub fn due(keys: &[KeyFindings], last: &HashMap<String, i64>, now: i64) -> Vec<Reminder> {
    let mut out = Vec::new();
    for key in keys {
        let mut reasons: Vec<(ReminderKind, &str)> = key
            .findings
            .iter()
            .filter_map(|f| ReminderKind::from_rule(f.rule).map(|k| (k, f.why.as_str())))
            .collect();
        if reasons.is_empty() || !is_due(last.get(&key.record_id).copied(), now) {
            continue;
        }
        reasons.sort_by_key(|(k, _)| *k);
        reasons.dedup_by_key(|(k, _)| *k);
        let kinds: Vec<ReminderKind> = reasons.iter().map(|(k, _)| *k).collect();
        let title = format!("Keyward: {} — {}", kinds[0].phrase(), key.label);
        let body = format!(
            "{} on {}: {}.",
            key.label,
            key.exchange.display_name(),
            reasons
                .iter()
                .map(|(_, why)| *why)
                .collect::<Vec<_>>()
                .join("; ")
        );
        out.push(Reminder {
            record_id: key.record_id.clone(),
            label: key.label.clone(),
            exchange: key.exchange,
            kinds,
            title,
            body,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::{Fix, Severity};

    fn finding(rule: RuleId, why: &str) -> HealthFinding {
        HealthFinding {
            rule,
            severity: Severity::Warning,
            label: "bot".into(),
            title: "t",
            why: why.into(),
            explanation: "e",
            fix: Fix::Rotate,
            points: 1,
        }
    }

    fn key(findings: Vec<HealthFinding>) -> KeyFindings {
        KeyFindings {
            record_id: "id-1".into(),
            label: "bot".into(),
            exchange: Exchange::Binance,
            findings,
        }
    }

    #[test]
    fn once_per_day_per_key_with_an_injected_clock() {
        let keys = [key(vec![
            finding(RuleId::RotationDueSoon, "rotation is due in 2 days"),
            finding(RuleId::AuditFailed, "the last live check was rejected"),
            finding(RuleId::NoIpWhitelist, "no whitelist"),
        ])];
        let mut last = HashMap::new();
        let t0 = 1_800_000_000;
        let first = due(&keys, &last, t0);
        assert_eq!(first.len(), 1);
        assert_eq!(
            first[0].kinds,
            [ReminderKind::AuditFailed, ReminderKind::RotationDueSoon]
        );
        assert!(first[0].body.contains("bot on Binance"));
        assert!(first[0].body.contains("rejected"));
        assert!(!first[0].body.contains("whitelist"));
        last.insert("id-1".to_owned(), t0);
        assert!(due(&keys, &last, t0 + 60).is_empty());
        assert!(due(&keys, &last, t0 + INTERVAL_SECS - 1).is_empty());
        assert_eq!(due(&keys, &last, t0 + INTERVAL_SECS).len(), 1);
        // The clock set back by a little keeps quiet, by a lot does not.
        assert!(due(&keys, &last, t0 - 3600).is_empty());
        assert_eq!(due(&keys, &last, t0 - INTERVAL_SECS - 1).len(), 1);
    }

    #[test]
    fn keys_without_reminder_findings_are_quiet() {
        let keys = [key(vec![finding(RuleId::NoIpWhitelist, "x")]), key(vec![])];
        assert!(due(&keys, &HashMap::new(), 0).is_empty());
    }

    #[test]
    fn overdue_comes_first_in_the_title() {
        let keys = [key(vec![
            finding(RuleId::AuditFailed, "a"),
            finding(RuleId::RotationOverdue, "rotation was due 3 days ago"),
        ])];
        let r = due(&keys, &HashMap::new(), 0);
        assert_eq!(r[0].title, "Keyward: rotation overdue — bot");
    }
}
