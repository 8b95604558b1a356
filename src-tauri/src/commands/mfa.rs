//! MFA enrolment and the audit-log views.
//!
//! Enrolment is the one moment the TOTP seed crosses IPC (as the manual
//! base32 key and the QR code), together with the recovery codes, shown once.

use keyward_core::ErrorKind;
use keyward_core::audit::{self, store::AuditFilter};
use keyward_core::mfa::{OneTimeCode, actions};
use keyward_core::vault::{Actor, AuditReport};
use qrcode::QrCode;
use qrcode::render::svg;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use tauri::State;

use super::stepup::{ProofInput, grant};
use crate::error::{IpcError, IpcResult};
use crate::state::AppState;

/// MFA state for the settings page and the banner.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct MfaStatus {
    /// MFA is active.
    pub enrolled: bool,
    /// An enrolment awaits its confirmation code.
    pub pending: bool,
    /// Unused recovery codes.
    pub recovery_codes_left: usize,
    /// Unix seconds until which codes are refused after too many wrong ones.
    pub throttled_until: Option<u64>,
}

/// What the enrolment screen shows, once. No `Debug`.
#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(rename = "Enrolment"))]
pub struct EnrolmentDto {
    secret: String,
    otpauth_uri: String,
    qr_svg: String,
    recovery_codes: Vec<String>,
}

/// MFA status.
#[tauri::command]
pub fn mfa_status(state: State<'_, AppState>) -> IpcResult<MfaStatus> {
    let s = state.with_session(|s| s.mfa_status())?;
    Ok(MfaStatus {
        enrolled: s.enrolled,
        pending: s.pending,
        recovery_codes_left: s.recovery_codes_left,
        throttled_until: s.locked_until,
    })
}

/// Starts enrolment (a security setting: needs step-up — the master
/// password before MFA exists, a code to re-enrol). MFA becomes active only
/// after `mfa_confirm`.
#[tauri::command]
pub fn mfa_enroll(
    state: State<'_, AppState>,
    proof: Option<ProofInput>,
) -> IpcResult<EnrolmentDto> {
    let enrolment = state.with_unlocked(|s| {
        let enrolled = s.mfa_status()?.enrolled;
        let result = if enrolled {
            let g = grant::<actions::ReenrolMfa>(s, proof)?;
            s.mfa_reenrol(Actor::Gui, g)
        } else {
            let g = grant::<actions::SecuritySettings>(s, proof)?;
            s.mfa_enrol(Actor::Gui, g)
        };
        Ok(result?)
    })?;
    let uri = enrolment.otpauth_uri().expose_secret().to_string();
    let qr_svg = QrCode::new(uri.as_bytes())
        .map_err(|_| IpcError::new(ErrorKind::Internal, "could not draw the QR code"))?
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Ok(EnrolmentDto {
        secret: enrolment.secret_base32().expose_secret().to_string(),
        otpauth_uri: uri,
        qr_svg,
        recovery_codes: enrolment
            .recovery_codes()
            .iter()
            .map(|c| c.expose_secret().to_string())
            .collect(),
    })
}

/// Confirms a pending enrolment with a code from the app; MFA is then on.
#[tauri::command]
pub fn mfa_confirm(state: State<'_, AppState>, code: String) -> IpcResult<()> {
    let code = OneTimeCode::new(code);
    state.with_session(|s| s.mfa_confirm(Actor::Gui, &code))
}

/// Turns MFA off (needs a code).
#[tauri::command]
pub fn mfa_disable(state: State<'_, AppState>, proof: Option<ProofInput>) -> IpcResult<()> {
    state.with_unlocked(|s| {
        let g = grant::<actions::DisableMfa>(s, proof)?;
        Ok(s.mfa_disable(Actor::Gui, g)?)
    })
}

/// Audit-log filter from the activity page: a key label, and a category
/// (`audit_categories`) or one stored action name.
#[derive(Debug, Default, Deserialize)]
pub struct AuditFilterInput {
    key_label: Option<String>,
    category: Option<String>,
    action: Option<String>,
    limit: Option<u32>,
}

/// One audit entry as the activity page shows it (never a secret: the core
/// refuses secret-looking details). `sentence` is what a person reads
/// (`audit::describe`); the stored fields stay for the record.
#[derive(Debug, Serialize)]
pub struct AuditEntryDto {
    seq: u64,
    time_ms: i64,
    actor: &'static str,
    action: &'static str,
    category: &'static str,
    sentence: String,
    key_id: Option<String>,
    key_label: Option<String>,
    details: String,
}

/// A category of the activity filter.
#[derive(Debug, Serialize)]
pub struct AuditCategoryDto {
    id: &'static str,
    label: &'static str,
}

/// The categories the activity page filters on, with their labels.
#[tauri::command]
pub fn audit_categories() -> Vec<AuditCategoryDto> {
    audit::Category::ALL
        .iter()
        .map(|c| AuditCategoryDto {
            id: c.as_str(),
            label: c.label(),
        })
        .collect()
}

/// The audit log, newest last.
#[tauri::command]
pub fn audit_log(
    state: State<'_, AppState>,
    filter: AuditFilterInput,
) -> IpcResult<Vec<AuditEntryDto>> {
    let category = filter
        .category
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let action = filter
        .action
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty());
    let actions = match (category, action) {
        (_, Some(name)) => vec![audit::Action::from_name(name).ok_or_else(|| {
            IpcError::new(ErrorKind::Invalid, format!("unknown audit action {name:?}"))
        })?],
        (Some(name), None) => audit::Category::from_name(name)
            .ok_or_else(|| {
                IpcError::new(
                    ErrorKind::Invalid,
                    format!("unknown activity category {name:?}"),
                )
            })?
            .actions(),
        (None, None) => Vec::new(),
    };
    let query = match filter.key_label.filter(|l| !l.trim().is_empty()) {
        Some(label) => AuditFilter::for_label(label),
        None => AuditFilter::all(),
    }
    .with_actions(actions)
    .with_limit(filter.limit.unwrap_or(500).min(10_000));
    let entries = state.with_session(|s| s.audit_log(&query))?;
    Ok(entries
        .into_iter()
        .map(|e| AuditEntryDto {
            sentence: audit::describe(&e),
            category: e.action.category().as_str(),
            seq: e.seq,
            time_ms: e.time_ms,
            actor: e.actor.as_str(),
            action: e.action.as_str(),
            key_id: e.key_id,
            key_label: e.key_label,
            details: e.details,
        })
        .collect())
}

/// Verifies the whole chain and the sealed head now.
#[tauri::command]
pub fn audit_verify(state: State<'_, AppState>) -> IpcResult<AuditReport> {
    state.with_session(|s| s.verify_audit())
}
