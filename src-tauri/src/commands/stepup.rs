//! Turning the webview's proof into a core step-up grant.
//!
//! The core's gate (`Session::step_up_in_window`) decides; this module only
//! converts the DTO. A window kept by the desktop (setting
//! `step_up_window_seconds`, default 0 = off) lets a second gated action
//! within the window pass without a new code; it is closed on lock.

use keyward_core::ErrorKind;
use keyward_core::mfa::{GatedAction, MfaError, OneTimeCode, Proof, RecoveryCode, StepUpGrant};
use keyward_core::vault::{Actor, MasterPassword, Session, VaultError};
use serde::Deserialize;

use crate::error::IpcError;
use crate::state::AppState;

/// Proof as the step-up dialog sends it. No `Debug`: it holds a code or the
/// master password.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProofInput {
    /// A code from the authenticator app.
    Totp {
        /// Six digits.
        code: String,
    },
    /// A single-use recovery code.
    RecoveryCode {
        /// The code as printed.
        code: String,
    },
    /// The master password (accepted by the core only until MFA is enrolled).
    Password {
        /// The master password.
        password: String,
    },
}

/// Why a step-up failed, as the webview sees it. A wrong master password
/// given as step-up proof is an MFA failure (the dialog asks again), not a
/// locked vault.
fn step_up_error(e: VaultError) -> IpcError {
    match e {
        VaultError::WrongPassword => IpcError::new(ErrorKind::Mfa, "wrong master password"),
        other => other.into(),
    }
}

/// Runs the core's gate for `action` with the desktop's step-up window.
pub fn grant(
    state: &AppState,
    session: &mut Session,
    action: GatedAction,
    proof: Option<ProofInput>,
) -> Result<StepUpGrant, IpcError> {
    let mut window = state.step_up_window();
    // The UI first asks without proof in case a step-up window is open. When
    // none is, answer "proof required" here instead of running the core's
    // gate, so every reveal does not leave a `step_up_failed` entry in the
    // audit log. The core still refuses anything without a grant.
    if proof.is_none() && !window.is_open(std::time::SystemTime::now()) {
        let e = MfaError::StepUpRequired { action };
        return Err(e.into());
    }
    let proof = match proof {
        None => None,
        Some(ProofInput::Totp { code }) => Some(Proof::Totp(OneTimeCode::new(code))),
        Some(ProofInput::RecoveryCode { code }) => {
            Some(Proof::RecoveryCode(RecoveryCode::new(code)))
        }
        Some(ProofInput::Password { password }) => {
            let password = MasterPassword::new(password);
            let verified = session.verify_password(&password).map_err(step_up_error)?;
            Some(Proof::MasterPassword(verified))
        }
    };
    session
        .step_up_in_window(Actor::Gui, &mut window, action, proof)
        .map_err(step_up_error)
}
