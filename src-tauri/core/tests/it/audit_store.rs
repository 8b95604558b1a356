//! The audit log in SQLite: appends share the caller's transaction, reads
//! filter, and verification catches tampering done with plain SQL on the
//! file.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keyward_core::audit::store::{self, AuditFilter};
use keyward_core::audit::{Action, Actor, AuditError, AuditKey, ChainHead, Details, NewEvent};
use rusqlite::Connection;

fn db() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(store::SCHEMA).unwrap();
    conn
}

fn key() -> AuditKey {
    AuditKey::derive(&[0x33; 32])
}

fn t(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_750_000_000 + secs)
}

/// Appends `n` events, one transaction each, as the vault's write path
/// does; returns the head it would have sealed.
fn fill(conn: &mut Connection, n: u64) -> ChainHead {
    let key = key();
    let mut head = ChainHead::GENESIS;
    for i in 1..=n {
        let tx = conn.transaction().unwrap();
        let action = if i % 3 == 0 {
            Action::SecretRevealed
        } else {
            Action::KeyEdited
        };
        let key_id = format!("key-{}", i % 2);
        let event = NewEvent::new(Actor::Gui, action, t(i))
            .with_key(key_id.clone(), format!("label {key_id}"))
            .with_details(Details::new().with("i", i));
        head = store::append(&tx, &key, event).unwrap().head();
        tx.commit().unwrap();
    }
    head
}

#[test]
fn append_read_and_verify() {
    let mut conn = db();
    let head = fill(&mut conn, 6);
    assert_eq!(head.seq, 6);
    assert_eq!(store::last_head(&conn).unwrap(), head);
    store::verify(&conn, &key(), &head).unwrap();

    let all = store::read(&conn, &AuditFilter::all()).unwrap();
    assert_eq!(
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    keyward_core::audit::verify_chain(&all, &key(), &head).unwrap();

    let for_key = store::read(&conn, &AuditFilter::for_key("key-1")).unwrap();
    assert_eq!(for_key.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 3, 5]);

    let reveals = store::read(
        &conn,
        &AuditFilter::all().with_actions([Action::SecretRevealed]),
    )
    .unwrap();
    assert_eq!(reveals.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 6]);

    let newest = store::read(&conn, &AuditFilter::all().with_limit(2)).unwrap();
    assert_eq!(newest.iter().map(|e| e.seq).collect::<Vec<_>>(), [5, 6]);

    let window = store::read(
        &conn,
        &AuditFilter::all().between(Some(keyward_ms(t(2))), Some(keyward_ms(t(4)))),
    )
    .unwrap();
    assert_eq!(window.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
}

fn keyward_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

#[test]
fn a_rolled_back_transaction_leaves_no_entry() {
    let mut conn = db();
    let head = fill(&mut conn, 2);
    {
        let tx = conn.transaction().unwrap();
        store::append(
            &tx,
            &key(),
            NewEvent::new(Actor::Cli, Action::KeyDeleted, t(10)),
        )
        .unwrap();
        // The change failed: dropped without commit.
    }
    assert_eq!(store::last_head(&conn).unwrap(), head);
    store::verify(&conn, &key(), &head).unwrap();
}

#[test]
fn sql_modification_is_caught() {
    let mut conn = db();
    let head = fill(&mut conn, 5);
    conn.execute(
        "UPDATE audit_log SET key_label = 'innocent' WHERE seq = 3",
        [],
    )
    .unwrap();
    assert!(matches!(
        store::verify(&conn, &key(), &head),
        Err(AuditError::Modified { seq: 3 })
    ));
}

#[test]
fn sql_deletion_is_caught() {
    let mut conn = db();
    let head = fill(&mut conn, 5);
    conn.execute("DELETE FROM audit_log WHERE seq = 2", [])
        .unwrap();
    assert!(matches!(
        store::verify(&conn, &key(), &head),
        Err(AuditError::Deleted {
            first_missing: 2,
            last_missing: 2
        })
    ));
}

