//! Where a key is deployed: the key page's list of deployment targets and
//! the last delivery to each. Read only (adding targets and deploying are
//! on the command line for now); nothing secret in the answer.

use keyward_core::deploy::KeyDeployment;
use tauri::State;

use crate::error::IpcResult;
use crate::state::AppState;

/// The targets the key `label` is granted to, with its last delivery there.
#[tauri::command]
pub fn deploy_targets_of(
    state: State<'_, AppState>,
    label: String,
) -> IpcResult<Vec<KeyDeployment>> {
    state.with_unlocked(|s| Ok(s.deploy_targets_of(&label)?))
}
