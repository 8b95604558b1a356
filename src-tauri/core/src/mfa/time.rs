//! Unix-second conversions. Time always comes in from the caller, so tests
//! can move it freely and never sleep.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// TOTP time step, in seconds (RFC 6238 default, what authenticator apps use).
pub(crate) const STEP_SECS: u64 = 30;

/// Seconds since the Unix epoch; a clock set before 1970 reads as 0, which
/// can only make codes fail, never succeed.
pub(crate) fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The inverse of [`unix_secs`], saturating far in the future.
pub(crate) fn from_unix_secs(secs: u64) -> SystemTime {
    UNIX_EPOCH
        .checked_add(Duration::from_secs(secs))
        .unwrap_or(UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX)))
}

/// The TOTP time step containing `secs`.
pub(crate) fn step_of(secs: u64) -> u64 {
    secs / STEP_SECS
}
