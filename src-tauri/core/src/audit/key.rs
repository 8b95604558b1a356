//! The audit MAC key.

use std::fmt;

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit};
use secrecy::{ExposeSecret, SecretBox};
use sha2::Sha256;

/// HKDF `info` of the audit key. Versioned: a new chain format gets a new
/// key.
const HKDF_INFO: &[u8] = b"keyward audit v1";

/// The key the audit chain is MAC'd under, derived with HKDF-SHA256 from
/// the vault key. Zeroized on drop; no `Serialize`; redacted `Debug`.
///
/// Deriving it from the vault key (not the master password) keeps the
/// chain valid across password changes, and means a copied vault file
/// without the password cannot be used to forge entries.
pub struct AuditKey(SecretBox<[u8; 32]>);

impl AuditKey {
    /// Derives the audit key from the vault key.
    pub fn derive(vault_key: &[u8]) -> Self {
        AuditKey(SecretBox::init_with_mut(|okm: &mut [u8; 32]| {
            // HKDF-SHA256 can expand up to 255 * 32 bytes; 32 always fits.
            if Hkdf::<Sha256>::new(None, vault_key)
                .expand(HKDF_INFO, okm)
                .is_err()
            {
                unreachable!("HKDF-SHA256 expands 32 bytes");
            }
        }))
    }

    /// A fresh HMAC-SHA256 instance under this key.
    pub(crate) fn hmac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as KeyInit>::new_from_slice(self.0.expose_secret())
            .expect("HMAC accepts keys of any length")
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        assert_eq!(
            format!("{:?}", AuditKey::derive(&[3; 32])),
            "AuditKey([REDACTED])"
        );
    }
}
