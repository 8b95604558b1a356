//! The kernel's unsealed access to a stored key and the stored form of its
//! last live check.
//!
//! Owns: turning a stored key into what the exchange layer needs
//! ([`ExchangeAccess`]: [`Credentials`], environment, declared scopes), the
//! digest of the fields a check depends on ([`key_fingerprint`]), and the
//! JSON form of the key's `last_audit_permissions` column ([`StoredCheck`]).
//! Features that call exchanges (checks, rotation, incident) use them.
//!
//! Must never: hand [`Credentials`] to a front end (the type is
//! crate-internal), or put a secret in an error.

use rusqlite::{OptionalExtension, params};
use secrecy::SecretString;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::error::VaultError;
use super::session::Session;
use crate::exchange::{self, Credentials, ExchangeError};
use crate::model::{Environment, Exchange, Scope};

/// What the last live check recorded beyond its result word, as stored in
/// the key's `last_audit_permissions` column: the granted permissions and,
/// when the exchange reported them, whether an IP allowlist is set and the
/// allowlist. Stored as `{"granted": [...], "ip_restricted": bool|null,
/// "ip_whitelist": [...]|null}`; a bare array (the granted permissions
/// only, as older vaults hold) is read too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub(crate) struct StoredCheck {
    /// The permissions the exchange reported as granted.
    pub granted: Vec<String>,
    /// Whether an IP allowlist is set; `None` when not reported.
    #[serde(default)]
    pub ip_restricted: Option<bool>,
    /// The live allowlist; `None` when not reported.
    #[serde(default)]
    pub ip_whitelist: Option<Vec<String>>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum StoredForm {
    Full(StoredCheck),
    Granted(Vec<String>),
}

impl StoredCheck {
    /// The column's text.
    pub(crate) fn to_column(&self, label: &str) -> Result<String, VaultError> {
        serde_json::to_string(self).map_err(|_| VaultError::Malformed {
            record: label.to_owned(),
            field: "last_audit_permissions",
        })
    }

    /// Reads the column's text (either form); `None` when it is neither.
    pub(crate) fn from_column(text: &str) -> Option<StoredCheck> {
        match serde_json::from_str::<StoredForm>(text).ok()? {
            StoredForm::Full(c) => Some(c),
            StoredForm::Granted(granted) => Some(StoredCheck {
                granted,
                ..StoredCheck::default()
            }),
        }
    }
}

/// What the exchange layer needs to act as one stored key. Crate-internal
/// on purpose: [`Credentials`] exposes the secret to whoever holds it, and
/// front ends reach secrets only through the MFA-gated reveal path.
pub(crate) struct ExchangeAccess {
    /// The exchange (one with a live adapter).
    pub exchange: Exchange,
    /// Where to reach it (a custom base URL already accepted by
    /// [`exchange::BaseUrl::parse`]).
    pub environment: Environment,
    /// The unsealed key (redacted `Debug`, no `Serialize`).
    pub credentials: Credentials,
    /// The declared scopes.
    pub declared: Vec<Scope>,
}

/// Why a stored key cannot be turned into [`ExchangeAccess`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum AccessError {
    /// The vault refused (locked, not found, damaged record).
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// Keyward has no live adapter for this exchange.
    #[error("{} keys are not supported for live checks", .exchange.display_name())]
    NotSupported {
        /// The stored exchange.
        exchange: Exchange,
    },
    /// The stored environment cannot be used (e.g. a base URL the exchange
    /// layer refuses).
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
}

impl Session {
    /// Unseals what the exchange layer needs to act as the key `label`.
    pub(crate) fn exchange_access(&mut self, label: &str) -> Result<ExchangeAccess, AccessError> {
        let detail = self.key_detail(label)?;
        let summary = &detail.summary;
        if !summary.exchange.has_adapter() {
            return Err(AccessError::NotSupported {
                exchange: summary.exchange,
            });
        }
        if let Environment::Custom(url) = &summary.environment {
            exchange::BaseUrl::parse(url)?;
        }
        let (secret, passphrase) = self.open_secrets(label)?;
        // One copy of each, straight into a zeroizing SecretString; the
        // vault's own wrappers are dropped (and zeroized) on return.
        let mut credentials = Credentials {
            api_key: detail.api_key_id.clone(),
            secret: SecretString::from(secret.expose().to_owned()),
            passphrase: None,
            key_type: summary.key_type,
        };
        if let Some(p) = passphrase {
            credentials.passphrase = Some(SecretString::from(p.expose().to_owned()));
        }
        Ok(ExchangeAccess {
            exchange: summary.exchange,
            environment: summary.environment.clone(),
            credentials,
            declared: summary.scopes.clone(),
        })
    }
}

/// A digest of the fields a check depends on (exchange, endpoint, key id,
/// key type and the sealed secret and passphrase). Sealing uses a fresh
/// nonce, so a re-entered secret changes the digest even if it is the same
/// text. `None` if the key no longer exists. Rotation and revocation use the
/// same digest to refuse results about a key that changed meanwhile.
pub(crate) fn key_fingerprint(
    conn: &rusqlite::Connection,
    id: &[u8; 16],
) -> Result<Option<[u8; 32]>, VaultError> {
    type Fields = (
        String,
        String,
        Option<String>,
        String,
        String,
        Vec<u8>,
        Option<Vec<u8>>,
    );
    let row: Option<Fields> = conn
        .query_row(
            "SELECT exchange, environment, base_url, api_key_id, key_type, secret, passphrase
             FROM keys WHERE id = ?1",
            params![&id[..]],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            },
        )
        .optional()?;
    Ok(row.map(
        |(exchange, env, base, key_id, key_type, secret, passphrase)| {
            let mut h = Sha256::new();
            for part in [
                exchange.as_bytes(),
                env.as_bytes(),
                base.as_deref().unwrap_or("\u{0}").as_bytes(),
                key_id.as_bytes(),
                key_type.as_bytes(),
                &secret,
                passphrase.as_deref().unwrap_or(&[]),
            ] {
                h.update((part.len() as u64).to_be_bytes());
                h.update(part);
            }
            h.finalize().into()
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_check_reads_both_forms_and_round_trips() {
        // Vaults written before the allowlist was stored hold a bare array.
        let old = StoredCheck::from_column(r#"["read","trade"]"#).unwrap();
        assert_eq!(old.granted, ["read", "trade"]);
        assert_eq!((old.ip_restricted, old.ip_whitelist), (None, None));
        let new = StoredCheck {
            granted: vec!["read".into()],
            ip_restricted: Some(true),
            ip_whitelist: Some(vec!["192.0.2.1".into()]),
        };
        let text = new.to_column("k").unwrap();
        assert_eq!(StoredCheck::from_column(&text), Some(new));
        assert_eq!(StoredCheck::from_column("{\"granted\": 1}"), None);
        assert_eq!(StoredCheck::from_column("not json"), None);
    }
}
