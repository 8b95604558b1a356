//! Automated incident steps, all three phases: plan under the session lock
//! (`store::plan`) → the exchange calls without it → record under the lock
//! again (`store::record`, one audited transaction).
//!
//! Owns: what each automated step does (revoke the affected keys, confirm
//! they are dead, snapshot their recent activity, plan the rotation of the
//! other keys on their exchanges, ask for the vault to be locked) and the
//! rule that a key's status alone never proves a revocation.
//!
//! Must never: hold the session across a network call, record a secret
//! (result lines and snapshots carry labels, masked key ids and what the
//! exchange reported), or take a key marked revoked by an edit as proof of
//! its death.

use super::store::{self, Recorded};
use super::{ActivitySnapshot, AffectedKey, AutoAction, IncidentError, IncidentView, StepState};
use crate::exchange::{Activity, ExchangeClient, RevocationCheck, Timestamp};
use crate::managed;
use crate::mfa::StepUpGrant;
use crate::mfa::actions::Revoke;
use crate::model::{Environment, Exchange, KeyStatus};
use crate::rotation::{self, RevokeOutcome};
use crate::vault::{Actor, Session, SessionAccess, VaultError};

/// The window of the activity snapshot.
const SNAPSHOT_SECS: i64 = 72 * 3600;

/// What one automated run ended with.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepRun {
    /// The step's new state.
    pub state: StepState,
    /// Per-key result lines, safe to show.
    pub results: Vec<String>,
    /// Exchange steps the user must do before running the step again
    /// (revocation on an exchange without an API for it).
    pub manual_steps: Vec<String>,
    /// The front end must lock the vault now (the `lock_vault` step).
    pub lock_requested: bool,
    /// The incident after the run.
    pub incident: IncidentView,
}

fn snapshot_from(key: &AffectedKey, now: i64, since: i64, a: Activity) -> ActivitySnapshot {
    ActivitySnapshot {
        label: key.label.clone(),
        masked_key_id: key.masked_key_id.clone(),
        exchange: key.exchange,
        taken_at: now,
        since,
        orders: a.orders,
        withdrawals: a.withdrawals,
        deposits: a.deposits,
        notes: a.notes,
        // Sources that could not be listed (the others are recorded).
        error: (!a.errors.is_empty()).then(|| {
            a.errors
                .iter()
                .map(|e| format!("{} not listed: {}", e.source, e.message))
                .collect::<Vec<_>>()
                .join("; ")
        }),
    }
}

/// The accounts an incident's inventory step lists: the exchange and
/// environment of each affected key (and each affected exchange without
/// one, on its main site), with the manager key of each, if any.
fn inventory_accounts(
    s: &mut Session,
    plan: &store::Plan,
) -> Result<Vec<(Exchange, Environment, Option<String>)>, VaultError> {
    let mut accounts: Vec<(Exchange, Environment)> = Vec::new();
    for key in &plan.keys {
        if let Ok(detail) = s.key_detail(&key.label) {
            let account = (detail.summary.exchange, detail.summary.environment);
            if !accounts.contains(&account) {
                accounts.push(account);
            }
        }
    }
    for exchange in &plan.exchanges {
        if !accounts.iter().any(|(e, _)| e == exchange) {
            accounts.push((*exchange, Environment::Mainnet));
        }
    }
    let mut out = Vec::with_capacity(accounts.len());
    for (exchange, environment) in accounts {
        let manager = managed::manager_for(s, exchange, &environment)?;
        out.push((exchange, environment, manager));
    }
    Ok(out)
}

/// Whether running `step` of incident `id` needs the `revoke` step-up: the
/// revoke step always, the inventory step when a manager key exists for
/// one of its accounts (without one it only says how to mark one). Both
/// front ends ask this before asking for a code.
pub fn step_needs_grant(
    session: &mut Session,
    id: &str,
    step: &str,
) -> Result<bool, IncidentError> {
    let plan = store::plan(session, id, step)?;
    Ok(match plan.action {
        AutoAction::Revoke => true,
        AutoAction::Inventory => inventory_accounts(session, &plan)?
            .iter()
            .any(|(_, _, manager)| manager.is_some()),
        _ => false,
    })
}

