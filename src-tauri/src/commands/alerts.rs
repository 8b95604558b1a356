//! Alert settings: the webhook (never sent back to the webview: only its
//! kind, host and a masked form), which events go to it, the background
//! audit schedule, and a test message. Changes are security settings
//! (step-up: SecuritySettings), decided and audited by the core.

use keyward_core::KindedError;
use keyward_core::alerts::webhook::{WebhookKind, WebhookUrl};
use keyward_core::mfa::actions;
use keyward_core::vault::{
    Actor, AlertSettings, AuditSchedule, EventSwitches, VaultError, send_test_alert,
};
use serde::Deserialize;
use tauri::State;
use zeroize::Zeroizing;

use super::stepup::{ProofInput, grant};
use crate::error::{IpcError, IpcResult};
use crate::state::AppState;

fn err(e: &impl KindedError) -> IpcError {
    IpcError::from_core(e)
}

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
    let url = WebhookUrl::parse(&raw).map_err(|e| err(&e))?;
    let kind = webhook
        .kind
        .filter(|k| !k.is_empty())
        .map(|k| k.parse::<WebhookKind>())
        .transpose()
        .map_err(|e| err(&e))?;
    state.with_unlocked(|s| {
        let g = grant::<actions::SecuritySettings>(s, proof)?;
        s.set_webhook(Actor::Gui, g, &url, kind, None)
            .map_err(|e| err(&e))
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
        s.remove_webhook(Actor::Gui, g)
            .and_then(|()| s.alert_settings())
            .map_err(|e| err(&e))
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
    let schedule = background_audit
        .parse::<AuditSchedule>()
        .map_err(|e: VaultError| err(&e))?;
    state.with_unlocked(|s| {
        let g = grant::<actions::SecuritySettings>(s, proof)?;
        s.set_alert_options(Actor::Gui, g, schedule, events)
            .map_err(|e| err(&e))
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
    send_test_alert(&*state.session, &sender, Actor::Gui)
        .await
        .map_err(|e| err(&e))
}
