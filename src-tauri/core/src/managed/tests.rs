//! The manager column against a real vault: at most one manager key per
//! exchange and environment, a manager key never reaches `keyward run`
//! (even with its grant set before it was marked), a flag set by hand is
//! tampering, and health flags a risky manager key.

use super::store::{self, manager_for};
use crate::mfa::actions::AllowRun;
use crate::mfa::{Proof, ProofMethod};
use crate::model::{Environment, Exchange, NewKey, Scope};
use crate::vault::{Actor, KdfParams, MasterPassword, Session, Vault, VaultError};

const PASSWORD: &str = "correct horse battery staple";

fn vault() -> (tempfile::TempDir, Session) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Vault::create(
        &dir.path().join("v.keyward"),
        &MasterPassword::from(PASSWORD),
        KdfParams::MINIMUM,
        Actor::Cli,
    )
    .unwrap();
    for (label, exchange, env, id) in [
        (
            "master",
            Exchange::Bybit,
            Environment::Mainnet,
            "MASTERKEY01",
        ),
        (
            "other",
            Exchange::Bybit,
            Environment::Mainnet,
            "OTHERKEY001",
        ),
        ("test", Exchange::Bybit, Environment::Testnet, "TESTKEY0001"),
    ] {
        let key = NewKey {
            environment: env,
            scopes: vec![Scope::Read, Scope::Transfer],
            ..NewKey::new(label, exchange, id, "CANARYmanaged0secret".into())
        };
        s.add_key(Actor::Cli, key).unwrap();
    }
    (dir, s)
}

fn allow_run(s: &mut Session, label: &str) -> Result<(), VaultError> {
    let verified = s.verify_password(&MasterPassword::from(PASSWORD)).unwrap();
    let g = s
        .step_up::<AllowRun>(Actor::Cli, Some(Proof::MasterPassword(verified)))
        .unwrap();
    s.set_allow_run(Actor::Cli, g, label, true)
}

#[test]
fn one_manager_per_exchange_and_environment() {
    let (_d, mut s) = vault();
    assert_eq!(
        manager_for(&mut s, Exchange::Bybit, &Environment::Mainnet).unwrap(),
        None
    );
    store::write_manager(&mut s, Actor::Cli, ProofMethod::Totp, "master", true).unwrap();
    assert_eq!(
        manager_for(&mut s, Exchange::Bybit, &Environment::Mainnet)
            .unwrap()
            .as_deref(),
        Some("master")
    );
    let refused = store::write_manager(&mut s, Actor::Cli, ProofMethod::Totp, "other", true);
    assert!(
        matches!(&refused, Err(super::ManagedError::OtherManager { other, .. }) if other == "master"),
        "{refused:?}"
    );
    assert!(!s.key_detail("other").unwrap().summary.manager);
    // Another environment is another account.
    store::write_manager(&mut s, Actor::Cli, ProofMethod::Totp, "test", true).unwrap();
    assert_eq!(
        manager_for(&mut s, Exchange::Bybit, &Environment::Testnet)
            .unwrap()
            .as_deref(),
        Some("test")
    );
    assert_eq!(
        manager_for(&mut s, Exchange::Okx, &Environment::Mainnet).unwrap(),
        None
    );
    let listed: Vec<String> = super::managers(&mut s)
        .unwrap()
        .into_iter()
        .map(|k| k.label)
        .collect();
    assert_eq!(listed, ["master", "test"]);
    // Unmarked, the other key may be marked.
    store::write_manager(&mut s, Actor::Cli, ProofMethod::Totp, "master", false).unwrap();
    store::write_manager(&mut s, Actor::Cli, ProofMethod::Totp, "other", true).unwrap();
    let log = s.audit_log(&Default::default()).unwrap();
    let names: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert!(names.contains(&"manager_key_marked") && names.contains(&"manager_key_unmarked"));
}

#[test]
fn a_manager_key_never_reaches_run() {
    let (_d, mut s) = vault();
    // Allowed for run before it was marked: run still refuses it.
    allow_run(&mut s, "master").unwrap();
    assert!(s.run_secrets(Actor::Cli, "master").is_ok());
    store::write_manager(&mut s, Actor::Cli, ProofMethod::Totp, "master", true).unwrap();
    let e = s.run_secrets(Actor::Cli, "master").unwrap_err();
    assert!(matches!(e, VaultError::ManagerKeyNotForRun { .. }), "{e:?}");
    assert!(!e.to_string().contains("CANARY"));
    let e = s
        .run_env(Actor::Cli, &["master".to_owned()], &[])
        .unwrap_err();
    assert!(e.to_string().contains("manager key"), "{e}");
    // Nor can it be allowed again while marked.
    let e = allow_run(&mut s, "master").unwrap_err();
    assert!(matches!(e, VaultError::ManagerKeyNotForRun { .. }), "{e:?}");
    // Clearing the flag by hand breaks the row's MAC: refused, not obeyed.
    s.conn()
        .execute("UPDATE keys SET manager = 0 WHERE label = 'master'", [])
        .unwrap();
    let e = s.run_secrets(Actor::Cli, "master").unwrap_err();
    assert!(matches!(e, VaultError::RecordTampered { .. }), "{e:?}");
}

#[test]
fn a_manager_flag_set_by_hand_is_tampering() {
    let (_d, mut s) = vault();
    s.conn()
        .execute("UPDATE keys SET manager = 1 WHERE label = 'other'", [])
        .unwrap();
    let e = manager_for(&mut s, Exchange::Bybit, &Environment::Mainnet).unwrap_err();
    assert!(matches!(e, VaultError::RecordTampered { .. }), "{e:?}");
}

#[test]
fn health_flags_a_manager_key_with_withdraw_or_no_whitelist() {
    use crate::health::{RuleId, Severity};
    let (_d, mut s) = vault();
    store::write_manager(&mut s, Actor::Cli, ProofMethod::Totp, "master", true).unwrap();
    let now = s.now_secs();
    let report = crate::health::report_for(&mut s, now, &[]).unwrap();
    let found: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.label == "master")
        .map(|f| (f.rule, f.severity))
        .collect();
    assert!(
        found.contains(&(RuleId::ManagerNoIpWhitelist, Severity::Critical)),
        "{found:?}"
    );
    assert!(!found.iter().any(|(r, _)| *r == RuleId::NoIpWhitelist));
}
