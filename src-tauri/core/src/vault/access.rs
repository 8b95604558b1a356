//! How the three-phase steps reach a session: each phase takes it briefly
//! and gives it back before any network call.
//!
//! Owns: [`SessionAccess`], for `&mut Session` (the CLI) and
//! `&Mutex<Option<Session>>` (the desktop, whose lock is free while an
//! exchange or a webhook is asked). Must never: hold the lock past the
//! closure it runs.

use std::sync::Mutex;

use super::error::VaultError;
use super::session::Session;

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
