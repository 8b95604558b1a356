//! Enrolment: a new seed and recovery codes shown once, confirmation with
//! a first code, re-enrolment, disabling, and new recovery codes.

use std::fmt;
use std::time::SystemTime;

use secrecy::{ExposeSecret, SecretString};

use super::gate::{TotpCheck, check_totp};
use super::{MfaState, RecoverySlot, Stage};
use crate::mfa::actions::{DisableMfa, ReenrolMfa, SecuritySettings};
use crate::mfa::key::MfaKey;
use crate::mfa::recovery::{RECOVERY_CODE_COUNT, RecoveryCode, hash_eq};
use crate::mfa::seed::{OneTimeCode, TotpSeed};
use crate::mfa::time::unix_secs;
use crate::mfa::{MfaError, StepUpGrant};

/// A new enrolment, to be shown to the user once.
///
/// The caller seals [`Enrolment::seed`] as the *pending* seed, shows the
/// URI (as a QR code) and the base32 secret, and shows the recovery codes
/// with a prompt to save them. None of it is stored in plaintext; none of
/// it is `Serialize`, so a DTO carrying it is built field by field, on
/// purpose, in the enrolment command only.
pub struct Enrolment {
    pub(super) seed: TotpSeed,
    secret_base32: SecretString,
    otpauth_uri: SecretString,
    pub(super) recovery_codes: Vec<RecoveryCode>,
}

impl Enrolment {
    /// The new seed, for the vault to seal as the pending seed.
    pub fn seed(&self) -> &TotpSeed {
        &self.seed
    }

    /// The seed in base32, for manual entry into an authenticator app.
    pub fn secret_base32(&self) -> &SecretString {
        &self.secret_base32
    }

    /// `otpauth://totp/Keyward:<account>?secret=…&issuer=Keyward`, for the QR
    /// code.
    pub fn otpauth_uri(&self) -> &SecretString {
        &self.otpauth_uri
    }

    /// The base32 secret as text, for the one enrolment screen or command
    /// output that shows it.
    pub fn expose_secret_base32(&self) -> &str {
        self.secret_base32.expose_secret()
    }

    /// The otpauth URI as text, for the QR code or the enrolment output.
    pub fn expose_otpauth_uri(&self) -> &str {
        self.otpauth_uri.expose_secret()
    }

    /// The ten single-use recovery codes, in plaintext this one time.
    pub fn recovery_codes(&self) -> &[RecoveryCode] {
        &self.recovery_codes
    }
}

impl fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Enrolment([REDACTED])")
    }
}

impl MfaState {
    /// Starts a first enrolment (MFA not active). A previous pending
    /// enrolment is replaced. MFA stays off until [`MfaState::confirm`].
    ///
    /// `account_name` is the vault's name, shown by the authenticator app
    /// next to "Keyward".
    pub fn enrol(
        &mut self,
        account_name: &str,
        mfa_key: &MfaKey,
        now: SystemTime,
    ) -> Result<Enrolment, MfaError> {
        if self.active.is_some() {
            return Err(MfaError::AlreadyEnrolled);
        }
        self.start_enrolment(account_name, mfa_key, now)
    }

    /// Starts replacing the active enrolment with a new seed and new
    /// recovery codes. The old seed stays in force until the new one is
    /// confirmed, so an abandoned re-enrolment never leaves MFA off.
    pub fn reenrol(
        &mut self,
        grant: StepUpGrant<ReenrolMfa>,
        account_name: &str,
        mfa_key: &MfaKey,
        now: SystemTime,
    ) -> Result<Enrolment, MfaError> {
        let _ = grant;
        if self.active.is_none() {
            return Err(MfaError::NotEnrolled);
        }
        self.start_enrolment(account_name, mfa_key, now)
    }

