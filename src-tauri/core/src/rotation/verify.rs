//! What the live check of a rotation's new key must show before the key may
//! become current, and what to tell the user when it does not.
//!
//! Owns: [`compare`], a pure function from the declared scopes, the
//! intended IP allowlist and the exchange's answer to a list of
//! [`Difference`]s, each with what was declared, what the exchange reports
//! and how to fix it on the exchange. Must never: treat an unknown
//! permission as granted or as absent (it is its own, overridable,
//! difference), or let anything beyond the declared scope be overridden.

use serde::{Deserialize, Serialize};

use crate::exchange::{ExchangeError, KeyReport, RejectReason};
use crate::model::{Exchange, Scope};
use crate::{ErrorKind, KindedError};

/// How much a difference blocks promotion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Severity {
    /// Worth knowing; does not block.
    Advisory,
    /// Blocks unless the user explicitly accepts it (audited). Only
    /// "unknown" differences are overridable.
    Overridable,
    /// Blocks; fix it on the exchange (or narrow nothing: it cannot be
    /// accepted).
    Blocking,
}

/// A stable code per kind of difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DifferenceCode {
    /// The exchange rejected the new key.
    Rejected,
    /// The exchange could not be reached or answered nonsense.
    Unreachable,
    /// The stored new key cannot be used as it is (bad PEM, …).
    Unusable,
    /// A permission is granted that was not declared.
    MoreThanDeclared,
    /// A declared permission is not granted.
    MissingPermission,
    /// The exchange does not report this permission.
    UnknownPermission,
    /// An IP allowlist was intended but the key has none.
    IpUnrestricted,
    /// The key's allowlist differs from the intended one.
    IpMismatch,
    /// The exchange does not report the allowlist.
    IpUnknown,
    /// The key is IP-restricted though no allowlist was recorded.
    IpNotRecorded,
    /// No allowlist anywhere.
    NoIpRestriction,
}

impl DifferenceCode {
    /// The stable name (audit details).
    pub fn as_str(self) -> &'static str {
        match self {
            DifferenceCode::Rejected => "rejected",
            DifferenceCode::Unreachable => "unreachable",
            DifferenceCode::Unusable => "unusable",
            DifferenceCode::MoreThanDeclared => "more_than_declared",
            DifferenceCode::MissingPermission => "missing_permission",
            DifferenceCode::UnknownPermission => "unknown_permission",
            DifferenceCode::IpUnrestricted => "ip_unrestricted",
            DifferenceCode::IpMismatch => "ip_mismatch",
            DifferenceCode::IpUnknown => "ip_unknown",
            DifferenceCode::IpNotRecorded => "ip_not_recorded",
            DifferenceCode::NoIpRestriction => "no_ip_restriction",
        }
    }
}

/// One way the new key differs from what was intended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// What kind.
    pub code: DifferenceCode,
    /// How much it blocks.
    pub severity: Severity,
    /// The scope concerned, if any (`read`, `withdraw`, …).
    pub scope: Option<String>,
    /// What was declared or intended, in words.
    pub declared: String,
    /// What the exchange reports, in words.
    pub live: String,
    /// How to fix it, on the exchange or in Keyward.
    pub fix: String,
}

/// The result of checking a rotation's new key, as stored on the rotation
/// and shown by front ends. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyOutcome {
    /// Whether the key may be promoted: it authenticated and nothing
    /// blocks (overridable differences only with `unknown_override`).
    pub passed: bool,
    /// Whether the new key authenticated.
    pub authenticated: bool,
    /// Whether the exchange could not be reached (retry later).
    pub unreachable: bool,
    /// The scopes checked against.
    pub declared: Vec<String>,
    /// Scopes the exchange reports as granted.
    pub granted: Vec<String>,
    /// Scopes the exchange does not report.
    pub unknown: Vec<String>,
    /// The intended allowlist.
    pub intended_ips: Vec<String>,
    /// The live allowlist, when reported.
    pub live_ips: Option<Vec<String>>,
    /// Every difference, blocking first.
    pub differences: Vec<Difference>,
    /// Whether "unknown" differences were accepted by an explicit override.
    pub unknown_override: bool,
    /// When the check ran (unix seconds).
    pub checked_at: i64,
}

impl VerifyOutcome {
    /// The blocking differences (what must be fixed on the exchange).
    pub fn blocking(&self) -> impl Iterator<Item = &Difference> {
        self.differences
            .iter()
            .filter(|d| d.severity == Severity::Blocking)
    }

    /// The overridable ("unknown") differences.
    pub fn overridable(&self) -> impl Iterator<Item = &Difference> {
        self.differences
            .iter()
            .filter(|d| d.severity == Severity::Overridable)
    }

