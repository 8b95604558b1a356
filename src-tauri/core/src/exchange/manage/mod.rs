//! Account management through a manager key: the master account's key
//! listing its sub-accounts and their API keys, creating a sub-account key
//! and deleting one (Bybit `create-sub-api` / `sub-apikeys` /
//! `delete-sub-api`, OKX `/api/v5/users/subaccount/apikey` and friends,
//! Binance `/sapi/v1/sub-account/subAccountApi`).
//!
//! **Owns:** the management calls, their answers normalized into
//! [`AccountKey`] / [`SubAccount`], and what a manager key must hold
//! ([`manager_fitness`]).
//!
//! **Must never:** be called without the caller's step-up (the core gates
//! every use of a manager key), keep a created secret anywhere but the
//! returned [`CreatedSubKey`]'s credentials, or report a key as absent
//! from the account when the exchange only could not list it (an
//! inventory that is not complete says so in [`AccountInventory::complete`]).

use serde::Serialize;

use super::types::{Credentials, KeyReport, Timestamp};
use super::{Endpoint, ExchangeError};
use crate::model::{Exchange, Scope};

/// A sub-account of the manager key's master account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubAccount {
    /// How the exchange's management calls name it: Bybit's sub UID, OKX's
    /// sub-account name, Binance's sub-account email.
    pub id: String,
    /// Its label or username, where the exchange reports one.
    pub label: Option<String>,
}

/// One API key on the account, as the exchange's management endpoints
/// report it. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountKey {
    /// The public key id, in full (front ends mask it).
    pub key_id: String,
    /// The sub-account holding it ([`SubAccount::id`]); `None` for a key of
    /// the master account itself.
    pub sub_account: Option<String>,
    /// The key's label or note on the exchange.
    pub label: Option<String>,
    /// The permissions in the exchange's own words.
    pub permissions: Vec<String>,
    /// Those permissions mapped onto the common scopes.
    pub scopes: Vec<Scope>,
    /// The IP allowlist; empty when the key is not IP-restricted.
    pub ips: Vec<String>,
    /// When it was created, where the exchange says.
    pub created: Option<Timestamp>,
    /// When it expires, where the exchange says.
    pub expires: Option<Timestamp>,
}

/// Every key the exchange lists for the manager key's account.
#[derive(Debug, Clone, Serialize)]
pub struct AccountInventory {
    /// Which exchange.
    pub exchange: Exchange,
    /// The sub-accounts.
    pub sub_accounts: Vec<SubAccount>,
    /// The keys found.
    pub keys: Vec<AccountKey>,
    /// Whether `keys` is every key of the account and its sub-accounts.
    /// `false` where the exchange has no call that lists them (Binance) or a
    /// listing failed: a key then missing from `keys` proves nothing.
    pub complete: bool,
    /// What the exchange cannot list, and listings that failed, said
    /// plainly.
    pub notes: Vec<String>,
}

/// What a new sub-account key is created with.
#[derive(Debug, Clone)]
pub struct SubKeySpec {
    /// The sub-account ([`SubAccount::id`]).
    pub sub_account: String,
    /// The label or note it gets on the exchange.
    pub label: String,
    /// The scopes it gets: exactly these, mapped onto the exchange's
    /// permissions (a scope the exchange cannot grant a sub-account key is
    /// refused before anything is sent).
    pub scopes: Vec<Scope>,
    /// Its IP allowlist; empty for none.
    pub ips: Vec<String>,
}

/// A key the exchange just created: its credentials, which the exchange
/// shows only this once, and how it reports it.
#[derive(Debug)]
pub struct CreatedSubKey {
    /// Ready to sign with (an OKX key carries the passphrase Keyward chose
    /// for it).
    pub credentials: Credentials,
    /// The key as the exchange reports it.
    pub key: AccountKey,
}

/// Whether a key may serve as its account's manager key, from its live
/// check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManagerFitness {
    /// Whether it is a master-account key with what key management needs.
    pub fit: bool,
    /// What the exchange needs a manager key to hold, said plainly.
    pub needs: Vec<String>,
    /// Why it cannot serve (a sub-account key, a missing permission), or
    /// what makes it riskier than needed (withdraw, no IP allowlist).
    pub problems: Vec<String>,
}

/// Judges a live check of a would-be manager key.
pub fn manager_fitness(exchange: Exchange, report: &KeyReport) -> ManagerFitness {
    let _ = report;
    ManagerFitness {
        fit: false,
        needs: Vec::new(),
        problems: vec![format!(
            "Keyward cannot manage {} keys through the API yet",
            exchange.display_name()
        )],
    }
}

fn unsupported(exchange: Exchange, operation: &'static str) -> ExchangeError {
    ExchangeError::Unsupported {
        exchange,
        operation,
    }
}

impl Endpoint {
    /// Lists the sub-accounts of the manager key's master account.
    pub async fn sub_accounts(
        &self,
        manager: &Credentials,
    ) -> Result<Vec<SubAccount>, ExchangeError> {
        let _ = manager;
        Err(unsupported(self.exchange, "listing sub-accounts"))
    }

    /// Lists every key of the account and its sub-accounts that the
    /// exchange can list.
    pub async fn inventory(
        &self,
        manager: &Credentials,
    ) -> Result<AccountInventory, ExchangeError> {
        let _ = manager;
        Err(unsupported(self.exchange, "listing the account's keys"))
    }

    /// Finds the sub-account key `key_id` (where the exchange cannot list
    /// keys, by asking each sub-account about it). `None`: no sub-account
    /// of this master account holds it.
    pub async fn locate_sub_key(
        &self,
        manager: &Credentials,
        key_id: &str,
    ) -> Result<Option<AccountKey>, ExchangeError> {
        let _ = (manager, key_id);
        Err(unsupported(self.exchange, "finding a sub-account key"))
    }

    /// Creates a sub-account key. The secret (and an OKX passphrase) comes
    /// back once, inside [`CreatedSubKey::credentials`].
    pub async fn create_sub_key(
        &self,
        manager: &Credentials,
        spec: &SubKeySpec,
    ) -> Result<CreatedSubKey, ExchangeError> {
        let _ = (manager, spec);
        Err(unsupported(self.exchange, "creating a sub-account key"))
    }

    /// Deletes the sub-account key `key_id` of `sub_account`. Proving it
    /// gone is [`Endpoint::confirm_revoked`]'s job, with the old key's own
    /// credentials.
    pub async fn delete_sub_key(
        &self,
        manager: &Credentials,
        sub_account: &str,
        key_id: &str,
    ) -> Result<(), ExchangeError> {
        let _ = (manager, sub_account, key_id);
        Err(unsupported(self.exchange, "deleting a sub-account key"))
    }
}
