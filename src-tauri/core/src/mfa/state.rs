//! The verification state machine: enrolment, confirmation, the gate,
//! throttling and recovery codes, as plain data that can be persisted.

use std::fmt;
use std::time::SystemTime;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::actions::{DisableMfa, Gated, ReenrolMfa, SecuritySettings};
use super::key::MfaKey;
use super::recovery::{RECOVERY_CODE_COUNT, RecoveryCode, hash_eq};
use super::seed::{OneTimeCode, TotpSeed, matching_steps};
use super::time::{from_unix_secs, step_of, unix_secs};
use super::{GatedAction, MfaError, Proof, ProofMethod, StepUpGrant};

/// Wrong codes in a row that lock step-up.
pub const MAX_FAILURES: u32 = 5;

/// Length of the first lockout; each further lockout doubles it.
pub const BASE_LOCKOUT_SECS: u64 = 5 * 60;

/// Longest lockout, however often it repeats (one day): doubling without
/// bound would let an attacker at the keyboard lock the owner out for
/// good.
pub const MAX_LOCKOUT_SECS: u64 = 24 * 60 * 60;

/// Everything the gate remembers between calls: enrolment stage, replay
/// counter, failure counters and lockout, recovery-code hashes.
///
/// It holds no secret (the seed is sealed by the vault and passed in
/// unsealed only for the duration of a check; recovery codes are kept as
/// keyed hashes), so it is `Serialize` and safe to persist as is. It must be
/// stored after **every** call that takes `&mut self`, failed ones included,
/// and in a transaction that commits even when the gated action is refused:
/// otherwise restarting the app would reset the throttle.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaState {
    /// The confirmed enrolment, whose seed is the vault's active sealed seed.
    pub(crate) active: Option<Stage>,
    /// An enrolment waiting for its confirmation code, whose seed is the
    /// vault's pending sealed seed. While it waits, `active` (if any) stays
    /// in force.
    pub(crate) pending: Option<Stage>,
    /// Wrong codes since the last success or lockout.
    pub(crate) consecutive_failures: u32,
    /// Codes are not checked before this unix time.
    pub(crate) locked_until: Option<u64>,
    /// Lockouts since the last success; the next lockout lasts
    /// `BASE_LOCKOUT_SECS * 2^lockout_count`.
    pub(crate) lockout_count: u32,
}

/// One enrolment (active or pending): when it started, the last time step
/// accepted for its seed, and its recovery codes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stage {
    /// Unix time of enrolment (pending) or confirmation (active).
    pub(crate) since: u64,
    /// The last accepted TOTP time step for this seed: a code for this step
    /// or an earlier one is a replay.
    pub(crate) last_step: Option<u64>,
    /// Keyed hashes of the recovery codes, in the order they were shown.
    pub(crate) recovery: Vec<RecoverySlot>,
}

/// One recovery code, as its keyed hash, and when it was used.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RecoverySlot {
    /// HMAC-SHA256 of the normalized code under the [`MfaKey`].
    #[serde(with = "hex32")]
    pub(crate) hash: [u8; 32],
    /// Unix time it was spent, if it was.
    pub(crate) used_at: Option<u64>,
}

/// What the gate needs from the vault for one check: the active seed
/// (unsealed for this call only) and the vault-derived MFA key.
pub struct MfaKeys<'a> {
    /// The active TOTP seed; `None` only when MFA is not enrolled.
    pub seed: Option<&'a TotpSeed>,
    /// Hashes recovery codes (and authenticates the stored state).
    pub key: &'a MfaKey,
}

/// A new enrolment, to be shown to the user once.
///
/// The caller seals [`Enrolment::seed`] as the *pending* seed, shows the
/// URI (as a QR code) and the base32 secret, and shows the recovery codes
/// with a prompt to save them. None of it is stored in plaintext; none of
/// it is `Serialize`, so a DTO carrying it is built field by field, on
/// purpose, in the enrolment command only.
pub struct Enrolment {
    seed: TotpSeed,
    secret_base32: SecretString,
    otpauth_uri: SecretString,
    recovery_codes: Vec<RecoveryCode>,
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

/// A summary of the MFA state that is safe to show and serialize (the
/// answer to `keyward mfa status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MfaSummary {
    /// MFA is active: gated actions need a TOTP or recovery code.
    pub enrolled: bool,
    /// An enrolment is waiting for its confirmation code.
    pub pending: bool,
    /// Unused recovery codes of the active enrolment.
    pub recovery_codes_left: usize,
    /// While locked: the unix time codes are checked again.
    pub locked_until: Option<u64>,
    /// Wrong codes since the last success or lockout.
    pub consecutive_failures: u32,
}

