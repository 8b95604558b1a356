//! Key records: list, search, detail, add, edit.
//!
//! Input DTOs carry the secret and passphrase only on the way in; they are
//! moved at once into the core's zeroizing types. No output of this module
//! carries a secret: the core's `KeySummary`/`KeyDetail` hold metadata only.

use keyward_core::ErrorKind;
use keyward_core::checks::{CheckSelection, KeyVerification, narrow_key, verify_keys};
use keyward_core::exchange::Narrowing;
use keyward_core::health::HealthReport;
use keyward_core::mfa::actions;
use keyward_core::model::{
    ApiSecret, Environment, Exchange, KeyDetail, KeyEdit, KeyStatus, KeySummary, KeyType, NewKey,
    Passphrase, Scope, ValidationError, keep_by_name,
};
use keyward_core::vault::{Actor, VaultError};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tauri::State;

use super::brand::Branded;
use super::stepup::{ProofInput, grant};
use crate::error::{IpcError, IpcResult};
use crate::state::AppState;

/// Where a key talks to, as the form sends it.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "base_url")]
pub enum EnvironmentInput {
    /// Production.
    Mainnet,
    /// The exchange's testnet.
    Testnet,
    /// A custom base URL.
    Custom(String),
}

impl From<EnvironmentInput> for Environment {
    fn from(e: EnvironmentInput) -> Self {
        match e {
            EnvironmentInput::Mainnet => Environment::Mainnet,
            EnvironmentInput::Testnet => Environment::Testnet,
            EnvironmentInput::Custom(url) => Environment::Custom(url),
        }
    }
}

/// A new key from the add form. No `Debug`: it holds the secret.
#[derive(Deserialize)]
pub struct KeyInput {
    label: String,
    exchange: String,
    environment: EnvironmentInput,
    api_key_id: String,
    secret: String,
    passphrase: Option<String>,
    /// `hmac`, `ed25519`, `rsa`, `ecdsa_jwt`; `auto` (or empty) recognises
    /// it from the secret as the exchange hands it over (a Coinbase CDP key
    /// file, whose key name then fills an empty key id).
    key_type: String,
    scopes: Vec<String>,
    ip_whitelist: Vec<String>,
    /// Names of the services that hold the key (kind unspecified; details
    /// are added on the key's page, see `commands::services`).
    linked_services: Vec<String>,
    notes: String,
    rotate_every_days: Option<u32>,
}

/// Changes from the edit form; absent fields stay as they are. No `Debug`.
#[derive(Deserialize)]
pub struct KeyEditInput {
    label: Option<String>,
    environment: Option<EnvironmentInput>,
    api_key_id: Option<String>,
    secret: Option<String>,
    passphrase: Option<String>,
    key_type: Option<String>,
    scopes: Option<Vec<String>>,
    ip_whitelist: Option<Vec<String>>,
    /// Service names: recorded services named here are kept with their
    /// details, new names are added, others removed (`KeyEdit`).
    linked_services: Option<Vec<String>>,
    notes: Option<String>,
    /// `Some(None)` (JSON `null` with the field present) reverts to the vault default.
    #[serde(default, deserialize_with = "double_option")]
    rotate_every_days: Option<Option<u32>>,
    status: Option<String>,
}

fn double_option<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u32>>, D::Error> {
    Option::<u32>::deserialize(d).map(Some)
}

