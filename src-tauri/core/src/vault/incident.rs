//! Persistence of incidents (the playbooks, DTOs and reports are in
//! [`crate::incident`]).
//!
//! Owns: the tables `incidents`, `incident_steps`, `incident_events` (the
//! timeline: every change, every note) and `incident_snapshots` (activity
//! recorded by the snapshot step), one transaction per change with its
//! audit entry, and the three-phase automated steps
//! ([`incident_run_step`]: plan under the session lock → network without
//! it → record under the lock again).
//!
//! Must never: hold the session across a network call, store or show a
//! secret (affected keys are stored as id, label, exchange and masked key
//! id; snapshots hold what the exchange reported about orders and
//! transfers), or close an incident with a step neither done nor skipped.

use std::path::Path;

use rusqlite::{OptionalExtension, params};

use super::VaultError;
use super::access::SessionAccess;
use super::session::{Actor, Session};
use crate::audit::{self, Details, Event};
use crate::exchange::{Activity, ExchangeClient, RevocationCheck, Timestamp};
use crate::incident::{
    ActivitySnapshot, AffectedKey, AutoAction, IncidentError, IncidentSummary, IncidentView,
    Instruction, Progress, Situation, SnapshotOrder, SnapshotTransfer, StepKind, StepState,
    StepView, TimelineEntry, catalogue,
};
use crate::mfa::StepUpGrant;
use crate::mfa::actions::Revoke;
use crate::model::{Exchange, KeyStatus, mask_key_id};
use crate::rotation::{self, RevokeOutcome};

/// Schema of the incident tables (vault migration 5 → 6).
pub(crate) const SCHEMA: &str = "CREATE TABLE incidents (
        id                BLOB PRIMARY KEY,
        situation         TEXT NOT NULL,
        playbook_version  INTEGER NOT NULL,
        state             TEXT NOT NULL,
        opened_at         INTEGER NOT NULL,
        closed_at         INTEGER,
        exchanges         TEXT NOT NULL,
        keys              TEXT NOT NULL
    );
    CREATE TABLE incident_steps (
        incident_id  BLOB NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
        position     INTEGER NOT NULL,
        step_id      TEXT NOT NULL,
        state        TEXT NOT NULL,
        updated_at   INTEGER,
        note         TEXT,
        reason       TEXT,
        error        TEXT,
        results      TEXT NOT NULL DEFAULT '[]',
        instructions TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (incident_id, step_id)
    );
    CREATE TABLE incident_events (
        incident_id  BLOB NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
        seq          INTEGER NOT NULL,
        at           INTEGER NOT NULL,
        event        TEXT NOT NULL,
        step_id      TEXT,
        text         TEXT NOT NULL,
        attachment   TEXT,
        PRIMARY KEY (incident_id, seq)
    );
    CREATE TABLE incident_snapshots (
        incident_id  BLOB NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
        key_id       TEXT NOT NULL,
        taken_at     INTEGER NOT NULL,
        snapshot     TEXT NOT NULL,
        PRIMARY KEY (incident_id, key_id)
    );";

/// The window of the activity snapshot.
const SNAPSHOT_SECS: i64 = 72 * 3600;

fn uuid_string(id: &[u8; 16]) -> String {
    uuid::Uuid::from_bytes(*id).to_string()
}

fn json_err(e: serde_json::Error) -> IncidentError {
    IncidentError::Invalid {
        message: format!("stored incident data is malformed: {e}"),
    }
}

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

struct Plan {
    id: [u8; 16],
    step: String,
    action: AutoAction,
    keys: Vec<AffectedKey>,
    exchanges: Vec<Exchange>,
}

struct Recorded {
    state: StepState,
    results: Vec<String>,
    manual_steps: Vec<String>,
    error: Option<String>,
    snapshots: Vec<ActivitySnapshot>,
}

