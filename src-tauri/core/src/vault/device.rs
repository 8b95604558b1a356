//! "Remember on this device": unlocking through the OS keyring.
//!
//! Owns: the device key kept in the Secret Service / Keychain / Credential
//! Manager (via the `keyring` crate) and the second wrap of the vault key
//! under it, stored in `vault_meta.device_wrap`. Must never: store the vault
//! key or the master password in the keyring (only a random device key, so
//! disabling deletes one entry and the wrap, and nothing else changes), or
//! make the master password path depend on the keyring working.

use rusqlite::params;
use serde::Serialize;
use zeroize::Zeroize;

use super::error::VaultError;
use super::seal;
use super::secret::{DeviceKey, VaultKey};
use super::session::{Actor, META_RECORD, Session};
use super::unlock::Vault;
use crate::audit::{self, Event};
use crate::mfa::StepUpGrant;
use crate::mfa::actions::SecuritySettings;

const SERVICE: &str = "keyward";

/// Whether the OS keyring can be used, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KeyringStatus {
    /// A credential store is reachable.
    pub available: bool,
    /// Why not, in words to show the user.
    pub reason: Option<String>,
}

fn describe(err: &keyring::Error) -> String {
    match err {
        keyring::Error::NoDefaultStore => {
            "no Secret Service is reachable (no D-Bus session bus, or no keyring daemon running)"
                .into()
        }
        keyring::Error::NoStorageAccess(_) => {
            "the keyring is locked or access to it was refused".into()
        }
        keyring::Error::PlatformFailure(e) => format!("the keyring reported a failure: {e}"),
        keyring::Error::NoEntry => "no device key is stored for this vault".into(),
        _ => "the keyring rejected the request".into(),
    }
}

/// Why the keyring store as a whole cannot be used, in words a newcomer
/// can act on: a failed connection is a missing Secret Service, not a
/// transport error to decode.
fn describe_store(err: &keyring::Error) -> String {
    match err {
        keyring::Error::PlatformFailure(_) | keyring::Error::NoDefaultStore => {
            "no Secret Service answers on this desktop session (GNOME Keyring or KWallet must be running)"
                .into()
        }
        other => describe(other),
    }
}

fn unavailable(err: &keyring::Error) -> VaultError {
    VaultError::KeyringUnavailable {
        reason: describe(err),
    }
}

/// Checks whether the OS keyring can be used at all (fails fast, never
/// prompts).
pub fn device_unlock_status() -> KeyringStatus {
    match keyring::Entry::store_status() {
        Ok(()) => KeyringStatus {
            available: true,
            reason: None,
        },
        Err(e) => KeyringStatus {
            available: false,
            reason: Some(describe_store(e)),
        },
    }
}

/// Refuses, with the reason, when the OS keyring cannot be used. Front ends
/// call it before asking for a step-up, so no code is spent on something
/// that cannot work on this computer.
pub fn require_device_unlock() -> Result<(), VaultError> {
    match keyring::Entry::store_status() {
        Ok(()) => Ok(()),
        Err(e) => Err(VaultError::KeyringUnavailable {
            reason: describe_store(e),
        }),
    }
}

fn entry(account: &str) -> Result<keyring::Entry, VaultError> {
    require_device_unlock()?;
    keyring::Entry::new(SERVICE, account).map_err(|e| unavailable(&e))
}

/// Deletes this vault's device key from the OS keyring (`account` as
/// stored; empty means the default account name). A missing entry is fine.
pub(super) fn forget(account: &str, vault_id: &[u8; 16]) -> Result<(), VaultError> {
    let account = if account.is_empty() {
        account_for(vault_id)
    } else {
        account.to_owned()
    };
    match entry(&account)?.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(err) => Err(unavailable(&err)),
    }
}

fn device_aad(vault_id: &[u8; 16]) -> Vec<u8> {
    seal::aad(vault_id, &META_RECORD, "meta.device_wrap")
}

fn account_for(vault_id: &[u8; 16]) -> String {
    format!("vault-{}", hex::encode(vault_id))
}

