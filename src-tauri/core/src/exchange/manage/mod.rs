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
//!
//! One file per exchange (`bybit`, `okx`, `binance`) builds the calls and
//! reads the answers; they sign and send through the adapters' own signed
//! calls (no second signer) and map permissions with the adapters' own
//! report builders, so a listed key's scopes mean what `verify` means.
//! A scope the exchange cannot grant a sub-account key is refused with
//! [`ExchangeError::ScopeNotGrantable`] before anything is sent.

mod binance;
mod bybit;
mod okx;

use std::future::Future;

use serde::Serialize;

use super::types::{Credentials, KeyReport, Timestamp};
use super::{Endpoint, ExchangeError};
use crate::model::{Exchange, Scope};

/// Whose key it is: the master (main) account's or a sub-account's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountRole {
    /// A key of the master (main) account.
    Master,
    /// A key of a sub-account.
    Sub,
}

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

/// Judges a live check of a would-be manager key: a master-account key
/// holding what the exchange's management calls need. `problems` also names
/// what makes it riskier than needed (withdraw, no IP allowlist); what the
/// check cannot tell is said to be unknown, never guessed.
pub fn manager_fitness(exchange: Exchange, report: &KeyReport) -> ManagerFitness {
    let mut f = ManagerFitness {
        fit: report.authenticated,
        needs: Vec::new(),
        problems: Vec::new(),
    };
    if !report.authenticated {
        f.problems
            .push("The key did not authenticate, so nothing about it is known.".into());
    }
    let name = exchange.display_name();
    let role_needed = |f: &mut ManagerFitness, unknown_is_unfit: bool, sub_refusal: &str| {
        match report.account_role {
            Some(AccountRole::Master) => {}
            Some(AccountRole::Sub) => {
                f.fit = false;
                f.problems.push(format!(
                    "A sub-account key: {name} lets only the master account's key manage sub-account keys ({sub_refusal})."
                ));
            }
            None => {
                if unknown_is_unfit {
                    f.fit = false;
                }
                f.problems.push(format!(
                    "Unknown whether this is a master-account key: {name}'s key check did not say; a sub-account key is refused at the first management call ({sub_refusal})."
                ));
            }
        }
    };
    match exchange {
        Exchange::Bybit => {
            f.needs = vec![
                "A master-account key (query-api parentUid \"0\").".into(),
                "Read-write with \"Account Transfer\", \"Subaccount Transfer\" or \"Withdrawal\": create-sub-api, delete-sub-api and query-sub-members require one of them (a transfer permission is enough).".into(),
            ];
            role_needed(&mut f, true, "10005 permission denied");
            let transfer = report.permissions.transfer == Some(true);
            let withdraw = report.permissions.withdraw == Some(true);
            if !(transfer || withdraw) {
                f.fit = false;
                f.problems.push("It holds neither a transfer permission (\"Account Transfer\" / \"Subaccount Transfer\") nor \"Withdrawal\", or it is read-only: Bybit refuses sub-account key management (10005).".into());
            }
        }
        Exchange::Okx => {
            f.needs = vec![
                "A master-account key (account config uid equal to mainUid).".into(),
                "The Read permission to list sub-accounts and their keys, and Trade to create or delete a sub-account key.".into(),
                "An IP allowlist: OKX refuses creating or deleting a sub-account key with a key bound to no IP (50035).".into(),
            ];
            role_needed(&mut f, true, "50030 no permission to use this API");
            if report.permissions.trade != Some(true) {
                f.fit = false;
                f.problems.push("It lacks the Trade permission: OKX refuses creating or deleting a sub-account key without it (50030).".into());
            }
            if report.ip_restricted != Some(true) {
                f.fit = false;
            }
        }
        Exchange::Binance => {
            f.needs = vec![
                "A master-account key: unknown from Binance's key check (apiRestrictions does not say whose key it is); the first management call tells.".into(),
                "\"Enable Spot & Margin Trading\": Binance requires it of the master key to create, delete or restrict a sub-account key.".into(),
            ];
            role_needed(
                &mut f,
                false,
                "-1002 you are not authorized to execute this request",
            );
            if report.permissions.trade != Some(true) {
                f.fit = false;
                f.problems.push("It lacks \"Enable Spot & Margin Trading\": Binance refuses creating or deleting a sub-account key without it (-2015).".into());
            }
        }
        other => {
            f.fit = false;
            f.problems.push(format!(
                "Keyward cannot manage {} keys through the API",
                other.display_name()
            ));
            return f;
        }
    }
    if report.permissions.withdraw == Some(true) {
        f.problems.push("It holds the withdraw permission, which key management does not need: a leak of this key could move funds off the exchange.".into());
    }
    match report.ip_restricted {
        Some(true) => {}
        Some(false) => f
            .problems
            .push("It has no IP allowlist: anyone holding it can use it from anywhere.".into()),
        None => f.problems.push(format!(
            "Unknown whether it has an IP allowlist: {name} did not say."
        )),
    }
    f
}

