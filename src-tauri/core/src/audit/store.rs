//! Persistence of the audit log in the vault's SQLite file.
//!
//! Owns: the `audit_log` and `audit_pending` tables ([`SCHEMA`], to be run
//! by the vault's migrations), appending inside the caller's transaction,
//! reading with a filter, and verifying the stored chain. Must never: open
//! or commit a transaction of its own for an append — the entry commits
//! with the change it records, or not at all.
//!
//! Rows are read in insertion order (`id`, an `AUTOINCREMENT` key that is
//! never reused), not by `seq`: rows deleted and re-inserted in another
//! order therefore show up as [`AuditError::Reordered`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::chain::{LinkCheck, SelfCheck};
use super::{
    Action, Actor, AuditError, AuditKey, ChainHead, Details, Entry, Mac, NewEvent, next_entry,
    unix_ms,
};

/// The audit tables. One migration step: the vault's migration list runs it
/// once, inside its migration transaction (the frozen
/// `vault/migrations/02_audit.sql`).
pub const SCHEMA: &str = include_str!("../vault/migrations/02_audit.sql");

const COLUMNS: &str = "seq, time_ms, actor, action, key_id, key_label, details, prev_mac, mac";

/// Appends `event` to the chain inside the caller's transaction and returns
/// the stored entry. The caller then seals `entry.head()` into the vault
/// metadata in the same transaction.
///
/// The previous entry is the stored one with the highest sequence number,
/// read inside `tx` — with the vault's `BEGIN IMMEDIATE` write transaction
/// two processes (the GUI and the CLI on one vault) cannot fork the chain.
pub fn append(tx: &Transaction<'_>, key: &AuditKey, event: NewEvent) -> Result<Entry, AuditError> {
    let prev = last_head(tx)?;
    let entry = next_entry(&prev, key, event)?;
    insert(tx, &entry)?;
    Ok(entry)
}

/// The head of the stored chain (the entry with the highest sequence
/// number), or [`ChainHead::GENESIS`] for an empty log. Not verified: use
/// [`verify`] for that.
pub fn last_head(conn: &Connection) -> Result<ChainHead, AuditError> {
    let row = conn
        .query_row(
            "SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?)),
        )
        .optional()?;
    match row {
        None => Ok(ChainHead::GENESIS),
        Some((seq, mac)) => {
            let seq = u64::try_from(seq).map_err(|_| AuditError::Corrupt {
                seq: 0,
                what: "negative sequence number",
            })?;
            let mac = Mac::from_slice(&mac).ok_or(AuditError::Corrupt {
                seq,
                what: "MAC is not 32 bytes",
            })?;
            Ok(ChainHead { seq, mac })
        }
    }
}

fn insert(tx: &Transaction<'_>, entry: &Entry) -> Result<(), AuditError> {
    let seq = i64::try_from(entry.seq).map_err(|_| AuditError::SequenceExhausted)?;
    tx.execute(
        "INSERT INTO audit_log (seq, time_ms, actor, action, key_id, key_label, details, prev_mac, mac)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            seq,
            entry.time_ms,
            entry.actor.as_str(),
            entry.action.as_str(),
            entry.key_id,
            entry.key_label,
            entry.details,
            entry.prev_mac.as_bytes().as_slice(),
            entry.mac.as_bytes().as_slice(),
        ],
    )?;
    Ok(())
}

/// Which entries [`read`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditFilter {
    /// Only entries about this key id.
    pub key_id: Option<String>,
    /// Only entries that name this key label (as it was at the time).
    pub key_label: Option<String>,
    /// Only these actions (any, if empty).
    pub actions: Vec<Action>,
    /// Only entries at or after this unix time in milliseconds.
    pub since_ms: Option<i64>,
    /// Only entries before this unix time in milliseconds.
    pub until_ms: Option<i64>,
    /// At most this many entries: the newest ones, still returned oldest
    /// first.
    pub limit: Option<u32>,
}

impl AuditFilter {
    /// Every entry.
    pub fn all() -> Self {
        AuditFilter::default()
    }

    /// Entries about one key.
    pub fn for_key(key_id: impl Into<String>) -> Self {
        AuditFilter {
            key_id: Some(key_id.into()),
            ..AuditFilter::default()
        }
    }

    /// Entries that name a key by this label (also finds entries about a
    /// key that has since been deleted or renamed away from it).
    pub fn for_label(label: impl Into<String>) -> Self {
        AuditFilter {
            key_label: Some(label.into()),
            ..AuditFilter::default()
        }
    }

