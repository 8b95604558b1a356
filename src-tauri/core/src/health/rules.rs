//! The health rules: one static table, one check function per rule.
//!
//! Owns: what each rule looks at, how severe it is, what it costs and how
//! to fix it. Must never: look at anything but [`KeyFacts`] and `now`.
//! A check returns the reason it fired on this key (labels, dates, scope
//! names; never a secret) or `None`.

use serde::Serialize;

use super::{AUDIT_STALE_DAYS, KeyFacts, Severity};
use crate::model::{ChecklistItem, KeyStatus, Scope};
use crate::rotation::policy::{DUE_SOON_DAYS, due_within_at, overdue_at};
use crate::scan::Part;

const DAY: i64 = 86_400;

/// A rule's stable id (JSON, CLI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RuleId {
    /// Rotation is past due.
    RotationOverdue,
    /// Rotation is due within [`DUE_SOON_DAYS`].
    RotationDueSoon,
    /// The last check saw withdraw, which was not declared.
    WithdrawUndeclared,
    /// Withdraw is declared.
    WithdrawEnabled,
    /// The last check saw other permissions beyond the declared ones.
    ScopeBeyondDeclared,
    /// No IP whitelist.
    NoIpWhitelist,
    /// The last check was rejected, unreachable or unusable.
    AuditFailed,
    /// No check, or the last one is older than [`AUDIT_STALE_DAYS`].
    AuditStale,
    /// More than one service is recorded as using the key.
    SharedAcrossServices,
    /// The leak scanner found the secret or passphrase.
    LeakedSecret,
    /// The leak scanner found the API key id (only).
    LeakedKeyId,
    /// Marked revoked, but the last check authenticated.
    RevokedStillAuthenticating,
    /// A third-party platform holds the key and its vendor checklist is
    /// not complete.
    VendorChecklistIncomplete,
    /// A manager key holds (or declares) withdraw.
    ManagerWithdraw,
    /// A manager key has no IP whitelist.
    ManagerNoIpWhitelist,
}

/// What the user should do about a finding; the dashboard links each to
/// its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Fix {
    /// Start a rotation.
    Rotate,
    /// Narrow the key's permissions (at the exchange, then its declared
    /// scopes).
    NarrowScope,
    /// Add an IP whitelist (at the exchange, then on the key).
    AddIpWhitelist,
    /// Run a live check.
    RunCheck,
    /// Open the incident flow.
    OpenIncident,
    /// Review the key's linked services (one key per service).
    ReviewServices,
}

impl Fix {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Fix::Rotate => "rotate",
            Fix::NarrowScope => "narrow_scope",
            Fix::AddIpWhitelist => "add_ip_whitelist",
            Fix::RunCheck => "run_check",
            Fix::OpenIncident => "open_incident",
            Fix::ReviewServices => "review_services",
        }
    }
}

/// One rule of the table.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Stable id.
    pub id: RuleId,
    /// How serious a finding is.
    pub severity: Severity,
    /// Points deducted from the score per finding, before caps.
    pub points: u32,
    /// Short title.
    pub title: &'static str,
    /// Why it matters.
    pub explanation: &'static str,
    /// What to do.
    pub fix: Fix,
    /// Whether the rule looks at revoked keys (most do not: a revoked key
    /// is expected to be dead).
    pub on_revoked: bool,
    /// Whether it fires, and why.
    pub check: fn(&KeyFacts, i64) -> Option<String>,
}