    /// The codes of the overridden differences (audit details).
    pub(crate) fn overridden_codes(&self) -> Vec<&'static str> {
        if !self.unknown_override {
            return Vec::new();
        }
        let mut codes: Vec<&'static str> = self.overridable().map(|d| d.code.as_str()).collect();
        codes.dedup();
        codes
    }
}

fn rejection_fix(exchange: Exchange, reason: RejectReason) -> &'static str {
    match (exchange, reason) {
        (_, RejectReason::BadSignature) => {
            "The secret does not belong to this key id: copy the secret again from the exchange (it is shown only once at creation; if lost, delete the key there and create a new one), then enter the new key again."
        }
        (_, RejectReason::WrongPassphrase) => {
            "The passphrase is not the one set when the key was created: enter the new key again with the right passphrase."
        }
        (_, RejectReason::InvalidKey) => {
            "The exchange does not know this key id: check it was copied completely, that the key was created in the same environment (mainnet/testnet) as the stored key, and that it was not deleted."
        }
        (_, RejectReason::IpNotAllowed) => {
            "The key's IP allowlist does not include this machine: add this machine's IP on the exchange, or check from a machine in the allowlist."
        }
        (_, RejectReason::Expired) => {
            "The key has expired or is frozen: create a fresh key on the exchange and enter it."
        }
        (_, RejectReason::Timestamp) => {
            "The exchange refused the request time: check this computer's clock, then verify again."
        }
        (_, RejectReason::PermissionDenied) => {
            "The key lacks the permission to read its own settings: enable read access on the exchange."
        }
        _ => "Check the key on the exchange's API management page and enter it again.",
    }
}

fn enable_fix(exchange: Exchange, scope: Scope) -> String {
    let exchange = exchange.display_name();
    format!(
        "On {exchange}, edit the new key and enable \"{scope}\" — or, if the bots no longer need it, narrow the declared scope at this step (verify with the smaller scope list)."
    )
}

fn disable_fix(exchange: Exchange, scope: Scope) -> String {
    let exchange = exchange.display_name();
    format!(
        "On {exchange}, edit the new key and switch \"{scope}\" off (or delete it and create one without it). Keyward never accepts a key with more than the declared permissions; to really grant \"{scope}\", edit the key's declared scopes first."
    )
}

