//! Persistence of the MFA state in the vault's SQLite file.
//!
//! Owns: the `mfa` and `mfa_recovery_codes` tables ([`SCHEMA`], to be run by
//! the vault's migrations) and [`MfaRecord`], which keeps the state and the
//! sealed seeds consistent. Must never: seal or unseal (the sealed seeds are
//! opaque bytes produced and opened by the vault), or open or commit a
//! transaction of its own.
//!
//! The stored row carries an HMAC-SHA256 under a subkey of the vault key
//! ([`MfaKey`]) over a canonical encoding of everything in it, so counters,
//! a lockout, a replay counter or a recovery hash edited in the file are
//! reported as [`MfaError::Corrupt`] instead of being believed. What a MAC
//! cannot catch is a whole older row put back (a rollback) or the row
//! deleted: the vault must keep "MFA is enrolled" in its own authenticated
//! metadata to catch the latter.

use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use subtle::ConstantTimeEq;

use super::actions::{DisableMfa, ReenrolMfa};
use super::key::MfaKey;
use super::seed::{OneTimeCode, TotpSeed};
use super::state::{RecoverySlot, Stage};
use super::{Enrolment, MfaError, MfaState, StepUpGrant};

/// The MFA tables. One migration step: the vault's migration list runs it
/// once, inside its migration transaction (the frozen
/// `vault/migrations/03_mfa.sql`).
pub const SCHEMA: &str = include_str!("../vault/migrations/03_mfa.sql");

/// Domain tag of the row MAC.
const ROW_DOMAIN: &[u8] = b"keyward mfa row v1";

/// The MFA state together with the sealed seeds it refers to, as stored.
///
/// Load it at the start of a gated action's step-up, call the gate on
/// [`MfaRecord::state`], and [`MfaRecord::store`] it back whatever the
/// outcome — in a transaction that commits even when step-up failed, so
/// the failure counters survive a restart.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct MfaRecord {
    /// The state machine. Calls that change the enrolment stage (confirm,
    /// disable, cancel) go through the record's own methods so the sealed
    /// seeds follow.
    pub state: MfaState,
    active_seed: Option<Vec<u8>>,
    pending_seed: Option<Vec<u8>>,
}

impl std::fmt::Debug for MfaRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaRecord")
            .field("state", &self.state)
            .field(
                "active_seed",
                &self.active_seed.as_ref().map(|_| "[SEALED]"),
            )
            .field(
                "pending_seed",
                &self.pending_seed.as_ref().map(|_| "[SEALED]"),
            )
            .finish()
    }
}

impl MfaRecord {
    /// The record of a vault that never enrolled MFA.
    pub fn new() -> Self {
        MfaRecord::default()
    }

    /// The active seed, sealed: unseal it and pass it to the gate in
    /// [`super::MfaKeys::seed`].
    pub fn active_sealed_seed(&self) -> Option<&[u8]> {
        self.active_seed.as_deref()
    }

    /// The pending seed, sealed: unseal it for [`MfaRecord::confirm`].
    pub fn pending_sealed_seed(&self) -> Option<&[u8]> {
        self.pending_seed.as_deref()
    }

    /// Starts a first enrolment; the caller seals `enrolment.seed()` and
    /// hands the result to [`MfaRecord::set_pending_sealed_seed`] before
    /// storing.
    pub fn enrol(
        &mut self,
        account_name: &str,
        key: &MfaKey,
        now: SystemTime,
    ) -> Result<Enrolment, MfaError> {
        let enrolment = self.state.enrol(account_name, key, now)?;
        self.pending_seed = None;
        Ok(enrolment)
    }

    /// Starts a re-enrolment (needs a [`super::GatedAction::ReenrolMfa`]
    /// grant); as for [`MfaRecord::enrol`], the pending seed must be set
    /// before storing.
    pub fn reenrol(
        &mut self,
        grant: StepUpGrant<ReenrolMfa>,
        account_name: &str,
        key: &MfaKey,
        now: SystemTime,
    ) -> Result<Enrolment, MfaError> {
        let enrolment = self.state.reenrol(grant, account_name, key, now)?;
        self.pending_seed = None;
        Ok(enrolment)
    }

    /// Records the sealed form of the seed of the enrolment just started.
    pub fn set_pending_sealed_seed(&mut self, sealed: Vec<u8>) -> Result<(), MfaError> {
        if !self.state.is_pending() {
            return Err(MfaError::NoPendingEnrolment);
        }
        self.pending_seed = Some(sealed);
        Ok(())
    }

    /// Confirms the pending enrolment ([`MfaState::confirm`]) and, on
    /// success, makes the pending sealed seed the active one.
    pub fn confirm(
        &mut self,
        pending_seed: &TotpSeed,
        code: &OneTimeCode,
        now: SystemTime,
    ) -> Result<(), MfaError> {
        if self.pending_seed.is_none() {
            return Err(MfaError::NoPendingEnrolment);
        }
        self.state.confirm(pending_seed, code, now)?;
        self.active_seed = self.pending_seed.take();
        Ok(())
    }