#[test]
fn sql_reordering_is_caught() {
    let mut conn = db();
    let head = fill(&mut conn, 5);
    // Take entry 2 out and put it back: it is now stored after entry 5.
    conn.execute_batch(
        "CREATE TEMP TABLE moved AS SELECT * FROM audit_log WHERE seq = 2;
         DELETE FROM audit_log WHERE seq = 2;
         INSERT INTO audit_log (seq, time_ms, actor, action, key_id, key_label, details, prev_mac, mac)
             SELECT seq, time_ms, actor, action, key_id, key_label, details, prev_mac, mac FROM moved;",
    )
    .unwrap();
    assert!(matches!(
        store::verify(&conn, &key(), &head),
        Err(AuditError::Reordered { seq: 2 })
    ));
}

#[test]
fn sql_truncation_is_caught() {
    let mut conn = db();
    let head = fill(&mut conn, 5);
    conn.execute("DELETE FROM audit_log WHERE seq > 3", [])
        .unwrap();
    assert!(matches!(
        store::verify(&conn, &key(), &head),
        Err(AuditError::Truncated {
            sealed_seq: 5,
            last_seq: 3
        })
    ));
}

#[test]
fn unreadable_rows_are_integrity_failures() {
    let mut conn = db();
    let head = fill(&mut conn, 3);
    conn.execute("UPDATE audit_log SET action = 'bogus' WHERE seq = 2", [])
        .unwrap();
    assert!(matches!(
        store::verify(&conn, &key(), &head),
        Err(AuditError::Corrupt { seq: 2, .. })
    ));
    let mut conn = db();
    let head = fill(&mut conn, 3);
    conn.execute("UPDATE audit_log SET mac = x'00' WHERE seq = 1", [])
        .unwrap();
    assert!(matches!(
        store::verify(&conn, &key(), &head),
        Err(AuditError::Corrupt { seq: 1, .. })
    ));
}

