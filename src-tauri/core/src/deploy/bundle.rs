//! The sealed bundle: the environment of `keyward run` for the keys granted
//! to one target, sealed with the `age` crate to the target's recipient,
//! and opened again in memory on the server.
//!
//! Plaintext layout (inside the age file only): `keyward-bundle v1\n`, a
//! big-endian `u32` count, then per variable a `u32` length and the name, a
//! `u32` length and the value. It lives in one zeroizing buffer allocated
//! at its final size, never in a file.

use std::fmt;
use std::io::{Read, Write};

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::error::DeployError;
use super::target::Recipient;

const MAGIC: &[u8] = b"keyward-bundle v1\n";
/// Largest bundle read back (a few hundred keys' worth).
pub(super) const MAX_BUNDLE: usize = 4 * 1024 * 1024;

/// One variable of a bundle. `Debug` shows the name only.
pub struct BundleVar {
    /// The environment variable name (as `keyward run` names it).
    pub name: String,
    /// The value.
    pub value: SecretString,
}

impl fmt::Debug for BundleVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BundleVar({}, [redacted])", self.name)
    }
}

/// What a bundle holds: environment variables for the bot.
#[derive(Debug, Default)]
pub struct Bundle {
    /// The variables, in order.
    pub vars: Vec<BundleVar>,
}

impl Bundle {
    fn encode(&self) -> Zeroizing<Vec<u8>> {
        let size = MAGIC.len()
            + 4
            + self
                .vars
                .iter()
                .map(|v| 8 + v.name.len() + v.value.expose_secret().len())
                .sum::<usize>();
        let mut out = Zeroizing::new(Vec::with_capacity(size));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.vars.len() as u32).to_be_bytes());
        for v in &self.vars {
            for field in [v.name.as_bytes(), v.value.expose_secret().as_bytes()] {
                out.extend_from_slice(&(field.len() as u32).to_be_bytes());
                out.extend_from_slice(field);
            }
        }
        debug_assert_eq!(out.len(), size);
        out
    }

    fn decode(bytes: &[u8]) -> Option<Bundle> {
        let mut rest = bytes.strip_prefix(MAGIC)?;
        let mut take = |n: usize| -> Option<&[u8]> {
            if rest.len() < n {
                return None;
            }
            let (head, tail) = rest.split_at(n);
            rest = tail;
            Some(head)
        };
        let count = u32::from_be_bytes(take(4)?.try_into().ok()?) as usize;
        let mut vars = Vec::with_capacity(count.min(1024));
        for _ in 0..count {
            let len = u32::from_be_bytes(take(4)?.try_into().ok()?) as usize;
            let name = std::str::from_utf8(take(len)?).ok()?.to_owned();
            let len = u32::from_be_bytes(take(4)?.try_into().ok()?) as usize;
            let value = SecretString::from(std::str::from_utf8(take(len)?).ok()?.to_owned());
            vars.push(BundleVar { name, value });
        }
        if !rest.is_empty() {
            return None;
        }
        Some(Bundle { vars })
    }

    /// Seals the bundle to `recipient` (an `age1…` or `ssh-ed25519` key):
    /// the age file's bytes.
    pub(super) fn seal(&self, recipient: &str) -> Result<Vec<u8>, DeployError> {
        let recipient = Recipient::parse(recipient)?;
        let plaintext = self.encode();
        let encryptor = age::Encryptor::with_recipients(std::iter::once(recipient.as_dyn()))
            .map_err(|e| DeployError::Invalid(format!("cannot seal to the recipient: {e}")))?;
        let mut sealed = Vec::with_capacity(plaintext.len() + 512);
        let io = |e: std::io::Error| DeployError::Program {
            program: "age",
            reason: e.to_string(),
        };
        let mut writer = encryptor.wrap_output(&mut sealed).map_err(io)?;
        writer.write_all(&plaintext).map_err(io)?;
        writer.finish().map_err(io)?;
        Ok(sealed)
    }
}

/// Opens a sealed bundle with the server's identity (an age identity file
/// or an unencrypted OpenSSH ed25519 private key), in memory. `bundle_path`
/// and `identity_path` only name the files in errors.
pub fn open_bundle(
    sealed: &[u8],
    identity: &[u8],
    bundle_path: &str,
    identity_path: &str,
) -> Result<Bundle, DeployError> {
    let bad_identity = |reason: &str| DeployError::BadIdentity {
        path: identity_path.to_owned(),
        reason: reason.to_owned(),
    };
    let tampered = || DeployError::TamperedBundle {
        path: bundle_path.to_owned(),
    };
    let identities: Vec<Box<dyn age::Identity>> = if identity
        .windows(b"BEGIN OPENSSH PRIVATE KEY".len())
        .any(|w| w == b"BEGIN OPENSSH PRIVATE KEY")
    {
        match age::ssh::Identity::from_buffer(identity, Some(identity_path.to_owned())) {
            Ok(age::ssh::Identity::Unencrypted(key)) => {
                vec![Box::new(age::ssh::Identity::Unencrypted(key))]
            }
            Ok(age::ssh::Identity::Encrypted(_)) => {
                return Err(bad_identity(
                    "a passphrase-protected SSH key cannot be used; use `keyward identity new`",
                ));
            }
            _ => return Err(bad_identity("not a supported SSH private key")),
        }
    } else {
        age::IdentityFile::from_buffer(identity)
            .ok()
            .and_then(|f| f.into_identities().ok())
            .filter(|ids| !ids.is_empty())
            .ok_or_else(|| {
                bad_identity("not an age identity (AGE-SECRET-KEY-1…) or OpenSSH private key")
            })?
    };
    let decryptor = age::Decryptor::new_buffered(sealed).map_err(|_| tampered())?;
    if decryptor.is_scrypt() {
        return Err(tampered());
    }
    let mut reader = match decryptor.decrypt(identities.iter().map(|i| i.as_ref())) {
        Ok(r) => r,
        Err(age::DecryptError::NoMatchingKeys) => {
            return Err(DeployError::WrongIdentity {
                path: identity_path.to_owned(),
            });
        }
        Err(_) => return Err(tampered()),
    };
    // The plaintext is shorter than the sealed file: one allocation.
    let mut plaintext = Zeroizing::new(Vec::with_capacity(sealed.len()));
    reader
        .by_ref()
        .take(MAX_BUNDLE as u64)
        .read_to_end(&mut plaintext)
        .map_err(|_| tampered())?;
    Bundle::decode(&plaintext).ok_or_else(tampered)
}

/// A new age identity: the identity file's text (secret; write it 0600)
/// and its public recipient (`age1…`).
pub fn new_identity() -> (SecretString, String) {
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let text = format!(
        "# Keyward server identity: `keyward run --bundle FILE --identity THIS_FILE`\n\
         # public key: {recipient}\n{}\n",
        identity.to_string().expose_secret()
    );
    (SecretString::from(text), recipient)
}

#[cfg(test)]
pub(super) fn decode_for_tests(bytes: &[u8]) -> Option<Bundle> {
    Bundle::decode(bytes)
}
