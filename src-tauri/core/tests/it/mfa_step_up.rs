//! The step-up gate, end to end through the public API: time window, replay,
//! throttling, recovery codes, every gated action, the GUI window, and
//! counters surviving a serialize/deserialize round trip.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keyward_core::mfa::actions;
use keyward_core::mfa::{
    BASE_LOCKOUT_SECS, GatedAction, MAX_FAILURES, MfaError, MfaKey, MfaKeys, MfaState, OneTimeCode,
    Proof, ProofMethod, RecoveryCode, StepUpWindow, TotpSeed,
};
use keyward_core::{ErrorKind, KindedError};

/// 10 s into a time step, so ±1 step stays within one step boundary.
const T0: u64 = 1_750_000_010;
const STEP: u64 = 30;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

struct Fixture {
    state: MfaState,
    seed: TotpSeed,
    key: MfaKey,
    recovery: Vec<String>,
}

impl Fixture {
    /// MFA enrolled and confirmed at `T0`.
    fn new() -> Self {
        let key = MfaKey::derive(&[42; 32]);
        let mut state = MfaState::new();
        let enrolment = state.enrol("trading", &key, at(T0)).unwrap();
        let seed = TotpSeed::from_bytes(enrolment.seed().expose_secret().to_vec()).unwrap();
        let recovery = enrolment
            .recovery_codes()
            .iter()
            .map(|c| c.expose_secret().to_owned())
            .collect();
        state.confirm(&seed, &seed.code_at(at(T0)), at(T0)).unwrap();
        Fixture {
            state,
            seed,
            key,
            recovery,
        }
    }

    /// The gate with a TOTP code for time `code_time`, checked at `now`.
    fn totp(&mut self, action: GatedAction, code_time: u64, now: u64) -> Result<(), MfaError> {
        let code = self.seed.code_at(at(code_time));
        let keys = MfaKeys {
            seed: Some(&self.seed),
            key: &self.key,
        };
        let state = &mut self.state;
        with_action!(action, |A| state
            .require_step_up::<A>(&keys, Some(Proof::Totp(code)), at(now))
            .map(|g| assert_eq!(g.action(), action)))
    }

    fn wrong(&mut self, now: u64) -> Result<(), MfaError> {
        // A code that is certainly not valid around `now`.
        let mut wrong = String::from("000000");
        for candidate in ["000000", "111111", "222222", "333333"] {
            let valid = [now - STEP, now, now + STEP]
                .iter()
                .any(|&t| self.seed.code_at(at(t)).expose_secret() == candidate);
            if !valid {
                wrong = candidate.to_owned();
                break;
            }
        }
        let keys = MfaKeys {
            seed: Some(&self.seed),
            key: &self.key,
        };
        self.state
            .require_step_up::<actions::RevealSecret>(&keys, Some(Proof::totp(wrong)), at(now))
            .map(|_| ())
    }

    fn recovery(&mut self, code: &str, now: u64) -> Result<ProofMethod, MfaError> {
        let keys = MfaKeys {
            seed: Some(&self.seed),
            key: &self.key,
        };
        self.state
            .require_step_up::<actions::RevealSecret>(
                &keys,
                Some(Proof::RecoveryCode(RecoveryCode::new(code))),
                at(now),
            )
            .map(|g| g.method())
    }
}

#[test]
fn accepts_current_previous_and_next_step() {
    let mut f = Fixture::new();
    let now = T0 + 10 * STEP;
    // Previous step, then current, then next: each later than the last.
    f.totp(GatedAction::RevealSecret, now - STEP, now).unwrap();
    f.totp(GatedAction::RevealSecret, now, now).unwrap();
    f.totp(GatedAction::RevealSecret, now + STEP, now).unwrap();
}

#[test]
fn rejects_two_steps_away() {
    let mut f = Fixture::new();
    let now = T0 + 10 * STEP;
    assert!(matches!(
        f.totp(GatedAction::RevealSecret, now - 2 * STEP, now),
        Err(MfaError::InvalidCode)
    ));
    assert!(matches!(
        f.totp(GatedAction::RevealSecret, now + 2 * STEP, now),
        Err(MfaError::InvalidCode)
    ));
}

