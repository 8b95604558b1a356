//! The key records' side of the vault: the queries and row changes behind
//! listing, searching, editing and deleting keys and changing their linked
//! services.
//!
//! Owns: the search condition, the ordered listing, the `UPDATE` of an
//! edit, the `DELETE` of a key and the stored list of a key's services.
//! Every change runs inside the vault's write path (the caller's
//! transaction and [`Sealer`]), and a change to a row goes through the
//! vault's row-MAC update (verify, change, MAC again). Must never: change
//! a row outside the write path, or write a secret unsealed. The vault does
//! not know this module: keys import the vault, never the other way round.

use rusqlite::{Connection, OptionalExtension, ToSql, Transaction, params};

use crate::model::KeySummary;
use crate::model::validate::ValidationError;
use crate::vault::{self, KEY_COLUMNS, KeyRow, Sealer, VaultError};

/// A column of an edit and its new value.
pub(super) type Set = (&'static str, Box<dyn ToSql>);

/// The summary of the key with record id `id`.
pub(super) fn summary_by_id(
    conn: &Connection,
    id: &[u8; 16],
    default_days: u32,
) -> Result<KeySummary, VaultError> {
    let row = conn.query_row(
        &format!("SELECT {KEY_COLUMNS} FROM keys WHERE id = ?1"),
        params![&id[..]],
        KeyRow::read,
    )?;
    row.summary(default_days)
}

/// The summaries of the keys `filter` (a `WHERE` clause, or nothing)
/// selects, sorted by label.
pub(super) fn summaries(
    conn: &Connection,
    filter: &str,
    args: &[&dyn ToSql],
    default_days: u32,
) -> Result<Vec<KeySummary>, VaultError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {KEY_COLUMNS} FROM keys {filter} ORDER BY label COLLATE NOCASE, label"
    ))?;
    let rows = stmt.query_map(args, KeyRow::read)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row?.summary(default_days)?);
    }
    Ok(out)
}

/// The summaries of the keys matching `query` (see [`search_filter`]).
pub(super) fn search(
    conn: &Connection,
    query: &str,
    default_days: u32,
) -> Result<Vec<KeySummary>, VaultError> {
    let pattern = like_pattern(query);
    summaries(
        conn,
        &format!("WHERE {}", search_filter(query)),
        &[&pattern],
        default_days,
    )
}

/// The record ids of the keys matching `query`, in [`search`]'s order.
pub(super) fn search_ids(conn: &Connection, query: &str) -> Result<Vec<String>, VaultError> {
    let pattern = like_pattern(query);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id FROM keys WHERE {} ORDER BY label COLLATE NOCASE, label",
        search_filter(query)
    ))?;
    let ids = stmt.query_map(params![pattern], |r| r.get::<_, Vec<u8>>(0))?;
    let mut out = Vec::new();
    for id in ids {
        let id: [u8; 16] = id?.try_into().map_err(|_| VaultError::Malformed {
            record: "key".to_owned(),
            field: "id",
        })?;
        out.push(uuid::Uuid::from_bytes(id).to_string());
    }
    Ok(out)
}

/// The condition [`crate::vault::Session::search_keys`] selects with: `?1` (a LIKE
/// pattern of `query`) against label, exchange, key id, notes and linked
/// services. Services match by name and host only, never by the JSON's own
/// words or a service's notes. The plain LIKE over the stored text is a
/// cheap superset that spares most rows the JSON walk; it is skipped when
/// the query holds characters JSON escapes.
fn search_filter(query: &str) -> String {
    let prefilter = if query.contains(['"', '\\']) || query.chars().any(char::is_control) {
        ""
    } else {
        "linked_services LIKE ?1 ESCAPE '\\' AND "
    };
    format!(
        "label LIKE ?1 ESCAPE '\\' OR exchange LIKE ?1 ESCAPE '\\'
           OR api_key_id LIKE ?1 ESCAPE '\\' OR notes LIKE ?1 ESCAPE '\\'
           OR ({prefilter}EXISTS (SELECT 1 FROM json_each(
                  CASE WHEN json_valid(linked_services) THEN linked_services ELSE '[]' END) AS s
                WHERE (CASE s.type WHEN 'text' THEN s.value
                       ELSE json_extract(s.value, '$.name') END) LIKE ?1 ESCAPE '\\'
                   OR (s.type = 'object'
                       AND json_extract(s.value, '$.host') LIKE ?1 ESCAPE '\\')))"
    )
}

