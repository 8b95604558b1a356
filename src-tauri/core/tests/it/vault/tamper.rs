//! Attacks on the key rows, each named after what it tries: a credential
//! edit without a step-up (malware with the unlocked app, or a compromised
//! page calling IPC), and plain SQL on the vault file (malware with the
//! file). Every one must be refused or detected, and loses nothing.

use keyward_core::KindedError;
use keyward_core::audit::{Action as AuditAction, store::AuditFilter};
use keyward_core::mfa::actions;
use keyward_core::mfa::{GatedAction, MfaError, Proof};
use keyward_core::model::{Environment, KeyEdit, KeyStatus, KeyType};
use keyward_core::vault::{Actor, BackupPassphrase, ConflictPolicy, Session, Vault, VaultError};
use rusqlite::Connection;

use crate::vault::stepup::Enrolled;
use crate::vault::support::{TempVault, binance, grant, okx, password};

fn sql(t: &TempVault, statement: &str) {
    let conn = Connection::open(t.path()).unwrap();
    conn.execute_batch(statement).unwrap();
}

fn reopen(t: &TempVault) -> Session {
    Vault::open(&t.path()).unwrap().unlock(&password()).unwrap()
}

fn step_up_required(r: Result<impl Sized, VaultError>) {
    match r {
        Err(VaultError::Mfa(MfaError::StepUpRequired { action })) => {
            assert_eq!(action, GatedAction::EditCredentials)
        }
        Err(other) => panic!("expected step-up required, got {other:?}"),
        Ok(_) => panic!("expected step-up required, got success"),
    }
}

fn tampered(r: Result<impl Sized, VaultError>, label: &str) {
    match r {
        Err(e @ VaultError::RecordTampered { .. }) => {
            assert_eq!(e.kind().exit_code(), 5);
            assert!(e.to_string().contains(label), "{e}");
        }
        Err(other) => panic!("expected a tampered record, got {other:?}"),
        Ok(_) => panic!("expected a tampered record, got success"),
    }
}

#[test]
fn base_url_edit_without_step_up_is_refused() {
    let t = TempVault::new();
    let mut s = t.create();
    s.add_key(Actor::Cli, okx("okx1")).unwrap();
    let to_attacker = KeyEdit {
        environment: Some(Environment::Custom("http://127.0.0.1:9".into())),
        ..KeyEdit::default()
    };
    step_up_required(s.edit_key(Actor::Gui, "okx1", to_attacker, None));
    let d = s.key_detail("okx1").unwrap();
    assert_eq!(d.summary.environment, Environment::Mainnet);
    assert_eq!(d.custom_host, None);
    // Every other credential field is gated the same way.
    let edits = [
        KeyEdit {
            secret: Some("overwritten".into()),
            ..KeyEdit::default()
        },
        KeyEdit {
            passphrase: Some("other".into()),
            ..KeyEdit::default()
        },
        KeyEdit {
            api_key_id: Some("6c4b2a8e-3f1d-4e5a-9b7c-000000000000".into()),
            ..KeyEdit::default()
        },
        KeyEdit {
            key_type: Some(KeyType::Ed25519),
            ..KeyEdit::default()
        },
        KeyEdit {
            status: Some(KeyStatus::Revoked),
            ..KeyEdit::default()
        },
    ];
    for edit in edits {
        step_up_required(s.edit_key(Actor::Cli, "okx1", edit, None));
    }
    // A grant for another action does not compile (`StepUpGrant<A>`).
    // Nothing changed: the only copy of the secret is intact.
    let g = grant::<actions::RevealSecret>(&mut s);
    let r = s.reveal(Actor::Cli, g, "okx1").unwrap();
    assert_eq!(r.secret.expose(), "okx-secret");
    assert_eq!(r.passphrase.unwrap().expose(), "okx-passphrase");
    // Metadata stays ungated.
    let notes = KeyEdit {
        notes: Some("grid bot".into()),
        scopes: Some(vec![keyward_core::model::Scope::Read]),
        ip_whitelist: Some(vec!["203.0.113.7".into()]),
        ..KeyEdit::default()
    };
    s.edit_key(Actor::Cli, "okx1", notes, None).unwrap();
}