#[test]
fn the_same_code_is_accepted_once() {
    let mut f = Fixture::new();
    let now = T0 + 10 * STEP;
    f.totp(GatedAction::RevealSecret, now, now).unwrap();
    assert!(matches!(
        f.totp(GatedAction::RevealSecret, now, now + 5),
        Err(MfaError::ReplayedCode)
    ));
    // Still a replay once time moved on and the code is in the -1 window.
    assert!(matches!(
        f.totp(GatedAction::DeleteKey, now, now + STEP),
        Err(MfaError::ReplayedCode)
    ));
    // The next step's code is fresh.
    f.totp(GatedAction::DeleteKey, now + STEP, now + STEP)
        .unwrap();
}

#[test]
fn a_code_older_than_the_last_accepted_step_is_a_replay() {
    let mut f = Fixture::new();
    let now = T0 + 10 * STEP;
    // Accept the "next" step's code first (clock skew), then an older valid
    // one: not later than the last accepted step, so refused.
    f.totp(GatedAction::RevealSecret, now + STEP, now).unwrap();
    assert!(matches!(
        f.totp(GatedAction::RevealSecret, now, now),
        Err(MfaError::ReplayedCode)
    ));
}

#[test]
fn replays_do_not_count_towards_the_lockout() {
    let mut f = Fixture::new();
    let now = T0 + 10 * STEP;
    f.totp(GatedAction::RevealSecret, now, now).unwrap();
    for _ in 0..10 {
        assert!(matches!(
            f.totp(GatedAction::RevealSecret, now, now),
            Err(MfaError::ReplayedCode)
        ));
    }
    assert_eq!(f.state.consecutive_failures(), 0);
}

#[test]
fn five_wrong_codes_lock_for_five_minutes() {
    let mut f = Fixture::new();
    let now = T0 + 10 * STEP;
    for i in 1..MAX_FAILURES {
        assert!(matches!(f.wrong(now), Err(MfaError::InvalidCode)), "#{i}");
    }
    let until = match f.wrong(now) {
        Err(MfaError::Throttled { until }) => until,
        other => panic!("fifth wrong code: {other:?}"),
    };
    assert_eq!(until, at(now + BASE_LOCKOUT_SECS));
    // While locked, even a correct code is refused unchecked.
    assert!(matches!(
        f.totp(GatedAction::RevealSecret, now + 60, now + 60),
        Err(MfaError::Throttled { until: u }) if u == until
    ));
    let summary = f.state.summary(at(now + 60));
    assert_eq!(summary.locked_until, Some(now + BASE_LOCKOUT_SECS));
    // One second before the end: still locked. At the end: open again.
    let end = now + BASE_LOCKOUT_SECS;
    assert!(matches!(
        f.totp(GatedAction::RevealSecret, end - 1, end - 1),
        Err(MfaError::Throttled { .. })
    ));
    f.totp(GatedAction::RevealSecret, end, end).unwrap();
}

#[test]
fn repeated_lockouts_double_and_success_resets() {
    let mut f = Fixture::new();
    let mut now = T0 + 10 * STEP;
    let mut expected = BASE_LOCKOUT_SECS;
    for round in 0..4 {
        for _ in 1..MAX_FAILURES {
            assert!(matches!(f.wrong(now), Err(MfaError::InvalidCode)));
        }
        match f.wrong(now) {
            Err(MfaError::Throttled { until }) => {
                assert_eq!(until, at(now + expected), "round {round}");
            }
            other => panic!("round {round}: {other:?}"),
        }
        assert_eq!(f.state.lockout_count(), round + 1);
        now += expected;
        expected *= 2;
    }
    // A success resets the escalation.
    f.totp(GatedAction::RevealSecret, now, now).unwrap();
    assert_eq!(f.state.lockout_count(), 0);
    now += STEP;
    for _ in 1..MAX_FAILURES {
        assert!(matches!(f.wrong(now), Err(MfaError::InvalidCode)));
    }
    assert!(matches!(
        f.wrong(now),
        Err(MfaError::Throttled { until }) if until == at(now + BASE_LOCKOUT_SECS)
    ));
}

#[test]
fn a_success_resets_the_failure_count() {
    let mut f = Fixture::new();
    let now = T0 + 10 * STEP;
    for _ in 1..MAX_FAILURES {
        assert!(matches!(f.wrong(now), Err(MfaError::InvalidCode)));
    }
    f.totp(GatedAction::RevealSecret, now, now).unwrap();
    assert_eq!(f.state.consecutive_failures(), 0);
    // Four more wrong codes do not lock.
    for _ in 1..MAX_FAILURES {
        assert!(matches!(f.wrong(now), Err(MfaError::InvalidCode)));
    }
}