/// Compares the exchange's answer about the new key with the declared
/// scopes and the intended allowlist.
///
/// - Rejected, unreachable or unusable: one blocking difference.
/// - A granted scope that was not declared: blocking (`withdraw` too, of
///   course; `read` is implied by any other scope, as in the health
///   findings). Never overridable.
/// - A declared scope reported as not granted: blocking (the bots would
///   break).
/// - A scope the exchange does not report: overridable, once per scope.
/// - IP: an intended allowlist must be set and equal (order and duplicates
///   ignored); unreported is overridable; no allowlist intended and none
///   set is advisory.
pub fn compare(
    exchange: Exchange,
    declared: &[Scope],
    intended_ips: &[String],
    outcome: &Result<KeyReport, ExchangeError>,
    checked_at: i64,
) -> VerifyOutcome {
    let brand = exchange.display_name();
    let mut out = VerifyOutcome {
        passed: false,
        authenticated: false,
        unreachable: false,
        declared: declared.iter().map(|s| s.as_str().to_owned()).collect(),
        granted: Vec::new(),
        unknown: Vec::new(),
        intended_ips: intended_ips.to_vec(),
        live_ips: None,
        differences: Vec::new(),
        unknown_override: false,
        checked_at,
    };
    let report = match outcome {
        Err(e) => {
            let unreachable = e.kind() == ErrorKind::Exchange;
            out.unreachable = unreachable;
            out.differences.push(Difference {
                code: if unreachable {
                    DifferenceCode::Unreachable
                } else {
                    DifferenceCode::Unusable
                },
                severity: Severity::Blocking,
                scope: None,
                declared: "a key the exchange answers for".into(),
                live: e.to_string(),
                fix: if unreachable {
                    "The exchange did not answer usefully; verify again later.".into()
                } else {
                    "The new key cannot be used as entered (check the key type and its format), then enter it again.".into()
                },
            });
            return out;
        }
        Ok(r) => r,
    };
    if !report.authenticated {
        let (live, reason) = match &report.rejection {
            Some(r) => (format!("rejected: {} {}", r.code, r.message), r.reason),
            None => ("rejected".to_owned(), RejectReason::Unclassified),
        };
        out.differences.push(Difference {
            code: DifferenceCode::Rejected,
            severity: Severity::Blocking,
            scope: None,
            declared: "the new key authenticates".into(),
            live,
            fix: rejection_fix(exchange, reason).into(),
        });
        return out;
    }
    out.authenticated = true;
    let p = &report.permissions;
    for &scope in Scope::ALL {
        let live = p.get(scope);
        let is_declared = declared.contains(&scope);
        match live {
            Some(true) => out.granted.push(scope.as_str().into()),
            None => out.unknown.push(scope.as_str().into()),
            Some(false) => {}
        }
        match (live, is_declared) {
            (Some(true), false) => {
                // Read comes with every other scope.
                if scope == Scope::Read && !declared.is_empty() {
                    continue;
                }
                out.differences.push(Difference {
                    code: DifferenceCode::MoreThanDeclared,
                    severity: Severity::Blocking,
                    scope: Some(scope.as_str().into()),
                    declared: format!("{scope} not declared"),
                    live: format!("{scope} enabled"),
                    fix: disable_fix(exchange, scope),
                });
            }
            (Some(false), true) => out.differences.push(Difference {
                code: DifferenceCode::MissingPermission,
                severity: Severity::Blocking,
                scope: Some(scope.as_str().into()),
                declared: format!("{scope} declared"),
                live: format!("{scope} not enabled"),
                fix: enable_fix(exchange, scope),
            }),
            (None, _) => {
                if scope == Scope::Read && !declared.is_empty() {
                    continue;
                }
                out.differences.push(Difference {
                    code: DifferenceCode::UnknownPermission,
                    severity: Severity::Overridable,
                    scope: Some(scope.as_str().into()),
                    declared: if is_declared {
                        format!("{scope} declared")
                    } else {
                        format!("{scope} not declared")
                    },
                    live: format!("{brand} does not report {scope}"),
                    fix: format!(
                        "Check \"{scope}\" on {brand}'s API management page yourself; if it is as declared, accept the unknown permissions explicitly (--allow-unknown)."
                    ),
                });
            }
            _ => {}
        }
    }
    // Options cannot be declared in the vault: granted is always more.
    if p.get(Scope::Options) == Some(true) {
        out.differences.push(Difference {
            code: DifferenceCode::MoreThanDeclared,
            severity: Severity::Blocking,
            scope: Some("options".into()),
            declared: "options not declared".into(),
            live: "options enabled".into(),
            fix: format!("On {brand}, edit the new key and switch options trading off."),
        });
    }
    out.live_ips = report.ip_whitelist.clone();
    let intended = normalized(intended_ips);
    match (intended.is_empty(), report.ip_restricted, &report.ip_whitelist) {
        (false, Some(false), _) => out.differences.push(Difference {
            code: DifferenceCode::IpUnrestricted,
            severity: Severity::Blocking,
            scope: None,
            declared: format!("restricted to {}", intended.join(", ")),
            live: "no IP restriction".into(),
            fix: format!(
                "On {brand}, restrict the new key to {} (the addresses your bots call from).",
                intended.join(", ")
            ),
        }),
        (false, Some(true), Some(list)) if normalized(list) != intended => {
            out.differences.push(Difference {
                code: DifferenceCode::IpMismatch,
                severity: Severity::Blocking,
                scope: None,
                declared: format!("restricted to {}", intended.join(", ")),
                live: format!("restricted to {}", normalized(list).join(", ")),
                fix: format!(
                    "On {brand}, set the new key's allowlist to exactly {} — or edit the key's IP list in Keyward if the new list is what you want.",
                    intended.join(", ")
                ),
            })
        }
        (false, Some(true), _) => {}
        (false, None, _) => out.differences.push(Difference {
            code: DifferenceCode::IpUnknown,
            severity: Severity::Overridable,
            scope: None,
            declared: format!("restricted to {}", intended.join(", ")),
            live: format!("{brand} does not report IP restrictions"),
            fix: format!(
                "Check the allowlist on {brand}'s API management page yourself; if it is right, accept the unknown explicitly (--allow-unknown)."
            ),
        }),
        (true, Some(true), list) => out.differences.push(Difference {
            code: DifferenceCode::IpNotRecorded,
            severity: Severity::Advisory,
            scope: None,
            declared: "no allowlist recorded".into(),
            live: match list {
                Some(l) => format!("restricted to {}", normalized(l).join(", ")),
                None => "restricted".into(),
            },
            fix: "Record the allowlist on the key in Keyward so later checks compare it.".into(),
        }),
        (true, Some(false), _) => out.differences.push(Difference {
            code: DifferenceCode::NoIpRestriction,
            severity: Severity::Advisory,
            scope: None,
            declared: "no allowlist recorded".into(),
            live: "no IP restriction".into(),
            fix: format!(
                "Consider restricting the key to your bots' addresses on {brand}, and record them in Keyward."
            ),
        }),
        (true, None, _) => {}
    }
    out.differences
        .sort_by_key(|d| std::cmp::Reverse(d.severity));
    out.passed = out.blocking().next().is_none() && out.overridable().next().is_none();
    out
}

