//! The rows of `deploy_targets` and `deploy_grants` (migration 12) and their
//! MACs.
//!
//! Each row carries an HMAC-SHA256 under an HKDF subkey of the vault's MAC
//! root over every other column (length-prefixed, with a domain tag per
//! table). A row that fails is never used: a changed host, port, path,
//! recipient or pinned host key would send a key somewhere the user did not
//! choose, and a grant row written by hand would hand out a key nobody
//! granted. Every change recomputes the MAC after verifying the row.

use hmac::{Hmac, KeyInit, Mac};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::error::DeployError;
use crate::vault::{Sealer, VaultError};

/// HKDF `info` of the deploy MAC key.
const KEY_INFO: &[u8] = b"keyward deploy targets mac v1";
const TARGET_DOMAIN: &[u8] = b"keyward deploy target v1\0";
const GRANT_DOMAIN: &[u8] = b"keyward deploy grant v1\0";

/// The MAC key of this feature's rows.
pub(super) struct RowMacKey(Zeroizing<[u8; 32]>);

impl RowMacKey {
    pub(super) fn of(sealer: &Sealer<'_>) -> Self {
        RowMacKey(sealer.feature_mac_key(KEY_INFO))
    }

    fn hmac(&self, domain: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0[..])
            .expect("HMAC accepts keys of any length");
        mac.update(domain);
        mac
    }
}

fn put_bytes(mac: &mut Hmac<Sha256>, bytes: &[u8]) {
    mac.update(&(bytes.len() as u64).to_be_bytes());
    mac.update(bytes);
}

fn put_opt_int(mac: &mut Hmac<Sha256>, value: Option<i64>) {
    match value {
        None => mac.update(&[0]),
        Some(v) => {
            mac.update(&[1]);
            mac.update(&v.to_be_bytes());
        }
    }
}

/// A target's row as stored.
#[derive(Debug, Clone)]
pub(super) struct TargetRow {
    pub id: [u8; 16],
    pub name: String,
    pub user: String,
    pub host: String,
    pub port: u16,
    pub remote_path: String,
    pub recipient: String,
    pub host_key: Option<String>,
    pub created_at: i64,
}

