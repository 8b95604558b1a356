//! The automated schedule: `keys.auto_rotate` with the key's rotation
//! period. Turning it on is gated ([`AutoRotate`]: it lets Keyward use the
//! manager key for this key); turning it off is not. A due key is rotated
//! only under a grant the caller holds now ([`rotate_due_auto`]); without
//! one, the run notifies instead ([`notify_due_auto`]: an
//! `auto_rotation_needs_step_up` audit entry, at most once a day per key,
//! which front ends also show or send as a notification).
//!
//! Must never: rotate without a grant, or turn the schedule on without one.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{AutoOutcome, manager_label, run_auto};
use crate::audit::{Action, Details, Event};
use crate::deploy::SshOptions;
use crate::exchange::ExchangeClient;
use crate::mfa::StepUpGrant;
use crate::mfa::actions::AutoRotate;
use crate::model::{KeyStatus, validate};
use crate::rotation::RotationError;
use crate::rotation::policy;
use crate::rotation::store::{rows, uuid_string};
use crate::vault::{self, Actor, Session, SessionAccess};

/// How often a due key is notified about at most.
const NOTIFY_EVERY_SECS: i64 = 86_400;

/// A key's automated-rotation schedule.
#[derive(Debug, Clone, Serialize)]
pub struct AutoSchedule {
    /// The key's label.
    pub label: String,
    /// Whether Keyward rotates it on schedule through the manager key.
    pub auto_rotate: bool,
    /// The key's own period in days (`None`: the vault's default).
    pub rotate_every_days: Option<u32>,
    /// When it is due (unix seconds).
    pub due_at: i64,
    /// The manager key that would be used, if one is in the vault.
    pub manager: Option<String>,
    /// The sub-account holding the key, once known.
    pub sub_account: Option<String>,
}

/// A key of the automated schedule that is due (or has an open rotation).
#[derive(Debug, Clone, Serialize)]
pub struct DueAuto {
    /// The key's label.
    pub label: String,
    /// When it was due (unix seconds).
    pub due_at: i64,
    /// Whether a rotation of it is already open (a run continues it).
    pub open: bool,
}

