//! Rollback of single rows, on real files: an older copy of the vault is
//! taken with `VACUUM INTO`, the vault moves on, and rows of the older copy
//! are put back with plain SQL (`ATTACH`), as someone with write access to
//! the file could. The MFA record, the recovery codes and the settings put
//! back stop the unlock (integrity); an audit head put back is chained as a
//! finding; events written into `audit_pending` carry no authority. A
//! failed unlock and a refused step-up trip nothing, and a vault from
//! before the seal is sealed at its first unlock.

use std::path::{Path, PathBuf};
use std::time::Duration;

use keyward_core::audit::{Action, store::AuditFilter};
use keyward_core::error::{ErrorKind, KindedError};
use keyward_core::mfa::actions;
use keyward_core::mfa::{MfaError, Proof};
use keyward_core::vault::{Actor, Clock, ManualClock, MasterPassword, Session, Vault, VaultError};
use rusqlite::Connection;

use crate::vault::stepup::{Enrolled, options};
use crate::vault::support::{TempVault, password};

/// A consistent copy of the vault file as it is now (safe while a session
/// holds it open).
fn snapshot(path: &Path, name: &str) -> PathBuf {
    let old = path.with_file_name(name);
    let conn = Connection::open(path).unwrap();
    conn.execute("VACUUM INTO ?1", [old.to_str().unwrap()])
        .unwrap();
    old
}

/// Runs `sql` on the vault with the older copy attached as `old`.
fn put_back(path: &Path, old: &Path, sql: &str) {
    let conn = Connection::open(path).unwrap();
    conn.execute("ATTACH DATABASE ?1 AS old", [old.to_str().unwrap()])
        .unwrap();
    conn.execute_batch(sql).unwrap();
}

const MFA_ROW: &str = "DELETE FROM main.mfa; INSERT INTO main.mfa SELECT * FROM old.mfa;";
const RECOVERY_ROWS: &str = "DELETE FROM main.mfa_recovery_codes;
     INSERT INTO main.mfa_recovery_codes SELECT * FROM old.mfa_recovery_codes;";
const SETTINGS: &str =
    "UPDATE main.vault_meta SET settings = (SELECT settings FROM old.vault_meta WHERE id = 1);";

fn rolled_back(r: Result<Session, VaultError>) -> &'static str {
    match r {
        Err(e @ VaultError::RolledBack { what }) => {
            assert_eq!(e.kind(), ErrorKind::Integrity);
            what
        }
        Err(other) => panic!("expected a rollback, got {other:?}"),
        Ok(_) => panic!("expected a rollback, the vault unlocked"),
    }
}

fn unlock(e: &Enrolled) -> Result<Session, VaultError> {
    unlock_at(&e.t, &e.clock)
}

fn unlock_at(t: &TempVault, clock: &ManualClock) -> Result<Session, VaultError> {
    Vault::open_with(&t.path(), options(clock))
        .unwrap()
        .unlock(&password())
}

/// Five wrong codes: step-up is locked out.
fn lock_out(e: &mut Enrolled) {
    let code = e.fresh();
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    for _ in 0..5 {
        let _ =
            e.s.step_up::<actions::RevealSecret>(Actor::Cli, Some(Proof::totp(wrong.as_str())));
    }
    assert!(e.s.mfa_status().unwrap().locked_until.is_some());
}

#[test]
fn rolled_back_mfa_row_is_detected_at_unlock() {
    let mut e = Enrolled::new();
    let old = snapshot(&e.t.path(), "before-lockout");
    lock_out(&mut e);
    let path = e.t.path();
    // Control: the locked-out vault opens, and is still locked out.
    let mut s = unlock(&e).unwrap();
    assert!(s.mfa_status().unwrap().locked_until.is_some());
    s.lock();
    // Lifting the lockout by putting the older MFA row back.
    put_back(&path, &old, MFA_ROW);
    assert_eq!(rolled_back(unlock(&e)), "the MFA state");
    // Nothing was written by the refused unlock: it stays refused.
    assert_eq!(rolled_back(unlock(&e)), "the MFA state");
}

