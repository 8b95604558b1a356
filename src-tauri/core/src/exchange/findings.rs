//! Findings: what a live [`KeyReport`] says about a key compared with the
//! scopes it was declared for, and the per-key JSON shape front ends print.

use serde::Serialize;

use super::error::{ErrorDto, ExchangeError};
use super::types::{KeyReport, Permissions, Timestamp};
use crate::model::{Exchange, Scope};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Should be fixed.
    Warning,
    /// Fix now.
    Critical,
}

/// One finding about a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// How serious.
    pub severity: Severity,
    /// A stable machine code: `rejected`, `withdraw_undeclared`,
    /// `permission_undeclared`, `no_ip_restriction`, `ip_restriction_unknown`.
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
}

/// Compares a report with the declared scopes:
/// - rejected → critical `rejected`;
/// - withdraw live but not declared → critical `withdraw_undeclared`;
/// - any other live scope not declared → warning `permission_undeclared`
///   (read is implied by every other scope, so it is only flagged when
///   nothing at all was declared);
/// - no IP restriction → warning `no_ip_restriction`; unknown → info.
///
/// Unknown permissions (`None`) produce no finding: they are not guessed.
pub fn findings(declared: &[Scope], report: &KeyReport) -> Vec<Finding> {
    let mut out = Vec::new();
    if !report.authenticated {
        let detail = report
            .rejection
            .as_ref()
            .map(|r| format!("{} {}", r.code, r.message))
            .unwrap_or_else(|| "no detail".to_string());
        out.push(Finding {
            severity: Severity::Critical,
            code: "rejected",
            message: format!(
                "{} rejected the key: {detail}",
                report.exchange.display_name()
            ),
        });
        return out;
    }
    let p = &report.permissions;
    if p.withdraw == Some(true) && !declared.contains(&Scope::Withdraw) {
        out.push(Finding {
            severity: Severity::Critical,
            code: "withdraw_undeclared",
            message: "The key can withdraw funds, but withdrawal was not declared for it."
                .to_string(),
        });
    }
    for scope in Permissions::SCOPES {
        if scope == Scope::Withdraw || p.get(scope) != Some(true) || declared.contains(&scope) {
            continue;
        }
        if scope == Scope::Read && !declared.is_empty() {
            continue;
        }
        out.push(Finding {
            severity: Severity::Warning,
            code: "permission_undeclared",
            message: format!("The key has the {scope} permission, which was not declared for it."),
        });
    }
    match report.ip_restricted {
        Some(false) => out.push(Finding {
            severity: Severity::Warning,
            code: "no_ip_restriction",
            message: "The key is not restricted to any IP address.".to_string(),
        }),
        None => out.push(Finding {
            severity: Severity::Info,
            code: "ip_restriction_unknown",
            message: format!(
                "{} does not report whether the key is IP-restricted.",
                report.exchange
            ),
        }),
        Some(true) => {}
    }
    out
}

/// The per-key result front ends print (`keyward verify --json`):
/// `{label, exchange, authenticated, permissions, ip_restricted,
/// ip_whitelist, expires_at, checked_at, findings, error}`.
#[derive(Debug, Clone, Serialize)]
pub struct KeyCheck {
    /// The key's label in the vault.
    pub label: String,
    /// Which exchange.
    pub exchange: Exchange,
    /// Whether it authenticated (false also when unreachable).
    pub authenticated: bool,
    /// Live permissions (all `null` when the check failed).
    pub permissions: Permissions,
    /// Whether an IP allowlist is set; `null` when unknown.
    pub ip_restricted: Option<bool>,
    /// The allowlist; `null` when the exchange does not report it.
    pub ip_whitelist: Option<Vec<String>>,
    /// Expiry, when reported.
    pub expires_at: Option<Timestamp>,
    /// When the check ran.
    pub checked_at: Timestamp,
    /// Findings against the declared scopes.
    pub findings: Vec<Finding>,
    /// The rejection or failure, if any.
    pub error: Option<KeyCheckError>,
}

/// The `error` member of a [`KeyCheck`].
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum KeyCheckError {
    /// The exchange rejected the key: `{kind:"exchange", code:"rejected", exchange_code, message, reason}`.
    Rejected {
        /// Always `exchange`.
        kind: crate::error::ErrorKind,
        /// Always `rejected`.
        code: &'static str,
        /// The exchange's code.
        exchange_code: String,
        /// The exchange's message.
        message: String,
        /// Keyward's reading of it.
        reason: super::types::RejectReason,
    },
    /// The check failed (unreachable, timeout, rate limited…).
    Failed(ErrorDto),
}

