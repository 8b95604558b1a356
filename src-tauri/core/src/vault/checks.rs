//! Live checks of stored keys against their exchanges, and the last check
//! stored on each key.
//!
//! Owns: turning a stored key into what the exchange layer needs
//! ([`Credentials`], environment, declared scopes), running `verify` for many
//! keys at once, the per-key result front ends print ([`KeyVerification`]),
//! and storing its summary in the key's `last_audit_*` columns through the
//! vault's single write path, one transaction per key with its `verify`
//! audit entry (exchange, result, granted permissions; never a secret).
//!
//! Must never: hold the session across a network call (the three phases
//! below exist for that), hand [`Credentials`] to a front end (they stay
//! inside the opaque [`PendingCheck`]), put a secret in a result, an error
//! or an audit detail, or record a check against a key whose credentials
//! changed while it ran.
//!
//! # Three phases
//! ```text
//! // 1. under the session lock: unseal what the checks need (no I/O)
//! let pending = session.prepare_checks(&CheckSelection::All)?;
//! // 2. without the lock: verify concurrently through the one ExchangeClient
//! let results = vault::run_checks(&client, pending).await;
//! // 3. under the lock again: store the last check on each key (audited)
//! session.record_checks(Actor::Gui, &results)?;
//! ```
//! [`verify_keys`] does all three for a `Mutex<Option<Session>>` (the
//! desktop's state), [`verify_session`] for a session owned outright (the
//! CLI). Both need a Tokio runtime, as every exchange call does.

use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use rusqlite::{OptionalExtension, params};
use secrecy::SecretString;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::access::SessionAccess;
use super::error::VaultError;
use super::journal;
use super::session::{Actor, Session};
use crate::KindedError;
use crate::audit::{self, Details, NewEvent};
use crate::error::ErrorKind;
use crate::exchange::{
    self, Credentials, ErrorDto, ExchangeClient, ExchangeError, Finding, KeyCheck, KeyCheckError,
    KeyReport, Permissions, Severity, Timestamp,
};
use crate::model::{CheckStatus, Environment, Exchange, KeyStatus, Scope};

/// Most verify calls in flight at once. The exchange layer's limiters pace
/// the requests per exchange; this only bounds open connections and memory.
const MAX_IN_FLIGHT: usize = 32;

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

/// Which keys to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckSelection {
    /// These labels, in this order. An unknown label is
    /// [`VaultError::KeyNotFound`].
    Labels(Vec<String>),
    /// Every key except revoked ones (a revoked key is expected to be
    /// rejected; check it by label to confirm that).
    All,
    /// What an unattended run (the background audit) may check: every key
    /// [`CheckSelection::All`] would, except those whose custom host was
    /// never confirmed with a step-up. Nobody is watching, so no request
    /// goes to a host the user did not confirm.
    Unattended,
}

/// One key's live check, as front ends show it. The JSON shape is
/// `{id, label, exchange, status, authenticated, declared, permissions,
/// ip_restricted, ip_whitelist, expires_at, checked_at, findings, notes,
/// error}`; every value is metadata the exchange reported or the vault
/// already shows. No secret can reach it: it is built from a
/// [`KeyReport`] or an [`ExchangeError`], neither of which holds one.
#[derive(Debug, Clone, Serialize)]
pub struct KeyVerification {
    /// Record id (uuid), as in [`super::KeySummary::id`].
    pub id: String,
    /// The key's label.
    pub label: String,
    /// The key's exchange, as stored (also for exchanges not checked live).
    pub exchange: Exchange,
    /// The outcome in one word.
    pub status: CheckStatus,
    /// Whether the key authenticated (false also when it was not checked).
    pub authenticated: bool,
    /// The scopes declared for the key in the vault.
    pub declared: Vec<Scope>,
    /// Live permissions; `null` per scope where the exchange does not say
    /// (and all `null` when the check did not authenticate).
    pub permissions: Permissions,
    /// Whether an IP allowlist is set; `null` when unknown.
    pub ip_restricted: Option<bool>,
    /// The allowlist; `null` when the exchange does not report it.
    pub ip_whitelist: Option<Vec<String>>,
    /// Expiry, when reported.
    pub expires_at: Option<Timestamp>,
    /// When the check ran (or was skipped).
    pub checked_at: Timestamp,
    /// Findings against the declared scopes.
    pub findings: Vec<Finding>,
    /// What the exchange cannot report, said plainly.
    pub notes: Vec<String>,
    /// The rejection or failure, if any.
    pub error: Option<KeyCheckError>,
    /// Whether the exchange lets a key be narrowed through its API; when
    /// not, it is narrowed on the exchange's website.
    pub narrow_via_api: bool,
    /// The permissions the key holds that can be dropped through the API
    /// (one narrowing control each, by label); empty when the check did not
    /// authenticate or the exchange cannot narrow through its API.
    pub removable: Vec<exchange::RemovablePermission>,
    /// Digest of the stored credential fields when the check was prepared;
    /// phase 3 stores nothing if they changed meanwhile. Not secret (a hash
    /// of ciphertexts and public fields), and not serialized.
    #[serde(skip)]
    fingerprint: [u8; 32],
}