impl Session {
    fn incident_id(&mut self, id: &str) -> Result<[u8; 16], IncidentError> {
        self.touch()?;
        let id = id.trim().to_ascii_lowercase();
        let not_found = || IncidentError::NotFound { id: id.clone() };
        if id.len() < 4 {
            return Err(not_found());
        }
        let mut stmt = self.conn().prepare("SELECT id FROM incidents")?;
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
    pub fn incident_open(
        &mut self,
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
        let mut alert_keys = Vec::new();
        for label in labels {
            let d = self.key_detail(label)?;
            if keys.iter().any(|k: &AffectedKey| k.id == d.summary.id) {
                continue;
            }
            alert_keys.push(crate::alerts::AlertKey {
                label: d.summary.label.clone(),
                exchange: d.summary.exchange,
                key_id: crate::alerts::short_key_id(&d.api_key_id),
            });
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
        let now = self.now_secs();
        let keys_json = serde_json::to_string(&keys).map_err(json_err)?;
        let ex_json =
            serde_json::to_string(&exchanges.iter().map(|e| e.as_str()).collect::<Vec<_>>())
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
        let alert = crate::alerts::AlertEvent {
            kind: crate::alerts::EventKind::IncidentOpened,
            severity: crate::alerts::AlertSeverity::Critical,
            at: now,
            keys: alert_keys,
            exchanges: exchanges.clone(),
            detail: format!("Situation: {}", playbook.title),
        };
        self.write(
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
                // Queued in this transaction, sent after commit.
                super::alerts::enqueue(tx, sealer, &alert)?;
                Ok(())
            },
        )?;
        self.incident_view_by(&id)
    }

    /// Every incident, newest first.
    pub fn incident_list(&mut self) -> Result<Vec<IncidentSummary>, IncidentError> {
        self.touch()?;
        let mut stmt = self
            .conn()
            .prepare("SELECT id FROM incidents ORDER BY opened_at DESC, rowid DESC")?;
        let ids: Vec<Vec<u8>> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()
            .map_err(VaultError::from)?;
        drop(stmt);
        let mut out = Vec::new();
        for id in ids.into_iter().filter_map(|b| <[u8; 16]>::try_from(b).ok()) {
            let v = self.incident_view_by(&id)?;
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
    pub fn incident_view(&mut self, id: &str) -> Result<IncidentView, IncidentError> {
        let id = self.incident_id(id)?;
        self.incident_view_by(&id)
    }

    fn incident_view_by(&mut self, id: &[u8; 16]) -> Result<IncidentView, IncidentError> {
        let cat = catalogue()?;
        let conn = self.conn();
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
            let instructions: Vec<(String, String)> =
                serde_json::from_str(&instr).map_err(json_err)?;
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
        let mut stmt = conn.prepare(
            "SELECT snapshot FROM incident_snapshots WHERE incident_id = ?1 ORDER BY rowid",
        )?;
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
        &mut self,
        id: &str,
        step: &str,
    ) -> Result<([u8; 16], StepView, IncidentView), IncidentError> {
        let id = self.incident_id(id)?;
        let view = self.incident_view_by(&id)?;
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
        &mut self,
        actor: Actor,
        id: &[u8; 16],
        step: &str,
        event: &'static str,
        text: String,
        sql: &'static str,
        value: Option<String>,
    ) -> Result<IncidentView, IncidentError> {
        let now = self.now_secs();
        let sid = step.to_owned();
        let iid = *id;
        self.write(
            actor,
            |_| incident_event(uuid_string(&iid), event, Some(sid.clone())),
            |tx, _| {
                tx.execute(sql, params![&iid[..], step, now, value])?;
                add_event(tx, &iid, now, event, Some(step), &text, None)?;
                Ok(())
            },
        )?;
        self.incident_view_by(id)
    }

    /// Marks a manual or evidence step done, with an optional note.
    /// Automated steps are done by running them (or skipped with a reason).
    pub fn incident_step_done(
        &mut self,
        actor: Actor,
        id: &str,
        step: &str,
        note: Option<&str>,
    ) -> Result<IncidentView, IncidentError> {
        let (iid, s, _) = self.open_step(id, step)?;
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
        self.step_change(
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
    pub fn incident_step_skip(
        &mut self,
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
        let (iid, _, _) = self.open_step(id, step)?;
        self.step_change(
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
    pub fn incident_note(
        &mut self,
        actor: Actor,
        id: &str,
        text: &str,
        attachment: Option<&Path>,
    ) -> Result<IncidentView, IncidentError> {
        let iid = self.incident_id(id)?;
        let text = text.trim().to_owned();
        if text.is_empty() && attachment.is_none() {
            return Err(IncidentError::Invalid {
                message: "a note needs text or an attachment".into(),
            });
        }
        let attachment = attachment.map(describe_attachment);
        let now = self.now_secs();
        self.write(
            actor,
            |_| incident_event(uuid_string(&iid), "note", None),
            |tx, _| {
                add_event(tx, &iid, now, "note", None, &text, attachment.as_deref())?;
                Ok(())
            },
        )?;
        self.incident_view_by(&iid)
    }

    /// Closes the incident; refused while a step is neither done nor
    /// skipped.
    pub fn incident_close(
        &mut self,
        actor: Actor,
        id: &str,
    ) -> Result<IncidentView, IncidentError> {
        let iid = self.incident_id(id)?;
        let view = self.incident_view_by(&iid)?;
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
        let now = self.now_secs();
        self.write(
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
        self.incident_view_by(&iid)
    }

    fn incident_plan(&mut self, id: &str, step: &str) -> Result<Plan, IncidentError> {
        let (iid, s, view) = self.open_step(id, step)?;
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

    fn incident_record(
        &mut self,
        actor: Actor,
        plan: &Plan,
        rec: Recorded,
    ) -> Result<IncidentView, IncidentError> {
        let now = self.now_secs();
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
        self.write(
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
        self.incident_view_by(&iid)
    }
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

fn snapshot_from(key: &AffectedKey, now: i64, since: i64, a: Activity) -> ActivitySnapshot {
    let transfers = |l: Option<Vec<crate::exchange::TransferEvent>>| {
        l.map(|v| {
            v.into_iter()
                .map(|t| SnapshotTransfer {
                    id: t.id,
                    asset: t.asset,
                    amount: t.amount,
                    status: t.status,
                    address: t.address,
                    tx_id: t.tx_id,
                    time_ms: t.time.unix_ms(),
                })
                .collect()
        })
    };
    ActivitySnapshot {
        label: key.label.clone(),
        masked_key_id: key.masked_key_id.clone(),
        exchange: key.exchange,
        taken_at: now,
        since,
        orders: a.orders.map(|v| {
            v.into_iter()
                .map(|o| SnapshotOrder {
                    id: o.id,
                    symbol: o.symbol,
                    side: o.side,
                    status: o.status,
                    quantity: o.quantity,
                    price: o.price,
                    time_ms: o.time.unix_ms(),
                })
                .collect()
        }),
        withdrawals: transfers(a.withdrawals),
        deposits: transfers(a.deposits),
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

/// Runs an automated step, all three phases: plan under the session lock,
/// the exchange calls without it, the result recorded under it again (one
/// audited transaction). `grant` (`revoke`) is needed by the revoke step
/// only; one grant covers every affected key, as `revoke --exchange --all`
/// does. A failure is recorded as the step's `failed` state with its error
/// and can be retried; nothing else changes.
pub async fn incident_run_step<S: SessionAccess>(
    mut access: S,
    client: &ExchangeClient,
    actor: Actor,
    id: &str,
    step: &str,
    grant: Option<StepUpGrant<Revoke>>,
    confirm_manual: bool,
) -> Result<StepRun, IncidentError> {
    let plan = access.with_session(|s| s.incident_plan(id, step))?;
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
                let pending = match access.with_session(|s| {
                    rotation::prepare_key_revoke(s, each, &key.label, confirm_manual)
                }) {
                    Ok(p) => p,
                    Err(e) => {
                        failed.push(format!("{}: {e}", key.label));
                        continue;
                    }
                };
                let result = pending.run(client).await;
                match access.with_session(|s| rotation::record_revocation(s, actor, result)) {
                    Ok(RevokeOutcome::Revoked {
                        method,
                        confirmation,
                        ..
                    }) => rec.results.push(format!(
                        "{}: revoked ({}), the exchange now answers {confirmation}",
                        key.label,
                        method.as_str()
                    )),
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
    }
    if !failed.is_empty() {
        rec.state = StepState::Failed;
        rec.error = Some(failed.join("; "));
        rec.results.extend(failed);
    }
    let state = rec.state;
    let results = rec.results.clone();
    let manual_steps = rec.manual_steps.clone();
    let incident = access.with_session(|s| s.incident_record(actor, &plan, rec))?;
    Ok(StepRun {
        state,
        results,
        manual_steps,
        lock_requested,
        incident,
    })
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
