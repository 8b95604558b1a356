//! Rotation and revocation: the wizard's steps, standalone revoke and the
//! "revoke everything on this exchange" panic action.
//!
//! Step-up happens under the session lock (sync); networked steps then run
//! the core's three phases (prepare under the lock → network without it →
//! record under the lock), so the UI stays usable while an exchange answers.

use std::future::Future;
use std::sync::Mutex;

use keyward_core::deploy::SshOptions;
use keyward_core::exchange::ExchangeClient;
use keyward_core::mfa::{StepUpGrant, actions};
use keyward_core::model::{ApiSecret, Exchange, KeyType, Passphrase, Scope, ValidationError};
use keyward_core::rotation::{
    self, AutoCancel, NewRotationKey, PromoteOutcome, RevokeOutcome, RotationError, RotationView,
    ServiceState, VerifyOptions, VerifyOutcome,
};
use keyward_core::vault::{Actor, Session, SessionAccess};
use serde::Deserialize;
use tauri::State;

use super::stepup::{ProofInput, grant};
use crate::error::{IpcError, IpcResult};
use crate::state::AppState;

/// A revocation: the step-up for `Revoke` under the session lock, then
/// `revoke` with the session slot, the exchange client and the grant (the
/// core's three phases, each taking the lock only for its own phase).
async fn revoking<'a, T, Fut>(
    state: &'a AppState,
    proof: Option<ProofInput>,
    revoke: impl FnOnce(&'a Mutex<Option<Session>>, ExchangeClient, StepUpGrant<actions::Revoke>) -> Fut,
) -> IpcResult<T>
where
    Fut: Future<Output = Result<T, RotationError>>,
{
    let g = state.with_unlocked(|s| grant::<actions::Revoke>(s, proof))?;
    let client = state.exchange_client()?;
    Ok(revoke(&state.session, client, g).await?)
}

fn parse<T: std::str::FromStr<Err = ValidationError>>(s: &str) -> IpcResult<T> {
    s.parse::<T>()
        .map_err(|e| IpcError::new(keyward_core::ErrorKind::Invalid, e.to_string()))
}