impl KeyVerification {
    /// Whether the exchange rejected the key or could not be reached.
    pub fn failed(&self) -> bool {
        self.status.is_exchange_failure()
    }

    /// The live permissions reported as granted, by name (what is stored as
    /// `last_audit_permissions`).
    pub fn granted(&self) -> Vec<String> {
        self.permissions
            .granted()
            .into_iter()
            .map(|s| s.as_str().to_owned())
            .collect()
    }

    fn not_checked(
        pending: &PendingCheck,
        status: CheckStatus,
        code: &'static str,
        kind: ErrorKind,
        message: String,
    ) -> KeyVerification {
        KeyVerification {
            id: pending.id_string(),
            label: pending.label.clone(),
            exchange: pending.exchange,
            status,
            authenticated: false,
            declared: pending.declared.clone(),
            permissions: Permissions::default(),
            ip_restricted: None,
            ip_whitelist: None,
            expires_at: None,
            checked_at: Timestamp::now(),
            findings: Vec::new(),
            notes: Vec::new(),
            error: Some(KeyCheckError::Failed(ErrorDto {
                kind,
                code,
                message,
                exchange_code: None,
                retry_after_secs: None,
            })),
            narrow_via_api: exchange::capabilities(pending.exchange).narrow_via_api,
            removable: Vec::new(),
            fingerprint: pending.fingerprint,
        }
    }

    fn from_outcome(
        pending: &PendingCheck,
        live: Exchange,
        declared: &[Scope],
        outcome: &Result<KeyReport, ExchangeError>,
    ) -> KeyVerification {
        let check = KeyCheck::new(pending.label.clone(), live, declared, outcome);
        let status = match outcome {
            Ok(report) if !report.authenticated => CheckStatus::Rejected,
            Ok(_) => match check.findings.iter().map(|f| f.severity).max() {
                Some(Severity::Critical) => CheckStatus::Critical,
                Some(Severity::Warning) => CheckStatus::Warning,
                _ => CheckStatus::Ok,
            },
            Err(e) if e.kind() == ErrorKind::Exchange => CheckStatus::Unreachable,
            Err(_) => CheckStatus::Unusable,
        };
        KeyVerification {
            id: pending.id_string(),
            label: check.label,
            exchange: pending.exchange,
            status,
            authenticated: check.authenticated,
            declared: pending.declared.clone(),
            permissions: check.permissions,
            ip_restricted: check.ip_restricted,
            ip_whitelist: check.ip_whitelist,
            expires_at: check.expires_at,
            checked_at: check.checked_at,
            findings: check.findings,
            notes: outcome
                .as_ref()
                .map(|r| r.notes.clone())
                .unwrap_or_default(),
            error: check.error,
            narrow_via_api: exchange::capabilities(live).narrow_via_api,
            removable: outcome
                .as_ref()
                .ok()
                .filter(|r| r.authenticated)
                .map(|r| r.removable.clone())
                .unwrap_or_default(),
            fingerprint: pending.fingerprint,
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

/// What phase 1 hands to phase 2 for one key. Opaque: it may hold the
/// key's unsealed credentials, which only the exchange layer reads. Drop it
/// (or pass it to [`run_checks`]) promptly; its secrets are zeroized on
/// drop.
pub struct PendingCheck {
    id: [u8; 16],
    label: String,
    exchange: Exchange,
    declared: Vec<Scope>,
    fingerprint: [u8; 32],
    target: Target,
}

enum Target {
    Live(ExchangeAccess),
    NotSupported,
    Unusable(ExchangeError),
}

impl std::fmt::Debug for PendingCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingCheck")
            .field("label", &self.label)
            .field("exchange", &self.exchange)
            .finish_non_exhaustive()
    }
}

impl PendingCheck {
    /// The key's label.
    pub fn label(&self) -> &str {
        &self.label
    }

