//! Kernel events: what a write tells the features that listen, inside its
//! own transaction.
//!
//! Owns: the closed list of events a feature may raise through the write
//! path ([`KernelEvent`]), the handle a feature's listener is registered
//! with ([`Hook`], on [`super::VaultOptions::hooks`]) and [`raise`], which
//! hands an event to every hook inside the raising write's transaction, so
//! whatever a hook writes commits or rolls back with the write (alerts
//! turns a stored check's critical findings, and an opened incident, into
//! outbox rows this way; neither checks nor incident call alerts). Must never: name a feature (the hooks are
//! handed in), or do network I/O.

use std::sync::Arc;

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

/// An incident was opened. Every field is metadata the vault already
/// shows (labels, exchanges, public API key ids); nothing secret.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IncidentOpened<'a> {
    /// The affected keys, in the order they were named.
    pub keys: &'a [OpenedKey<'a>],
    /// Every exchange concerned (the keys' and any named on its own).
    pub exchanges: &'a [Exchange],
    /// The situation's title, as the playbook words it.
    pub situation: &'a str,
    /// When it was opened (Unix seconds).
    pub at: i64,
}

/// One key an incident was opened for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpenedKey<'a> {
    /// The key's label, as stored now.
    pub label: &'a str,
    /// The key's exchange.
    pub exchange: Exchange,
    /// The key's public API key id (never the secret).
    pub api_key_id: &'a str,
}

/// What a feature raises inside a write's transaction.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub(crate) enum KernelEvent<'a> {
    /// See [`KeyChecked`].
    KeyChecked(KeyChecked<'a>),
    /// See [`IncidentOpened`].
    IncidentOpened(IncidentOpened<'a>),
}

/// A feature's listener: runs inside the raising write's transaction, with
/// its sealing context; an error rolls the whole write back.
pub(crate) trait Listener: Send + Sync {
    /// Hears `event`.
    fn on_event(
        &self,
        tx: &rusqlite::Connection,
        sealer: &Sealer<'_>,
        event: &KernelEvent<'_>,
    ) -> Result<(), VaultError>;
}

/// A registered listener (opaque; a feature hands one out, e.g.
/// `keyward_core::alerts::hook()`, and a front end registers it with
/// [`super::VaultOptions::with_hook`]).
#[derive(Clone)]
pub struct Hook(Arc<dyn Listener>);

impl Hook {
    pub(crate) fn new(listener: impl Listener + 'static) -> Hook {
        Hook(Arc::new(listener))
    }
}

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hook")
    }
}

/// Hands `event` to every hook of the write whose transaction is `tx`
/// (`sealer` is that write's context), in registration order.
pub(crate) fn raise(
    tx: &rusqlite::Connection,
    sealer: &Sealer<'_>,
    event: &KernelEvent<'_>,
) -> Result<(), VaultError> {
    for hook in sealer.hooks {
        hook.0.on_event(tx, sealer, event)?;
    }
    Ok(())
}
