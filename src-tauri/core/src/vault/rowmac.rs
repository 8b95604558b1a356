//! Authenticated key rows.
//!
//! Owns: the MAC over every column of a `keys` row (`keys.row_mac`), under a
//! key derived from the vault key. Secrets are sealed with AES-GCM and their
//! AAD binds them to their record id, but the plain columns beside them —
//! label, exchange, environment, base URL, key type, status, scopes, IP
//! whitelist, the "allow run" grant, linked services — decide where a secret
//! is sent and who may have it. Without a MAC, `UPDATE keys SET allow_run = 1`
//! or two swapped labels would pass for the user's own choices.
//!
//! Every column except `row_mac` itself is covered, including the sealed
//! blobs (so an older sealed secret of the same record cannot be put back
//! either) and the last check's result. Every write to a row goes through
//! [`update`] (verify the current MAC, change, MAC again), so a tampered row
//! is never laundered by a later legitimate write.
//!
//! Columns added after row MACs existed ([`LATER`]) are MAC'd only when they
//! hold something other than their default: a row MAC'd before such a column
//! existed stays valid, and setting the column by hand changes the MAC.
//!
//! Must never: recompute the MAC of a row without first verifying it, or
//! skip a column (a test compares [`COLUMNS`] with the table's schema).

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, params};
use secrecy::{ExposeSecret, SecretBox};
use sha2::Sha256;

use super::error::VaultError;
use super::session::Sealer;

const HKDF_INFO: &[u8] = b"keyward key-row mac v1";
const DOMAIN: &[u8] = b"keyward key row v1\0";

/// Every column of `keys` except `row_mac`, in the order they are MAC'd.
pub(crate) const COLUMNS: &[&str] = &[
    "id",
    "label",
    "exchange",
    "environment",
    "base_url",
    "api_key_id",
    "secret",
    "passphrase",
    "key_type",
    "scopes",
    "ip_whitelist",
    "linked_services",
    "notes",
    "created_at",
    "last_rotated_at",
    "rotate_every_days",
    "status",
    "last_audit_at",
    "last_audit_result",
    "last_audit_permissions",
    "allow_run",
    "host_confirmed",
];

/// Columns added after row MACs, with the default a migration gives every
/// existing row. Each is MAC'd (after [`COLUMNS`], name and value) only
/// when its value differs from the default, so the MAC of a row that never
/// used it is the MAC it had before the column existed.
pub(crate) const LATER: &[(&str, Unset)] = &[
    ("manager", Unset::Zero),
    ("sub_account", Unset::Null),
    ("auto_rotate", Unset::Zero),
];

/// The value a [`LATER`] column has when it was never set.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Unset {
    /// SQL `NULL`.
    Null,
    /// The integer 0.
    Zero,
}

impl Unset {
    fn is(self, value: ValueRef<'_>) -> bool {
        matches!(
            (self, value),
            (Unset::Null, ValueRef::Null) | (Unset::Zero, ValueRef::Integer(0))
        )
    }
}

/// The row-MAC key, derived from the vault key.
pub(crate) struct RowKey(SecretBox<[u8; 32]>);

impl RowKey {
    pub(crate) fn derive(vault_key: &[u8]) -> Self {
        RowKey(SecretBox::init_with_mut(|okm: &mut [u8; 32]| {
            if Hkdf::<Sha256>::new(None, vault_key)
                .expand(HKDF_INFO, okm)
                .is_err()
            {
                unreachable!("HKDF-SHA256 expands 32 bytes");
            }
        }))
    }

    fn hmac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as KeyInit>::new_from_slice(self.0.expose_secret())
            .expect("HMAC accepts keys of any length")
    }
}

fn select_sql() -> String {
    let later: Vec<&str> = LATER.iter().map(|(name, _)| *name).collect();
    format!(
        "SELECT {}, {}, row_mac FROM keys WHERE id = ?1",
        COLUMNS.join(", "),
        later.join(", ")
    )
}

/// Canonical, unambiguous encoding of one value: a type tag, then a
/// fixed-width integer or a length-prefixed byte string.
fn encode_value(mac: &mut Hmac<Sha256>, value: ValueRef<'_>) {
    match value {
        ValueRef::Null => mac.update(&[0]),
        ValueRef::Integer(i) => {
            mac.update(&[1]);
            mac.update(&i.to_be_bytes());
        }
        ValueRef::Real(f) => {
            mac.update(&[2]);
            mac.update(&f.to_bits().to_be_bytes());
        }
        ValueRef::Text(t) => {
            mac.update(&[3]);
            mac.update(&(t.len() as u64).to_be_bytes());
            mac.update(t);
        }
        ValueRef::Blob(b) => {
            mac.update(&[4]);
            mac.update(&(b.len() as u64).to_be_bytes());
            mac.update(b);
        }
    }
}

