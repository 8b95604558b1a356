//! The zero-touch rotation of a sub-account key through the account's
//! manager key, and its schedule.
//!
//! Step-up happens under the session lock (sync); the run then takes the
//! lock only for each stage's own phases (the core's three phases), so the
//! UI stays usable while an exchange answers. Turning automatic rotation
//! on takes a fresh proof; turning it off does not.

use keyward_core::deploy::SshOptions;
use keyward_core::mfa::actions;
use keyward_core::rotation::{self, AutoOutcome, AutoSchedule};
use keyward_core::vault::Actor;
use tauri::State;

use super::stepup::{ProofInput, grant};
use crate::error::IpcResult;
use crate::state::AppState;

/// Rotates `label` end to end through its manager key, or continues an
/// interrupted run (step-up: AutoRotate, for the whole run), delivering the
/// new key to the key's deployment targets before the old one is deleted.
#[tauri::command]
pub async fn rotate_auto(
    state: State<'_, AppState>,
    label: String,
    proof: Option<ProofInput>,
) -> IpcResult<AutoOutcome> {
    let g = state.with_unlocked(|s| grant::<actions::AutoRotate>(s, proof))?;
    let client = state.exchange_client()?;
    let ssh = SshOptions::beside_vault(&state.path()?, None);
    Ok(rotation::rotate_auto(&*state.session, &client, &ssh, Actor::Gui, g, &label).await?)
}

/// Shows or sets a key's automated schedule: `auto` true turns it on
/// (step-up: AutoRotate), false turns it off, `None` only reads it.
#[tauri::command]
pub fn rotate_schedule(
    state: State<'_, AppState>,
    label: String,
    auto: Option<bool>,
    every_days: Option<u32>,
    proof: Option<ProofInput>,
) -> IpcResult<AutoSchedule> {
    state.with_unlocked(|s| match auto {
        Some(true) => {
            rotation::auto_schedule(s, &label)?;
            let g = grant::<actions::AutoRotate>(s, proof)?;
            Ok(rotation::set_auto_schedule(
                s,
                Actor::Gui,
                g,
                &label,
                every_days,
            )?)
        }
        Some(false) => Ok(rotation::turn_auto_off(s, Actor::Gui, &label)?),
        None => Ok(rotation::auto_schedule(s, &label)?),
    })
}
