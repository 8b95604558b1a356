//! Incident response: playbooks, the guided checklist, automated steps and
//! the report.
//!
//! Automated steps run the core's three phases (plan under the session lock,
//! exchange calls without it, record under it). A revoke step needs the
//! Revoke step-up grant; the webview first asks without proof and the core
//! refuses, then the step-up dialog supplies it. Reports are written only to
//! the vault's own `reports/` folder, never to a path the webview chooses.

use keyward_core::ErrorKind;
use keyward_core::files;
use keyward_core::incident::{
    self, IncidentSummary, IncidentView, PlaybookSummary, Situation, StepRun, report,
};
use keyward_core::mfa::actions;
use keyward_core::model::Exchange;
use keyward_core::vault::Actor;
use serde::Serialize;
use tauri::State;

use super::brand::Branded;
use super::stepup::{ProofInput, grant};
use crate::error::{IpcError, IpcResult};
use crate::state::AppState;

/// The situations Keyward has a playbook for.
#[tauri::command]
pub fn incident_playbooks() -> IpcResult<Vec<PlaybookSummary>> {
    Ok(incident::playbooks()?)
}

/// Opens an incident for `situation` and the affected keys.
#[tauri::command]
pub fn incident_open(
    state: State<'_, AppState>,
    situation: Situation,
    labels: Vec<String>,
    exchange: Option<String>,
) -> IpcResult<Branded<IncidentView>> {
    let exchange = exchange
        .filter(|e| !e.is_empty())
        .map(|e| {
            e.parse::<Exchange>()
                .map_err(|v| IpcError::new(ErrorKind::Invalid, v.to_string()))
        })
        .transpose()?;
    let view = state
        .with_unlocked(|s| Ok(incident::open(s, Actor::Gui, situation, &labels, exchange)?))?;
    // Committed: the webhook alert (if any) goes out in the background.
    crate::alerts::deliver_soon(state.session.clone(), state.webhook_sender());
    Ok(Branded(view))
}

/// Every incident, newest first.
#[tauri::command]
pub fn incident_list(state: State<'_, AppState>) -> IpcResult<Vec<IncidentSummary>> {
    state.with_unlocked(|s| Ok(incident::list(s)?))
}

/// One incident with its steps, timeline and snapshots.
#[tauri::command]
pub fn incident_view(state: State<'_, AppState>, id: String) -> IpcResult<Branded<IncidentView>> {
    state
        .with_unlocked(|s| Ok(incident::view(s, &id)?))
        .map(Branded)
}

/// Marks a manual or evidence step done, with an optional note.
#[tauri::command]
pub fn incident_step_done(
    state: State<'_, AppState>,
    id: String,
    step: String,
    note: Option<String>,
) -> IpcResult<Branded<IncidentView>> {
    state
        .with_unlocked(|s| {
            Ok(incident::step_done(
                s,
                Actor::Gui,
                &id,
                &step,
                note.as_deref().filter(|n| !n.is_empty()),
            )?)
        })
        .map(Branded)
}

/// Skips a step; a reason is required.
#[tauri::command]
pub fn incident_step_skip(
    state: State<'_, AppState>,
    id: String,
    step: String,
    reason: String,
) -> IpcResult<Branded<IncidentView>> {
    state
        .with_unlocked(|s| Ok(incident::step_skip(s, Actor::Gui, &id, &step, &reason)?))
        .map(Branded)
}

/// Adds a note to the timeline.
#[tauri::command]
pub fn incident_note(
    state: State<'_, AppState>,
    id: String,
    text: String,
) -> IpcResult<Branded<IncidentView>> {
    state
        .with_unlocked(|s| Ok(incident::note(s, Actor::Gui, &id, &text, None)?))
        .map(Branded)
}

/// Closes an incident (refused while a step is unresolved).
#[tauri::command]
pub fn incident_close(state: State<'_, AppState>, id: String) -> IpcResult<Branded<IncidentView>> {
    state
        .with_unlocked(|s| Ok(incident::close(s, Actor::Gui, &id)?))
        .map(Branded)
}

/// Runs an automated step. With `proof`, a Revoke grant is obtained first.
/// A "lock the vault" step locks the session here.
#[tauri::command]
pub async fn incident_run(
    state: State<'_, AppState>,
    id: String,
    step: String,
    proof: Option<ProofInput>,
    confirm_manual: bool,
) -> IpcResult<Branded<StepRun>> {
    let g = match proof {
        Some(p) => Some(state.with_unlocked(|s| grant::<actions::Revoke>(s, Some(p)))?),
        None => None,
    };
    let client = state.exchange_client()?;
    let run = incident::run_step(
        &*state.session,
        &client,
        Actor::Gui,
        &id,
        &step,
        g,
        confirm_manual,
    )
    .await?;
    if run.lock_requested {
        state.lock();
    }
    Ok(Branded(run))
}

/// A report, for preview.
#[derive(Debug, Serialize)]
pub struct ReportDto {
    markdown: String,
}

/// The Markdown report, for the preview.
#[tauri::command]
pub fn incident_report(state: State<'_, AppState>, id: String) -> IpcResult<ReportDto> {
    let view = state.with_unlocked(|s| Ok(incident::view(s, &id)?))?;
    Ok(ReportDto {
        markdown: report::markdown(&view),
    })
}

/// Writes the report as Markdown and as self-contained HTML into the
/// vault's `reports/` folder and returns the two paths.
#[tauri::command]
pub fn incident_export(state: State<'_, AppState>, id: String) -> IpcResult<Vec<String>> {
    let view = state.with_unlocked(|s| Ok(incident::view(s, &id)?))?;
    let dir = state
        .path()?
        .parent()
        .map(|p| p.join("reports"))
        .ok_or_else(|| IpcError::new(ErrorKind::Internal, "no folder for reports"))?;
    // The app's own folder: a new export of the same incident replaces the
    // last one, but never through a link, and every file is 0600.
    files::create_private_dir(&dir)?;
    let stem = format!("incident-{}", view.id.chars().take(8).collect::<String>());
    let md = dir.join(format!("{stem}.md"));
    let html = dir.join(format!("{stem}.html"));
    for (path, text) in [(&md, report::markdown(&view)), (&html, report::html(&view))] {
        files::write_private(path, text.as_bytes(), files::Overwrite::Replace)?;
    }
    Ok(vec![md.display().to_string(), html.display().to_string()])
}
