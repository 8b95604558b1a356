//! MFA state in SQLite: counters, lockout, replay step and spent recovery
//! codes survive a restart (store, drop, load), and edits to the row are
//! caught.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keyward_core::mfa::actions;
use keyward_core::mfa::store::{MfaRecord, SCHEMA};
use keyward_core::mfa::{MAX_FAILURES, MfaError, MfaKey, MfaKeys, Proof, RecoveryCode, TotpSeed};
use keyward_core::{ErrorKind, KindedError};
use rusqlite::Connection;

const T0: u64 = 1_760_000_005;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn db() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(SCHEMA).unwrap();
    conn
}

/// Stand-ins for the vault's sealing: the module treats sealed seeds as
/// opaque bytes, so any reversible transformation shows the plumbing.
fn seal(seed: &TotpSeed) -> Vec<u8> {
    let mut v = b"sealed:".to_vec();
    v.extend(seed.expose_secret().iter().map(|b| b ^ 0xa5));
    v
}

fn unseal(sealed: &[u8]) -> TotpSeed {
    let raw = sealed.strip_prefix(b"sealed:").unwrap();
    TotpSeed::from_bytes(raw.iter().map(|b| b ^ 0xa5).collect()).unwrap()
}

fn save(conn: &mut Connection, record: &MfaRecord, key: &MfaKey) {
    let tx = conn.transaction().unwrap();
    record.store(&tx, key).unwrap();
    tx.commit().unwrap();
}

/// Enrols and confirms through the record, storing after each step as the
/// vault would. Returns the recovery codes shown.
fn enrol(conn: &mut Connection, key: &MfaKey) -> Vec<String> {
    let mut record = MfaRecord::load(conn, key).unwrap();
    let enrolment = record.enrol("vault", key, at(T0)).unwrap();
    record
        .set_pending_sealed_seed(seal(enrolment.seed()))
        .unwrap();
    save(conn, &record, key);
    let codes = enrolment
        .recovery_codes()
        .iter()
        .map(|c| c.expose_secret().to_owned())
        .collect();
    drop(enrolment);

    let mut record = MfaRecord::load(conn, key).unwrap();
    assert!(record.state.is_pending());
    let seed = unseal(record.pending_sealed_seed().unwrap());
    record
        .confirm(&seed, &seed.code_at(at(T0)), at(T0))
        .unwrap();
    save(conn, &record, key);
    codes
}

/// One gate call the way a front end's request would make it: load, check,
/// store whatever the outcome.
fn step_up(
    conn: &mut Connection,
    key: &MfaKey,
    proof: impl FnOnce(&TotpSeed) -> Proof,
    now: u64,
) -> Result<(), MfaError> {
    let mut record = MfaRecord::load(conn, key).unwrap();
    let seed = record.active_sealed_seed().map(unseal);
    let keys = MfaKeys {
        seed: seed.as_ref(),
        key,
    };
    let proof = proof(seed.as_ref().unwrap());
    let result = record
        .state
        .require_step_up::<actions::RevealSecret>(&keys, Some(proof), at(now))
        .map(|_| ());
    save(conn, &record, key);
    result
}

#[test]
fn a_fresh_vault_has_no_mfa() {
    let conn = db();
    let record = MfaRecord::load(&conn, &MfaKey::derive(&[1; 32])).unwrap();
    assert!(!record.state.is_enrolled());
    assert!(record.active_sealed_seed().is_none());
}

#[test]
fn enrolment_and_confirmation_persist() {
    let mut conn = db();
    let key = MfaKey::derive(&[1; 32]);
    let codes = enrol(&mut conn, &key);
    assert_eq!(codes.len(), 10);
    let record = MfaRecord::load(&conn, &key).unwrap();
    assert!(record.state.is_enrolled());
    assert!(!record.state.is_pending());
    assert!(record.pending_sealed_seed().is_none());
    assert!(record.active_sealed_seed().unwrap().starts_with(b"sealed:"));
    assert_eq!(record.state.recovery_codes_left(), 10);
    // Only hashes are stored.
    let stored: Vec<Vec<u8>> = conn
        .prepare("SELECT hash FROM mfa_recovery_codes")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(stored.len(), 10);
    for code in &codes {
        let plain = code.replace('-', "");
        assert!(
            stored
                .iter()
                .all(|h| h.len() == 32 && !h.windows(plain.len()).any(|w| w == plain.as_bytes()))
        );
    }
}

#[test]
fn failure_counters_and_lockout_survive_a_restart() {
    let mut conn = db();
    let key = MfaKey::derive(&[2; 32]);
    enrol(&mut conn, &key);
    let now = T0 + 300;
    for i in 1..MAX_FAILURES {
        let r = step_up(&mut conn, &key, |_| Proof::totp("12345"), now);
        assert!(matches!(r, Err(MfaError::MalformedCode)), "#{i}");
    }
    // "Restart": a new key object, state only from the database.
    let key = MfaKey::derive(&[2; 32]);
    let record = MfaRecord::load(&conn, &key).unwrap();
    assert_eq!(record.state.consecutive_failures(), MAX_FAILURES - 1);
    assert!(matches!(
        step_up(&mut conn, &key, |_| Proof::totp("12345"), now),
        Err(MfaError::Throttled { .. })
    ));
    // Locked across the restart, even for a correct code.
    assert!(matches!(
        step_up(
            &mut conn,
            &key,
            |s| Proof::Totp(s.code_at(at(now + 60))),
            now + 60
        ),
        Err(MfaError::Throttled { .. })
    ));
    let record = MfaRecord::load(&conn, &key).unwrap();
    assert_eq!(record.state.lockout_count(), 1);
    assert!(record.state.is_throttled(at(now + 299)));
    assert!(!record.state.is_throttled(at(now + 300)));
}

