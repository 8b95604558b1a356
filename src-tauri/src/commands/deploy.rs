//! Where a key is deployed, and delivering it there: the key page's list
//! of deployment targets with the last delivery to each, and "deliver
//! now" (step-up: Deploy). Adding targets and granting keys to them is on
//! the command line. Nothing secret in any answer: a bundle is sealed in
//! the core and copied by the system SSH client.

use keyward_core::ErrorKind;
use keyward_core::deploy::{self, KeyDeployment, PreparedDeploy, SshOptions};
use keyward_core::mfa::actions;
use keyward_core::vault::Actor;
use serde::Serialize;
use tauri::State;

use super::stepup::{ProofInput, grant};
use crate::error::{IpcError, IpcResult};
use crate::state::AppState;

/// The targets the key `label` is granted to, with its last delivery there.
#[tauri::command]
pub fn deploy_targets_of(
    state: State<'_, AppState>,
    label: String,
) -> IpcResult<Vec<KeyDeployment>> {
    state.with_unlocked(|s| Ok(s.deploy_targets_of(&label)?))
}

/// What one delivery did. Nothing secret.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(rename = "Delivery"))]
pub struct DeliveryDto {
    /// The target's name.
    target: String,
    /// The labels of the keys in the bundle the target now holds (empty
    /// when the delivery failed).
    labels: Vec<String>,
    /// The server's host key this delivery pinned (the first to it).
    pinned_host_key: Option<String>,
    /// Why it failed, safe to display; `None` when delivered and recorded.
    error: Option<String>,
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
) -> IpcResult<Vec<DeliveryDto>> {
    let prepared = state.with_unlocked(|s| {
        let g = grant::<actions::Deploy>(s, proof)?;
        Ok(match &target {
            Some(t) => vec![s.prepare_deploy(g, &label, t)?],
            None => s.prepare_deploy_all(g, &label)?,
        })
    })?;
    let opts = SshOptions::beside_vault(&state.path()?, None);
    let copied = tauri::async_runtime::spawn_blocking(move || copy_all(prepared, &opts))
        .await
        .map_err(|_| IpcError::new(ErrorKind::Internal, "the delivery stopped unexpectedly"))?;
    let mut out = Vec::new();
    for (name, labels, result) in copied {
        let recorded = result.map_err(IpcError::from).and_then(|delivered| {
            let pinned = delivered.newly_pinned().map(str::to_owned);
            state.with_unlocked(|s| Ok(s.record_deploy(Actor::Gui, delivered)?))?;
            Ok(pinned)
        });
        out.push(match recorded {
            Ok(pinned_host_key) => DeliveryDto {
                target: name,
                labels,
                pinned_host_key,
                error: None,
            },
            Err(e) => DeliveryDto {
                target: name,
                labels: Vec::new(),
                pinned_host_key: None,
                error: Some(e.message),
            },
        });
    }
    Ok(out)
}

type Copied = (
    String,
    Vec<String>,
    Result<deploy::Delivered, deploy::DeployError>,
);

/// The network step for each sealed bundle, in turn.
fn copy_all(prepared: Vec<PreparedDeploy>, opts: &SshOptions) -> Vec<Copied> {
    prepared
        .into_iter()
        .map(|p| {
            let name = p.target().name.clone();
            let labels = p.labels();
            (name, labels, deploy::deliver(p, opts))
        })
        .collect()
}