fn scopes(names: &[String]) -> Result<Vec<Scope>, ValidationError> {
    names.iter().map(|s| s.parse()).collect()
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

impl KeyInput {
    fn into_new_key(self) -> Result<NewKey, VaultError> {
        let exchange: Exchange = self.exchange.parse()?;
        let (key_type, secret, api_key_id) = if self.key_type.is_empty() || self.key_type == "auto"
        {
            let found = keyward_core::model::validate::recognise_secret(exchange, &self.secret)?;
            let id = match found.key_name {
                Some(name) if self.api_key_id.trim().is_empty() => name,
                _ => self.api_key_id,
            };
            (found.key_type, found.secret, id)
        } else {
            (
                self.key_type.parse::<KeyType>()?,
                ApiSecret::new(self.secret),
                self.api_key_id,
            )
        };
        Ok(NewKey {
            label: self.label,
            exchange,
            environment: self.environment.into(),
            api_key_id,
            secret,
            passphrase: non_empty(self.passphrase).map(Passphrase::new),
            key_type,
            scopes: scopes(&self.scopes)?,
            ip_whitelist: self.ip_whitelist,
            linked_services: keep_by_name(&[], &self.linked_services),
            notes: self.notes,
            rotate_every_days: self.rotate_every_days,
        })
    }
}

impl KeyEditInput {
    fn into_edit(self) -> Result<KeyEdit, VaultError> {
        Ok(KeyEdit {
            label: self.label,
            environment: self.environment.map(Into::into),
            api_key_id: self.api_key_id,
            secret: non_empty(self.secret).map(ApiSecret::new),
            passphrase: non_empty(self.passphrase).map(Passphrase::new),
            key_type: self.key_type.map(|k| k.parse::<KeyType>()).transpose()?,
            scopes: self.scopes.map(|s| scopes(&s)).transpose()?,
            ip_whitelist: self.ip_whitelist,
            linked_services: self.linked_services,
            notes: self.notes,
            rotate_every_days: self.rotate_every_days,
            status: self.status.map(|s| s.parse::<KeyStatus>()).transpose()?,
        })
    }
}

/// Every key, metadata only.
#[tauri::command]
pub fn key_list(state: State<'_, AppState>) -> IpcResult<Branded<Vec<KeySummary>>> {
    state.with_session(|s| s.list_keys()).map(Branded)
}

/// The ids of the keys whose label, exchange, key id, services or notes
/// match `query`. Ids, not summaries: the list already holds every summary
/// (from `key_list`), so a keystroke moves a few bytes per match instead of
/// the whole list again.
#[tauri::command]
pub fn key_search(state: State<'_, AppState>, query: String) -> IpcResult<Vec<String>> {
    state.with_session(|s| s.search_key_ids(&query))
}

/// One key's metadata (never its secret).
#[tauri::command]
pub fn key_get(state: State<'_, AppState>, label: String) -> IpcResult<Branded<KeyDetail>> {
    state.with_session(|s| s.key_detail(&label)).map(Branded)
}

/// Adds a key; the core validates every field and seals the secret.
#[tauri::command]
pub fn key_add(state: State<'_, AppState>, key: KeyInput) -> IpcResult<Branded<KeySummary>> {
    state
        .with_session(|s| {
            let key = key.into_new_key()?;
            s.add_key(Actor::Gui, key)
        })
        .map(Branded)
}

/// Edits a key. Changing its endpoint, key id, secret, passphrase, key
/// type or status needs a step-up (EditCredentials); the core refuses such
/// an edit without one, whatever this adapter does.
#[tauri::command]
pub fn key_edit(
    state: State<'_, AppState>,
    label: String,
    edit: KeyEditInput,
    proof: Option<ProofInput>,
) -> IpcResult<Branded<KeyDetail>> {
    state
        .with_unlocked(|s| {
            let edit = edit.into_edit()?;
            let g = if edit.credential_fields().is_empty() {
                None
            } else {
                Some(grant::<actions::EditCredentials>(s, proof)?)
            };
            Ok(s.edit_key(Actor::Gui, &label, edit, g)?)
        })
        .map(Branded)
}

/// The one DTO that carries a secret to the webview: the answer of the
/// MFA-gated `key_reveal`. No `Debug`.
#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(rename = "Revealed"))]
pub struct RevealedDto {
    secret: String,
    passphrase: Option<String>,
}

/// Reveals a key's secret and passphrase (step-up: RevealSecret; audited).
/// This is the only command whose answer holds a secret.
#[tauri::command]
pub fn key_reveal(
    state: State<'_, AppState>,
    label: String,
    proof: Option<ProofInput>,
) -> IpcResult<RevealedDto> {
    state.with_unlocked(|s| {
        let g = grant::<actions::RevealSecret>(s, proof)?;
        let revealed = s.reveal(Actor::Gui, g, &label)?;
        Ok(RevealedDto {
            secret: revealed.secret.expose().to_string(),
            passphrase: revealed.passphrase.as_ref().map(|p| p.expose().to_string()),
        })
    })
}

/// Which stored value to copy.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum SecretField {
    /// The API secret or private key.
    Secret,
    /// The passphrase.
    Passphrase,
}

