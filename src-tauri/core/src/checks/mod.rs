//! Live checks of stored keys against their exchanges, and the last check
//! stored on each key.
//!
//! Owns: running `verify` for many keys at once, the per-key result front
//! ends print ([`KeyVerification`]), and (in `store`) storing its summary
//! in the key's `last_audit_*` columns through the vault's single write
//! path, one transaction per key with its `verify` audit entry (exchange,
//! result, granted permissions; never a secret), raising
//! `vault::KernelEvent::KeyChecked` in that transaction for whoever
//! listens (alerts). Also the gated narrowing of a key (`narrow`) and the
//! desktop's background audit (`background`).
//!
//! The feature imports the vault and the model; the vault never imports it
//! (checked by `checks::store::tests::the_vault_does_not_import_checks`).
//! Turning a stored key into [`crate::exchange::Credentials`] is the
//! vault's (`Session::exchange_access`), so is the stored form of the last
//! check (`vault::StoredCheck`).
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
//! let results = checks::run_checks(&client, pending).await;
//! // 3. under the lock again: store the last check on each key (audited)
//! session.record_checks(Actor::Gui, &results)?;
//! ```
//! [`verify_keys`] does all three for a `Mutex<Option<Session>>` (the
//! desktop's state), [`verify_session`] for a session owned outright (the
//! CLI); both, narrowing's fresh check and the background audit go through
//! the vault's one driver (`vault::three_phase`). All need a Tokio
//! runtime, as every exchange call does.

mod background;
mod narrow;
mod store;

use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::KindedError;
use crate::error::ErrorKind;
use crate::exchange::{
    self, ErrorDto, ExchangeClient, ExchangeError, Finding, KeyCheck, KeyCheckError, KeyReport,
    Permissions, Severity, Timestamp,
};
use crate::model::{CheckStatus, Exchange, Scope};
use crate::vault::{self, Actor, ExchangeAccess, Session, SessionAccess, VaultError};

pub use background::background_audit;
pub use narrow::{NarrowError, narrow_key};

/// Most verify calls in flight at once. The exchange layer's limiters pace
/// the requests per exchange; this only bounds open connections and memory.
const MAX_IN_FLIGHT: usize = 32;

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
    /// Record id (uuid), as in [`crate::model::KeySummary::id`].
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
    mut session: &mut Session,
    client: &ExchangeClient,
    selection: &CheckSelection,
    actor: Actor,
) -> Result<Vec<KeyVerification>, VaultError> {
    verify_through(&mut session, client, selection, actor).await
}

/// All three phases for a session behind a mutex (the desktop's
/// `Mutex<Option<Session>>`): the lock is taken for phase 1, released for
/// the network calls, and taken again to store the results. A vault locked
/// in the meantime gives [`VaultError::Locked`] and stores nothing.
///
/// The returned future is `Send` (no guard lives across an `.await`), so it
/// can run in an async IPC command.
pub async fn verify_keys(
    mut slot: &Mutex<Option<Session>>,
    client: &ExchangeClient,
    selection: &CheckSelection,
    actor: Actor,
) -> Result<Vec<KeyVerification>, VaultError> {
    verify_through(&mut slot, client, selection, actor).await
}

/// The three phases of a check for any [`SessionAccess`], through the
/// vault's driver ([`vault::three_phase`]): [`Session::prepare_checks`]
/// under the session, [`run_checks`] without it, `record` under it again
/// with the results.
async fn check_phases<S: SessionAccess, T, E: From<VaultError>>(
    access: &mut S,
    client: &ExchangeClient,
    selection: &CheckSelection,
    record: impl FnOnce(&mut Session, Vec<KeyVerification>) -> Result<T, E>,
) -> Result<T, E> {
    vault::three_phase(
        access,
        |s| s.prepare_checks(selection).map_err(E::from),
        |pending| run_checks(client, pending),
        record,
    )
    .await
}

/// [`check_phases`] storing every result ([`Session::record_checks`]);
/// returns the results in selection order. Also the fresh check other
/// features store after changing a key (narrowing, marking a manager key).
pub(crate) async fn verify_through<S: SessionAccess>(
    access: &mut S,
    client: &ExchangeClient,
    selection: &CheckSelection,
    actor: Actor,
) -> Result<Vec<KeyVerification>, VaultError> {
    check_phases(access, client, selection, |s, results| {
        s.record_checks(actor, &results)?;
        Ok(results)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Environment;

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
