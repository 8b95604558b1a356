//! The step-up window, kept by the core session on the vault's injected
//! clock: open after a proof, it lets eligible actions through without a new
//! one until it expires; it never covers protection changes or the export;
//! it closes on lock, on a failed proof and after an MFA change; a request
//! without a proof that it does not cover is refused without an audit entry.

use std::time::Duration;

use keyward_core::audit::store::AuditFilter;
use keyward_core::mfa::{GatedAction, MfaError, Proof, ProofMethod, actions};
use keyward_core::vault::{Actor, Settings, VaultError};

use crate::vault::stepup::Enrolled;

/// An enrolled vault whose step-up window is `seconds` long.
fn with_window(seconds: u32) -> Enrolled {
    let mut e = Enrolled::new();
    let code = e.fresh();
    let g =
        e.s.step_up::<actions::SecuritySettings>(Actor::Gui, Some(Proof::totp(code)))
            .unwrap();
    let settings = Settings {
        step_up_window_seconds: seconds,
        ..e.s.settings().unwrap()
    };
    e.s.set_settings(Actor::Gui, g, settings).unwrap();
    e
}

/// Opens the window with a fresh code for a reveal.
fn open(e: &mut Enrolled) {
    let code = e.fresh();
    let g =
        e.s.step_up_in_window::<actions::RevealSecret>(Actor::Gui, Some(Proof::totp(code)))
            .unwrap();
    assert_eq!(g.method(), ProofMethod::Totp);
}

fn refusals(e: &mut Enrolled) -> usize {
    e.s.audit_log(&AuditFilter::all())
        .unwrap()
        .iter()
        .filter(|entry| entry.action.as_str().starts_with("step_up_"))
        .count()
}

fn proof_required(r: Result<impl Sized, VaultError>, action: GatedAction) {
    match r {
        Err(VaultError::Mfa(MfaError::StepUpRequired { action: a })) => assert_eq!(a, action),
        Err(other) => panic!("expected 'proof required', got {other:?}"),
        Ok(_) => panic!("expected 'proof required', got a grant"),
    }
}

#[test]
fn an_open_window_lets_a_second_action_through_without_a_proof() {
    let mut e = with_window(120);
    open(&mut e);
    e.clock.advance(Duration::from_secs(100));
    let g =
        e.s.step_up_in_window::<actions::DeleteKey>(Actor::Gui, None)
            .unwrap();
    assert_eq!(g.method(), ProofMethod::Window);
    e.s.delete_key(Actor::Gui, g, "bin").unwrap();
    let g =
        e.s.step_up_in_window::<actions::CopySecret>(Actor::Gui, None)
            .unwrap();
    assert_eq!(g.method(), ProofMethod::Window);
    // The deletion records how it was allowed.
    let log = e.s.audit_log(&AuditFilter::for_label("bin")).unwrap();
    let deleted = log.last().unwrap();
    assert_eq!(deleted.action.as_str(), "key_deleted");
    assert_eq!(deleted.details_value()["proof"], "window");
    assert_eq!(refusals(&mut e), 0);
}

#[test]
fn an_expired_window_asks_for_a_proof_without_an_audit_entry() {
    let mut e = with_window(60);
    open(&mut e);
    e.clock.advance(Duration::from_secs(60));
    proof_required(
        e.s.step_up_in_window::<actions::RevealSecret>(Actor::Gui, None),
        GatedAction::RevealSecret,
    );
    // A closed window (default length 0) answers the same way: the front end
    // may always ask without a proof first, and nothing is logged.
    let mut closed = Enrolled::new();
    proof_required(
        closed
            .s
            .step_up_in_window::<actions::RevealSecret>(Actor::Gui, None),
        GatedAction::RevealSecret,
    );
    assert_eq!(refusals(&mut e), 0);
    assert_eq!(refusals(&mut closed), 0);
    // A fresh code still passes and opens it again.
    open(&mut e);
    let g =
        e.s.step_up_in_window::<actions::RevealSecret>(Actor::Gui, None)
            .unwrap();
    assert_eq!(g.method(), ProofMethod::Window);
}

#[test]
fn the_window_never_covers_protection_changes_or_the_export() {
    let mut e = with_window(300);
    open(&mut e);
    for action in GatedAction::ALL
        .into_iter()
        .filter(|a| !a.window_eligible())
    {
        let r = with_action!(action, |A| e
            .s
            .step_up_in_window::<A>(Actor::Gui, None)
            .map(|_| ()));
        proof_required(r, action);
    }
    // Those requests were answered without the gate: nothing audited, and
    // the window is still open for what it does cover.
    assert_eq!(refusals(&mut e), 0);
    let g =
        e.s.step_up_in_window::<actions::AllowRun>(Actor::Gui, None)
            .unwrap();
    assert_eq!(g.method(), ProofMethod::Window);
    // The CLI's gate never uses the window.
    proof_required(
        e.s.step_up::<actions::RevealSecret>(Actor::Cli, None),
        GatedAction::RevealSecret,
    );
}

#[test]
fn lock_a_failed_proof_and_an_mfa_change_close_the_window() {
    // Lock: the next session starts with it closed.
    let mut e = with_window(300);
    open(&mut e);
    e.reopen();
    proof_required(
        e.s.step_up_in_window::<actions::RevealSecret>(Actor::Gui, None),
        GatedAction::RevealSecret,
    );

    // A failed proof closes it: here a wrong code for an action the window
    // does not cover (for one it covers, an offered code is left unused).
    open(&mut e);
    let code = e.fresh();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert!(
        e.s.step_up_in_window::<actions::DisableMfa>(Actor::Gui, Some(Proof::totp(wrong)))
            .is_err()
    );
    proof_required(
        e.s.step_up_in_window::<actions::RevealSecret>(Actor::Gui, None),
        GatedAction::RevealSecret,
    );

    // Turning MFA off closes it.
    open(&mut e);
    let code = e.fresh();
    let g =
        e.s.step_up_in_window::<actions::DisableMfa>(Actor::Gui, Some(Proof::totp(code)))
            .unwrap();
    e.s.mfa_disable(Actor::Gui, g).unwrap();
    proof_required(
        e.s.step_up_in_window::<actions::RevealSecret>(Actor::Gui, None),
        GatedAction::RevealSecret,
    );
}

#[test]
fn the_window_is_ignored_while_step_up_is_locked() {
    let mut e = with_window(300);
    open(&mut e);
    // Wrong codes from the CLI lock step-up for every front end.
    let mut locked = false;
    for candidate in [
        "000000", "111111", "222222", "333333", "444444", "555555", "666666",
    ] {
        match e
            .s
            .step_up::<actions::RevealSecret>(Actor::Cli, Some(Proof::totp(candidate)))
        {
            Err(VaultError::Mfa(MfaError::Throttled { .. })) => {
                locked = true;
                break;
            }
            Err(_) => {}
            Ok(_) => panic!("a guessed code passed"),
        }
    }
    assert!(locked);
    proof_required(
        e.s.step_up_in_window::<actions::RevealSecret>(Actor::Gui, None),
        GatedAction::RevealSecret,
    );
}
