//! A key record's stored form, as every reader of a key shares it: the
//! `keys` row read into [`KeySummary`] / [`KeyDetail`], the validated
//! insert, and the sealed secret and passphrase.
//!
//! Owns: the columns of the `keys` table and their reading (the kernel's
//! own duties read keys: backup, reveal, `keyward run`, the scanner's
//! material, rekeying, the integrity check), [`insert_key`] (add and
//! backup import), unsealing a key's fields after verifying its row MAC.
//! The operations on key records — add, edit, delete, list, search, linked
//! services — are the `keys` feature's, which imports these; the vault does
//! not import it. Must never: return a secret in a DTO, or open a field of
//! a row whose MAC does not verify.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use zeroize::Zeroizing;

use super::error::VaultError;
use super::seal;
use super::session::Session;
use super::write::Sealer;
use crate::model::service;
use crate::model::validate::{self, ValidationError};
use crate::model::{ApiSecret, Passphrase};
use crate::model::{
    Environment, Exchange, KeyDetail, KeyStatus, KeySummary, KeyType, NewKey, Scope, mask_key_id,
};

/// The columns [`KeyRow::read`] reads, in its order.
pub(crate) const KEY_COLUMNS: &str =
    "id, label, exchange, environment, base_url, api_key_id, key_type, scopes,
    ip_whitelist, status, created_at, last_rotated_at, rotate_every_days, last_audit_at,
    last_audit_result, manager";

const DETAIL_COLUMNS: &str = "passphrase IS NOT NULL, linked_services, notes, last_audit_at,
    last_audit_result, last_audit_permissions, allow_run, host_confirmed";

/// One `keys` row as [`KEY_COLUMNS`] reads it (no sealed field).
pub(crate) struct KeyRow {
    id: [u8; 16],
    label: String,
    exchange: String,
    environment: String,
    base_url: Option<String>,
    api_key_id: String,
    key_type: String,
    scopes: String,
    ip_whitelist: String,
    status: String,
    created_at: i64,
    last_rotated_at: Option<i64>,
    rotate_every_days: Option<i64>,
    last_audit_at: Option<i64>,
    last_audit_result: Option<String>,
    manager: bool,
}

impl KeyRow {
    /// Reads the [`KEY_COLUMNS`] of a row.
    pub(crate) fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRow> {
        let id: Vec<u8> = r.get(0)?;
        Ok(KeyRow {
            id: id.try_into().unwrap_or([0xFF; 16]),
            label: r.get(1)?,
            exchange: r.get(2)?,
            environment: r.get(3)?,
            base_url: r.get(4)?,
            api_key_id: r.get(5)?,
            key_type: r.get(6)?,
            scopes: r.get(7)?,
            ip_whitelist: r.get(8)?,
            status: r.get(9)?,
            created_at: r.get(10)?,
            last_rotated_at: r.get(11)?,
            rotate_every_days: r.get(12)?,
            last_audit_at: r.get(13)?,
            last_audit_result: r.get(14)?,
            manager: r.get(15)?,
        })
    }

    fn malformed(&self, field: &'static str) -> VaultError {
        VaultError::Malformed {
            record: self.label.clone(),
            field,
        }
    }

    /// The summary front ends list, with `default_days` for a key
    /// without its own rotation period.
    pub(crate) fn summary(&self, default_days: u32) -> Result<KeySummary, VaultError> {
        let environment = match (self.environment.as_str(), &self.base_url) {
            ("mainnet", _) => Environment::Mainnet,
            ("testnet", _) => Environment::Testnet,
            ("custom", Some(url)) => Environment::Custom(url.clone()),
            _ => return Err(self.malformed("environment")),
        };
        let scopes = split_list(&self.scopes)
            .map(|s| s.parse::<Scope>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| self.malformed("scopes"))?;
        let own_days = self
            .rotate_every_days
            .map(u32::try_from)
            .transpose()
            .map_err(|_| self.malformed("rotate_every_days"))?;
        let days = own_days.unwrap_or(default_days);
        let since = self.last_rotated_at.unwrap_or(self.created_at);
        Ok(KeySummary {
            id: uuid::Uuid::from_bytes(self.id).to_string(),
            label: self.label.clone(),
            exchange: self
                .exchange
                .parse::<Exchange>()
                .map_err(|_| self.malformed("exchange"))?,
            environment,
            api_key_id_masked: mask_key_id(&self.api_key_id),
            key_type: self
                .key_type
                .parse::<KeyType>()
                .map_err(|_| self.malformed("key_type"))?,
            scopes,
            ip_restricted: !self.ip_whitelist.is_empty(),
            status: self
                .status
                .parse::<KeyStatus>()
                .map_err(|_| self.malformed("status"))?,
            created_at: self.created_at,
            last_rotated_at: self.last_rotated_at,
            rotate_every_days: days,
            rotation_due_at: since.saturating_add(i64::from(days) * 86_400),
            last_audit_at: self.last_audit_at,
            last_audit_result: self.last_audit_result.clone(),
            manager: self.manager,
        })
    }
}

fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').filter(|p| !p.is_empty())
}

/// Scopes as stored: wire names, sorted, without duplicates,
/// comma-separated.
pub(crate) fn join_scopes(scopes: &[Scope]) -> String {
    let mut names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names.join(",")
}

/// An IP whitelist as stored: each entry checked and normalised,
/// duplicates dropped, comma-separated.
pub(crate) fn normalize_ips(ips: &[String]) -> Result<String, ValidationError> {
    let mut out = Vec::with_capacity(ips.len());
    for ip in ips {
        let n = validate::ip_entry(ip)?;
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out.join(","))
}

/// Linked services as stored, after checking the whole list.
pub(crate) fn services_json(
    services: &[service::LinkedService],
) -> Result<String, ValidationError> {
    service::to_json(&service::validate_list(services)?)
}

/// Whether a key other than `except` is called `label`.
pub(crate) fn label_taken(
    tx: &Connection,
    label: &str,
    except: Option<&[u8; 16]>,
) -> Result<bool, VaultError> {
    let found: Option<Vec<u8>> = tx
        .query_row(
            "SELECT id FROM keys WHERE label = ?1",
            params![label],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match (found, except) {
        (Some(id), Some(except)) => id.as_slice() != except,
        (Some(_), None) => true,
        (None, _) => false,
    })
}

/// Stores a validated key inside `tx`. Shared by add and backup import.
pub(crate) fn insert_key(
    tx: &Transaction<'_>,
    sealer: &Sealer<'_>,
    id: [u8; 16],
    key: &NewKey,
    created_at: i64,
    last_rotated_at: Option<i64>,
    status: KeyStatus,
) -> Result<(), VaultError> {
    validate_new(key)?;
    if label_taken(tx, &key.label, None)? {
        return Err(ValidationError::DuplicateLabel {
            label: key.label.clone(),
        }
        .into());
    }
    let secret = sealer.seal(&id, "secret", key.secret.expose().as_bytes())?;
    let passphrase = match &key.passphrase {
        Some(p) if !p.is_empty() => Some(sealer.seal(&id, "passphrase", p.expose().as_bytes())?),
        _ => None,
    };
    let base_url = match &key.environment {
        Environment::Custom(url) => Some(url.as_str()),
        _ => None,
    };
    tx.execute(
        "INSERT INTO keys (id, label, exchange, environment, base_url, api_key_id, secret,
            passphrase, key_type, scopes, ip_whitelist, linked_services, notes, created_at,
            last_rotated_at, rotate_every_days, status, host_confirmed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
        params![
            &id[..],
            key.label,
            key.exchange.as_str(),
            key.environment.kind_str(),
            base_url,
            key.api_key_id,
            secret,
            passphrase,
            key.key_type.as_str(),
            join_scopes(&key.scopes),
            normalize_ips(&key.ip_whitelist)?,
            services_json(&key.linked_services)?,
            key.notes,
            created_at,
            last_rotated_at,
            key.rotate_every_days,
            status.as_str(),
            // A custom host is confirmed only by a gated edit, never at add.
            false,
        ],
    )?;
    super::rowmac::seal(tx, sealer, &id)
}

fn validate_new(key: &NewKey) -> Result<(), ValidationError> {
    validate::label(&key.label)?;
    validate::api_key_id(key.exchange, &key.api_key_id)?;
    validate::secret(key.secret.expose())?;
    validate::passphrase(key.exchange, key.passphrase.as_ref().map(|p| p.expose()))?;
    validate::environment(&key.environment)?;
    validate::free_text("notes", &key.notes, true)?;
    if let Some(days) = key.rotate_every_days {
        validate::rotation_days(days)?;
    }
    normalize_ips(&key.ip_whitelist)?;
    services_json(&key.linked_services)?;
    Ok(())
}

