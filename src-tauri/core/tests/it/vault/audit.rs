//! The audit log joined to the vault, on real files: every write is
//! recorded; a modified, deleted, reordered or truncated entry (and a
//! deleted log with a cleared head) is reported at unlock and by
//! `verify_audit`; a planted secret never reaches the log or the file.

use keyward_core::audit::{Action, store::AuditFilter};
use keyward_core::mfa::actions;
use keyward_core::model::{ApiSecret, Exchange, NewKey};
use keyward_core::vault::{Actor, Session, Vault};
use rusqlite::Connection;

use crate::vault::support::{TempVault, binance, grant, password};

const CANARY: &str = "CANARY-7f3a9c2e-do-not-leak-4b1d";

fn planted() -> NewKey {
    NewKey::new(
        "planted",
        Exchange::Binance,
        "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8B",
        ApiSecret::from(CANARY),
    )
}

/// A vault with a few entries: create, unlock, adds, a reveal.
fn populated() -> TempVault {
    let t = TempVault::new();
    let mut s = t.create();
    s.add_key(Actor::Cli, binance("a")).unwrap();
    s.add_key(Actor::Cli, binance("b")).unwrap();
    s.add_key(Actor::Cli, planted()).unwrap();
    let g = grant::<actions::RevealSecret>(&mut s);
    s.reveal(Actor::Cli, g, "planted").unwrap();
    s.lock();
    t
}

fn unlock(t: &TempVault) -> Session {
    Vault::open(&t.path()).unwrap().unlock(&password()).unwrap()
}

fn tampered(f: impl FnOnce(&Connection)) -> Session {
    let t = populated();
    {
        let conn = Connection::open(t.path()).unwrap();
        f(&conn);
    }
    let mut s = unlock(&t);
    let problem = s.audit_problem().cloned().expect("a problem at unlock");
    let report = s.verify_audit().unwrap();
    assert!(!report.is_ok());
    assert_eq!(report.found_at_unlock.as_ref(), Some(&problem));
    // The finding itself is in the chain.
    let findings = s
        .audit_log(&AuditFilter::all().with_actions([Action::AuditIntegrityFailed]))
        .unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].seq, problem.recorded_as);
    // The unlock still worked.
    assert_eq!(s.list_keys().unwrap().len(), 3);
    s
}

#[test]
fn every_write_and_unlock_is_recorded_and_the_chain_verifies() {
    let t = populated();
    let mut s = unlock(&t);
    assert!(s.audit_problem().is_none());
    let names: Vec<&str> = s
        .audit_log(&AuditFilter::all())
        .unwrap()
        .iter()
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "vault_created",
            "key_added",
            "key_added",
            "key_added",
            "secret_revealed",
            "lock",
            "unlock"
        ]
    );
    let by_label = s.audit_log(&AuditFilter::for_label("planted")).unwrap();
    assert_eq!(by_label.len(), 2);
    assert_eq!(by_label[1].details_value()["proof"], "master_password");
    let report = s.verify_audit().unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.entries, 7);
}

#[test]
fn a_failed_unlock_is_chained_at_the_next_unlock() {
    let t = populated();
    let vault = Vault::open(&t.path()).unwrap();
    assert!(
        vault
            .unlock(&keyward_core::vault::MasterPassword::from("wrong"))
            .is_err()
    );
    let mut s = vault.unlock(&password()).unwrap();
    let failed = s
        .audit_log(&AuditFilter::all().with_actions([Action::UnlockFailed]))
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert!(s.verify_audit().unwrap().is_ok());
}

#[test]
fn a_modified_entry_is_reported_at_unlock() {
    let mut s = tampered(|c| {
        c.execute(
            "UPDATE audit_log SET key_label = 'someone-else' WHERE seq = 2",
            [],
        )
        .unwrap();
    });
    // Still broken now, not only at unlock.
    assert!(s.verify_audit().unwrap().problem.is_some());
}

#[test]
fn a_deleted_entry_is_reported_at_unlock() {
    let mut s = tampered(|c| {
        c.execute("DELETE FROM audit_log WHERE seq = 3", [])
            .unwrap();
    });
    assert!(s.verify_audit().unwrap().problem.is_some());
}

#[test]
fn reordered_entries_are_reported_at_unlock() {
    let mut s = tampered(|c| {
        // Take entries 2 and 3 out and put them back the other way round.
        c.execute_batch(
            "CREATE TEMP TABLE t AS SELECT * FROM audit_log WHERE seq IN (2, 3);
             DELETE FROM audit_log WHERE seq IN (2, 3);
             INSERT INTO audit_log (seq, time_ms, actor, action, key_id, key_label, details,
                 prev_mac, mac)
                 SELECT seq, time_ms, actor, action, key_id, key_label, details, prev_mac, mac
                 FROM t ORDER BY seq DESC;",
        )
        .unwrap();
    });
    assert!(s.verify_audit().unwrap().problem.is_some());
}

#[test]
fn a_truncated_log_is_reported_at_unlock() {
    tampered(|c| {
        c.execute(
            "DELETE FROM audit_log WHERE seq >= (SELECT max(seq) - 1 FROM audit_log)",
            [],
        )
        .unwrap();
    });
}

#[test]
fn a_deleted_log_with_a_cleared_head_is_reported() {
    tampered(|c| {
        c.execute_batch("DELETE FROM audit_log; UPDATE vault_meta SET audit_head = NULL;")
            .unwrap();
    });
}

#[test]
fn the_planted_secret_is_never_in_the_log_or_the_file() {
    let t = populated();
    let mut s = unlock(&t);
    let g = grant::<actions::Export>(&mut s);
    let out = t.dir.path().join("backup");
    s.export_backup(
        Actor::Cli,
        g,
        &out,
        &keyward_core::vault::BackupPassphrase::from("bp"),
    )
    .unwrap();
    let g = grant::<actions::DeleteKey>(&mut s);
    s.delete_key(Actor::Cli, g, "planted").unwrap();
    let json = serde_json::to_string(&s.audit_log(&AuditFilter::all()).unwrap()).unwrap();
    assert!(!json.contains(CANARY));
    assert!(json.contains("key_deleted"));
    s.lock();
    let conn = Connection::open(t.path()).unwrap();
    let mut stmt = conn
        .prepare("SELECT details || coalesce(key_label, '') || action FROM audit_log")
        .unwrap();
    for row in stmt.query_map([], |r| r.get::<_, String>(0)).unwrap() {
        assert!(!row.unwrap().contains(CANARY));
    }
    for entry in std::fs::read_dir(t.dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()),
            "canary found in a file"
        );
    }
}
