//! Encrypted backups and the master-password change, as the Settings screen
//! uses them.
//!
//! Owns: turning a typed path and passphrase into one core call. Must never:
//! decide who may export or replace (the core's gates do), or keep the
//! backup passphrase or a password beyond the call (they move at once into
//! the core's zeroizing types).

use std::path::{Path, PathBuf};

use keyward_core::ErrorKind;
use keyward_core::files::{self, FileError, Overwrite};
use keyward_core::mfa::actions;
use keyward_core::password;
use keyward_core::vault::{Actor, BackupPassphrase, ConflictPolicy, ImportReport, MasterPassword};
use serde::Serialize;
use tauri::State;

use super::stepup::{ProofInput, grant};
use crate::error::{IpcError, IpcResult};
use crate::state::AppState;

/// The default folder for backups: `backups/` next to the vault file.
fn backups_dir(state: &AppState) -> IpcResult<PathBuf> {
    state
        .path()?
        .parent()
        .map(|p| p.join("backups"))
        .ok_or_else(|| IpcError::new(ErrorKind::Internal, "no folder for backups"))
}

/// Where backups go unless the user types another path.
#[tauri::command]
pub fn backup_dir(state: State<'_, AppState>) -> IpcResult<String> {
    Ok(backups_dir(&state)?.display().to_string())
}

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ExportResult {
    /// The backup file.
    pub path: String,
    /// How many keys it holds.
    pub keys: usize,
}

fn typed_path(path: &str) -> IpcResult<PathBuf> {
    let path = path.trim();
    if path.is_empty() || !Path::new(path).is_absolute() {
        return Err(IpcError::new(
            ErrorKind::Invalid,
            "give the backup file as a full path (starting with /)",
        ));
    }
    Ok(PathBuf::from(path))
}

/// Writes every key, secrets included, sealed under `passphrase`, to `path`
/// (gated: export). The default backups folder is created (0700) when it is
/// the destination's folder; any other folder must exist. An existing file
/// is replaced only when `overwrite` is set.
#[tauri::command]
pub async fn backup_export(
    state: State<'_, AppState>,
    path: String,
    passphrase: String,
    overwrite: bool,
    proof: Option<ProofInput>,
) -> IpcResult<ExportResult> {
    let passphrase = BackupPassphrase::new(passphrase);
    let out = typed_path(&path)?;
    let overwrite = Overwrite::when(overwrite);
    if out.parent() == Some(backups_dir(&state)?.as_path()) {
        files::create_private_dir(&backups_dir(&state)?)?;
    }
    // Before the step-up: a refused destination spends no code.
    files::check_destination(&out, overwrite).map_err(|e| match e {
        FileError::Exists { path } => IpcError::new(
            ErrorKind::Invalid,
            format!(
                "{} already exists; choose another name or tick \"Replace an existing file\"",
                path.display()
            ),
        ),
        other => other.into(),
    })?;
    state.with_unlocked(|s| {
        let g = grant::<actions::Export>(s, proof)?;
        let keys = s.export_backup_with(Actor::Gui, g, &out, &passphrase, overwrite)?;
        Ok(ExportResult {
            path: out.display().to_string(),
            keys,
        })
    })
}

/// Merges a backup into the vault. Labels that already exist are kept and
/// reported, unless `replace` is set (gated: editing credentials).
#[tauri::command]
pub async fn backup_import(
    state: State<'_, AppState>,
    path: String,
    passphrase: String,
    replace: bool,
    proof: Option<ProofInput>,
) -> IpcResult<ImportReport> {
    let passphrase = BackupPassphrase::new(passphrase);
    let file = typed_path(&path)?;
    state.with_unlocked(|s| {
        let (policy, g) = if replace {
            let g = grant::<actions::EditCredentials>(s, proof)?;
            (ConflictPolicy::Replace, Some(g))
        } else {
            (ConflictPolicy::Skip, None)
        };
        Ok(s.import_backup(Actor::Gui, &file, &passphrase, policy, g)?)
    })
}

/// Changes the master password (gated). The core seals everything again
/// under a new vault key and turns OS-keyring unlock off; the new password
/// must be strong.
#[tauri::command]
pub async fn password_change(
    state: State<'_, AppState>,
    current: String,
    new: String,
    proof: Option<ProofInput>,
) -> IpcResult<()> {
    let current = MasterPassword::new(current);
    let new = MasterPassword::new(new);
    password::require_strong(new.expose(), &[])?;
    state.with_unlocked(|s| {
        let g = grant::<actions::ChangePassword>(s, proof)?;
        Ok(s.change_password(Actor::Gui, g, &current, &new)?)
    })
}
