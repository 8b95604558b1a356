//! Deployment targets: keys delivered, sealed, to the servers where the bots
//! run, and read there by `keyward run --bundle` without a vault.
//!
//! Owns: the `deploy_targets` and `deploy_grants` tables (migration 12) and
//! their MACs (`store`: an HMAC per row under an HKDF subkey of the vault's
//! MAC root; a target's host, port, path, recipient and pinned host key
//! decide where secrets go, so a row changed by anyone else is refused); the
//! gated operations on them (`targets`: add, grant, withdraw, remove, each
//! behind a [`DeployTargets`](crate::mfa::actions::DeployTargets) step-up);
//! the bundle (`bundle`: only the keys granted to a target, under
//! `keyward run`'s variable names, sealed with the `age` crate to the
//! target's X25519 or ssh-ed25519 recipient; opened in memory on the
//! server); the system OpenSSH client (`ssh`: `ssh-keyscan` to pin a host
//! key on first use, then `ssh` with Keyward's own known-hosts file and
//! `StrictHostKeyChecking=yes`, upload to a temporary name, mode 0600,
//! atomic rename); the three steps of a delivery (`flow`: prepare under
//! the session, deliver over the network without it, record under it); and
//! rotation following the key (`follow`: the targets still holding a bundle
//! from before the key's last rotation, and the check that refuses revoking
//! the old key while one does, unless forced and audited; the re-delivery
//! of a promoted key to the targets that held it, crate-only, under the
//! promotion's own step-up); and the deployment rows in the integrity
//! check (`integrity`: each row's MAC, and rows the audit chain says
//! exist but are gone).
//!
//! Must never: write a bundle's plaintext anywhere but a zeroizing buffer
//! (no temporary file, no argv, no log), send a key that is not granted to
//! the target or a manager key (it can manage every key of its account),
//! speak SSH itself (only the system client, as processes), or use a
//! target or grant row whose MAC fails.

mod bundle;
mod error;
mod flow;
mod follow;
mod integrity;
mod ssh;
mod store;
mod target;
mod targets;

#[cfg(test)]
mod tests;

pub use bundle::{Bundle, BundleVar, new_identity, open_bundle};
pub use error::DeployError;
pub use flow::{Delivered, PreparedDeploy, deliver};
pub use follow::{FollowDeploy, TargetDelivery, deliver_followed};
pub use ssh::SshOptions;
pub use target::{DeployTarget, KeyDeployment, NewTarget, TargetKey};
