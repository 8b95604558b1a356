//! The account's manager key and the inventory of an exchange account:
//! mark and unmark a manager key, list the account's keys through it, and
//! delete a key the vault does not hold. Every one takes a step-up proof;
//! the core checks it (marking is never covered by the step-up window).
//!
//! No output carries a secret or a full key id of the inventory.

use keyward_core::managed::{self, InventoryReport, MarkOutcome, RevokedUnknown};
use keyward_core::mfa::actions;
use keyward_core::model::{Environment, Exchange, KeyDetail, ValidationError};
use keyward_core::vault::Actor;
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