    /// Only these actions.
    pub fn with_actions(mut self, actions: impl IntoIterator<Item = Action>) -> Self {
        self.actions = actions.into_iter().collect();
        self
    }

    /// Only entries in `[since_ms, until_ms)`.
    pub fn between(mut self, since_ms: Option<i64>, until_ms: Option<i64>) -> Self {
        self.since_ms = since_ms;
        self.until_ms = until_ms;
        self
    }

    /// At most the newest `limit` entries.
    pub fn with_limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }
}

/// Entries matching `filter`, oldest first (storage order). Reading does
/// not verify: call [`verify`] for that (the GUI's "verify" button, `keyward
/// log --verify`, and every unlock).
pub fn read(conn: &Connection, filter: &AuditFilter) -> Result<Vec<Entry>, AuditError> {
    let mut sql = format!("SELECT {COLUMNS} FROM audit_log WHERE 1 = 1");
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(key_id) = &filter.key_id {
        args.push(key_id.clone().into());
        sql.push_str(&format!(" AND key_id = ?{}", args.len()));
    }
    if let Some(label) = &filter.key_label {
        args.push(label.clone().into());
        sql.push_str(&format!(" AND key_label = ?{}", args.len()));
    }
    if !filter.actions.is_empty() {
        let mut marks = Vec::with_capacity(filter.actions.len());
        for action in &filter.actions {
            args.push(action.as_str().to_owned().into());
            marks.push(format!("?{}", args.len()));
        }
        sql.push_str(&format!(" AND action IN ({})", marks.join(", ")));
    }
    if let Some(since) = filter.since_ms {
        args.push(since.into());
        sql.push_str(&format!(" AND time_ms >= ?{}", args.len()));
    }
    if let Some(until) = filter.until_ms {
        args.push(until.into());
        sql.push_str(&format!(" AND time_ms < ?{}", args.len()));
    }
    sql.push_str(" ORDER BY id DESC");
    if let Some(limit) = filter.limit {
        args.push(i64::from(limit).into());
        sql.push_str(&format!(" LIMIT ?{}", args.len()));
    }
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(entry_from_row(row)?);
    }
    out.reverse();
    Ok(out)
}

/// Verifies the whole stored chain against the head the vault sealed.
/// Streams the table twice (see [`super::verify_chain`] for the order of
/// checks), so memory does not grow with the log.
pub fn verify(
    conn: &Connection,
    key: &AuditKey,
    sealed_head: &ChainHead,
) -> Result<(), AuditError> {
    let sql = format!("SELECT {COLUMNS} FROM audit_log ORDER BY id");
    let mut stmt = conn.prepare(&sql)?;

    let mut first = SelfCheck::new(key);
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        first.push(&entry_from_row(row)?)?;
    }
    drop(rows);

    let mut second = LinkCheck::new();
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        second.push(&entry_from_row(row)?)?;
    }
    second.finish(sealed_head)
}

fn entry_from_row(row: &Row<'_>) -> Result<Entry, AuditError> {
    let raw_seq: i64 = row.get(0)?;
    let seq = u64::try_from(raw_seq).map_err(|_| AuditError::Corrupt {
        seq: 0,
        what: "negative sequence number",
    })?;
    let corrupt = |what| AuditError::Corrupt { seq, what };
    let actor: String = row.get(2)?;
    let action: String = row.get(3)?;
    let prev_mac: Vec<u8> = row.get(7)?;
    let mac: Vec<u8> = row.get(8)?;
    Ok(Entry {
        seq,
        time_ms: row.get(1)?,
        actor: Actor::from_name(&actor).ok_or_else(|| corrupt("unknown actor"))?,
        action: Action::from_name(&action).ok_or_else(|| corrupt("unknown action"))?,
        key_id: row.get(4)?,
        key_label: row.get(5)?,
        details: row.get(6)?,
        prev_mac: Mac::from_slice(&prev_mac).ok_or_else(|| corrupt("prev_mac is not 32 bytes"))?,
        mac: Mac::from_slice(&mac).ok_or_else(|| corrupt("MAC is not 32 bytes"))?,
    })
}

/// The failed-unlock methods [`record_failed_unlock`] may record.
pub const FAILED_UNLOCK_METHODS: &[&str] = &["password", "device"];

