//! Recovery codes: generation, normalization and keyed hashing.
//!
//! # Why HMAC-SHA256 under a vault-derived key, not a slow password hash
//!
//! A recovery code carries 80 random bits, not a human-chosen password, so a
//! slow hash buys nothing against guessing: 2^80 HMAC evaluations are out of
//! reach either way. What matters is that a copied vault file does not let
//! anyone test candidate codes offline, and that is exactly what keying the
//! hash with a subkey of the vault key gives: without the master password
//! there is no vault key, hence no [`super::MfaKey`], hence nothing to test a
//! guess against. Whoever does hold the vault key can already decrypt the TOTP
//! seed, so the hashes protect nothing further from them. A fast keyed hash
//! also keeps verification constant-time across all ten slots without paying
//! ten Argon2 runs per attempt.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use super::MfaError;

/// How many recovery codes an enrolment gets.
pub const RECOVERY_CODE_COUNT: usize = 10;

/// Random bytes per recovery code (80 bits: 16 base32 characters).
const CODE_BYTES: usize = 10;

/// Characters per code before grouping.
const CODE_CHARS: usize = 16;

/// RFC 4648 base32: no 0/1/8/9, so the code reads unambiguously.
const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// One recovery code in plaintext, as shown once at enrolment or as typed by
/// the user. Zeroized; no `Serialize`; redacted `Debug`.
pub struct RecoveryCode(SecretString);

impl RecoveryCode {
    /// Wraps what the user typed. Case, spaces and dashes do not matter, and
    /// the look-alikes 0, 1 and 8 are read as O, I and B.
    pub fn new(code: impl Into<String>) -> Self {
        RecoveryCode(SecretString::from(code.into()))
    }

    /// The code, grouped for display (`ABCD-EFGH-IJKL-MNOP`), for the one
    /// time it is shown to the user.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// A fresh random code from the operating system's CSPRNG.
    pub(crate) fn generate() -> Result<Self, MfaError> {
        let mut bytes = Zeroizing::new([0u8; CODE_BYTES]);
        getrandom::fill(bytes.as_mut()).map_err(|_| MfaError::Random)?;
        let chars = Zeroizing::new(base32(&bytes));
        let mut grouped = String::with_capacity(CODE_CHARS + 3);
        for (i, c) in chars.iter().enumerate() {
            if i > 0 && i % 4 == 0 {
                grouped.push('-');
            }
            grouped.push(char::from(*c));
        }
        Ok(RecoveryCode(SecretString::from(grouped)))
    }

    /// The canonical form that is hashed: 16 upper-case base32 characters,
    /// or `None` if the input cannot be a recovery code.
    pub(crate) fn normalized(&self) -> Option<Zeroizing<String>> {
        let mut out = Zeroizing::new(String::with_capacity(CODE_CHARS));
        for c in self.0.expose_secret().chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            let c = match c.to_ascii_uppercase() {
                '0' => 'O',
                '1' => 'I',
                '8' => 'B',
                c => c,
            };
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
                return None;
            }
            if out.len() == CODE_CHARS {
                return None;
            }
            out.push(c);
        }
        (out.len() == CODE_CHARS).then_some(out)
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode([REDACTED])")
    }
}

impl From<&str> for RecoveryCode {
    fn from(code: &str) -> Self {
        RecoveryCode::new(code)
    }
}

impl From<String> for RecoveryCode {
    fn from(code: String) -> Self {
        RecoveryCode::new(code)
    }
}

/// Base32 of exactly 10 bytes (80 bits, 16 characters, no padding).
fn base32(bytes: &[u8; CODE_BYTES]) -> [u8; CODE_CHARS] {
    let mut out = [0u8; CODE_CHARS];
    let mut acc: u128 = 0;
    for b in bytes {
        acc = (acc << 8) | u128::from(*b);
    }
    for (i, slot) in out.iter_mut().enumerate() {
        let shift = 5 * (CODE_CHARS - 1 - i);
        *slot = ALPHABET[((acc >> shift) & 0x1f) as usize];
    }
    acc.zeroize();
    out
}

/// Constant-time equality of two hashes.
pub(crate) fn hash_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_are_grouped_base32_and_distinct() {
        let a = RecoveryCode::generate().unwrap();
        let b = RecoveryCode::generate().unwrap();
        let s = a.expose_secret();
        assert_eq!(s.len(), 19);
        assert_eq!(s.matches('-').count(), 3);
        assert!(s.chars().all(|c| c == '-' || ALPHABET.contains(&(c as u8))));
        assert_ne!(a.expose_secret(), b.expose_secret());
    }

    #[test]
    fn normalization_is_forgiving_but_strict_about_content() {
        let canon = "ABCDEFGHIJKLMNOP";
        for typed in [
            "ABCD-EFGH-IJKL-MNOP",
            "abcd efgh ijkl mnop",
            "abcdefghijklmnop",
            " ABCD-EFGH-1JKL-MN0P ",
        ] {
            assert_eq!(
                RecoveryCode::new(typed)
                    .normalized()
                    .as_deref()
                    .map(String::as_str),
                Some(canon),
                "{typed}"
            );
        }
        for bad in [
            "",
            "ABCD-EFGH-IJKL-MNO",
            "ABCD-EFGH-IJKL-MNOPQ",
            "ABCD-EFGH-IJKL-MNO9",
            "ABCD-EFGH-IJKL-MNOÄ",
        ] {
            assert!(RecoveryCode::new(bad).normalized().is_none(), "{bad}");
        }
    }

    #[test]
    fn base32_known_answer() {
        // RFC 4648 §10: BASE32("fooba") = "MZXW6YTB"; twice gives 16 chars.
        assert_eq!(&base32(b"foobafooba"), b"MZXW6YTBMZXW6YTB");
    }

    #[test]
    fn debug_is_redacted() {
        let code = RecoveryCode::new("ABCD-EFGH-IJKL-MNOP");
        assert!(!format!("{code:?}").contains("ABCD"));
    }
}
