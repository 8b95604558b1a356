//! Where a key is deployed, and delivering it there: the key page's list
//! of deployment targets with the last delivery to each, and "deliver
//! now" (step-up: Deploy). Adding targets and granting keys to them is on
//! the command line. Nothing secret in any answer: a bundle is sealed in
//! the core and copied by the system SSH client.

use keyward_core::deploy::{self, FollowDeploy, KeyDeployment, SshOptions, TargetDelivery};
use keyward_core::mfa::actions;
use keyward_core::vault::Actor;
use tauri::State;

use super::stepup::{ProofInput, grant};
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

/// Delivers the key `label` to `target`, or to every target it is granted
/// to (step-up: Deploy). Each bundle is sealed under the session, copied
/// without it (a slow or unreachable server holds no lock), then recorded;
/// a target that fails does not stop the others and is named in the answer.
#[tauri::command]
pub async fn deploy_key(
    state: State<'_, AppState>,
    label: String,
    target: Option<String>,
    proof: Option<ProofInput>,
) -> IpcResult<Vec<TargetDelivery>> {
    let prepared = state.with_unlocked(|s| {
        let g = grant::<actions::Deploy>(s, proof)?;
        Ok(match &target {
            Some(t) => vec![s.prepare_deploy(g, &label, t)?],
            None => s.prepare_deploy_all(g, &label)?,
        })
    })?;
    let opts = SshOptions::beside_vault(&state.path()?, None);
    let prepared = prepared.into_iter().map(FollowDeploy::from).collect();
    Ok(deploy::deliver_followed(&mut &*state.session, Actor::Gui, prepared, &opts).await)
}