/// Every rule, in evaluation order.
pub static RULES: &[Rule] = &[
    Rule {
        id: RuleId::ManagerWithdraw,
        severity: Severity::Critical,
        points: 30,
        title: "Manager key can withdraw",
        explanation: "A manager key can create and delete every key of the account; with \
                      withdraw as well, whoever steals it can also empty the account. Key \
                      management never needs withdraw.",
        fix: Fix::NarrowScope,
        on_revoked: false,
        check: manager_withdraw,
    },
    Rule {
        id: RuleId::ManagerNoIpWhitelist,
        severity: Severity::Critical,
        points: 20,
        title: "Manager key without an IP whitelist",
        explanation: "A manager key can create keys for the whole account: bound to your \
                      own IPs, a copy of it is useless to anyone else.",
        fix: Fix::AddIpWhitelist,
        on_revoked: false,
        check: manager_no_ip_whitelist,
    },
    Rule {
        id: RuleId::RevokedStillAuthenticating,
        severity: Severity::Critical,
        points: 30,
        title: "Revoked key still authenticates",
        explanation: "The key is marked revoked, but its last live check was accepted by \
                      the exchange: whoever holds it can still use it.",
        fix: Fix::OpenIncident,
        on_revoked: true,
        check: revoked_still_authenticating,
    },
    Rule {
        id: RuleId::LeakedSecret,
        severity: Severity::Critical,
        points: 30,
        title: "Secret found by the leak scanner",
        explanation: "A secret outside the vault (a file, a commit) must be treated as \
                      known to others: revoke it and check the account's activity.",
        fix: Fix::OpenIncident,
        on_revoked: false,
        check: leaked_secret,
    },
    Rule {
        id: RuleId::WithdrawUndeclared,
        severity: Severity::Critical,
        points: 25,
        title: "Withdraw enabled but not declared",
        explanation: "The exchange reported the withdraw permission, which this key was \
                      not declared to need; a stolen key with withdraw can empty the account.",
        fix: Fix::NarrowScope,
        on_revoked: false,
        check: withdraw_undeclared,
    },
    Rule {
        id: RuleId::RotationOverdue,
        severity: Severity::Critical,
        points: 15,
        title: "Rotation overdue",
        explanation: "The key is past its rotation period; the longer a key lives, the \
                      more places it may have leaked to.",
        fix: Fix::Rotate,
        on_revoked: false,
        check: rotation_overdue,
    },
    Rule {
        id: RuleId::WithdrawEnabled,
        severity: Severity::Warning,
        points: 10,
        title: "Withdraw enabled",
        explanation: "Never enable withdraw unless the key's job needs it; if it does, \
                      keep it whitelisted to fixed IPs.",
        fix: Fix::NarrowScope,
        on_revoked: false,
        check: withdraw_enabled,
    },
    Rule {
        id: RuleId::ScopeBeyondDeclared,
        severity: Severity::Warning,
        points: 10,
        title: "Permissions beyond the declared scope",
        explanation: "The exchange reported permissions this key was not declared to \
                      need; least privilege means removing them.",
        fix: Fix::NarrowScope,
        on_revoked: false,
        check: scope_beyond_declared,
    },
    Rule {
        id: RuleId::NoIpWhitelist,
        severity: Severity::Warning,
        points: 10,
        title: "No IP whitelist",
        explanation: "A key bound to your servers' IPs is useless to anyone who copies it.",
        fix: Fix::AddIpWhitelist,
        on_revoked: false,
        check: no_ip_whitelist,
    },
    Rule {
        id: RuleId::AuditFailed,
        severity: Severity::Warning,
        points: 10,
        title: "Last live check failed",
        explanation: "The exchange rejected the key or could not be asked, so its real \
                      permissions are unknown; a rejected key may have been revoked by \
                      someone else.",
        fix: Fix::RunCheck,
        on_revoked: false,
        check: audit_failed,
    },
    Rule {
        id: RuleId::SharedAcrossServices,
        severity: Severity::Warning,
        points: 10,
        title: "One key used by several services",
        explanation: "Never reuse one key across services: a leak at one exposes all, \
                      and revoking it stops all.",
        fix: Fix::ReviewServices,
        on_revoked: false,
        check: shared_across_services,
    },
    Rule {
        id: RuleId::RotationDueSoon,
        severity: Severity::Warning,
        points: 5,
        title: "Rotation due soon",
        explanation: "Plan the rotation now so it is verified before the key expires \
                      its period.",
        fix: Fix::Rotate,
        on_revoked: false,
        check: rotation_due_soon,
    },
    Rule {
        id: RuleId::AuditStale,
        severity: Severity::Warning,
        points: 5,
        title: "No recent live check",
        explanation: "Permissions and IP restrictions can change at the exchange; check \
                      live at least weekly.",
        fix: Fix::RunCheck,
        on_revoked: false,
        check: audit_stale,
    },
    Rule {
        id: RuleId::LeakedKeyId,
        severity: Severity::Warning,
        points: 5,
        title: "API key id found by the leak scanner",
        explanation: "The public id alone cannot sign, but it names the key to target \
                      and often sits next to its secret; rotate and clean the file.",
        fix: Fix::Rotate,
        on_revoked: false,
        check: leaked_key_id,
    },
    Rule {
        id: RuleId::VendorChecklistIncomplete,
        severity: Severity::Info,
        points: 3,
        title: "Third-party platform not fully vetted",
        explanation: "Before a platform holds your key, read how it stores keys, check its \
                      reputation, incident history and response, privacy and compliance \
                      (e.g. GDPR, SOC 2), and whether it is open or closed source.",
        fix: Fix::ReviewServices,
        on_revoked: false,
        check: vendor_checklist_incomplete,
    },
];