#[test]
fn revived_recovery_code_is_detected_at_unlock() {
    let mut e = Enrolled::new();
    let old = snapshot(&e.t.path(), "before-spending");
    let code = e.recovery[0].clone();
    let g =
        e.s.step_up::<actions::DeleteKey>(Actor::Cli, Some(Proof::recovery_code(code.as_str())))
            .unwrap();
    e.s.delete_key(Actor::Cli, g, "bin").unwrap();
    let path = e.t.path();
    // The recovery-code rows alone, then with the MFA row that matches them.
    put_back(&path, &old, RECOVERY_ROWS);
    assert_eq!(rolled_back(unlock(&e)), "the MFA state");
    put_back(&path, &old, MFA_ROW);
    assert_eq!(rolled_back(unlock(&e)), "the MFA state");
}

#[test]
fn rolled_back_settings_blob_is_detected_at_unlock() {
    // Before MFA was enrolled the settings said "not enrolled": with that
    // blob back and the MFA rows gone, MFA would be off.
    let t = TempVault::new();
    let clock =
        ManualClock::new(std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_010));
    let mut s = t.create_with(options(&clock));
    let old = snapshot(&t.path(), "before-mfa");
    let g = crate::vault::support::grant::<actions::SecuritySettings>(&mut s);
    let enrolment = s.mfa_enrol(Actor::Cli, g).unwrap();
    let seed = keyward_core::mfa::TotpSeed::from_base32(enrolment.expose_secret_base32()).unwrap();
    s.mfa_confirm(Actor::Cli, &seed.code_at(clock.now()))
        .unwrap();
    s.lock();
    let open = || {
        Vault::open_with(&t.path(), options(&clock))
            .unwrap()
            .unlock(&password())
    };
    put_back(&t.path(), &old, SETTINGS);
    assert_eq!(rolled_back(open()), "the sealed settings");
    put_back(
        &t.path(),
        &old,
        "DELETE FROM main.mfa; DELETE FROM main.mfa_recovery_codes;",
    );
    assert_eq!(rolled_back(open()), "the sealed settings");
}

#[test]
fn rolled_back_audit_head_hiding_entries_is_reported_at_unlock() {
    let t = TempVault::new();
    let mut s = t.create();
    s.add_key(Actor::Cli, crate::vault::support::binance("a"))
        .unwrap();
    let old = snapshot(&t.path(), "before-reveal");
    let g = crate::vault::support::grant::<actions::RevealSecret>(&mut s);
    s.reveal(Actor::Cli, g, "a").unwrap();
    s.lock();
    // Hide the reveal: the older sealed head, and the log cut to match it.
    put_back(
        &t.path(),
        &old,
        "UPDATE main.vault_meta SET audit_head = (SELECT audit_head FROM old.vault_meta);
         DELETE FROM main.audit_log WHERE seq > (SELECT max(seq) FROM old.audit_log);",
    );
    let mut s = Vault::open(&t.path()).unwrap().unlock(&password()).unwrap();
    let problem = s.audit_problem().cloned().expect("a finding at unlock");
    assert!(problem.finding.contains("put back"), "{}", problem.finding);
    let report = s.verify_audit().unwrap();
    assert!(!report.is_ok());
    let findings = s
        .audit_log(&AuditFilter::all().with_actions([Action::AuditIntegrityFailed]))
        .unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].seq, problem.recorded_as);
}

#[test]
fn rolled_back_lockout_while_unlocked_is_refused_before_the_next_write() {
    let mut e = Enrolled::new();
    let old = snapshot(&e.t.path(), "before-lockout");
    lock_out(&mut e);
    // Someone with the file lifts the lockout under the open session.
    put_back(&e.t.path(), &old, MFA_ROW);
    let code = e.fresh();
    assert!(matches!(
        e.s.step_up::<actions::RevealSecret>(Actor::Cli, Some(Proof::totp(code.as_str()))),
        Err(VaultError::RolledBack {
            what: "the MFA state"
        })
    ));
    // And the lock entry does not seal it over either.
    let Enrolled { t, clock, s, .. } = e;
    s.lock();
    assert_eq!(rolled_back(unlock_at(&t, &clock)), "the MFA state");
}