impl MfaState {
    /// The state of a vault where MFA has never been enrolled.
    pub fn new() -> Self {
        MfaState::default()
    }

    /// MFA is active (a confirmed enrolment exists).
    pub fn is_enrolled(&self) -> bool {
        self.active.is_some()
    }

    /// An enrolment is waiting for confirmation.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// The last accepted time step of the active seed.
    pub fn last_accepted_step(&self) -> Option<u64> {
        self.active.as_ref().and_then(|s| s.last_step)
    }

    /// Wrong codes since the last success or lockout.
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// Lockouts since the last success.
    pub fn lockout_count(&self) -> u32 {
        self.lockout_count
    }

    /// When step-up unlocks again, if it is locked at `now`.
    pub fn locked_until(&self, now: SystemTime) -> Option<SystemTime> {
        self.locked_until
            .filter(|&until| unix_secs(now) < until)
            .map(from_unix_secs)
    }

    /// Unused recovery codes of the active enrolment.
    pub fn recovery_codes_left(&self) -> usize {
        self.active.as_ref().map_or(0, |s| {
            s.recovery.iter().filter(|r| r.used_at.is_none()).count()
        })
    }

    /// What may be shown about this state at `now`.
    pub fn summary(&self, now: SystemTime) -> MfaSummary {
        MfaSummary {
            enrolled: self.is_enrolled(),
            pending: self.is_pending(),
            recovery_codes_left: self.recovery_codes_left(),
            locked_until: self.locked_until(now).map(unix_secs),
            consecutive_failures: self.consecutive_failures,
        }
    }

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

