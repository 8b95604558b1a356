//! Errors of rotation and revocation. Messages name the key, the state and
//! what to do; they never carry a secret.

use thiserror::Error;

use super::RotationState;
use crate::error::{ErrorKind, KindedError};
use crate::exchange::ExchangeError;
use crate::model::Exchange;
use crate::vault::VaultError;

/// Why a rotation or revocation step was refused or failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RotationError {
    /// The vault refused (locked, key not found, MFA, damaged record…).
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// A deployment target refused (a row that does not verify).
    #[error(transparent)]
    Deploy(#[from] crate::deploy::DeployError),
    /// The key has no open rotation.
    #[error("{label:?} has no open rotation; start one with `keyward rotate begin {label}`")]
    NoOpenRotation {
        /// The key's label.
        label: String,
    },
    /// The key already has an open rotation (at most one per key).
    #[error("{label:?} already has an open rotation (state {state}); continue it or cancel it")]
    AlreadyOpen {
        /// The key's label.
        label: String,
        /// Where it stands.
        state: RotationState,
    },
    /// The step does not fit the rotation's state.
    #[error("the rotation of {label:?} is {state}; {step} is not possible now ({hint})")]
    WrongState {
        /// The key's label.
        label: String,
        /// Where it stands.
        state: RotationState,
        /// The refused step.
        step: &'static str,
        /// What is possible instead.
        hint: &'static str,
    },
    /// The key cannot be rotated or revoked in its status.
    #[error("{label:?} is {status}; {what}")]
    KeyStatus {
        /// The key's label.
        label: String,
        /// Its status.
        status: &'static str,
        /// Why that stops the step.
        what: &'static str,
    },
    /// Keyward cannot check keys of this exchange live, so it cannot verify
    /// a new key or a revocation.
    #[error(
        "{} keys cannot be checked live, so Keyward cannot rotate or revoke them; do it on the exchange's website",
        .exchange.display_name()
    )]
    NotSupported {
        /// The exchange.
        exchange: Exchange,
    },
    /// The new key is the key that is already stored.
    #[error(
        "the new key of {label:?} has the same key id as the current one; create a new key on the exchange"
    )]
    SameKey {
        /// The key's label.
        label: String,
    },
    /// The declared scope may only be narrowed at verification.
    #[error(
        "{scope} is not declared for {label:?}; verification can only narrow the declared scopes (edit the key to widen them)"
    )]
    ScopeWidening {
        /// The key's label.
        label: String,
        /// The scope that would be added.
        scope: &'static str,
    },
    /// The rotation or key changed while the network call ran; nothing
    /// was recorded.
    #[error(
        "{label:?} changed while the exchange was being asked; nothing was recorded — run the step again"
    )]
    Stale {
        /// The key's label.
        label: String,
    },
    /// The key's credentials were edited outside the rotation.
    #[error(
        "the credentials of {label:?} were edited during the rotation; cancel it and begin again"
    )]
    KeyChanged {
        /// The key's label.
        label: String,
    },
    /// The key still authenticates: it is NOT revoked.
    #[error(
        "{label:?} STILL WORKS on {}: a live call with it was accepted, so it is not revoked. Delete it on the exchange, then run the revocation again",
        .exchange.display_name()
    )]
    StillActive {
        /// The key's label.
        label: String,
        /// The exchange.
        exchange: Exchange,
    },
    /// The revocation check was rejected for a reason that does not prove
    /// the key is gone.
    #[error(
        "could not confirm that {label:?} is revoked: {} answered {code} {message}; retry later",
        .exchange.display_name()
    )]
    Inconclusive {
        /// The key's label.
        label: String,
        /// The exchange.
        exchange: Exchange,
        /// The exchange's code.
        code: String,
        /// The exchange's message.
        message: String,
    },
    /// The exchange has no API for revoking; the user must do it and
    /// confirm.
    #[error(
        "{} cannot revoke {label:?} through its API: {reason}. Do the steps shown, then run the revocation again with the manual confirmation",
        .exchange.display_name()
    )]
    ManualRevocationRequired {
        /// The key's label.
        label: String,
        /// The exchange.
        exchange: Exchange,
        /// Why.
        reason: String,
    },
    /// The new key did not pass its check.
    #[error("the new key of {label:?} is not verified: {summary}")]
    NotVerified {
        /// The key's label.
        label: String,
        /// The differences, in short.
        summary: String,
    },
    /// A checklist item is not among the key's linked services.
    #[error("{service:?} is not on the checklist of {label:?}")]
    UnknownService {
        /// The key's label.
        label: String,
        /// The name given.
        service: String,
    },
    /// An automated rotation needs the account's manager key in the vault
    /// (same exchange, same environment).
    #[error(
        "{label:?} cannot be rotated automatically: no {} manager key for its environment is in the vault (mark the account's master key as its manager key first, on that key's page or with `keyward manager mark`)",
        .exchange.display_name()
    )]
    NoManagerKey {
        /// The key's label.
        label: String,
        /// The exchange.
        exchange: Exchange,
    },
    /// An automated rotation works only for a sub-account key of the
    /// manager key's account.
    #[error("{label:?} cannot be rotated automatically: {why}")]
    NotManaged {
        /// The key's label.
        label: String,
        /// Why, said plainly.
        why: String,
    },
    /// An earlier run may have created a key on the exchange that never
    /// reached the vault, and the exchange cannot list the sub-account's
    /// keys to find and delete it: Keyward will not create another one.
    #[error(
        "an earlier automated rotation of {label:?} was interrupted while {} created the new key, and its keys cannot be listed through the API: delete any key labelled {marker:?} on sub-account {sub_account:?} on the website, then cancel this rotation (`keyward rotate cancel {label} --totp CODE`) and start again",
        .exchange.display_name()
    )]
    OrphanUnchecked {
        /// The key's label.
        label: String,
        /// The exchange.
        exchange: Exchange,
        /// The label the created key has on the exchange.
        marker: String,
        /// The sub-account.
        sub_account: String,
    },
    /// A plain cancel of an automated rotation whose created key may be
    /// live on the exchange: it would leave that key live with nobody
    /// holding its secret.
    #[error(
        "the automated rotation of {label:?} created a key on the exchange that is still live; cancel it with `keyward rotate cancel {label} --totp CODE` (or from the desktop app), which deletes that key through the manager key and proves it dead first"
    )]
    CreatedKeyLive {
        /// The key's label.
        label: String,
    },
    /// Storing a key the exchange had just created failed; the created key
    /// was deleted again (or, if `deleted` is false, must be by hand).
    #[error(
        "the new key of {label:?} was created on the exchange but could not be stored ({cause}); {}",
        if *.deleted { "it was deleted again through the manager key, nothing else changed" } else { "deleting it again failed too: delete the key labelled with this rotation's marker on the exchange's website" }
    )]
    CreatedNotStored {
        /// The key's label.
        label: String,
        /// Why storing failed.
        cause: String,
        /// Whether the created key was deleted again.
        deleted: bool,
    },
    /// The exchange call failed (timeout, 5xx, malformed answer, rate
    /// limit). Nothing changed.
    #[error("{label:?}: {source}; nothing changed — retry later")]
    Exchange {
        /// The key's label.
        label: String,
        /// The cause.
        source: ExchangeError,
    },
}