impl TargetRow {
    fn mac(&self, key: &RowMacKey) -> [u8; 32] {
        let mut mac = key.hmac(TARGET_DOMAIN);
        put_bytes(&mut mac, &self.id);
        for text in [
            &self.name,
            &self.user,
            &self.host,
            &self.remote_path,
            &self.recipient,
        ] {
            put_bytes(&mut mac, text.as_bytes());
        }
        mac.update(&u32::from(self.port).to_be_bytes());
        match &self.host_key {
            None => mac.update(&[0]),
            Some(k) => {
                mac.update(&[1]);
                put_bytes(&mut mac, k.as_bytes());
            }
        }
        mac.update(&self.created_at.to_be_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// A grant's row as stored, with the key's current label.
#[derive(Debug, Clone)]
pub(super) struct GrantRow {
    pub key_id: [u8; 16],
    pub label: String,
    pub granted_at: i64,
    pub deployed_at: Option<i64>,
}

fn grant_mac(
    key: &RowMacKey,
    target_id: &[u8; 16],
    key_id: &[u8; 16],
    granted_at: i64,
    deployed_at: Option<i64>,
) -> [u8; 32] {
    let mut mac = key.hmac(GRANT_DOMAIN);
    put_bytes(&mut mac, target_id);
    put_bytes(&mut mac, key_id);
    mac.update(&granted_at.to_be_bytes());
    put_opt_int(&mut mac, deployed_at);
    mac.finalize().into_bytes().into()
}

fn id16(bytes: Vec<u8>) -> [u8; 16] {
    bytes.try_into().unwrap_or([0xFF; 16])
}

fn matches(expected: &[u8; 32], stored: &[u8]) -> bool {
    bool::from(expected[..].ct_eq(stored))
}

pub(super) type RawTarget = (TargetRow, Vec<u8>);

const TARGET_COLUMNS: &str =
    "id, name, ssh_user, host, port, remote_path, recipient, host_key, created_at, mac";

fn read_target(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawTarget> {
    let port: i64 = r.get(4)?;
    Ok((
        TargetRow {
            id: id16(r.get(0)?),
            name: r.get(1)?,
            user: r.get(2)?,
            host: r.get(3)?,
            // An out-of-range port fails the MAC (it covers the stored value).
            port: u16::try_from(port).unwrap_or(0),
            remote_path: r.get(5)?,
            recipient: r.get(6)?,
            host_key: r.get(7)?,
            created_at: r.get(8)?,
        },
        r.get(9)?,
    ))
}

pub(super) fn verified(
    key: &RowMacKey,
    (row, stored): RawTarget,
) -> Result<TargetRow, DeployError> {
    if matches(&row.mac(key), &stored) {
        Ok(row)
    } else {
        Err(DeployError::Tampered { target: row.name })
    }
}

/// The target named `name`, its MAC verified.
pub(super) fn target(
    conn: &Connection,
    key: &RowMacKey,
    name: &str,
) -> Result<TargetRow, DeployError> {
    let raw = conn
        .query_row(
            &format!("SELECT {TARGET_COLUMNS} FROM deploy_targets WHERE name = ?1"),
            params![name],
            read_target,
        )
        .optional()
        .map_err(VaultError::from)?;
    match raw {
        Some(raw) => verified(key, raw),
        None => Err(DeployError::NoTarget {
            name: name.to_owned(),
        }),
    }
}

/// Every target row as stored, by name, MACs not yet verified.
pub(super) fn raw_targets(conn: &Connection) -> Result<Vec<RawTarget>, VaultError> {
    Ok(conn
        .prepare(&format!(
            "SELECT {TARGET_COLUMNS} FROM deploy_targets ORDER BY name"
        ))
        .and_then(|mut s| s.query_map([], read_target)?.collect())?)
}

/// Every target, by name, each MAC verified.
pub(super) fn targets(conn: &Connection, key: &RowMacKey) -> Result<Vec<TargetRow>, DeployError> {
    raw_targets(conn)?
        .into_iter()
        .map(|r| verified(key, r))
        .collect()
}

/// The key ids of every grant row of `target` (whatever its MAC).
pub(super) fn granted_key_ids(
    conn: &Connection,
    target: &[u8; 16],
) -> Result<Vec<[u8; 16]>, VaultError> {
    let ids: Vec<Vec<u8>> = conn
        .prepare("SELECT key_id FROM deploy_grants WHERE target_id = ?1")
        .and_then(|mut s| s.query_map(params![&target[..]], |r| r.get(0))?.collect())?;
    Ok(ids.into_iter().map(id16).collect())
}

/// The grants of `target`, each MAC verified, by label.
pub(super) fn grants(
    conn: &Connection,
    key: &RowMacKey,
    target: &TargetRow,
) -> Result<Vec<GrantRow>, DeployError> {
    type Raw = (Vec<u8>, String, i64, Option<i64>, Vec<u8>);
    let raw: Vec<Raw> = conn
        .prepare(
            "SELECT g.key_id, k.label, g.granted_at, g.deployed_at, g.mac
             FROM deploy_grants g JOIN keys k ON k.id = g.key_id
             WHERE g.target_id = ?1 ORDER BY k.label",
        )
        .and_then(|mut s| {
            s.query_map(params![&target.id[..]], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect()
        })
        .map_err(VaultError::from)?;
    raw.into_iter()
        .map(|(key_id, label, granted_at, deployed_at, stored)| {
            let key_id = id16(key_id);
            let expected = grant_mac(key, &target.id, &key_id, granted_at, deployed_at);
            if matches(&expected, &stored) {
                Ok(GrantRow {
                    key_id,
                    label,
                    granted_at,
                    deployed_at,
                })
            } else {
                Err(DeployError::Tampered {
                    target: target.name.clone(),
                })
            }
        })
        .collect()
}

/// Inserts a new target with its MAC.
pub(super) fn insert_target(
    conn: &Connection,
    key: &RowMacKey,
    row: &TargetRow,
) -> Result<(), VaultError> {
    conn.execute(
        "INSERT INTO deploy_targets
         (id, name, ssh_user, host, port, remote_path, recipient, host_key, created_at, mac)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            &row.id[..],
            row.name,
            row.user,
            row.host,
            i64::from(row.port),
            row.remote_path,
            row.recipient,
            row.host_key,
            row.created_at,
            &row.mac(key)[..]
        ],
    )?;
    Ok(())
}

/// Records the pinned host key of a verified target row.
pub(super) fn pin_host_key(
    conn: &Connection,
    key: &RowMacKey,
    row: &TargetRow,
    host_key: &str,
) -> Result<(), VaultError> {
    let mut pinned = row.clone();
    pinned.host_key = Some(host_key.to_owned());
    conn.execute(
        "UPDATE deploy_targets SET host_key = ?2, mac = ?3 WHERE id = ?1",
        params![&row.id[..], host_key, &pinned.mac(key)[..]],
    )?;
    Ok(())
}

/// Removes a target (its grants go with it).
pub(super) fn delete_target(conn: &Connection, id: &[u8; 16]) -> Result<(), VaultError> {
    conn.execute(
        "DELETE FROM deploy_grants WHERE target_id = ?1",
        params![&id[..]],
    )?;
    conn.execute("DELETE FROM deploy_targets WHERE id = ?1", params![&id[..]])?;
    Ok(())
}

/// Grants `key_id` to `target` (a grant already there is kept as it is).
pub(super) fn insert_grant(
    conn: &Connection,
    key: &RowMacKey,
    target: &[u8; 16],
    key_id: &[u8; 16],
    now: i64,
) -> Result<(), VaultError> {
    conn.execute(
        "INSERT OR IGNORE INTO deploy_grants (target_id, key_id, granted_at, deployed_at, mac)
         VALUES (?1, ?2, ?3, NULL, ?4)",
        params![
            &target[..],
            &key_id[..],
            now,
            &grant_mac(key, target, key_id, now, None)[..]
        ],
    )?;
    Ok(())
}

/// Withdraws a grant; whether there was one.
pub(super) fn delete_grant(
    conn: &Connection,
    target: &[u8; 16],
    key_id: &[u8; 16],
) -> Result<bool, VaultError> {
    Ok(conn.execute(
        "DELETE FROM deploy_grants WHERE target_id = ?1 AND key_id = ?2",
        params![&target[..], &key_id[..]],
    )? > 0)
}

/// Records a delivery of a verified grant at `at`.
pub(super) fn set_deployed(
    conn: &Connection,
    key: &RowMacKey,
    target: &[u8; 16],
    grant: &GrantRow,
    at: i64,
) -> Result<(), VaultError> {
    conn.execute(
        "UPDATE deploy_grants SET deployed_at = ?3, mac = ?4 WHERE target_id = ?1 AND key_id = ?2",
        params![
            &target[..],
            &grant.key_id[..],
            at,
            &grant_mac(key, target, &grant.key_id, grant.granted_at, Some(at))[..]
        ],
    )?;
    Ok(())
}