    fn check_throttle(&mut self, now: SystemTime) -> Result<(), MfaError> {
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
    fn record_failure(&mut self, now: SystemTime, err: MfaError) -> MfaError {
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

    fn record_success(&mut self) {
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

impl fmt::Debug for MfaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MfaState")
            .field("enrolled", &self.is_enrolled())
            .field("pending", &self.is_pending())
            .field("last_accepted_step", &self.last_accepted_step())
            .field("consecutive_failures", &self.consecutive_failures)
            .field("locked_until", &self.locked_until)
            .field("lockout_count", &self.lockout_count)
            .field("recovery_codes_left", &self.recovery_codes_left())
            .finish()
    }
}

/// How long the lockout after `previous` earlier lockouts lasts.
fn lockout_secs(previous: u32) -> u64 {
    let factor = 1u64.checked_shl(previous).unwrap_or(u64::MAX);
    BASE_LOCKOUT_SECS
        .saturating_mul(factor)
        .min(MAX_LOCKOUT_SECS)
}

enum TotpCheck {
    Accepted(u64),
    Replayed,
    /// Not six digits.
    Malformed,
    Invalid,
}

/// Checks `code` against `seed` at `now` ±1 step, refusing any step not
/// later than `last_step`.
fn check_totp(
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

/// `[u8; 32]` as lower-case hex in serialized state.
mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        let mut out = String::with_capacity(64);
        for b in bytes {
            out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
        }
        s.serialize_str(&out)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        let raw = text.as_bytes();
        if raw.len() != 64 {
            return Err(D::Error::custom("expected 64 hex digits"));
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            let hi = nibble(raw[2 * i]).ok_or_else(|| D::Error::custom("bad hex digit"))?;
            let lo = nibble(raw[2 * i + 1]).ok_or_else(|| D::Error::custom("bad hex digit"))?;
            *byte = (hi << 4) | lo;
        }
        Ok(out)
    }

    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mfa::PasswordVerified;
    use crate::mfa::actions;
    use secrecy::ExposeSecret;
    use std::time::{Duration, UNIX_EPOCH};

    const T0: u64 = 1_700_000_010; // 10 s into a step

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn enrolled() -> (MfaState, TotpSeed, MfaKey, Vec<RecoveryCode>) {
        let key = MfaKey::derive(&[9; 32]);
        let mut state = MfaState::new();
        let enrolment = state.enrol("test vault", &key, at(T0)).unwrap();
        let Enrolment {
            seed,
            recovery_codes,
            ..
        } = enrolment;
        state.confirm(&seed, &seed.code_at(at(T0)), at(T0)).unwrap();
        (state, seed, key, recovery_codes)
    }

    #[test]
    fn enrolment_produces_uri_secret_and_ten_codes() {
        let key = MfaKey::derive(&[9; 32]);
        let mut state = MfaState::new();
        let e = state.enrol("desk", &key, at(T0)).unwrap();
        assert!(
            e.otpauth_uri()
                .expose_secret()
                .starts_with("otpauth://totp/Keyward:desk?secret=")
        );
        assert!(e.otpauth_uri().expose_secret().ends_with("&issuer=Keyward"));
        assert_eq!(e.secret_base32().expose_secret().len(), 32);
        assert_eq!(e.recovery_codes().len(), 10);
        assert!(state.is_pending());
        assert!(!state.is_enrolled());
        assert_eq!(format!("{e:?}"), "Enrolment([REDACTED])");
    }

    #[test]
    fn password_proof_only_before_enrolment() {
        let key = MfaKey::derive(&[9; 32]);
        let mut state = MfaState::new();
        let keys = MfaKeys {
            seed: None,
            key: &key,
        };
        let grant = state
            .require_step_up::<actions::DeleteKey>(
                &keys,
                Some(Proof::MasterPassword(PasswordVerified::attest())),
                at(T0),
            )
            .unwrap();
        assert_eq!(grant.method(), ProofMethod::MasterPassword);

        let (mut state, seed, key, _) = enrolled();
        let keys = MfaKeys {
            seed: Some(&seed),
            key: &key,
        };
        assert!(matches!(
            state.require_step_up::<actions::DeleteKey>(
                &keys,
                Some(Proof::MasterPassword(PasswordVerified::attest())),
                at(T0 + 60),
            ),
            Err(MfaError::StepUpRequired {
                action: GatedAction::DeleteKey
            })
        ));
    }

    #[test]
    fn pending_enrolment_is_not_active() {
        let key = MfaKey::derive(&[9; 32]);
        let mut state = MfaState::new();
        let e = state.enrol("desk", &key, at(T0)).unwrap();
        let keys = MfaKeys {
            seed: Some(e.seed()),
            key: &key,
        };
        assert!(matches!(
            state.require_step_up::<actions::RevealSecret>(
                &keys,
                Some(Proof::Totp(e.seed().code_at(at(T0)))),
                at(T0)
            ),
            Err(MfaError::NotEnrolled)
        ));
        // Before enrolment completes, the password still works.
        assert!(
            state
                .require_step_up::<actions::RevealSecret>(
                    &keys,
                    Some(Proof::MasterPassword(PasswordVerified::attest())),
                    at(T0)
                )
                .is_ok()
        );
    }

    #[test]
    fn reenrolment_keeps_old_seed_until_confirmed() {
        let (mut state, old_seed, key, _) = enrolled();
        let keys = MfaKeys {
            seed: Some(&old_seed),
            key: &key,
        };
        let t = T0 + 30;
        let grant = state
            .require_step_up::<actions::ReenrolMfa>(
                &keys,
                Some(Proof::Totp(old_seed.code_at(at(t)))),
                at(t),
            )
            .unwrap();
        let e = state.reenrol(grant, "desk", &key, at(t)).unwrap();
        assert!(state.is_enrolled() && state.is_pending());
        // The old seed still gates actions.
        let t = t + 30;
        let _grant = state
            .require_step_up::<actions::RevealSecret>(
                &keys,
                Some(Proof::Totp(old_seed.code_at(at(t)))),
                at(t),
            )
            .unwrap();
        // Confirmation within the same time step works: replay protection is
        // per seed.
        state
            .confirm(e.seed(), &e.seed().code_at(at(t)), at(t))
            .unwrap();
        assert!(!state.is_pending());
        let keys = MfaKeys {
            seed: Some(e.seed()),
            key: &key,
        };
        let t = t + 30;
        assert!(matches!(
            state.require_step_up::<actions::RevealSecret>(
                &keys,
                Some(Proof::Totp(old_seed.code_at(at(t)))),
                at(t)
            ),
            Err(MfaError::InvalidCode)
        ));
        let _grant = state
            .require_step_up::<actions::RevealSecret>(
                &keys,
                Some(Proof::Totp(e.seed().code_at(at(t)))),
                at(t),
            )
            .unwrap();
    }

    #[test]
    fn an_enrolled_state_refuses_a_second_first_enrolment() {
        // A grant for another action cannot disable or re-enrol: that is a
        // type error (`StepUpGrant<A>`), see the compile-fail example on
        // `StepUpGrant`.
        let (mut state, _, key, _) = enrolled();
        let t = T0 + 30;
        assert!(matches!(
            state.enrol("again", &key, at(t)),
            Err(MfaError::AlreadyEnrolled)
        ));
    }

    #[test]
    fn disable_turns_mfa_off() {
        let (mut state, seed, key, _) = enrolled();
        let keys = MfaKeys {
            seed: Some(&seed),
            key: &key,
        };
        let t = T0 + 30;
        let grant = state
            .require_step_up::<actions::DisableMfa>(
                &keys,
                Some(Proof::Totp(seed.code_at(at(t)))),
                at(t),
            )
            .unwrap();
        state.disable(grant).unwrap();
        assert!(!state.is_enrolled());
        assert_eq!(state.recovery_codes_left(), 0);
    }

    #[test]
    fn regenerated_recovery_codes_replace_the_old_ones() {
        let (mut state, seed, key, old_codes) = enrolled();
        let keys = MfaKeys {
            seed: Some(&seed),
            key: &key,
        };
        let t = T0 + 30;
        let grant = state
            .require_step_up::<actions::SecuritySettings>(
                &keys,
                Some(Proof::Totp(seed.code_at(at(t)))),
                at(t),
            )
            .unwrap();
        let new_codes = state.regenerate_recovery_codes(grant, &key).unwrap();
        assert_eq!(new_codes.len(), 10);
        let old = RecoveryCode::new(old_codes[0].expose_secret());
        assert!(matches!(
            state.require_step_up::<actions::RevealSecret>(
                &keys,
                Some(Proof::RecoveryCode(old)),
                at(t)
            ),
            Err(MfaError::InvalidRecoveryCode)
        ));
        let new = RecoveryCode::new(new_codes[0].expose_secret());
        let _grant = state
            .require_step_up::<actions::RevealSecret>(&keys, Some(Proof::RecoveryCode(new)), at(t))
            .unwrap();
    }

    #[test]
    fn missing_seed_is_an_internal_error_not_a_pass() {
        let (mut state, seed, key, _) = enrolled();
        let keys = MfaKeys {
            seed: None,
            key: &key,
        };
        assert!(matches!(
            state.require_step_up::<actions::RevealSecret>(
                &keys,
                Some(Proof::Totp(seed.code_at(at(T0 + 30)))),
                at(T0 + 30)
            ),
            Err(MfaError::SeedUnavailable)
        ));
    }

    #[test]
    fn lockout_duration_doubles_and_caps() {
        assert_eq!(lockout_secs(0), 300);
        assert_eq!(lockout_secs(1), 600);
        assert_eq!(lockout_secs(2), 1200);
        assert_eq!(lockout_secs(8), 300 * 256);
        assert_eq!(lockout_secs(9), MAX_LOCKOUT_SECS);
        assert_eq!(lockout_secs(u32::MAX), MAX_LOCKOUT_SECS);
    }

    #[test]
    fn corrupt_serialized_hash_is_rejected() {
        let (state, ..) = enrolled();
        let json = serde_json::to_string(&state).unwrap();
        let idx = json.find("\"hash\":\"").unwrap() + 8;
        let mut broken = json.clone();
        broken.replace_range(idx..idx + 1, "z");
        assert!(serde_json::from_str::<MfaState>(&broken).is_err());
        let mut short = json;
        short.replace_range(idx..idx + 2, "");
        assert!(serde_json::from_str::<MfaState>(&short).is_err());
    }

    #[test]
    fn debug_shows_counters_not_hashes() {
        let (state, ..) = enrolled();
        let text = format!("{state:?}");
        assert!(text.contains("recovery_codes_left: 10"));
        assert!(!text.contains("hash"));
    }
}