    fn id_string(&self) -> String {
        uuid::Uuid::from_bytes(self.id).to_string()
    }
}

/// How [`Session::record_check`] dealt with one result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RecordOutcome {
    /// Stored as the key's last check, with its audit entry.
    Stored,
    /// Not stored: the exchange is not checked live.
    NotChecked,
    /// Not stored: the key was deleted, or its credentials or endpoint
    /// changed while the check ran (the result describes the old ones).
    Stale,
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

    /// Phase 1: unseals what checking the selected keys needs. No network
    /// I/O; call it under the session lock, then release the lock.
    pub fn prepare_checks(
        &mut self,
        selection: &CheckSelection,
    ) -> Result<Vec<PendingCheck>, VaultError> {
        self.vault_key()?;
        let labels = match selection {
            CheckSelection::Labels(labels) => labels.clone(),
            CheckSelection::All => self
                .list_keys()?
                .into_iter()
                .filter(|k| k.status != KeyStatus::Revoked)
                .map(|k| k.label)
                .collect(),
            CheckSelection::Unattended => {
                let mut labels = Vec::new();
                for k in self.list_keys()? {
                    if k.status == KeyStatus::Revoked {
                        continue;
                    }
                    let detail = self.key_detail(&k.label)?;
                    if detail.custom_host.is_none() || detail.host_confirmed {
                        labels.push(k.label);
                    }
                }
                labels
            }
        };
        let mut out = Vec::with_capacity(labels.len());
        for label in labels {
            let detail = self.key_detail(&label)?;
            let id = parse_id(&detail.summary.id, &label)?;
            let fingerprint =
                key_fingerprint(self.conn(), &id)?.ok_or(VaultError::KeyNotFound {
                    label: label.clone(),
                })?;
            let target = match self.exchange_access(&label) {
                Ok(access) => Target::Live(access),
                Err(AccessError::NotSupported { .. }) => Target::NotSupported,
                Err(AccessError::Exchange(e)) => Target::Unusable(e),
                Err(AccessError::Vault(e)) => return Err(e),
            };
            out.push(PendingCheck {
                id,
                label,
                exchange: detail.summary.exchange,
                declared: detail.summary.scopes.clone(),
                fingerprint,
                target,
            });
        }
        Ok(out)
    }

