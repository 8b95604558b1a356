//! Argon2id key derivation: the parameters, their floors and caps, and the
//! calibration run at vault creation.
//!
//! Owns: turning a master password (or a backup passphrase) plus a salt into a
//! key-encryption key. Must never: accept parameters from a file without
//! checking them against [`KdfParams::MAX`] first (a crafted vault could
//! otherwise make unlocking exhaust memory or run for hours), or derive with
//! parameters below the OWASP floor [`KdfParams::MINIMUM`].

use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, Version};
use serde::Serialize;
use zeroize::Zeroizing;

use super::error::VaultError;
use super::secret::{KEY_LEN, KeyEncryptionKey};

/// Length in bytes of a KDF salt.
pub const SALT_LEN: usize = 16;

/// Argon2id cost parameters, stored per vault next to its salt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Number of passes.
    pub iterations: u32,
    /// Degree of parallelism (lanes).
    pub parallelism: u32,
}

impl KdfParams {
    /// The design default and the floor of calibration: m = 64 MiB, t = 3, p = 4.
    pub const DEFAULT: KdfParams = KdfParams {
        memory_kib: 64 * 1024,
        iterations: 3,
        parallelism: 4,
    };

    /// The OWASP minimum (m = 19 MiB, t = 2, p = 1). Anything weaker is refused,
    /// on creation and on read.
    pub const MINIMUM: KdfParams = KdfParams {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// The most any vault or backup file may ask for (1 GiB, 64 passes,
    /// 64 lanes, and at most [`Self::MAX_WORK_KIB_PASSES`] of memory times
    /// passes). A file asking for more is refused as
    /// [`VaultError::ExcessiveKdfCost`] before any work is done.
    pub const MAX: KdfParams = KdfParams {
        memory_kib: 1024 * 1024,
        iterations: 64,
        parallelism: 64,
    };

    /// The most memory × passes (KiB × passes) a file may ask for: 4 GiB,
    /// e.g. 1 GiB × 4 passes or 64 MiB × 64 passes, a few seconds of work.
    /// A backup's header is only authenticated after the derivation, so
    /// without this bound a forged header could make an import allocate
    /// gigabytes and run for minutes before it is refused.
    pub const MAX_WORK_KIB_PASSES: u64 = 4 * 1024 * 1024;

    /// Builds parameters from mebibytes, as the CLI takes them.
    pub fn from_mib(memory_mib: u32, iterations: u32, parallelism: u32) -> KdfParams {
        KdfParams {
            memory_kib: memory_mib.saturating_mul(1024),
            iterations,
            parallelism,
        }
    }

    /// Whether every cost is at least the design default (no warning needed).
    pub fn meets_default(&self) -> bool {
        self.memory_kib >= Self::DEFAULT.memory_kib
            && self.iterations >= Self::DEFAULT.iterations
            && self.parallelism >= Self::DEFAULT.parallelism
    }

    /// Whether every cost is at least `other`'s.
    pub fn at_least(&self, other: &KdfParams) -> bool {
        self.memory_kib >= other.memory_kib
            && self.iterations >= other.iterations
            && self.parallelism >= other.parallelism
    }

    /// Checks parameters requested by a user or read from a file: not weaker
    /// than [`Self::MINIMUM`], not costlier than [`Self::MAX`].
    pub fn check(&self) -> Result<(), VaultError> {
        if self.memory_kib > Self::MAX.memory_kib
            || self.iterations > Self::MAX.iterations
            || self.parallelism > Self::MAX.parallelism
            || u64::from(self.memory_kib) * u64::from(self.iterations) > Self::MAX_WORK_KIB_PASSES
        {
            return Err(VaultError::ExcessiveKdfCost { params: *self });
        }
        if !self.at_least(&Self::MINIMUM) {
            return Err(VaultError::WeakKdfParams { params: *self });
        }
        Ok(())
    }

    fn argon2(&self) -> Result<Argon2<'static>, VaultError> {
        self.check()?;
        let params = Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(KEY_LEN),
        )
        .map_err(|_| VaultError::WeakKdfParams { params: *self })?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    /// Derives a key-encryption key from `secret` and `salt`.
    pub(crate) fn derive(
        &self,
        secret: &[u8],
        salt: &[u8; SALT_LEN],
    ) -> Result<KeyEncryptionKey, VaultError> {
        let argon2 = self.argon2()?;
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        argon2
            .hash_password_into(secret, salt, out.as_mut())
            .map_err(|_| VaultError::WeakKdfParams { params: *self })?;
        KeyEncryptionKey::from_slice(out.as_ref()).ok_or(VaultError::Random)
    }