    fn start_enrolment(
        &mut self,
        account_name: &str,
        mfa_key: &MfaKey,
        now: SystemTime,
    ) -> Result<Enrolment, MfaError> {
        let seed = TotpSeed::generate()?;
        let otpauth_uri = seed.otpauth_uri(account_name)?;
        let secret_base32 = seed.to_base32();
        let (recovery_codes, recovery) = new_recovery_codes(mfa_key)?;
        self.pending = Some(Stage {
            since: unix_secs(now),
            last_step: None,
            recovery,
        });
        Ok(Enrolment {
            seed,
            secret_base32,
            otpauth_uri,
            recovery_codes,
        })
    }

    /// Confirms the pending enrolment with a code from the authenticator
    /// app. On success the pending enrolment becomes the active one: the
    /// caller must then move the pending sealed seed into the active slot
    /// (see [`super::store::MfaRecord::confirm`], which does both).
    ///
    /// Wrong codes count towards the lockout like any other.
    pub fn confirm(
        &mut self,
        pending_seed: &TotpSeed,
        code: &OneTimeCode,
        now: SystemTime,
    ) -> Result<(), MfaError> {
        if self.pending.is_none() {
            return Err(MfaError::NoPendingEnrolment);
        }
        self.check_throttle(now)?;
        let last_step = self.pending.as_ref().and_then(|s| s.last_step);
        let step = match check_totp(pending_seed, code, now, last_step) {
            TotpCheck::Accepted(step) => step,
            TotpCheck::Replayed => return Err(MfaError::ReplayedCode),
            TotpCheck::Invalid => return Err(self.record_failure(now, MfaError::InvalidCode)),
            TotpCheck::Malformed => {
                return Err(self.record_failure(now, MfaError::MalformedCode));
            }
        };
        if let Some(mut stage) = self.pending.take() {
            stage.since = unix_secs(now);
            stage.last_step = Some(step);
            self.active = Some(stage);
        }
        self.record_success();
        Ok(())
    }

    /// Abandons a pending enrolment (the caller drops the pending sealed
    /// seed). Returns whether there was one. Not gated: it only discards a
    /// seed that never took effect.
    pub fn cancel_pending(&mut self) -> bool {
        self.pending.take().is_some()
    }

    /// Turns MFA off, after a step-up for [`GatedAction::DisableMfa`]. The
    /// caller drops both sealed seeds.
    pub fn disable(&mut self, grant: StepUpGrant<DisableMfa>) -> Result<(), MfaError> {
        let _ = grant;
        if self.active.is_none() {
            return Err(MfaError::NotEnrolled);
        }
        self.active = None;
        self.pending = None;
        Ok(())
    }

    /// Replaces the active enrolment's recovery codes with ten new ones,
    /// after a step-up for [`GatedAction::SecuritySettings`]. The old codes
    /// stop working.
    pub fn regenerate_recovery_codes(
        &mut self,
        grant: StepUpGrant<SecuritySettings>,
        mfa_key: &MfaKey,
    ) -> Result<Vec<RecoveryCode>, MfaError> {
        let _ = grant;
        let Some(active) = self.active.as_mut() else {
            return Err(MfaError::NotEnrolled);
        };
        let (codes, slots) = new_recovery_codes(mfa_key)?;
        active.recovery = slots;
        Ok(codes)
    }
}

fn new_recovery_codes(key: &MfaKey) -> Result<(Vec<RecoveryCode>, Vec<RecoverySlot>), MfaError> {
    let mut codes = Vec::with_capacity(RECOVERY_CODE_COUNT);
    let mut slots = Vec::with_capacity(RECOVERY_CODE_COUNT);
    while codes.len() < RECOVERY_CODE_COUNT {
        let code = RecoveryCode::generate()?;
        let normalized = code.normalized().ok_or(MfaError::Corrupt {
            what: "generated recovery code",
        })?;
        let hash = key.hash_recovery_code(&normalized);
        // 80-bit codes do not collide in practice; if they ever did, the
        // duplicate would be two slots for one code, so draw again.
        if slots.iter().any(|s: &RecoverySlot| hash_eq(&s.hash, &hash)) {
            continue;
        }
        slots.push(RecoverySlot {
            hash,
            used_at: None,
        });
        codes.push(code);
    }
    Ok((codes, slots))
}