    /// Phase 3 for one result: stores it as the key's last check
    /// (`last_audit_at`, `last_audit_result` = [`CheckStatus::as_str`],
    /// `last_audit_permissions` = the granted scopes and the live IP
    /// allowlist as a [`StoredCheck`], or none when the key did not
    /// authenticate) in one transaction with its audit entry.
    ///
    /// The result is matched to the key by record id, so a rename in the
    /// meantime does not matter; a deleted key or changed credentials make
    /// it [`RecordOutcome::Stale`].
    pub fn record_check(
        &mut self,
        actor: Actor,
        result: &KeyVerification,
    ) -> Result<RecordOutcome, VaultError> {
        self.vault_key()?;
        if result.status == CheckStatus::NotSupported {
            return Ok(RecordOutcome::NotChecked);
        }
        let id = parse_id(&result.id, &result.label)?;
        let Some(now) = key_fingerprint(self.conn(), &id)? else {
            return Ok(RecordOutcome::Stale);
        };
        if result.fingerprint != now {
            return Ok(RecordOutcome::Stale);
        }
        let at = result.checked_at.unix_ms().div_euclid(1000);
        let permissions = if result.authenticated {
            let stored = StoredCheck {
                granted: result.granted(),
                ip_restricted: result.ip_restricted,
                ip_whitelist: result.ip_whitelist.clone(),
            };
            Some(stored.to_column(&result.label)?)
        } else {
            None
        };
        let label: String = self.conn().query_row(
            "SELECT label FROM keys WHERE id = ?1",
            params![&id[..]],
            |r| r.get(0),
        )?;
        let status = result.status.as_str();
        let mut details = Details::new()
            .with("exchange", result.exchange.as_str())
            .with("result", status);
        if result.authenticated {
            details = details.with("permissions", result.granted());
        }
        let event = NewEvent::new(
            actor,
            audit::Action::Verify,
            UNIX_EPOCH + Duration::from_secs(u64::try_from(self.now_secs()).unwrap_or(0)),
        )
        .with_key(result.id.clone(), label.clone())
        .with_details(details);
        let label_for_alert = label;
        // The `verify` entry is appended by hand, in the same transaction as
        // the update, instead of through an `Action` (no action is passed).
        self.write_events(
            actor,
            None,
            |_| Vec::new(),
            |tx, sealer| {
                super::rowmac::update(tx, sealer, &id, || {
                    tx.execute(
                        "UPDATE keys SET last_audit_at = ?2, last_audit_result = ?3,
                            last_audit_permissions = ?4
                         WHERE id = ?1",
                        params![&id[..], at, status, permissions],
                    )?;
                    Ok(())
                })?;
                journal::append(tx, sealer, event)?;
                let api_key_id: String = tx.query_row(
                    "SELECT api_key_id FROM keys WHERE id = ?1",
                    params![&id[..]],
                    |r| r.get(0),
                )?;
                // Critical findings go to the webhook (queued here, sent
                // after commit); an inconclusive check forgets nothing.
                super::alerts::after_check(
                    tx,
                    sealer,
                    &id,
                    &label_for_alert,
                    result.exchange,
                    &api_key_id,
                    &result.findings,
                    !matches!(
                        result.status,
                        CheckStatus::Unreachable | CheckStatus::Unusable
                    ),
                    at,
                )?;
                Ok(())
            },
        )?;
        Ok(RecordOutcome::Stored)
    }

