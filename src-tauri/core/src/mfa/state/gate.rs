//! The gate: a step-up proof checked against the active enrolment (TOTP
//! ±1 step with replay refusal, a recovery code once, the master password
//! only before enrolment), with throttling and doubling lockouts.

use std::time::SystemTime;

use super::{BASE_LOCKOUT_SECS, MAX_FAILURES, MAX_LOCKOUT_SECS, MfaKeys, MfaState};
use crate::mfa::actions::Gated;
use crate::mfa::key::MfaKey;
use crate::mfa::recovery::{RecoveryCode, hash_eq};
use crate::mfa::seed::{OneTimeCode, TotpSeed, matching_steps};
use crate::mfa::time::{from_unix_secs, step_of, unix_secs};
use crate::mfa::{GatedAction, MfaError, Proof, ProofMethod, StepUpGrant};

impl MfaState {
    /// The step-up gate. Every gated action, from every front end, calls
    /// this (the GUI through [`super::StepUpWindow`]) and refuses to run
    /// without the returned grant.
    ///
    /// - no proof: [`MfaError::StepUpRequired`];
    /// - MFA not enrolled: only [`Proof::MasterPassword`] passes; a code is
    ///   [`MfaError::NotEnrolled`];
    /// - MFA enrolled: a password alone is [`MfaError::StepUpRequired`];
    ///   while locked, every code is [`MfaError::Throttled`] unchecked; a
    ///   TOTP code passes for the current time step ±1 if that step is later
    ///   than the last accepted one (else [`MfaError::ReplayedCode`]); a
    ///   recovery code passes once ([`MfaError::RecoveryCodeUsed`] after);
    ///   the fifth wrong code in a row locks step-up and answers
    ///   [`MfaError::Throttled`].
    ///
    /// The state changes on success *and* on failure; persist it either way.
    pub fn require_step_up<A: Gated>(
        &mut self,
        keys: &MfaKeys<'_>,
        proof: Option<Proof>,
        now: SystemTime,
    ) -> Result<StepUpGrant<A>, MfaError> {
        self.check_proof(keys, A::ACTION, proof, now)
            .map(|method| StepUpGrant::new(method, now))
    }

    /// [`MfaState::require_step_up`] with the action known at run time
    /// only: how the proof passed, or why not.
    pub(crate) fn check_proof(
        &mut self,
        keys: &MfaKeys<'_>,
        action: GatedAction,
        proof: Option<Proof>,
        now: SystemTime,
    ) -> Result<ProofMethod, MfaError> {
        let Some(proof) = proof else {
            return Err(MfaError::StepUpRequired { action });
        };
        if self.active.is_none() {
            return match proof {
                Proof::MasterPassword(_) => Ok(ProofMethod::MasterPassword),
                Proof::Totp(_) | Proof::RecoveryCode(_) => Err(MfaError::NotEnrolled),
            };
        }
        match proof {
            // Once MFA is on, the password is what an attacker at an
            // unlocked laptop may already have; it proves nothing more.
            Proof::MasterPassword(_) => Err(MfaError::StepUpRequired { action }),
            Proof::Totp(code) => {
                self.check_throttle(now)?;
                let seed = keys.seed.ok_or(MfaError::SeedUnavailable)?;
                let last_step = self.active.as_ref().and_then(|s| s.last_step);
                match check_totp(seed, &code, now, last_step) {
                    TotpCheck::Accepted(step) => {
                        if let Some(active) = self.active.as_mut() {
                            active.last_step = Some(step);
                        }
                        self.record_success();
                        Ok(ProofMethod::Totp)
                    }
                    // Not counted as a failure: replaying a known code is not
                    // guessing, and the owner double-submitting should not
                    // move towards a lockout.
                    TotpCheck::Replayed => Err(MfaError::ReplayedCode),
                    TotpCheck::Invalid => Err(self.record_failure(now, MfaError::InvalidCode)),
                    TotpCheck::Malformed => Err(self.record_failure(now, MfaError::MalformedCode)),
                }
            }
            Proof::RecoveryCode(code) => {
                self.check_throttle(now)?;
                self.use_recovery_code(keys.key, &code, now)?;
                self.record_success();
                Ok(ProofMethod::RecoveryCode)
            }
        }
    }

