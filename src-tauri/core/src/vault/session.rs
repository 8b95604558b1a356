//! An unlocked vault: the [`Session`] and the vault key's lifetime.
//!
//! Owns: the session's state (vault key, header, settings in force,
//! markers, clock, actor, step-up window), activity and the idle timeout,
//! locking. Unlocking is `unlock`, the write path `write`, the sealed
//! settings `settings`. Must never: keep the vault key after
//! [`Session::lock`] or an idle timeout, or return a secret in a DTO.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use rusqlite::{Connection, TransactionBehavior};

use super::clock::{Clock, unix_secs};
use super::error::VaultError;
use super::hooks::Hook;
use super::journal;
use super::kdf::KdfParams;
use super::policy::{Settings, UnlockThrottle};
use super::secret::VaultKey;
use super::settings::Markers;
use super::state_seal;
use super::store::Header;
use crate::mfa::StepUpWindow;

/// The sealing context handed to write closures (defined with the write
/// path).
pub(crate) use super::write::Sealer;
pub use crate::audit::Actor;

/// The all-zero record id used for fields of the vault header itself.
pub(crate) const META_RECORD: [u8; 16] = [0; 16];

/// An unlocked vault. Holds the vault key until [`Session::lock`], drop, or
/// the idle timeout of [`Settings::auto_lock_minutes`].
///
/// Every method counts as activity. Once the session has been idle longer
/// than the timeout, the next call zeroizes the key and returns
/// [`VaultError::Locked`]; the desktop also polls [`Session::is_idle_expired`]
/// to lock without waiting for a call.
#[derive(Debug)]
pub struct Session {
    pub(super) path: PathBuf,
    pub(super) conn: Connection,
    pub(super) key: Option<VaultKey>,
    pub(super) header: Header,
    pub(super) settings: Settings,
    pub(super) markers: Markers,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) throttle: UnlockThrottle,
    pub(super) actor: Actor,
    pub(super) last_activity: SystemTime,
    pub(super) audit_problem: Option<journal::AuditProblem>,
    /// The step-up window of [`Session::step_up_in_window`] (memory only;
    /// closed on lock).
    pub(super) step_up_window: StepUpWindow,
    /// The hooks of [`super::VaultOptions::hooks`].
    pub(super) hooks: Vec<Hook>,
}

impl Session {
    pub(super) fn key(&mut self) -> Result<&VaultKey, VaultError> {
        let now = self.clock.now();
        if self.idle_expired_at(now) {
            self.lock_in_place("idle");
            return Err(VaultError::Locked);
        }
        self.last_activity = now;
        self.key.as_ref().ok_or(VaultError::Locked)
    }

    fn idle_expired_at(&self, now: SystemTime) -> bool {
        now.duration_since(self.last_activity)
            .is_ok_and(|idle| idle >= self.settings.idle_timeout())
    }

    /// Whether the idle timeout has passed (the desktop polls this and then
    /// calls [`Session::lock`]). Does not count as activity.
    pub fn is_idle_expired(&self) -> bool {
        self.key.is_none() || self.idle_expired_at(self.clock.now())
    }

    /// When the session will lock if nothing happens before.
    pub fn idle_deadline(&self) -> SystemTime {
        self.last_activity + self.settings.idle_timeout()
    }

    /// Records user activity (e.g. UI interaction without a vault call).
    pub fn touch(&mut self) -> Result<(), VaultError> {
        self.key().map(|_| ())
    }

    /// Whether the vault key is still held.
    pub fn is_unlocked(&self) -> bool {
        self.key.is_some()
    }

    /// Appends the lock to the audit log (best effort: locking must never
    /// fail) and drops the vault key.
    fn lock_in_place(&mut self, reason: &'static str) {
        if let Some(key) = self.key.as_ref() {
            let sealer = Sealer {
                key,
                vault_id: &self.header.vault_id,
                hooks: &[],
            };
            let event = crate::audit::NewEvent::new(
                self.actor,
                crate::audit::Action::Lock,
                self.clock.now(),
            )
            .with_details(crate::audit::Details::new().with("reason", reason));
            let _ = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(VaultError::from)
                .and_then(|tx| {
                    // A vault whose rows no longer match the seal gets no
                    // lock entry: resealing would hide the rollback.
                    let prev = state_seal::before_write(&tx, &sealer)?;
                    journal::append(&tx, &sealer, event)?;
                    state_seal::reseal(&tx, &sealer, Some(&prev))?;
                    tx.commit()?;
                    Ok(())
                });
        }
        // Dropping the VaultKey zeroizes its buffer (secrecy's SecretBox).
        self.key = None;
        self.step_up_window.close();
    }

    /// Locks: records the lock in the audit log, then drops and zeroizes the
    /// vault key.
    pub fn lock(mut self) {
        self.lock_in_place("lock");
    }

    /// The vault file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The vault id (hex).
    pub fn vault_id(&self) -> String {
        hex::encode(self.header.vault_id)
    }

    /// The KDF parameters in force.
    pub fn kdf_params(&self) -> KdfParams {
        self.header.kdf
    }

    /// The front end this session records as the actor of its own events.
    pub fn actor(&self) -> Actor {
        self.actor
    }

    /// A broken audit chain found when this session was unlocked (the GUI
    /// shows a banner; `keyward log --verify` exits 5).
    pub fn audit_problem(&self) -> Option<&journal::AuditProblem> {
        self.audit_problem.as_ref()
    }

    pub(crate) fn now_secs(&self) -> i64 {
        unix_secs(self.clock.now())
    }

    pub(super) fn now(&self) -> SystemTime {
        self.clock.now()
    }

    pub(super) fn markers(&self) -> Markers {
        self.markers
    }

    pub(super) fn set_markers(&mut self, markers: Markers) {
        self.markers = markers;
    }

    pub(crate) fn vault_key(&mut self) -> Result<&VaultKey, VaultError> {
        self.key()
    }

    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }
}