#[test]
fn counters_survive_a_serialize_round_trip() {
    let mut f = Fixture::new();
    let now = T0 + 10 * STEP;
    f.totp(GatedAction::RevealSecret, now, now).unwrap();
    for _ in 0..3 {
        let _ = f.wrong(now);
    }
    f.recovery(&f.recovery[0].clone(), now).unwrap();
    for _ in 0..2 {
        let _ = f.wrong(now);
    }
    let json = serde_json::to_string(&f.state).unwrap();
    // The serialized state holds no seed and no plaintext recovery code.
    assert!(!json.contains(&f.recovery[1]));
    let base32 = f.seed.to_base32();
    assert!(!json.contains(secrecy::ExposeSecret::expose_secret(&base32)));

    let restored: MfaState = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, f.state);
    assert_eq!(restored.last_accepted_step(), f.state.last_accepted_step());
    assert_eq!(restored.consecutive_failures(), 2);
    assert_eq!(restored.recovery_codes_left(), 9);

    // The restored state behaves the same: replay refused, used recovery
    // code refused, and the lockout arrives on schedule.
    f.state = restored;
    assert!(matches!(
        f.totp(GatedAction::RevealSecret, now, now),
        Err(MfaError::ReplayedCode)
    ));
    assert!(matches!(
        f.recovery(&f.recovery[0].clone(), now),
        Err(MfaError::RecoveryCodeUsed)
    ));
    let _ = f.wrong(now);
    let _ = f.wrong(now);
    assert!(matches!(f.wrong(now), Err(MfaError::Throttled { .. })));
    let locked: MfaState = serde_json::from_str(&serde_json::to_string(&f.state).unwrap()).unwrap();
    assert!(locked.is_throttled(at(now + 1)));
}

#[test]
fn each_recovery_code_works_once() {
    let mut f = Fixture::new();
    let now = T0 + 10 * STEP;
    let codes = f.recovery.clone();
    assert_eq!(codes.len(), 10);
    for (i, code) in codes.iter().enumerate() {
        assert_eq!(f.recovery(code, now).unwrap(), ProofMethod::RecoveryCode);
        assert_eq!(f.state.recovery_codes_left(), 9 - i);
    }
    for code in &codes {
        assert!(matches!(
            f.recovery(code, now),
            Err(MfaError::RecoveryCodeUsed)
        ));
    }
    // Typed sloppily, still the same (used) code.
    let sloppy = codes[0].to_lowercase().replace('-', " ");
    assert!(matches!(
        f.recovery(&sloppy, now),
        Err(MfaError::RecoveryCodeUsed)
    ));
}

#[test]
fn wrong_recovery_codes_count_towards_the_lockout() {
    let mut f = Fixture::new();
    let now = T0 + 10 * STEP;
    for _ in 1..MAX_FAILURES {
        assert!(matches!(
            f.recovery("AAAA-AAAA-AAAA-AAAA", now),
            Err(MfaError::InvalidRecoveryCode)
        ));
    }
    assert!(matches!(
        f.recovery("not a code", now),
        Err(MfaError::Throttled { .. })
    ));
    // A valid recovery code is refused while locked.
    let code = f.recovery[0].clone();
    assert!(matches!(
        f.recovery(&code, now + 1),
        Err(MfaError::Throttled { .. })
    ));
    assert_eq!(f.state.recovery_codes_left(), 10);
}

