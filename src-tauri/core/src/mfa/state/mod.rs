//! The verification state machine: enrolment, confirmation, the gate,
//! throttling and recovery codes, as plain data that can be persisted.
//! `enrolment` starts, confirms, replaces and ends an enrolment; `gate`
//! checks a step-up proof and keeps the throttle.

mod enrolment;
mod gate;

pub use enrolment::Enrolment;

use std::fmt;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::key::MfaKey;
use super::seed::TotpSeed;
use super::time::{from_unix_secs, unix_secs};

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
    use super::gate::lockout_secs;
    use super::*;
    use crate::mfa::actions;
    use crate::mfa::recovery::RecoveryCode;
    use crate::mfa::{GatedAction, MfaError, PasswordVerified, Proof, ProofMethod};
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
