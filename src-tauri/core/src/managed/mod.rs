//! Managed keys: the account's manager key and the inventory of the keys
//! on an exchange account.
//!
//! A manager key is an exchange's master-account key with what key
//! management needs (checked live, [`crate::exchange::manager_fitness`]):
//! through it Keyward lists every key of the account and its sub-accounts
//! and deletes a key the vault does not know. At most one key per exchange
//! and environment is the manager key.
//!
//! **Owns:** the `keys.manager` and `keys.sub_account` columns
//! ([`store`]).
//!
//! **Must never:** use a manager key without a step-up for its action,
//! hand a manager key to `keyward run` (the vault refuses it where run
//! secrets are released), or write outside the vault's write path. The
//! vault does not import this module.

mod error;
pub(crate) mod inventory;
mod mark;
pub mod store;

pub use error::ManagedError;
pub use inventory::{
    InventoryCounts, InventoryEntry, InventoryReport, InventoryStatus, RevokedUnknown, inventory,
    revoke_unknown,
};
pub use mark::{MarkOutcome, mark};
pub use store::{manager_for, managers, sub_account_of};

use crate::mfa::StepUpGrant;
use crate::mfa::actions::MarkManager;
use crate::vault::{Actor, Session};

/// Unmarks the manager key `label` (gated: [`MarkManager`]; audited
/// `manager_key_unmarked`). A key that is not marked is refused
/// ([`ManagedError::NotManager`]).
pub fn unmark(
    session: &mut Session,
    actor: Actor,
    grant: StepUpGrant<MarkManager>,
    label: &str,
) -> Result<(), ManagedError> {
    if !session.key_detail(label)?.summary.manager {
        return Err(ManagedError::NotManager {
            label: label.to_owned(),
        });
    }
    store::write_manager(session, actor, grant.method(), label, false)
}

#[cfg(test)]
mod tests;