/// Whole days between two instants, rounded down, never negative.
fn days(from: i64, to: i64) -> i64 {
    to.saturating_sub(from).max(0).div_euclid(DAY)
}

fn plural(n: i64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The live permissions of the last check, if it authenticated.
fn live(key: &KeyFacts) -> &[String] {
    key.last_audit_permissions.as_deref().unwrap_or(&[])
}

fn declared(key: &KeyFacts, scope: Scope) -> bool {
    key.declared.contains(&scope)
}

fn rotation_overdue(key: &KeyFacts, now: i64) -> Option<String> {
    overdue_at(key.rotation_due_at, key.status, now).then(|| {
        let n = days(key.rotation_due_at, now);
        if n == 0 {
            "rotation became due today".to_owned()
        } else {
            format!("rotation was due {n} day{} ago", plural(n))
        }
    })
}

fn rotation_due_soon(key: &KeyFacts, now: i64) -> Option<String> {
    due_within_at(key.rotation_due_at, key.status, now, DUE_SOON_DAYS).then(|| {
        let n = days(now, key.rotation_due_at);
        if n == 0 {
            "rotation is due within a day".to_owned()
        } else {
            format!("rotation is due in {n} day{}", plural(n))
        }
    })
}

fn manager_withdraw(key: &KeyFacts, _now: i64) -> Option<String> {
    if !key.manager {
        return None;
    }
    let live_withdraw = live(key).iter().any(|p| p == Scope::Withdraw.as_str());
    if live_withdraw {
        Some("the manager key's last live check reported withdraw".to_owned())
    } else {
        declared(key, Scope::Withdraw).then(|| "the manager key declares withdraw".to_owned())
    }
}

fn manager_no_ip_whitelist(key: &KeyFacts, _now: i64) -> Option<String> {
    (key.manager && !key.ip_restricted)
        .then(|| "no IP whitelist is recorded for the manager key".to_owned())
}

fn withdraw_undeclared(key: &KeyFacts, _now: i64) -> Option<String> {
    // A manager key's withdraw has its own, stronger rule.
    if key.manager {
        return None;
    }
    let live_withdraw = live(key).iter().any(|p| p == Scope::Withdraw.as_str());
    (live_withdraw && !declared(key, Scope::Withdraw))
        .then(|| "the last live check reported withdraw; it is not declared".to_owned())
}

fn withdraw_enabled(key: &KeyFacts, _now: i64) -> Option<String> {
    if key.manager || !declared(key, Scope::Withdraw) {
        return None;
    }
    let live_withdraw = live(key).iter().any(|p| p == Scope::Withdraw.as_str());
    Some(if live_withdraw {
        "withdraw is declared, and the last live check confirmed it".to_owned()
    } else {
        "withdraw is declared".to_owned()
    })
}

fn scope_beyond_declared(key: &KeyFacts, _now: i64) -> Option<String> {
    let extra: Vec<&str> = live(key)
        .iter()
        .map(String::as_str)
        // Withdraw has its own rule.
        .filter(|p| *p != Scope::Withdraw.as_str())
        // Read comes with every other scope, as in the live check's own
        // findings: only flagged when nothing was declared.
        .filter(|p| *p != Scope::Read.as_str() || key.declared.is_empty())
        .filter(|p| !key.declared.iter().any(|d| d.as_str() == *p))
        .collect();
    (!extra.is_empty()).then(|| {
        format!(
            "the last live check reported {} beyond the declared {}",
            extra.join(", "),
            if key.declared.is_empty() {
                "(none)".to_owned()
            } else {
                key.declared
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )
    })
}

fn no_ip_whitelist(key: &KeyFacts, _now: i64) -> Option<String> {
    (!key.manager && !key.ip_restricted)
        .then(|| "no IP whitelist is recorded for the key".to_owned())
}

/// Stored results that mean the last check did not authenticate.
fn failed(result: &str) -> bool {
    matches!(result, "rejected" | "unreachable" | "unusable")
}

/// Stored results that mean the exchange accepted the key.
fn authenticated(result: &str) -> bool {
    matches!(result, "ok" | "warning" | "critical")
}

fn audit_failed(key: &KeyFacts, _now: i64) -> Option<String> {
    let result = key.last_audit_result.as_deref()?;
    (key.live_checkable && failed(result)).then(|| format!("the last live check was {result}"))
}

fn audit_stale(key: &KeyFacts, now: i64) -> Option<String> {
    if !key.live_checkable || key.last_audit_result.as_deref().is_some_and(failed) {
        // Nothing to check with, or the failure rule already asks for one.
        return None;
    }
    match key.last_audit_at {
        None => Some("the key was never checked live".to_owned()),
        Some(at) if now.saturating_sub(at) > AUDIT_STALE_DAYS * DAY => {
            let n = days(at, now);
            Some(format!("the last live check was {n} day{} ago", plural(n)))
        }
        Some(_) => None,
    }
}

fn shared_across_services(key: &KeyFacts, _now: i64) -> Option<String> {
    let mut names: Vec<String> = key
        .linked_services
        .iter()
        .map(|s| s.name.trim().to_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    names.sort();
    names.dedup();
    (names.len() > 1).then(|| {
        format!(
            "recorded as used by {} services: {}",
            names.len(),
            key.linked_services
                .iter()
                .map(|s| s.name.trim())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

fn vendor_checklist_incomplete(key: &KeyFacts, _now: i64) -> Option<String> {
    let open: Vec<String> = key
        .linked_services
        .iter()
        .filter(|s| s.kind.needs_vetting() && !s.checklist.is_complete())
        .map(|s| {
            let missing: Vec<&str> = s.checklist.missing().iter().map(|i| i.as_str()).collect();
            format!(
                "{} ({} of {} checked; missing {})",
                s.name,
                s.checklist.done(),
                ChecklistItem::ALL.len(),
                missing.join(", ")
            )
        })
        .collect();
    (!open.is_empty()).then(|| format!("vendor checklist incomplete for {}", open.join("; ")))
}

fn leaked_secret(key: &KeyFacts, _now: i64) -> Option<String> {
    let parts: Vec<&str> = key
        .leaked
        .iter()
        .filter(|p| matches!(p, Part::Secret | Part::Passphrase))
        .map(|p| p.as_str())
        .collect();
    (!parts.is_empty()).then(|| format!("the leak scanner found its {}", parts.join(" and ")))
}

fn leaked_key_id(key: &KeyFacts, _now: i64) -> Option<String> {
    // When the secret leaked too, the critical rule covers it.
    let only_id = key.leaked.contains(&Part::KeyId)
        && !key.leaked.contains(&Part::Secret)
        && !key.leaked.contains(&Part::Passphrase);
    only_id.then(|| "the leak scanner found its API key id".to_owned())
}

fn revoked_still_authenticating(key: &KeyFacts, _now: i64) -> Option<String> {
    let result = key.last_audit_result.as_deref()?;
    (key.status == KeyStatus::Revoked && authenticated(result))
        .then(|| format!("marked revoked, but the last live check authenticated (result {result})"))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{DAY, NOW, healthy};
    use super::super::{HealthFinding, evaluate};
    use super::*;

    fn fired(key: &KeyFacts) -> Vec<RuleId> {
        evaluate(key, NOW).iter().map(|f| f.rule).collect()
    }

    fn only(key: &KeyFacts, rule: RuleId) -> HealthFinding {
        let found = evaluate(key, NOW);
        assert_eq!(
            found.iter().map(|f| f.rule).collect::<Vec<_>>(),
            vec![rule],
            "{found:#?}"
        );
        found.into_iter().next().unwrap()
    }

    #[test]
    fn table_has_each_rule_once_with_sane_points() {
        let mut ids: Vec<RuleId> = RULES.iter().map(|r| r.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len());
        for r in RULES {
            assert!(r.points > 0 && r.points <= super::super::RULE_CAP, "{r:?}");
            assert!(!r.title.is_empty() && !r.explanation.is_empty());
        }
    }

    #[test]
    fn rotation_overdue() {
        let mut k = healthy("k");
        k.rotation_due_at = NOW - 3 * DAY;
        let f = only(&k, RuleId::RotationOverdue);
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.fix, Fix::Rotate);
        assert_eq!(f.why, "rotation was due 3 days ago");
        k.rotation_due_at = NOW;
        assert_eq!(
            only(&k, RuleId::RotationOverdue).why,
            "rotation became due today"
        );
    }

    #[test]
    fn rotation_due_soon_within_seven_days() {
        let mut k = healthy("k");
        k.rotation_due_at = NOW + 7 * DAY;
        let f = only(&k, RuleId::RotationDueSoon);
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(f.why, "rotation is due in 7 days");
        k.rotation_due_at = NOW + 7 * DAY + 1;
        assert!(fired(&k).is_empty());
    }

    #[test]
    fn withdraw_live_but_undeclared() {
        let mut k = healthy("k");
        k.last_audit_permissions = Some(vec!["read".into(), "withdraw".into()]);
        let f = only(&k, RuleId::WithdrawUndeclared);
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.fix, Fix::NarrowScope);
    }

    #[test]
    fn withdraw_declared() {
        let mut k = healthy("k");
        k.declared = vec![Scope::Read, Scope::Withdraw];
        assert_eq!(
            only(&k, RuleId::WithdrawEnabled).why,
            "withdraw is declared"
        );
        k.last_audit_permissions = Some(vec!["read".into(), "withdraw".into()]);
        let f = only(&k, RuleId::WithdrawEnabled);
        assert!(f.why.contains("confirmed"), "{}", f.why);
        assert_eq!(f.severity, Severity::Warning);
    }

    #[test]
    fn scope_beyond_declared_implies_read_and_skips_withdraw() {
        let mut k = healthy("k");
        k.declared = vec![Scope::Trade];
        k.last_audit_permissions = Some(vec!["read".into(), "trade".into()]);
        assert!(fired(&k).is_empty(), "read comes with trade");
        k.last_audit_permissions = Some(vec![
            "read".into(),
            "trade".into(),
            "futures".into(),
            "options".into(),
        ]);
        let f = only(&k, RuleId::ScopeBeyondDeclared);
        assert_eq!(
            f.why,
            "the last live check reported futures, options beyond the declared trade"
        );
        k.declared = vec![];
        k.last_audit_permissions = Some(vec!["read".into()]);
        assert!(only(&k, RuleId::ScopeBeyondDeclared).why.contains("(none)"));
        // No stored permissions (never checked, or did not authenticate):
        // nothing is guessed.
        k.last_audit_permissions = None;
        assert!(fired(&k).is_empty());
    }

    #[test]
    fn manager_keys_with_withdraw_or_without_whitelist_are_critical() {
        let mut k = healthy("m");
        k.manager = true;
        assert!(fired(&k).is_empty());
        k.last_audit_permissions = Some(vec!["read".into(), "withdraw".into()]);
        let f = only(&k, RuleId::ManagerWithdraw);
        assert_eq!((f.severity, f.fix), (Severity::Critical, Fix::NarrowScope));
        k.last_audit_permissions = Some(vec!["read".into()]);
        k.ip_restricted = false;
        let f = only(&k, RuleId::ManagerNoIpWhitelist);
        assert_eq!(
            (f.severity, f.fix),
            (Severity::Critical, Fix::AddIpWhitelist)
        );
    }

    #[test]
    fn no_ip_whitelist() {
        let mut k = healthy("k");
        k.ip_restricted = false;
        let f = only(&k, RuleId::NoIpWhitelist);
        assert_eq!(f.fix, Fix::AddIpWhitelist);
        assert_eq!(f.points, 10);
    }

    #[test]
    fn audit_failed_for_each_failure_word() {
        for word in ["rejected", "unreachable", "unusable"] {
            let mut k = healthy("k");
            k.last_audit_result = Some(word.into());
            k.last_audit_permissions = None;
            // A failed check that is also old is one finding, not two.
            k.last_audit_at = Some(NOW - 30 * DAY);
            let f = only(&k, RuleId::AuditFailed);
            assert_eq!(f.why, format!("the last live check was {word}"));
            assert_eq!(f.fix, Fix::RunCheck);
        }
        let mut k = healthy("k");
        k.last_audit_result = Some("warning".into());
        assert!(fired(&k).is_empty());
    }

    #[test]
    fn audit_stale_when_never_or_older_than_seven_days() {
        let mut k = healthy("k");
        k.last_audit_at = None;
        k.last_audit_result = None;
        k.last_audit_permissions = None;
        assert_eq!(
            only(&k, RuleId::AuditStale).why,
            "the key was never checked live"
        );
        let mut k = healthy("k");
        k.last_audit_at = Some(NOW - 7 * DAY);
        assert!(fired(&k).is_empty());
        k.last_audit_at = Some(NOW - 9 * DAY);
        assert_eq!(
            only(&k, RuleId::AuditStale).why,
            "the last live check was 9 days ago"
        );
        // An exchange Keyward cannot check live gets no audit finding.
        k.live_checkable = false;
        assert!(fired(&k).is_empty());
    }

    #[test]
    fn shared_across_services_counts_distinct_names() {
        let mut k = healthy("k");
        k.linked_services = vec!["grid-bot".into(), " Grid-Bot ".into(), "".into()];
        assert!(fired(&k).is_empty());
        k.linked_services = vec!["grid-bot".into(), "tax-tool".into()];
        let f = only(&k, RuleId::SharedAcrossServices);
        assert_eq!(f.why, "recorded as used by 2 services: grid-bot, tax-tool");
        assert_eq!(f.fix, Fix::ReviewServices);
    }

    #[test]
    fn vendor_checklist_incomplete_only_for_third_party_platforms() {
        use crate::model::{LinkedService, ServiceKind};
        let mut k = healthy("k");
        let mut platform = LinkedService::named("3commas");
        platform.kind = ServiceKind::ThirdPartyPlatform;
        platform.checklist.set(ChecklistItem::Reputation, true, NOW);
        platform.checklist.set(ChecklistItem::OpenSource, true, NOW);
        k.linked_services = vec![platform.clone()];
        let f = only(&k, RuleId::VendorChecklistIncomplete);
        assert_eq!(f.severity, Severity::Info);
        assert_eq!(f.fix, Fix::ReviewServices);
        assert_eq!(
            f.why,
            "vendor checklist incomplete for 3commas (2 of 5 checked; missing \
             key_storage_docs, incident_history, compliance)"
        );
        // Own bots, scripts and services of unrecorded kind are not vendors.
        for kind in [
            ServiceKind::OwnBot,
            ServiceKind::Script,
            ServiceKind::Unspecified,
        ] {
            let mut s = platform.clone();
            s.kind = kind;
            k.linked_services = vec![s];
            assert!(fired(&k).is_empty(), "{kind}");
        }
        // A complete checklist is no finding.
        for item in ChecklistItem::ALL {
            platform.checklist.set(*item, true, NOW);
        }
        k.linked_services = vec![platform];
        assert!(fired(&k).is_empty());
    }

    #[test]
    fn leaked_secret_or_passphrase() {
        let mut k = healthy("k");
        k.leaked.insert(Part::Passphrase);
        k.leaked.insert(Part::KeyId);
        let f = only(&k, RuleId::LeakedSecret);
        assert_eq!(f.why, "the leak scanner found its passphrase");
        assert_eq!(f.fix, Fix::OpenIncident);
        assert_eq!(f.severity, Severity::Critical);
    }

    #[test]
    fn leaked_key_id_only() {
        let mut k = healthy("k");
        k.leaked.insert(Part::KeyId);
        assert_eq!(only(&k, RuleId::LeakedKeyId).severity, Severity::Warning);
    }

    #[test]
    fn revoked_still_authenticating() {
        let mut k = healthy("k");
        k.status = KeyStatus::Revoked;
        // Everything else about a revoked key is moot: no IP whitelist,
        // overdue, old check do not fire.
        k.ip_restricted = false;
        k.rotation_due_at = NOW - 100 * DAY;
        k.last_audit_at = Some(NOW - 100 * DAY);
        for word in ["ok", "warning", "critical"] {
            k.last_audit_result = Some(word.into());
            let f = only(&k, RuleId::RevokedStillAuthenticating);
            assert_eq!(f.fix, Fix::OpenIncident);
            assert!(f.why.contains(word));
        }
        k.last_audit_result = Some("rejected".into());
        assert!(fired(&k).is_empty(), "revoked and rejected is the goal");
    }

    #[test]
    fn fix_names_match_serde() {
        for fix in [
            Fix::Rotate,
            Fix::NarrowScope,
            Fix::AddIpWhitelist,
            Fix::RunCheck,
            Fix::OpenIncident,
            Fix::ReviewServices,
        ] {
            assert_eq!(serde_json::to_value(fix).unwrap(), fix.as_str());
        }
    }
}