/// A LIKE pattern matching `query` anywhere, with `%`, `_` and `\` escaped.
fn like_pattern(query: &str) -> String {
    let mut pattern = String::with_capacity(query.len() + 2);
    pattern.push('%');
    for c in query.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Applies an edit to the row `id` inside the write path: refuses a label
/// another key has, seals a new secret or passphrase (an empty passphrase
/// removes it), then updates the row under its MAC. Nothing to set writes
/// nothing.
pub(super) fn update(
    tx: &Transaction<'_>,
    sealer: &Sealer<'_>,
    id: &[u8; 16],
    edit: &crate::model::KeyEdit,
    mut sets: Vec<Set>,
) -> Result<(), VaultError> {
    if let Some(l) = &edit.label
        && vault::label_taken(tx, l, Some(id))?
    {
        return Err(ValidationError::DuplicateLabel { label: l.clone() }.into());
    }
    if let Some(secret) = &edit.secret {
        let blob = sealer.seal(id, "secret", secret.expose().as_bytes())?;
        sets.push(("secret", Box::new(blob)));
    }
    if let Some(p) = &edit.passphrase {
        let blob = if p.is_empty() {
            None
        } else {
            Some(sealer.seal(id, "passphrase", p.expose().as_bytes())?)
        };
        sets.push(("passphrase", Box::new(blob)));
    }
    if sets.is_empty() {
        return Ok(());
    }
    let assignments: Vec<String> = sets
        .iter()
        .enumerate()
        .map(|(i, (col, _))| format!("{col} = ?{}", i + 2))
        .collect();
    let sql = format!("UPDATE keys SET {} WHERE id = ?1", assignments.join(", "));
    let id_vec = id.to_vec();
    let mut args: Vec<&dyn ToSql> = vec![&id_vec];
    for (_, v) in &sets {
        args.push(v.as_ref());
    }
    vault::update_key_row(tx, sealer, id, &sql, args.as_slice())?;
    Ok(())
}

/// Deletes the row `id`. No MAC check: deleting exposes nothing, and it is
/// the way out of a tampered record.
pub(super) fn delete(tx: &Transaction<'_>, id: &[u8; 16]) -> Result<(), VaultError> {
    tx.execute("DELETE FROM keys WHERE id = ?1", params![&id[..]])?;
    Ok(())
}

/// The record id and the stored services of the key `label`, read inside
/// `tx`; the row's MAC is verified first.
pub(super) fn read_services(
    tx: &Transaction<'_>,
    sealer: &Sealer<'_>,
    label: &str,
) -> Result<([u8; 16], Vec<crate::model::service::LinkedService>), VaultError> {
    let (id, text): (Vec<u8>, String) = tx
        .query_row(
            "SELECT id, linked_services FROM keys WHERE label = ?1",
            params![label],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .ok_or_else(|| VaultError::KeyNotFound {
            label: label.to_owned(),
        })?;
    let id: [u8; 16] = id
        .as_slice()
        .try_into()
        .map_err(|_| VaultError::Malformed {
            record: label.to_owned(),
            field: "id",
        })?;
    vault::verify_key_row(tx, sealer, &id)?;
    let list = crate::model::service::from_json(&text).ok_or_else(|| VaultError::Malformed {
        record: label.to_owned(),
        field: "linked_services",
    })?;
    Ok((id, list))
}

/// Stores `list` as the services of the row `id` (verified by
/// [`read_services`] in the same transaction) and MACs the row again.
pub(super) fn write_services(
    tx: &Transaction<'_>,
    sealer: &Sealer<'_>,
    id: &[u8; 16],
    list: &[crate::model::service::LinkedService],
) -> Result<(), VaultError> {
    tx.execute(
        "UPDATE keys SET linked_services = ?2 WHERE id = ?1",
        params![&id[..], crate::model::service::to_json(list)?],
    )?;
    vault::seal_key_row(tx, sealer, id)
}

#[cfg(test)]
mod tests {
    /// Keys import the vault, never the other way round.
    #[test]
    fn the_vault_does_not_import_keys() {
        let naming = crate::vault::sources_naming(&["crate::keys", "super::keys", "keys::"]);
        assert!(naming.is_empty(), "the vault imports keys: {naming:?}");
    }
}