#[test]
fn credential_edit_with_mfa_needs_a_code_not_the_password() {
    let mut e = Enrolled::new();
    let verified = e.s.verify_password(&password()).unwrap();
    let refused =
        e.s.step_up::<actions::EditCredentials>(Actor::Cli, Some(Proof::MasterPassword(verified)));
    assert!(matches!(refused, Err(VaultError::Mfa(_))));
    let code = e.fresh();
    let g =
        e.s.step_up::<actions::EditCredentials>(Actor::Cli, Some(Proof::totp(code)))
            .unwrap();
    let d =
        e.s.edit_key(
            Actor::Cli,
            "okx",
            KeyEdit {
                environment: Some(Environment::Custom("http://127.0.0.1:9/okx".into())),
                ..KeyEdit::default()
            },
            Some(g),
        )
        .unwrap();
    // The key page and `show` say where requests now go, and that the
    // host was confirmed with a code.
    assert_eq!(d.custom_host.as_deref(), Some("127.0.0.1:9"));
    assert!(d.host_confirmed);
    let log = e.s.audit_log(&AuditFilter::default()).unwrap();
    let last = log
        .iter()
        .rev()
        .find(|x| x.action == AuditAction::KeyEdited);
    let text = serde_json::to_string(&last).unwrap();
    assert!(
        text.contains("environment") && text.contains("totp"),
        "{text}"
    );
}

#[test]
fn an_official_host_is_not_custom() {
    use keyward_core::model::{Exchange, custom_host};
    let env = |u: &str| Environment::Custom(u.into());
    assert_eq!(
        custom_host(Exchange::Okx, &env("https://eea.okx.com")),
        None
    );
    assert_eq!(
        custom_host(Exchange::Binance, &env("https://api.binance.com:443/")),
        None
    );
    // Plain http to an official name, or another exchange's host, is custom.
    assert_eq!(
        custom_host(Exchange::Okx, &env("http://www.okx.com")).as_deref(),
        Some("www.okx.com")
    );
    assert_eq!(
        custom_host(Exchange::Okx, &env("https://api.bybit.com")).as_deref(),
        Some("api.bybit.com")
    );
    assert_eq!(custom_host(Exchange::Okx, &Environment::Mainnet), None);
}

#[test]
fn allow_run_set_in_sqlite_is_refused_and_reported() {
    let t = TempVault::new();
    let mut s = t.create();
    s.add_key(Actor::Cli, binance("main")).unwrap();
    s.lock();
    sql(&t, "UPDATE keys SET allow_run = 1 WHERE label = 'main'");
    let mut s = reopen(&t);
    tampered(s.run_secrets(Actor::Cli, "main"), "main");
    let report = s.check_integrity().unwrap();
    assert_eq!(report.damaged.len(), 1);
    assert_eq!(report.damaged[0].label, "main");
    assert_eq!(report.damaged[0].fields, ["row"]);
    assert_eq!(report.into_result().unwrap_err().kind().exit_code(), 5);
}

#[test]
fn swapped_labels_make_reveal_refuse() {
    let t = TempVault::new();
    let mut s = t.create();
    s.add_key(Actor::Cli, binance("main")).unwrap();
    s.add_key(Actor::Cli, okx("spare")).unwrap();
    s.lock();
    sql(
        &t,
        "UPDATE keys SET label = 'tmp' WHERE label = 'main';
         UPDATE keys SET label = 'main' WHERE label = 'spare';
         UPDATE keys SET label = 'spare' WHERE label = 'tmp';",
    );
    let mut s = reopen(&t);
    let g = grant::<actions::RevealSecret>(&mut s);
    tampered(s.reveal(Actor::Cli, g, "main"), "main");
    let damaged: Vec<String> = s
        .check_integrity()
        .unwrap()
        .damaged
        .into_iter()
        .map(|d| d.label)
        .collect();
    assert_eq!(damaged, ["main", "spare"]);
}

