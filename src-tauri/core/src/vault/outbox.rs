//! The kernel's outbox: rows a feature queues inside a write's transaction
//! for delivery after commit (the `alert_outbox` table of the frozen
//! migrations 6 → 7 and 8 → 9; today alerts' webhook events), each with a
//! MAC.
//!
//! Owns: the MAC of each row, an HMAC-SHA256 under an HKDF subkey of the
//! vault's MAC root over its sequence number, time, text, attempts and
//! next attempt, so a row written into the file by anyone else is never
//! handed out: [`Session::outbox_due`] returns only rows whose MAC checks,
//! and the unlock drops the rest ([`check_macs`], called by `state_seal`,
//! which also notices a deleted or rolled-back row through its digest of
//! the whole outbox). Must never: read meaning into a row's text (the
//! feature that queued it owns that), or hand out a row whose MAC fails.

use rusqlite::params;

use super::error::VaultError;
use super::session::{Sealer, Session};

/// HKDF `info` of the outbox MAC key.
const OUTBOX_KEY_INFO: &[u8] = b"keyward alert outbox v1";
/// Domain tag of an outbox row's MAC.
const OUTBOX_ROW_DOMAIN: &[u8] = b"keyward outbox row v1";

/// The MAC of one outbox row: HMAC-SHA256 under a subkey of the vault key
/// over the row's sequence number, creation time, attempts, next attempt
/// and event text (length-prefixed).
fn outbox_mac(
    sealer: &Sealer<'_>,
    seq: i64,
    created_at: i64,
    attempts: i64,
    next_at: i64,
    event: &str,
) -> [u8; 32] {
    use hmac::{KeyInit, Mac};
    let mut subkey = zeroize::Zeroizing::new([0u8; 32]);
    if hkdf::Hkdf::<sha2::Sha256>::new(None, sealer.key.mac_root())
        .expand(OUTBOX_KEY_INFO, subkey.as_mut())
        .is_err()
    {
        unreachable!("HKDF-SHA256 expands 32 bytes");
    }
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(subkey.as_ref())
        .expect("HMAC accepts keys of any length");
    mac.update(OUTBOX_ROW_DOMAIN);
    for n in [seq, created_at, attempts, next_at] {
        mac.update(&n.to_be_bytes());
    }
    mac.update(&(event.len() as u64).to_be_bytes());
    mac.update(event.as_bytes());
    mac.finalize().into_bytes().into()
}

/// An outbox row as stored: seq, created_at, event, attempts, next_at, mac.
type OutboxRow = (i64, i64, String, i64, i64, Option<Vec<u8>>);

/// Recomputes and stores the MAC of outbox row `seq` as it now stands.
pub(crate) fn remac(
    tx: &rusqlite::Connection,
    sealer: &Sealer<'_>,
    seq: i64,
) -> Result<(), VaultError> {
    let (created_at, event, attempts, next_at): (i64, String, i64, i64) = tx.query_row(
        "SELECT created_at, event, attempts, next_at FROM alert_outbox WHERE seq = ?1",
        params![seq],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let mac = outbox_mac(sealer, seq, created_at, attempts, next_at, &event);
    tx.execute(
        "UPDATE alert_outbox SET mac = ?2 WHERE seq = ?1",
        params![seq, &mac[..]],
    )?;
    Ok(())
}

/// Checks every outbox row's MAC inside the unlock's transaction and
/// deletes the rows that fail (never sent); returns how many. With
/// `adopt` (a vault's first sealed unlock) rows without a MAC, queued
/// before MACs existed, get one instead.
pub(crate) fn check_macs(
    tx: &rusqlite::Connection,
    sealer: &Sealer<'_>,
    adopt: bool,
) -> Result<usize, VaultError> {
    let rows: Vec<OutboxRow> = {
        let mut stmt = tx.prepare(
            "SELECT seq, created_at, event, attempts, next_at, mac FROM alert_outbox
             ORDER BY seq",
        )?;
        stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<Result<_, _>>()?
    };
    let mut dropped = 0;
    for (seq, created_at, event, attempts, next_at, mac) in rows {
        let expected = outbox_mac(sealer, seq, created_at, attempts, next_at, &event);
        match mac {
            None if adopt => {
                tx.execute(
                    "UPDATE alert_outbox SET mac = ?2 WHERE seq = ?1",
                    params![seq, &expected[..]],
                )?;
            }
            Some(mac) if bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], &mac[..])) => {}
            _ => {
                tx.execute("DELETE FROM alert_outbox WHERE seq = ?1", params![seq])?;
                dropped += 1;
            }
        }
    }
    Ok(dropped)
}

/// Queues `text` (created at `created_at`) inside the caller's transaction
/// and MACs the new row.
pub(crate) fn push(
    tx: &rusqlite::Connection,
    sealer: &Sealer<'_>,
    created_at: i64,
    text: &str,
) -> Result<(), VaultError> {
    tx.execute(
        "INSERT INTO alert_outbox (created_at, event) VALUES (?1, ?2)",
        params![created_at, text],
    )?;
    remac(tx, sealer, tx.last_insert_rowid())
}

impl Session {
    /// Up to `limit` queued rows whose next attempt is due at `now`, as
    /// (seq, text, attempts), oldest first. The outbox must be as the last
    /// sealed write left it (a row deleted or put back since is refused
    /// here, and reported at the next unlock), and each row returned
    /// carries a MAC that checks.
    pub(crate) fn outbox_due(
        &mut self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String, i64)>, VaultError> {
        let Session {
            conn, key, header, ..
        } = &*self;
        let key = key.as_ref().ok_or(VaultError::Locked)?;
        let sealer = Sealer {
            key,
            vault_id: &header.vault_id,
            hooks: &[],
        };
        super::state_seal::before_write(conn, &sealer)?;
        let mut stmt = conn.prepare(
            "SELECT seq, created_at, event, attempts, next_at, mac FROM alert_outbox
             WHERE next_at <= ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows: Vec<OutboxRow> = stmt
            .query_map(params![now, limit], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows
            .into_iter()
            .filter(|(seq, created_at, event, attempts, next_at, mac)| {
                let expected = outbox_mac(&sealer, *seq, *created_at, *attempts, *next_at, event);
                mac.as_deref()
                    .is_some_and(|m| bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], m)))
            })
            .map(|(seq, _, event, attempts, _, _)| (seq, event, attempts))
            .collect())
    }
}