    /// Picks parameters for a new vault: the design default, with more passes
    /// if one derivation at the default takes well under `target` on this
    /// machine. Never returns less than [`Self::DEFAULT`].
    pub fn calibrate(target: Duration) -> Result<KdfParams, VaultError> {
        let base = Self::DEFAULT;
        let argon2 = base.argon2()?;
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        let start = Instant::now();
        argon2
            .hash_password_into(b"calibration", &[0u8; SALT_LEN], out.as_mut())
            .map_err(|_| VaultError::WeakKdfParams { params: base })?;
        let per_pass = start.elapsed().as_secs_f64() / f64::from(base.iterations);
        let wanted = if per_pass > 0.0 {
            (target.as_secs_f64() / per_pass).round()
        } else {
            f64::from(base.iterations)
        };
        // Stay well inside MAX so a calibrated vault always opens elsewhere.
        let iterations = wanted.clamp(f64::from(base.iterations), 32.0) as u32;
        Ok(KdfParams { iterations, ..base })
    }
}

impl KdfParams {
    /// Runs one derivation with a throwaway password and salt and returns how
    /// long it took: what an unlock with these parameters costs on this
    /// machine (shown when choosing parameters; used by the benchmark).
    pub fn measure(&self) -> Result<Duration, VaultError> {
        let start = Instant::now();
        self.derive(b"measure", &[0u8; SALT_LEN])?;
        Ok(start.elapsed())
    }
}

/// A fresh random salt.
pub(crate) fn new_salt() -> Result<[u8; SALT_LEN], VaultError> {
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(|_| VaultError::Random)?;
    Ok(salt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_excessive_and_weak_params() {
        let huge = KdfParams {
            memory_kib: u32::MAX,
            ..KdfParams::DEFAULT
        };
        assert!(matches!(
            huge.check(),
            Err(VaultError::ExcessiveKdfCost { .. })
        ));
        let weak = KdfParams::from_mib(8, 1, 1);
        assert!(matches!(
            weak.check(),
            Err(VaultError::WeakKdfParams { .. })
        ));
        assert!(KdfParams::MINIMUM.check().is_ok());
        assert!(KdfParams::DEFAULT.check().is_ok());
    }

    // Found by fuzzing the backup import: a header claiming just under the
    // old 4 GiB cap made the import allocate 4 GiB before the header could
    // be authenticated.
    #[test]
    fn memory_and_work_are_capped() {
        let refused = [
            KdfParams {
                memory_kib: 4 * 1024 * 1024 - 1024,
                iterations: 2,
                parallelism: 1,
            },
            KdfParams::from_mib(1024, 5, 1),
            KdfParams::from_mib(128, 64, 4),
            KdfParams {
                memory_kib: KdfParams::MAX.memory_kib + 1,
                ..KdfParams::MINIMUM
            },
        ];
        for p in refused {
            assert!(
                matches!(p.check(), Err(VaultError::ExcessiveKdfCost { .. })),
                "{p:?}"
            );
        }
        // The most the default calibration picks (64 MiB × 32 passes) and
        // the corners of the work cap are accepted.
        for p in [
            KdfParams::from_mib(64, 32, 4),
            KdfParams::from_mib(64, 64, 4),
            KdfParams::from_mib(1024, 4, 1),
        ] {
            assert!(p.check().is_ok(), "{p:?}");
        }
    }

    #[test]
    fn derivation_depends_on_password_and_salt() {
        let p = KdfParams::MINIMUM;
        let a = p.derive(b"pw", &[1; SALT_LEN]).unwrap();
        let b = p.derive(b"pw", &[2; SALT_LEN]).unwrap();
        let c = p.derive(b"pw2", &[1; SALT_LEN]).unwrap();
        let a2 = p.derive(b"pw", &[1; SALT_LEN]).unwrap();
        assert_eq!(a.bytes(), a2.bytes());
        assert_ne!(a.bytes(), b.bytes());
        assert_ne!(a.bytes(), c.bytes());
    }
}
