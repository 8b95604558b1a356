//! Kernel events: what a write tells the features that listen, inside its
//! own transaction.
//!
//! Owns: the closed list of events a feature may raise through the write
//! path ([`KernelEvent`]) and [`raise`], which hands one to every hook
//! inside the raising write's transaction, so whatever a hook writes
//! commits or rolls back with the write. Must never: name a feature (the
//! hooks are handed in, see [`Hook`]), or do network I/O.

use crate::exchange::Finding;
use crate::model::Exchange;

use super::error::VaultError;
use super::session::Sealer;

/// A live check was stored as a key's last check.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyChecked<'a> {
    /// The key's record id.
    pub key_id: &'a [u8; 16],
    /// The key's label, as stored now.
    pub label: &'a str,
    /// The key's exchange.
    pub exchange: Exchange,
    /// The key's public API key id (never the secret).
    pub api_key_id: &'a str,
    /// The check's findings against the declared scopes.
    pub findings: &'a [Finding],
    /// Whether the check reached the exchange (an unreachable or unusable
    /// check says nothing about the findings).
    pub conclusive: bool,
    /// When it ran (Unix seconds).
    pub at: i64,
}

/// What a feature raises inside a write's transaction.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub(crate) enum KernelEvent<'a> {
    /// See [`KeyChecked`].
    KeyChecked(KeyChecked<'a>),
}

/// Hands `event` to every hook inside the caller's transaction `tx`.
pub(crate) fn raise(
    tx: &rusqlite::Connection,
    sealer: &Sealer<'_>,
    event: &KernelEvent<'_>,
) -> Result<(), VaultError> {
    match event {
        KernelEvent::KeyChecked(c) => super::alerts::after_check(
            tx,
            sealer,
            c.key_id,
            c.label,
            c.exchange,
            c.api_key_id,
            c.findings,
            c.conclusive,
            c.at,
        ),
    }
}
