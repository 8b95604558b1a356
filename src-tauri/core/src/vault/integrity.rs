//! The integrity check: opening every sealed field and verifying every key
//! row's MAC.
//!
//! Owns: [`Session::check_integrity`] and its [`IntegrityReport`], and the
//! crate-internal check of one key row. Must never: return what a field
//! holds (the report names records and fields only), or repair anything.

use serde::Serialize;

use super::error::VaultError;
use super::seal;
use super::session::Session;
use super::settings::settings_aad;
use super::write::Sealer;

/// Integrity of one damaged record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DamagedRecord {
    /// Record id, or `vault_meta`.
    pub id: String,
    /// Label.
    pub label: String,
    /// Fields that failed to open.
    pub fields: Vec<&'static str>,
}

/// Result of opening every sealed field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntegrityReport {
    /// Records examined.
    pub records_checked: usize,
    /// Sealed fields opened successfully.
    pub fields_ok: usize,
    /// Records with at least one damaged field.
    pub damaged: Vec<DamagedRecord>,
}

impl IntegrityReport {
    /// Whether nothing was damaged.
    pub fn is_ok(&self) -> bool {
        self.damaged.is_empty()
    }

    /// The report as an error if anything was damaged.
    pub fn into_result(self) -> Result<IntegrityReport, VaultError> {
        if self.is_ok() {
            Ok(self)
        } else {
            Err(VaultError::IntegrityFailed {
                damaged: self.damaged.iter().map(|d| d.label.clone()).collect(),
            })
        }
    }
}

impl Session {
    /// Opens every sealed field and reports which records are damaged.
    pub fn check_integrity(&mut self) -> Result<IntegrityReport, VaultError> {
        self.key()?;
        let vault_id = self.header.vault_id;
        let key = self.key.as_ref().ok_or(VaultError::Locked)?;
        let mut report = IntegrityReport {
            records_checked: 0,
            fields_ok: 0,
            damaged: Vec::new(),
        };
        let settings: Vec<u8> =
            self.conn
                .query_row("SELECT settings FROM vault_meta WHERE id = 1", [], |r| {
                    r.get(0)
                })?;
        report.records_checked += 1;
        match seal::open(key.bytes(), &settings_aad(&vault_id), &settings) {
            Ok(_) => report.fields_ok += 1,
            Err(_) => report.damaged.push(DamagedRecord {
                id: "vault_meta".into(),
                label: "vault settings".into(),
                fields: vec!["settings"],
            }),
        }
        let mut stmt = self
            .conn
            .prepare("SELECT id, label, secret, passphrase FROM keys ORDER BY label")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let id: Vec<u8> = r.get(0)?;
            let label: String = r.get(1)?;
            let secret: Vec<u8> = r.get(2)?;
            let passphrase: Option<Vec<u8>> = r.get(3)?;
            report.records_checked += 1;
            let Ok(id16) = <[u8; 16]>::try_from(id.as_slice()) else {
                report.damaged.push(DamagedRecord {
                    id: hex::encode(&id),
                    label,
                    fields: vec!["id"],
                });
                continue;
            };
            let mut bad = Vec::new();
            let mut fields = vec![("secret", Some(secret))];
            fields.push(("passphrase", passphrase));
            for (field, blob) in fields {
                let Some(blob) = blob else { continue };
                match seal::open(key.bytes(), &seal::aad(&vault_id, &id16, field), &blob) {
                    Ok(_) => report.fields_ok += 1,
                    Err(_) => bad.push(field),
                }
            }
            if !bad.is_empty() {
                report.damaged.push(DamagedRecord {
                    id: uuid::Uuid::from_bytes(id16).to_string(),
                    label,
                    fields: bad,
                });
            }
        }
        drop(rows);
        drop(stmt);
        let sealer = Sealer {
            key,
            vault_id: &vault_id,
            hooks: &[],
        };
        for (id, label) in super::rowmac::damaged(&self.conn, &sealer)? {
            match report.damaged.iter_mut().find(|d| d.id == id) {
                Some(d) => d.fields.push("row"),
                None => report.damaged.push(DamagedRecord {
                    id,
                    label,
                    fields: vec!["row"],
                }),
            }
        }
        Ok(report)
    }

    /// Checks the integrity of the key row `id` (see `vault::rowmac`).
    pub(crate) fn verify_row(&mut self, id: &[u8; 16]) -> Result<(), VaultError> {
        self.key()?;
        let key = self.key.as_ref().ok_or(VaultError::Locked)?;
        let sealer = Sealer {
            key,
            vault_id: &self.header.vault_id,
            hooks: &[],
        };
        super::rowmac::verify(&self.conn, &sealer, id)
    }
}