#[test]
fn every_gated_action_refuses_missing_wrong_replayed_and_throttled_proofs() {
    for action in GatedAction::ALL {
        let mut f = Fixture::new();
        let now = T0 + 10 * STEP;
        let keys = MfaKeys {
            seed: Some(&f.seed),
            key: &f.key,
        };
        // No proof.
        assert!(
            matches!(
                with_action!(action, |A| f
                    .state
                    .require_step_up::<A>(&keys, None, at(now))
                    .map(|_| ())),
                Err(MfaError::StepUpRequired { action: a }) if a == action
            ),
            "{action}"
        );
        // Malformed code: said so.
        let wrong = OneTimeCode::new("12345"); // malformed, never valid
        assert!(matches!(
            with_action!(action, |A| f
                .state
                .require_step_up::<A>(&keys, Some(Proof::Totp(wrong)), at(now))
                .map(|_| ())),
            Err(MfaError::MalformedCode)
        ));
        // Fresh code: accepted.
        f.totp(action, now, now).unwrap();
        // Replayed code.
        assert!(
            matches!(f.totp(action, now, now), Err(MfaError::ReplayedCode)),
            "{action}"
        );
        // Throttled.
        for _ in 0..MAX_FAILURES {
            let _ = f.wrong(now);
        }
        assert!(
            matches!(
                f.totp(action, now + STEP, now + STEP),
                Err(MfaError::Throttled { .. })
            ),
            "{action}"
        );
        // Recovery code works once.
        let code = f.recovery[3].clone();
        let end = now + BASE_LOCKOUT_SECS;
        assert_eq!(f.recovery(&code, end).unwrap(), ProofMethod::RecoveryCode);
        assert!(matches!(
            f.recovery(&code, end),
            Err(MfaError::RecoveryCodeUsed)
        ));
    }
}

#[test]
fn codes_are_refused_before_enrolment_is_confirmed() {
    let key = MfaKey::derive(&[1; 32]);
    let mut state = MfaState::new();
    let keys = MfaKeys {
        seed: None,
        key: &key,
    };
    assert!(matches!(
        state.require_step_up::<actions::RevealSecret>(&keys, Some(Proof::totp("123456")), at(T0)),
        Err(MfaError::NotEnrolled)
    ));
    assert!(matches!(
        state.require_step_up::<actions::RevealSecret>(&keys, None, at(T0)),
        Err(MfaError::StepUpRequired { .. })
    ));
}

#[test]
fn confirmation_needs_the_right_code() {
    let key = MfaKey::derive(&[1; 32]);
    let mut state = MfaState::new();
    let enrolment = state.enrol("vault", &key, at(T0)).unwrap();
    let seed = enrolment.seed();
    assert!(matches!(
        state.confirm(seed, &seed.code_at(at(T0 + 3 * STEP)), at(T0)),
        Err(MfaError::InvalidCode)
    ));
    assert!(!state.is_enrolled());
    state.confirm(seed, &seed.code_at(at(T0)), at(T0)).unwrap();
    assert!(state.is_enrolled() && !state.is_pending());
    assert_eq!(state.recovery_codes_left(), 10);
    assert!(matches!(
        state.confirm(seed, &seed.code_at(at(T0)), at(T0)),
        Err(MfaError::NoPendingEnrolment)
    ));
}

#[test]
fn errors_are_mfa_kind_and_never_contain_codes() {
    let mut f = Fixture::new();
    let now = T0 + 10 * STEP;
    let code = f.seed.code_at(at(now)).expose_secret().to_owned();
    f.totp(GatedAction::RevealSecret, now, now).unwrap();
    let err = f.totp(GatedAction::RevealSecret, now, now).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Mfa);
    assert!(!err.to_string().contains(&code));
    assert!(!format!("{err:?}").contains(&code));
    for _ in 0..MAX_FAILURES {
        let _ = f.wrong(now);
    }
    let err = f.wrong(now).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Mfa);
    assert!(err.to_string().contains("locked until"));
}

#[test]
fn window_covers_eligible_actions_until_it_expires() {
    let mut f = Fixture::new();
    let now = T0 + 10 * STEP;
    let mut window = StepUpWindow::new(120).unwrap();
    let code = f.seed.code_at(at(now));
    let keys = MfaKeys {
        seed: Some(&f.seed),
        key: &f.key,
    };
    let grant = window
        .require_step_up::<actions::RevealSecret>(
            &mut f.state,
            &keys,
            Some(Proof::Totp(code)),
            at(now),
        )
        .unwrap();
    assert_eq!(grant.method(), ProofMethod::Totp);
    // Within the window: no proof needed for eligible actions.
    for action in [
        GatedAction::CopySecret,
        GatedAction::DeleteKey,
        GatedAction::AllowRun,
    ] {
        let (method, granted) = with_action!(action, |A| window
            .require_step_up::<A>(&mut f.state, &keys, None, at(now + 119))
            .map(|g| (g.method(), g.action()))
            .unwrap());
        assert_eq!(method, ProofMethod::Window);
        assert_eq!(granted, action);
    }
    // Never for protection changes or export.
    for action in [
        GatedAction::DisableMfa,
        GatedAction::ChangePassword,
        GatedAction::SecuritySettings,
        GatedAction::Export,
        GatedAction::ReenrolMfa,
    ] {
        assert!(matches!(
            with_action!(action, |A| window
                .require_step_up::<A>(&mut f.state, &keys, None, at(now + 10))
                .map(|_| ())),
            Err(MfaError::StepUpRequired { .. })
        ));
    }
    // The failed attempts above closed the window.
    assert!(!window.is_open(at(now + 11)));
}