impl Session {
    /// Whether OS-keyring unlock is set up for this vault.
    pub fn device_unlock_enabled(&self) -> Result<bool, VaultError> {
        let wrap: Option<Vec<u8>> =
            self.conn()
                .query_row("SELECT device_wrap FROM vault_meta WHERE id = 1", [], |r| {
                    r.get(0)
                })?;
        Ok(wrap.is_some())
    }

    /// Stores a fresh random device key in the OS keyring and a second wrap
    /// of the vault key under it in the vault. Replaces any earlier one.
    /// Gated: [`GatedAction::SecuritySettings`](crate::mfa::GatedAction::SecuritySettings).
    pub fn enable_device_unlock(
        &mut self,
        actor: Actor,
        grant: StepUpGrant<SecuritySettings>,
    ) -> Result<(), VaultError> {
        let vault_id = self.header().vault_id;
        let account = account_for(&vault_id);
        let entry = entry(&account)?;
        let device = DeviceKey::generate().map_err(|_| VaultError::Random)?;
        let wrap = {
            let key = self.vault_key()?;
            seal::seal(device.bytes(), &device_aad(&vault_id), key.bytes())
                .map_err(|_| VaultError::Random)?
        };
        entry
            .set_secret(device.bytes())
            .map_err(|e| unavailable(&e))?;
        let stored = self.write_gated(
            actor,
            grant.method(),
            |_| Event::new(audit::Action::KeyringUnlockEnabled),
            |tx, _| {
                tx.execute(
                    "UPDATE vault_meta SET device_wrap = ?1, device_account = ?2 WHERE id = 1",
                    params![wrap, account],
                )?;
                Ok(())
            },
        );
        if stored.is_err() {
            // Do not leave an orphaned device key behind.
            let _ = entry.delete_credential();
        }
        stored
    }

    /// Deletes the device key from the OS keyring and the wrap from the
    /// vault. The wrap is removed even if the keyring cannot be reached (the
    /// orphaned keyring entry then unlocks nothing).
    /// Gated: [`GatedAction::SecuritySettings`](crate::mfa::GatedAction::SecuritySettings).
    pub fn disable_device_unlock(
        &mut self,
        actor: Actor,
        grant: StepUpGrant<SecuritySettings>,
    ) -> Result<(), VaultError> {
        let account: Option<String> = self.conn().query_row(
            "SELECT device_account FROM vault_meta WHERE id = 1",
            [],
            |r| r.get(0),
        )?;
        let account = account.unwrap_or_else(|| account_for(&self.header().vault_id));
        let keyring_result = entry(&account).and_then(|e| match e.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(err) => Err(unavailable(&err)),
        });
        self.write_gated(
            actor,
            grant.method(),
            |_| Event::new(audit::Action::KeyringUnlockRemoved),
            |tx, _| {
                tx.execute(
                    "UPDATE vault_meta SET device_wrap = NULL, device_account = NULL WHERE id = 1",
                    [],
                )?;
                Ok(())
            },
        )?;
        keyring_result
    }
}

impl Vault {
    /// Unlocks with the device key from the OS keyring. With no usable
    /// keyring this fails with [`VaultError::KeyringUnavailable`] and the
    /// master password still works.
    pub fn unlock_with_device(&self) -> Result<Session, VaultError> {
        let meta = self.reread_meta()?;
        let Some(wrap) = meta.device_wrap.clone() else {
            return Err(VaultError::DeviceUnlockNotEnabled);
        };
        let account = meta
            .device_account
            .clone()
            .unwrap_or_else(|| account_for(&meta.header.vault_id));
        let entry = entry(&account)?;
        let mut raw = match entry.get_secret() {
            Ok(raw) => raw,
            Err(keyring::Error::NoEntry) => {
                self.record_failed_unlock("device")?;
                return Err(VaultError::DeviceKeyMismatch);
            }
            Err(e) => return Err(unavailable(&e)),
        };
        let device = DeviceKey::from_slice(&raw);
        raw.zeroize();
        let key = device.and_then(|device| {
            let key_bytes =
                seal::open(device.bytes(), &device_aad(&meta.header.vault_id), &wrap).ok()?;
            VaultKey::from_slice(&key_bytes)
        });
        let Some(key) = key else {
            self.record_failed_unlock("device")?;
            return Err(VaultError::DeviceKeyMismatch);
        };
        self.session(key, &meta, "device")
    }
}
