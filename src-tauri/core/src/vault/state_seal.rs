//! Rollback detection: the state seal.
//!
//! Owns: [`StateSeal`], kept inside the sealed settings blob
//! (`vault_meta.settings`, AES-256-GCM under the vault key), which binds
//! together one monotonic generation number, the sealed audit head, a
//! digest of the MFA record with its recovery codes, and a digest of the
//! webhook outbox; reading what the file holds now; the comparison at
//! unlock ([`at_unlock`]) and before every write ([`before_write`]); and
//! resealing at the end of every transaction that holds the vault key
//! ([`reseal`]), so the seal and the rows it vouches for always commit
//! together.
//!
//! Must never: open or commit a transaction (it runs inside the caller's);
//! let a write go ahead on rows that no longer match the seal (resealing
//! them would make the rollback permanent); or put a secret in a finding
//! (findings name tables and sequence numbers only).
//!
//! Why: each of these rows is authenticated on its own (the audit head is
//! sealed, the MFA record carries a MAC), but an older genuine copy of a
//! row is still genuine. Putting back an older MFA row lifts a lockout or
//! revives a spent recovery code; an older audit head with the log cut to
//! match hides entries; an older settings blob can take back "MFA is
//! enrolled". With the seal, any one of them put back alone no longer
//! matches the others. What it cannot catch is all of them put back
//! together — in practice the whole file restored from an older copy: a
//! local file has nothing newer to compare with.
//!
//! At unlock, rows that weaken protection (the MFA record, the settings)
//! are an error ([`VaultError::RolledBack`], kind integrity: the CLI exits
//! 5, the desktop shows it on the unlock screen) and nothing is written. An
//! audit head put back, or queued alerts deleted or forged, do not block
//! the unlock — like every other audit finding they are chained as
//! `audit_integrity_failed` and reported ([`super::journal::AuditProblem`]);
//! forged alerts are dropped unsent.
//!
//! A vault from before the seal (no [`StateSeal`] in its settings) is
//! sealed at its first unlock, which chains a `state_sealed` entry; from
//! then on a settings blob without a seal is a rollback.

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::VaultError;
use super::journal::AUDIT_HEAD_FIELD;
use super::session::{META_RECORD, Sealer};
use crate::audit::{self, ChainHead};

/// Columns of the MFA record covered by the seal (named, so a later
/// migration adding a column does not change the digest of an old row).
const MFA_ROWS: &str = "SELECT active_seed, active_since, active_last_step, pending_seed,
    pending_since, pending_last_step, consecutive_failures, locked_until, lockout_count, mac
    FROM mfa ORDER BY id";
/// The recovery codes: hashes and which are spent.
const RECOVERY_ROWS: &str =
    "SELECT stage, slot, hash, used_at FROM mfa_recovery_codes ORDER BY stage, slot";
/// The webhook outbox, MACs included.
const OUTBOX_ROWS: &str =
    "SELECT seq, created_at, event, attempts, next_at, mac FROM alert_outbox ORDER BY seq";

/// What the seal vouches for, stored inside the sealed settings blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StateSeal {
    /// Rises by one with every transaction that holds the vault key.
    pub generation: u64,
    /// The sealed audit head (sequence number), when the seal was written.
    audit_seq: u64,
    /// The sealed audit head's MAC (hex).
    audit_mac: String,
    /// SHA-256 over the MFA record and the recovery codes (hex).
    mfa: String,
    /// SHA-256 over the webhook outbox (hex).
    outbox: String,
}

/// The stored audit head as found.
enum HeadSeen {
    /// No sealed head (a vault from before the log, or a removed head).
    Absent,
    /// A head that does not open or parse.
    Damaged,
    /// The head.
    Head(ChainHead),
}

/// What the file holds now.
struct Observed {
    head: HeadSeen,
    mfa: String,
    outbox: String,
}

fn observe(conn: &Connection, sealer: &Sealer<'_>) -> Result<Observed, VaultError> {
    let blob: Option<Vec<u8>> = conn
        .query_row("SELECT audit_head FROM vault_meta WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?
        .flatten();
    let head = match blob {
        None => HeadSeen::Absent,
        Some(blob) => sealer
            .open(&META_RECORD, AUDIT_HEAD_FIELD, &blob)
            .ok()
            .and_then(|bytes| ChainHead::from_bytes(&bytes).ok())
            .map_or(HeadSeen::Damaged, HeadSeen::Head),
    };
    let mut mfa = Sha256::new();
    mfa.update(b"keyward state mfa v1");
    hash_rows(&mut mfa, conn, MFA_ROWS)?;
    hash_rows(&mut mfa, conn, RECOVERY_ROWS)?;
    let mut outbox = Sha256::new();
    outbox.update(b"keyward state outbox v1");
    hash_rows(&mut outbox, conn, OUTBOX_ROWS)?;
    Ok(Observed {
        head,
        mfa: hex::encode(mfa.finalize()),
        outbox: hex::encode(outbox.finalize()),
    })
}

/// Feeds every row of `sql` into `h`, each value typed and length-prefixed
/// (so no two different tables of rows hash alike).
fn hash_rows(h: &mut Sha256, conn: &Connection, sql: &str) -> Result<(), VaultError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let columns = stmt.column_count();
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        h.update(b"r");
        for i in 0..columns {
            match row.get_ref(i)? {
                ValueRef::Null => h.update([0]),
                ValueRef::Integer(v) => {
                    h.update([1]);
                    h.update(v.to_be_bytes());
                }
                ValueRef::Real(v) => {
                    h.update([2]);
                    h.update(v.to_bits().to_be_bytes());
                }
                ValueRef::Text(b) | ValueRef::Blob(b) => {
                    h.update([3]);
                    h.update((b.len() as u64).to_be_bytes());
                    h.update(b);
                }
            }
        }
    }
    h.update(b"end");
    Ok(())
}

