//! Time, made injectable.
//!
//! Owns: the [`Clock`] the vault asks for "now" (record timestamps, unlock
//! throttling, idle auto-lock). Must never: be bypassed by calling
//! `SystemTime::now()` elsewhere in the vault, or tests could not exercise the
//! time-dependent policies without sleeping.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The real wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// The clock a vault uses unless told otherwise: the wall clock.
///
/// Debug builds only (the test builds of the CLI and the desktop app):
/// when `KEYWARD_TEST_CLOCK` names a file, "now" is the Unix time in
/// seconds written in that file, read again at every call, so tests that
/// drive the real binaries pin TOTP steps instead of racing the wall clock
/// across a 30-second boundary. Release builds never read the variable.
pub fn default_clock() -> Arc<dyn Clock> {
    #[cfg(debug_assertions)]
    if let Some(path) = std::env::var_os("KEYWARD_TEST_CLOCK") {
        return Arc::new(FileClock(path.into()));
    }
    Arc::new(SystemClock)
}

/// "Now" read from a file of Unix seconds (see [`default_clock`]); the wall
/// clock when the file cannot be read.
#[cfg(debug_assertions)]
#[derive(Debug)]
struct FileClock(std::path::PathBuf);

#[cfg(debug_assertions)]
impl Clock for FileClock {
    fn now(&self) -> SystemTime {
        std::fs::read_to_string(&self.0)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(|secs| UNIX_EPOCH + Duration::from_secs(secs))
            .unwrap_or_else(SystemTime::now)
    }
}

/// A clock that only moves when told to (tests, simulations).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<SystemTime>>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: SystemTime) -> ManualClock {
        ManualClock(Arc::new(Mutex::new(start)))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Unix seconds of `t` (0 before 1970).
pub fn unix_secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Unix milliseconds of `t` (0 before 1970).
pub fn unix_millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
