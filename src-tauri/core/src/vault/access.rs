//! How the three-phase steps reach a session: each phase takes it briefly
//! and gives it back before any network call.
//!
//! Owns: [`SessionAccess`], for `&mut Session` (the CLI) and
//! `&Mutex<Option<Session>>` (the desktop, whose lock is free while an
//! exchange or a webhook is asked); background work that does not count as
//! activity ([`Session::quietly`], [`Quiet`]); a feature's read of a sealed
//! record it owns (`Session::read_sealed`). Must never: hold the lock past
//! the closure it runs.

use std::sync::Mutex;

use super::error::VaultError;
use super::session::{Sealer, Session};

/// Access to a session for the three-phase steps: each phase takes it
/// briefly and gives it back before any network call.
pub trait SessionAccess {
    /// Runs `f` on the session. A mutex-held session is locked only for
    /// the length of `f`; a missing (locked) session is
    /// [`VaultError::Locked`].
    fn with_session<T, E: From<VaultError>>(
        &mut self,
        f: impl FnOnce(&mut Session) -> Result<T, E>,
    ) -> Result<T, E>;
}

impl SessionAccess for &mut Session {
    fn with_session<T, E: From<VaultError>>(
        &mut self,
        f: impl FnOnce(&mut Session) -> Result<T, E>,
    ) -> Result<T, E> {
        f(self)
    }
}

impl SessionAccess for &Mutex<Option<Session>> {
    fn with_session<T, E: From<VaultError>>(
        &mut self,
        f: impl FnOnce(&mut Session) -> Result<T, E>,
    ) -> Result<T, E> {
        // A poisoned lock is recovered: the session's invariants do not
        // depend on code that panicked elsewhere.
        let mut guard = self
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match guard.as_mut() {
            Some(session) => f(session),
            None => Err(VaultError::Locked.into()),
        }
    }
}

impl Session {
    /// Runs `f` without it counting as user activity: the idle auto-lock
    /// deadline stays where it was. For background work (reminders, the
    /// background audit, deliveries), which must not keep a vault open.
    pub fn quietly<T>(&mut self, f: impl FnOnce(&mut Session) -> T) -> T {
        let before = self.last_activity;
        let out = f(self);
        self.last_activity = before;
        out
    }

    /// Runs `f` on the connection with the sealing context, outside any
    /// write: how a feature reads a sealed record it owns. Counts as
    /// activity; [`VaultError::Locked`] once the session is locked.
    pub(crate) fn read_sealed<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Connection, &Sealer<'_>) -> Result<T, VaultError>,
    ) -> Result<T, VaultError> {
        self.key()?;
        let Session {
            conn, key, header, ..
        } = self;
        let key = key.as_ref().ok_or(VaultError::Locked)?;
        let sealer = Sealer {
            key,
            vault_id: &header.vault_id,
            hooks: &[],
        };
        f(conn, &sealer)
    }
}

/// A [`SessionAccess`] over the desktop's mutex whose calls do not count
/// as activity (see [`Session::quietly`]).
pub struct Quiet<'a>(pub &'a Mutex<Option<Session>>);

impl SessionAccess for Quiet<'_> {
    fn with_session<T, E: From<VaultError>>(
        &mut self,
        f: impl FnOnce(&mut Session) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut slot = self.0;
        slot.with_session(|s| s.quietly(f))
    }
}