/// The row as stored: its computed MAC, its stored MAC and its label.
struct Stored {
    computed: [u8; 32],
    stored: Option<Vec<u8>>,
    label: String,
}

fn read(
    conn: &Connection,
    key: &RowKey,
    vault_id: &[u8; 16],
    id: &[u8; 16],
) -> Result<Option<Stored>, VaultError> {
    let mut stmt = conn.prepare_cached(&select_sql())?;
    let found = stmt
        .query_row(params![&id[..]], |r| {
            let mut mac = key.hmac();
            mac.update(DOMAIN);
            mac.update(vault_id);
            for (i, name) in COLUMNS.iter().enumerate() {
                mac.update(&(name.len() as u64).to_be_bytes());
                mac.update(name.as_bytes());
                encode_value(&mut mac, r.get_ref(i)?);
            }
            for (j, (name, default)) in LATER.iter().enumerate() {
                let value = r.get_ref(COLUMNS.len() + j)?;
                if !default.is(value) {
                    mac.update(&(name.len() as u64).to_be_bytes());
                    mac.update(name.as_bytes());
                    encode_value(&mut mac, value);
                }
            }
            let label = match r.get_ref(1)? {
                ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                _ => String::new(),
            };
            Ok(Stored {
                computed: mac.finalize().into_bytes().into(),
                stored: r.get(COLUMNS.len() + LATER.len())?,
                label,
            })
        })
        .optional()?;
    Ok(found)
}

fn tampered(id: &[u8; 16], label: &str) -> VaultError {
    VaultError::RecordTampered {
        label: label.to_owned(),
        id: uuid::Uuid::from_bytes(*id).to_string(),
    }
}

/// Checks the MAC of the row `id`. A missing row is not an error here (the
/// caller reports "not found" in its own words); a missing or wrong MAC is
/// [`VaultError::RecordTampered`].
pub(crate) fn verify(
    conn: &Connection,
    sealer: &Sealer<'_>,
    id: &[u8; 16],
) -> Result<(), VaultError> {
    let Some(row) = read(conn, &sealer.row_key(), sealer.vault_id, id)? else {
        return Ok(());
    };
    let ok = row
        .stored
        .as_deref()
        .is_some_and(|s| constant_time_eq(s, &row.computed));
    if ok {
        Ok(())
    } else {
        Err(tampered(id, &row.label))
    }
}

/// MACs the row `id` as it is now. Only for a row this transaction has just
/// inserted, or inside [`update`] after verifying it.
pub(crate) fn seal(
    conn: &Connection,
    sealer: &Sealer<'_>,
    id: &[u8; 16],
) -> Result<(), VaultError> {
    let Some(row) = read(conn, &sealer.row_key(), sealer.vault_id, id)? else {
        return Ok(());
    };
    conn.execute(
        "UPDATE keys SET row_mac = ?2 WHERE id = ?1",
        params![&id[..], &row.computed[..]],
    )?;
    Ok(())
}

/// Runs `change` on the row `id` inside the caller's transaction: verifies
/// the row first (a tampered row is refused, not re-authenticated), then
/// MACs the changed row.
pub(crate) fn update<T>(
    conn: &Connection,
    sealer: &Sealer<'_>,
    id: &[u8; 16],
    change: impl FnOnce() -> Result<T, VaultError>,
) -> Result<T, VaultError> {
    verify(conn, sealer, id)?;
    let out = change()?;
    seal(conn, sealer, id)?;
    Ok(out)
}

/// One `UPDATE keys … WHERE id = ?1` through [`update`].
pub(crate) fn execute(
    conn: &Connection,
    sealer: &Sealer<'_>,
    id: &[u8; 16],
    sql: &str,
    args: impl rusqlite::Params,
) -> Result<usize, VaultError> {
    update(conn, sealer, id, || Ok(conn.execute(sql, args)?))
}

/// MACs every row. Used once, when a vault from before row MACs is first
/// unlocked (the sealed settings then record that rows are authenticated,
/// so a later missing MAC is tampering), and after the vault key changes.
pub(crate) fn seal_all(conn: &Connection, sealer: &Sealer<'_>) -> Result<usize, VaultError> {
    let ids = all_ids(conn)?;
    for id in &ids {
        seal(conn, sealer, id)?;
    }
    Ok(ids.len())
}