    /// Abandons a pending enrolment and its sealed seed.
    pub fn cancel_pending(&mut self) -> bool {
        self.pending_seed = None;
        self.state.cancel_pending()
    }

    /// Turns MFA off ([`MfaState::disable`]) and drops both sealed seeds.
    pub fn disable(&mut self, grant: StepUpGrant<DisableMfa>) -> Result<(), MfaError> {
        self.state.disable(grant)?;
        self.active_seed = None;
        self.pending_seed = None;
        Ok(())
    }

    /// Reads the record, checking its MAC. A vault without a row has never
    /// enrolled MFA.
    pub fn load(conn: &Connection, key: &MfaKey) -> Result<MfaRecord, MfaError> {
        let row = conn
            .query_row(
                "SELECT active_seed, active_since, active_last_step,
                        pending_seed, pending_since, pending_last_step,
                        consecutive_failures, locked_until, lockout_count, mac
                 FROM mfa WHERE id = 1",
                [],
                |row| {
                    Ok(RawRow {
                        active_seed: row.get(0)?,
                        active_since: row.get(1)?,
                        active_last_step: row.get(2)?,
                        pending_seed: row.get(3)?,
                        pending_since: row.get(4)?,
                        pending_last_step: row.get(5)?,
                        consecutive_failures: row.get(6)?,
                        locked_until: row.get(7)?,
                        lockout_count: row.get(8)?,
                        mac: row.get(9)?,
                    })
                },
            )
            .optional()?;
        let Some(raw) = row else {
            let orphans: i64 =
                conn.query_row("SELECT count(*) FROM mfa_recovery_codes", [], |r| r.get(0))?;
            if orphans != 0 {
                return Err(MfaError::Corrupt {
                    what: "recovery codes without an MFA record",
                });
            }
            return Ok(MfaRecord::new());
        };

        let mut active_slots = Vec::new();
        let mut pending_slots = Vec::new();
        {
            let mut stmt = conn.prepare(
                "SELECT stage, slot, hash, used_at FROM mfa_recovery_codes ORDER BY stage, slot",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let stage: String = row.get(0)?;
                let index: i64 = row.get(1)?;
                let hash: Vec<u8> = row.get(2)?;
                let used_at: Option<i64> = row.get(3)?;
                let slot = RecoverySlot {
                    hash: <[u8; 32]>::try_from(hash.as_slice()).map_err(|_| MfaError::Corrupt {
                        what: "recovery hash is not 32 bytes",
                    })?,
                    used_at: opt_u64(used_at, "recovery code use time")?,
                };
                let list = match stage.as_str() {
                    "active" => &mut active_slots,
                    "pending" => &mut pending_slots,
                    _ => {
                        return Err(MfaError::Corrupt {
                            what: "unknown recovery code stage",
                        });
                    }
                };
                if usize::try_from(index).ok() != Some(list.len()) {
                    return Err(MfaError::Corrupt {
                        what: "recovery code slots are not contiguous",
                    });
                }
                list.push(slot);
            }
        }

        let active = stage(
            raw.active_seed.is_some(),
            raw.active_since,
            raw.active_last_step,
            active_slots,
            "active",
        )?;
        let pending = stage(
            raw.pending_seed.is_some(),
            raw.pending_since,
            raw.pending_last_step,
            pending_slots,
            "pending",
        )?;
        let record = MfaRecord {
            state: MfaState {
                active,
                pending,
                consecutive_failures: u32::try_from(raw.consecutive_failures).map_err(|_| {
                    MfaError::Corrupt {
                        what: "failure counter",
                    }
                })?,
                locked_until: opt_u64(raw.locked_until, "lockout time")?,
                lockout_count: u32::try_from(raw.lockout_count).map_err(|_| MfaError::Corrupt {
                    what: "lockout counter",
                })?,
            },
            active_seed: raw.active_seed,
            pending_seed: raw.pending_seed,
        };
        let expected = key.state_mac(&record.encode());
        if raw.mac.len() != 32 || !bool::from(expected.as_slice().ct_eq(&raw.mac)) {
            return Err(MfaError::Corrupt {
                what: "MFA record failed its integrity check",
            });
        }
        Ok(record)
    }

    /// Replaces each sealed seed with `reseal(sealed)` (the vault key
    /// changed); the caller stores the record again, which renews its MAC.
    pub(crate) fn reseal_seeds<E>(
        &mut self,
        mut reseal: impl FnMut(&[u8]) -> Result<Vec<u8>, E>,
    ) -> Result<(), E> {
        if let Some(seed) = &self.active_seed {
            self.active_seed = Some(reseal(seed)?);
        }
        if let Some(seed) = &self.pending_seed {
            self.pending_seed = Some(reseal(seed)?);
        }
        Ok(())
    }