/// Runs an automated step, all three phases: plan under the session lock,
/// the exchange calls without it, the result recorded under it again (one
/// audited transaction). `grant` (`revoke`) is needed by the revoke step,
/// and by the inventory step when a manager key exists; one grant covers
/// every affected key, as `revoke --exchange --all` does. A failure is recorded as the step's `failed` state with its error
/// and can be retried; nothing else changes.
pub async fn run_step<S: SessionAccess>(
    mut access: S,
    client: &ExchangeClient,
    actor: Actor,
    id: &str,
    step: &str,
    grant: Option<StepUpGrant<Revoke>>,
    confirm_manual: bool,
) -> Result<StepRun, IncidentError> {
    let plan = access.with_session(|s| store::plan(s, id, step))?;
    let mut rec = Recorded {
        state: StepState::Done,
        results: Vec::new(),
        manual_steps: Vec::new(),
        error: None,
        snapshots: Vec::new(),
    };
    let mut lock_requested = false;
    let mut failed = Vec::new();
    match plan.action {
        AutoAction::Revoke => {
            let grant = grant.ok_or_else(|| IncidentError::StepUpRequired {
                step: plan.step.clone(),
            })?;
            let mut pending_manual = false;
            for key in &plan.keys {
                let status = access.with_session(|s| {
                    Ok::<_, VaultError>(s.key_detail(&key.label).map(|d| d.summary.status))
                })?;
                match status {
                    Ok(KeyStatus::Revoked) => {
                        // The status alone is no proof: an edit can set it.
                        match access.with_session(|s| revocation_proven(s, &key.id))? {
                            Some(at) => rec.results.push(format!(
                                "{}: revoked (proven by a live check on {})",
                                key.label,
                                Timestamp::from_unix_ms(at).to_rfc3339()
                            )),
                            None => failed.push(format!(
                                "{}: marked revoked in the vault, but no live check ever proved it (a status set by an edit is no proof); check on the exchange that the key is gone, then run \"confirm dead\"",
                                key.label
                            )),
                        }
                        continue;
                    }
                    Err(e) => {
                        failed.push(format!("{}: {e}", key.label));
                        continue;
                    }
                    Ok(_) => {}
                }
                // One proof for the batch: each key gets its own grant,
                // minted from the one the user gave for this step.
                let each = StepUpGrant::<Revoke>::new(grant.method(), grant.issued_at());
                let outcome = rotation::revoke_with(&mut access, client, actor, |s| {
                    rotation::prepare_key_revoke(s, each, &key.label, confirm_manual)
                })
                .await;
                match outcome {
                    Ok(RevokeOutcome::Revoked {
                        method,
                        confirmation,
                        left_live,
                        ..
                    }) => {
                        rec.results.push(format!(
                            "{}: revoked ({}), the exchange now answers {confirmation}",
                            key.label,
                            method.as_str()
                        ));
                        rec.results.extend(left_live);
                    }
                    Ok(RevokeOutcome::ManualStepsRequired { reason, steps, .. }) => {
                        pending_manual = true;
                        rec.results
                            .push(format!("{}: manual revocation needed: {reason}", key.label));
                        rec.manual_steps.extend(steps);
                    }
                    Ok(RevokeOutcome::StillActive { message, .. })
                    | Ok(RevokeOutcome::Failed { message, .. }) => {
                        failed.push(format!("{}: {message}", key.label));
                    }
                    Ok(RevokeOutcome::Inconclusive {
                        message,
                        check_by_hand,
                        ..
                    }) => {
                        failed.push(format!("{}: {message}", key.label));
                        rec.manual_steps.extend(check_by_hand);
                    }
                    Err(e) => failed.push(format!("{}: {e}", key.label)),
                }
            }
            if pending_manual && failed.is_empty() {
                rec.state = StepState::Pending;
                rec.manual_steps.push(
                    "then run this step again with the manual confirmation: Keyward checks live that the key is rejected".into(),
                );
            }
        }
        AutoAction::ConfirmDead | AutoAction::SnapshotActivity => {
            let now = access.with_session(|s| Ok::<_, VaultError>(s.now_secs()))?;
            let since = now - SNAPSHOT_SECS;
            for key in &plan.keys {
                let access_key = access.with_session(|s| {
                    Ok::<_, VaultError>(s.exchange_access(&key.label).map_err(|e| e.to_string()))
                })?;
                let access_key = match access_key {
                    Ok(a) => a,
                    Err(e) => {
                        failed.push(format!("{}: {e}", key.label));
                        if plan.action == AutoAction::SnapshotActivity {
                            let mut s = snapshot_from(key, now, since, empty_activity(key));
                            s.error = Some(e);
                            rec.snapshots.push(s);
                        }
                        continue;
                    }
                };
                let endpoint = match client.endpoint(access_key.exchange, &access_key.environment) {
                    Ok(e) => e,
                    Err(e) => {
                        failed.push(format!("{}: {e}", key.label));
                        continue;
                    }
                };
                if plan.action == AutoAction::ConfirmDead {
                    match endpoint.confirm_revoked(&access_key.credentials).await {
                        Ok(RevocationCheck::Confirmed { rejection }) => rec.results.push(format!(
                            "{}: dead, the exchange answers {} {}",
                            key.label, rejection.code, rejection.message
                        )),
                        Ok(RevocationCheck::StillActive) => failed.push(format!(
                            "{}: STILL WORKS, a live call with it was accepted",
                            key.label
                        )),
                        Ok(RevocationCheck::Inconclusive {
                            rejection,
                            why,
                            check_by_hand,
                        }) => {
                            // An ambiguous rejection of a key whose deletion
                            // was proven earlier (and not edited since) is
                            // consistent with that proof.
                            let proven = if rejection.reason.means_key_unusable() {
                                access.with_session(|s| revocation_proven(s, &key.id))?
                            } else {
                                None
                            };
                            match proven {
                                Some(at) => rec.results.push(format!(
                                    "{}: dead, the exchange answers {} {} (its deletion was proven by a live check on {})",
                                    key.label,
                                    rejection.code,
                                    rejection.message,
                                    Timestamp::from_unix_ms(at).to_rfc3339()
                                )),
                                None => {
                                    failed.push(format!(
                                        "{}: NOT PROVEN dead, the exchange answered {} {}, but {why}",
                                        key.label, rejection.code, rejection.message
                                    ));
                                    rec.manual_steps.extend(check_by_hand);
                                }
                            }
                        }
                        Err(e) => failed.push(format!("{}: {e}", key.label)),
                    }
                } else {
                    match endpoint
                        .recent_activity(&access_key.credentials, Timestamp::from_unix_secs(since))
                        .await
                    {
                        Ok(a) => {
                            let s = snapshot_from(key, now, since, a);
                            let n = s.orders.as_ref().map_or(0, Vec::len)
                                + s.withdrawals.as_ref().map_or(0, Vec::len)
                                + s.deposits.as_ref().map_or(0, Vec::len);
                            rec.results.push(match &s.error {
                                None => format!("{}: {n} activity item(s) recorded", key.label),
                                Some(e) => {
                                    format!("{}: {n} activity item(s) recorded; {e}", key.label)
                                }
                            });
                            rec.snapshots.push(s);
                        }
                        Err(e) => {
                            let mut s = snapshot_from(key, now, since, empty_activity(key));
                            s.error = Some(e.to_string());
                            rec.snapshots.push(s);
                            failed.push(format!("{}: {e}", key.label));
                        }
                    }
                }
            }
        }
        AutoAction::MarkRotation => {
            let outcome = access.with_session(|s| {
                let affected: Vec<&str> = plan.keys.iter().map(|k| k.id.as_str()).collect();
                let others: Vec<String> = s
                    .list_keys()?
                    .into_iter()
                    .filter(|k| {
                        plan.exchanges.contains(&k.exchange)
                            && !affected.contains(&k.id.as_str())
                            && k.status != KeyStatus::Revoked
                    })
                    .map(|k| k.label)
                    .collect();
                let mut lines = Vec::new();
                for label in others {
                    match rotation::begin(s, actor, &label) {
                        Ok(_) => lines.push(format!("{label}: rotation planned")),
                        Err(e) => lines.push(format!("{label}: not planned: {e}")),
                    }
                }
                if lines.is_empty() {
                    lines.push("no other keys on these exchanges".into());
                }
                Ok::<_, VaultError>(lines)
            })?;
            rec.results = outcome;
        }
        AutoAction::LockVault => {
            lock_requested = true;
            rec.results.push("the vault is locked now".into());
        }
        AutoAction::Inventory => {
            let accounts = access.with_session(|s| inventory_accounts(s, &plan))?;
            let needs = accounts.iter().any(|(_, _, m)| m.is_some());
            if needs && grant.is_none() {
                return Err(IncidentError::StepUpRequired {
                    step: plan.step.clone(),
                });
            }
            for (exchange, environment, manager) in accounts {
                if !crate::exchange::capabilities(exchange).manage_sub_keys {
                    rec.results.push(format!(
                        "{}: Keyward cannot list the account's keys through {}'s API; look for keys you did not make on its API page",
                        exchange.display_name(),
                        exchange.display_name()
                    ));
                    continue;
                }
                let (Some(manager), Some(grant)) = (manager, grant.as_ref()) else {
                    rec.results.push(format!(
                        "{}: no manager key, so Keyward cannot list the account's keys; mark the account's master key as its manager key (on the key's page in the desktop app, \"Manager key\", or with `keyward manager mark LABEL --totp CODE`), then run this step again",
                        exchange.display_name()
                    ));
                    continue;
                };
                let each = StepUpGrant::<Revoke>::new(grant.method(), grant.issued_at());
                match managed::inventory::inventory_through(
                    &mut access,
                    client,
                    actor,
                    each,
                    exchange,
                    &environment,
                )
                .await
                {
                    Ok(report) => rec.results.extend(inventory_lines(&report)),
                    Err(e) => failed.push(format!(
                        "{}: the inventory through {manager} failed: {e}",
                        exchange.display_name()
                    )),
                }
            }
        }
    }
    if !failed.is_empty() {
        rec.state = StepState::Failed;
        rec.error = Some(failed.join("; "));
        rec.results.extend(failed);
    }
    let state = rec.state;
    let results = rec.results.clone();
    let manual_steps = rec.manual_steps.clone();
    let incident = access.with_session(|s| store::record(s, actor, &plan, rec))?;
    Ok(StepRun {
        state,
        results,
        manual_steps,
        lock_requested,
        incident,
    })
}

