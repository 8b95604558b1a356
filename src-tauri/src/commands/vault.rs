//! Vault lifecycle commands: status, create, unlock, lock, settings, the
//! OS-keyring option and master-password strength.
//!
//! Passwords arrive as plain strings from the webview and are moved at once
//! into the core's zeroizing `MasterPassword`; they are never logged.

use std::path::PathBuf;
use std::time::Duration;

use keyward_core::mfa::actions;
use keyward_core::password::{self, Assessment};
use keyward_core::vault::{
    self, Actor, KdfParams, KeyringStatus, MasterPassword, Settings, Vault, VaultOptions,
};
use serde::Serialize;
use tauri::State;

use super::stepup::{ProofInput, grant};
use crate::error::{IpcError, IpcResult};
use crate::state::{AppState, lock_slot};

/// How long the key derivation of a new vault should take on this machine.
const KDF_TARGET: Duration = Duration::from_secs(1);

/// What the first screen needs to know.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct VaultState {
    /// The vault file.
    pub path: PathBuf,
    /// Whether it exists.
    pub exists: bool,
    /// Whether a session is unlocked.
    pub unlocked: bool,
    /// Whether OS-keyring unlock is set up for this vault.
    pub device_unlock: bool,
    /// What the audit-log check at unlock found, if anything (GUI banner).
    pub audit_problem: Option<String>,
}

/// Where the vault is, whether it exists and whether it is unlocked.
#[tauri::command]
pub fn vault_status(state: State<'_, AppState>) -> IpcResult<VaultState> {
    let path = state.path()?;
    let status = vault::status(&path);
    let (unlocked, audit_problem) = match lock_slot(&state.session).as_ref() {
        Some(s) => (true, s.audit_problem().map(|p| p.finding.clone())),
        None => (false, None),
    };
    let device_unlock = !unlocked
        && status.exists
        && Vault::open(&path)
            .map(|v| v.info().device_unlock)
            .unwrap_or(false);
    Ok(VaultState {
        path: status.path,
        exists: status.exists,
        unlocked,
        device_unlock,
        audit_problem,
    })
}

/// Strength of a candidate master password (nothing is stored).
#[tauri::command]
pub fn password_assess(password: String) -> Assessment {
    let password = MasterPassword::new(password);
    password::assess(password.expose(), &[])
}

/// Creates a new vault with a strong master password and unlocks it.
#[tauri::command]
pub async fn vault_create(state: State<'_, AppState>, password: String) -> IpcResult<()> {
    let path = state.path()?;
    let password = MasterPassword::new(password);
    password::require_strong(password.expose(), &[])?;
    let slot = state.session.clone();
    tauri::async_runtime::spawn_blocking(move || -> IpcResult<()> {
        if let Some(parent) = path.parent() {
            keyward_core::files::create_private_dir(parent)?;
        }
        let params = KdfParams::calibrate(KDF_TARGET)?;
        let session = Vault::create_with(&path, &password, params, options())?;
        *lock_slot(&slot) = Some(session);
        Ok(())
    })
    .await
    .map_err(|_| IpcError::new(keyward_core::ErrorKind::Internal, "vault creation failed"))?
}

/// Unlocks with the master password. Wrong passwords slow down in the core.
#[tauri::command]
pub async fn vault_unlock(state: State<'_, AppState>, password: String) -> IpcResult<()> {
    let path = state.path()?;
    let password = MasterPassword::new(password);
    let slot = state.session.clone();
    tauri::async_runtime::spawn_blocking(move || -> IpcResult<()> {
        let vault = open(&path)?;
        let session = vault.unlock(&password)?;
        *lock_slot(&slot) = Some(session);
        Ok(())
    })
    .await
    .map_err(|_| IpcError::new(keyward_core::ErrorKind::Internal, "unlock failed"))?
}

/// Unlocks with the device key kept in the OS keyring.
#[tauri::command]
pub async fn vault_unlock_device(state: State<'_, AppState>) -> IpcResult<()> {
    let path = state.path()?;
    let slot = state.session.clone();
    tauri::async_runtime::spawn_blocking(move || -> IpcResult<()> {
        let vault = open(&path)?;
        let session = vault.unlock_with_device()?;
        *lock_slot(&slot) = Some(session);
        Ok(())
    })
    .await
    .map_err(|_| IpcError::new(keyward_core::ErrorKind::Internal, "unlock failed"))?
}

fn open(path: &std::path::Path) -> IpcResult<Vault> {
    Ok(Vault::open_with(path, options())?)
}

/// How the desktop opens a vault: actor `gui`, with the features' hooks
/// registered (alerts queues a stored check's critical findings).
fn options() -> VaultOptions {
    VaultOptions::for_actor(Actor::Gui).with_hook(keyward_core::alerts::hook())
}

/// Locks now: the core drops and zeroizes the vault key; a copied secret is
/// taken back from the clipboard.
#[tauri::command]
pub fn vault_lock(state: State<'_, AppState>) {
    state.lock();
}

/// The vault's settings.
#[tauri::command]
pub fn settings_get(state: State<'_, AppState>) -> IpcResult<Settings> {
    state.with_session(|s| s.settings())
}

/// Changes the vault's settings. The core checks the values and decides
/// whether the change needs a step-up (any change does; none when nothing
/// changes), the same rule as `keyward settings`.
#[tauri::command]
pub fn settings_update(
    state: State<'_, AppState>,
    settings: Settings,
    proof: Option<ProofInput>,
) -> IpcResult<Settings> {
    state.with_unlocked(|s| {
        let change = s.settings_change(settings)?;
        let g = if change.needs_step_up() {
            Some(grant::<actions::SecuritySettings>(s, proof)?)
        } else {
            None
        };
        Ok(s.apply_settings(Actor::Gui, change, g)?)
    })
}

/// Whether the OS keyring can be used, and whether this vault uses it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct KeyringState {
    /// Availability of the OS keyring, with the reason when unavailable.
    #[serde(flatten)]
    pub status: KeyringStatus,
    /// Whether this vault can be unlocked through it.
    pub enabled: bool,
}

/// The OS-keyring option's state.
#[tauri::command]
pub fn keyring_status(state: State<'_, AppState>) -> IpcResult<KeyringState> {
    let enabled = state.with_session(|s| s.device_unlock_enabled())?;
    Ok(KeyringState {
        status: vault::device_unlock_status(),
        enabled,
    })
}

/// Turns on "remember on this device" (a security setting: step-up).
#[tauri::command]
pub fn keyring_enable(state: State<'_, AppState>, proof: Option<ProofInput>) -> IpcResult<()> {
    // Before the step-up: no code is spent when the keyring cannot work.
    vault::require_device_unlock()?;
    state.with_unlocked(|s| {
        let g = grant::<actions::SecuritySettings>(s, proof)?;
        Ok(s.enable_device_unlock(Actor::Gui, g)?)
    })
}

/// Turns it off and deletes the stored device key (step-up).
#[tauri::command]
pub fn keyring_disable(state: State<'_, AppState>, proof: Option<ProofInput>) -> IpcResult<()> {
    state.with_unlocked(|s| {
        let g = grant::<actions::SecuritySettings>(s, proof)?;
        Ok(s.disable_device_unlock(Actor::Gui, g)?)
    })
}
