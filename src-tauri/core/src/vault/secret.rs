//! One newtype per secret role.
//!
//! Owns: the in-memory representation of the vault's own secrets (the key
//! record's API secret and passphrase are [`crate::model::ApiSecret`] and
//! [`crate::model::Passphrase`]).
//! Must never: implement `Serialize`, `Display` or a revealing `Debug`, or
//! hand out a copy that is not zeroized on drop. Leaking one of these into a
//! DTO or a log line is meant to be a compile error, not a review finding.

use std::fmt;

use secrecy::{ExposeSecret, SecretBox, SecretString};
use zeroize::Zeroizing;

use crate::model::secret::{redacted_debug, text_secret};

text_secret!(
    /// The master password. It only ever feeds Argon2id.
    MasterPassword
);
text_secret!(
    /// The passphrase protecting an exported backup file.
    BackupPassphrase
);

/// Length in bytes of every symmetric key in the vault.
pub const KEY_LEN: usize = 32;

macro_rules! key_secret {
    ($(#[$doc:meta])* $ty:ident) => {
        $(#[$doc])*
        pub struct $ty(SecretBox<[u8; KEY_LEN]>);

        impl $ty {
            /// A fresh key from the operating system's RNG.
            #[allow(dead_code)]
            pub(crate) fn generate() -> Result<Self, getrandom::Error> {
                let mut key = SecretBox::new(Box::new([0u8; KEY_LEN]));
                getrandom::fill(secrecy::ExposeSecretMut::expose_secret_mut(&mut key))?;
                Ok($ty(key))
            }

            /// Builds the key in place from `bytes`, which must be `KEY_LEN`
            /// long. The caller zeroizes its own copy.
            pub(crate) fn from_slice(bytes: &[u8]) -> Option<Self> {
                if bytes.len() != KEY_LEN {
                    return None;
                }
                let mut key = SecretBox::new(Box::new([0u8; KEY_LEN]));
                secrecy::ExposeSecretMut::expose_secret_mut(&mut key).copy_from_slice(bytes);
                Some($ty(key))
            }

            pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
                self.0.expose_secret()
            }
        }

        redacted_debug!($ty);
    };
}

/// The random 256-bit key that seals every field of one vault, with the
/// root of the MAC subkeys that must outlive a change of that key. It
/// exists in memory only while a [`super::Session`] is unlocked and is
/// zeroized when the session is locked or dropped.
///
/// The audit chain, the MFA record (with the recovery-code hashes, which
/// cannot be recomputed without the codes) and the webhook outbox are MAC'd
/// under subkeys of [`VaultKey::mac_root`]. In a vault whose key never
/// changed that root is the vault key itself; after a key rotation it is
/// the previous root, kept sealed under the new key. Every row it
/// authenticates is also bound by the state seal, which is sealed under the
/// current key, so holding an old key forges nothing that goes unnoticed.
pub struct VaultKey {
    key: SecretBox<[u8; KEY_LEN]>,
    root: Option<SecretBox<[u8; KEY_LEN]>>,
}

fn key_box(bytes: &[u8]) -> Option<SecretBox<[u8; KEY_LEN]>> {
    if bytes.len() != KEY_LEN {
        return None;
    }
    let mut key = SecretBox::new(Box::new([0u8; KEY_LEN]));
    secrecy::ExposeSecretMut::expose_secret_mut(&mut key).copy_from_slice(bytes);
    Some(key)
}

impl VaultKey {
    /// A fresh key from the operating system's RNG (its own MAC root).
    pub(crate) fn generate() -> Result<Self, getrandom::Error> {
        let mut key = SecretBox::new(Box::new([0u8; KEY_LEN]));
        getrandom::fill(secrecy::ExposeSecretMut::expose_secret_mut(&mut key))?;
        Ok(VaultKey { key, root: None })
    }

    /// Builds the key in place from `bytes`, which must be `KEY_LEN` long.
    /// The caller zeroizes its own copy.
    pub(crate) fn from_slice(bytes: &[u8]) -> Option<Self> {
        Some(VaultKey {
            key: key_box(bytes)?,
            root: None,
        })
    }

    /// This key with another MAC root (read from the vault header).
    pub(crate) fn with_mac_root(self, root: &[u8]) -> Option<Self> {
        Some(VaultKey {
            root: Some(key_box(root)?),
            ..self
        })
    }

    /// The sealing key.
    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        self.key.expose_secret()
    }

    /// The root of the audit, MFA and outbox MAC subkeys.
    pub(crate) fn mac_root(&self) -> &[u8; KEY_LEN] {
        self.root
            .as_ref()
            .map_or_else(|| self.key.expose_secret(), |r| r.expose_secret())
    }
}

redacted_debug!(VaultKey);
key_secret!(
    /// The key derived from the master password by Argon2id; it only wraps
    /// and unwraps the vault key.
    KeyEncryptionKey
);
key_secret!(
    /// The random key kept in the OS keyring for "remember on this device".
    DeviceKey
);

/// Plaintext bytes that are zeroized when dropped (decrypted fields).
pub(crate) type Plaintext = Zeroizing<Vec<u8>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let pw = MasterPassword::from("hunter2-canary");
        let secret = crate::model::ApiSecret::from("s3cr3t-canary");
        let key = VaultKey::generate().unwrap();
        let shown = format!("{pw:?} {secret:?} {key:?}");
        assert!(!shown.contains("canary"));
        assert!(shown.contains("redacted"));
    }
}