#[test]
fn base_url_set_in_sqlite_never_gets_a_request() {
    let t = TempVault::new();
    let mut s = t.create();
    s.add_key(Actor::Cli, okx("okx1")).unwrap();
    s.lock();
    sql(
        &t,
        "UPDATE keys SET environment = 'custom', base_url = 'http://127.0.0.1:9',
             host_confirmed = 1 WHERE label = 'okx1'",
    );
    let mut s = reopen(&t);
    // Preparing a check unseals the credentials: refused before any
    // network I/O.
    let r = s.prepare_checks(&keyward_core::checks::CheckSelection::Labels(vec![
        "okx1".into(),
    ]));
    tampered(r, "okx1");
}

#[test]
fn tampered_row_is_not_laundered_by_a_later_edit() {
    let t = TempVault::new();
    let mut s = t.create();
    s.add_key(Actor::Cli, binance("main")).unwrap();
    s.lock();
    sql(
        &t,
        "UPDATE keys SET scopes = 'read,trade,withdraw' WHERE label = 'main'",
    );
    let mut s = reopen(&t);
    // An ungated edit must not re-authenticate the tampered row.
    let notes = KeyEdit {
        notes: Some("x".into()),
        ..KeyEdit::default()
    };
    tampered(s.edit_key(Actor::Cli, "main", notes, None), "main");
    tampered(s.deny_run(Actor::Cli, "main"), "main");
    assert!(!s.check_integrity().unwrap().is_ok());
    // Deleting the record (gated) exposes nothing and is the way out.
    let g = grant::<actions::DeleteKey>(&mut s);
    s.delete_key(Actor::Cli, g, "main").unwrap();
    assert!(s.check_integrity().unwrap().is_ok());
}

#[test]
fn removed_row_mac_is_tampering_not_an_old_vault() {
    let t = TempVault::new();
    let mut s = t.create();
    s.add_key(Actor::Cli, binance("main")).unwrap();
    s.lock();
    sql(&t, "UPDATE keys SET row_mac = NULL, allow_run = 1");
    let mut s = reopen(&t);
    tampered(s.run_secrets(Actor::Cli, "main"), "main");
}

#[test]
fn old_sealed_secret_put_back_is_detected() {
    let t = TempVault::new();
    let mut s = t.create();
    s.add_key(Actor::Cli, binance("main")).unwrap();
    s.lock();
    let conn = Connection::open(t.path()).unwrap();
    let old: Vec<u8> = conn
        .query_row("SELECT secret FROM keys", [], |r| r.get(0))
        .unwrap();
    drop(conn);
    let mut s = reopen(&t);
    let g = grant::<actions::EditCredentials>(&mut s);
    let edit = KeyEdit {
        secret: Some("the new secret".into()),
        ..KeyEdit::default()
    };
    s.edit_key(Actor::Cli, "main", edit, Some(g)).unwrap();
    s.lock();
    let conn = Connection::open(t.path()).unwrap();
    conn.execute("UPDATE keys SET secret = ?1", [old]).unwrap();
    drop(conn);
    let mut s = reopen(&t);
    let g = grant::<actions::RevealSecret>(&mut s);
    tampered(s.reveal(Actor::Cli, g, "main"), "main");
}

#[test]
fn replacing_import_without_step_up_is_refused_and_names_the_labels() {
    let t = TempVault::new();
    let mut s = t.create();
    s.add_key(Actor::Cli, binance("main")).unwrap();
    s.add_key(Actor::Cli, okx("desk")).unwrap();
    let out = t.dir.path().join("b.kwbackup");
    let pass = BackupPassphrase::from("backup passphrase");
    let g = grant::<actions::Export>(&mut s);
    s.export_backup(Actor::Cli, g, &out, &pass).unwrap();
    let r = s.import_backup(Actor::Cli, &out, &pass, ConflictPolicy::Replace, None);
    step_up_required(r);
    // Merging without replacing needs no step-up and replaces nothing.
    let merged = s
        .import_backup(Actor::Cli, &out, &pass, ConflictPolicy::Skip, None)
        .unwrap();
    assert_eq!(merged.conflicts, ["desk", "main"]);
    let g = grant::<actions::EditCredentials>(&mut s);
    let report = s
        .import_backup(Actor::Cli, &out, &pass, ConflictPolicy::Replace, Some(g))
        .unwrap();
    assert_eq!(report.replaced, ["desk", "main"]);
    let log = s.audit_log(&AuditFilter::default()).unwrap();
    let import = log
        .iter()
        .rev()
        .find(|x| x.action == AuditAction::Import)
        .unwrap();
    let text = serde_json::to_string(import).unwrap();
    assert!(
        text.contains("\"desk\"") && text.contains("\"main\""),
        "{text}"
    );
    assert!(s.check_integrity().unwrap().is_ok());
}