impl StateSeal {
    fn sealed_head(&self) -> String {
        format!("{}:{}", self.audit_seq, self.audit_mac)
    }
}

fn head_text(head: &ChainHead) -> String {
    format!("{}:{}", head.seq, hex::encode(head.mac.as_bytes()))
}

/// Before a write (and before the lock entry): the rows must be exactly as
/// the last sealed transaction left them. Returns the seal, whose
/// generation the write's [`reseal`] continues.
pub(crate) fn before_write(
    conn: &Connection,
    sealer: &Sealer<'_>,
) -> Result<StateSeal, VaultError> {
    let seal = sealer.read_state(conn)?.ok_or(VaultError::RolledBack {
        what: "the sealed settings",
    })?;
    let seen = observe(conn, sealer)?;
    let head_matches =
        matches!(&seen.head, HeadSeen::Head(h) if head_text(h) == seal.sealed_head());
    if !head_matches {
        return Err(VaultError::RolledBack {
            what: "the sealed audit head",
        });
    }
    if seen.mfa != seal.mfa {
        return Err(VaultError::RolledBack {
            what: "the MFA state",
        });
    }
    if seen.outbox != seal.outbox {
        return Err(VaultError::RolledBack {
            what: "the webhook outbox",
        });
    }
    Ok(seal)
}

/// Seals the rows as they are now, with the generation after `prev` (1
/// for a vault's first seal). Call last in every transaction that holds
/// the vault key, after the audit appends.
pub(crate) fn reseal(
    tx: &Transaction<'_>,
    sealer: &Sealer<'_>,
    prev: Option<&StateSeal>,
) -> Result<(), VaultError> {
    let seen = observe(tx, sealer)?;
    let head = match seen.head {
        HeadSeen::Head(head) => head,
        // Every sealed transaction appends to the chain or follows one
        // that did; a head that is missing here is not ours to vouch for.
        HeadSeen::Absent | HeadSeen::Damaged => {
            return Err(VaultError::RolledBack {
                what: "the sealed audit head",
            });
        }
    };
    let seal = StateSeal {
        generation: prev.map_or(1, |p| p.generation.saturating_add(1)),
        audit_seq: head.seq,
        audit_mac: hex::encode(head.mac.as_bytes()),
        mfa: seen.mfa,
        outbox: seen.outbox,
    };
    sealer.write_state(tx, &seal)
}

/// What the unlock found: the seal to continue, and findings to chain.
#[derive(Debug)]
pub(crate) struct UnlockCheck {
    /// The seal read from the settings (`None`: a vault from before it).
    pub prev: Option<StateSeal>,
    /// Problems that do not block the unlock (never secret).
    pub findings: Vec<String>,
}

/// The unlock's check, inside the unlock's transaction and before anything
/// is appended: an error for a rolled-back MFA record or settings blob;
/// findings for a rolled-back audit head and for deleted or forged queued
/// alerts (forged ones are deleted here, unsent).
pub(crate) fn at_unlock(
    tx: &Transaction<'_>,
    sealer: &Sealer<'_>,
) -> Result<UnlockCheck, VaultError> {
    let Some(seal) = sealer.read_state(tx)? else {
        if sealed_before(tx)? {
            // The chain says this vault was sealed: the settings blob is
            // an older copy from before that.
            return Err(VaultError::RolledBack {
                what: "the sealed settings",
            });
        }
        // A vault from before the seal: its queued alerts have no MAC yet.
        super::outbox::check_macs(tx, sealer, true)?;
        return Ok(UnlockCheck {
            prev: None,
            findings: Vec::new(),
        });
    };
    let mut findings = Vec::new();
    let forged = super::outbox::check_macs(tx, sealer, false)?;
    let seen = observe(tx, sealer)?;
    if let HeadSeen::Head(head) = &seen.head {
        if head.seq > seal.audit_seq {
            // The chain moved on since this seal was written: the settings
            // blob that holds it is an older copy.
            return Err(VaultError::RolledBack {
                what: "the sealed settings",
            });
        }
        if seen.mfa != seal.mfa {
            return Err(VaultError::RolledBack {
                what: "the MFA state",
            });
        }
        if head_text(head) != seal.sealed_head() {
            findings.push(format!(
                "the sealed audit head was put back to an older copy (entry {}; the log had \
                 reached entry {})",
                head.seq, seal.audit_seq
            ));
        }
    } else if seen.mfa != seal.mfa {
        // A missing or damaged head is reported by the chain check.
        return Err(VaultError::RolledBack {
            what: "the MFA state",
        });
    }
    if forged > 0 {
        findings.push(format!(
            "{forged} queued webhook alert(s) failed their integrity check and were dropped unsent"
        ));
    }
    if seen.outbox != seal.outbox {
        findings.push("queued webhook alerts were deleted or changed while locked".into());
    }
    Ok(UnlockCheck {
        prev: Some(seal),
        findings,
    })
}

/// Whether the chain records that this vault's state was sealed before.
fn sealed_before(conn: &Connection) -> Result<bool, VaultError> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM audit_log WHERE action = ?1)",
        params![audit::Action::StateSealed.as_str()],
        |r| r.get(0),
    )?)
}