/// Every row whose MAC is missing or wrong: `(record id, label)`.
pub(crate) fn damaged(
    conn: &Connection,
    sealer: &Sealer<'_>,
) -> Result<Vec<(String, String)>, VaultError> {
    let key = sealer.row_key();
    let mut out = Vec::new();
    for id in all_ids(conn)? {
        if let Some(row) = read(conn, &key, sealer.vault_id, &id)?
            && !row
                .stored
                .as_deref()
                .is_some_and(|s| constant_time_eq(s, &row.computed))
        {
            out.push((uuid::Uuid::from_bytes(id).to_string(), row.label));
        }
    }
    Ok(out)
}

fn all_ids(conn: &Connection) -> Result<Vec<[u8; 16]>, VaultError> {
    let mut stmt = conn.prepare("SELECT id FROM keys ORDER BY label")?;
    let ids = stmt
        .query_map([], |r| r.get::<_, Vec<u8>>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ids
        .into_iter()
        .map(|id| id.try_into().unwrap_or([0xFF; 16]))
        .collect())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covered_columns_are_every_column_of_keys() {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::super::store::create(&dir.path().join("v.keyward")).unwrap();
        let mut stmt = conn
            .prepare("SELECT name FROM pragma_table_info('keys')")
            .unwrap();
        let mut cols: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        cols.retain(|c| c != "row_mac");
        cols.sort();
        let mut covered: Vec<String> = COLUMNS
            .iter()
            .copied()
            .chain(LATER.iter().map(|(name, _)| *name))
            .map(str::to_owned)
            .collect();
        covered.sort();
        assert_eq!(
            cols, covered,
            "a column of `keys` is not covered by the row MAC"
        );
    }

    /// A row MAC'd before the `LATER` columns existed keeps its MAC; setting
    /// one of them by hand breaks it.
    #[test]
    fn later_columns_count_only_once_set() {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::super::store::create(&dir.path().join("v.keyward")).unwrap();
        let key = RowKey::derive(&[7; 32]);
        let vault_id = [1u8; 16];
        let id = [2u8; 16];
        conn.execute(
            "INSERT INTO keys (id, label, exchange, environment, api_key_id, secret, key_type,
                 scopes, ip_whitelist, linked_services, notes, created_at, status)
             VALUES (?1, 'k', 'bybit', 'mainnet', 'id', x'00', 'hmac', '[]', '[]', '[]', '', 0, 'active')",
            params![&id[..]],
        )
        .unwrap();
        let mac = |conn: &Connection| read(conn, &key, &vault_id, &id).unwrap().unwrap().computed;
        // The MAC as the code before the LATER columns computed it.
        let before = {
            let sql = format!("SELECT {} FROM keys WHERE id = ?1", COLUMNS.join(", "));
            conn.query_row(&sql, params![&id[..]], |r| {
                let mut m = key.hmac();
                m.update(DOMAIN);
                m.update(&vault_id);
                for (i, name) in COLUMNS.iter().enumerate() {
                    m.update(&(name.len() as u64).to_be_bytes());
                    m.update(name.as_bytes());
                    encode_value(&mut m, r.get_ref(i)?);
                }
                Ok(<[u8; 32]>::from(m.finalize().into_bytes()))
            })
            .unwrap()
        };
        assert_eq!(mac(&conn), before, "an unset later column changes nothing");
        for (column, value) in [
            ("manager", "1"),
            ("sub_account", "'12345'"),
            ("auto_rotate", "1"),
        ] {
            conn.execute(&format!("UPDATE keys SET {column} = {value}"), [])
                .unwrap();
            assert_ne!(mac(&conn), before, "{column} set by hand");
            let reset = if column == "sub_account" { "NULL" } else { "0" };
            conn.execute(&format!("UPDATE keys SET {column} = {reset}"), [])
                .unwrap();
            assert_eq!(mac(&conn), before);
        }
    }

    #[test]
    fn encoding_tells_types_and_lengths_apart() {
        let key = RowKey::derive(&[7; 32]);
        let digest = |values: &[ValueRef<'_>]| {
            let mut mac = key.hmac();
            for v in values {
                encode_value(&mut mac, *v);
            }
            mac.finalize().into_bytes()
        };
        assert_ne!(
            digest(&[ValueRef::Text(b"ab"), ValueRef::Text(b"c")]),
            digest(&[ValueRef::Text(b"a"), ValueRef::Text(b"bc")])
        );
        assert_ne!(
            digest(&[ValueRef::Text(b"1")]),
            digest(&[ValueRef::Integer(1)])
        );
        assert_ne!(digest(&[ValueRef::Null]), digest(&[ValueRef::Blob(b"")]));
    }
}
