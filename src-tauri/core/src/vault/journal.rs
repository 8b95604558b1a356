//! Where the audit log joins the vault: every write, every unlock.
//!
//! Owns: the append of a write's [`audit::Event`]s (stamped with the
//! write's actor and time: an [`audit::NewEvent`]) inside the write's own
//! transaction, the sealing of the chain head into `vault_meta.audit_head`
//! (field `audit_head`, AAD = vault id ‖ the header record id ‖ field
//! name), and the unlock-time verification of the whole chain against that
//! sealed head. The event names are the audit module's closed
//! [`audit::Action`] list: the vault has no vocabulary of its own.
//!
//! Must never: open or commit a transaction ([`after_write`] and
//! [`on_unlock`] run inside the caller's), record a secret (an event
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

use super::error::VaultError;
use super::session::{Actor, META_RECORD, Sealer};
use crate::audit::{self, AuditError, ChainHead, Details, Entry, NewEvent, store as audit_store};
use crate::mfa::ProofMethod;

/// The field name (and AAD) of the sealed chain head.
pub(crate) const AUDIT_HEAD_FIELD: &str = "audit_head";

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

/// Called by the vault's single write path inside the open transaction:
/// appends `event` (with how step-up was passed, for a gated write) and
/// seals the new chain head.
pub(crate) fn after_write(
    tx: &Transaction<'_>,
    sealer: &Sealer<'_>,
    mut event: NewEvent,
    proof: Option<ProofMethod>,
) -> Result<Entry, VaultError> {
    if let Some(proof) = proof {
        event.details = event.details.with("proof", proof.as_str());
    }
    append(tx, sealer, event)
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
