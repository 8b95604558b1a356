//! Turning the webview's proof into a core step-up grant.
//!
//! The core's gate (`Session::step_up_in_window`) decides, step-up window
//! included (setting `step_up_window_seconds`, default 0 = off; kept by the
//! core session on the vault's clock, closed on lock); this module only
//! converts the DTO.

use keyward_core::ErrorKind;
use keyward_core::mfa::actions::Gated;
use keyward_core::mfa::{OneTimeCode, Proof, RecoveryCode, StepUpGrant};
use keyward_core::vault::{Actor, MasterPassword, Session, VaultError};
use serde::Deserialize;

use crate::error::IpcError;

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

/// Runs the core's gate for the action `A`, with the session's step-up
/// window: the core decides whether a request without a proof passes (an
/// open window) or is answered "proof required" (without an audit entry).
pub fn grant<A: Gated>(
    session: &mut Session,
    proof: Option<ProofInput>,
) -> Result<StepUpGrant<A>, IpcError> {
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
        .step_up_in_window::<A>(Actor::Gui, proof)
        .map_err(step_up_error)
}