impl KindedError for RotationError {
    fn kind(&self) -> ErrorKind {
        match self {
            RotationError::Vault(e) => e.kind(),
            RotationError::Deploy(e) => e.kind(),
            RotationError::Exchange { source, .. } => match source.kind() {
                ErrorKind::Exchange => ErrorKind::Exchange,
                other => other,
            },
            RotationError::StillActive { .. } | RotationError::Inconclusive { .. } => {
                ErrorKind::Exchange
            }
            RotationError::NoOpenRotation { .. }
            | RotationError::AlreadyOpen { .. }
            | RotationError::WrongState { .. }
            | RotationError::KeyStatus { .. }
            | RotationError::NotSupported { .. }
            | RotationError::SameKey { .. }
            | RotationError::ScopeWidening { .. }
            | RotationError::Stale { .. }
            | RotationError::KeyChanged { .. }
            | RotationError::ManualRevocationRequired { .. }
            | RotationError::NotVerified { .. }
            | RotationError::UnknownService { .. }
            | RotationError::NoManagerKey { .. }
            | RotationError::NotManaged { .. }
            | RotationError::OrphanUnchecked { .. } => ErrorKind::Invalid,
            RotationError::CreatedKeyLive { .. } => ErrorKind::Mfa,
            RotationError::CreatedNotStored { .. } => ErrorKind::Internal,
        }
    }
}

impl From<crate::mfa::MfaError> for RotationError {
    fn from(e: crate::mfa::MfaError) -> Self {
        RotationError::Vault(VaultError::Mfa(e))
    }
}

impl From<rusqlite::Error> for RotationError {
    fn from(e: rusqlite::Error) -> Self {
        RotationError::Vault(VaultError::Database(e))
    }
}

impl From<crate::model::ValidationError> for RotationError {
    fn from(e: crate::model::ValidationError) -> Self {
        RotationError::Vault(VaultError::Invalid(e))
    }
}