impl Session {
    pub(crate) fn find_id(&self, label: &str) -> Result<[u8; 16], VaultError> {
        let id: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT id FROM keys WHERE label = ?1",
                params![label],
                |r| r.get(0),
            )
            .optional()?;
        let id = id.ok_or_else(|| VaultError::KeyNotFound {
            label: label.to_owned(),
        })?;
        id.try_into().map_err(|_| VaultError::Malformed {
            record: label.to_owned(),
            field: "id",
        })
    }

    /// One key's metadata (never its secret or passphrase).
    pub fn key_detail(&mut self, label: &str) -> Result<KeyDetail, VaultError> {
        self.key()?;
        let days = self.settings.default_rotation_days;
        let found = self
            .conn
            .query_row(
                &format!("SELECT {KEY_COLUMNS}, {DETAIL_COLUMNS} FROM keys WHERE label = ?1"),
                params![label],
                |r| {
                    Ok((
                        KeyRow::read(r)?,
                        r.get::<_, bool>(16)?,
                        r.get::<_, String>(17)?,
                        r.get::<_, String>(18)?,
                        r.get::<_, Option<i64>>(19)?,
                        r.get::<_, Option<String>>(20)?,
                        r.get::<_, Option<String>>(21)?,
                        r.get::<_, bool>(22)?,
                        r.get::<_, bool>(23)?,
                    ))
                },
            )
            .optional()?;
        let Some((
            row,
            has_passphrase,
            services,
            notes,
            audit_at,
            audit_result,
            audit_perms,
            allow_run,
            host_confirmed,
        )) = found
        else {
            return Err(VaultError::KeyNotFound {
                label: label.to_owned(),
            });
        };
        let summary = row.summary(days)?;
        let stored = audit_perms
            .map(|p| {
                super::key_access::StoredCheck::from_column(&p)
                    .ok_or_else(|| row.malformed("last_audit_permissions"))
            })
            .transpose()?;
        let full_id = self.conn.query_row(
            "SELECT api_key_id FROM keys WHERE id = ?1",
            params![&row.id[..]],
            |r| r.get::<_, String>(0),
        )?;
        Ok(KeyDetail {
            api_key_id: full_id,
            has_passphrase,
            ip_whitelist: split_list(&row.ip_whitelist).map(str::to_owned).collect(),
            linked_services: service::from_json(&services)
                .ok_or_else(|| row.malformed("linked_services"))?,
            notes,
            rotate_every_days_override: row.rotate_every_days.and_then(|d| u32::try_from(d).ok()),
            last_audit_at: audit_at,
            last_audit_result: audit_result,
            last_audit_permissions: stored.as_ref().map(|c| c.granted.clone()),
            last_audit_ip_restricted: stored.as_ref().and_then(|c| {
                c.ip_restricted
                    .or(c.ip_whitelist.as_ref().map(|ips| !ips.is_empty()))
            }),
            last_audit_ip_whitelist: stored.and_then(|c| c.ip_whitelist),
            allow_run,
            custom_host: crate::model::custom_host(summary.exchange, &summary.environment),
            host_confirmed,
            summary,
        })
    }

    /// Opens the secret and passphrase of `label`. Crate-internal: front
    /// ends reach secrets only through the MFA-gated reveal path.
    pub(crate) fn open_secrets(
        &mut self,
        label: &str,
    ) -> Result<(ApiSecret, Option<Passphrase>), VaultError> {
        let id = self.find_id(label)?;
        self.verify_row(&id)?;
        let (secret, passphrase): (Vec<u8>, Option<Vec<u8>>) = self.conn.query_row(
            "SELECT secret, passphrase FROM keys WHERE id = ?1",
            params![&id[..]],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let secret = self.open_field(label, &id, "secret", &secret)?;
        let passphrase = passphrase
            .map(|p| self.open_field(label, &id, "passphrase", &p))
            .transpose()?;
        Ok((
            ApiSecret::new(into_string(secret, label, "secret")?),
            passphrase
                .map(|p| into_string(p, label, "passphrase"))
                .transpose()?
                .map(Passphrase::new),
        ))
    }

    /// Opens the blob sealed under record `id` and `field`; a blob that
    /// does not open is [`VaultError::Corrupt`] naming `label`.
    pub(crate) fn open_field(
        &mut self,
        label: &str,
        id: &[u8; 16],
        field: &'static str,
        blob: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let vault_id = self.header.vault_id;
        let key = self.key()?;
        seal::open(key.bytes(), &seal::aad(&vault_id, id, field), blob).map_err(|_| {
            VaultError::Corrupt {
                record: label.to_owned(),
                field,
            }
        })
    }

    /// Labels of every key (internal: backup).
    pub(crate) fn labels(&mut self) -> Result<Vec<String>, VaultError> {
        self.key()?;
        let mut stmt = self.conn.prepare("SELECT label FROM keys ORDER BY label")?;
        let labels = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(labels)
    }

    /// The rotation period of keys without their own (a setting).
    pub(crate) fn default_rotation_days(&self) -> u32 {
        self.settings.default_rotation_days
    }
}

fn into_string(
    bytes: Zeroizing<Vec<u8>>,
    label: &str,
    field: &'static str,
) -> Result<String, VaultError> {
    // Move the bytes out without leaving an unzeroized copy behind.
    let mut bytes = bytes;
    let owned = std::mem::take(&mut *bytes);
    String::from_utf8(owned).map_err(|e| {
        let mut raw = e.into_bytes();
        zeroize::Zeroize::zeroize(&mut raw);
        VaultError::Malformed {
            record: label.to_owned(),
            field,
        }
    })
}