    /// Phase 3: stores every result of [`run_checks`] (one audited
    /// transaction per key, see [`Session::record_check`]). Returns what
    /// happened to each, in order.
    pub fn record_checks(
        &mut self,
        actor: Actor,
        results: &[KeyVerification],
    ) -> Result<Vec<RecordOutcome>, VaultError> {
        results
            .iter()
            .map(|r| self.record_check(actor, r))
            .collect()
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

fn parse_id(id: &str, label: &str) -> Result<[u8; 16], VaultError> {
    uuid::Uuid::try_parse(id)
        .map(|u| *u.as_bytes())
        .map_err(|_| VaultError::Malformed {
            record: label.to_owned(),
            field: "id",
        })
}

/// Phase 2: verifies every pending key through `client`, at most
/// [`MAX_IN_FLIGHT`] at a time (the client's per-exchange limiters pace the
/// requests). Results come back in the order of `pending`, one per key; a
/// failure is a result with `error` set, never a panic or an early return.
/// Needs a Tokio runtime; holds no session.
pub async fn run_checks(
    client: &ExchangeClient,
    pending: Vec<PendingCheck>,
) -> Vec<KeyVerification> {
    let gate = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let mut results: Vec<Option<KeyVerification>> = Vec::with_capacity(pending.len());
    let mut shells: Vec<PendingCheck> = Vec::with_capacity(pending.len());
    let mut tasks = tokio::task::JoinSet::new();
    for (index, mut p) in pending.into_iter().enumerate() {
        let target = std::mem::replace(&mut p.target, Target::NotSupported);
        let immediate = match target {
            Target::NotSupported => Some(KeyVerification::not_checked(
                &p,
                CheckStatus::NotSupported,
                "not_supported",
                ErrorKind::Invalid,
                format!(
                    "{} keys are not supported for live checks; check this key on the exchange's website",
                    p.exchange
                ),
            )),
            Target::Unusable(e) => Some(KeyVerification::not_checked(
                &p,
                CheckStatus::Unusable,
                e.code(),
                e.kind(),
                e.to_string(),
            )),
            Target::Live(access) => match client.endpoint(access.exchange, &access.environment) {
                Err(e) => Some(KeyVerification::from_outcome(
                    &p,
                    access.exchange,
                    &access.declared,
                    &Err(e),
                )),
                Ok(endpoint) => {
                    let gate = gate.clone();
                    tasks.spawn(async move {
                        let _permit = gate.acquire_owned().await.ok();
                        let outcome = endpoint.verify(&access.credentials).await;
                        // The credentials drop (and zeroize) here, as soon
                        // as the call is done.
                        (index, access.exchange, access.declared, outcome)
                    });
                    None
                }
            },
        };
        results.push(immediate);
        shells.push(p);
    }
    // A task that panicked leaves its slot empty; it is reported below.
    while let Some(joined) = tasks.join_next().await {
        if let Ok((index, live, declared, outcome)) = joined
            && let (Some(slot), Some(p)) = (results.get_mut(index), shells.get(index))
        {
            *slot = Some(KeyVerification::from_outcome(p, live, &declared, &outcome));
        }
    }
    results
        .into_iter()
        .zip(&shells)
        .map(|(r, p)| {
            r.unwrap_or_else(|| {
                KeyVerification::not_checked(
                    p,
                    CheckStatus::Unreachable,
                    "internal",
                    ErrorKind::Internal,
                    "the check stopped unexpectedly".to_owned(),
                )
            })
        })
        .collect()
}

/// All three phases for a session owned outright (the CLI): prepare, verify
/// concurrently, store each result. Returns the results in selection order.
pub async fn verify_session(
    session: &mut Session,
    client: &ExchangeClient,
    selection: &CheckSelection,
    actor: Actor,
) -> Result<Vec<KeyVerification>, VaultError> {
    let pending = session.prepare_checks(selection)?;
    let results = run_checks(client, pending).await;
    session.record_checks(actor, &results)?;
    Ok(results)
}

/// All three phases for a session behind a mutex (the desktop's
/// `Mutex<Option<Session>>`): the lock is taken for phase 1, released for
/// the network calls, and taken again to store the results. A vault locked
/// in the meantime gives [`VaultError::Locked`] and stores nothing.
///
/// The returned future is `Send` (no guard lives across an `.await`), so it
/// can run in an async IPC command.
pub async fn verify_keys(
    slot: &Mutex<Option<Session>>,
    client: &ExchangeClient,
    selection: &CheckSelection,
    actor: Actor,
) -> Result<Vec<KeyVerification>, VaultError> {
    let mut access = slot;
    let pending = access.with_session(|s| s.prepare_checks(selection))?;
    let results = run_checks(client, pending).await;
    access.with_session(|s| s.record_checks(actor, &results))?;
    Ok(results)
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

    #[test]
    fn custom_environment_is_checked_by_the_exchange_layer() {
        let client = ExchangeClient::new(exchange::HttpConfig::default()).unwrap();
        let custom = |u: &str| Environment::Custom(u.into());
        assert!(
            client
                .endpoint(Exchange::Okx, &custom("http://127.0.0.1:9/okx"))
                .is_ok()
        );
        assert!(matches!(
            client.endpoint(Exchange::Okx, &custom("http://example.com")),
            Err(ExchangeError::InvalidBaseUrl { .. })
        ));
        assert!(matches!(
            client.endpoint(Exchange::Kucoin, &Environment::Mainnet),
            Err(ExchangeError::NoAdapter {
                exchange: Exchange::Kucoin
            })
        ));
    }

    #[test]
    fn the_desktop_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let slot = Mutex::new(None);
        let client = ExchangeClient::new(exchange::HttpConfig::default()).unwrap();
        let fut = verify_keys(&slot, &client, &CheckSelection::All, Actor::Gui);
        assert_send(&fut);
    }
}
