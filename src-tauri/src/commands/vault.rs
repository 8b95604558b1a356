//! Vault commands.

use keyward_core::ErrorKind;
use keyward_core::vault::{self, VaultStatus};
use tauri::State;

use crate::error::{IpcError, IpcResult};
use crate::state::AppState;

/// Where the vault is and whether it exists; decides "Create" vs "Unlock".
#[tauri::command]
pub fn vault_status(state: State<'_, AppState>) -> IpcResult<VaultStatus> {
    let path = state.vault_path.as_deref().ok_or_else(|| {
        IpcError::new(
            ErrorKind::Invalid,
            "no data directory on this system; set KEYWARD_DATA_DIR",
        )
    })?;
    Ok(vault::status(path))
}
