//! The MFA module's key, derived from the vault key.

use std::fmt;

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretBox};
use sha2::Sha256;

/// HKDF `info` of the recovery-code hashing subkey.
const RECOVERY_INFO: &[u8] = b"keyward mfa recovery v1";
/// HKDF `info` of the stored-state MAC subkey.
const STATE_INFO: &[u8] = b"keyward mfa state v1";
/// Domain separation inside the recovery-code HMAC input.
const RECOVERY_DOMAIN: &[u8] = b"keyward recovery code v1\0";

/// Keys of the MFA module, derived with HKDF-SHA256 from the vault key (the
/// random 256-bit key the master password unwraps), so they stay the same
/// across master-password changes.
///
/// Two independent subkeys: one hashes recovery codes (see the
/// `recovery` module docs for why a keyed hash), one authenticates the
/// stored MFA state so that edited counters or a swapped recovery hash are
/// caught as an integrity failure. Zeroized on drop; no `Serialize`;
/// redacted `Debug`.
pub struct MfaKey {
    recovery: SecretBox<[u8; 32]>,
    state: SecretBox<[u8; 32]>,
}

impl MfaKey {
    /// Derives both subkeys from the vault key.
    pub fn derive(vault_key: &[u8]) -> Self {
        MfaKey {
            recovery: subkey(vault_key, RECOVERY_INFO),
            state: subkey(vault_key, STATE_INFO),
        }
    }

    /// HMAC-SHA256 of a normalized recovery code.
    pub(crate) fn hash_recovery_code(&self, normalized: &str) -> [u8; 32] {
        let mut mac = hmac(self.recovery.expose_secret());
        mac.update(RECOVERY_DOMAIN);
        mac.update(normalized.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// HMAC-SHA256 of the canonical encoding of the stored state.
    pub(crate) fn state_mac(&self, encoded: &[u8]) -> [u8; 32] {
        let mut mac = hmac(self.state.expose_secret());
        mac.update(encoded);
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for MfaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MfaKey([REDACTED])")
    }
}

fn subkey(ikm: &[u8], info: &[u8]) -> SecretBox<[u8; 32]> {
    SecretBox::init_with_mut(|okm: &mut [u8; 32]| {
        // HKDF-SHA256 can expand up to 255 * 32 bytes; 32 always fits.
        if Hkdf::<Sha256>::new(None, ikm).expand(info, okm).is_err() {
            unreachable!("HKDF-SHA256 expands 32 bytes");
        }
    })
}

fn hmac(key: &[u8; 32]) -> Hmac<Sha256> {
    <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mfa::recovery::hash_eq;

    #[test]
    fn hash_depends_on_key_and_code() {
        let k1 = MfaKey::derive(&[1; 32]);
        let k2 = MfaKey::derive(&[2; 32]);
        let h = k1.hash_recovery_code("ABCDEFGHIJKLMNOP");
        assert!(hash_eq(&h, &k1.hash_recovery_code("ABCDEFGHIJKLMNOP")));
        assert!(!hash_eq(&h, &k2.hash_recovery_code("ABCDEFGHIJKLMNOP")));
        assert!(!hash_eq(&h, &k1.hash_recovery_code("ABCDEFGHIJKLMNOQ")));
    }

    #[test]
    fn subkeys_are_independent() {
        let k = MfaKey::derive(&[1; 32]);
        assert_ne!(k.recovery.expose_secret(), k.state.expose_secret());
    }

    #[test]
    fn debug_is_redacted() {
        assert_eq!(
            format!("{:?}", MfaKey::derive(&[1; 32])),
            "MfaKey([REDACTED])"
        );
    }
}