fn unsupported(exchange: Exchange, operation: &'static str) -> ExchangeError {
    ExchangeError::Unsupported {
        exchange,
        operation,
    }
}

/// A spec the exchange would refuse, refused before anything is sent.
fn bad_spec(exchange: Exchange, why: String) -> ExchangeError {
    ExchangeError::InvalidSubKeySpec { exchange, why }
}

/// The calling key as an inventory entry, from its own live check.
fn own_key(
    creds: &Credentials,
    report: &KeyReport,
    label: Option<String>,
    permissions: Vec<String>,
    created: Option<Timestamp>,
) -> AccountKey {
    AccountKey {
        key_id: creds.api_key.clone(),
        sub_account: None,
        label: label.filter(|l| !l.is_empty()),
        permissions,
        scopes: report.permissions.granted(),
        ips: report.ip_whitelist.clone().unwrap_or_default(),
        created,
        expires: report.expires_at,
    }
}

/// The manager key's own live check, an error if it did not authenticate.
async fn own_report(ep: &Endpoint, creds: &Credentials) -> Result<KeyReport, ExchangeError> {
    let report = ep.verify(creds).await?;
    match report.rejection.clone() {
        Some(r) if !report.authenticated => Err(ExchangeError::Rejected {
            exchange: ep.exchange,
            code: r.code,
            message: r.message,
            reason: r.reason,
        }),
        _ => Ok(report),
    }
}

impl AccountInventory {
    fn new(exchange: Exchange, sub_accounts: Vec<SubAccount>) -> AccountInventory {
        AccountInventory {
            exchange,
            sub_accounts,
            keys: Vec::new(),
            complete: true,
            notes: Vec::new(),
        }
    }

    /// Adds one sub-account's listing: a failed one is a note and makes the
    /// inventory incomplete; the others are still listed.
    fn add(&mut self, sub: &str, listing: Result<Vec<AccountKey>, ExchangeError>) {
        match listing {
            Ok(keys) => self.keys.extend(keys),
            Err(e) => {
                self.complete = false;
                self.notes.push(format!(
                    "The keys of sub-account {sub} could not be listed ({e}): a key of it missing here proves nothing."
                ));
            }
        }
    }
}

impl Endpoint {
    /// Lists the sub-accounts of the manager key's master account.
    pub async fn sub_accounts(
        &self,
        manager: &Credentials,
    ) -> Result<Vec<SubAccount>, ExchangeError> {
        match self.exchange {
            Exchange::Bybit => bybit::sub_accounts(self, manager).await,
            Exchange::Okx => okx::sub_accounts(self, manager).await,
            Exchange::Binance => binance::sub_accounts(self, manager).await,
            other => Err(unsupported(other, "listing sub-accounts")),
        }
    }

    /// Lists every key of the account and its sub-accounts that the
    /// exchange can list, the manager key itself included (from its own
    /// live check, `sub_account: None`).
    pub async fn inventory(
        &self,
        manager: &Credentials,
    ) -> Result<AccountInventory, ExchangeError> {
        match self.exchange {
            Exchange::Bybit => bybit::inventory(self, manager).await,
            Exchange::Okx => okx::inventory(self, manager).await,
            Exchange::Binance => binance::inventory(self, manager).await,
            other => Err(unsupported(other, "listing the account's keys")),
        }
    }

    /// Finds the sub-account key `key_id` (where the exchange cannot list
    /// keys, by asking each sub-account about it). `None`: no sub-account
    /// of this master account holds it. An error when a listing failed and
    /// the key was not found elsewhere (its absence is then not proven).
    pub async fn locate_sub_key(
        &self,
        manager: &Credentials,
        key_id: &str,
    ) -> Result<Option<AccountKey>, ExchangeError> {
        match self.exchange {
            Exchange::Bybit => bybit::locate(self, manager, key_id).await,
            Exchange::Okx => okx::locate(self, manager, key_id).await,
            Exchange::Binance => binance::locate(self, manager, key_id).await,
            other => Err(unsupported(other, "finding a sub-account key")),
        }
    }

