//! The desktop's background audit: every key checked live on the schedule
//! the alert settings hold, its summary stored for the settings screen
//! (schedule and last run are alerts' records: `Session::background_audit_due`
//! and `record_background_audit`).
//!
//! Must never: count as activity (nobody is at the keyboard), check a key
//! whose custom host was never confirmed ([`CheckSelection::Unattended`]),
//! or hold the session across the network calls.

use std::sync::Mutex;

use super::{CheckSelection, check_phases};
use crate::alerts::BackgroundAuditRun;
use crate::exchange::ExchangeClient;
use crate::model::CheckStatus;
use crate::vault::{Actor, Quiet, Session, SessionAccess, VaultError};

/// The background audit for the desktop: if due, checks every key live
/// (three phases, session lock released for the network), stores the
/// results (each audited, each critical finding queued for the webhook)
/// and the run's summary. `None` when not due or locked. Nothing here
/// counts as activity.
pub async fn background_audit(
    slot: &Mutex<Option<Session>>,
    client: &ExchangeClient,
    now: i64,
) -> Result<Option<BackgroundAuditRun>, VaultError> {
    let mut quiet = Quiet(slot);
    if !quiet.with_session(|s| s.background_audit_due(now))? {
        return Ok(None);
    }
    // A failure to store the results is reported in the run's summary,
    // which is stored all the same.
    let (results, stored) = check_phases(
        &mut quiet,
        client,
        &CheckSelection::Unattended,
        |s, results| {
            let stored = s.record_checks(Actor::System, &results);
            Ok::<_, VaultError>((results, stored))
        },
    )
    .await?;
    let run = BackgroundAuditRun {
        at: now,
        checked: results
            .iter()
            .filter(|r| r.status != CheckStatus::NotSupported)
            .count(),
        failed: results.iter().filter(|r| r.failed()).count(),
        critical: results
            .iter()
            .filter(|r| r.status == CheckStatus::Critical)
            .count(),
        error: stored.as_ref().err().map(|e| e.to_string()),
    };
    quiet.with_session(|s| s.record_background_audit(&run))?;
    stored?;
    Ok(Some(run))
}
