//! Errors of the vault.
//!
//! Owns: every way a vault operation can fail, named so a front end can act
//! on it, and its mapping onto [`ErrorKind`]. Must never: carry a secret, a
//! passphrase, a password or decrypted bytes in a variant or a message.

use std::path::PathBuf;

use thiserror::Error;

use super::kdf::KdfParams;
use crate::audit::AuditError;
use crate::error::{ErrorKind, KindedError};
use crate::mfa::MfaError;
use crate::model::validate::ValidationError;

/// Something a vault operation could not do.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum VaultError {
    /// No vault file at the path.
    #[error("no vault at {path}; create one with `keyward init`")]
    NotFound {
        /// Where a vault was expected.
        path: PathBuf,
    },
    /// A vault (or some other file) already exists where one would be created.
    #[error("{path} already exists; refusing to overwrite it")]
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// The file is not a Keyward vault (not SQLite, wrong application id, no
    /// vault metadata).
    #[error("{path} is not a Keyward vault")]
    NotAVault {
        /// The file.
        path: PathBuf,
    },
    /// The vault was written by a newer Keyward.
    #[error("vault format version {found} is not supported (this build reads up to {supported})")]
    UnsupportedVersion {
        /// Version in the file.
        found: i64,
        /// Highest version this build understands.
        supported: i64,
    },
    /// The KDF parameters ask for more work than any genuine vault would.
    #[error(
        "the vault asks for excessive key-derivation cost ({} MiB, {} passes, {} lanes); refusing to derive",
        params.memory_kib / 1024, params.iterations, params.parallelism
    )]
    ExcessiveKdfCost {
        /// The refused parameters.
        params: KdfParams,
    },
    /// The KDF parameters are below the OWASP minimum.
    #[error(
        "key-derivation parameters ({} MiB, {} passes, {} lanes) are below the minimum of 19 MiB, 2 passes, 1 lane",
        params.memory_kib / 1024, params.iterations, params.parallelism
    )]
    WeakKdfParams {
        /// The refused parameters.
        params: KdfParams,
    },
    /// Lowering KDF parameters of an existing vault is not allowed.
    #[error("key-derivation parameters can only be raised, not lowered")]
    KdfDowngrade,
    /// The master password did not unwrap the vault key.
    #[error("wrong master password")]
    WrongPassword,
    /// Too many recent failed unlocks; try again later.
    #[error("too many failed unlock attempts; try again in {retry_after_secs} s")]
    Throttled {
        /// Seconds until the next attempt is accepted.
        retry_after_secs: u64,
    },
    /// The vault header (format version, vault id, KDF parameters, salt or key
    /// wrap) was modified or damaged.
    #[error("the vault header is damaged or was tampered with ({what})")]
    HeaderCorrupt {
        /// Which part failed (never secret).
        what: &'static str,
    },
    /// A sealed field failed authentication.
    #[error("record {record:?} is damaged or was tampered with (field {field})")]
    Corrupt {
        /// The record's label.
        record: String,
        /// The field name.
        field: &'static str,
    },
    /// A key row's plain columns (label, exchange, base URL, status, scopes,
    /// the "allow run" grant, …) were changed outside Keyward: its MAC does
    /// not match. Every action on that key is refused.
    #[error(
        "key {label:?} (record {id}) was changed outside Keyward: its stored settings fail \
         their integrity check; restore it from a backup or delete it"
    )]
    RecordTampered {
        /// The label as currently stored (possibly the tampered one).
        label: String,
        /// The record id.
        id: String,
    },
    /// A stored value could not be parsed (e.g. an unknown enum name).
    #[error("record {record:?} has an unreadable {field}")]
    Malformed {
        /// The record's label, or `vault_meta`.
        record: String,
        /// The field name.
        field: &'static str,
    },
    /// The integrity check found damaged records.
    #[error("integrity check failed for {}", damaged.join(", "))]
    IntegrityFailed {
        /// Labels of the damaged records.
        damaged: Vec<String>,
    },
    /// The key is its account's manager key: it is never handed to
    /// `keyward run` (nor allowed for it), whatever its "allow run" grant
    /// says.
    #[error(
        "{label:?} is a manager key: it can manage every key of its account, so Keyward never \
         hands it to a process; give the program a key of its own"
    )]
    ManagerKeyNotForRun {
        /// The key's label.
        label: String,
    },
    /// No key with that label.
    #[error("no key labelled {label:?}")]
    KeyNotFound {
        /// The label asked for.
        label: String,
    },
    /// No service with that name on the key.
    #[error("key {label:?} has no linked service named {service:?}")]
    ServiceNotFound {
        /// The key's label.
        label: String,
        /// The service name asked for (truncated).
        service: String,
    },
    /// Input failed validation.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// A new master password below the strength minimum
    /// ([`crate::password::MIN_SCORE`]); every front end gets this rule.
    #[error(transparent)]
    WeakPassword(#[from] crate::password::WeakPassword),
    /// The session was locked (idle timeout or explicit lock).
    #[error("the vault is locked")]
    Locked,
    /// OS-keyring unlock is not set up for this vault.
    #[error("unlock with the OS keyring is not enabled for this vault")]
    DeviceUnlockNotEnabled,
    /// The OS keyring is not usable; the master password still works.
    #[error("the OS keyring is not available ({reason}); use the master password")]
    KeyringUnavailable {
        /// Why, in words safe to show.
        reason: String,
    },
    /// The device key in the OS keyring is missing or does not match.
    #[error("the key stored in the OS keyring does not unlock this vault; use the master password")]
    DeviceKeyMismatch,
    /// A backup file could not be read as a Keyward backup.
    #[error("not a Keyward backup file, or it is damaged")]
    BackupCorrupt,
    /// The backup passphrase was wrong (or the backup was tampered with).
    #[error("wrong backup passphrase, or the backup was tampered with")]
    WrongBackupPassphrase,
    /// MFA enrolment or step-up refused or failed (missing, wrong, replayed
    /// or throttled code, and so on).
    #[error(transparent)]
    Mfa(#[from] MfaError),
    /// The audit log could not be written, read or verified.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The vault says MFA is enrolled but its MFA record is missing or does
    /// not say so: the record was deleted or rolled back.
    #[error("the MFA record is missing or was rolled back while MFA is enrolled")]
    MfaRecordMissing,
    /// Part of the vault file no longer matches the state seal: a row was
    /// put back to an older copy of itself (or removed) while the rest of
    /// the file moved on. Nothing is written; the vault cannot be used
    /// until it is restored.
    #[error(
        "{what} no longer matches the rest of the vault: part of the file was put back to an \
         older copy or edited outside Keyward; restore a backup (or an older copy of the whole \
         file) and treat the keys in it as exposed"
    )]
    RolledBack {
        /// Which part (never secret): `the MFA state`, `the sealed settings`,
        /// `the sealed audit head`, `the webhook outbox`.
        what: &'static str,
    },
    /// The OS random generator failed.
    #[error("the system random generator failed")]
    Random,
    /// SQLite failed. The message never quotes SQL (see [`short_db_error`]).
    #[error("vault database error: {}", short_db_error(.0))]
    Database(#[from] rusqlite::Error),
    /// File I/O failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A feature refused, inside or around a vault call (e.g. alerts: a
    /// webhook URL refused or a webhook message not delivered; the URL is
    /// never part of the message). [`VaultError::feature`] gives the
    /// feature's error back, typed.
    #[error(transparent)]
    Feature(FeatureError),
    /// A file could not be written safely (it exists, is a link) or secret
    /// input was too large.
    #[error(transparent)]
    File(#[from] crate::files::FileError),
}

impl KindedError for VaultError {
    fn kind(&self) -> ErrorKind {
        match self {
            VaultError::NotFound { .. }
            | VaultError::KeyNotFound { .. }
            | VaultError::ServiceNotFound { .. } => ErrorKind::NotFound,
            VaultError::AlreadyExists { .. }
            | VaultError::WeakKdfParams { .. }
            | VaultError::KdfDowngrade
            | VaultError::Invalid(_)
            | VaultError::WeakPassword(_)
            | VaultError::DeviceUnlockNotEnabled
            | VaultError::KeyringUnavailable { .. }
            | VaultError::ManagerKeyNotForRun { .. } => ErrorKind::Invalid,
            VaultError::WrongPassword
            | VaultError::Throttled { .. }
            | VaultError::Locked
            | VaultError::DeviceKeyMismatch
            | VaultError::WrongBackupPassphrase => ErrorKind::Locked,
            VaultError::NotAVault { .. }
            | VaultError::UnsupportedVersion { .. }
            | VaultError::ExcessiveKdfCost { .. }
            | VaultError::HeaderCorrupt { .. }
            | VaultError::Corrupt { .. }
            | VaultError::RecordTampered { .. }
            | VaultError::Malformed { .. }
            | VaultError::IntegrityFailed { .. }
            | VaultError::BackupCorrupt
            | VaultError::MfaRecordMissing
            | VaultError::RolledBack { .. } => ErrorKind::Integrity,
            VaultError::Mfa(e) => e.kind(),
            VaultError::Audit(e) => e.kind(),
            VaultError::Feature(e) => e.kind,
            VaultError::File(e) => e.kind(),
            VaultError::Random | VaultError::Database(_) | VaultError::Io { .. } => {
                ErrorKind::Internal
            }
        }
    }
}

/// A feature's own error carried through the vault's calls (see
/// [`VaultError::Feature`]): the vault knows its kind and message, never its
/// type.
#[derive(Debug)]
pub struct FeatureError {
    kind: ErrorKind,
    error: Box<dyn std::error::Error + Send + Sync>,
}

impl std::fmt::Display for FeatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for FeatureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

impl VaultError {
    /// Carries a feature's error through the vault (its kind decides the
    /// exit code and the IPC kind, its message is shown as it is).
    pub fn from_feature<E>(error: E) -> VaultError
    where
        E: KindedError + std::error::Error + Send + Sync + 'static,
    {
        VaultError::Feature(FeatureError {
            kind: error.kind(),
            error: Box::new(error),
        })
    }

    /// The feature error of type `E` this carries, if any.
    pub fn feature<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            VaultError::Feature(f) => f.error.downcast_ref::<E>(),
            _ => None,
        }
    }
}

/// SQLite's message without the statement it may quote (a damaged schema
/// makes a migration's error carry the whole `CREATE TABLE` text), printable
/// and at most 200 characters.
fn short_db_error(e: &rusqlite::Error) -> String {
    let text = match e {
        rusqlite::Error::SqlInputError { msg, .. } => msg.clone(),
        other => other.to_string(),
    };
    let mut out: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    if text.chars().count() > 200 {
        out.push('…');
    }
    out
}