    /// Writes the record (replacing the previous one) inside the caller's
    /// transaction.
    pub fn store(&self, tx: &Transaction<'_>, key: &MfaKey) -> Result<(), MfaError> {
        if self.state.active.is_some() != self.active_seed.is_some() {
            return Err(MfaError::Corrupt {
                what: "active enrolment without its sealed seed",
            });
        }
        if self.state.pending.is_some() != self.pending_seed.is_some() {
            return Err(MfaError::Corrupt {
                what: "pending enrolment without its sealed seed",
            });
        }
        let mac = key.state_mac(&self.encode());
        let active = self.state.active.as_ref();
        let pending = self.state.pending.as_ref();
        tx.execute("DELETE FROM mfa_recovery_codes", [])?;
        tx.execute(
            "INSERT OR REPLACE INTO mfa (
                id, active_seed, active_since, active_last_step,
                pending_seed, pending_since, pending_last_step,
                consecutive_failures, locked_until, lockout_count, mac)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                self.active_seed,
                active.map(|s| to_i64(s.since)).transpose()?,
                active.and_then(|s| s.last_step).map(to_i64).transpose()?,
                self.pending_seed,
                pending.map(|s| to_i64(s.since)).transpose()?,
                pending.and_then(|s| s.last_step).map(to_i64).transpose()?,
                i64::from(self.state.consecutive_failures),
                self.state.locked_until.map(to_i64).transpose()?,
                i64::from(self.state.lockout_count),
                mac.as_slice(),
            ],
        )?;
        let mut insert = tx.prepare(
            "INSERT INTO mfa_recovery_codes (stage, slot, hash, used_at) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (name, stage) in [("active", active), ("pending", pending)] {
            for (i, slot) in stage.iter().flat_map(|s| s.recovery.iter()).enumerate() {
                insert.execute(params![
                    name,
                    i64::try_from(i).map_err(|_| MfaError::Corrupt {
                        what: "too many recovery codes",
                    })?,
                    slot.hash.as_slice(),
                    slot.used_at.map(to_i64).transpose()?,
                ])?;
            }
        }
        Ok(())
    }

    /// The canonical, length-prefixed encoding covered by the row MAC.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        put_bytes(&mut out, ROW_DOMAIN);
        put_opt_bytes(&mut out, self.active_seed.as_deref());
        put_stage(&mut out, self.state.active.as_ref());
        put_opt_bytes(&mut out, self.pending_seed.as_deref());
        put_stage(&mut out, self.state.pending.as_ref());
        out.extend_from_slice(&self.state.consecutive_failures.to_be_bytes());
        put_opt_u64(&mut out, self.state.locked_until);
        out.extend_from_slice(&self.state.lockout_count.to_be_bytes());
        out
    }
}

struct RawRow {
    active_seed: Option<Vec<u8>>,
    active_since: Option<i64>,
    active_last_step: Option<i64>,
    pending_seed: Option<Vec<u8>>,
    pending_since: Option<i64>,
    pending_last_step: Option<i64>,
    consecutive_failures: i64,
    locked_until: Option<i64>,
    lockout_count: i64,
    mac: Vec<u8>,
}

fn stage(
    has_seed: bool,
    since: Option<i64>,
    last_step: Option<i64>,
    recovery: Vec<RecoverySlot>,
    what: &'static str,
) -> Result<Option<Stage>, MfaError> {
    match (has_seed, since) {
        (false, None) if last_step.is_none() && recovery.is_empty() => Ok(None),
        (true, Some(since)) => Ok(Some(Stage {
            since: u64::try_from(since).map_err(|_| MfaError::Corrupt {
                what: "enrolment time",
            })?,
            last_step: opt_u64(last_step, "last accepted step")?,
            recovery,
        })),
        _ => Err(MfaError::Corrupt {
            what: if what == "active" {
                "active enrolment is incomplete"
            } else {
                "pending enrolment is incomplete"
            },
        }),
    }
}

fn opt_u64(value: Option<i64>, what: &'static str) -> Result<Option<u64>, MfaError> {
    value
        .map(|v| u64::try_from(v).map_err(|_| MfaError::Corrupt { what }))
        .transpose()
}

fn to_i64(value: u64) -> Result<i64, MfaError> {
    i64::try_from(value).map_err(|_| MfaError::Corrupt {
        what: "number too large to store",
    })
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

fn put_opt_bytes(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => out.push(0),
        Some(b) => {
            out.push(1);
            put_bytes(out, b);
        }
    }
}

fn put_opt_u64(out: &mut Vec<u8>, value: Option<u64>) {
    match value {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
}

fn put_stage(out: &mut Vec<u8>, stage: Option<&Stage>) {
    match stage {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            out.extend_from_slice(&s.since.to_be_bytes());
            put_opt_u64(out, s.last_step);
            let n = u32::try_from(s.recovery.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&n.to_be_bytes());
            for slot in &s.recovery {
                out.extend_from_slice(&slot.hash);
                put_opt_u64(out, slot.used_at);
            }
        }
    }
}