    /// Creates a sub-account key. The secret (and an OKX passphrase) comes
    /// back once, inside [`CreatedSubKey::credentials`].
    pub async fn create_sub_key(
        &self,
        manager: &Credentials,
        spec: &SubKeySpec,
    ) -> Result<CreatedSubKey, ExchangeError> {
        match self.exchange {
            Exchange::Bybit => bybit::create(self, manager, spec).await,
            Exchange::Okx => okx::create(self, manager, spec).await,
            Exchange::Binance => binance::create(self, manager, spec).await,
            other => Err(unsupported(other, "creating a sub-account key")),
        }
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
        match self.exchange {
            Exchange::Bybit => bybit::delete(self, manager, key_id).await,
            Exchange::Okx => okx::delete(self, manager, sub_account, key_id).await,
            Exchange::Binance => binance::delete(self, manager, sub_account, key_id).await,
            other => Err(unsupported(other, "deleting a sub-account key")),
        }
    }
}

/// Finds a key by asking about each sub-account in turn (`ask`: the key
/// in that sub-account, if there): the first hit wins; with none, the first
/// failed answer's error (the key's absence is then unproven), else `None`.
async fn locate_in<F, Fut>(
    subs: Vec<SubAccount>,
    mut ask: F,
) -> Result<Option<AccountKey>, ExchangeError>
where
    F: FnMut(SubAccount) -> Fut,
    Fut: Future<Output = Result<Option<AccountKey>, ExchangeError>>,
{
    let mut failure = None;
    for sub in subs {
        match ask(sub).await {
            Ok(Some(k)) => return Ok(Some(k)),
            Ok(None) => {}
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    failure.map_or(Ok(None), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::types::Permissions;

    fn report(role: Option<AccountRole>, p: Permissions, ip: Option<bool>) -> KeyReport {
        KeyReport {
            authenticated: true,
            rejection: None,
            permissions: p,
            ip_restricted: ip,
            account_role: role,
            ..KeyReport::rejected(
                Exchange::Bybit,
                crate::exchange::Rejection {
                    code: String::new(),
                    message: String::new(),
                    reason: crate::exchange::RejectReason::Unclassified,
                },
            )
        }
    }

    fn perms(trade: bool, transfer: bool, withdraw: bool) -> Permissions {
        Permissions {
            read: Some(true),
            trade: Some(trade),
            transfer: Some(transfer),
            withdraw: Some(withdraw),
            ..Permissions::default()
        }
    }

    #[test]
    fn a_master_key_with_what_management_needs_is_fit() {
        let bybit = report(
            Some(AccountRole::Master),
            perms(false, true, false),
            Some(true),
        );
        let f = manager_fitness(Exchange::Bybit, &bybit);
        assert!(f.fit && f.problems.is_empty(), "{f:?}");
        let okx = report(
            Some(AccountRole::Master),
            perms(true, false, false),
            Some(true),
        );
        assert!(manager_fitness(Exchange::Okx, &okx).fit);
    }

    #[test]
    fn a_sub_account_key_or_a_missing_permission_is_unfit() {
        let sub = report(Some(AccountRole::Sub), perms(true, true, false), Some(true));
        for ex in [Exchange::Bybit, Exchange::Okx, Exchange::Binance] {
            let f = manager_fitness(ex, &sub);
            assert!(!f.fit, "{ex}: {f:?}");
            assert!(f.problems.iter().any(|p| p.contains("sub-account key")));
        }
        let read_only = report(
            Some(AccountRole::Master),
            perms(false, false, false),
            Some(true),
        );
        for ex in [Exchange::Bybit, Exchange::Okx, Exchange::Binance] {
            assert!(!manager_fitness(ex, &read_only).fit, "{ex}");
        }
        // OKX refuses the writes of a key bound to no IP.
        let no_ip = report(
            Some(AccountRole::Master),
            perms(true, false, false),
            Some(false),
        );
        assert!(!manager_fitness(Exchange::Okx, &no_ip).fit);
        assert!(!manager_fitness(Exchange::Kraken, &no_ip).fit);
    }

    #[test]
    fn risks_and_unknowns_are_named_never_guessed() {
        let risky = report(
            Some(AccountRole::Master),
            perms(true, true, true),
            Some(false),
        );
        let f = manager_fitness(Exchange::Bybit, &risky);
        assert!(f.fit);
        assert!(f.problems.iter().any(|p| p.contains("withdraw")), "{f:?}");
        assert!(
            f.problems.iter().any(|p| p.contains("no IP allowlist")),
            "{f:?}"
        );
        let unknown = report(None, perms(true, false, false), None);
        let f = manager_fitness(Exchange::Binance, &unknown);
        assert!(
            f.problems
                .iter()
                .any(|p| p.contains("Unknown whether this is a master"))
        );
        assert!(
            f.problems
                .iter()
                .any(|p| p.contains("Unknown whether it has an IP"))
        );
        // Bybit always says whose key it is: silence is not taken as master.
        assert!(!manager_fitness(Exchange::Bybit, &unknown).fit);
    }
}