    /// Whether codes are refused unchecked at `now`.
    pub fn is_throttled(&self, now: SystemTime) -> bool {
        self.locked_until(now).is_some()
    }

    pub(super) fn check_throttle(&mut self, now: SystemTime) -> Result<(), MfaError> {
        match self.locked_until {
            Some(until) if unix_secs(now) < until => Err(MfaError::Throttled {
                until: from_unix_secs(until),
            }),
            Some(_) => {
                // The lockout has run out; its count stays, so the next one
                // is longer.
                self.locked_until = None;
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Counts a wrong code; the fifth in a row locks and turns `err` into
    /// [`MfaError::Throttled`].
    pub(super) fn record_failure(&mut self, now: SystemTime, err: MfaError) -> MfaError {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        if self.consecutive_failures < MAX_FAILURES {
            return err;
        }
        let until = unix_secs(now).saturating_add(lockout_secs(self.lockout_count));
        self.locked_until = Some(until);
        self.lockout_count = self.lockout_count.saturating_add(1);
        self.consecutive_failures = 0;
        MfaError::Throttled {
            until: from_unix_secs(until),
        }
    }

    pub(super) fn record_success(&mut self) {
        self.consecutive_failures = 0;
        self.lockout_count = 0;
        self.locked_until = None;
    }

    fn use_recovery_code(
        &mut self,
        key: &MfaKey,
        code: &RecoveryCode,
        now: SystemTime,
    ) -> Result<(), MfaError> {
        let Some(normalized) = code.normalized() else {
            return Err(self.record_failure(now, MfaError::InvalidRecoveryCode));
        };
        let hash = key.hash_recovery_code(&normalized);
        let mut unused = None;
        let mut spent = false;
        if let Some(active) = self.active.as_ref() {
            // Compare against every slot, whichever matches.
            for (i, slot) in active.recovery.iter().enumerate() {
                if hash_eq(&slot.hash, &hash) {
                    match slot.used_at {
                        None => unused = Some(i),
                        Some(_) => spent = true,
                    }
                }
            }
        }
        match (unused, self.active.as_mut()) {
            (Some(i), Some(active)) => {
                if let Some(slot) = active.recovery.get_mut(i) {
                    slot.used_at = Some(unix_secs(now));
                }
                Ok(())
            }
            _ if spent => Err(MfaError::RecoveryCodeUsed),
            _ => Err(self.record_failure(now, MfaError::InvalidRecoveryCode)),
        }
    }
}

/// How long the lockout after `previous` earlier lockouts lasts.
pub(super) fn lockout_secs(previous: u32) -> u64 {
    let factor = 1u64.checked_shl(previous).unwrap_or(u64::MAX);
    BASE_LOCKOUT_SECS
        .saturating_mul(factor)
        .min(MAX_LOCKOUT_SECS)
}

pub(super) enum TotpCheck {
    Accepted(u64),
    Replayed,
    /// Not six digits.
    Malformed,
    Invalid,
}

/// Checks `code` against `seed` at `now` ±1 step, refusing any step not
/// later than `last_step`.
pub(super) fn check_totp(
    seed: &TotpSeed,
    code: &OneTimeCode,
    now: SystemTime,
    last_step: Option<u64>,
) -> TotpCheck {
    let Some(code) = code.normalized() else {
        return TotpCheck::Malformed;
    };
    let matched = matching_steps(seed, &code, step_of(unix_secs(now)));
    if matched.is_empty() {
        return TotpCheck::Invalid;
    }
    match matched
        .into_iter()
        .find(|&step| last_step.is_none_or(|last| step > last))
    {
        Some(step) => TotpCheck::Accepted(step),
        None => TotpCheck::Replayed,
    }
}
