//! Errors of enrolment, verification and the step-up gate.

use std::time::SystemTime;

use crate::error::{ErrorKind, KindedError};

use super::GatedAction;
use super::time::unix_secs;

/// Why an MFA operation refused or failed.
///
/// Messages never contain a code, a seed or a recovery code: they may be
/// shown, logged and written to the audit log's details as they are.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MfaError {
    /// The action needs a proof (a TOTP code, a recovery code, or, before
    /// MFA is enrolled, the master password) and none acceptable was given.
    #[error("{} needs a code from your authenticator app", capitalized(action.phrase()))]
    StepUpRequired {
        /// The action that was refused.
        action: GatedAction,
    },
    /// The TOTP code matches no time step in the accepted window.
    #[error("invalid authentication code")]
    InvalidCode,
    /// What was typed is not a code at all: codes have six digits. Counts
    /// towards the lockout like a wrong code.
    #[error("an authentication code has 6 digits")]
    MalformedCode,
    /// The TOTP code is valid but its time step is not later than the last
    /// accepted one (RFC 6238 §5.2: a code is accepted once).
    #[error("this authentication code was already used: wait for the next one")]
    ReplayedCode,
    /// Too many wrong codes in a row: no code is checked until `until`.
    #[error("too many wrong codes: step-up is locked until unix time {}", unix_secs(*until))]
    Throttled {
        /// When codes are checked again.
        until: SystemTime,
    },
    /// A TOTP or recovery code was given, but MFA is not enrolled (or its
    /// enrolment is still waiting for confirmation).
    #[error("MFA is not enrolled")]
    NotEnrolled,
    /// MFA is already active: enrolling again is a re-enrolment, which needs
    /// step-up.
    #[error("MFA is already enrolled: re-enrolment needs step-up")]
    AlreadyEnrolled,
    /// A confirmation code was given but no enrolment is pending.
    #[error("no MFA enrolment is waiting for confirmation")]
    NoPendingEnrolment,
    /// The recovery code is one of this enrolment's codes, but it has been
    /// used already.
    #[error("this recovery code has already been used")]
    RecoveryCodeUsed,
    /// The recovery code is malformed or not one of this enrolment's codes.
    #[error("invalid recovery code")]
    InvalidRecoveryCode,
    /// The step-up window setting is outside `0..=300` seconds.
    #[error("the step-up window must be between 0 and 300 seconds, got {seconds}")]
    InvalidWindow {
        /// The rejected value.
        seconds: u64,
    },
    /// The account name cannot be put in an otpauth URI (empty, or it
    /// contains a colon).
    #[error("the account name must be non-empty and must not contain ':'")]
    InvalidAccountName,
    /// Unsealed seed bytes have an impossible length (not 16..=64 bytes).
    #[error("the stored TOTP seed is malformed")]
    MalformedSeed,
    /// MFA is active but the caller did not supply the unsealed seed.
    #[error("the TOTP seed was not available to verify the code")]
    SeedUnavailable,
    /// Persisted MFA state does not make sense (e.g. a recovery hash of the
    /// wrong length, a pending enrolment without its seed).
    #[error("stored MFA state is corrupt: {what}")]
    Corrupt {
        /// Which part is inconsistent (never a secret).
        what: &'static str,
    },
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// Reading or writing the MFA table failed.
    #[error("MFA storage failed")]
    Storage(#[source] rusqlite::Error),
}

impl KindedError for MfaError {
    fn kind(&self) -> ErrorKind {
        match self {
            MfaError::StepUpRequired { .. }
            | MfaError::InvalidCode
            | MfaError::MalformedCode
            | MfaError::ReplayedCode
            | MfaError::Throttled { .. }
            | MfaError::NotEnrolled
            | MfaError::AlreadyEnrolled
            | MfaError::NoPendingEnrolment
            | MfaError::RecoveryCodeUsed
            | MfaError::InvalidRecoveryCode => ErrorKind::Mfa,
            MfaError::InvalidWindow { .. } | MfaError::InvalidAccountName => ErrorKind::Invalid,
            MfaError::MalformedSeed | MfaError::Corrupt { .. } => ErrorKind::Integrity,
            MfaError::SeedUnavailable | MfaError::Random | MfaError::Storage(_) => {
                ErrorKind::Internal
            }
        }
    }
}

impl MfaError {
    /// A short stable name for why a step-up failed, safe to record in the
    /// audit log's details and to branch on in tests (never a code).
    pub fn reason(&self) -> &'static str {
        match self {
            MfaError::StepUpRequired { .. } => "step_up_required",
            MfaError::InvalidCode => "invalid_code",
            MfaError::MalformedCode => "malformed_code",
            MfaError::ReplayedCode => "replayed_code",
            MfaError::Throttled { .. } => "throttled",
            MfaError::NotEnrolled => "not_enrolled",
            MfaError::AlreadyEnrolled => "already_enrolled",
            MfaError::NoPendingEnrolment => "no_pending_enrolment",
            MfaError::RecoveryCodeUsed => "recovery_code_used",
            MfaError::InvalidRecoveryCode => "invalid_recovery_code",
            MfaError::InvalidWindow { .. } => "invalid_window",
            MfaError::InvalidAccountName => "invalid_account_name",
            MfaError::MalformedSeed => "malformed_seed",
            MfaError::SeedUnavailable => "seed_unavailable",
            MfaError::Corrupt { .. } => "corrupt",
            MfaError::Random => "random",
            MfaError::Storage(_) => "storage",
        }
    }
}

impl From<rusqlite::Error> for MfaError {
    fn from(err: rusqlite::Error) -> Self {
        MfaError::Storage(err)
    }
}

/// `phrase` with its first letter in upper case, to start a message.
fn capitalized(phrase: &str) -> String {
    let mut chars = phrase.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