/// The open (or last) rotation of a key.
#[tauri::command]
pub fn rotation_status(
    state: State<'_, AppState>,
    label: String,
) -> IpcResult<Option<RotationView>> {
    state.with_unlocked(|s| match rotation::status(s, &label) {
        Ok(view) => Ok(Some(view)),
        // No open rotation is the usual state of a key, not an error.
        Err(RotationError::NoOpenRotation { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    })
}

/// Starts a rotation (`planned`).
#[tauri::command]
pub fn rotation_begin(state: State<'_, AppState>, label: String) -> IpcResult<RotationView> {
    state.with_unlocked(|s| Ok(rotation::begin(s, Actor::Gui, &label)?))
}

/// The new key from the wizard. No `Debug`: it holds the secret.
#[derive(Deserialize)]
pub struct NewKeyInput {
    api_key_id: String,
    secret: String,
    passphrase: Option<String>,
    key_type: Option<String>,
}

/// Stores the new key, sealed (`new_key_entered`).
#[tauri::command]
pub fn rotation_new_key(
    state: State<'_, AppState>,
    label: String,
    key: NewKeyInput,
) -> IpcResult<RotationView> {
    let new = NewRotationKey {
        api_key_id: key.api_key_id.trim().to_string(),
        secret: ApiSecret::new(key.secret),
        passphrase: key
            .passphrase
            .filter(|p| !p.is_empty())
            .map(Passphrase::new),
        key_type: key.key_type.as_deref().map(parse::<KeyType>).transpose()?,
    };
    state.with_unlocked(|s| Ok(rotation::enter_new_key(s, Actor::Gui, &label, new)?))
}

/// Checks the new key live; the declared scope may be narrowed here, and
/// "unknown" permissions accepted by an explicit, audited override.
#[tauri::command]
pub async fn rotation_verify_new(
    state: State<'_, AppState>,
    label: String,
    scopes: Option<Vec<String>>,
    allow_unknown: bool,
) -> IpcResult<VerifyOutcome> {
    let scopes = scopes
        .map(|list| {
            list.iter()
                .map(|s| parse::<Scope>(s))
                .collect::<IpcResult<Vec<_>>>()
        })
        .transpose()?;
    let options = VerifyOptions {
        scopes,
        allow_unknown,
    };
    let client = state.exchange_client()?;
    Ok(rotation::verify_new_key(&*state.session, &client, Actor::Gui, &label, &options).await?)
}

/// Makes the verified new key current (step-up: RotationPromote) and
/// delivers it, under the same step-up, to every deployment target that
/// held the old one; the outcome says which got it and which did not (a
/// failed delivery leaves the rotation promoted: deploy again before
/// revoking the old key).
#[tauri::command]
pub async fn rotation_promote(
    state: State<'_, AppState>,
    label: String,
    proof: Option<ProofInput>,
) -> IpcResult<PromoteOutcome> {
    let g = state.with_unlocked(|s| {
        // Refuse a step that cannot happen before spending a code on it.
        rotation::status(s, &label)?;
        grant::<actions::RotationPromote>(s, proof)
    })?;
    // The SSH client's own configuration and agent; Keyward's known-hosts
    // files beside the vault.
    let ssh = SshOptions::beside_vault(&state.path()?, None);
    Ok(rotation::promote_and_deploy(&*state.session, Actor::Gui, g, &label, &ssh).await?)
}

/// Marks a linked service as updated (or pending again).
#[tauri::command]
pub fn rotation_mark_service(
    state: State<'_, AppState>,
    label: String,
    service: String,
    updated: bool,
) -> IpcResult<RotationView> {
    let mark = if updated {
        ServiceState::Updated
    } else {
        ServiceState::Pending
    };
    state.with_unlocked(|s| {
        Ok(rotation::mark_service(
            s,
            Actor::Gui,
            &label,
            &service,
            mark,
        )?)
    })
}

/// Revokes the old key (step-up: Revoke) and proves it is dead with a live
/// call; `confirm_manual` says the user deleted it on the exchange's site.
/// While a deployment target still holds the old key this is refused,
/// unless `force` (then audited as `revoke_forced_while_deployed`, naming
/// the targets, after the step-up passed).
#[tauri::command]
pub async fn rotation_revoke_old_key(
    state: State<'_, AppState>,
    label: String,
    proof: Option<ProofInput>,
    confirm_manual: bool,
    force: Option<bool>,
) -> IpcResult<RevokeOutcome> {
    let force = force.unwrap_or(false);
    // A deployment target still holding the old key would stop working:
    // refused before the step-up, unless forced.
    let promoted = state.with_unlocked(|s| {
        let promoted = rotation::status(s, &label)
            .is_ok_and(|v| v.state == keyward_core::rotation::RotationState::Promoted);
        if promoted && !force {
            s.check_revoke_old_deployments(Actor::Gui, &label, false)?;
        }
        Ok(promoted)
    })?;
    revoking(&state, proof, |session, client, g| async move {
        if promoted && force {
            // Recorded only once the step-up passed: a refused code forces
            // nothing.
            let mut access = session;
            access.with_session(|s| {
                s.check_revoke_old_deployments(Actor::Gui, &label, true)
                    .map_err(RotationError::from)
            })?;
        }
        rotation::revoke_old(session, &client, Actor::Gui, g, &label, confirm_manual).await
    })
    .await
}

/// Closes a rotation whose old key was shown to be dead.
#[tauri::command]
pub fn rotation_finish(state: State<'_, AppState>, label: String) -> IpcResult<RotationView> {
    state.with_unlocked(|s| Ok(rotation::finish(s, Actor::Gui, &label)?))
}

/// Abandons a rotation before promotion. An automated rotation whose
/// created key may be live on the exchange (`cancel_deletes_key`) needs
/// the step-up (AutoRotate): that key is deleted through the manager key
/// and proven dead first (the core's three phases); any other rotation is
/// cancelled at once, without a proof.
#[tauri::command]
pub async fn rotation_cancel(
    state: State<'_, AppState>,
    label: String,
    proof: Option<ProofInput>,
) -> IpcResult<AutoCancel> {
    let g = state.with_unlocked(|s| {
        let view = rotation::status(s, &label)?;
        if !(view.open && view.cancel_deletes_key) {
            // The core refuses a rotation that became automated meanwhile.
            let rotation = rotation::cancel(s, Actor::Gui, &label)?;
            return Ok(Err(AutoCancel {
                label: label.clone(),
                rotation,
                deleted: None,
                leftovers_deleted: 0,
                check_by_hand: None,
            }));
        }
        Ok(Ok(grant::<actions::AutoRotate>(s, proof)?))
    })?;
    let g = match g {
        Ok(g) => g,
        Err(done) => return Ok(done),
    };
    let client = state.exchange_client()?;
    Ok(rotation::cancel_auto(&*state.session, &client, Actor::Gui, g, &label).await?)
}

/// Revokes one key outside a rotation (step-up: Revoke), with the same live
/// proof.
#[tauri::command]
pub async fn key_revoke(
    state: State<'_, AppState>,
    label: String,
    proof: Option<ProofInput>,
    confirm_manual: bool,
) -> IpcResult<RevokeOutcome> {
    revoking(&state, proof, |session, client, g| async move {
        rotation::revoke_key(session, &client, Actor::Gui, g, &label, confirm_manual).await
    })
    .await
}

/// "Revoke everything on this exchange": one step-up for the batch, one
/// outcome per key; failures do not stop the batch.
#[tauri::command]
pub async fn exchange_revoke_all(
    state: State<'_, AppState>,
    exchange: String,
    proof: Option<ProofInput>,
    confirm_manual: bool,
) -> IpcResult<Vec<RevokeOutcome>> {
    let exchange = parse::<Exchange>(&exchange)?;
    revoking(&state, proof, |session, client, g| async move {
        rotation::revoke_exchange(session, &client, Actor::Gui, g, exchange, confirm_manual).await
    })
    .await
}
