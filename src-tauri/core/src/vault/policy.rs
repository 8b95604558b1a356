//! Time-based protections: unlock throttling and idle auto-lock.
//!
//! Owns: how long a caller must wait after failed unlocks, and when an
//! unlocked session counts as idle. Must never: rely on a front end to enforce
//! either; the vault applies the throttle itself before running the KDF, and
//! the failure counter lives in the vault file so restarting the app or the
//! CLI does not reset it.

use std::time::Duration;

use serde::Serialize;

/// How failed unlocks slow further attempts.
///
/// The first `free_attempts` failures cost nothing extra; each later failure
/// doubles the wait, starting at `base`, up to `max`. The counter resets on a
/// successful unlock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnlockThrottle {
    /// Failures allowed before any delay.
    pub free_attempts: u32,
    /// The first delay.
    pub base: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for UnlockThrottle {
    fn default() -> Self {
        UnlockThrottle {
            free_attempts: 3,
            base: Duration::from_secs(2),
            max: Duration::from_secs(300),
        }
    }
}

impl UnlockThrottle {
    /// The wait required after `failures` consecutive failures.
    pub fn delay_after(&self, failures: u32) -> Duration {
        if failures < self.free_attempts {
            return Duration::ZERO;
        }
        let exp = (failures - self.free_attempts).min(20);
        self.base.saturating_mul(1u32 << exp).min(self.max)
    }
}

/// Per-vault settings, stored sealed in the vault header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Settings {
    /// Lock after this many idle minutes (1–1440).
    pub auto_lock_minutes: u32,
    /// Clear a copied secret from the clipboard after this many seconds (5–600).
    pub clipboard_clear_seconds: u32,
    /// Default rotation period of keys without their own, in days (1–3650).
    pub default_rotation_days: u32,
    /// After a successful MFA step-up, how long further gated actions need no
    /// new code, in seconds (0 = every action asks, the default; at most
    /// 300). Only the desktop keeps a window; the CLI always asks.
    pub step_up_window_seconds: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            auto_lock_minutes: 5,
            clipboard_clear_seconds: 20,
            default_rotation_days: 90,
            step_up_window_seconds: 0,
        }
    }
}

impl Settings {
    /// Checks every value's range.
    pub fn validate(&self) -> Result<(), crate::model::validate::ValidationError> {
        use crate::model::validate::ValidationError::BadSetting;
        if !(1..=1440).contains(&self.auto_lock_minutes) {
            return Err(BadSetting {
                name: "auto_lock_minutes",
            });
        }
        if !(5..=600).contains(&self.clipboard_clear_seconds) {
            return Err(BadSetting {
                name: "clipboard_clear_seconds",
            });
        }
        if !(1..=3650).contains(&self.default_rotation_days) {
            return Err(BadSetting {
                name: "default_rotation_days",
            });
        }
        if u64::from(self.step_up_window_seconds) > crate::mfa::StepUpWindow::MAX_SECONDS {
            return Err(BadSetting {
                name: "step_up_window_seconds",
            });
        }
        Ok(())
    }

    /// The settings that weaken or strengthen protection (auto-lock,
    /// clipboard clearing, step-up window) with their values, for the
    /// audit log: changing any of them needs a step-up grant.
    pub fn security_values(&self) -> [(&'static str, u32); 3] {
        [
            ("auto_lock_minutes", self.auto_lock_minutes),
            ("clipboard_clear_seconds", self.clipboard_clear_seconds),
            ("step_up_window_seconds", self.step_up_window_seconds),
        ]
    }

    /// Every setting with its value (none is secret).
    pub fn values(&self) -> [(&'static str, u32); 4] {
        let [a, b, c] = self.security_values();
        [
            a,
            b,
            c,
            ("default_rotation_days", self.default_rotation_days),
        ]
    }

    /// The idle timeout as a duration.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.auto_lock_minutes) * 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_grows_and_caps() {
        let t = UnlockThrottle::default();
        assert_eq!(t.delay_after(0), Duration::ZERO);
        assert_eq!(t.delay_after(2), Duration::ZERO);
        assert_eq!(t.delay_after(3), Duration::from_secs(2));
        assert_eq!(t.delay_after(4), Duration::from_secs(4));
        assert_eq!(t.delay_after(100), Duration::from_secs(300));
    }

    #[test]
    fn settings_defaults_are_valid() {
        let s = Settings::default();
        assert!(s.validate().is_ok());
        assert_eq!(s.idle_timeout(), Duration::from_secs(300));
        let bad = Settings {
            auto_lock_minutes: 0,
            ..s
        };
        assert!(bad.validate().is_err());
    }
}
