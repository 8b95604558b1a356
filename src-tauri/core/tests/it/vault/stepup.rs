//! Step-up through the vault on real files, with an injected clock: every
//! gated action refuses a missing, wrong, replayed or throttled proof and
//! accepts a fresh one; recovery codes work once; counters survive
//! reopening the file.

use std::time::{Duration, SystemTime};

use keyward_core::mfa::actions;
use keyward_core::mfa::{GatedAction, MfaError, OneTimeCode, Proof, ProofMethod, TotpSeed};
use keyward_core::vault::{
    Actor, BackupPassphrase, Clock, ManualClock, Session, Settings, Vault, VaultError, VaultOptions,
};

use crate::vault::support::{TempVault, binance, grant, okx, password};

const T0: u64 = 1_700_000_010;

pub fn options(clock: &ManualClock) -> VaultOptions {
    VaultOptions::with_clock(clock.clone())
}

pub struct Enrolled {
    pub t: TempVault,
    pub clock: ManualClock,
    pub s: Session,
    pub seed: TotpSeed,
    pub recovery: Vec<String>,
}

impl Enrolled {
    /// A vault with two keys and confirmed MFA.
    pub fn new() -> Enrolled {
        let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(T0));
        let t = TempVault::new();
        let mut s = t.create_with(options(&clock));
        s.add_key(Actor::Cli, okx("okx")).unwrap();
        s.add_key(Actor::Cli, binance("bin")).unwrap();
        let g = grant::<actions::SecuritySettings>(&mut s);
        let e = s.mfa_enrol(Actor::Cli, g).unwrap();
        let seed = TotpSeed::from_base32(e.expose_secret_base32()).unwrap();
        let recovery = e
            .recovery_codes()
            .iter()
            .map(|c| c.expose_secret().to_owned())
            .collect();
        // Pending only: the gate still wants the password.
        assert!(s.mfa_status().unwrap().pending);
        s.mfa_confirm(Actor::Cli, &seed.code_at(clock.now()))
            .unwrap();
        assert!(s.mfa_status().unwrap().enrolled);
        Enrolled {
            t,
            clock,
            s,
            seed,
            recovery,
        }
    }

    /// The code of the next time step (advances the clock by one step).
    pub fn fresh(&self) -> String {
        self.clock.advance(Duration::from_secs(30));
        self.seed
            .code_at(self.clock.now())
            .expose_secret()
            .to_owned()
    }

    pub fn reopen(&mut self) {
        let vault = Vault::open_with(&self.t.path(), options(&self.clock)).unwrap();
        self.s = vault.unlock(&password()).unwrap();
    }
}

