//! Why a managed-key operation was refused. Messages name labels,
//! exchanges and masked key ids; never a secret.

use crate::error::{ErrorKind, KindedError};
use crate::exchange::ExchangeError;
use crate::model::Exchange;
use crate::vault::VaultError;

/// A managed-key operation that could not be done.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManagedError {
    /// The vault refused (locked, key not found, MFA, damaged record…).
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The exchange refused or could not be reached.
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
    /// The deployment records could not be read (damaged, locked…).
    #[error(transparent)]
    Deploy(#[from] crate::deploy::DeployError),
    /// The key is granted to deployment targets: a manager key must never
    /// sit on a server.
    #[error(
        "{label:?} is granted to deployment target(s) {}: a manager key can manage every key of its account and must never sit on a server; withdraw it (`keyward target withdraw TARGET {label} --totp CODE`) and delete its bundle there first",
        .targets.join(", ")
    )]
    Deployed {
        /// The key's label.
        label: String,
        /// The targets it is granted to.
        targets: Vec<String>,
    },
    /// Keyward cannot use this exchange's key-management API.
    #[error(
        "Keyward cannot manage {} keys through the exchange's API",
        .exchange.display_name()
    )]
    NotSupported {
        /// The exchange.
        exchange: Exchange,
    },
    /// The live check says the key cannot serve as the manager key.
    #[error("{label:?} cannot be the manager key: {}", .problems.join("; "))]
    Unfit {
        /// The key's label.
        label: String,
        /// Why, said plainly.
        problems: Vec<String>,
    },
    /// The key did not pass its live check (rejected, unreachable…).
    #[error("{label:?} could not be checked live ({status}); a manager key must work: {detail}")]
    CheckFailed {
        /// The key's label.
        label: String,
        /// The check's result in one word.
        status: &'static str,
        /// What the check said.
        detail: String,
    },
    /// Another key of the same exchange and environment is the manager key.
    #[error(
        "{other:?} is already the manager key of this {} account; unmark it first (on its key page, or with `keyward manager unmark {other}`)",
        .exchange.display_name()
    )]
    OtherManager {
        /// The exchange.
        exchange: Exchange,
        /// The key marked now.
        other: String,
    },
    /// The key is not marked as a manager key.
    #[error("{label:?} is not a manager key")]
    NotManager {
        /// The key's label.
        label: String,
    },
    /// No key is marked as the manager key of that exchange and environment.
    #[error(
        "no manager key for {}: mark the account's master key as its manager key (on the key's page in the desktop app, \"Manager key\", or with `keyward manager mark LABEL --totp CODE`)",
        .exchange.display_name()
    )]
    NoManager {
        /// The exchange.
        exchange: Exchange,
    },
    /// The key id asked to revoke as unknown is a key of the vault.
    #[error(
        "key {key_id} is in the vault as {label:?}; revoke it on its key page or with `keyward revoke {label}`"
    )]
    KnownKey {
        /// The masked key id.
        key_id: String,
        /// The vault key's label.
        label: String,
    },
    /// The key id is not on the account as the exchange lists it.
    #[error("key {key_id} is not on the {} account", .exchange.display_name())]
    NotOnAccount {
        /// The exchange.
        exchange: Exchange,
        /// The masked key id.
        key_id: String,
    },
    /// A key of the master account itself: the manager key deletes only
    /// sub-account keys.
    #[error(
        "key {key_id} belongs to the master account, not a sub-account; delete it on the exchange's website"
    )]
    MasterAccountKey {
        /// The masked key id.
        key_id: String,
    },
}

impl KindedError for ManagedError {
    fn kind(&self) -> ErrorKind {
        match self {
            ManagedError::Vault(e) => e.kind(),
            ManagedError::Exchange(e) => e.kind(),
            ManagedError::Deploy(e) => e.kind(),
            ManagedError::CheckFailed { .. } => ErrorKind::Exchange,
            ManagedError::NotSupported { .. }
            | ManagedError::Unfit { .. }
            | ManagedError::OtherManager { .. }
            | ManagedError::Deployed { .. }
            | ManagedError::NotManager { .. }
            | ManagedError::KnownKey { .. }
            | ManagedError::MasterAccountKey { .. } => ErrorKind::Invalid,
            ManagedError::NoManager { .. } | ManagedError::NotOnAccount { .. } => {
                ErrorKind::NotFound
            }
        }
    }
}