/// The timeline lines of one account's inventory: every unknown key (a red
/// flag), the vault keys gone from the account, and the counts.
fn inventory_lines(report: &managed::InventoryReport) -> Vec<String> {
    let name = report.exchange.display_name();
    let mut lines = Vec::new();
    for e in &report.entries {
        let sub = e
            .sub_account
            .as_deref()
            .map(|s| format!(" on sub-account {s}"))
            .unwrap_or_default();
        match e.status {
            managed::InventoryStatus::Unknown => lines.push(format!(
                "{name}: UNKNOWN key {}{sub} (permissions: {}; IPs: {}) is not in the vault; delete it with `keyward inventory revoke {} KEY_ID`",
                e.key_id_masked,
                if e.permissions.is_empty() { "none listed".to_owned() } else { e.permissions.join(", ") },
                if e.ips.is_empty() { "any".to_owned() } else { e.ips.join(", ") },
                report.exchange.as_str(),
            )),
            managed::InventoryStatus::Missing => lines.push(format!(
                "{name}: {} ({}) is gone from the account",
                e.label.as_deref().unwrap_or("a key"),
                e.key_id_masked
            )),
            _ => {}
        }
    }
    let c = report.counts;
    lines.push(format!(
        "{name}: {} known, {} unknown, {} missing, {} not listed{}",
        c.known,
        c.unknown,
        c.missing,
        c.not_listed,
        if report.complete {
            String::new()
        } else {
            format!(" (the listing is incomplete: {})", report.notes.join("; "))
        }
    ));
    lines
}

