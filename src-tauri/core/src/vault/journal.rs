//! Where the audit log joins the vault: every write, every unlock.
//!
//! Owns: the translation of a vault [`Action`] into an audit event, the
//! append of that event inside the write's own transaction, the sealing of
//! the chain head into `vault_meta.audit_head` (field `audit_head`, AAD =
//! vault id ‖ the header record id ‖ field name), and the unlock-time
//! verification of the whole chain against that sealed head.
//!
//! Must never: open or commit a transaction ([`after_write`] and
//! [`on_unlock`] run inside the caller's), record a secret (an [`Action`]
//! carries metadata only: ids, labels, counts, names of fields — never
//! values of secret fields), or let a broken chain block an unlock: the
//! finding is appended to the log itself and reported to the front end,
//! which shows a banner (GUI) or exits 5 (`keyward log --verify`).
//!
//! A vault created before the audit log existed has no sealed head; its
//! first unlock starts the chain and sets the "audit started" marker inside
//! the sealed settings. From then on a missing head is tampering, so
//! deleting the whole log and clearing the head is caught as well.

use std::time::SystemTime;

use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;
use serde_json::json;

use super::error::VaultError;
use super::session::{Action, Actor, META_RECORD, Sealer};
use crate::audit::{self, AuditError, ChainHead, Details, Entry, NewEvent, store as audit_store};
use crate::mfa::ProofMethod;

/// The field name (and AAD) of the sealed chain head.
pub(crate) const AUDIT_HEAD_FIELD: &str = "audit_head";

/// One write, as the audit log will see it.
#[derive(Debug)]
pub(crate) struct WriteEvent<'a> {
    /// Who asked.
    pub actor: Actor,
    /// What was done.
    pub action: &'a Action,
    /// When.
    pub at: SystemTime,
    /// For gated actions: how step-up was passed.
    pub proof: Option<ProofMethod>,
}

/// A broken audit chain found when the vault was unlocked.
///
/// The unlock still succeeds (the vault's records are authenticated on
/// their own); the finding is appended to the log as
/// `audit_integrity_failed` and kept on the session so the GUI can show a
/// banner and `keyward log --verify` can exit 5.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditProblem {
    /// What verification found (an entry modified, deleted, reordered; the
    /// log truncated; the sealed head removed). Never secret.
    pub finding: String,
    /// Sequence number of the `audit_integrity_failed` entry that records it.
    pub recorded_as: u64,
}

/// The answer to "is the audit log intact?" (`keyward log --verify`, the
/// GUI's verify button).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// Entries in the log (the sealed head's sequence number).
    pub entries: u64,
    /// What verifying the chain now found, if anything.
    pub problem: Option<String>,
    /// What the unlock of this session found, if anything. A truncation
    /// found at unlock is sealed over by the finding's own entry, so it is
    /// only visible here and in that entry.
    pub found_at_unlock: Option<AuditProblem>,
    /// `audit_integrity_failed` entries in the log, from any unlock.
    pub recorded_findings: usize,
    /// Of those, the ones recorded after the last acknowledgement
    /// (`keyward log --acknowledge`). A truncation is sealed over by its
    /// finding's entry, so the next unlock sees an intact chain: this count
    /// is what keeps the finding from being forgotten.
    pub unacknowledged_findings: usize,
}

impl AuditReport {
    /// Whether the chain verifies now and every recorded finding (the one
    /// of this unlock included) has been acknowledged.
    pub fn is_ok(&self) -> bool {
        self.problem.is_none() && self.unacknowledged_findings == 0
    }
}