/// The finding chained for an event recorded while locked that is not the
/// fixed failed-unlock record.
pub const REFUSED_PENDING: &str = "an event recorded while the vault was locked was refused: only a \
     failed unlock can be recorded without the vault key";

/// Records a failed unlock, which happens while the vault is locked, when
/// there is no audit key to chain it with. [`absorb_pending`] moves it into
/// the chain at the next unlock. `method` is one of
/// [`FAILED_UNLOCK_METHODS`].
///
/// Until then the record is unauthenticated: someone with write access to
/// the file could delete it, or add rows of their own. That is why the
/// table carries no authority: [`absorb_pending`] accepts nothing but this
/// fixed record (actor, `unlock_failed`, the method) and clamps its time.
pub fn record_failed_unlock(
    conn: &Connection,
    actor: Actor,
    method: &'static str,
    time: SystemTime,
) -> Result<(), AuditError> {
    let details = Details::new().with("method", method).to_stored_text()?;
    conn.execute(
        "INSERT INTO audit_pending (time_ms, actor, action, details) VALUES (?1, ?2, ?3, ?4)",
        params![
            unix_ms(time),
            actor.as_str(),
            Action::UnlockFailed.as_str(),
            details
        ],
    )?;
    Ok(())
}

/// The pending row as the fixed failed-unlock record, or `None`: a front
/// end's actor, `unlock_failed`, and details that are exactly one known
/// method. Nothing of the row is kept but the actor and the method.
fn failed_unlock(actor: &str, action: &str, details: &str) -> Option<(Actor, &'static str)> {
    let actor = Actor::from_name(actor).filter(|a| matches!(a, Actor::Cli | Actor::Gui))?;
    if Action::from_name(action) != Some(Action::UnlockFailed) {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(details).ok()?;
    let map = value.as_object().filter(|m| m.len() == 1)?;
    let method = map.get("method")?.as_str()?;
    let method = FAILED_UNLOCK_METHODS
        .iter()
        .copied()
        .find(|m| *m == method)?;
    Some((actor, method))
}

/// Appends the failed unlocks recorded while locked to the chain, oldest
/// first, then clears the table. Call right after a successful unlock, in
/// the unlock's write transaction, before appending the unlock itself.
/// Returns the entries appended.
///
/// The table is unauthenticated input, so it carries no authority: a row
/// that is not the fixed failed-unlock record (a forged `export` or
/// `mfa_disabled`, an unknown action, odd details) is not chained as what
/// it claims but as an `audit_integrity_failed` finding naming the claimed
/// action ([`REFUSED_PENDING`]). It does not block the unlock. Each time
/// is clamped between the last chained entry's time (and the previous
/// pending row's) and `now`, so a row cannot pose as older than entries
/// already in the log or as coming from the future.
pub fn absorb_pending(
    tx: &Transaction<'_>,
    key: &AuditKey,
    now: SystemTime,
) -> Result<Vec<Entry>, AuditError> {
    let pending = {
        let mut stmt = tx
            .prepare("SELECT id, time_ms, actor, action, details FROM audit_pending ORDER BY id")?;
        let rows = stmt.query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
            ))
        })?;
        rows.collect::<Result<Vec<_>, _>>()?
    };
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let mut floor: i64 = tx
        .query_row(
            "SELECT time_ms FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0)
        .max(0);
    let now_ms = unix_ms(now);
    let mut out = Vec::with_capacity(pending.len());
    for (id, time_ms, actor, action, details) in pending {
        let time_ms = time_ms.clamp(floor, floor.max(now_ms));
        floor = time_ms;
        let time = UNIX_EPOCH + Duration::from_millis(u64::try_from(time_ms).unwrap_or(0));
        let event = match failed_unlock(&actor, &action, &details) {
            Some((actor, method)) => NewEvent::new(actor, Action::UnlockFailed, time).with_details(
                Details::new()
                    .with("method", method)
                    .with("recorded_while_locked", true),
            ),
            None => NewEvent::new(Actor::System, Action::AuditIntegrityFailed, time).with_details(
                Details::new()
                    .with("finding", REFUSED_PENDING)
                    .with(
                        "claimed",
                        Action::from_name(&action).map_or("unknown", Action::as_str),
                    )
                    .with("recorded_while_locked", true),
            ),
        };
        out.push(append(tx, key, event)?);
        tx.execute("DELETE FROM audit_pending WHERE id = ?1", params![id])?;
    }
    Ok(out)
}
