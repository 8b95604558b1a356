//! The inventory of an exchange account: every key the exchange lists
//! through the manager key, next to the vault's keys of that exchange and
//! environment, each classified; and the deletion of a key the vault does
//! not hold.
//!
//! Owns: the classification (`known`, `unknown`, `missing`, `not_listed`),
//! the `inventory_taken` and `unknown_key_revoked` audit entries (counts
//! and masked ids only), storing the sub-account of known keys.
//!
//! Must never: call a vault key `missing` from a listing the exchange says
//! is incomplete (then it is `not_listed`, with the exchange's note), show
//! a full key id, delete a key the vault holds (those go through the
//! normal revocation), or hold the session across a network call.

use serde::Serialize;

use super::mark::access_error;
use super::{ManagedError, store};
use crate::audit::{self, Details, Event};
use crate::exchange::{AccountInventory, AccountKey, ExchangeClient, ExchangeError, Timestamp};
use crate::mfa::actions::ManagerUse;
#[cfg(doc)]
use crate::mfa::actions::UseManager;
use crate::mfa::{ProofMethod, StepUpGrant};
use crate::model::{Environment, Exchange, KeyStatus, Scope, mask_key_id};
use crate::vault::{self, Actor, Session, SessionAccess, VaultError};

/// Where a key stands between the exchange account and the vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InventoryStatus {
    /// On the account and in the vault.
    Known,
    /// On the account, not in the vault: a red flag (someone made a key
    /// Keyward does not know of).
    Unknown,
    /// In the vault, and the exchange's complete listing does not hold it:
    /// gone from the account.
    Missing,
    /// In the vault, and not in a listing the exchange says is incomplete:
    /// nothing is proven either way.
    NotListed,
}

impl InventoryStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            InventoryStatus::Known => "known",
            InventoryStatus::Unknown => "unknown",
            InventoryStatus::Missing => "missing",
            InventoryStatus::NotListed => "not_listed",
        }
    }
}

/// One key of the inventory. Never holds a secret or a full key id.
#[derive(Debug, Clone, Serialize)]
pub struct InventoryEntry {
    /// Where it stands.
    pub status: InventoryStatus,
    /// The key id, masked.
    pub key_id_masked: String,
    /// The vault's label (known, missing, not listed).
    pub label: Option<String>,
    /// The key's label or note on the exchange.
    pub exchange_label: Option<String>,
    /// The sub-account holding it; `None` for the master account (or not
    /// reported).
    pub sub_account: Option<String>,
    /// The permissions in the exchange's own words (empty for a key not
    /// listed).
    pub permissions: Vec<String>,
    /// Those permissions mapped onto the common scopes.
    pub scopes: Vec<Scope>,
    /// The IP allowlist; empty when not IP-restricted.
    pub ips: Vec<String>,
    /// When it was created, where the exchange says.
    pub created: Option<Timestamp>,
    /// When it expires, where the exchange says.
    pub expires: Option<Timestamp>,
    /// What to make of it, said plainly (a not-listed key: why nothing is
    /// proven; a revoked vault key still on the account).
    pub note: Option<String>,
}

/// How many keys of each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct InventoryCounts {
    /// [`InventoryStatus::Known`].
    pub known: usize,
    /// [`InventoryStatus::Unknown`].
    pub unknown: usize,
    /// [`InventoryStatus::Missing`].
    pub missing: usize,
    /// [`InventoryStatus::NotListed`].
    pub not_listed: usize,
}

/// The inventory of one exchange account.
#[derive(Debug, Clone, Serialize)]
pub struct InventoryReport {
    /// The exchange.
    pub exchange: Exchange,
    /// The environment.
    pub environment: Environment,
    /// The manager key's label.
    pub manager: String,
    /// Whether the exchange listed every key of the account and its
    /// sub-accounts (otherwise a vault key it did not list is
    /// `not_listed`, never `missing`).
    pub complete: bool,
    /// What the exchange cannot list, and listings that failed.
    pub notes: Vec<String>,
    /// Every key: the account's first (unknown ones first), then the
    /// vault's keys it did not list.
    pub entries: Vec<InventoryEntry>,
    /// How many of each.
    pub counts: InventoryCounts,
    /// When the listing was taken.
    pub taken_at: Timestamp,
}

