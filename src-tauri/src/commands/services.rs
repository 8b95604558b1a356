//! Linked services of a key: add, update, remove, check or uncheck a
//! vendor-checklist item. The list itself comes with `key_get`.
//!
//! Not gated by step-up (service records expose nothing); the core
//! validates every field and records one audit entry per change. Each
//! command answers with the key's services after the change.

use keyward_core::model::{ChecklistItem, LinkedService, NewService, ServiceKind, ServiceUpdate};
use keyward_core::vault::{Actor, VaultError};
use serde::Deserialize;
use tauri::State;

use crate::error::IpcResult;
use crate::state::AppState;

/// A new service from the detail page's form.
#[derive(Deserialize)]
pub struct ServiceInput {
    name: String,
    kind: String,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    notes: String,
}

/// Changes from the detail page's form; absent fields stay as they are.
#[derive(Deserialize)]
pub struct ServiceUpdateInput {
    name: Option<String>,
    kind: Option<String>,
    /// An empty string removes the host.
    host: Option<String>,
    notes: Option<String>,
}

/// Adds a service to the key `label`.
#[tauri::command]
pub fn service_add(
    state: State<'_, AppState>,
    label: String,
    service: ServiceInput,
) -> IpcResult<Vec<LinkedService>> {
    state.with_session(|s| {
        let kind: ServiceKind = service.kind.parse()?;
        s.add_service(
            Actor::Gui,
            &label,
            NewService {
                name: service.name,
                kind,
                host: service.host,
                notes: service.notes,
            },
        )
    })
}

/// Changes the service `name` of the key `label` (its checklist is kept).
#[tauri::command]
pub fn service_update(
    state: State<'_, AppState>,
    label: String,
    name: String,
    update: ServiceUpdateInput,
) -> IpcResult<Vec<LinkedService>> {
    state.with_session(|s| {
        let kind = update
            .kind
            .map(|k| k.parse::<ServiceKind>())
            .transpose()
            .map_err(VaultError::from)?;
        s.update_service(
            Actor::Gui,
            &label,
            &name,
            ServiceUpdate {
                name: update.name,
                kind,
                host: update
                    .host
                    .map(|h| Some(h).filter(|h| !h.trim().is_empty())),
                notes: update.notes,
            },
        )
    })
}

/// Removes the service `name` from the key `label`.
#[tauri::command]
pub fn service_remove(
    state: State<'_, AppState>,
    label: String,
    name: String,
) -> IpcResult<Vec<LinkedService>> {
    state.with_session(|s| s.remove_service(Actor::Gui, &label, &name))
}

/// Checks (now) or unchecks one vendor-checklist item of a service.
#[tauri::command]
pub fn service_check(
    state: State<'_, AppState>,
    label: String,
    name: String,
    item: String,
    checked: bool,
) -> IpcResult<Vec<LinkedService>> {
    state.with_session(|s| {
        let item: ChecklistItem = item.parse()?;
        s.set_service_check(Actor::Gui, &label, &name, item, checked)
    })
}
