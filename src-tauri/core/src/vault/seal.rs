//! AES-256-GCM sealing of single fields and of key wraps.
//!
//! Owns: the sealed-blob byte layout `version (1) ‖ nonce (12) ‖ ciphertext ‖
//! tag (16)` and the associated data that binds a blob to its place:
//! `vault id (16) ‖ record id (16) ‖ field name`. Because both ids have a fixed
//! length and the field name comes last, the encoding is unambiguous, and a
//! ciphertext copied to another record, field or vault fails to open.
//! Must never: reuse a nonce (each seal draws 96 fresh random bits from the
//! OS), return plaintext in a buffer that is not zeroized on drop, or say
//! anything about the plaintext in an error.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use thiserror::Error;
use zeroize::Zeroizing;

use super::secret::{KEY_LEN, Plaintext};

/// Layout version of a sealed blob.
pub const SEAL_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Bytes a sealed blob adds to its plaintext.
pub const SEAL_OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

/// Why a sealed blob did not open. Deliberately coarse: a failed tag says
/// nothing about which byte was wrong.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealError {
    /// Shorter than the fixed overhead.
    #[error("sealed value is truncated")]
    Truncated,
    /// Unknown layout version byte.
    #[error("sealed value has unknown version {0}")]
    UnknownVersion(u8),
    /// The tag did not verify: wrong key, wrong place, or tampered bytes.
    #[error("sealed value failed authentication")]
    BadTag,
    /// The OS random generator failed.
    #[error("the system random generator failed")]
    Random,
}

/// Associated data for a field: `vault id ‖ record id ‖ field name`.
pub(crate) fn aad(vault_id: &[u8; 16], record_id: &[u8; 16], field: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + field.len());
    out.extend_from_slice(vault_id);
    out.extend_from_slice(record_id);
    out.extend_from_slice(field.as_bytes());
    out
}

/// Seals `plaintext` under `key` with `aad`.
pub(crate) fn seal(
    key: &[u8; KEY_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, SealError> {
    let cipher = Aes256Gcm::new(key.into());
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|_| SealError::Random)?;
    let mut out = Vec::with_capacity(SEAL_OVERHEAD + plaintext.len());
    out.push(SEAL_VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag = cipher
        .encrypt_inout_detached(&Nonce::from(nonce), aad, (&mut out[1 + NONCE_LEN..]).into())
        .map_err(|_| SealError::BadTag)?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Opens a blob made by [`seal`]; the plaintext is zeroized when dropped.
pub(crate) fn open(key: &[u8; KEY_LEN], aad: &[u8], sealed: &[u8]) -> Result<Plaintext, SealError> {
    if sealed.len() < SEAL_OVERHEAD {
        return Err(SealError::Truncated);
    }
    if sealed[0] != SEAL_VERSION {
        return Err(SealError::UnknownVersion(sealed[0]));
    }
    let cipher = Aes256Gcm::new(key.into());
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&sealed[1..1 + NONCE_LEN]);
    let body = &sealed[1 + NONCE_LEN..sealed.len() - TAG_LEN];
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&sealed[sealed.len() - TAG_LEN..]);
    let mut buf = Zeroizing::new(body.to_vec());
    cipher
        .decrypt_inout_detached(
            &Nonce::from(nonce),
            aad,
            buf.as_mut_slice().into(),
            &tag.into(),
        )
        .map_err(|_| SealError::BadTag)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; KEY_LEN] = [7; KEY_LEN];

    #[test]
    fn round_trip_and_fresh_nonces() {
        let a = seal(&KEY, b"ctx", b"hello").unwrap();
        let b = seal(&KEY, b"ctx", b"hello").unwrap();
        assert_ne!(a, b, "two seals of one value must differ");
        assert_eq!(open(&KEY, b"ctx", &a).unwrap().as_slice(), b"hello");
    }

    #[test]
    fn bad_tag_is_detected_for_every_byte() {
        let sealed = seal(&KEY, b"ctx", b"secret value").unwrap();
        for i in 1..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert_eq!(open(&KEY, b"ctx", &bad), Err(SealError::BadTag), "byte {i}");
        }
    }

    #[test]
    fn wrong_aad_or_key_fails() {
        let sealed = seal(&KEY, b"vault|rec1|secret", b"x").unwrap();
        assert_eq!(
            open(&KEY, b"vault|rec2|secret", &sealed),
            Err(SealError::BadTag)
        );
        assert_eq!(
            open(&[8; KEY_LEN], b"vault|rec1|secret", &sealed),
            Err(SealError::BadTag)
        );
    }

    #[test]
    fn bad_version_and_truncation() {
        let mut sealed = seal(&KEY, b"", b"abc").unwrap();
        assert_eq!(
            open(&KEY, b"", &sealed[..SEAL_OVERHEAD - 1]),
            Err(SealError::Truncated)
        );
        assert_eq!(open(&KEY, b"", &[]), Err(SealError::Truncated));
        assert_eq!(
            open(&KEY, b"", &sealed[..sealed.len() - 1]),
            Err(SealError::BadTag)
        );
        sealed[0] = 9;
        assert_eq!(open(&KEY, b"", &sealed), Err(SealError::UnknownVersion(9)));
    }

    #[test]
    fn aad_layout_is_fixed() {
        let a = aad(&[1; 16], &[2; 16], "secret");
        assert_eq!(&a[..16], &[1; 16]);
        assert_eq!(&a[16..32], &[2; 16]);
        assert_eq!(&a[32..], b"secret");
    }
}
