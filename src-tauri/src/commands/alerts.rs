//! Alert settings: the webhook (never sent back to the webview: only its
//! kind, host and a masked form), which events go to it, the background
//! audit schedule, and a test message. Changes are security settings
//! (step-up: SecuritySettings), decided and audited by the core.

use keyward_core::alerts::webhook::{WebhookKind, WebhookUrl};
use keyward_core::alerts::{AlertSettings, AuditSchedule, EventSwitches, send_test_alert};
use keyward_core::mfa::actions;
use keyward_core::vault::Actor;
use serde::Deserialize;
use tauri::State;
use zeroize::Zeroizing;

use super::stepup::{ProofInput, grant};
use crate::error::{IpcError, IpcResult};
use crate::state::AppState;

/// The alert settings (no URL).
#[tauri::command]
pub fn alerts_get(state: State<'_, AppState>) -> IpcResult<AlertSettings> {
    state.with_session(|s| s.alert_settings())
}

/// The webhook form. No `Debug`: it holds the URL.
#[derive(Deserialize)]
pub struct WebhookInput {
    url: String,
    kind: Option<String>,
}

/// Sets the webhook (step-up: SecuritySettings).
#[tauri::command]
pub fn alerts_set_webhook(
    state: State<'_, AppState>,
    webhook: WebhookInput,
    proof: Option<ProofInput>,
) -> IpcResult<AlertSettings> {
    let raw = Zeroizing::new(webhook.url);
    let url = WebhookUrl::parse(&raw)?;
    let kind = webhook
        .kind
        .filter(|k| !k.is_empty())
        .map(|k| k.parse::<WebhookKind>())
        .transpose()?;
    state.with_unlocked(|s| {
        let g = grant::<actions::SecuritySettings>(s, proof)?;
        Ok(s.set_webhook(Actor::Gui, g, &url, kind, None)?)
    })
}

/// Removes the webhook (step-up: SecuritySettings).
#[tauri::command]
pub fn alerts_remove_webhook(
    state: State<'_, AppState>,
    proof: Option<ProofInput>,
) -> IpcResult<AlertSettings> {
    state.with_unlocked(|s| {
        let g = grant::<actions::SecuritySettings>(s, proof)?;
        s.remove_webhook(Actor::Gui, g)?;
        Ok(s.alert_settings()?)
    })
}

/// Background-audit schedule and event switches (step-up:
/// SecuritySettings).
#[tauri::command]
pub fn alerts_set_options(
    state: State<'_, AppState>,
    background_audit: String,
    events: EventSwitches,
    proof: Option<ProofInput>,
) -> IpcResult<AlertSettings> {
    let schedule = background_audit.parse::<AuditSchedule>()?;
    state.with_unlocked(|s| {
        let g = grant::<actions::SecuritySettings>(s, proof)?;
        Ok(s.set_alert_options(Actor::Gui, g, schedule, events)?)
    })
}

/// Sends a test message through the configured webhook (audited).
#[tauri::command]
pub async fn alerts_test(state: State<'_, AppState>) -> IpcResult<()> {
    let sender = state.webhook_sender().ok_or_else(|| {
        IpcError::new(
            keyward_core::ErrorKind::Internal,
            "the HTTP client could not be set up",
        )
    })?;
    Ok(send_test_alert(&*state.session, &sender, Actor::Gui).await?)
}
