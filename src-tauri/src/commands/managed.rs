//! The account's manager key and the inventory of an exchange account:
//! mark and unmark a manager key, list the account's keys through it, and
//! delete a key the vault does not hold. Every one takes a step-up proof;
//! the core checks it (marking is never covered by the step-up window).
//!
//! No output carries a secret or a full key id of the inventory.
//! `managed_exchanges` says which exchanges Keyward can manage keys of
//! (the exchange layer's capabilities), so the views ask rather than
//! keep their own list.

use keyward_core::exchange::capabilities;
use keyward_core::managed::{self, InventoryReport, MarkOutcome, RevokedUnknown};
use keyward_core::mfa::actions;
use keyward_core::model::{Environment, Exchange, KeyDetail, ValidationError};
use keyward_core::vault::Actor;
use serde::Serialize;
use tauri::State;

use super::brand::Branded;
use super::keys::EnvironmentInput;
use super::stepup::{ProofInput, grant};
use crate::error::{IpcError, IpcResult};
use crate::state::AppState;

fn exchange(name: &str) -> IpcResult<Exchange> {
    name.parse::<Exchange>().map_err(|e: ValidationError| {
        IpcError::new(keyward_core::ErrorKind::Invalid, e.to_string())
    })
}

/// Marks a key as its account's manager key after a live check
/// (step-up: MarkManager).
#[tauri::command]
pub async fn manager_mark(
    state: State<'_, AppState>,
    label: String,
    proof: Option<ProofInput>,
) -> IpcResult<Branded<MarkOutcome>> {
    let g = state.with_unlocked(|s| grant::<actions::MarkManager>(s, proof))?;
    let client = state.exchange_client()?;
    Ok(Branded(
        managed::mark(&*state.session, &client, Actor::Gui, g, &label).await?,
    ))
}

/// Stops using a key as its account's manager key (step-up: MarkManager).
#[tauri::command]
pub fn manager_unmark(
    state: State<'_, AppState>,
    label: String,
    proof: Option<ProofInput>,
) -> IpcResult<Branded<KeyDetail>> {
    state
        .with_unlocked(|s| {
            let g = grant::<actions::MarkManager>(s, proof)?;
            managed::unmark(s, Actor::Gui, g, &label)?;
            Ok(s.key_detail(&label)?)
        })
        .map(Branded)
}

/// Lists every key of an exchange account through its manager key, next
/// to the vault (step-up: UseManager).
#[tauri::command]
pub async fn inventory(
    state: State<'_, AppState>,
    exchange: String,
    environment: EnvironmentInput,
    proof: Option<ProofInput>,
) -> IpcResult<Branded<InventoryReport>> {
    let exchange = self::exchange(&exchange)?;
    let environment = Environment::from(environment);
    let g = state.with_unlocked(|s| grant::<actions::UseManager>(s, proof))?;
    let client = state.exchange_client()?;
    Ok(Branded(
        managed::inventory(
            &*state.session,
            &client,
            Actor::Gui,
            g,
            exchange,
            &environment,
        )
        .await?,
    ))
}

/// Deletes a key the vault does not hold from the exchange account through
/// its manager key (step-up: UseManager).
#[tauri::command]
pub async fn inventory_revoke(
    state: State<'_, AppState>,
    exchange: String,
    environment: EnvironmentInput,
    key_id: String,
    proof: Option<ProofInput>,
) -> IpcResult<Branded<RevokedUnknown>> {
    let exchange = self::exchange(&exchange)?;
    let environment = Environment::from(environment);
    let g = state.with_unlocked(|s| grant::<actions::UseManager>(s, proof))?;
    let client = state.exchange_client()?;
    Ok(Branded(
        managed::revoke_unknown(
            &*state.session,
            &client,
            Actor::Gui,
            g,
            exchange,
            &environment,
            &key_id,
        )
        .await?,
    ))
}

/// What Keyward can do with an exchange account through its manager key.
#[derive(Debug, Serialize)]
pub struct ManagedExchange {
    /// The exchange.
    exchange: Exchange,
    /// A master-account key creates and deletes sub-account keys through
    /// the API (inventory, deleting an unknown key, automated rotation).
    manage_sub_keys: bool,
    /// The API lists every key of the account, so an inventory can be
    /// complete.
    list_account_keys: bool,
}

/// The exchanges whose account keys Keyward can manage through a manager
/// key, with what their APIs allow. Reads no vault.
#[tauri::command]
pub fn managed_exchanges() -> Vec<Branded<ManagedExchange>> {
    Exchange::ALL
        .iter()
        .map(|&exchange| (exchange, capabilities(exchange)))
        .filter(|(_, c)| c.manage_sub_keys)
        .map(|(exchange, c)| {
            Branded(ManagedExchange {
                exchange,
                manage_sub_keys: c.manage_sub_keys,
                list_account_keys: c.list_account_keys,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_managed_exchanges_are_the_ones_the_exchange_layer_can_manage() {
        let list = serde_json::to_value(managed_exchanges()).unwrap();
        let names: Vec<(&str, &str, bool)> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["exchange"].as_str().unwrap(),
                    e["exchange_name"].as_str().unwrap(),
                    e["list_account_keys"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("binance", "Binance", false),
                ("okx", "OKX", true),
                ("bybit", "Bybit", true)
            ],
            "{list}"
        );
    }
}