impl InventoryReport {
    /// The keys on the account the vault does not hold.
    pub fn unknown(&self) -> impl Iterator<Item = &InventoryEntry> {
        self.entries
            .iter()
            .filter(|e| e.status == InventoryStatus::Unknown)
    }
}

/// A vault key of the inventoried exchange and environment.
struct VaultKey {
    id: [u8; 16],
    label: String,
    api_key_id: String,
    revoked: bool,
}

fn vault_keys(
    s: &mut Session,
    exchange: Exchange,
    environment: &Environment,
) -> Result<Vec<VaultKey>, VaultError> {
    let mut out = Vec::new();
    for k in s.list_keys()? {
        if k.exchange != exchange || &k.environment != environment {
            continue;
        }
        let detail = s.key_detail(&k.label)?;
        out.push(VaultKey {
            id: store::parse_id(&k.id, &k.label)?,
            label: k.label,
            api_key_id: detail.api_key_id,
            revoked: k.status == KeyStatus::Revoked,
        });
    }
    Ok(out)
}

/// The manager key of `exchange` in `environment` and what using it
/// needs, under the session (phase 1 of every use of a manager key).
fn prepare_manager(
    s: &mut Session,
    exchange: Exchange,
    environment: &Environment,
) -> Result<(String, vault::ExchangeAccess), ManagedError> {
    let label = store::manager_for(s, exchange, environment)?
        .ok_or(ManagedError::NoManager { exchange })?;
    let target = s.exchange_access(&label).map_err(access_error)?;
    Ok((label, target))
}

/// Lists every key of the `exchange` account in `environment` through its
/// manager key (gated: [`UseManager`], or [`crate::mfa::actions::Revoke`]
/// inside an incident's revocation work) and classifies each against the
/// vault. Stores the sub-account of each known key (what an automatic
/// rotation creates the new key in) and audits `inventory_taken` with
/// counts only, in one transaction. No manager key:
/// [`ManagedError::NoManager`].
pub async fn inventory<S: SessionAccess, A: ManagerUse>(
    mut access: S,
    client: &ExchangeClient,
    actor: Actor,
    grant: StepUpGrant<A>,
    exchange: Exchange,
    environment: &Environment,
) -> Result<InventoryReport, ManagedError> {
    inventory_through(&mut access, client, actor, grant, exchange, environment).await
}

/// [`inventory`] through a borrowed access (an incident step runs it among
/// its other phases).
pub(crate) async fn inventory_through<S: SessionAccess, A: ManagerUse>(
    access: &mut S,
    client: &ExchangeClient,
    actor: Actor,
    grant: StepUpGrant<A>,
    exchange: Exchange,
    environment: &Environment,
) -> Result<InventoryReport, ManagedError> {
    let proof = grant.method();
    vault::three_phase(
        access,
        |s| {
            let (manager, target) = prepare_manager(s, exchange, environment)?;
            // The vault's key ids (public), to look for where the exchange
            // cannot list every key.
            let ids: Vec<String> = vault_keys(s, exchange, environment)?
                .into_iter()
                .filter(|k| !k.revoked)
                .map(|k| k.api_key_id)
                .collect();
            Ok::<_, ManagedError>((manager, target, ids))
        },
        |(manager, target, ids)| async move {
            let listed = match client.endpoint(target.exchange, &target.environment) {
                Ok(endpoint) => list_account(&endpoint, &target.credentials, &ids).await,
                Err(e) => Err(e),
            };
            drop(target);
            (manager, listed)
        },
        |s, (manager, listed)| {
            let listed = listed?;
            record_inventory(s, actor, proof, environment, manager, listed)
        },
    )
    .await
}

