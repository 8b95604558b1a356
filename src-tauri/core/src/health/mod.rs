//! Key health: findings per key and a vault score from 0 to 100 that
//! explains every point it loses.
//!
//! Owns: the health rules ([`RULES`], one static table: id, severity,
//! points, title, explanation, fix), their evaluation over plain
//! [`KeyFacts`] ([`evaluate`]), the score formula ([`score`]), the report
//! DTOs the dashboard and `keyward health` print ([`HealthReport`]), and
//! the gathering of facts from a vault session ([`report_for`],
//! [`facts_for`] in `store`: public key metadata only).
//!
//! Must never: write to the vault or unseal a secret (the rules see plain
//! values; `store` reads public key metadata only), make a
//! network call (live permissions are the *stored* last check, see
//! `vault::checks`), or hold a secret: every DTO here derives `Serialize`
//! and carries labels, rule ids and explanations only. Health is advice; it
//! changes nothing.
//!
//! # API for front ends
//! ```text
//! report_for(&mut Session, now, &[scan::Finding]) -> Result<HealthReport, VaultError>
//! facts_for(&mut Session, &[scan::Finding]) -> Result<Vec<KeyFacts>, VaultError>
//! KeyFacts::from_detail(&KeyDetail, live_checkable) -> KeyFacts   // then .with_leaks(&findings)
//! evaluate(&KeyFacts, now) -> Vec<HealthFinding>          // one key, every rule of RULES
//! score(&[HealthFinding]) -> ScoreBreakdown               // see "Score" below
//! report(&[KeyFacts], now) -> HealthReport                // all of the above, sorted
//! ```
//! `now` is unix seconds, passed in so results are reproducible.
//!
//! # Score
//! Start at 100. Findings are taken most severe first (then most points,
//! then label); each deducts its rule's [`Rule::points`], but never more
//! than what is left of three caps:
//! - **per key** [`KEY_CAP`] (40): one bad key cannot take the whole score,
//!   so the rest of the vault still shows;
//! - **per rule** [`RULE_CAP`] (30): a problem shared by many keys counts
//!   heavily but leaves room for every other kind of problem;
//! - **total** 100: the score never goes below 0.
//!
//! Every deduction is listed in [`ScoreBreakdown::lost`] with its rule, key
//! and reason, so `100 - sum(lost.points) == score` always holds; a finding
//! whose points were all absorbed by a cap is still a finding, but has no
//! `lost` entry.

mod rules;
mod score;
mod store;

use std::collections::BTreeSet;

use serde::Serialize;

pub use crate::exchange::Severity;
use crate::model::{KeyDetail, KeyStatus, LinkedService, Scope};
use crate::scan::{self, FindingKind, Part};
pub use rules::{Fix, RULES, Rule, RuleId};
pub use score::{KEY_CAP, PointsLost, RULE_CAP, ScoreBreakdown, score};
pub use store::{facts_for, report_for};

/// An audit older than this many days (or none) is stale.
pub const AUDIT_STALE_DAYS: i64 = 7;

/// What the rules look at for one key: plain values, no vault handle, so
/// every rule can be tested with a hand-built value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFacts {
    /// The key's label.
    pub label: String,
    /// Lifecycle status.
    pub status: KeyStatus,
    /// Declared scopes.
    pub declared: Vec<Scope>,
    /// Whether an IP whitelist is set: recorded on the key, or reported
    /// by the exchange in the last live check.
    pub ip_restricted: bool,
    /// Unix seconds at which rotation is due.
    pub rotation_due_at: i64,
    /// Whether Keyward can check this key's exchange live (no audit rule
    /// fires for keys it cannot check).
    pub live_checkable: bool,
    /// Last live check: unix seconds.
    pub last_audit_at: Option<i64>,
    /// Last live check: `ok`, `warning`, `critical`, `rejected`,
    /// `unreachable`, `unusable`.
    pub last_audit_result: Option<String>,
    /// Last live check: the permissions the exchange reported as granted
    /// (none when the key did not authenticate).
    pub last_audit_permissions: Option<Vec<String>>,
    /// Services recorded as using the key (with kind and vendor checklist).
    pub linked_services: Vec<LinkedService>,
    /// Parts of the key the leak scanner found (empty: not found, or no
    /// scan given).
    pub leaked: BTreeSet<Part>,
    /// Whether the key is its account's manager key (see `managed`).
    pub manager: bool,
}

