//! Incidents' side of the vault: the records and every change to them.
//!
//! Owns: the rows of `incidents`, `incident_steps`, `incident_events` (the
//! timeline: every change, every note) and `incident_snapshots` (activity
//! recorded by the snapshot step), one transaction per change through the
//! vault's write path with its audit entry, and the plan and record phases
//! of an automated step (the network phase is in `run`). The tables are
//! created by the vault's frozen migration 5 → 6; the vault does not know
//! this module: incidents import the vault, never the other way round.
//!
//! Must never: store or show a secret (affected keys are stored as id,
//! label, exchange and masked key id; snapshots hold what the exchange
//! reported about orders and transfers), or close an incident with a step
//! neither done nor skipped.

use std::path::Path;

use rusqlite::{OptionalExtension, params};

use super::{
    ActivitySnapshot, AffectedKey, AutoAction, IncidentError, IncidentSummary, IncidentView,
    Instruction, Progress, Situation, StepKind, StepState, StepView, TimelineEntry, catalogue,
};
use crate::audit::{self, Details, Event};
use crate::model::{Exchange, mask_key_id};
use crate::vault::{self, Actor, IncidentOpened, KernelEvent, OpenedKey, Session, VaultError};

fn uuid_string(id: &[u8; 16]) -> String {
    uuid::Uuid::from_bytes(*id).to_string()
}

fn json_err(e: serde_json::Error) -> IncidentError {
    IncidentError::Invalid {
        message: format!("stored incident data is malformed: {e}"),
    }
}

/// An automated step about to run: what the plan phase read under the
/// session lock.
pub(super) struct Plan {
    /// The incident.
    pub id: [u8; 16],
    /// The step id.
    pub step: String,
    /// What the step does.
    pub action: AutoAction,
    /// The incident's affected keys.
    pub keys: Vec<AffectedKey>,
    /// The incident's exchanges.
    pub exchanges: Vec<Exchange>,
}

/// What the network phase of a step found, to record.
pub(super) struct Recorded {
    /// The step's new state.
    pub state: StepState,
    /// Per-key result lines.
    pub results: Vec<String>,
    /// Exchange steps left to the user.
    pub manual_steps: Vec<String>,
    /// Why the step failed, if it did.
    pub error: Option<String>,
    /// Activity recorded by the snapshot step.
    pub snapshots: Vec<ActivitySnapshot>,
}

fn find_id(session: &mut Session, id: &str) -> Result<[u8; 16], IncidentError> {
    session.touch()?;
    let id = id.trim().to_ascii_lowercase();
    let not_found = || IncidentError::NotFound { id: id.clone() };
    if id.len() < 4 {
        return Err(not_found());
    }
    let mut stmt = session.conn().prepare("SELECT id FROM incidents")?;
    let ids: Vec<Vec<u8>> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()
        .map_err(VaultError::from)?;
    let found: Vec<[u8; 16]> = ids
        .into_iter()
        .filter_map(|b| <[u8; 16]>::try_from(b).ok())
        .filter(|b| uuid_string(b).starts_with(&id))
        .collect();
    match found.as_slice() {
        [one] => Ok(*one),
        _ => Err(not_found()),
    }
}