#[test]
fn events_recorded_while_locked_join_the_chain_at_unlock() {
    let mut conn = db();
    let head = fill(&mut conn, 2);
    for (i, method) in ["password", "device"].into_iter().enumerate() {
        store::record_failed_unlock(&conn, Actor::Cli, method, t(100 + i as u64)).unwrap();
    }
    // Not in the chain yet; the chain is still intact.
    store::verify(&conn, &key(), &head).unwrap();

    let tx = conn.transaction().unwrap();
    let absorbed = store::absorb_pending(&tx, &key(), t(200)).unwrap();
    let unlock = store::append(
        &tx,
        &key(),
        NewEvent::new(Actor::Gui, Action::Unlock, t(200)),
    )
    .unwrap();
    tx.commit().unwrap();

    assert_eq!(absorbed.len(), 2);
    assert!(absorbed.iter().all(|e| e.action == Action::UnlockFailed));
    assert_eq!(absorbed[0].seq, 3);
    assert_eq!(absorbed[0].details_value()["recorded_while_locked"], true);
    assert_eq!(absorbed[0].details_value()["method"], "password");
    assert_eq!(absorbed[1].details_value()["method"], "device");
    // Their own times: both lie between the last entry and now.
    assert_eq!(absorbed[0].time_ms, 1_750_000_100_000);
    assert_eq!(unlock.seq, 5);
    store::verify(&conn, &key(), &unlock.head()).unwrap();
    let left: i64 = conn
        .query_row("SELECT count(*) FROM audit_pending", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
}

#[test]
fn oversized_details_are_refused_before_anything_is_written() {
    let mut conn = db();
    let head = fill(&mut conn, 1);
    let tx = conn.transaction().unwrap();
    let event = NewEvent::new(Actor::Cli, Action::Import, t(5))
        .with_details(Details::new().with("blob", "x".repeat(10_000)));
    assert!(matches!(
        store::append(&tx, &key(), event),
        Err(AuditError::DetailsTooLarge { .. })
    ));
    tx.commit().unwrap();
    assert_eq!(store::last_head(&conn).unwrap(), head);
}

#[test]
fn two_appends_in_one_transaction_chain_correctly() {
    let mut conn = db();
    let tx = conn.transaction().unwrap();
    let a = store::append(&tx, &key(), NewEvent::new(Actor::Cli, Action::Import, t(1))).unwrap();
    let b = store::append(
        &tx,
        &key(),
        NewEvent::new(Actor::Cli, Action::KeyAdded, t(1)),
    )
    .unwrap();
    tx.commit().unwrap();
    assert_eq!(b.prev_mac, a.mac);
    store::verify(&conn, &key(), &b.head()).unwrap();
}

#[test]
fn junk_recorded_while_locked_does_not_block_unlock() {
    let mut conn = db();
    fill(&mut conn, 1);
    conn.execute(
        "INSERT INTO audit_pending (time_ms, actor, action, details) VALUES (1, 'cli', 'no_such_action', '{}'),
                                                                          (2, 'cli', 'unlock_failed', 'not json'),
                                                                          (3, 'cli', 'unlock_failed', '{\"password\":\"x\"}')",
        [],
    )
    .unwrap();
    let tx = conn.transaction().unwrap();
    let absorbed = store::absorb_pending(&tx, &key(), t(10)).unwrap();
    tx.commit().unwrap();
    assert_eq!(absorbed.len(), 3);
    for e in &absorbed {
        assert_eq!(e.action, Action::AuditIntegrityFailed);
        assert_eq!(e.actor, Actor::System);
        assert!(!e.details.contains("password"));
    }
    store::verify(&conn, &key(), &absorbed[2].head()).unwrap();
}

/// The pending table is unauthenticated: anyone who can write the file can
/// add rows. Only the fixed failed-unlock record is chained as what it
/// says; everything else becomes a finding naming what it claimed.
#[test]
fn forged_pending_rows_are_chained_as_findings_not_as_what_they_claim() {
    let mut conn = db();
    fill(&mut conn, 2);
    conn.execute_batch(
        "INSERT INTO audit_pending (time_ms, actor, action, details) VALUES
            (1750000100000, 'cli', 'export', '{\"keys\":3}'),
            (1750000100001, 'gui', 'mfa_disabled', '{}'),
            (1750000100002, 'system', 'unlock_failed', '{\"method\":\"password\"}'),
            (1750000100003, 'cli', 'unlock_failed', '{\"method\":\"password\",\"note\":\"x\"}'),
            (1750000100004, 'cli', 'unlock_failed', '{\"method\":\"sms\"}'),
            (1750000100005, 'cli', 'unlock_failed', '{\"method\":\"password\"}');",
    )
    .unwrap();
    let tx = conn.transaction().unwrap();
    let absorbed = store::absorb_pending(&tx, &key(), t(200)).unwrap();
    tx.commit().unwrap();
    let actions: Vec<Action> = absorbed.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [
            Action::AuditIntegrityFailed,
            Action::AuditIntegrityFailed,
            Action::AuditIntegrityFailed,
            Action::AuditIntegrityFailed,
            Action::AuditIntegrityFailed,
            Action::UnlockFailed,
        ]
    );
    assert_eq!(absorbed[0].details_value()["claimed"], "export");
    assert_eq!(absorbed[1].details_value()["claimed"], "mfa_disabled");
    assert_eq!(
        absorbed[0].details_value()["finding"],
        store::REFUSED_PENDING
    );
    // Nothing the row said is kept but the claimed action's own name.
    assert!(!absorbed[0].details.contains("keys"));
    assert!(!absorbed[3].details.contains("note"));
    assert_eq!(absorbed[5].actor, Actor::Cli);
    let none = store::read(
        &conn,
        &AuditFilter::all().with_actions([Action::Export, Action::MfaDisabled]),
    )
    .unwrap();
    assert!(none.is_empty());
}

#[test]
fn a_pending_row_cannot_pose_as_older_than_the_log_or_from_the_future() {
    let mut conn = db();
    let head = fill(&mut conn, 3);
    let last = store::read(&conn, &AuditFilter::all()).unwrap()[2].time_ms;
    store::record_failed_unlock(
        &conn,
        Actor::Cli,
        "password",
        t(0) - Duration::from_secs(86_400),
    )
    .unwrap();
    store::record_failed_unlock(&conn, Actor::Gui, "password", t(10_000_000)).unwrap();
    let tx = conn.transaction().unwrap();
    let absorbed = store::absorb_pending(&tx, &key(), t(50)).unwrap();
    tx.commit().unwrap();
    assert_eq!(absorbed[0].time_ms, last, "clamped up to the last entry");
    assert_eq!(
        absorbed[1].time_ms, 1_750_000_050_000,
        "clamped down to now"
    );
    store::verify(&conn, &key(), &absorbed[1].head()).unwrap();
    assert_eq!(absorbed[0].seq, head.seq + 1);
}