/// The exchange's listing of the account; where it is incomplete, each
/// vault key it did not list is looked for in the sub-accounts
/// ([`crate::exchange::Endpoint::locate_sub_key`]) and, found, added as
/// the exchange reports it. A failed lookup is a note; the listing stays
/// incomplete either way.
async fn list_account(
    endpoint: &crate::exchange::Endpoint,
    manager: &crate::exchange::Credentials,
    vault_ids: &[String],
) -> Result<AccountInventory, ExchangeError> {
    let mut listed = endpoint.inventory(manager).await?;
    if listed.complete {
        return Ok(listed);
    }
    for id in vault_ids {
        if listed.keys.iter().any(|k| &k.key_id == id) {
            continue;
        }
        match endpoint.locate_sub_key(manager, id).await {
            Ok(Some(found)) => listed.keys.push(found),
            Ok(None) => {}
            Err(ExchangeError::Unsupported { .. }) => break,
            Err(e) => listed.notes.push(format!(
                "looking for key {} in the sub-accounts failed: {e}",
                mask_key_id(id)
            )),
        }
    }
    Ok(listed)
}

/// A known key's record id and the sub-account the exchange reports for it.
type SubAccountOf = ([u8; 16], Option<String>);

/// Classifies `listed` against the vault's keys (`manager` authenticated
/// the listing, so it is known even where the exchange lists only
/// sub-account keys).
fn classify(
    listed: &AccountInventory,
    keys: &[VaultKey],
    manager: &str,
) -> (Vec<InventoryEntry>, Vec<SubAccountOf>) {
    let mut entries = Vec::new();
    let mut sub_accounts = Vec::new();
    let mut seen = vec![false; keys.len()];
    for key in &listed.keys {
        let found = keys.iter().position(|k| k.api_key_id == key.key_id);
        let (status, label, note) = match found {
            Some(i) => {
                seen[i] = true;
                sub_accounts.push((keys[i].id, key.sub_account.clone()));
                let note = keys[i].revoked.then(|| {
                    "revoked in the vault, but still on the account: delete it on the exchange"
                        .to_owned()
                });
                (InventoryStatus::Known, Some(keys[i].label.clone()), note)
            }
            None => (
                InventoryStatus::Unknown,
                None,
                Some(
                    "not in the vault: if nobody you trust made it, delete it (\"Revoke\" on the Accounts screen, or `keyward inventory revoke`)"
                        .to_owned(),
                ),
            ),
        };
        entries.push(listed_entry(status, label, key, note));
    }
    let not_listed_note = if listed.notes.is_empty() {
        "the exchange's listing is incomplete, so a key it does not list may still exist".to_owned()
    } else {
        listed.notes.join(" ")
    };
    for (i, key) in keys.iter().enumerate() {
        if seen[i] || key.revoked {
            continue;
        }
        let (status, note) = if key.label == manager {
            (
                InventoryStatus::Known,
                Some("the manager key: it authenticated this listing".to_owned()),
            )
        } else if listed.complete {
            (
                InventoryStatus::Missing,
                Some("the exchange no longer lists this key: it was deleted or expired".to_owned()),
            )
        } else {
            (InventoryStatus::NotListed, Some(not_listed_note.clone()))
        };
        entries.push(InventoryEntry {
            status,
            key_id_masked: mask_key_id(&key.api_key_id),
            label: Some(key.label.clone()),
            exchange_label: None,
            sub_account: None,
            permissions: Vec::new(),
            scopes: Vec::new(),
            ips: Vec::new(),
            created: None,
            expires: None,
            note,
        });
    }
    // Red flags first, then the vault's keys the exchange does not list.
    entries.sort_by_key(|e| match e.status {
        InventoryStatus::Unknown => 0,
        InventoryStatus::Missing => 1,
        InventoryStatus::NotListed => 2,
        InventoryStatus::Known => 3,
    });
    (entries, sub_accounts)
}