/// Copies a secret to the clipboard from Rust (step-up: CopySecret;
/// audited); the webview never sees it. It is cleared after the vault's
/// clipboard timeout, on lock and on quit, if still there.
#[tauri::command]
pub fn key_copy(
    state: State<'_, AppState>,
    label: String,
    field: SecretField,
    proof: Option<ProofInput>,
) -> IpcResult<()> {
    state.with_unlocked(|s| {
        let clear_after = s.settings()?.clipboard_clear_seconds;
        let g = grant::<actions::CopySecret>(s, proof)?;
        let revealed = s.reveal(Actor::Gui, g, &label)?;
        let text = match field {
            SecretField::Secret => Some(revealed.secret.expose()),
            SecretField::Passphrase => revealed.passphrase.as_ref().map(|p| p.expose()),
        }
        .ok_or_else(|| IpcError::new(ErrorKind::NotFound, "this key has no passphrase"))?;
        state
            .clipboard
            .copy_for(text, Duration::from_secs(u64::from(clear_after)))
            .map_err(|m| IpcError::new(ErrorKind::Internal, m))
    })
}

/// Deletes a key from the vault (step-up: DeleteKey; audited). It does not
/// revoke the key at the exchange.
#[tauri::command]
pub fn key_delete(
    state: State<'_, AppState>,
    label: String,
    proof: Option<ProofInput>,
) -> IpcResult<()> {
    state.with_unlocked(|s| {
        let g = grant::<actions::DeleteKey>(s, proof)?;
        Ok(s.delete_key(Actor::Gui, g, &label)?)
    })
}

/// Checks keys live against their exchanges ("Check now" / "Check all").
/// The core unseals credentials under the session lock, releases it for the
/// network calls, and stores each result with its audit entry.
#[tauri::command]
pub async fn key_check(
    state: State<'_, AppState>,
    labels: Option<Vec<String>>,
) -> IpcResult<Branded<Vec<KeyVerification>>> {
    let selection = match labels {
        Some(labels) => CheckSelection::Labels(labels),
        None => CheckSelection::All,
    };
    let client = state.exchange_client()?;
    let results = verify_keys(&state.session, &client, &selection, Actor::Gui).await?;
    // Critical findings were queued with the stored checks; send them.
    crate::alerts::deliver_soon(state.session.clone(), state.webhook_sender());
    Ok(Branded(results))
}

/// Allows `keyward run` to hand this key to a process (step-up: AllowRun;
/// audited), or withdraws that (no step-up: it only reduces exposure).
#[tauri::command]
pub fn key_allow_run(
    state: State<'_, AppState>,
    label: String,
    allow: bool,
    proof: Option<ProofInput>,
) -> IpcResult<Branded<KeyDetail>> {
    state.with_unlocked(|s| {
        if allow {
            let g = grant::<actions::AllowRun>(s, proof)?;
            s.set_allow_run(Actor::Gui, g, &label, true)?;
        } else {
            s.deny_run(Actor::Gui, &label)?;
        }
        Ok(Branded(s.key_detail(&label)?))
    })
}

/// The health dashboard: findings per key, counts and the vault score with
/// every point lost explained (using the last leak scan's findings).
#[tauri::command]
pub fn health_report(state: State<'_, AppState>) -> IpcResult<HealthReport> {
    let leaks = state
        .last_scan
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    state.with_session(|s| keyward_core::health::report_for(s, now, &leaks))
}

/// What to narrow at the exchange. `drop` holds permission names exactly as
/// the key's live check listed them (`removable[].name`).
#[derive(Debug, Deserialize)]
pub struct NarrowInput {
    #[serde(default)]
    remove_withdraw: bool,
    #[serde(default)]
    read_only: bool,
    #[serde(default)]
    ips: Option<Vec<String>>,
    #[serde(default)]
    drop: Vec<String>,
}

/// Narrows a key at its exchange where the exchange allows it on the key
/// itself (step-up: SecuritySettings), then checks it live and stores that.
#[tauri::command]
pub async fn key_narrow(
    state: State<'_, AppState>,
    label: String,
    narrowing: NarrowInput,
    proof: Option<ProofInput>,
) -> IpcResult<Branded<KeyVerification>> {
    let g = state.with_unlocked(|s| grant::<actions::SecuritySettings>(s, proof))?;
    let client = state.exchange_client()?;
    let narrowing = Narrowing {
        remove_withdraw: narrowing.remove_withdraw,
        read_only: narrowing.read_only,
        ips: narrowing.ips,
        drop: narrowing.drop,
    };
    Ok(Branded(
        narrow_key(&*state.session, &client, Actor::Gui, g, &label, &narrowing).await?,
    ))
}