/// The audit event describing `action` (never a secret: see [`Action`]).
fn event_for(actor: Actor, action: &Action, at: SystemTime) -> NewEvent {
    use audit::Action as A;
    let keyed = |a: A, id: &str, label: &str| NewEvent::new(actor, a, at).with_key(id, label);
    let plain = |a: A| NewEvent::new(actor, a, at);
    match action {
        Action::VaultCreate => plain(A::VaultCreated),
        Action::KeyAdd {
            key_id,
            label,
            exchange,
        } => keyed(A::KeyAdded, key_id, label)
            .with_details(Details::new().with("exchange", exchange.as_str())),
        Action::KeyEdit {
            key_id,
            label,
            fields,
        } => keyed(A::KeyEdited, key_id, label)
            .with_details(Details::new().with("fields", json!(fields))),
        Action::KeyDelete { key_id, label } => keyed(A::KeyDeleted, key_id, label),
        Action::SecretReveal { key_id, label } => keyed(A::SecretRevealed, key_id, label),
        Action::SecretCopy { key_id, label } => keyed(A::SecretCopied, key_id, label),
        Action::RunGrant {
            key_id,
            label,
            allowed,
        } => keyed(A::RunGrantChanged, key_id, label)
            .with_details(Details::new().with("allowed", *allowed)),
        Action::RunUse { key_id, label } => keyed(A::RunAllowed, key_id, label),
        Action::SettingsChange { changed } => {
            let mut map = serde_json::Map::new();
            for (name, value) in changed {
                map.insert((*name).to_owned(), json!(value));
            }
            plain(A::SettingsChanged).with_details(Details::new().with("changed", map))
        }
        Action::KdfChange => plain(A::SettingsChanged)
            .with_details(Details::new().with("changed", json!({ "kdf": "raised" }))),
        Action::PasswordChange => plain(A::PasswordChanged),
        Action::DeviceUnlockEnable => plain(A::KeyringUnlockEnabled),
        Action::DeviceUnlockDisable => plain(A::KeyringUnlockRemoved),
        Action::AuditAcknowledge { findings } => plain(A::AuditFindingsAcknowledged)
            .with_details(Details::new().with("findings", *findings)),
        Action::BackupExport { keys } => {
            plain(A::Export).with_details(Details::new().with("keys", *keys))
        }
        Action::BackupImport {
            added,
            replaced,
            replaced_labels,
        } => plain(A::Import).with_details(
            Details::new()
                .with("added", *added)
                .with("replaced", *replaced)
                .with("replaced_labels", replaced_labels.clone()),
        ),
        Action::MfaEnrol { reenrolment } => {
            plain(A::MfaEnrolled).with_details(Details::new().with("reenrolment", *reenrolment))
        }
        Action::MfaConfirm => plain(A::MfaConfirmed),
        Action::MfaCancel => plain(A::MfaEnrolmentCancelled),
        Action::MfaDisable => plain(A::MfaDisabled),
        Action::RecoveryCodesRegenerate => plain(A::MfaRecoveryCodesRegenerated),
        Action::RecoveryCodeUsed { gated, left } => plain(A::MfaRecoveryCodeUsed).with_details(
            Details::new()
                .with("action", *gated)
                .with("codes_left", *left),
        ),
        Action::StepUpFailed { gated, reason } => plain(A::StepUpFailed).with_details(
            Details::new()
                .with("action", *gated)
                .with("reason", *reason),
        ),
        Action::StepUpThrottled { gated, until } => plain(A::StepUpThrottled)
            .with_details(Details::new().with("action", *gated).with("until", *until)),
        Action::Rotation {
            key_id,
            label,
            rotation_id,
            event,
        } => keyed(event.audit_action(), key_id, label).with_details(event.details(rotation_id)),
        Action::KeyRevoke {
            key_id,
            label,
            method,
        } => {
            keyed(A::KeyRevoked, key_id, label).with_details(Details::new().with("method", *method))
        }
        Action::ServiceChange {
            key_id,
            label,
            service,
            change,
            fields,
            item,
        } => {
            let mut details = Details::new()
                .with("service", service.as_str())
                .with("change", *change);
            if !fields.is_empty() {
                details = details.with("fields", json!(fields));
            }
            if let Some(item) = item {
                details = details.with("item", *item);
            }
            keyed(A::ServiceChanged, key_id, label).with_details(details)
        }
        Action::Incident {
            incident_id,
            event,
            step,
        } => {
            // The log has four incident actions; progress that is neither
            // done, skipped, opened nor closed is recorded as step progress
            // and named by `event`.
            let a = match *event {
                "opened" => A::IncidentOpened,
                "step_skipped" => A::IncidentStepSkipped,
                "closed" => A::IncidentClosed,
                _ => A::IncidentStepDone,
            };
            let mut details = Details::new()
                .with("incident", incident_id.as_str())
                .with("event", *event);
            if let Some(step) = step {
                details = details.with("step", step.as_str());
            }
            plain(a).with_details(details)
        }
        Action::AlertSettingsChange { change, detail } => plain(A::AlertSettingsChanged)
            .with_details(
                Details::new()
                    .with("change", *change)
                    .with("detail", detail.as_str()),
            ),
        Action::AlertReminders { labels, queued } => plain(A::AlertReminded).with_details(
            Details::new()
                .with("labels", json!(labels))
                .with("queued", *queued),
        ),
        Action::AlertDelivery {
            event,
            label,
            error,
            status,
            attempt,
            dropped,
        } => {
            let a = if error.is_some() {
                A::AlertFailed
            } else {
                A::AlertDelivered
            };
            let mut details = Details::new()
                .with("event", *event)
                .with("attempt", *attempt);
            if let Some(label) = label {
                details = details.with("label", label.as_str());
            }
            if let Some(error) = error {
                details = details.with("error", *error).with("dropped", *dropped);
            }
            if let Some(status) = status {
                details = details.with("status", *status);
            }
            plain(a).with_details(details)
        }
    }
}

/// Called by the vault's single write path inside the open transaction:
/// appends the entry for `event` and seals the new chain head.
pub(crate) fn after_write(
    tx: &Transaction<'_>,
    sealer: &Sealer<'_>,
    event: &WriteEvent<'_>,
) -> Result<Entry, VaultError> {
    let mut new = event_for(event.actor, event.action, event.at);
    if let Some(proof) = event.proof {
        new.details = new.details.with("proof", proof.as_str());
    }
    append(tx, sealer, new)
}

/// Appends one event and seals the head, inside `tx`.
pub(crate) fn append(
    tx: &Transaction<'_>,
    sealer: &Sealer<'_>,
    event: NewEvent,
) -> Result<Entry, VaultError> {
    let entry = audit_store::append(tx, &sealer.audit_key(), event)?;
    seal_head(tx, sealer, &entry.head())?;
    Ok(entry)
}

