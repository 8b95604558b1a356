//! How the three-phase steps reach a session: each phase takes it briefly
//! and gives it back before any network call.
//!
//! Owns: [`SessionAccess`], for `&mut Session` (the CLI) and
//! `&Mutex<Option<Session>>` (the desktop, whose lock is free while an
//! exchange or a webhook is asked); [`three_phase`], the one driver of
//! prepare under the session → network without it → record under it again
//! (and [`three_phase_if_any`], for a step whose prepare may find nothing
//! to do);
//! background work that does not count as activity ([`Session::quietly`],
//! [`Quiet`]); a feature's read of a sealed record it owns
//! (`Session::read_sealed`). Must never: hold the lock past the closure it
//! runs.

use std::future::Future;
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

/// The three phases of a networked step: `prepare` takes the session and
/// returns what the network call needs; the session is given back before
/// `network` runs (its future never sees the session); `record` takes the
/// session again with the network's answer, and re-checks for staleness
/// (the session may have changed in between). An error of `prepare` ends
/// the step before any network call; `network` cannot fail here (its
/// failures are part of its answer, for `record` to store).
pub async fn three_phase<S, P, N, T, E, Fut>(
    access: &mut S,
    prepare: impl FnOnce(&mut Session) -> Result<P, E>,
    network: impl FnOnce(P) -> Fut,
    record: impl FnOnce(&mut Session, N) -> Result<T, E>,
) -> Result<T, E>
where
    S: SessionAccess,
    E: From<VaultError>,
    Fut: Future<Output = N>,
{
    let prepared = access.with_session(prepare)?;
    let answer = network(prepared).await;
    access.with_session(|s| record(s, answer))
}

/// [`three_phase`] for a step that may find nothing to do: when `prepare`
/// returns `None` the step ends there, `Ok(None)`, with no network call
/// and without taking the session again.
pub async fn three_phase_if_any<S, P, N, T, E, Fut>(
    access: &mut S,
    prepare: impl FnOnce(&mut Session) -> Result<Option<P>, E>,
    network: impl FnOnce(P) -> Fut,
    record: impl FnOnce(&mut Session, N) -> Result<T, E>,
) -> Result<Option<T>, E>
where
    S: SessionAccess,
    E: From<VaultError>,
    Fut: Future<Output = N>,
{
    let Some(prepared) = access.with_session(prepare)? else {
        return Ok(None);
    };
    let answer = network(prepared).await;
    access.with_session(|s| record(s, answer)).map(Some)
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
