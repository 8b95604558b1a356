//! Health's side of the vault: gathering [`KeyFacts`] from stored key
//! metadata, and the report over them.
//!
//! Owns: reading each key through the vault's public metadata methods
//! ([`Session::list_keys`], [`Session::key_detail`]). Must never: unseal a
//! secret, write to the vault, or call an exchange — the live permissions
//! are the last check already stored on each key. The vault does not know
//! this module: health imports the vault, never the other way round.

use super::{HealthReport, KeyFacts};
use crate::scan;
use crate::vault::{Session, VaultError};

/// The health of every key in `session` at `now` (unix seconds), with
/// `leaks` from the leak scanner if a scan was run (an empty slice
/// otherwise).
pub fn report_for(
    session: &mut Session,
    now: i64,
    leaks: &[scan::Finding],
) -> Result<HealthReport, VaultError> {
    let facts = facts_for(session, leaks)?;
    Ok(super::report(&facts, now))
}

/// The facts the health rules look at, one per key of `session`, in list
/// order.
pub fn facts_for(
    session: &mut Session,
    leaks: &[scan::Finding],
) -> Result<Vec<KeyFacts>, VaultError> {
    let summaries = session.list_keys()?;
    let mut facts = Vec::with_capacity(summaries.len());
    for summary in summaries {
        let detail = session.key_detail(&summary.label)?;
        let checkable = summary.exchange.has_adapter();
        facts.push(KeyFacts::from_detail(&detail, checkable).with_leaks(leaks));
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    /// Health imports the vault, never the other way round.
    #[test]
    fn the_vault_does_not_import_health() {
        let naming = crate::vault::sources_naming(&["crate::health", "super::health"]);
        assert!(naming.is_empty(), "the vault imports health: {naming:?}");
    }
}
