//! The one write path: every change to the vault file goes through
//! [`Session::write_events`] (or its shorthands), one immediate transaction
//! that checks the state seal, runs the change, appends its audit entries
//! and re-seals the state seal before committing.
//!
//! Owns: the [`Sealer`] handed to write closures (sealing and opening a
//! field under AAD = vault id ‖ record id ‖ field, and the derived MAC
//! keys). Must never: commit a change without its audit entries, or write
//! over rows put back from an older copy (see `state_seal`).

use rusqlite::{Transaction, TransactionBehavior};
use zeroize::Zeroizing;

use super::error::VaultError;
use super::hooks::Hook;
use super::journal;
use super::seal::{self, SealError};
use super::secret::VaultKey;
use super::session::{Actor, Session};
use super::state_seal;
use crate::audit::Event;
use crate::mfa::ProofMethod;

/// The sealing context handed to write closures.
pub(crate) struct Sealer<'a> {
    pub(super) key: &'a VaultKey,
    pub(super) vault_id: &'a [u8; 16],
    /// Who hears what a write raises (`vault::raise`); none outside writes.
    pub(super) hooks: &'a [Hook],
}

impl Sealer<'_> {
    pub(crate) fn seal(
        &self,
        record: &[u8; 16],
        field: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, VaultError> {
        seal::seal(
            self.key.bytes(),
            &seal::aad(self.vault_id, record, field),
            plaintext,
        )
        .map_err(seal_internal)
    }

    /// Opens a blob sealed by [`Sealer::seal`] with the same record and
    /// field.
    pub(crate) fn open(
        &self,
        record: &[u8; 16],
        field: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, SealError> {
        seal::open(
            self.key.bytes(),
            &seal::aad(self.vault_id, record, field),
            sealed,
        )
    }

    /// The audit chain's MAC key.
    pub(crate) fn audit_key(&self) -> crate::audit::AuditKey {
        crate::audit::AuditKey::derive(self.key.mac_root())
    }

    /// The key-row MAC key (see `vault::rowmac`).
    pub(crate) fn row_key(&self) -> super::rowmac::RowKey {
        super::rowmac::RowKey::derive(self.key.bytes())
    }

    /// A feature's own MAC key: HKDF-SHA256 of the vault's MAC root with
    /// `info` (one per feature and purpose). Under the MAC root, so a
    /// master-password change (which keeps the root) leaves the feature's
    /// MACs valid.
    pub(crate) fn feature_mac_key(&self, info: &'static [u8]) -> Zeroizing<[u8; 32]> {
        let mut subkey = Zeroizing::new([0u8; 32]);
        if hkdf::Hkdf::<sha2::Sha256>::new(None, self.key.mac_root())
            .expand(info, subkey.as_mut())
            .is_err()
        {
            unreachable!("HKDF-SHA256 expands 32 bytes");
        }
        subkey
    }

    /// The MFA state's MAC and recovery-hash key.
    pub(crate) fn mfa_key(&self) -> crate::mfa::MfaKey {
        crate::mfa::MfaKey::derive(self.key.mac_root())
    }
}

pub(super) fn seal_internal(_: SealError) -> VaultError {
    VaultError::Random
}

impl Session {
    /// The one write path: runs `f` inside a single immediate transaction,
    /// records `event` through [`journal::after_write`] in that same
    /// transaction, and commits. Nothing else in the vault writes records.
    pub(crate) fn write<T>(
        &mut self,
        actor: Actor,
        event: impl FnOnce(&T) -> Event,
        f: impl FnOnce(&Transaction<'_>, &Sealer<'_>) -> Result<T, VaultError>,
    ) -> Result<T, VaultError> {
        self.write_events(actor, None, |out| vec![event(out)], f)
    }

    /// [`Session::write`] for a gated action: the audit entry also says how
    /// step-up was passed.
    pub(crate) fn write_gated<T>(
        &mut self,
        actor: Actor,
        proof: ProofMethod,
        event: impl FnOnce(&T) -> Event,
        f: impl FnOnce(&Transaction<'_>, &Sealer<'_>) -> Result<T, VaultError>,
    ) -> Result<T, VaultError> {
        self.write_events(actor, Some(proof), |out| vec![event(out)], f)
    }

    /// The general form: `f`'s result decides which events (possibly none,
    /// e.g. an accepted step-up whose action audits itself) are recorded,
    /// each stamped with `actor` and the write's time. If `f` fails,
    /// nothing is written.
    pub(crate) fn write_events<T>(
        &mut self,
        actor: Actor,
        proof: Option<ProofMethod>,
        events: impl FnOnce(&T) -> Vec<Event>,
        f: impl FnOnce(&Transaction<'_>, &Sealer<'_>) -> Result<T, VaultError>,
    ) -> Result<T, VaultError> {
        self.key()?;
        let at = self.clock.now();
        let Session {
            conn,
            key,
            header,
            hooks,
            ..
        } = self;
        let key = key.as_ref().ok_or(VaultError::Locked)?;
        let sealer = Sealer {
            key,
            vault_id: &header.vault_id,
            hooks: &hooks[..],
        };
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Rows put back to an older copy since the last write are refused,
        // not sealed over (see `state_seal`).
        let prev = state_seal::before_write(&tx, &sealer)?;
        let out = f(&tx, &sealer)?;
        for event in events(&out) {
            journal::after_write(&tx, &sealer, event.stamped(actor, at), proof)?;
        }
        state_seal::reseal(&tx, &sealer, Some(&prev))?;
        tx.commit()?;
        Ok(out)
    }
}
