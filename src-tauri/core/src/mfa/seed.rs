//! The TOTP seed and the one-time code a user types.

use std::fmt;
use std::time::SystemTime;

use secrecy::{ExposeSecret, SecretSlice, SecretString};
use subtle::{Choice, ConstantTimeEq};
use totp_rs::{Algorithm, Builder, Secret, Totp};
use zeroize::Zeroizing;

use super::MfaError;
use super::time::{STEP_SECS, unix_secs};

/// Digits of a Keyward TOTP code (what authenticator apps show by default).
pub const CODE_DIGITS: u8 = 6;

/// Issuer shown by authenticator apps next to the account name.
pub const ISSUER: &str = "Keyward";

/// The shared secret of a TOTP enrolment (160 random bits).
///
/// Held in a zeroizing [`SecretSlice`]; it has no `Serialize` and its `Debug`
/// is redacted, so it cannot reach a DTO, a log line or an error by accident.
/// At rest it exists only sealed by the vault: [`TotpSeed::expose_secret`]
/// is for that sealing and nothing else.
pub struct TotpSeed(SecretSlice<u8>);

impl TotpSeed {
    /// Length of a freshly generated seed in bytes (160 bits, as RFC 4226
    /// §4 recommends).
    pub const LEN: usize = 20;
    /// Shortest seed accepted from storage (RFC 4226's 128-bit minimum).
    pub const MIN_LEN: usize = 16;
    /// Longest seed accepted from storage.
    pub const MAX_LEN: usize = 64;

    /// A fresh seed from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, MfaError> {
        let mut bytes = Zeroizing::new(vec![0u8; Self::LEN]);
        getrandom::fill(&mut bytes).map_err(|_| MfaError::Random)?;
        Ok(TotpSeed(SecretSlice::from(bytes.to_vec())))
    }

    /// Wraps seed bytes the vault just unsealed. The input is moved into the
    /// secret (and zeroized if rejected).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, MfaError> {
        let bytes = Zeroizing::new(bytes);
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&bytes.len()) {
            return Err(MfaError::MalformedSeed);
        }
        Ok(TotpSeed(SecretSlice::from(bytes.to_vec())))
    }

    /// A seed from its base32 form (as shown at enrolment). For tools and
    /// tests that act as the authenticator app; the vault itself only ever
    /// stores the sealed bytes.
    pub fn from_base32(encoded: &str) -> Result<Self, MfaError> {
        let secret =
            Secret::try_from_base32(encoded.trim()).map_err(|_| MfaError::MalformedSeed)?;
        Self::from_bytes(secret.as_bytes().to_vec())
    }

    /// The raw seed, for the vault to seal. Never log, display or serialize
    /// it.
    pub fn expose_secret(&self) -> &[u8] {
        self.0.expose_secret()
    }

    /// The seed in RFC 4648 base32 without padding, for manual entry into an
    /// authenticator app.
    pub fn to_base32(&self) -> SecretString {
        SecretString::from(Secret::from(self.expose_secret()).to_base32())
    }

    /// The 6-digit code for the time step containing `at`.
    ///
    /// Anyone holding the seed can compute this; it exists so tests and the
    /// enrolment flow can show a code, not as a way to check one (use the
    /// step-up gate for that).
    pub fn code_at(&self, at: SystemTime) -> OneTimeCode {
        let code = self.code_for_step(unix_secs(at) / STEP_SECS, CODE_DIGITS);
        OneTimeCode::new(code.as_str())
    }

    /// The code with `digits` digits for time step `step`.
    pub(crate) fn code_for_step(&self, step: u64, digits: u8) -> Zeroizing<String> {
        let totp = self.totp(digits);
        Zeroizing::new(totp.generate(step.saturating_mul(STEP_SECS)).to_string())
    }

    /// The otpauth URI an authenticator app imports (usually as a QR code).
    pub(crate) fn otpauth_uri(&self, account_name: &str) -> Result<SecretString, MfaError> {
        let account_name = account_name.trim();
        if account_name.is_empty() || account_name.contains(':') {
            return Err(MfaError::InvalidAccountName);
        }
        let totp = Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(CODE_DIGITS)
            .with_step_duration(STEP_SECS)
            .with_secret(Secret::from(self.expose_secret()))
            .with_issuer(Some(ISSUER))
            .with_account_name(account_name)
            .build()
            .map_err(|_| MfaError::InvalidAccountName)?;
        let uri = totp.to_url().map_err(|_| MfaError::InvalidAccountName)?;
        Ok(SecretString::from(uri))
    }

    fn totp(&self, digits: u8) -> Totp {
        // The length was checked on construction and the parameters are
        // constants, so the compliant build cannot fail; the non-compliant
        // one avoids an unreachable error path. The `Totp` zeroizes its copy
        // of the seed on drop.
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(digits)
            .with_step_duration(STEP_SECS)
            .with_secret(Secret::from(self.expose_secret()))
            .build_noncompliant()
    }
}

impl fmt::Debug for TotpSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSeed([REDACTED])")
    }
}

/// A TOTP code as typed by the user: a live credential until it is used, so
/// it is zeroized and never printed.
pub struct OneTimeCode(SecretString);