fn listed_entry(
    status: InventoryStatus,
    label: Option<String>,
    key: &AccountKey,
    note: Option<String>,
) -> InventoryEntry {
    InventoryEntry {
        status,
        key_id_masked: mask_key_id(&key.key_id),
        label,
        exchange_label: key.label.clone(),
        sub_account: key.sub_account.clone(),
        permissions: key.permissions.clone(),
        scopes: key.scopes.clone(),
        ips: key.ips.clone(),
        created: key.created,
        expires: key.expires,
        note,
    }
}

fn counts(entries: &[InventoryEntry]) -> InventoryCounts {
    let mut c = InventoryCounts::default();
    for e in entries {
        match e.status {
            InventoryStatus::Known => c.known += 1,
            InventoryStatus::Unknown => c.unknown += 1,
            InventoryStatus::Missing => c.missing += 1,
            InventoryStatus::NotListed => c.not_listed += 1,
        }
    }
    c
}

fn record_inventory(
    s: &mut Session,
    actor: Actor,
    proof: ProofMethod,
    environment: &Environment,
    manager: String,
    listed: AccountInventory,
) -> Result<InventoryReport, ManagedError> {
    let exchange = listed.exchange;
    // Classified against the vault as it is now, under the session.
    let keys = vault_keys(s, exchange, environment)?;
    let (entries, sub_accounts) = classify(&listed, &keys, &manager);
    let counts = counts(&entries);
    let details = Details::new()
        .with("exchange", exchange.as_str())
        .with("known", counts.known as u64)
        .with("unknown", counts.unknown as u64)
        .with("missing", counts.missing as u64)
        .with("not_listed", counts.not_listed as u64)
        .with("complete", listed.complete);
    s.write_events(
        actor,
        Some(proof),
        |_| vec![Event::new(audit::Action::InventoryTaken).with_details(details)],
        |tx, sealer| {
            for (id, sub) in &sub_accounts {
                store::set_sub_account(tx, sealer, id, sub.as_deref())?;
            }
            Ok(())
        },
    )?;
    Ok(InventoryReport {
        exchange,
        environment: environment.clone(),
        manager,
        complete: listed.complete,
        notes: listed.notes,
        entries,
        counts,
        taken_at: Timestamp::now(),
    })
}

/// What [`revoke_unknown`] deleted.
#[derive(Debug, Clone, Serialize)]
pub struct RevokedUnknown {
    /// The exchange.
    pub exchange: Exchange,
    /// The deleted key's id, masked.
    pub key_id_masked: String,
    /// The sub-account that held it.
    pub sub_account: String,
}

/// Whether `given` names `key_id`: the full id, or its masked form when
/// that is unambiguous (checked by the caller).
fn names(given: &str, key_id: &str) -> bool {
    given == key_id || (given.contains('…') && given == mask_key_id(key_id))
}

