//! The encrypted vault: file format, schema and migrations, key derivation,
//! envelope encryption, records, lock/unlock, OS-keyring unlock and backups.
//!
//! Owns: everything that touches the vault file. Must never: hand plaintext
//! secrets to anything but the gated reveal path, write a secret outside a
//! sealed field, or write anything outside [`Session`]'s single transactional
//! write path.
//!
//! # Crypto (DESIGN §2)
//! master password → Argon2id ([`KdfParams`], per-vault salt) → key-encryption
//! key → AES-256-GCM wrap of a random 256-bit [`VaultKey`]. Every secret and
//! passphrase is sealed separately with AES-256-GCM, a fresh 96-bit nonce and
//! AAD = vault id ‖ record id ‖ field name. The header (format version, vault
//! id, KDF parameters, salt) is the AAD of the key wrap and carries a SHA-256
//! damage check, so tampering is detected and "corrupt" is told apart from
//! "wrong password".
//!
//! # API for front ends
//! ```text
//! vault::status(path) -> VaultStatus                       // no I/O beyond stat
//! Vault::create(path, &MasterPassword, KdfParams) -> Result<Session>
//! Vault::open(path) -> Result<Vault>                       // checks, decrypts nothing
//! Vault::open_with(path, VaultOptions { clock, throttle }) -> Result<Vault>
//! Vault::info() -> VaultInfo                               // while locked
//! Vault::unlock(&MasterPassword) -> Result<Session>        // WrongPassword / Throttled
//! Vault::unlock_with_device() -> Result<Session>           // OS keyring
//! Vault::unlock_wait() -> Result<Duration>
//! Session::add_key(Actor, NewKey) -> Result<KeySummary>
//! Session::list_keys() -> Result<Vec<KeySummary>>
//! Session::search_keys(&str) -> Result<Vec<KeySummary>>
//! Session::key_detail(label) -> Result<KeyDetail>
//! Session::edit_key(Actor, label, KeyEdit) -> Result<KeyDetail>
//! Session::settings() / set_settings(Actor, Settings)
//! Session::change_password(Actor, &current, &new)
//! Session::raise_kdf_params(Actor, &password, KdfParams)
//! Session::check_integrity() -> Result<IntegrityReport>
//! Session::enable_device_unlock(Actor) / disable_device_unlock(Actor)
//! device_unlock_status() -> KeyringStatus
//! Session::export_backup(Actor, out, &BackupPassphrase) -> Result<usize>
//! Session::import_backup(Actor, file, &BackupPassphrase, ConflictPolicy) -> Result<ImportReport>
//! Session::is_idle_expired() / idle_deadline() / touch() / lock()
//! ```
//! Every method of [`Session`] counts as activity; after
//! [`Settings::auto_lock_minutes`] without one, the next call zeroizes the
//! vault key and fails with [`VaultError::Locked`].

mod backup;
mod clock;
mod device;
mod error;
mod journal;
mod kdf;
mod policy;
mod record;
mod seal;
mod secret;
mod session;
mod store;
pub mod validate;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use backup::{ConflictPolicy, ImportReport};
pub use clock::{Clock, ManualClock, SystemClock};
pub use device::{KeyringStatus, device_unlock_status};
pub use error::VaultError;
pub use kdf::KdfParams;
pub use policy::{Settings, UnlockThrottle};
pub use record::{
    Environment, Exchange, KeyDetail, KeyEdit, KeyStatus, KeySummary, KeyType, NewKey, Scope,
    mask_key_id,
};
pub use secret::{ApiSecret, BackupPassphrase, MasterPassword, Passphrase, VaultKey};
pub use session::{
    Action, Actor, DamagedRecord, IntegrityReport, Session, Vault, VaultInfo, VaultOptions,
};
pub use store::{FORMAT_VERSION, SCHEMA_VERSION};
pub use validate::ValidationError;

/// What a front end may know about a vault before unlocking it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct VaultStatus {
    /// Where the vault is (or would be created).
    pub path: PathBuf,
    /// Whether a vault file exists there.
    pub exists: bool,
}

/// Looks at `path` without opening or modifying anything.
pub fn status(path: &Path) -> VaultStatus {
    VaultStatus {
        path: path.to_path_buf(),
        exists: path.is_file(),
    }
}