fn normalized(list: &[String]) -> Vec<String> {
    let mut v: Vec<String> = list
        .iter()
        .map(|s| {
            let t = s.trim();
            t.strip_suffix("/32").unwrap_or(t).to_owned()
        })
        .filter(|s| !s.is_empty())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Applies the user's explicit override of "unknown" differences: passes
/// only when nothing blocking remains.
pub(crate) fn with_override(mut outcome: VerifyOutcome, allow_unknown: bool) -> VerifyOutcome {
    let has_unknown = outcome.overridable().next().is_some();
    outcome.unknown_override = allow_unknown && has_unknown;
    outcome.passed = outcome.authenticated
        && outcome.blocking().next().is_none()
        && (!has_unknown || allow_unknown);
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{Permissions, Rejection, Timestamp};

    fn report(p: Permissions, ips: Option<Vec<&str>>) -> KeyReport {
        KeyReport {
            removable: Vec::new(),
            account_role: None,
            exchange: Exchange::Okx,
            authenticated: true,
            rejection: None,
            permissions: p,
            ip_restricted: ips.as_ref().map(|l| !l.is_empty()),
            ip_whitelist: ips.map(|l| l.into_iter().map(String::from).collect()),
            expires_at: None,
            checked_at: Timestamp::now(),
            raw: serde_json::Value::Null,
            notes: vec![],
        }
    }

    fn all_known(granted: &[Scope]) -> Permissions {
        let mut p = Permissions::default();
        for s in Permissions::SCOPES {
            p.set(s, Some(granted.contains(&s)));
        }
        p
    }

    #[test]
    fn exact_match_passes() {
        use Scope as E;
        let r = report(all_known(&[E::Read, E::Trade]), Some(vec!["192.0.2.1"]));
        let out = compare(
            Exchange::Okx,
            &[Scope::Read, Scope::Trade],
            &["192.0.2.1".into()],
            &Ok(r),
            1,
        );
        assert!(out.passed, "{:?}", out.differences);
        assert!(out.differences.is_empty());
    }

    #[test]
    fn undeclared_withdraw_blocks_and_cannot_be_overridden() {
        use Scope as E;
        let r = report(all_known(&[E::Read, E::Trade, E::Withdraw]), Some(vec![]));
        let out = compare(Exchange::Okx, &[Scope::Read, Scope::Trade], &[], &Ok(r), 1);
        assert!(!out.passed);
        let d = out.blocking().next().unwrap();
        assert_eq!(d.code, DifferenceCode::MoreThanDeclared);
        assert_eq!(d.scope.as_deref(), Some("withdraw"));
        assert!(d.fix.contains("switch \"withdraw\" off"));
        assert!(!with_override(out, true).passed);
    }

    #[test]
    fn unknown_needs_the_override() {
        let mut p = all_known(&[Scope::Read, Scope::Trade]);
        p.withdraw = None;
        let out = compare(
            Exchange::Okx,
            &[Scope::Read, Scope::Trade],
            &[],
            &Ok(report(p, None)),
            1,
        );
        assert!(!out.passed);
        assert_eq!(out.overridable().count(), 1);
        let accepted = with_override(out, true);
        assert!(accepted.passed && accepted.unknown_override);
        assert_eq!(accepted.overridden_codes(), vec!["unknown_permission"]);
    }

    #[test]
    fn missing_permission_and_ip_mismatch_block() {
        use Scope as E;
        let r = report(all_known(&[E::Read]), Some(vec!["198.51.100.9"]));
        let out = compare(
            Exchange::Okx,
            &[Scope::Read, Scope::Trade],
            &["192.0.2.1".into()],
            &Ok(r),
            1,
        );
        let codes: Vec<_> = out.blocking().map(|d| d.code).collect();
        assert!(codes.contains(&DifferenceCode::MissingPermission));
        assert!(codes.contains(&DifferenceCode::IpMismatch));
    }

    #[test]
    fn a_rejection_says_how_to_fix_it() {
        let r = KeyReport::rejected(
            Exchange::Okx,
            Rejection {
                code: "50113".into(),
                message: "Invalid Sign".into(),
                reason: RejectReason::BadSignature,
            },
        );
        let out = compare(Exchange::Okx, &[Scope::Read], &[], &Ok(r), 1);
        assert!(!out.passed && !out.authenticated);
        assert_eq!(out.differences[0].code, DifferenceCode::Rejected);
        assert!(out.differences[0].fix.contains("secret does not belong"));
    }
}