fn wrong(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

fn mfa_err(r: Result<impl Sized, VaultError>) -> MfaError {
    match r {
        Err(VaultError::Mfa(e)) => e,
        Err(other) => panic!("expected an MFA error, got {other:?}"),
        Ok(_) => panic!("expected an MFA error, got success"),
    }
}

/// Runs the gated operation `action` with `proof`.
fn attempt(e: &mut Enrolled, action: GatedAction, proof: Option<Proof>) -> Result<(), VaultError> {
    let s = &mut e.s;
    match action {
        GatedAction::RevealSecret | GatedAction::CopySecret => {
            let r = if action == GatedAction::CopySecret {
                let g = s.step_up::<actions::CopySecret>(Actor::Cli, proof)?;
                s.reveal(Actor::Cli, g, "okx")?
            } else {
                let g = s.step_up::<actions::RevealSecret>(Actor::Cli, proof)?;
                s.reveal(Actor::Cli, g, "okx")?
            };
            assert_eq!(r.secret.expose(), "okx-secret");
            assert_eq!(r.passphrase.unwrap().expose(), "okx-passphrase");
        }
        GatedAction::DeleteKey => {
            let g = s.step_up::<actions::DeleteKey>(Actor::Cli, proof)?;
            s.delete_key(Actor::Cli, g, "bin")?;
        }
        GatedAction::Export => {
            let g = s.step_up::<actions::Export>(Actor::Cli, proof)?;
            let out = e.t.dir.path().join(format!("b-{}", e.clock.now_secs()));
            s.export_backup(Actor::Cli, g, &out, &BackupPassphrase::from("bp"))?;
        }
        GatedAction::ChangePassword => {
            let g = s.step_up::<actions::ChangePassword>(Actor::Cli, proof)?;
            s.change_password(Actor::Cli, g, &password(), &password())?
        }
        GatedAction::SecuritySettings => {
            let g = s.step_up::<actions::SecuritySettings>(Actor::Cli, proof)?;
            s.set_settings(
                Actor::Cli,
                g,
                Settings {
                    auto_lock_minutes: 7,
                    ..Settings::default()
                },
            )?;
        }
        GatedAction::AllowRun => {
            let g = s.step_up::<actions::AllowRun>(Actor::Cli, proof)?;
            s.set_allow_run(Actor::Cli, g, "okx", true)?;
        }
        GatedAction::EditCredentials => {
            let g = s.step_up::<actions::EditCredentials>(Actor::Cli, proof)?;
            s.edit_key(
                Actor::Cli,
                "okx",
                keyward_core::model::KeyEdit {
                    environment: Some(keyward_core::model::Environment::Custom(
                        "http://127.0.0.1:9".into(),
                    )),
                    ..Default::default()
                },
                Some(g),
            )?;
        }
        GatedAction::DisableMfa => {
            let g = s.step_up::<actions::DisableMfa>(Actor::Cli, proof)?;
            s.mfa_disable(Actor::Cli, g)?;
        }
        GatedAction::ReenrolMfa => {
            let g = s.step_up::<actions::ReenrolMfa>(Actor::Cli, proof)?;
            s.mfa_reenrol(Actor::Cli, g)?;
        }
        other => panic!("no operation for {other}"),
    }
    Ok(())
}

const ACTIONS: [GatedAction; 10] = [
    GatedAction::RevealSecret,
    GatedAction::CopySecret,
    GatedAction::DeleteKey,
    GatedAction::Export,
    GatedAction::ChangePassword,
    GatedAction::SecuritySettings,
    GatedAction::AllowRun,
    GatedAction::EditCredentials,
    GatedAction::DisableMfa,
    GatedAction::ReenrolMfa,
];

trait NowSecs {
    fn now_secs(&self) -> u64;
}

impl NowSecs for ManualClock {
    fn now_secs(&self) -> u64 {
        use keyward_core::vault::Clock;
        self.now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }
}

#[test]
fn every_gated_action_refuses_missing_wrong_replayed_and_throttled_proofs() {
    for action in ACTIONS {
        let mut e = Enrolled::new();
        // No proof.
        assert!(
            matches!(
                mfa_err(attempt(&mut e, action, None)),
                MfaError::StepUpRequired { .. }
            ),
            "{action}"
        );
        // The master password no longer counts once MFA is on.
        let pw = Proof::MasterPassword(e.s.verify_password(&password()).unwrap());
        assert!(matches!(
            mfa_err(attempt(&mut e, action, Some(pw))),
            MfaError::StepUpRequired { .. }
        ));
        // A wrong code.
        let code = e.fresh();
        assert!(
            matches!(
                mfa_err(attempt(&mut e, action, Some(Proof::totp(wrong(&code))))),
                MfaError::InvalidCode
            ),
            "{action}"
        );
        // A fresh code works.
        attempt(&mut e, action, Some(Proof::totp(code.as_str())))
            .unwrap_or_else(|err| panic!("{action}: {err}"));
        if action == GatedAction::DisableMfa {
            // MFA is off now: the rest of this sequence needs it on.
            continue;
        }
        // The same code again is a replay.
        assert!(
            matches!(
                mfa_err(attempt(&mut e, action, Some(Proof::totp(code.as_str())))),
                MfaError::ReplayedCode
            ),
            "{action}"
        );
        // Five wrong codes lock step-up; then even a right code is refused.
        let next = e.fresh();
        for i in 0..5 {
            let err = mfa_err(attempt(&mut e, action, Some(Proof::totp(wrong(&next)))));
            if i < 4 {
                assert!(matches!(err, MfaError::InvalidCode), "{action} {i}");
            } else {
                assert!(matches!(err, MfaError::Throttled { .. }), "{action}");
            }
        }
        let right = e.fresh();
        assert!(matches!(
            mfa_err(attempt(&mut e, action, Some(Proof::totp(right.as_str())))),
            MfaError::Throttled { .. }
        ));
    }
}

#[test]
fn lockout_and_replay_counters_survive_reopening_the_file() {
    let mut e = Enrolled::new();
    let used = e.fresh();
    let _grant =
        e.s.step_up::<actions::RevealSecret>(Actor::Cli, Some(Proof::totp(used.as_str())))
            .unwrap();
    e.reopen();
    // The replay counter is persisted.
    assert!(matches!(
        mfa_err(e.s.step_up::<actions::RevealSecret>(Actor::Cli, Some(Proof::totp(used.as_str())))),
        MfaError::ReplayedCode
    ));
    let next = e.fresh();
    for _ in 0..4 {
        let _ =
            e.s.step_up::<actions::RevealSecret>(Actor::Cli, Some(Proof::totp(wrong(&next))));
    }
    e.reopen();
    assert_eq!(e.s.mfa_status().unwrap().consecutive_failures, 4);
    let _ =
        e.s.step_up::<actions::RevealSecret>(Actor::Cli, Some(Proof::totp(wrong(&next))));
    e.reopen();
    let right = e.fresh();
    assert!(matches!(
        mfa_err(
            e.s.step_up::<actions::RevealSecret>(Actor::Cli, Some(Proof::totp(right.as_str())))
        ),
        MfaError::Throttled { .. }
    ));
    // After the lockout (5 minutes) a fresh code works again.
    e.clock.advance(Duration::from_secs(301));
    // (The session auto-locked meanwhile: unlock again.)
    e.reopen();
    let right = e.fresh();
    let g =
        e.s.step_up::<actions::RevealSecret>(Actor::Cli, Some(Proof::totp(right.as_str())))
            .unwrap();
    assert_eq!(g.method(), ProofMethod::Totp);
}

#[test]
fn a_recovery_code_works_once() {
    let mut e = Enrolled::new();
    let code = e.recovery[3].clone();
    let g =
        e.s.step_up::<actions::DeleteKey>(Actor::Cli, Some(Proof::recovery_code(code.as_str())))
            .unwrap();
    assert_eq!(g.method(), ProofMethod::RecoveryCode);
    e.s.delete_key(Actor::Cli, g, "bin").unwrap();
    assert_eq!(e.s.mfa_status().unwrap().recovery_codes_left, 9);
    e.reopen();
    assert!(matches!(
        mfa_err(
            e.s.step_up::<actions::DeleteKey>(
                Actor::Cli,
                Some(Proof::recovery_code(code.as_str()))
            )
        ),
        MfaError::RecoveryCodeUsed
    ));
}

#[test]
fn before_enrolment_the_password_is_the_proof_and_codes_are_refused() {
    let t = TempVault::new();
    let mut s = t.create();
    s.add_key(Actor::Cli, binance("k")).unwrap();
    assert!(matches!(
        mfa_err(s.step_up::<actions::RevealSecret>(Actor::Cli, None)),
        MfaError::StepUpRequired { .. }
    ));
    assert!(matches!(
        mfa_err(s.step_up::<actions::RevealSecret>(Actor::Cli, Some(Proof::totp("123456")))),
        MfaError::NotEnrolled
    ));
    assert!(matches!(
        s.verify_password(&keyward_core::vault::MasterPassword::from("nope")),
        Err(VaultError::WrongPassword)
    ));
    let g = grant::<actions::RevealSecret>(&mut s);
    assert_eq!(g.method(), ProofMethod::MasterPassword);
    assert_eq!(
        s.reveal(Actor::Cli, g, "k").unwrap().secret.expose(),
        "binance-secret"
    );
    // Allow-run is stored and shown.
    let g = grant::<actions::AllowRun>(&mut s);
    s.set_allow_run(Actor::Cli, g, "k", true).unwrap();
    assert!(s.key_detail("k").unwrap().allow_run);
    assert_eq!(
        s.run_secrets(Actor::Cli, "k").unwrap().secret.expose(),
        "binance-secret"
    );
    s.deny_run(Actor::Cli, "k").unwrap();
    assert!(!s.key_detail("k").unwrap().allow_run);
    assert!(matches!(
        mfa_err(s.run_secrets(Actor::Cli, "k")),
        MfaError::StepUpRequired { .. }
    ));
}

#[test]
fn a_wrong_confirmation_code_leaves_mfa_pending() {
    let t = TempVault::new();
    let mut s = t.create();
    let g = grant::<actions::SecuritySettings>(&mut s);
    let e = s.mfa_enrol(Actor::Cli, g).unwrap();
    let seed = TotpSeed::from_base32(e.expose_secret_base32()).unwrap();
    let code = seed.code_at(SystemTime::now());
    let bad = OneTimeCode::new(wrong(code.expose_secret()));
    assert!(matches!(
        mfa_err(s.mfa_confirm(Actor::Cli, &bad)),
        MfaError::InvalidCode
    ));
    let st = s.mfa_status().unwrap();
    assert!(st.pending && !st.enrolled);
    assert_eq!(st.consecutive_failures, 1);
}

#[test]
fn deleting_the_mfa_row_does_not_switch_mfa_off() {
    let e = Enrolled::new();
    let path = e.t.path();
    e.s.lock();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("DELETE FROM mfa; DELETE FROM mfa_recovery_codes;")
        .unwrap();
    drop(conn);
    let vault = Vault::open_with(&path, options(&e.clock)).unwrap();
    // The rows no longer match the state seal: the unlock itself is
    // refused, before the gate could fall back to the master password.
    assert!(matches!(
        vault.unlock(&password()),
        Err(VaultError::RolledBack {
            what: "the MFA state"
        })
    ));
}
