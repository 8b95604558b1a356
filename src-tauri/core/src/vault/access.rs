//! How the three-phase steps reach a session: each phase takes it briefly
//! and gives it back before any network call.
//!
//! Owns: [`SessionAccess`], for `&mut Session` (the CLI) and
//! `&Mutex<Option<Session>>` (the desktop, whose lock is free while an
//! exchange or a webhook is asked), and [`three_phase`], the one driver of
//! prepare under the session → network without it → record under it again.
//! Must never: hold the lock past the closure it runs.

use std::future::Future;
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
