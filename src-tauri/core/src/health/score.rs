//! The vault score: 100 minus capped deductions, each one explained.
//!
//! Owns: the formula (see the module docs of `health`). Must never: drop a
//! deduction from [`ScoreBreakdown::lost`] — the score must always be
//! reconstructible from it.

use std::collections::HashMap;

use serde::Serialize;

use super::{HealthFinding, RuleId};

/// Most points one key can cost.
pub const KEY_CAP: u32 = 40;
/// Most points one rule can cost across all keys.
pub const RULE_CAP: u32 = 30;
/// The best score.
const MAX: u32 = 100;

/// One deduction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PointsLost {
    /// The rule.
    pub rule: RuleId,
    /// The key's label.
    pub label: String,
    /// Points deducted (after caps; at least 1).
    pub points: u32,
    /// Why: what the rule saw on this key, and any cap that applied.
    pub why: String,
}

/// The score and every point lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScoreBreakdown {
    /// 0–100.
    pub score: u32,
    /// Every deduction; their points add up to `100 - score`.
    pub lost: Vec<PointsLost>,
}

fn severity_order(findings: &[HealthFinding]) -> Vec<&HealthFinding> {
    let mut sorted: Vec<&HealthFinding> = findings.iter().collect();
    sorted.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.points.cmp(&a.points))
            .then_with(|| a.label.cmp(&b.label))
            .then(a.rule.cmp(&b.rule))
    });
    sorted
}

/// Scores `findings` (any order): most severe first, each deducting its
/// points up to what is left under [`KEY_CAP`], [`RULE_CAP`] and 100.
pub fn score(findings: &[HealthFinding]) -> ScoreBreakdown {
    let mut per_key: HashMap<&str, u32> = HashMap::new();
    let mut per_rule: HashMap<RuleId, u32> = HashMap::new();
    let mut total = 0u32;
    let mut lost = Vec::new();
    for f in severity_order(findings) {
        let key_used = per_key.entry(f.label.as_str()).or_insert(0);
        let rule_used = per_rule.entry(f.rule).or_insert(0);
        let key_left = KEY_CAP.saturating_sub(*key_used);
        let rule_left = RULE_CAP.saturating_sub(*rule_used);
        let total_left = MAX.saturating_sub(total);
        let points = f.points.min(key_left).min(rule_left).min(total_left);
        if points == 0 {
            continue;
        }
        *key_used += points;
        *rule_used += points;
        total += points;
        let why = if points < f.points {
            let cap = if points == key_left {
                format!("capped: at most {KEY_CAP} points per key")
            } else if points == rule_left {
                format!("capped: at most {RULE_CAP} points per rule")
            } else {
                "capped: the score cannot go below 0".to_owned()
            };
            format!("{} ({} of {} points, {cap})", f.why, points, f.points)
        } else {
            f.why.clone()
        };
        lost.push(PointsLost {
            rule: f.rule,
            label: f.label.clone(),
            points,
            why,
        });
    }
    ScoreBreakdown {
        score: MAX - total,
        lost,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{DAY, NOW, healthy};
    use super::super::{KeyFacts, evaluate};
    use super::*;
    use crate::model::{KeyStatus, Scope};
    use crate::scan::Part;

    fn all(keys: &[KeyFacts]) -> Vec<HealthFinding> {
        keys.iter().flat_map(|k| evaluate(k, NOW)).collect()
    }

    fn reconstructible(b: &ScoreBreakdown) {
        let sum: u32 = b.lost.iter().map(|l| l.points).sum();
        assert_eq!(MAX - sum, b.score, "{b:#?}");
        assert!(b.lost.iter().all(|l| l.points > 0));
    }

    /// Everything wrong at once.
    fn terrible(label: &str) -> KeyFacts {
        let mut k = healthy(label);
        k.rotation_due_at = NOW - DAY;
        k.declared = vec![Scope::Trade];
        k.last_audit_permissions = Some(vec![
            "read".into(),
            "trade".into(),
            "withdraw".into(),
            "futures".into(),
        ]);
        k.ip_restricted = false;
        k.linked_services = vec!["a".into(), "b".into()];
        k.leaked.insert(Part::Secret);
        k
    }

    #[test]
    fn no_findings_score_100() {
        let b = score(&[]);
        assert_eq!(b.score, 100);
        assert!(b.lost.is_empty());
    }

    #[test]
    fn one_finding_costs_its_points() {
        let mut k = healthy("k");
        k.ip_restricted = false;
        let b = score(&all(&[k]));
        assert_eq!(b.score, 90);
        assert_eq!(b.lost.len(), 1);
        assert_eq!(b.lost[0].rule, RuleId::NoIpWhitelist);
        assert_eq!(b.lost[0].label, "k");
        assert_eq!(b.lost[0].why, "no IP whitelist is recorded for the key");
        reconstructible(&b);
    }

    #[test]
    fn one_bad_key_costs_at_most_the_key_cap() {
        let b = score(&all(&[terrible("bad"), healthy("good")]));
        assert_eq!(b.score, 100 - KEY_CAP);
        // Most severe first: the leaked secret is explained first, in full.
        assert_eq!(b.lost[0].rule, RuleId::LeakedSecret);
        assert_eq!(b.lost[0].points, 30);
        let last = b.lost.last().unwrap();
        assert!(last.why.contains("per key"), "{}", last.why);
        reconstructible(&b);
    }

    #[test]
    fn one_rule_costs_at_most_the_rule_cap() {
        let keys: Vec<KeyFacts> = (0..10)
            .map(|i| {
                let mut k = healthy(&format!("k{i}"));
                k.ip_restricted = false;
                k
            })
            .collect();
        let b = score(&all(&keys));
        assert_eq!(b.score, 100 - RULE_CAP);
        assert_eq!(b.lost.len(), 3);
        reconstructible(&b);
    }

    #[test]
    fn a_bad_key_does_not_hide_the_others() {
        let mut other = healthy("other");
        other.ip_restricted = false;
        let b = score(&all(&[terrible("bad"), other]));
        assert!(b.lost.iter().any(|l| l.label == "other"));
        reconstructible(&b);
    }

    #[test]
    fn the_score_never_goes_below_zero() {
        let keys: Vec<KeyFacts> = (0..20).map(|i| terrible(&format!("k{i:02}"))).collect();
        let b = score(&all(&keys));
        assert_eq!(b.score, 0);
        reconstructible(&b);
        let mut revoked = healthy("r");
        revoked.status = KeyStatus::Revoked;
        revoked.last_audit_result = Some("ok".into());
        let mut keys = keys;
        keys.push(revoked);
        reconstructible(&score(&all(&keys)));
    }

    #[test]
    fn order_of_findings_does_not_change_the_score() {
        let mut f = all(&[terrible("a"), terrible("b"), healthy("c")]);
        let forward = score(&f);
        f.reverse();
        assert_eq!(score(&f), forward);
    }
}