/// The key's schedule.
pub fn auto_schedule(session: &mut Session, label: &str) -> Result<AutoSchedule, RotationError> {
    session.vault_key()?;
    let detail = session.key_detail(label)?;
    let key_id = session.find_id(label)?;
    let (auto, sub_account): (i64, Option<String>) = session.conn().query_row(
        "SELECT auto_rotate, sub_account FROM keys WHERE id = ?1",
        params![&key_id[..]],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let manager = manager_label(
        session,
        detail.summary.exchange,
        &detail.summary.environment,
    )?;
    Ok(AutoSchedule {
        label: label.to_owned(),
        auto_rotate: auto != 0,
        rotate_every_days: detail.rotate_every_days_override,
        due_at: detail.summary.rotation_due_at,
        manager,
        sub_account,
    })
}

fn write_schedule(
    session: &mut Session,
    actor: Actor,
    grant: Option<crate::mfa::ProofMethod>,
    label: &str,
    auto: bool,
    every_days: Option<u32>,
) -> Result<AutoSchedule, RotationError> {
    let key_id = session.find_id(label)?;
    let mut fields = vec!["auto_rotate"];
    if every_days.is_some() {
        fields.push("rotate_every_days");
    }
    let event = Event::new(Action::KeyEdited)
        .with_key(uuid_string(&key_id), label.to_owned())
        .with_details(
            Details::new()
                .with("fields", fields)
                .with("auto_rotate", auto),
        );
    session.write_events(
        actor,
        grant,
        |_| vec![event],
        |tx, sealer| {
            match every_days {
                Some(days) => vault::update_key_row(
                    tx,
                    sealer,
                    &key_id,
                    "UPDATE keys SET auto_rotate = ?2, rotate_every_days = ?3 WHERE id = ?1",
                    params![&key_id[..], i64::from(auto), days],
                )?,
                None => vault::update_key_row(
                    tx,
                    sealer,
                    &key_id,
                    "UPDATE keys SET auto_rotate = ?2 WHERE id = ?1",
                    params![&key_id[..], i64::from(auto)],
                )?,
            };
            Ok(())
        },
    )?;
    auto_schedule(session, label)
}

/// Turns the automated schedule on for `label` (gated: it lets Keyward use
/// the manager key for this key unattended), with its own period when
/// `every_days` is given. Refused without a manager key for the key's
/// exchange and environment, for the manager key itself and for revoked
/// keys.
pub fn set_auto_schedule(
    session: &mut Session,
    actor: Actor,
    grant: StepUpGrant<AutoRotate>,
    label: &str,
    every_days: Option<u32>,
) -> Result<AutoSchedule, RotationError> {
    if let Some(days) = every_days {
        validate::rotation_days(days)?;
    }
    let target = super::target(session, label)?;
    if manager_label(session, target.exchange, &target.environment)?.is_none() {
        return Err(RotationError::NoManagerKey {
            label: label.to_owned(),
            exchange: target.exchange,
        });
    }
    write_schedule(
        session,
        actor,
        Some(grant.method()),
        label,
        true,
        every_days,
    )
}

/// Turns the automated schedule off (not gated: it takes power away); the
/// period stays, so reminders go on.
pub fn turn_auto_off(
    session: &mut Session,
    actor: Actor,
    label: &str,
) -> Result<AutoSchedule, RotationError> {
    session.vault_key()?;
    write_schedule(session, actor, None, label, false, None)
}

/// The keys on the automated schedule that are due now (the session's
/// clock), or whose rotation is open, in label order.
pub fn due_auto(session: &mut Session) -> Result<Vec<DueAuto>, RotationError> {
    session.vault_key()?;
    let now = session.now_secs();
    let auto: Vec<String> = {
        let mut stmt = session
            .conn()
            .prepare("SELECT label FROM keys WHERE auto_rotate = 1 ORDER BY label")?;
        let mapped = stmt.query_map([], |r| r.get(0))?;
        mapped.collect::<Result<_, _>>()?
    };
    if auto.is_empty() {
        return Ok(Vec::new());
    }
    let summaries = session.list_keys()?;
    let mut out = Vec::new();
    for label in auto {
        let Some(summary) = summaries.iter().find(|k| k.label == label) else {
            continue;
        };
        if summary.status == KeyStatus::Revoked {
            continue;
        }
        let key_id = session.find_id(&label)?;
        let open = rows(session, &key_id)?.iter().any(|r| r.state.is_open());
        if open || policy::is_overdue(summary, now) {
            out.push(DueAuto {
                label,
                due_at: summary.rotation_due_at,
                open,
            });
        }
    }
    Ok(out)
}

/// For a run without a grant (cron without `--totp`, the desktop's
/// background pass): records `auto_rotation_needs_step_up` for each due key
/// not notified in the last day, and returns those. Nothing is rotated.
pub fn notify_due_auto(session: &mut Session, actor: Actor) -> Result<Vec<DueAuto>, RotationError> {
    let due = due_auto(session)?;
    let now = session.now_secs();
    let mut notified = Vec::new();
    for item in due {
        let key_id = uuid_string(&session.find_id(&item.label)?);
        let last: Option<i64> = session
            .conn()
            .query_row(
                "SELECT MAX(time_ms) FROM audit_log WHERE action = ?1 AND key_id = ?2",
                params![Action::AutoRotationNeedsStepUp.as_str(), key_id],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        if last.is_some_and(|ms| now.saturating_mul(1000) - ms < NOTIFY_EVERY_SECS * 1000) {
            continue;
        }
        let event = Event::new(Action::AutoRotationNeedsStepUp)
            .with_key(key_id, item.label.clone())
            .with_details(Details::new().with("due_at", item.due_at));
        session.write_events(actor, None, |_| vec![event], |_, _| Ok(()))?;
        notified.push(item);
    }
    Ok(notified)
}

/// Rotates every due key of the automated schedule under one grant (the
/// step-up the person running it passed now), one outcome per key in label
/// order; a failure is that key's outcome and the run goes on.
pub async fn rotate_due_auto<S: SessionAccess>(
    mut access: S,
    client: &ExchangeClient,
    ssh: &SshOptions,
    actor: Actor,
    grant: StepUpGrant<AutoRotate>,
) -> Result<Vec<(String, Result<AutoOutcome, RotationError>)>, RotationError> {
    let proof = grant.method();
    let due = access.with_session(due_auto)?;
    let mut out = Vec::with_capacity(due.len());
    for item in due {
        let result = run_auto(&mut access, client, ssh, actor, proof, &item.label).await;
        out.push((item.label, result));
    }
    Ok(out)
}