impl KeyCheck {
    /// Builds the printable result from a verify outcome.
    pub fn new(
        label: impl Into<String>,
        exchange: Exchange,
        declared: &[Scope],
        outcome: &Result<KeyReport, ExchangeError>,
    ) -> KeyCheck {
        let label = label.into();
        match outcome {
            Ok(report) => KeyCheck {
                label,
                exchange,
                authenticated: report.authenticated,
                permissions: report.permissions,
                ip_restricted: report.ip_restricted,
                ip_whitelist: report.ip_whitelist.clone(),
                expires_at: report.expires_at,
                checked_at: report.checked_at,
                findings: findings(declared, report),
                error: report.rejection.as_ref().map(|r| KeyCheckError::Rejected {
                    kind: crate::error::ErrorKind::Exchange,
                    code: "rejected",
                    exchange_code: r.code.clone(),
                    message: r.message.clone(),
                    reason: r.reason,
                }),
            },
            Err(e) => KeyCheck {
                label,
                exchange,
                authenticated: false,
                permissions: Permissions::default(),
                ip_restricted: None,
                ip_whitelist: None,
                expires_at: None,
                checked_at: Timestamp::now(),
                findings: Vec::new(),
                error: Some(KeyCheckError::Failed(e.to_dto())),
            },
        }
    }

    /// Whether the CLI should exit 6 for this key (rejected or unreachable).
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::types::{RejectReason, Rejection};

    fn report(p: Permissions, ip: Option<bool>) -> KeyReport {
        KeyReport {
            removable: Vec::new(),
            account_role: None,
            exchange: Exchange::Bybit,
            authenticated: true,
            rejection: None,
            permissions: p,
            ip_restricted: ip,
            ip_whitelist: None,
            expires_at: None,
            checked_at: Timestamp::from_unix_ms(0),
            raw: serde_json::Value::Null,
            notes: vec![],
        }
    }

    #[test]
    fn rules() {
        let p = Permissions {
            read: Some(true),
            trade: Some(true),
            withdraw: Some(true),
            transfer: None,
            ..Default::default()
        };
        let f = findings(&[Scope::Read], &report(p, Some(false)));
        let codes: Vec<_> = f.iter().map(|f| (f.severity, f.code)).collect();
        assert_eq!(
            codes,
            vec![
                (Severity::Critical, "withdraw_undeclared"),
                (Severity::Warning, "permission_undeclared"),
                (Severity::Warning, "no_ip_restriction"),
            ]
        );
        let f = findings(
            &[Scope::Read, Scope::Trade, Scope::Withdraw],
            &report(p, Some(true)),
        );
        assert!(f.is_empty(), "{f:?}");
        let f = findings(
            &[Scope::Trade],
            &report(
                Permissions {
                    read: Some(true),
                    ..Default::default()
                },
                None,
            ),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, "ip_restriction_unknown");
        let rej = KeyReport::rejected(
            Exchange::Okx,
            Rejection {
                code: "50113".into(),
                message: "Invalid signature".into(),
                reason: RejectReason::BadSignature,
            },
        );
        let f = findings(&[Scope::Read], &rej);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].severity, f[0].code), (Severity::Critical, "rejected"));
    }

    #[test]
    fn key_check_json_shape() {
        let p = Permissions {
            read: Some(true),
            ..Default::default()
        };
        let c = KeyCheck::new(
            "bot-1",
            Exchange::Bybit,
            &[Scope::Read],
            &Ok(report(p, Some(true))),
        );
        let v = serde_json::to_value(&c).unwrap();
        for k in [
            "label",
            "exchange",
            "authenticated",
            "permissions",
            "ip_restricted",
            "ip_whitelist",
            "findings",
            "error",
        ] {
            assert!(v.get(k).is_some(), "{k}");
        }
        assert_eq!(v["permissions"]["read"], true);
        assert!(v["permissions"]["trade"].is_null());
        assert!(v["error"].is_null());
        let e: Result<KeyReport, ExchangeError> = Err(ExchangeError::Timeout {
            exchange: Exchange::Okx,
        });
        let c = KeyCheck::new("bot-2", Exchange::Okx, &[], &e);
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["error"]["code"], "timeout");
        assert_eq!(v["error"]["kind"], "exchange");
        assert!(c.failed());
    }
}