#[test]
fn vault_from_before_row_macs_is_authenticated_at_first_unlock() {
    let t = TempVault::new();
    let golden =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden-v1.keyward");
    std::fs::copy(golden, t.path()).unwrap();
    let unlock = || {
        Vault::open(&t.path())
            .unwrap()
            .unlock(&keyward_core::vault::MasterPassword::from(
                "golden vault password v1",
            ))
            .unwrap()
    };
    let mut s = unlock();
    assert!(s.check_integrity().unwrap().is_ok());
    s.lock();
    // From now on the rows are authenticated: an edit in SQLite is caught.
    sql(&t, "UPDATE keys SET allow_run = 1 WHERE label = 'cdp'");
    let mut s = unlock();
    tampered(s.run_secrets(Actor::Cli, "cdp"), "cdp");
}

#[test]
fn old_header_and_old_password_open_nothing_after_a_password_change() {
    let mut e = Enrolled::new();
    let header = |path: &std::path::Path| -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        Connection::open(path)
            .unwrap()
            .query_row(
                "SELECT kdf_salt, password_wrap, header_check FROM vault_meta",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap()
    };
    let old_header = header(&e.t.path());
    let new_password = keyward_core::vault::MasterPassword::from("violet kettle orbit anchor");
    let code = e.fresh();
    let g =
        e.s.step_up::<actions::ChangePassword>(Actor::Cli, Some(Proof::totp(code)))
            .unwrap();
    e.s.change_password(Actor::Cli, g, &password(), &new_password)
        .unwrap();
    e.s.add_key(Actor::Cli, binance("later")).unwrap();
    e.s.lock();
    // The attacker's copy: today's file with yesterday's header.
    let stolen = e.t.dir.path().join("stolen.keyward");
    std::fs::copy(e.t.path(), &stolen).unwrap();
    let conn = Connection::open(&stolen).unwrap();
    conn.execute(
        "UPDATE vault_meta SET kdf_salt = ?1, password_wrap = ?2, header_check = ?3,
             mac_root = NULL",
        rusqlite::params![old_header.0, old_header.1, old_header.2],
    )
    .unwrap();
    drop(conn);
    let opened = Vault::open(&stolen).unwrap().unlock(&password());
    assert!(
        matches!(opened, Err(VaultError::HeaderCorrupt { .. })),
        "{opened:?}"
    );
    // The owner's vault: everything still works under the new password,
    // the TOTP seed and an unused recovery code included.
    let vault = Vault::open_with(
        &e.t.path(),
        keyward_core::vault::VaultOptions::with_clock(e.clock.clone()),
    )
    .unwrap();
    e.s = vault.unlock(&new_password).unwrap();
    assert!(e.s.audit_problem().is_none());
    assert!(e.s.check_integrity().unwrap().is_ok());
    let code = e.fresh();
    let g =
        e.s.step_up::<actions::RevealSecret>(Actor::Cli, Some(Proof::totp(code)))
            .unwrap();
    assert_eq!(
        e.s.reveal(Actor::Cli, g, "okx").unwrap().secret.expose(),
        "okx-secret"
    );
    let recovery = e.recovery[0].clone();
    let g =
        e.s.step_up::<actions::RevealSecret>(Actor::Cli, Some(Proof::recovery_code(recovery)))
            .unwrap();
    assert!(e.s.reveal(Actor::Cli, g, "later").is_ok());
    assert!(e.s.verify_audit().unwrap().is_ok());
}
