//! The hook every vault write passes through, inside its transaction.
//!
//! Owns: the point where the audit log joins a write. [`after_write`] runs in
//! the same `rusqlite::Transaction` as the change it describes, right before
//! commit, so a change and its audit entry are stored together or not at all.
//! Must never: open its own transaction, commit, or record a secret (the
//! [`Action`] carries metadata only).

use rusqlite::Transaction;

use super::error::VaultError;
use super::session::{Action, Actor};

/// One write, as the audit log will see it.
#[derive(Debug)]
#[allow(dead_code)] // read by the audit log once it joins here
pub(crate) struct WriteEvent<'a> {
    /// Who asked.
    pub actor: Actor,
    /// What was done.
    pub action: &'a Action,
    /// Unix seconds.
    pub at: i64,
}

/// Called by the vault's single write path inside the open transaction.
/// The audit log appends its hash-chained entry here.
pub(crate) fn after_write(
    _tx: &Transaction<'_>,
    _event: &WriteEvent<'_>,
) -> Result<(), VaultError> {
    Ok(())
}
