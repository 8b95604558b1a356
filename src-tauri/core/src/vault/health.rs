//! The vault's side of key health: gathering [`KeyFacts`] from stored key
//! metadata for [`crate::health`].
//!
//! Owns: reading each key through the public metadata methods
//! ([`Session::list_keys`], [`Session::key_detail`]). Must never: unseal a
//! secret, write to the vault, or call an exchange — the live permissions
//! are the last check already stored on each key.

use super::error::VaultError;
use super::session::Session;
use crate::health::{self, HealthReport, KeyFacts};
use crate::scan;

impl Session {
    /// The health of every key at `now` (unix seconds), with `leaks` from
    /// the leak scanner if a scan was run (an empty slice otherwise).
    pub fn health_report(
        &mut self,
        now: i64,
        leaks: &[scan::Finding],
    ) -> Result<HealthReport, VaultError> {
        let facts = self.health_facts(leaks)?;
        Ok(health::report(&facts, now))
    }

    /// The facts the health rules look at, one per key, in list order.
    pub fn health_facts(&mut self, leaks: &[scan::Finding]) -> Result<Vec<KeyFacts>, VaultError> {
        let summaries = self.list_keys()?;
        let mut facts = Vec::with_capacity(summaries.len());
        for summary in summaries {
            let detail = self.key_detail(&summary.label)?;
            let checkable = summary.exchange.has_adapter();
            facts.push(KeyFacts::from_detail(&detail, checkable).with_leaks(leaks));
        }
        Ok(facts)
    }
}