#[test]
fn replay_protection_survives_a_restart() {
    let mut conn = db();
    let key = MfaKey::derive(&[3; 32]);
    enrol(&mut conn, &key);
    let now = T0 + 600;
    step_up(&mut conn, &key, |s| Proof::Totp(s.code_at(at(now))), now).unwrap();
    assert!(matches!(
        step_up(&mut conn, &key, |s| Proof::Totp(s.code_at(at(now))), now),
        Err(MfaError::ReplayedCode)
    ));
}

#[test]
fn spent_recovery_codes_stay_spent_after_a_restart() {
    let mut conn = db();
    let key = MfaKey::derive(&[4; 32]);
    let codes = enrol(&mut conn, &key);
    let now = T0 + 900;
    let c = codes[7].clone();
    step_up(
        &mut conn,
        &key,
        |_| Proof::RecoveryCode(RecoveryCode::new(c.as_str())),
        now,
    )
    .unwrap();
    let c = codes[7].clone();
    assert!(matches!(
        step_up(
            &mut conn,
            &key,
            |_| Proof::RecoveryCode(RecoveryCode::new(c.as_str())),
            now
        ),
        Err(MfaError::RecoveryCodeUsed)
    ));
    assert_eq!(
        MfaRecord::load(&conn, &key)
            .unwrap()
            .state
            .recovery_codes_left(),
        9
    );
}

#[test]
fn edited_counters_are_an_integrity_failure() {
    let mut conn = db();
    let key = MfaKey::derive(&[5; 32]);
    enrol(&mut conn, &key);
    let now = T0 + 300;
    for _ in 0..MAX_FAILURES {
        let _ = step_up(&mut conn, &key, |_| Proof::totp("12345"), now);
    }
    conn.execute(
        "UPDATE mfa SET locked_until = NULL, consecutive_failures = 0, lockout_count = 0",
        [],
    )
    .unwrap();
    let err = MfaRecord::load(&conn, &key).unwrap_err();
    assert!(matches!(err, MfaError::Corrupt { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Integrity);
}

#[test]
fn a_reset_recovery_code_is_an_integrity_failure() {
    let mut conn = db();
    let key = MfaKey::derive(&[6; 32]);
    let codes = enrol(&mut conn, &key);
    let c = codes[0].clone();
    step_up(
        &mut conn,
        &key,
        |_| Proof::RecoveryCode(RecoveryCode::new(c.as_str())),
        T0 + 60,
    )
    .unwrap();
    conn.execute("UPDATE mfa_recovery_codes SET used_at = NULL", [])
        .unwrap();
    assert!(matches!(
        MfaRecord::load(&conn, &key),
        Err(MfaError::Corrupt { .. })
    ));
}

#[test]
fn the_wrong_vault_key_cannot_read_the_record() {
    let mut conn = db();
    enrol(&mut conn, &MfaKey::derive(&[7; 32]));
    assert!(matches!(
        MfaRecord::load(&conn, &MfaKey::derive(&[8; 32])),
        Err(MfaError::Corrupt { .. })
    ));
}

#[test]
fn a_pending_enrolment_must_have_its_sealed_seed_before_storing() {
    let mut conn = db();
    let key = MfaKey::derive(&[9; 32]);
    let mut record = MfaRecord::load(&conn, &key).unwrap();
    let _enrolment = record.enrol("vault", &key, at(T0)).unwrap();
    let tx = conn.transaction().unwrap();
    assert!(matches!(
        record.store(&tx, &key),
        Err(MfaError::Corrupt { .. })
    ));
}

#[test]
fn disable_clears_seeds_and_codes() {
    let mut conn = db();
    let key = MfaKey::derive(&[10; 32]);
    enrol(&mut conn, &key);
    let now = T0 + 120;
    let mut record = MfaRecord::load(&conn, &key).unwrap();
    let seed = unseal(record.active_sealed_seed().unwrap());
    let keys = MfaKeys {
        seed: Some(&seed),
        key: &key,
    };
    let grant = record
        .state
        .require_step_up::<actions::DisableMfa>(
            &keys,
            Some(Proof::Totp(seed.code_at(at(now)))),
            at(now),
        )
        .unwrap();
    record.disable(grant).unwrap();
    save(&mut conn, &record, &key);
    let record = MfaRecord::load(&conn, &key).unwrap();
    assert!(!record.state.is_enrolled());
    assert!(record.active_sealed_seed().is_none());
    let n: i64 = conn
        .query_row("SELECT count(*) FROM mfa_recovery_codes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0);
}

#[test]
fn debug_of_a_record_hides_the_sealed_seed() {
    let mut conn = db();
    let key = MfaKey::derive(&[11; 32]);
    enrol(&mut conn, &key);
    let record = MfaRecord::load(&conn, &key).unwrap();
    let text = format!("{record:?}");
    assert!(text.contains("[SEALED]"));
    assert!(!text.contains("115, 101, 97")); // "sea" as bytes
}