impl OneTimeCode {
    /// Wraps what the user typed. Spaces are ignored when it is checked
    /// ("123 456" is accepted).
    pub fn new(code: impl Into<String>) -> Self {
        OneTimeCode(SecretString::from(code.into()))
    }

    /// The code as typed. Never log or display it.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// The six digits, if the input is six ASCII digits once spaces are
    /// removed.
    pub(crate) fn normalized(&self) -> Option<Zeroizing<String>> {
        let digits: Zeroizing<String> = Zeroizing::new(
            self.0
                .expose_secret()
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect(),
        );
        let ok =
            digits.len() == usize::from(CODE_DIGITS) && digits.bytes().all(|b| b.is_ascii_digit());
        ok.then_some(digits)
    }
}

impl fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimeCode([REDACTED])")
    }
}

impl From<&str> for OneTimeCode {
    fn from(code: &str) -> Self {
        OneTimeCode::new(code)
    }
}

impl From<String> for OneTimeCode {
    fn from(code: String) -> Self {
        OneTimeCode::new(code)
    }
}

/// Which steps around `now_step` (±1) `code` matches, compared in constant
/// time: every candidate is computed and compared, whatever matches first.
pub(crate) fn matching_steps(seed: &TotpSeed, code: &str, now_step: u64) -> Vec<u64> {
    let mut matched = Vec::with_capacity(3);
    for step in [
        now_step.checked_sub(1),
        Some(now_step),
        now_step.checked_add(1),
    ]
    .into_iter()
    .flatten()
    {
        let expected = seed.code_for_step(step, CODE_DIGITS);
        let same: Choice = expected.as_bytes().ct_eq(code.as_bytes());
        if bool::from(same) {
            matched.push(step);
        }
    }
    matched
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn rfc_seed() -> TotpSeed {
        TotpSeed::from_bytes(b"12345678901234567890".to_vec()).unwrap()
    }

    #[test]
    fn generated_seed_is_160_bits_and_random() {
        let a = TotpSeed::generate().unwrap();
        let b = TotpSeed::generate().unwrap();
        assert_eq!(a.expose_secret().len(), 20);
        assert_ne!(a.expose_secret(), b.expose_secret());
    }

    #[test]
    fn seed_length_is_checked() {
        assert!(matches!(
            TotpSeed::from_bytes(vec![0; 15]),
            Err(MfaError::MalformedSeed)
        ));
        assert!(matches!(
            TotpSeed::from_bytes(vec![0; 65]),
            Err(MfaError::MalformedSeed)
        ));
        assert!(TotpSeed::from_bytes(vec![0; 16]).is_ok());
    }

    #[test]
    fn debug_is_redacted() {
        let seed = rfc_seed();
        assert_eq!(format!("{seed:?}"), "TotpSeed([REDACTED])");
        let code = OneTimeCode::new("123456");
        assert!(!format!("{code:?}").contains("123456"));
    }

    #[test]
    fn base32_of_rfc_seed() {
        assert_eq!(
            rfc_seed().to_base32().expose_secret(),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
    }

    #[test]
    fn six_digit_code_is_the_tail_of_the_rfc_value() {
        // RFC 6238 Appendix B, T = 59: 94287082 (8 digits).
        let at = UNIX_EPOCH + Duration::from_secs(59);
        assert_eq!(rfc_seed().code_at(at).expose_secret(), "287082");
    }

    #[test]
    fn otpauth_uri_has_issuer_account_and_secret() {
        let uri = rfc_seed().otpauth_uri("trading vault").unwrap();
        assert_eq!(
            uri.expose_secret(),
            "otpauth://totp/Keyward:trading%20vault?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Keyward"
        );
        assert!(matches!(
            rfc_seed().otpauth_uri("a:b"),
            Err(MfaError::InvalidAccountName)
        ));
        assert!(matches!(
            rfc_seed().otpauth_uri("  "),
            Err(MfaError::InvalidAccountName)
        ));
    }

    #[test]
    fn code_normalization() {
        assert_eq!(
            OneTimeCode::new(" 287 082 ")
                .normalized()
                .as_deref()
                .map(String::as_str),
            Some("287082")
        );
        for bad in ["", "28708", "2870822", "28708a", "+87082", "２８７０８２"] {
            assert!(OneTimeCode::new(bad).normalized().is_none(), "{bad}");
        }
    }

    #[test]
    fn matching_steps_window() {
        let seed = rfc_seed();
        let code = seed.code_for_step(100, CODE_DIGITS);
        assert_eq!(matching_steps(&seed, &code, 99), vec![100]);
        assert_eq!(matching_steps(&seed, &code, 100), vec![100]);
        assert_eq!(matching_steps(&seed, &code, 101), vec![100]);
        assert!(matching_steps(&seed, &code, 102).is_empty());
        assert!(matching_steps(&seed, &code, 98).is_empty());
        // Step 0 has no predecessor; no underflow.
        let code0 = seed.code_for_step(0, CODE_DIGITS);
        assert_eq!(matching_steps(&seed, &code0, 0), vec![0]);
    }
}
