use super::*;
use crate::audit::{Actor, Mac};
use serde_json::json;

fn entry(action: Action, label: Option<&str>, details: Value) -> Entry {
    Entry {
        seq: 1,
        time_ms: 0,
        actor: Actor::Cli,
        action,
        key_id: label.map(|_| "3f1c".to_owned()),
        key_label: label.map(str::to_owned),
        details: details.to_string(),
        prev_mac: Mac::ZERO,
        mac: Mac::ZERO,
    }
}

/// Details as the vault writes them for each action (see
/// `vault::journal`), with identifiers that have underscores wherever
/// the real ones do.
fn sample_details(action: Action) -> Value {
    use Action as A;
    match action {
        A::Unlock | A::UnlockFailed => json!({ "method": "password" }),
        A::Lock => json!({ "reason": "idle" }),
        A::SettingsChanged => {
            json!({ "changed": { "auto_lock_minutes": 5, "clipboard_clear_seconds": 20 } })
        }
        A::KeyAdded => json!({ "exchange": "okx" }),
        A::KeyEdited => json!({ "fields": ["ip_whitelist", "key_type"] }),
        A::SecretRevealed | A::SecretCopied | A::KeyDeleted => {
            json!({ "proof": "recovery_code" })
        }
        A::Export => json!({ "keys": 3 }),
        A::Import => json!({ "added": 2, "replaced": 1, "replaced_labels": ["old"] }),
        A::Verify => json!({ "exchange": "bybit", "result": "not_supported" }),
        A::KeyNarrowed => {
            json!({ "dropped": ["Wallet.AccountTransfer"], "remove_withdraw": true, "read_only": false, "ips": 2 })
        }
        A::RunGrantChanged => json!({ "allowed": true, "proof": "master_password" }),
        A::MfaEnrolled => json!({ "reenrolment": true }),
        A::MfaRecoveryCodeUsed => json!({ "action": "reveal_secret", "codes_left": 7 }),
        A::StepUpFailed => json!({ "action": "delete_key", "reason": "invalid_code" }),
        A::StepUpThrottled => json!({ "action": "reveal_secret", "until": 1_700_000_000u64 }),
        A::RotationNewKeyVerified => {
            json!({ "rotation_id": "r", "scopes": ["read"], "override": "unknown_permissions", "overridden": ["x"] })
        }
        A::RotationOldKeyRevoked | A::KeyRevoked => {
            json!({ "rotation_id": "r", "method": "manual" })
        }
        A::RevocationBaseline => {
            json!({ "endpoint": "https://api.bybit.com", "authenticated_at": 1_700_000_000u64, "digest": "abcd" })
        }
        A::RotationFailed => {
            json!({ "rotation_id": "r", "step": "verify_new", "reason": "step_up_required" })
        }
        A::IncidentOpened | A::IncidentClosed => {
            json!({ "incident": "0123456789ab", "event": "opened" })
        }
        A::IncidentStepDone => {
            json!({ "incident": "0123456789ab", "event": "step_failed", "step": "revoke_keys" })
        }
        A::IncidentStepSkipped => {
            json!({ "incident": "0123456789ab", "event": "step_skipped", "step": "check_activity" })
        }
        A::ServiceChanged => {
            json!({ "service": "3Commas", "change": "checked", "item": "key_storage_docs" })
        }
        A::AuditIntegrityFailed => {
            json!({ "finding": "entry 3 was modified", "claimed": "mfa_disabled", "recorded_while_locked": true })
        }
        A::AuditFindingsAcknowledged => json!({ "findings": 1 }),
        A::DeployTargetAdded => {
            json!({ "target": "bot-box", "host": "bots.example.net", "port": 22 })
        }
        A::DeployTargetChanged => json!({ "target": "bot-box", "change": "host_key_pinned" }),
        A::KeyDeployed => json!({ "target": "bot-box", "host": "bots.example.net" }),
        A::RevokeForcedWhileDeployed => json!({ "targets": ["bot-box", "vps"] }),
        A::AlertSettingsChanged => {
            json!({ "change": "webhook_set", "detail": "discord discord.com" })
        }
        A::AlertReminded => json!({ "labels": ["main"], "queued": 1 }),
        A::AlertDelivered => json!({ "event": "rotation_overdue", "attempt": 1 }),
        A::AlertFailed => {
            json!({ "event": "incident_opened", "attempt": 3, "error": "timed_out", "dropped": true })
        }
        A::ManagerKeyMarked | A::ManagerKeyUnmarked => {
            json!({ "exchange": "bybit", "proof": "totp" })
        }
        A::InventoryTaken => {
            json!({ "exchange": "binance", "known": 2, "unknown": 1, "missing": 0, "not_listed": 1, "complete": false, "proof": "totp" })
        }
        A::UnknownKeyRevoked => {
            json!({ "exchange": "okx", "key_id": "ab12…9f0e", "proof": "totp" })
        }
        _ => json!({}),
    }
}

#[test]
fn every_action_has_a_sentence_without_identifiers_or_json() {
    for &action in Action::ALL {
        for details in [sample_details(action), json!({})] {
            for label in [Some("bybit-bot"), None] {
                let s = describe(&entry(action, label, details.clone()));
                assert!(!s.is_empty(), "{action}");
                for bad in ['_', '{', '}', '"'] {
                    assert!(!s.contains(bad), "{action}: {s:?} contains {bad:?}");
                }
                assert!(
                    s.starts_with(|c: char| c.is_uppercase() || c.is_ascii_digit()),
                    "{action}: {s:?}"
                );
                assert_ne!(s, action.as_str(), "{action}");
            }
        }
    }
}

#[test]
fn sentences_read_as_the_user_would_say_them() {
    let reveal = entry(
        Action::SecretRevealed,
        Some("bybit-bot"),
        json!({ "proof": "totp" }),
    );
    assert_eq!(describe(&reveal), "Revealed the secret of bybit-bot (TOTP)");
    let added = entry(
        Action::KeyAdded,
        Some("main"),
        json!({ "exchange": "binance" }),
    );
    assert_eq!(describe(&added), "Added key main (Binance)");
    let failed = entry(
        Action::StepUpFailed,
        None,
        json!({ "action": "reveal_secret", "reason": "invalid_code" }),
    );
    assert_eq!(
        describe(&failed),
        "Step-up failed: wrong code (revealing a secret)"
    );
    let ticked = entry(
        Action::ServiceChanged,
        Some("main"),
        json!({ "service": "3Commas", "change": "checked", "item": "reputation" }),
    );
    assert_eq!(
        describe(&ticked),
        "Ticked “Reputation checked” for 3Commas (key main)"
    );
    let export = entry(Action::Export, None, json!({ "keys": 1, "proof": "totp" }));
    assert_eq!(describe(&export), "Exported a backup of 1 key (TOTP)");
    let baseline = entry(
        Action::RevocationBaseline,
        Some("bybit-bot"),
        json!({ "endpoint": "https://api.bybit.com", "authenticated_at": 1_700_000_000u64, "digest": "ab", "proof": "totp" }),
    );
    assert_eq!(
        describe(&baseline),
        "Checked that bybit-bot still worked on api.bybit.com right before asking the exchange to delete it (TOTP)"
    );
}

#[test]
fn every_action_has_a_category_and_categories_have_labels() {
    for &action in Action::ALL {
        assert!(action.category().actions().contains(&action));
    }
    for &c in Category::ALL {
        assert_eq!(Category::from_name(c.as_str()), Some(c));
        assert!(!c.actions().is_empty(), "{}", c.as_str());
        assert!(!c.label().contains('_'));
    }
}
