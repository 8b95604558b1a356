//! A new vault key with a new master password, and the other changes of
//! the password wrap: [`Session::change_password`] (gated) and
//! [`Session::raise_kdf_params`].
//!
//! Owns: re-sealing, in one transaction, every field sealed under the vault
//! key — key secrets and passphrases, the secrets a rotation holds, the TOTP
//! seeds, the alert configuration, the settings with the state seal, the
//! audit head — under a fresh key, and wrapping that key under the new
//! password. Once it commits, an old copy of the header and the old
//! password unwrap a key that opens nothing written afterwards.
//!
//! The key-row MACs are renewed under the new key. The audit chain, the MFA
//! record (whose recovery-code hashes cannot be recomputed without the
//! codes) and the outbox stay MAC'd under the previous MAC root, which is
//! kept sealed under the new key (`vault_meta.mac_root`): each of them is
//! bound by the state seal (and the audit chain by its sealed head), both
//! sealed under the new key, so an old key forges nothing unnoticed there.
//!
//! OS-keyring unlock wrapped the old key; it is turned off (and its
//! keyring entry deleted after the commit), audited as such.
//!
//! Must never: re-seal a row it has not verified (a tampered key row, rows
//! put back from an older copy, or a field that does not open stop the
//! change before anything is written), or leave any sealed field under the
//! old key.

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::error::VaultError;
use super::journal::{self, AUDIT_HEAD_FIELD};
use super::kdf::KdfParams;
use super::kdf::new_salt;
use super::secret::{MasterPassword, VaultKey};
use super::session::{Actor, META_RECORD, Session};
use super::settings::{open_sealed, seal_sealed};
use super::store::{
    Header, ROTATION_NEW_PASSPHRASE, ROTATION_NEW_SECRET, ROTATION_PREVIOUS_PASSPHRASE,
    ROTATION_PREVIOUS_SECRET,
};
use super::write::{Sealer, seal_internal};
use super::{gated, rowmac, seal, state_seal};
use crate::audit::{self, Details, Event, NewEvent};
use crate::mfa::actions::ChangePassword;
use crate::mfa::store::MfaRecord;
use crate::mfa::{ProofMethod, StepUpGrant};
use serde_json::json;

/// Field name (and AAD) of the sealed MAC root.
pub(super) const MAC_ROOT_FIELD: &str = "meta.mac_root";

/// Every sealed column whose AAD record is its row's `id`: table, column,
/// AAD field name. (The header's fields, the TOTP seeds and the alert
/// configuration have fixed records and are handled one by one.)
const SEALED_COLUMNS: &[(&str, &str, &str)] = &[
    ("keys", "secret", "secret"),
    ("keys", "passphrase", "passphrase"),
    ("rotations", "new_secret", ROTATION_NEW_SECRET),
    ("rotations", "new_passphrase", ROTATION_NEW_PASSPHRASE),
    ("rotations", "previous_secret", ROTATION_PREVIOUS_SECRET),
    (
        "rotations",
        "previous_passphrase",
        ROTATION_PREVIOUS_PASSPHRASE,
    ),
];

fn reseal_blob(
    old: &Sealer<'_>,
    new: &Sealer<'_>,
    record: &[u8; 16],
    field: &str,
    what: &str,
    blob: &[u8],
) -> Result<Vec<u8>, VaultError> {
    let plain = old
        .open(record, field, blob)
        .map_err(|_| VaultError::Corrupt {
            record: what.to_owned(),
            field: "sealed field",
        })?;
    new.seal(record, field, &plain)
}

/// Re-seals one column of one table, row by row.
fn reseal_column(
    tx: &Transaction<'_>,
    old: &Sealer<'_>,
    new: &Sealer<'_>,
    (table, column, field): &(&str, &str, &str),
) -> Result<(), VaultError> {
    let rows: Vec<(i64, Vec<u8>, Vec<u8>)> = {
        let mut stmt = tx.prepare(&format!(
            "SELECT rowid, id, {column} FROM {table} WHERE {column} IS NOT NULL"
        ))?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?
    };
    for (rowid, id, blob) in rows {
        let rec: [u8; 16] = id
            .as_slice()
            .try_into()
            .map_err(|_| VaultError::Malformed {
                record: (*table).to_owned(),
                field: "id",
            })?;
        let sealed = reseal_blob(old, new, &rec, field, table, &blob)?;
        tx.execute(
            &format!("UPDATE {table} SET {column} = ?2 WHERE rowid = ?1"),
            params![rowid, sealed],
        )?;
    }
    Ok(())
}