#[test]
fn failed_unlocks_and_refused_step_ups_do_not_trip_the_seal() {
    let mut e = Enrolled::new();
    let code = e.fresh();
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    assert!(matches!(
        e.s.step_up::<actions::RevealSecret>(Actor::Cli, Some(Proof::totp(wrong.as_str()))),
        Err(VaultError::Mfa(MfaError::InvalidCode))
    ));
    // An accepted code writes no audit entry of its own, only the record.
    let _grant =
        e.s.step_up::<actions::RevealSecret>(Actor::Cli, Some(Proof::totp(code.as_str())))
            .unwrap();
    let Enrolled { t, clock, s, .. } = e;
    s.lock();
    let vault = Vault::open_with(&t.path(), options(&clock)).unwrap();
    assert!(matches!(
        vault.unlock(&MasterPassword::from("wrong password")),
        Err(VaultError::WrongPassword)
    ));
    let mut s = vault.unlock(&password()).unwrap();
    assert!(s.audit_problem().is_none());
    assert!(s.verify_audit().unwrap().is_ok());
    assert_eq!(s.mfa_status().unwrap().consecutive_failures, 0);
    let failed = s
        .audit_log(&AuditFilter::all().with_actions([Action::UnlockFailed, Action::StepUpFailed]))
        .unwrap();
    assert_eq!(failed.len(), 2);
}

#[test]
fn forged_pending_export_row_is_refused() {
    let t = TempVault::new();
    let s = t.create();
    s.lock();
    let conn = Connection::open(t.path()).unwrap();
    conn.execute_batch(
        "INSERT INTO audit_pending (time_ms, actor, action, details) VALUES
            (1, 'cli', 'export', '{\"keys\":1}'),
            (4102444800000, 'gui', 'mfa_disabled', '{}');",
    )
    .unwrap();
    drop(conn);
    let mut s = Vault::open(&t.path()).unwrap().unlock(&password()).unwrap();
    let forged = s
        .audit_log(&AuditFilter::all().with_actions([Action::Export, Action::MfaDisabled]))
        .unwrap();
    assert!(forged.is_empty(), "{forged:?}");
    let findings = s
        .audit_log(&AuditFilter::all().with_actions([Action::AuditIntegrityFailed]))
        .unwrap();
    let claimed: Vec<String> = findings
        .iter()
        .map(|e| e.details_value()["claimed"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(claimed, ["export", "mfa_disabled"]);
    // Reported like any other audit finding (banner, `log --verify`).
    let problem = s.audit_problem().expect("reported");
    assert_eq!(problem.recorded_as, findings[0].seq);
    // Times clamped: not before the creation, not after the unlock.
    let all = s.audit_log(&AuditFilter::all()).unwrap();
    let unlock_time = all.last().unwrap().time_ms;
    assert!(findings[0].time_ms >= all[0].time_ms);
    assert!(findings[1].time_ms <= unlock_time);
}

#[test]
fn a_vault_from_before_the_seal_is_sealed_at_its_first_unlock() {
    let t = TempVault::new();
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden-v1.keyward");
    std::fs::copy(&golden, t.path()).unwrap();
    let pw = MasterPassword::from("golden vault password v1");
    let mut s = Vault::open(&t.path()).unwrap().unlock(&pw).unwrap();
    assert!(s.audit_problem().is_none());
    let sealed = s
        .audit_log(&AuditFilter::all().with_actions([Action::StateSealed]))
        .unwrap();
    assert_eq!(sealed.len(), 1);
    s.add_key(Actor::Cli, crate::vault::support::binance("after"))
        .unwrap();
    s.lock();
    let s = Vault::open(&t.path()).unwrap().unlock(&pw).unwrap();
    assert!(s.audit_problem().is_none());
    s.lock();
    // The settings blob of the original file (no seal in it) put back.
    put_back(&t.path(), &golden, SETTINGS);
    assert_eq!(
        rolled_back(Vault::open(&t.path()).unwrap().unlock(&pw)),
        "the sealed settings"
    );
}