#[test]
fn window_expires_and_closes() {
    let mut f = Fixture::new();
    let now = T0 + 10 * STEP;
    let mut window = StepUpWindow::new(60).unwrap();
    let keys = MfaKeys {
        seed: Some(&f.seed),
        key: &f.key,
    };
    let _ = window
        .require_step_up::<actions::RevealSecret>(
            &mut f.state,
            &keys,
            Some(Proof::Totp(f.seed.code_at(at(now)))),
            at(now),
        )
        .unwrap();
    assert!(window.is_open(at(now + 59)));
    assert!(!window.is_open(at(now + 60)));
    assert!(matches!(
        window.require_step_up::<actions::RevealSecret>(&mut f.state, &keys, None, at(now + 60)),
        Err(MfaError::StepUpRequired { .. })
    ));
    // Lock closes it.
    let _ = window
        .require_step_up::<actions::RevealSecret>(
            &mut f.state,
            &keys,
            Some(Proof::Totp(f.seed.code_at(at(now + STEP)))),
            at(now + STEP),
        )
        .unwrap();
    window.close();
    assert!(!window.is_open(at(now + STEP + 1)));
}

#[test]
fn default_window_is_zero_and_never_opens() {
    let mut f = Fixture::new();
    let now = T0 + 10 * STEP;
    let mut window = StepUpWindow::default();
    assert_eq!(window.seconds(), 0);
    let keys = MfaKeys {
        seed: Some(&f.seed),
        key: &f.key,
    };
    let _ = window
        .require_step_up::<actions::RevealSecret>(
            &mut f.state,
            &keys,
            Some(Proof::Totp(f.seed.code_at(at(now)))),
            at(now),
        )
        .unwrap();
    assert!(matches!(
        window.require_step_up::<actions::RevealSecret>(&mut f.state, &keys, None, at(now)),
        Err(MfaError::StepUpRequired { .. })
    ));
}

#[test]
fn window_setting_is_bounded() {
    assert!(StepUpWindow::new(0).is_ok());
    assert!(StepUpWindow::new(300).is_ok());
    let err = StepUpWindow::new(301).unwrap_err();
    assert!(matches!(err, MfaError::InvalidWindow { seconds: 301 }));
    assert_eq!(err.kind(), ErrorKind::Invalid);
}

#[test]
fn window_is_ignored_while_throttled() {
    let mut f = Fixture::new();
    let now = T0 + 10 * STEP;
    let mut window = StepUpWindow::new(300).unwrap();
    let keys = MfaKeys {
        seed: Some(&f.seed),
        key: &f.key,
    };
    let _ = window
        .require_step_up::<actions::RevealSecret>(
            &mut f.state,
            &keys,
            Some(Proof::Totp(f.seed.code_at(at(now)))),
            at(now),
        )
        .unwrap();
    // Wrong codes entered elsewhere (another front end on the same state).
    let mut state = f.state.clone();
    for _ in 0..MAX_FAILURES {
        let _ = state.require_step_up::<actions::DisableMfa>(
            &keys,
            Some(Proof::totp("000000")),
            at(now + 1),
        );
    }
    let mut state = if state.is_throttled(at(now + 2)) {
        state
    } else {
        // "000000" happened to be valid; use another wrong value.
        let mut s = f.state.clone();
        for _ in 0..MAX_FAILURES {
            let _ = s.require_step_up::<actions::DisableMfa>(
                &keys,
                Some(Proof::totp("999999")),
                at(now + 1),
            );
        }
        s
    };
    assert!(state.is_throttled(at(now + 2)));
    assert!(window.is_open(at(now + 2)));
    assert!(matches!(
        window.require_step_up::<actions::RevealSecret>(&mut state, &keys, None, at(now + 2)),
        Err(MfaError::StepUpRequired { .. })
    ));
}
