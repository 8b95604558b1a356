//! Why a deployment, a target change or a bundle was refused.

use thiserror::Error;

use crate::error::{ErrorKind, KindedError};
use crate::vault::VaultError;

/// Why a deployment, a target change or a bundle was refused. Messages
/// name targets, hosts and files, never a secret.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DeployError {
    /// The vault refused (locked, no such key, step-up, storage).
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// A value of a new target is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// The key is its account's manager key: never sealed for a server.
    #[error(
        "{label:?} is a manager key: it can manage every key of its account, so Keyward never sends it to a server; give the bot a key of its own"
    )]
    ManagerKey {
        /// The key's label.
        label: String,
    },
    /// No target has that name.
    #[error("no deployment target named {name:?}")]
    NoTarget {
        /// The name asked for.
        name: String,
    },
    /// A target with that name exists already.
    #[error("a deployment target named {name:?} exists already")]
    TargetExists {
        /// The name.
        name: String,
    },
    /// The key is not granted to the target.
    #[error(
        "key {label:?} is not granted to deployment target {target:?}; grant it with \
         `keyward target grant {target} {label} --totp CODE`"
    )]
    NotGranted {
        /// The key's label.
        label: String,
        /// The target.
        target: String,
    },
    /// A target's or grant's row does not carry a valid MAC: it was changed
    /// outside Keyward.
    #[error(
        "deployment target {target:?} was changed outside Keyward (its record does not verify); \
         nothing was sent"
    )]
    Tampered {
        /// The target.
        target: String,
    },
    /// The server presented a host key other than the pinned one.
    #[error(
        "the host key of {host} is not the one pinned for deployment target {target:?}; \
         nothing was sent (if the server was reinstalled, remove the target and add it again)"
    )]
    HostKeyChanged {
        /// The target.
        target: String,
        /// host:port.
        host: String,
    },
    /// The server could not be reached, or refused the login.
    #[error(
        "cannot reach {host} for deployment target {target:?}: {reason}; nothing was sent there"
    )]
    Unreachable {
        /// The target.
        target: String,
        /// host:port.
        host: String,
        /// What the SSH client said, in short.
        reason: String,
    },
    /// The upload or the rename on the server failed.
    #[error("copying the bundle to {host} failed: {reason}")]
    Upload {
        /// host:port.
        host: String,
        /// What the SSH client or the server said, in short.
        reason: String,
    },
    /// A system program could not be started.
    #[error("cannot run {program}: {reason}")]
    Program {
        /// The program.
        program: &'static str,
        /// Why.
        reason: String,
    },
    /// The identity file could not be read as an age or OpenSSH ed25519
    /// identity.
    #[error("cannot read the identity {path}: {reason}")]
    BadIdentity {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The identity does not open this bundle: it was sealed to another
    /// recipient.
    #[error("the identity {path} does not open this bundle (it was sealed to another recipient)")]
    WrongIdentity {
        /// The identity file.
        path: String,
    },
    /// The bundle is damaged or was changed after it was sealed.
    #[error("the bundle {path} is damaged or was changed after it was sealed; refusing to use it")]
    TamperedBundle {
        /// The bundle file.
        path: String,
    },
    /// Revoking the old key would break a server that still has it.
    #[error(
        "{} still hold the old key of {label:?}: deploy the new one first \
         (`keyward deploy {label} --all --totp CODE`), or pass --force to revoke anyway",
        targets.join(", ")
    )]
    StillDeployed {
        /// The key's label.
        label: String,
        /// The targets whose bundle predates the rotation.
        targets: Vec<String>,
    },
    /// A local file could not be read or written.
    #[error("{0}")]
    File(#[from] crate::files::FileError),
}

impl KindedError for DeployError {
    fn kind(&self) -> ErrorKind {
        match self {
            DeployError::Vault(e) => e.kind(),
            DeployError::Invalid(_)
            | DeployError::TargetExists { .. }
            | DeployError::NotGranted { .. }
            | DeployError::ManagerKey { .. }
            | DeployError::StillDeployed { .. }
            | DeployError::BadIdentity { .. } => ErrorKind::Invalid,
            DeployError::NoTarget { .. } => ErrorKind::NotFound,
            DeployError::Tampered { .. }
            | DeployError::HostKeyChanged { .. }
            | DeployError::TamperedBundle { .. } => ErrorKind::Integrity,
            DeployError::WrongIdentity { .. } => ErrorKind::Locked,
            DeployError::Unreachable { .. } | DeployError::Upload { .. } => ErrorKind::Exchange,
            DeployError::Program { .. } => ErrorKind::Internal,
            DeployError::File(e) => e.kind(),
        }
    }
}