/// Deletes the key `key_id` (its full id, or the masked id the inventory
/// shows when only one listed key has it) from the `exchange` account in
/// `environment` through the manager key (gated: [`UseManager`] or
/// [`crate::mfa::actions::Revoke`]). Refused when the key is in the vault
/// ([`ManagedError::KnownKey`]: those go through the normal revocation),
/// when the account does not hold it ([`ManagedError::NotOnAccount`]) and
/// for a master-account key ([`ManagedError::MasterAccountKey`]). Audited
/// `unknown_key_revoked` with the masked id.
pub async fn revoke_unknown<S: SessionAccess, A: ManagerUse>(
    mut access: S,
    client: &ExchangeClient,
    actor: Actor,
    grant: StepUpGrant<A>,
    exchange: Exchange,
    environment: &Environment,
    key_id: &str,
) -> Result<RevokedUnknown, ManagedError> {
    let proof = grant.method();
    // A masked id typed with three dots is the masked id.
    let key_id = key_id.trim().replace("...", "…");
    let key_id = key_id.as_str();
    vault::three_phase(
        &mut access,
        |s| {
            let keys = vault_keys(s, exchange, environment)?;
            refuse_known(&keys, key_id)?;
            let (_, target) = prepare_manager(s, exchange, environment)?;
            let vault_ids: Vec<(String, String)> =
                keys.into_iter().map(|k| (k.api_key_id, k.label)).collect();
            Ok((target, vault_ids))
        },
        |(target, vault_ids)| async move {
            let deleted = delete_unknown(client, &target, &vault_ids, key_id).await;
            drop(target);
            deleted
        },
        |s, deleted: Result<(String, String), ManagedError>| {
            let (full_id, sub_account) = deleted?;
            let masked = mask_key_id(&full_id);
            let details = Details::new()
                .with("exchange", exchange.as_str())
                .with("key_id", masked.clone())
                .with("sub_account", sub_account.clone());
            s.write_events(
                actor,
                Some(proof),
                |_| vec![Event::new(audit::Action::UnknownKeyRevoked).with_details(details)],
                |_, _| Ok(()),
            )?;
            Ok(RevokedUnknown {
                exchange,
                key_id_masked: masked,
                sub_account,
            })
        },
    )
    .await
}

fn refuse_known(keys: &[VaultKey], given: &str) -> Result<(), ManagedError> {
    if let Some(k) = keys.iter().find(|k| names(given, &k.api_key_id)) {
        return Err(ManagedError::KnownKey {
            key_id: mask_key_id(&k.api_key_id),
            label: k.label.clone(),
        });
    }
    Ok(())
}

/// Phase 2 of [`revoke_unknown`]: finds the key on the account (in the
/// listing, or by asking the sub-accounts where the exchange cannot list
/// every key) and deletes it. Returns its full id and sub-account.
async fn delete_unknown(
    client: &ExchangeClient,
    target: &vault::ExchangeAccess,
    vault_ids: &[(String, String)],
    given: &str,
) -> Result<(String, String), ManagedError> {
    let endpoint = client.endpoint(target.exchange, &target.environment)?;
    let manager = &target.credentials;
    let listed = endpoint.inventory(manager).await?;
    let matching: Vec<&AccountKey> = listed
        .keys
        .iter()
        .filter(|k| names(given, &k.key_id))
        .collect();
    let found: AccountKey = match matching.as_slice() {
        [one] => (*one).clone(),
        [] => {
            // Not in the listing: ask the sub-accounts, with the full id.
            let located = if given.contains('…') {
                None
            } else {
                match endpoint.locate_sub_key(manager, given).await {
                    Ok(found) => found,
                    Err(ExchangeError::Unsupported { .. }) => None,
                    Err(e) => return Err(e.into()),
                }
            };
            located.ok_or_else(|| ManagedError::NotOnAccount {
                exchange: target.exchange,
                key_id: masked_given(given),
            })?
        }
        _ => {
            return Err(ManagedError::NotOnAccount {
                exchange: target.exchange,
                key_id: format!(
                    "{} (more than one key has this masked id; give the full id)",
                    masked_given(given)
                ),
            });
        }
    };
    // The listing may show the full id of a vault key given masked.
    if let Some((id, label)) = vault_ids.iter().find(|(id, _)| *id == found.key_id) {
        return Err(ManagedError::KnownKey {
            key_id: mask_key_id(id),
            label: label.clone(),
        });
    }
    let Some(sub_account) = found.sub_account.clone() else {
        return Err(ManagedError::MasterAccountKey {
            key_id: mask_key_id(&found.key_id),
        });
    };
    endpoint
        .delete_sub_key(manager, &sub_account, &found.key_id)
        .await?;
    Ok((found.key_id, sub_account))
}

fn masked_given(given: &str) -> String {
    if given.contains('…') {
        given.to_owned()
    } else {
        mask_key_id(given)
    }
}