/// Opens an incident for `situation` on the keys `labels` (and/or every
/// exchange in `exchange`): its steps come from the playbook, all
/// pending. At least one key or an exchange is needed.
pub fn open(
    session: &mut Session,
    actor: Actor,
    situation: Situation,
    labels: &[String],
    exchange: Option<Exchange>,
) -> Result<IncidentView, IncidentError> {
    let cat = catalogue()?;
    let playbook = cat
        .playbook(situation)
        .ok_or_else(|| IncidentError::Invalid {
            message: format!("no playbook for {}", situation.as_str()),
        })?;
    if labels.is_empty() && exchange.is_none() {
        return Err(IncidentError::Invalid {
            message: "name at least one affected key or an exchange".into(),
        });
    }
    let mut keys = Vec::new();
    // (label, exchange, public API key id) of each key, for the
    // `IncidentOpened` event.
    let mut opened_keys: Vec<(String, Exchange, String)> = Vec::new();
    for label in labels {
        let d = session.key_detail(label)?;
        if keys.iter().any(|k: &AffectedKey| k.id == d.summary.id) {
            continue;
        }
        opened_keys.push((
            d.summary.label.clone(),
            d.summary.exchange,
            d.api_key_id.clone(),
        ));
        keys.push(AffectedKey {
            id: d.summary.id.clone(),
            label: d.summary.label.clone(),
            exchange: d.summary.exchange,
            masked_key_id: mask_key_id(&d.api_key_id),
        });
    }
    let mut exchanges: Vec<Exchange> = keys.iter().map(|k| k.exchange).collect();
    exchanges.extend(exchange);
    exchanges.sort_by_key(|e| e.as_str());
    exchanges.dedup();
    let id = *uuid::Uuid::new_v4().as_bytes();
    let now = session.now_secs();
    let keys_json = serde_json::to_string(&keys).map_err(json_err)?;
    let ex_json = serde_json::to_string(&exchanges.iter().map(|e| e.as_str()).collect::<Vec<_>>())
        .map_err(json_err)?;
    let steps: Vec<(usize, String, Vec<Instruction>)> = playbook
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let instr = s
                .task
                .as_deref()
                .map(|t| {
                    exchanges
                        .iter()
                        .filter_map(|e| {
                            cat.task_text(t, *e).map(|text| Instruction {
                                exchange: *e,
                                text: text.to_owned(),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            (i, s.id.clone(), instr)
        })
        .collect();
    let summary = format!(
        "opened for {} key(s): {}",
        keys.len(),
        keys.iter()
            .map(|k| k.label.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let version = cat.version;
    let event_keys: Vec<OpenedKey<'_>> = opened_keys
        .iter()
        .map(|(label, exchange, api_key_id)| OpenedKey {
            label,
            exchange: *exchange,
            api_key_id,
        })
        .collect();
    let opened = KernelEvent::IncidentOpened(IncidentOpened {
        keys: &event_keys,
        exchanges: &exchanges,
        situation: &playbook.title,
        at: now,
    });
    session.write(
        actor,
        |_| incident_event(uuid_string(&id), "opened", None),
        |tx, sealer| {
            tx.execute(
                "INSERT INTO incidents (id, situation, playbook_version, state, opened_at,
                    exchanges, keys) VALUES (?1, ?2, ?3, 'open', ?4, ?5, ?6)",
                params![
                    &id[..],
                    situation.as_str(),
                    version,
                    now,
                    ex_json,
                    keys_json
                ],
            )?;
            for (pos, step, instr) in &steps {
                let instr = serde_json::to_string(
                    &instr
                        .iter()
                        .map(|i| (i.exchange.as_str(), i.text.clone()))
                        .collect::<Vec<_>>(),
                )
                .unwrap_or_else(|_| "[]".into());
                tx.execute(
                    "INSERT INTO incident_steps (incident_id, position, step_id, state,
                        instructions) VALUES (?1, ?2, ?3, 'pending', ?4)",
                    params![&id[..], *pos as i64, step, instr],
                )?;
            }
            add_event(tx, &id, now, "opened", None, &summary, None)?;
            // Heard in this transaction by whoever listens (alerts queues
            // its webhook event, sent after commit).
            vault::raise(tx, sealer, &opened)?;
            Ok(())
        },
    )?;
    view_by(session, &id)
}

/// Every incident, newest first.
pub fn list(session: &mut Session) -> Result<Vec<IncidentSummary>, IncidentError> {
    session.touch()?;
    let mut stmt = session
        .conn()
        .prepare("SELECT id FROM incidents ORDER BY opened_at DESC, rowid DESC")?;
    let ids: Vec<Vec<u8>> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()
        .map_err(VaultError::from)?;
    drop(stmt);
    let mut out = Vec::new();
    for id in ids.into_iter().filter_map(|b| <[u8; 16]>::try_from(b).ok()) {
        let v = view_by(session, &id)?;
        out.push(IncidentSummary {
            id: v.id,
            situation: v.situation,
            state: v.state,
            opened_at: v.opened_at,
            closed_at: v.closed_at,
            keys: v.keys.into_iter().map(|k| k.label).collect(),
            progress: v.progress,
        });
    }
    Ok(out)
}

/// One incident (id or a unique prefix of at least 4 characters).
pub fn view(session: &mut Session, id: &str) -> Result<IncidentView, IncidentError> {
    let id = find_id(session, id)?;
    view_by(session, &id)
}

fn view_by(session: &mut Session, id: &[u8; 16]) -> Result<IncidentView, IncidentError> {
    let cat = catalogue()?;
    let conn = session.conn();
    let row = conn
        .query_row(
            "SELECT situation, playbook_version, state, opened_at, closed_at, exchanges, keys
             FROM incidents WHERE id = ?1",
            params![&id[..]],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                ))
            },
        )
        .optional()
        .map_err(VaultError::from)?
        .ok_or_else(|| IncidentError::NotFound {
            id: uuid_string(id),
        })?;
    let situation = Situation::parse(&row.0).ok_or_else(|| IncidentError::Invalid {
        message: format!("unknown situation {}", row.0),
    })?;
    let playbook = cat
        .playbook(situation)
        .ok_or_else(|| IncidentError::Invalid {
            message: format!("no playbook for {}", row.0),
        })?;
    let mut stmt = conn.prepare(
        "SELECT step_id, state, updated_at, note, reason, error, results, instructions
         FROM incident_steps WHERE incident_id = ?1 ORDER BY position",
    )?;
    type StepRow = (
        String,
        String,
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
        String,
    );
    let rows: Vec<StepRow> = stmt
        .query_map(params![&id[..]], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })?
        .collect::<Result<_, _>>()
        .map_err(VaultError::from)?;
    let mut steps = Vec::new();
    for (sid, state, updated_at, note, reason, error, results, instr) in rows {
        let def = playbook.steps.iter().find(|s| s.id == sid);
        let instructions: Vec<(String, String)> = serde_json::from_str(&instr).map_err(json_err)?;
        steps.push(StepView {
            kind: def.map_or(StepKind::Manual, |d| d.kind),
            action: def.and_then(|d| d.action),
            title: def.map_or_else(|| sid.clone(), |d| d.title.clone()),
            text: def.map(|d| d.text.clone()).unwrap_or_default(),
            instructions: instructions
                .into_iter()
                .map(|(exchange, text)| Instruction {
                    exchange: exchange.parse().unwrap_or(Exchange::Other),
                    text,
                })
                .collect(),
            state: StepState::parse(&state).unwrap_or(StepState::Pending),
            updated_at,
            note,
            reason,
            error,
            results: serde_json::from_str(&results).map_err(json_err)?,
            id: sid,
        });
    }
    let mut stmt = conn.prepare(
        "SELECT at, event, step_id, text, attachment FROM incident_events
         WHERE incident_id = ?1 ORDER BY seq",
    )?;
    let timeline: Vec<TimelineEntry> = stmt
        .query_map(params![&id[..]], |r| {
            Ok(TimelineEntry {
                at: r.get(0)?,
                event: r.get(1)?,
                step: r.get(2)?,
                text: r.get(3)?,
                attachment: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()
        .map_err(VaultError::from)?;
    let mut stmt = conn
        .prepare("SELECT snapshot FROM incident_snapshots WHERE incident_id = ?1 ORDER BY rowid")?;
    let raw: Vec<String> = stmt
        .query_map(params![&id[..]], |r| r.get(0))?
        .collect::<Result<_, _>>()
        .map_err(VaultError::from)?;
    let snapshots = raw
        .iter()
        .map(|s| serde_json::from_str(s))
        .collect::<Result<Vec<ActivitySnapshot>, _>>()
        .map_err(json_err)?;
    let resolved = steps.iter().filter(|s| s.state.is_resolved()).count();
    Ok(IncidentView {
        id: uuid_string(id),
        situation,
        title: playbook.title.clone(),
        playbook_version: u32::try_from(row.1).unwrap_or(0),
        state: row.2,
        opened_at: row.3,
        closed_at: row.4,
        exchanges: serde_json::from_str::<Vec<String>>(&row.5)
            .map_err(json_err)?
            .iter()
            .filter_map(|e| e.parse().ok())
            .collect(),
        keys: serde_json::from_str(&row.6).map_err(json_err)?,
        progress: Progress {
            resolved,
            total: steps.len(),
        },
        steps,
        timeline,
        snapshots,
    })
}

fn open_step(
    session: &mut Session,
    id: &str,
    step: &str,
) -> Result<([u8; 16], StepView, IncidentView), IncidentError> {
    let id = find_id(session, id)?;
    let view = view_by(session, &id)?;
    if view.state != "open" {
        return Err(IncidentError::Closed { id: view.id });
    }
    let s = view
        .steps
        .iter()
        .find(|s| s.id == step)
        .cloned()
        .ok_or_else(|| IncidentError::StepNotFound {
            step: step.to_owned(),
        })?;
    Ok((id, s, view))
}

#[allow(clippy::too_many_arguments)] // one private helper for the three step updates
fn step_change(
    session: &mut Session,
    actor: Actor,
    id: &[u8; 16],
    step: &str,
    event: &'static str,
    text: String,
    sql: &'static str,
    value: Option<String>,
) -> Result<IncidentView, IncidentError> {
    let now = session.now_secs();
    let sid = step.to_owned();
    let iid = *id;
    session.write(
        actor,
        |_| incident_event(uuid_string(&iid), event, Some(sid.clone())),
        |tx, _| {
            tx.execute(sql, params![&iid[..], step, now, value])?;
            add_event(tx, &iid, now, event, Some(step), &text, None)?;
            Ok(())
        },
    )?;
    view_by(session, id)
}

/// Marks a manual or evidence step done, with an optional note.
/// Automated steps are done by running them (or skipped with a reason).
pub fn step_done(
    session: &mut Session,
    actor: Actor,
    id: &str,
    step: &str,
    note: Option<&str>,
) -> Result<IncidentView, IncidentError> {
    let (iid, s, _) = open_step(session, id, step)?;
    if s.kind == StepKind::Automated {
        return Err(IncidentError::Invalid {
            message: format!(
                "{step} is automated: run it (`incident run`), or skip it with a reason"
            ),
        });
    }
    let note = note
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    step_change(
        session,
        actor,
        &iid,
        step,
        "step_done",
        note.clone().unwrap_or_else(|| format!("{} done", s.title)),
        "UPDATE incident_steps SET state = 'done', updated_at = ?3, note = ?4, reason = NULL
         WHERE incident_id = ?1 AND step_id = ?2",
        note,
    )
}

/// Skips a step; the reason is required and kept.
pub fn step_skip(
    session: &mut Session,
    actor: Actor,
    id: &str,
    step: &str,
    reason: &str,
) -> Result<IncidentView, IncidentError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(IncidentError::Invalid {
            message: "skipping a step needs a reason".into(),
        });
    }
    let (iid, _, _) = open_step(session, id, step)?;
    step_change(
        session,
        actor,
        &iid,
        step,
        "step_skipped",
        format!("skipped: {reason}"),
        "UPDATE incident_steps SET state = 'skipped', updated_at = ?3, reason = ?4
         WHERE incident_id = ?1 AND step_id = ?2",
        Some(reason.to_owned()),
    )
}

/// Adds a note to the timeline, with an optional attachment by path
/// (the path, size and SHA-256 of the file are recorded, not its
/// content).
pub fn note(
    session: &mut Session,
    actor: Actor,
    id: &str,
    text: &str,
    attachment: Option<&Path>,
) -> Result<IncidentView, IncidentError> {
    let iid = find_id(session, id)?;
    let text = text.trim().to_owned();
    if text.is_empty() && attachment.is_none() {
        return Err(IncidentError::Invalid {
            message: "a note needs text or an attachment".into(),
        });
    }
    let attachment = attachment.map(describe_attachment);
    let now = session.now_secs();
    session.write(
        actor,
        |_| incident_event(uuid_string(&iid), "note", None),
        |tx, _| {
            add_event(tx, &iid, now, "note", None, &text, attachment.as_deref())?;
            Ok(())
        },
    )?;
    view_by(session, &iid)
}

/// Closes the incident; refused while a step is neither done nor
/// skipped.
pub fn close(session: &mut Session, actor: Actor, id: &str) -> Result<IncidentView, IncidentError> {
    let iid = find_id(session, id)?;
    let view = view_by(session, &iid)?;
    if view.state != "open" {
        return Err(IncidentError::Closed { id: view.id });
    }
    let open: Vec<String> = view
        .steps
        .iter()
        .filter(|s| !s.state.is_resolved())
        .map(|s| s.id.clone())
        .collect();
    if !open.is_empty() {
        return Err(IncidentError::Unresolved { steps: open });
    }
    let now = session.now_secs();
    session.write(
        actor,
        |_| incident_event(uuid_string(&iid), "closed", None),
        |tx, _| {
            tx.execute(
                "UPDATE incidents SET state = 'closed', closed_at = ?2 WHERE id = ?1",
                params![&iid[..], now],
            )?;
            add_event(tx, &iid, now, "closed", None, "incident closed", None)?;
            Ok(())
        },
    )?;
    view_by(session, &iid)
}

pub(super) fn plan(session: &mut Session, id: &str, step: &str) -> Result<Plan, IncidentError> {
    let (iid, s, view) = open_step(session, id, step)?;
    let action = s.action.ok_or_else(|| IncidentError::Invalid {
        message: format!("{step} is not automated: mark it done or skip it"),
    })?;
    if s.state.is_resolved() {
        return Err(IncidentError::Invalid {
            message: format!("{step} is already {}", s.state.as_str()),
        });
    }
    Ok(Plan {
        id: iid,
        step: step.to_owned(),
        action,
        keys: view.keys,
        exchanges: view.exchanges,
    })
}

pub(super) fn record(
    session: &mut Session,
    actor: Actor,
    plan: &Plan,
    rec: Recorded,
) -> Result<IncidentView, IncidentError> {
    let now = session.now_secs();
    let event = match rec.state {
        StepState::Done => "step_done",
        StepState::Failed => "step_failed",
        _ => "step_pending",
    };
    let results = serde_json::to_string(&rec.results).map_err(json_err)?;
    let mut text = rec.results.join("; ");
    if let Some(e) = &rec.error {
        text = format!("{text} ({e})");
    }
    let manual: Vec<(&str, String)> = rec
        .manual_steps
        .iter()
        .map(|m| {
            (
                plan.exchanges
                    .first()
                    .copied()
                    .unwrap_or(Exchange::Other)
                    .as_str(),
                m.clone(),
            )
        })
        .collect();
    let manual = serde_json::to_string(&manual).map_err(json_err)?;
    let snaps = rec
        .snapshots
        .iter()
        .map(|s| {
            serde_json::to_string(s)
                .map(|j| (format!("{}:{}", s.exchange, s.label), j))
                .map_err(json_err)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let iid = plan.id;
    let step = plan.step.clone();
    let state = rec.state.as_str();
    session.write(
        actor,
        |_| incident_event(uuid_string(&iid), event, Some(step.clone())),
        |tx, _| {
            tx.execute(
                "UPDATE incident_steps SET state = ?3, updated_at = ?4, results = ?5,
                    error = ?6, instructions = CASE WHEN ?7 = '[]' THEN instructions ELSE ?7 END
                 WHERE incident_id = ?1 AND step_id = ?2",
                params![&iid[..], step, state, now, results, rec.error, manual],
            )?;
            for (key, json) in &snaps {
                tx.execute(
                    "INSERT INTO incident_snapshots (incident_id, key_id, taken_at, snapshot)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (incident_id, key_id) DO UPDATE
                     SET taken_at = excluded.taken_at, snapshot = excluded.snapshot",
                    params![&iid[..], key, now, json],
                )?;
            }
            add_event(tx, &iid, now, event, Some(&step), &text, None)?;
            Ok(())
        },
    )?;
    view_by(session, &iid)
}
fn add_event(
    tx: &rusqlite::Transaction<'_>,
    id: &[u8; 16],
    at: i64,
    event: &str,
    step: Option<&str>,
    text: &str,
    attachment: Option<&str>,
) -> Result<(), VaultError> {
    tx.execute(
        "INSERT INTO incident_events (incident_id, seq, at, event, step_id, text, attachment)
         VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM incident_events WHERE incident_id = ?1),
                 ?2, ?3, ?4, ?5, ?6)",
        params![&id[..], at, event, step, text, attachment],
    )?;
    Ok(())
}

fn describe_attachment(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    match std::fs::read(path) {
        Ok(bytes) => {
            let digest = Sha256::digest(&bytes);
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            format!("{} ({} bytes, sha256 {hex})", path.display(), bytes.len())
        }
        Err(e) => format!(
            "{} (not readable when recorded: {})",
            path.display(),
            e.kind()
        ),
    }
}
/// The audit event of an incident's progress. The log has four incident
/// actions; progress that is neither done, skipped, opened nor closed
/// (`step_failed`, `step_pending`, `note`) is recorded as step progress and
/// named by `event`.
fn incident_event(incident_id: String, event: &'static str, step: Option<String>) -> Event {
    let action = match event {
        "opened" => audit::Action::IncidentOpened,
        "step_skipped" => audit::Action::IncidentStepSkipped,
        "closed" => audit::Action::IncidentClosed,
        _ => audit::Action::IncidentStepDone,
    };
    let mut details = Details::new()
        .with("incident", incident_id)
        .with("event", event);
    if let Some(step) = step {
        details = details.with("step", step);
    }
    Event::new(action).with_details(details)
}

#[cfg(test)]
mod tests {
    /// Incidents import the vault, never the other way round: no file under
    /// `vault/` (its migrations included) names the incident module.
    #[test]
    fn the_vault_does_not_import_incident() {
        let naming = crate::vault::sources_naming(&["crate::incident", "super::incident"]);
        assert!(naming.is_empty(), "the vault imports incident: {naming:?}");
    }

    /// An opened incident reaches alerts through the kernel's
    /// `IncidentOpened` event, never by calling alerts: no incident source
    /// names the alerts module.
    #[test]
    fn incident_does_not_call_alerts() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/incident");
        let naming: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .filter(|p| {
                let text = std::fs::read_to_string(p).unwrap();
                // Spelled in two pieces so that this test does not match itself.
                [concat!("crate::", "alerts"), concat!("super::", "alerts")]
                    .iter()
                    .any(|n| text.contains(n))
            })
            .collect();
        assert!(naming.is_empty(), "incident calls alerts: {naming:?}");
    }
}