impl KeyFacts {
    /// The facts of a stored key. `live_checkable`: whether its exchange
    /// has a live check.
    pub fn from_detail(detail: &KeyDetail, live_checkable: bool) -> KeyFacts {
        let s = &detail.summary;
        KeyFacts {
            label: s.label.clone(),
            status: s.status,
            declared: s.scopes.clone(),
            ip_restricted: s.ip_restricted
                || !detail.ip_whitelist.is_empty()
                || detail.last_audit_ip_restricted == Some(true),
            rotation_due_at: s.rotation_due_at,
            live_checkable,
            last_audit_at: detail.last_audit_at,
            last_audit_result: detail.last_audit_result.clone(),
            last_audit_permissions: detail.last_audit_permissions.clone(),
            linked_services: detail.linked_services.clone(),
            leaked: BTreeSet::new(),
            manager: s.manager,
        }
    }

    /// Adds the parts of this key that `findings` (from the leak scanner)
    /// matched by label. Unknown-credential findings are not about a vault
    /// key and are ignored.
    pub fn with_leaks(mut self, findings: &[scan::Finding]) -> KeyFacts {
        self.leaked.extend(
            findings
                .iter()
                .filter(|f| f.kind == FindingKind::VaultKey)
                .filter(|f| f.label.as_deref() == Some(self.label.as_str()))
                .map(|f| f.part),
        );
        self
    }
}

/// One finding about one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthFinding {
    /// Which rule fired.
    pub rule: RuleId,
    /// How serious.
    pub severity: Severity,
    /// The key's label.
    pub label: String,
    /// The rule's title.
    pub title: &'static str,
    /// What was seen on this key (no secret, ever).
    pub why: String,
    /// Why it matters (the rule's explanation).
    pub explanation: &'static str,
    /// What to do about it.
    pub fix: Fix,
    /// The rule's points, before caps.
    pub points: u32,
}

/// Findings by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SeverityCounts {
    /// Critical findings.
    pub critical: usize,
    /// Warnings.
    pub warning: usize,
    /// Informational findings.
    pub info: usize,
}

/// The health of a whole vault at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthReport {
    /// When it was computed (unix seconds).
    pub generated_at: i64,
    /// How many keys were looked at.
    pub keys: usize,
    /// The score and every point lost.
    pub score: ScoreBreakdown,
    /// Findings by severity.
    pub counts: SeverityCounts,
    /// Every finding, most severe first, then by label.
    pub findings: Vec<HealthFinding>,
}

/// Every finding for one key: each rule of [`RULES`] in table order.
pub fn evaluate(key: &KeyFacts, now: i64) -> Vec<HealthFinding> {
    RULES
        .iter()
        .filter(|rule| rule.on_revoked || key.status != KeyStatus::Revoked)
        .filter_map(|rule| {
            (rule.check)(key, now).map(|why| HealthFinding {
                rule: rule.id,
                severity: rule.severity,
                label: key.label.clone(),
                title: rule.title,
                why,
                explanation: rule.explanation,
                fix: rule.fix,
                points: rule.points,
            })
        })
        .collect()
}