/// Re-seals the sealed columns of `vault_meta` (settings with the state
/// seal, audit head) and stores the MAC root under the new key.
fn reseal_meta(
    tx: &Transaction<'_>,
    old_key: &VaultKey,
    new: &Sealer<'_>,
    old: &Sealer<'_>,
) -> Result<(), VaultError> {
    let (settings, head): (Vec<u8>, Option<Vec<u8>>) = tx.query_row(
        "SELECT settings, audit_head FROM vault_meta WHERE id = 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let vault_id = new.vault_id;
    let settings = open_sealed(old_key, vault_id, &settings)?;
    let settings = seal_sealed(new.key, vault_id, &settings)?;
    let head = head
        .map(|h| reseal_blob(old, new, &META_RECORD, AUDIT_HEAD_FIELD, "audit head", &h))
        .transpose()?;
    let root = new.seal(&META_RECORD, MAC_ROOT_FIELD, new.key.mac_root())?;
    tx.execute(
        "UPDATE vault_meta SET settings = ?1, audit_head = ?2, mac_root = ?3 WHERE id = 1",
        params![settings, head, root],
    )?;
    Ok(())
}

/// The alert configuration, if one is stored.
fn reseal_alert_config(
    tx: &Transaction<'_>,
    old: &Sealer<'_>,
    new: &Sealer<'_>,
) -> Result<(), VaultError> {
    let config: Option<Vec<u8>> = tx
        .query_row("SELECT config FROM alert_config WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?
        .flatten();
    if let Some(config) = config {
        let record = &META_RECORD;
        let sealed = reseal_blob(
            old,
            new,
            record,
            super::store::ALERT_CONFIG_FIELD,
            "alert_config",
            &config,
        )?;
        tx.execute(
            "UPDATE alert_config SET config = ?1 WHERE id = 1",
            params![sealed],
        )?;
    }
    Ok(())
}

/// The TOTP seeds, inside the MFA record (whose MAC covers them: the record
/// is read and checked first, then stored again).
fn reseal_mfa(tx: &Transaction<'_>, old: &Sealer<'_>, new: &Sealer<'_>) -> Result<(), VaultError> {
    let has_row: bool = tx.query_row("SELECT EXISTS(SELECT 1 FROM mfa)", [], |r| r.get(0))?;
    if !has_row {
        return Ok(());
    }
    // Same MAC root before and after: the record's own MAC key is unchanged.
    let mfa_key = new.mfa_key();
    let mut record = MfaRecord::load(tx, &mfa_key)?;
    record
        .reseal_seeds(|seed| reseal_blob(old, new, &META_RECORD, gated::SEED_FIELD, "mfa", seed))?;
    record.store(tx, &mfa_key)?;
    Ok(())
}

fn device_account(conn: &Connection) -> Result<Option<String>, VaultError> {
    let row: (Option<Vec<u8>>, Option<String>) = conn.query_row(
        "SELECT device_wrap, device_account FROM vault_meta WHERE id = 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(match row {
        (Some(_), account) => Some(account.unwrap_or_default()),
        (None, _) => None,
    })
}

impl Session {
    /// Replaces the vault key and wraps the new one under `password` (see
    /// the module docs). One transaction: a crash leaves either the old
    /// key and password or the new ones, never a mix.
    pub(super) fn rekey(
        &mut self,
        actor: Actor,
        proof: ProofMethod,
        password: &MasterPassword,
    ) -> Result<(), VaultError> {
        self.key()?;
        let header = Header {
            salt: new_salt()?,
            ..self.header.clone()
        };
        let kek = header
            .kdf
            .derive(password.expose().as_bytes(), &header.salt)?;
        let at = self.now();
        let Session {
            conn,
            key,
            header: current,
            ..
        } = self;
        let old_key = key.as_ref().ok_or(VaultError::Locked)?;
        let new_key = VaultKey::generate()
            .map_err(|_| VaultError::Random)?
            .with_mac_root(old_key.mac_root())
            .ok_or(VaultError::Random)?;
        let vault_id = current.vault_id;
        let old = Sealer {
            key: old_key,
            vault_id: &vault_id,
            hooks: &[],
        };
        let new = Sealer {
            key: &new_key,
            vault_id: &vault_id,
            hooks: &[],
        };
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let prev = state_seal::before_write(&tx, &old)?;
        let damaged = rowmac::damaged(&tx, &old)?;
        if !damaged.is_empty() {
            return Err(VaultError::IntegrityFailed {
                damaged: damaged.into_iter().map(|(_, label)| label).collect(),
            });
        }
        let device = device_account(&tx)?;
        for column in SEALED_COLUMNS {
            reseal_column(&tx, &old, &new, column)?;
        }
        reseal_mfa(&tx, &old, &new)?;
        reseal_alert_config(&tx, &old, &new)?;
        reseal_meta(&tx, old_key, &new, &old)?;
        rowmac::seal_all(&tx, &new)?;
        let wrap = seal::seal(kek.bytes(), &header.password_wrap_aad(), new_key.bytes())
            .map_err(|_| VaultError::Random)?;
        tx.execute(
            "UPDATE vault_meta SET kdf_salt = ?1, password_wrap = ?2, header_check = ?3,
                device_wrap = NULL, device_account = NULL
             WHERE id = 1",
            params![&header.salt[..], &wrap, header.check(&wrap)],
        )?;
        let mut actions = vec![audit::Action::PasswordChanged];
        if device.is_some() {
            actions.push(audit::Action::KeyringUnlockRemoved);
        }
        for action in actions {
            journal::after_write(&tx, &new, NewEvent::new(actor, action, at), Some(proof))?;
        }
        state_seal::reseal(&tx, &new, Some(&prev))?;
        tx.commit()?;
        self.key = Some(new_key);
        self.header = header;
        if let Some(account) = device {
            // The entry wraps a key that no longer opens anything; removing
            // it is tidiness, so a keyring that is unavailable now is fine.
            let _ = super::device::forget(&account, &vault_id);
        }
        Ok(())
    }
}

impl Session {
    fn rewrap(
        &mut self,
        actor: Actor,
        event: Event,
        password: &MasterPassword,
        kdf: KdfParams,
    ) -> Result<(), VaultError> {
        kdf.check()?;
        let header = Header {
            salt: new_salt()?,
            kdf,
            ..self.header.clone()
        };
        let kek = kdf.derive(password.expose().as_bytes(), &header.salt)?;
        let h = header.clone();
        self.write(
            actor,
            |_| event,
            |tx, sealer| {
                let wrap = seal::seal(kek.bytes(), &h.password_wrap_aad(), sealer.key.bytes())
                    .map_err(seal_internal)?;
                tx.execute(
                    "UPDATE vault_meta SET kdf_memory_kib = ?1, kdf_iterations = ?2,
                        kdf_parallelism = ?3, kdf_salt = ?4, password_wrap = ?5, header_check = ?6
                     WHERE id = 1",
                    params![
                        kdf.memory_kib,
                        kdf.iterations,
                        kdf.parallelism,
                        &h.salt[..],
                        &wrap,
                        h.check(&wrap)
                    ],
                )?;
                Ok(())
            },
        )?;
        self.header = header;
        Ok(())
    }

    /// Changes the master password (gated: [`GatedAction::ChangePassword`]);
    /// the current one is re-checked under the unlock throttle.
    ///
    /// The vault key changes with it (see `vault::rekey`): every sealed
    /// field is sealed again under a fresh key in one transaction, so an old
    /// copy of the header and the old password open nothing added after
    /// this. OS-keyring unlock, which wrapped the old key, is turned off.
    /// A new password below the strength minimum is refused
    /// ([`VaultError::WeakPassword`]) before anything is written.
    pub fn change_password(
        &mut self,
        actor: Actor,
        grant: StepUpGrant<ChangePassword>,
        current: &MasterPassword,
        new: &MasterPassword,
    ) -> Result<(), VaultError> {
        self.key()?;
        self.recheck_password(current)?;
        crate::password::require_strong(new.expose(), &[])?;
        self.rekey(actor, grant.method(), new)
    }

    /// Raises the Argon2id parameters and re-wraps the vault key. Lowering
    /// any parameter is refused ([`VaultError::KdfDowngrade`]).
    pub fn raise_kdf_params(
        &mut self,
        actor: Actor,
        password: &MasterPassword,
        kdf: KdfParams,
    ) -> Result<(), VaultError> {
        self.key()?;
        if !kdf.at_least(&self.header.kdf) {
            return Err(VaultError::KdfDowngrade);
        }
        self.recheck_password(password)?;
        self.rewrap(
            actor,
            Event::new(audit::Action::SettingsChanged)
                .with_details(Details::new().with("changed", json!({ "kdf": "raised" }))),
            password,
            kdf,
        )
    }
}
