//! The rotation policy: every key is due for rotation `rotate_every_days`
//! after it was created or last rotated (its own period, else the vault's
//! default; see [`KeySummary::rotation_due_at`]).
//!
//! Owns: the "due soon" and "overdue" judgements front ends show in key
//! lists. Must never: change a key (policy is advice; rotating is the
//! user's staged, verified action).

use serde::Serialize;

use crate::model::{KeyStatus, KeySummary};

/// How far ahead "due soon" looks.
pub const DUE_SOON_DAYS: i64 = 7;

/// Where a key stands against its rotation period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RotationDue {
    /// More than [`DUE_SOON_DAYS`] away.
    Ok,
    /// Within [`DUE_SOON_DAYS`].
    DueSoon,
    /// Past its due date.
    Overdue,
    /// Not applicable (revoked keys are never due).
    NotApplicable,
}

/// Whether a key due at `due_at` (unix seconds) with `status` is past due
/// at `now`.
pub fn overdue_at(due_at: i64, status: KeyStatus, now: i64) -> bool {
    status != KeyStatus::Revoked && due_at <= now
}

/// Whether a key due at `due_at` is due within `days` days of `now` (and
/// not yet overdue).
pub fn due_within_at(due_at: i64, status: KeyStatus, now: i64, days: i64) -> bool {
    status != KeyStatus::Revoked
        && due_at > now
        && due_at <= now.saturating_add(days.saturating_mul(86_400))
}

/// The standing of a key due at `due_at` with `status`, at `now`.
pub fn due_at(due_at: i64, status: KeyStatus, now: i64) -> RotationDue {
    if status == KeyStatus::Revoked {
        RotationDue::NotApplicable
    } else if overdue_at(due_at, status, now) {
        RotationDue::Overdue
    } else if due_within_at(due_at, status, now, DUE_SOON_DAYS) {
        RotationDue::DueSoon
    } else {
        RotationDue::Ok
    }
}

/// Whether `key` is past its due date at `now` (unix seconds).
pub fn is_overdue(key: &KeySummary, now: i64) -> bool {
    overdue_at(key.rotation_due_at, key.status, now)
}

/// Whether `key` is due within `days` days of `now` (and not yet overdue).
pub fn is_due_within(key: &KeySummary, now: i64, days: i64) -> bool {
    due_within_at(key.rotation_due_at, key.status, now, days)
}

/// The key's standing at `now`.
pub fn due(key: &KeySummary, now: i64) -> RotationDue {
    due_at(key.rotation_due_at, key.status, now)
}

/// Whole days until due (negative: days overdue).
pub fn days_until_due(key: &KeySummary, now: i64) -> i64 {
    (key.rotation_due_at - now).div_euclid(86_400)
}

/// The keys that are overdue or due within [`DUE_SOON_DAYS`], most urgent
/// first.
pub fn due_keys(keys: &[KeySummary], now: i64) -> Vec<(&KeySummary, RotationDue)> {
    let mut out: Vec<(&KeySummary, RotationDue)> = keys
        .iter()
        .map(|k| (k, due(k, now)))
        .filter(|(_, d)| matches!(d, RotationDue::Overdue | RotationDue::DueSoon))
        .collect();
    out.sort_by_key(|(k, _)| k.rotation_due_at);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_soon_overdue_and_ok() {
        let now = 1_000_000;
        let a = KeyStatus::Active;
        assert_eq!(due_at(now - 1, a, now), RotationDue::Overdue);
        assert_eq!(due_at(now, a, now), RotationDue::Overdue);
        assert_eq!(due_at(now + 7 * 86_400, a, now), RotationDue::DueSoon);
        assert_eq!(due_at(now + 7 * 86_400 + 1, a, now), RotationDue::Ok);
        assert_eq!(
            due_at(now - 1, KeyStatus::Revoked, now),
            RotationDue::NotApplicable
        );
        assert!(overdue_at(now - 86_400, KeyStatus::Rotating, now));
        assert!(!due_within_at(now - 1, a, now, 7));
        assert!(due_within_at(now + 1, a, now, 1));
    }
}