fn seal_head(
    tx: &Transaction<'_>,
    sealer: &Sealer<'_>,
    head: &ChainHead,
) -> Result<(), VaultError> {
    let blob = sealer.seal(&META_RECORD, AUDIT_HEAD_FIELD, &head.to_bytes())?;
    tx.execute(
        "UPDATE vault_meta SET audit_head = ?1 WHERE id = 1",
        params![blob],
    )?;
    Ok(())
}

/// What checking the stored chain against the sealed head found: `None`
/// when intact, else a description that is safe to show and to log.
pub(crate) fn check_chain(
    conn: &rusqlite::Connection,
    sealer: &Sealer<'_>,
    audit_started: bool,
) -> Result<Option<String>, VaultError> {
    let sealed: Option<Vec<u8>> = conn
        .query_row("SELECT audit_head FROM vault_meta WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?
        .flatten();
    let head = match sealed {
        Some(blob) => {
            let head = sealer
                .open(&META_RECORD, AUDIT_HEAD_FIELD, &blob)
                .ok()
                .and_then(|bytes| ChainHead::from_bytes(&bytes).ok());
            match head {
                Some(head) => head,
                None => return Ok(Some("the sealed audit head is damaged".into())),
            }
        }
        None if audit_started => {
            return Ok(Some(
                "the sealed audit head was removed (the log was deleted or reset)".into(),
            ));
        }
        // A vault from before the audit log: the log must still be empty.
        None => ChainHead::GENESIS,
    };
    match audit_store::verify(conn, &sealer.audit_key(), &head) {
        Ok(()) => Ok(None),
        Err(AuditError::Storage(e)) => Err(VaultError::Database(e)),
        Err(finding) => Ok(Some(finding.to_string())),
    }
}

/// The audit part of an unlock, in the unlock's immediate transaction:
/// verify the chain against the sealed head (appending the finding, with
/// the state seal's `seal_findings`, if anything is wrong), chain the
/// events recorded while locked, append the unlock, and seal the head.
///
/// A refused event recorded while locked (anything but the fixed failed
/// unlock) is chained as its own finding and, if nothing else was found,
/// reported as this unlock's problem.
pub(crate) fn on_unlock(
    tx: &Transaction<'_>,
    sealer: &Sealer<'_>,
    actor: Actor,
    method: &'static str,
    at: SystemTime,
    audit_started: bool,
    seal_findings: &[String],
) -> Result<Option<AuditProblem>, VaultError> {
    let mut found: Vec<String> = check_chain(tx, sealer, audit_started)?
        .into_iter()
        .collect();
    found.extend(seal_findings.iter().cloned());
    let mut problem = if found.is_empty() {
        None
    } else {
        let finding = found.join("; ");
        let entry = append(
            tx,
            sealer,
            NewEvent::new(Actor::System, audit::Action::AuditIntegrityFailed, at).with_details(
                Details::new()
                    .with("finding", finding.as_str())
                    .with("found_at", "unlock"),
            ),
        )?;
        Some(AuditProblem {
            finding,
            recorded_as: entry.seq,
        })
    };
    let absorbed = audit_store::absorb_pending(tx, &sealer.audit_key(), at)?;
    if problem.is_none()
        && let Some(refused) = absorbed
            .iter()
            .find(|e| e.action == audit::Action::AuditIntegrityFailed)
    {
        problem = Some(AuditProblem {
            finding: audit_store::REFUSED_PENDING.into(),
            recorded_as: refused.seq,
        });
    }
    append(
        tx,
        sealer,
        NewEvent::new(actor, audit::Action::Unlock, at)
            .with_details(Details::new().with("method", method)),
    )?;
    Ok(problem)
}

/// The current head's sequence number (0 for an empty log).
pub(crate) fn entries(conn: &rusqlite::Connection) -> Result<u64, VaultError> {
    Ok(audit_store::last_head(conn)?.seq)
}

/// Number of `audit_integrity_failed` entries.
pub(crate) fn recorded_findings(conn: &rusqlite::Connection) -> Result<usize, VaultError> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM audit_log WHERE action = ?1",
        params![audit::Action::AuditIntegrityFailed.as_str()],
        |r| r.get(0),
    )?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Number of `audit_integrity_failed` entries after the last
/// `audit_findings_acknowledged` entry (all of them when there is none).
/// Both are MAC'd entries of the chain: an acknowledgement cannot be forged
/// without the vault key, and deleting one breaks the chain.
pub(crate) fn unacknowledged_findings(conn: &rusqlite::Connection) -> Result<usize, VaultError> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM audit_log WHERE action = ?1 AND seq >
             (SELECT coalesce(max(seq), 0) FROM audit_log WHERE action = ?2)",
        params![
            audit::Action::AuditIntegrityFailed.as_str(),
            audit::Action::AuditFindingsAcknowledged.as_str()
        ],
        |r| r.get(0),
    )?;
    Ok(usize::try_from(n).unwrap_or(0))
}