/// When the key's deletion was proven by a live check (its `key_revoked`
/// audit entry), if nothing about the key was edited since. A key marked
/// revoked by an edit never counts.
fn revocation_proven(s: &mut Session, key_id: &str) -> Result<Option<i64>, VaultError> {
    use crate::audit::{Action as AuditAction, store::AuditFilter};
    let log = s.audit_log(&AuditFilter {
        key_id: Some(key_id.to_owned()),
        actions: vec![AuditAction::KeyRevoked, AuditAction::KeyEdited],
        ..AuditFilter::default()
    })?;
    let revoked = s
        .list_keys()?
        .iter()
        .any(|k| k.id == key_id && k.status == KeyStatus::Revoked);
    Ok(log
        .last()
        .filter(|e| revoked && e.action == AuditAction::KeyRevoked)
        .map(|e| e.time_ms))
}

fn empty_activity(key: &AffectedKey) -> Activity {
    Activity {
        exchange: key.exchange,
        since: Timestamp::from_unix_ms(0),
        orders: None,
        withdrawals: None,
        deposits: None,
        notes: Vec::new(),
        errors: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key without a live adapter keeps its own exchange in the activity
    /// an incident records for it (it was once labelled Binance).
    #[test]
    fn empty_activity_says_the_keys_own_exchange() {
        for name in ["kucoin", "bitget", "other", "okx"] {
            let key = AffectedKey {
                id: "id".into(),
                label: "k".into(),
                exchange: name.parse().unwrap(),
                masked_key_id: "****".into(),
            };
            let activity = empty_activity(&key);
            assert_eq!(activity.exchange.as_str(), name);
            let snapshot = snapshot_from(&key, 10, 0, activity);
            assert_eq!(snapshot.exchange.as_str(), name);
        }
    }
}