/// Evaluates every key and scores the vault.
pub fn report(keys: &[KeyFacts], now: i64) -> HealthReport {
    let mut findings: Vec<HealthFinding> = keys.iter().flat_map(|k| evaluate(k, now)).collect();
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.points.cmp(&a.points))
            .then_with(|| a.label.cmp(&b.label))
            .then(a.rule.cmp(&b.rule))
    });
    let mut counts = SeverityCounts::default();
    for f in &findings {
        match f.severity {
            Severity::Critical => counts.critical += 1,
            Severity::Warning => counts.warning += 1,
            _ => counts.info += 1,
        }
    }
    HealthReport {
        generated_at: now,
        keys: keys.len(),
        score: score(&findings),
        counts,
        findings,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    pub(crate) const NOW: i64 = 1_700_000_000;
    pub(crate) const DAY: i64 = 86_400;

    /// A key with nothing wrong: read-only, whitelisted, audited yesterday,
    /// rotation due in 60 days, one service.
    pub(crate) fn healthy(label: &str) -> KeyFacts {
        KeyFacts {
            label: label.to_owned(),
            status: KeyStatus::Active,
            declared: vec![Scope::Read],
            ip_restricted: true,
            rotation_due_at: NOW + 60 * DAY,
            live_checkable: true,
            last_audit_at: Some(NOW - DAY),
            last_audit_result: Some("ok".into()),
            last_audit_permissions: Some(vec!["read".into()]),
            linked_services: vec!["grid-bot".into()],
            leaked: BTreeSet::new(),
            manager: false,
        }
    }

    #[test]
    fn a_healthy_key_has_no_finding() {
        assert!(evaluate(&healthy("a"), NOW).is_empty());
        let r = report(&[healthy("a"), healthy("b")], NOW);
        assert_eq!(r.score.score, 100);
        assert!(r.score.lost.is_empty());
        assert_eq!(r.counts, SeverityCounts::default());
        assert_eq!(r.keys, 2);
    }

    #[test]
    fn leaks_are_matched_by_label_and_unknown_credentials_ignored() {
        let finding = |kind, label: Option<&str>, part| scan::Finding {
            kind,
            path: PathBuf::from(".env"),
            line: 1,
            repository: None,
            commit: None,
            git_ref: None,
            label: label.map(str::to_owned),
            part,
            exchange: None,
            rule: None,
            name: None,
            location: String::new(),
        };
        let findings = [
            finding(FindingKind::VaultKey, Some("a"), Part::Secret),
            finding(FindingKind::VaultKey, Some("b"), Part::KeyId),
            finding(FindingKind::UnknownCredential, Some("a"), Part::KeyId),
        ];
        let a = healthy("a").with_leaks(&findings);
        assert_eq!(a.leaked, BTreeSet::from([Part::Secret]));
        assert!(healthy("c").with_leaks(&findings).leaked.is_empty());
    }

    #[test]
    fn report_sorts_most_severe_first_and_counts() {
        let mut bad = healthy("z");
        bad.leaked.insert(Part::Secret);
        let mut meh = healthy("a");
        meh.ip_restricted = false;
        let r = report(&[meh, bad], NOW);
        assert_eq!(r.findings[0].rule, RuleId::LeakedSecret);
        assert_eq!(r.findings[0].label, "z");
        assert_eq!(r.counts.critical, 1);
        assert_eq!(r.counts.warning, 1);
    }

    #[test]
    fn json_shape_is_stable() {
        let mut k = healthy("bot");
        k.ip_restricted = false;
        let r = report(&[k], NOW);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["score"]["score"], 90);
        assert_eq!(v["counts"]["warning"], 1);
        let f = &v["findings"][0];
        assert_eq!(f["rule"], "no_ip_whitelist");
        assert_eq!(f["severity"], "warning");
        assert_eq!(f["fix"], "add_ip_whitelist");
        assert_eq!(f["label"], "bot");
        let lost = &v["score"]["lost"][0];
        assert_eq!(lost["rule"], "no_ip_whitelist");
        assert_eq!(lost["label"], "bot");
        assert_eq!(lost["points"], 10);
        assert!(lost["why"].is_string());
    }
}
