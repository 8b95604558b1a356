//! Persistence of staged rotations and revocations (DESIGN §5; the state
//! machine and DTOs are in [`crate::rotation`]).
//!
//! Owns: the `rotations` table, the sealed pending new key and the sealed
//! `previous` key (AAD = vault id ‖ rotation id ‖ field name, so neither
//! can be moved to another rotation, record or vault), one transaction per
//! transition with its audit entry, and the three-phase networked steps:
//! ```text
//! // 1. under the session lock: check the state, unseal what the call needs
//! let pending = session.prepare_rotation_verify(label, &options)?;
//! // 2. without the lock: ask the exchange
//! let checked = pending.run(&client).await;
//! // 3. under the lock again: re-check the state (stale → refused), record
//! let outcome = session.record_rotation_verify(Actor::Gui, checked)?;
//! ```
//! [`rotation_verify`], [`rotation_revoke_old`], [`revoke_key`] and
//! [`revoke_exchange`] do all three for anything that implements
//! [`SessionAccess`]: `&mut Session` (the CLI) or
//! `&Mutex<Option<Session>>` (the desktop, whose lock is free while the
//! exchange is asked).
//!
//! Must never: hold a transaction or the session across a network call,
//! record a result for a rotation or key that changed while the call ran
//! (each pending value carries the rotation's revision or the key's
//! credential fingerprint), mark a key revoked before a live call with it
//! was rejected as unknown or expired, or let a secret reach a DTO, an
//! error or an audit detail (pending values are opaque, with redacted
//! `Debug`, and zeroize their credentials on drop).

use std::sync::Mutex;

use rusqlite::{OptionalExtension, Transaction, params};
use secrecy::SecretString;
use zeroize::Zeroizing;

use super::checks::AccessError;
use super::error::VaultError;
use super::session::{Actor, Sealer, Session};
use crate::KindedError;
use crate::audit::{self, Details, Event};
use crate::exchange::{
    self, Credentials, ExchangeClient, ExchangeError, Revocation, RevocationCheck,
};
use crate::mfa::actions::{Revoke, RotationPromote};
use crate::mfa::{ProofMethod, StepUpGrant};
use crate::model::validate;
use crate::model::{
    ApiSecret, Environment, Exchange, KeyStatus, KeyType, Passphrase, Scope, mask_key_id,
};
use crate::rotation::verify::{self as rverify, VerifyOutcome};
use crate::rotation::{
    RevokeMethod, RevokeOutcome, RotationError, RotationEvent, RotationState, RotationView,
    ServiceItem, ServiceState, StepStatus, StepView,
};

/// Schema of the `rotations` table (vault migration 4 → 5). The partial
/// unique index enforces "at most one open rotation per key" in the file
/// itself, whatever the code above it does.
pub(crate) const SCHEMA: &str = "CREATE TABLE rotations (
        id                   BLOB PRIMARY KEY,
        key_id               BLOB NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
        state                TEXT NOT NULL,
        revision             INTEGER NOT NULL DEFAULT 0,
        prior_status         TEXT NOT NULL,
        old_fingerprint      BLOB NOT NULL,
        scopes               TEXT NOT NULL,
        new_api_key_id       TEXT,
        new_key_type         TEXT,
        new_secret           BLOB,
        new_passphrase       BLOB,
        previous_api_key_id  TEXT,
        previous_key_type    TEXT,
        previous_secret      BLOB,
        previous_passphrase  BLOB,
        verification         TEXT,
        unknown_override     INTEGER NOT NULL DEFAULT 0,
        services             TEXT NOT NULL DEFAULT '[]',
        manual_steps         TEXT NOT NULL DEFAULT '[]',
        error                TEXT,
        planned_at           INTEGER NOT NULL,
        new_key_entered_at   INTEGER,
        new_key_verified_at  INTEGER,
        promoted_at          INTEGER,
        old_key_revoked_at   INTEGER,
        done_at              INTEGER,
        failed_at            INTEGER,
        cancelled_at         INTEGER
    );
    CREATE UNIQUE INDEX rotations_one_open_per_key ON rotations (key_id)
        WHERE state IN ('planned', 'new_key_entered', 'new_key_verified', 'promoted',
                        'old_key_revoked');
    CREATE INDEX rotations_by_key ON rotations (key_id, planned_at);";

pub(super) const NEW_SECRET: &str = "rotation.new_secret";
pub(super) const NEW_PASSPHRASE: &str = "rotation.new_passphrase";
pub(super) const PREVIOUS_SECRET: &str = "rotation.previous_secret";
pub(super) const PREVIOUS_PASSPHRASE: &str = "rotation.previous_passphrase";

const COLUMNS: &str = "id, key_id, state, revision, prior_status, old_fingerprint, scopes,
    new_api_key_id, new_key_type, new_secret IS NOT NULL, previous_api_key_id,
    previous_key_type, verification, unknown_override, services, manual_steps, error,
    planned_at, new_key_entered_at, new_key_verified_at, promoted_at, old_key_revoked_at,
    done_at, failed_at, cancelled_at";

fn stamp_column(state: RotationState) -> &'static str {
    match state {
        RotationState::Planned => "planned_at",
        RotationState::NewKeyEntered => "new_key_entered_at",
        RotationState::NewKeyVerified => "new_key_verified_at",
        RotationState::Promoted => "promoted_at",
        RotationState::OldKeyRevoked => "old_key_revoked_at",
        RotationState::Done => "done_at",
        RotationState::Failed => "failed_at",
        RotationState::Cancelled => "cancelled_at",
    }
}

/// One `rotations` row (no sealed values).
#[derive(Debug, Clone)]
struct Row {
    id: [u8; 16],
    key_id: [u8; 16],
    state: RotationState,
    revision: i64,
    prior_status: KeyStatus,
    old_fingerprint: Vec<u8>,
    scopes: Vec<Scope>,
    new_api_key_id: Option<String>,
    new_key_type: Option<KeyType>,
    has_new_secret: bool,
    previous_api_key_id: Option<String>,
    previous_key_type: Option<KeyType>,
    verification: Option<VerifyOutcome>,
    unknown_override: bool,
    services: Vec<ServiceItem>,
    manual_steps: Vec<String>,
    error: Option<String>,
    stamps: [Option<i64>; 8],
}

fn malformed(field: &'static str) -> VaultError {
    VaultError::Malformed {
        record: "rotation".into(),
        field,
    }
}

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Row, VaultError>> {
    let id: Vec<u8> = r.get(0)?;
    let key_id: Vec<u8> = r.get(1)?;
    let state: String = r.get(2)?;
    let prior: String = r.get(4)?;
    let scopes: String = r.get(6)?;
    let new_type: Option<String> = r.get(8)?;
    let prev_type: Option<String> = r.get(11)?;
    let verification: Option<String> = r.get(12)?;
    let services: String = r.get(14)?;
    let steps: String = r.get(15)?;
    let mut stamps = [None; 8];
    for (i, slot) in stamps.iter_mut().enumerate() {
        *slot = r.get(17 + i)?;
    }
    let revision: i64 = r.get(3)?;
    let old_fingerprint: Vec<u8> = r.get(5)?;
    let new_api_key_id: Option<String> = r.get(7)?;
    let has_new_secret: bool = r.get(9)?;
    let previous_api_key_id: Option<String> = r.get(10)?;
    let unknown_override: bool = r.get(13)?;
    let error: Option<String> = r.get(16)?;
    Ok((|| {
        Ok(Row {
            id: id.try_into().map_err(|_| malformed("id"))?,
            key_id: key_id.try_into().map_err(|_| malformed("key_id"))?,
            state: RotationState::parse(&state).ok_or_else(|| malformed("state"))?,
            revision,
            prior_status: prior.parse().map_err(|_| malformed("prior_status"))?,
            old_fingerprint,
            scopes: scopes
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| s.parse::<Scope>())
                .collect::<Result<_, _>>()
                .map_err(|_| malformed("scopes"))?,
            new_api_key_id,
            new_key_type: new_type
                .map(|t| t.parse::<KeyType>())
                .transpose()
                .map_err(|_| malformed("new_key_type"))?,
            has_new_secret,
            previous_api_key_id,
            previous_key_type: prev_type
                .map(|t| t.parse::<KeyType>())
                .transpose()
                .map_err(|_| malformed("previous_key_type"))?,
            verification: verification
                .map(|v| serde_json::from_str(&v))
                .transpose()
                .map_err(|_| malformed("verification"))?,
            unknown_override,
            services: serde_json::from_str(&services).map_err(|_| malformed("services"))?,
            manual_steps: serde_json::from_str(&steps).map_err(|_| malformed("manual_steps"))?,
            error,
            stamps,
        })
    })())
}

/// The audit event of a rotation's move (or refused step).
fn rotation_event(key_id: String, label: String, rotation_id: &str, event: RotationEvent) -> Event {
    Event::new(event.audit_action())
        .with_key(key_id, label)
        .with_details(event.details(rotation_id))
}

fn join_scopes(scopes: &[Scope]) -> String {
    let mut names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names.join(",")
}

fn uuid_string(id: &[u8; 16]) -> String {
    uuid::Uuid::from_bytes(*id).to_string()
}

fn to_json<T: serde::Serialize>(value: &T, field: &'static str) -> Result<String, VaultError> {
    serde_json::to_string(value).map_err(|_| malformed(field))
}

/// Builds exchange credentials from unsealed bytes; the bytes are zeroized
/// when dropped, the strings live in `SecretString`s.
fn credentials(
    api_key: &str,
    secret: &Zeroizing<Vec<u8>>,
    passphrase: Option<&Zeroizing<Vec<u8>>>,
    key_type: KeyType,
    label: &str,
) -> Result<Credentials, VaultError> {
    let text = |b: &Zeroizing<Vec<u8>>, field| {
        std::str::from_utf8(b)
            .map(|s| SecretString::from(s.to_owned()))
            .map_err(|_| VaultError::Malformed {
                record: label.to_owned(),
                field,
            })
    };
    Ok(Credentials {
        api_key: api_key.to_owned(),
        secret: text(secret, "secret")?,
        passphrase: passphrase.map(|p| text(p, "passphrase")).transpose()?,
        key_type,
    })
}

/// The key's credential digest (the one `checks` uses), as stored with a
/// rotation.
fn key_fingerprint(
    conn: &rusqlite::Connection,
    id: &[u8; 16],
) -> Result<Option<Vec<u8>>, VaultError> {
    Ok(super::checks::key_fingerprint(conn, id)?.map(|d| d.to_vec()))
}

/// An unsealed secret and optional passphrase (zeroized on drop).
type Unsealed = (Zeroizing<Vec<u8>>, Option<Zeroizing<Vec<u8>>>);

/// A new key for a rotation, as the user entered it.
#[derive(Debug)]
pub struct NewRotationKey {
    /// The new public key id.
    pub api_key_id: String,
    /// The new secret (sealed at once).
    pub secret: ApiSecret,
    /// The new passphrase, where the exchange has one.
    pub passphrase: Option<Passphrase>,
    /// The new key's type; `None` keeps the current key's type.
    pub key_type: Option<KeyType>,
}

/// Options of the verify step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Narrow the declared scopes to these (each must already be declared).
    pub scopes: Option<Vec<Scope>>,
    /// Accept "unknown" permissions or IP restriction explicitly (audited).
    /// Never accepts anything beyond the declared scope.
    pub allow_unknown: bool,
}

/// Phase 1 → 2 of the verify step. Opaque: it holds the new key's
/// unsealed credentials (redacted `Debug`, zeroized on drop).
pub struct PendingVerification {
    rotation_id: [u8; 16],
    revision: i64,
    label: String,
    exchange: Exchange,
    environment: Environment,
    credentials: Credentials,
    scopes: Vec<Scope>,
    intended_ips: Vec<String>,
    allow_unknown: bool,
}

impl std::fmt::Debug for PendingVerification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingVerification")
            .field("label", &self.label)
            .field("exchange", &self.exchange)
            .finish_non_exhaustive()
    }
}

/// Phase 2 → 3 of the verify step: the outcome, tied to the rotation's
/// revision when the check was prepared. Holds no secret.
#[derive(Debug)]
pub struct CheckedNewKey {
    rotation_id: [u8; 16],
    revision: i64,
    label: String,
    scopes: Vec<Scope>,
    outcome: VerifyOutcome,
}

impl PendingVerification {
    /// Phase 2: checks the new key live. Holds no session; needs a Tokio
    /// runtime.
    pub async fn run(self, client: &ExchangeClient) -> CheckedNewKey {
        let now = exchange::Timestamp::now().unix_ms().div_euclid(1000);
        let result = match client.endpoint(self.exchange, &self.environment) {
            Ok(endpoint) => endpoint.verify(&self.credentials).await,
            Err(e) => Err(e),
        };
        let outcome = rverify::compare(
            self.exchange,
            &self.scopes,
            &self.intended_ips,
            &result,
            now,
        );
        CheckedNewKey {
            rotation_id: self.rotation_id,
            revision: self.revision,
            label: self.label.clone(),
            scopes: self.scopes.clone(),
            outcome: rverify::with_override(outcome, self.allow_unknown),
        }
        // `self` (and the credentials in it) drop and zeroize here.
    }
}

/// What a revocation acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeTarget {
    /// The `previous` key of a promoted rotation.
    RotationOld {
        /// Rotation id.
        rotation_id: [u8; 16],
        /// Its revision when prepared.
        revision: i64,
    },
    /// A key's current credentials.
    Key {
        /// Record id.
        key_id: [u8; 16],
        /// Credential fingerprint when prepared.
        fingerprint: Vec<u8>,
    },
}

/// Phase 1 → 2 of a revocation. Opaque: it holds the unsealed credentials
/// of the key to revoke (redacted `Debug`, zeroized on drop), and can only
/// be made from a `revoke` step-up grant.
pub struct PendingRevocation {
    target: RevokeTarget,
    label: String,
    exchange: Exchange,
    environment: Environment,
    credentials: Credentials,
    confirm_manual: bool,
    proof: ProofMethod,
}

impl std::fmt::Debug for PendingRevocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingRevocation")
            .field("label", &self.label)
            .field("exchange", &self.exchange)
            .finish_non_exhaustive()
    }
}

impl PendingRevocation {
    /// The key's label.
    pub fn label(&self) -> &str {
        &self.label
    }
}

/// What the exchange said, phase 2 → 3. Holds no secret.
#[derive(Debug)]
pub struct RevocationResult {
    target: RevokeTarget,
    label: String,
    exchange: Exchange,
    proof: ProofMethod,
    answer: Answer,
}

#[derive(Debug)]
enum Answer {
    Confirmed {
        method: RevokeMethod,
        rejection: String,
    },
    Manual {
        reason: String,
        steps: Vec<String>,
    },
    StillActive,
    Inconclusive {
        code: String,
        message: String,
        why: String,
        check_by_hand: Vec<String>,
    },
    Failed(ExchangeError),
}

impl PendingRevocation {
    /// Phase 2: revokes through the API where the exchange has one (else,
    /// with `confirm_manual`, takes the user's word that it was done), then
    /// makes a live call with the key and expects a rejection. Holds no
    /// session; needs a Tokio runtime.
    pub async fn run(self, client: &ExchangeClient) -> RevocationResult {
        self.run_waiting(
            client,
            None::<fn(String, Vec<String>) -> std::future::Ready<bool>>,
        )
        .await
    }

    /// Phase 2 with a person at hand (the CLI's `--wait`): where the
    /// exchange has no revocation API, checks the key live first (the
    /// baseline that makes the later rejection a proof), hands the steps to
    /// `wait`, which returns once the person deleted the key (`true`) or
    /// gave up (`false`), then checks live that it is rejected: one process,
    /// one client, so the proof holds.
    pub async fn run_waiting<W, Fut>(
        self,
        client: &ExchangeClient,
        wait: Option<W>,
    ) -> RevocationResult
    where
        W: FnOnce(String, Vec<String>) -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let answer = self.ask(client, wait).await;
        RevocationResult {
            target: self.target.clone(),
            label: self.label.clone(),
            exchange: self.exchange,
            proof: self.proof,
            answer,
        }
    }

    async fn ask<W, Fut>(&self, client: &ExchangeClient, wait: Option<W>) -> Answer
    where
        W: FnOnce(String, Vec<String>) -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let endpoint = match client.endpoint(self.exchange, &self.environment) {
            Ok(e) => e,
            Err(e) => return Answer::Failed(e),
        };
        // The baseline: a live call with the key, on the same endpoint,
        // right before it is deleted. Only with it can the exchange's
        // ambiguous "invalid key" answer afterwards prove the deletion
        // (`Endpoint::confirm_revoked`). With `confirm_manual` the key is
        // already deleted by hand: too late for a baseline.
        let mut unproven = None;
        if !self.confirm_manual {
            match endpoint.verify(&self.credentials).await {
                Ok(report) => {
                    unproven = report
                        .rejection
                        .map(|r| format!("{} {}", r.code, r.message));
                }
                Err(e) => return Answer::Failed(e),
            }
        }
        let method = match endpoint.revoke(&self.credentials).await {
            Ok(Revocation::Revoked { .. }) => RevokeMethod::Api,
            Ok(Revocation::Unsupported { reason, mut steps }) => {
                if !self.confirm_manual
                    && unproven.is_none()
                    && let Some(wait) = wait
                {
                    if !wait(reason.clone(), steps.clone()).await {
                        return Answer::Manual { reason, steps };
                    }
                    RevokeMethod::Manual
                } else if !self.confirm_manual {
                    if let Some(answer) = unproven {
                        steps.push(format!(
                            "Note: this computer cannot authenticate with the key right now ({answer}), so the live check after the deletion will not be able to prove it; check on the exchange that the key is gone."
                        ));
                    }
                    return Answer::Manual { reason, steps };
                } else {
                    RevokeMethod::Manual
                }
            }
            // A retry after an earlier, unrecorded success: the key is
            // already gone. The live check below decides.
            Err(ExchangeError::Rejected { reason, .. }) if reason.means_key_unusable() => {
                RevokeMethod::Api
            }
            Err(e) => return Answer::Failed(e),
        };
        match endpoint.confirm_revoked(&self.credentials).await {
            Ok(RevocationCheck::Confirmed { rejection }) => Answer::Confirmed {
                method,
                rejection: format!("{} {}", rejection.code, rejection.message),
            },
            Ok(RevocationCheck::StillActive) => Answer::StillActive,
            Ok(RevocationCheck::Inconclusive {
                rejection,
                why,
                check_by_hand,
            }) => Answer::Inconclusive {
                code: rejection.code,
                message: rejection.message,
                why,
                check_by_hand,
            },
            Err(e) => Answer::Failed(e),
        }
    }
}

impl RevocationResult {
    fn outcome(&self) -> RevokeOutcome {
        let label = self.label.clone();
        match &self.answer {
            Answer::Confirmed { method, rejection } => RevokeOutcome::Revoked {
                label,
                method: *method,
                confirmation: rejection.clone(),
            },
            Answer::Manual { reason, steps } => RevokeOutcome::ManualStepsRequired {
                label,
                reason: reason.clone(),
                steps: steps.clone(),
            },
            Answer::StillActive => RevokeOutcome::StillActive {
                message: format!(
                    "{label} STILL WORKS on {}: a live call with it was accepted, so it is NOT revoked. Delete it on the exchange, then run the revocation again.",
                    self.exchange.display_name()
                ),
                label,
            },
            Answer::Inconclusive {
                code,
                message,
                why,
                check_by_hand,
            } => RevokeOutcome::Inconclusive {
                message: format!(
                    "NOT PROVEN that {label} is revoked: {} answered {code} {message}, but {why}. Nothing changed.",
                    self.exchange
                ),
                check_by_hand: check_by_hand.clone(),
                label,
            },
            Answer::Failed(e) => RevokeOutcome::Failed {
                message: format!("{e}; nothing changed, retry later"),
                label,
                kind: e.kind(),
            },
        }
    }

    fn reason_code(&self) -> &'static str {
        match &self.answer {
            Answer::Confirmed { .. } => "confirmed",
            Answer::Manual { .. } => "manual_revocation_required",
            Answer::StillActive => "still_active",
            Answer::Inconclusive { .. } => "inconclusive",
            Answer::Failed(_) => "exchange_error",
        }
    }
}

fn access_error(label: &str, e: AccessError) -> RotationError {
    match e {
        AccessError::Vault(v) => RotationError::Vault(v),
        AccessError::NotSupported { exchange } => RotationError::NotSupported { exchange },
        AccessError::Exchange(source) => RotationError::Exchange {
            label: label.to_owned(),
            source,
        },
    }
}

impl Session {
    fn rotation_rows(&self, key_id: &[u8; 16]) -> Result<Vec<Row>, VaultError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM rotations WHERE key_id = ?1 ORDER BY planned_at DESC, rowid DESC"
        ))?;
        let rows = stmt.query_map(params![&key_id[..]], read_row)?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r??);
        }
        Ok(out)
    }

    fn rotation_row(&self, id: &[u8; 16]) -> Result<Option<Row>, VaultError> {
        let row = self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM rotations WHERE id = ?1"),
                params![&id[..]],
                read_row,
            )
            .optional()?;
        row.transpose()
    }

    fn open_rotation(&mut self, label: &str) -> Result<(Row, [u8; 16]), RotationError> {
        self.key()?;
        let key_id = self.find_id(label)?;
        let row = self
            .rotation_rows(&key_id)?
            .into_iter()
            .find(|r| r.state.is_open())
            .ok_or_else(|| RotationError::NoOpenRotation {
                label: label.to_owned(),
            })?;
        Ok((row, key_id))
    }

    fn view(&mut self, row: &Row) -> Result<RotationView, VaultError> {
        let (label, exchange, current_kid): (String, String, String) = self.conn.query_row(
            "SELECT label, exchange, api_key_id FROM keys WHERE id = ?1",
            params![&row.key_id[..]],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let exchange: Exchange = exchange.parse().map_err(|_| malformed("exchange"))?;
        let mut steps = Vec::new();
        let current_index = RotationState::PATH.iter().position(|s| *s == row.state);
        for (i, state) in RotationState::PATH.iter().enumerate() {
            let at = row.stamps[i];
            let status = match current_index {
                Some(c) if i < c => StepStatus::Done,
                Some(c) if i == c => {
                    if *state == RotationState::Done {
                        StepStatus::Done
                    } else {
                        StepStatus::Current
                    }
                }
                Some(_) => StepStatus::Pending,
                None if at.is_some() => StepStatus::Done,
                None => StepStatus::Pending,
            };
            steps.push(StepView {
                state: *state,
                at,
                status,
            });
        }
        if matches!(row.state, RotationState::Failed | RotationState::Cancelled) {
            steps.push(StepView {
                state: row.state,
                at: row.stamps[if row.state == RotationState::Failed {
                    6
                } else {
                    7
                }],
                status: StepStatus::Current,
            });
        }
        let (new_kid, old_kid) = if row.state.is_promoted() {
            (Some(current_kid), row.previous_api_key_id.clone())
        } else {
            (row.new_api_key_id.clone(), Some(current_kid))
        };
        let revoke_via_api = exchange::capabilities(exchange).revoke_via_api;
        Ok(RotationView {
            id: uuid_string(&row.id),
            key_id: uuid_string(&row.key_id),
            label,
            exchange,
            state: row.state,
            open: row.state.is_open(),
            steps,
            next_action: row.state.next_action(),
            can_cancel: row.state.can_go_to(RotationState::Cancelled),
            new_api_key_id_masked: new_kid.as_deref().map(mask_key_id),
            old_api_key_id_masked: old_kid.as_deref().map(mask_key_id),
            declared_scopes: row.scopes.clone(),
            verification: row.verification.clone(),
            unknown_override: row.unknown_override,
            revoke_via_api,
            manual_steps: row.manual_steps.clone(),
            services: row.services.clone(),
            error: row.error.clone(),
            prior_status: row.prior_status,
        })
    }

    fn wrong_state(label: &str, state: RotationState, step: &'static str) -> RotationError {
        let hint = match state.next_action() {
            Some(crate::rotation::NextAction::EnterNewKey) => "enter the new key first",
            Some(crate::rotation::NextAction::Verify) => "verify the new key first",
            Some(crate::rotation::NextAction::Promote) => "promote the verified key next",
            Some(crate::rotation::NextAction::RevokeOld) => "revoke the old key next",
            Some(crate::rotation::NextAction::Finish) => "finish the rotation",
            _ => "the rotation is closed",
        };
        RotationError::WrongState {
            label: label.to_owned(),
            state,
            step,
            hint,
        }
    }

    /// One transition of `row` to `to` in one transaction with its audit
    /// entry: `extra` runs first inside the transaction (after the guarded
    /// state update, so a concurrent change makes the whole step stale).
    fn transition(
        &mut self,
        (actor, proof): (Actor, Option<ProofMethod>),
        label: &str,
        row: &Row,
        to: Option<RotationState>,
        event: RotationEvent,
        extra: impl FnOnce(&Transaction<'_>, &Sealer<'_>) -> Result<(), VaultError>,
    ) -> Result<(), RotationError> {
        if let Some(to) = to
            && !row.state.can_go_to(to)
        {
            return Err(Self::wrong_state(label, row.state, event.name()));
        }
        let now = self.now_secs();
        let action = rotation_event(
            uuid_string(&row.key_id),
            label.to_owned(),
            &uuid_string(&row.id),
            event,
        );
        let (id, revision, from) = (row.id, row.revision, row.state);
        let applied = self.write_events(
            actor,
            proof,
            |ok: &bool| if *ok { vec![action] } else { Vec::new() },
            |tx, sealer| {
                let changed = match to {
                    Some(to) => tx.execute(
                        &format!(
                            "UPDATE rotations SET state = ?2, {} = ?3, revision = revision + 1
                             WHERE id = ?1 AND revision = ?4 AND state = ?5",
                            stamp_column(to)
                        ),
                        params![&id[..], to.as_str(), now, revision, from.as_str()],
                    )?,
                    None => tx.execute(
                        "UPDATE rotations SET revision = revision + 1
                         WHERE id = ?1 AND revision = ?2 AND state = ?3",
                        params![&id[..], revision, from.as_str()],
                    )?,
                };
                if changed != 1 {
                    return Ok(false);
                }
                extra(tx, sealer)?;
                Ok(true)
            },
        )?;
        if applied {
            Ok(())
        } else {
            Err(RotationError::Stale {
                label: label.to_owned(),
            })
        }
    }

    /// Starts a rotation of `label` (`planned`); the key's status becomes
    /// `rotating`. Refused for revoked keys, for exchanges Keyward cannot
    /// check live, and when the key already has an open rotation.
    pub fn rotation_begin(
        &mut self,
        actor: Actor,
        label: &str,
    ) -> Result<RotationView, RotationError> {
        self.key()?;
        let detail = self.key_detail(label)?;
        let key_id = self.find_id(label)?;
        let summary = &detail.summary;
        if !summary.exchange.has_adapter() {
            return Err(RotationError::NotSupported {
                exchange: summary.exchange,
            });
        }
        if summary.status == KeyStatus::Revoked {
            return Err(RotationError::KeyStatus {
                label: label.to_owned(),
                status: "revoked",
                what: "a revoked key cannot be rotated (add a new key instead)",
            });
        }
        if let Some(open) = self
            .rotation_rows(&key_id)?
            .into_iter()
            .find(|r| r.state.is_open())
        {
            return Err(RotationError::AlreadyOpen {
                label: label.to_owned(),
                state: open.state,
            });
        }
        let fingerprint =
            key_fingerprint(&self.conn, &key_id)?.ok_or_else(|| VaultError::KeyNotFound {
                label: label.to_owned(),
            })?;
        let id = *uuid::Uuid::new_v4().as_bytes();
        let now = self.now_secs();
        let prior = summary.status;
        let scopes = join_scopes(&summary.scopes);
        let action = rotation_event(
            uuid_string(&key_id),
            label.to_owned(),
            &uuid_string(&id),
            RotationEvent::Planned,
        );
        let inserted = self.write_events(
            actor,
            None,
            |ok: &bool| if *ok { vec![action] } else { Vec::new() },
            |tx, sealer| {
                let n = tx.execute(
                    "INSERT OR IGNORE INTO rotations (id, key_id, state, prior_status,
                        old_fingerprint, scopes, planned_at)
                     VALUES (?1, ?2, 'planned', ?3, ?4, ?5, ?6)",
                    params![
                        &id[..],
                        &key_id[..],
                        prior.as_str(),
                        fingerprint,
                        scopes,
                        now
                    ],
                )?;
                if n != 1 {
                    return Ok(false);
                }
                super::rowmac::execute(
                    tx,
                    sealer,
                    &key_id,
                    "UPDATE keys SET status = 'rotating' WHERE id = ?1",
                    params![&key_id[..]],
                )?;
                Ok(true)
            },
        )?;
        if !inserted {
            // The partial unique index refused a second open rotation.
            return Err(RotationError::AlreadyOpen {
                label: label.to_owned(),
                state: RotationState::Planned,
            });
        }
        self.rotation_status(label)
    }

    /// The key's open rotation, else its most recent one.
    pub fn rotation_status(&mut self, label: &str) -> Result<RotationView, RotationError> {
        self.key()?;
        let key_id = self.find_id(label)?;
        let rows = self.rotation_rows(&key_id)?;
        let row = rows
            .iter()
            .find(|r| r.state.is_open())
            .or_else(|| rows.first())
            .ok_or_else(|| RotationError::NoOpenRotation {
                label: label.to_owned(),
            })?
            .clone();
        Ok(self.view(&row)?)
    }

    /// Every open rotation (to resume them), by label.
    pub fn open_rotations(&mut self) -> Result<Vec<RotationView>, RotationError> {
        self.key()?;
        let rows: Vec<Row> = {
            let mut stmt = self.conn.prepare(&format!(
                "SELECT {COLUMNS} FROM rotations
                 WHERE state NOT IN ('done', 'failed', 'cancelled')"
            ))?;
            let mapped = stmt.query_map([], read_row)?;
            let mut out = Vec::new();
            for r in mapped {
                out.push(r??);
            }
            out
        };
        let mut views = rows
            .iter()
            .map(|r| self.view(r))
            .collect::<Result<Vec<_>, _>>()?;
        views.sort_by(|a, b| a.label.cmp(&b.label));
        Ok(views)
    }

    /// Stores the new key, sealed (`new_key_entered`). Allowed until
    /// promotion; entering another key replaces the pending one and needs
    /// a fresh verification.
    pub fn rotation_enter_new_key(
        &mut self,
        actor: Actor,
        label: &str,
        new: NewRotationKey,
    ) -> Result<RotationView, RotationError> {
        let (row, key_id) = self.open_rotation(label)?;
        if !row.state.can_go_to(RotationState::NewKeyEntered) {
            return Err(Self::wrong_state(label, row.state, "entering a new key"));
        }
        let detail = self.key_detail(label)?;
        let exchange = detail.summary.exchange;
        validate::api_key_id(exchange, &new.api_key_id)?;
        validate::secret(new.secret.expose())?;
        validate::passphrase(exchange, new.passphrase.as_ref().map(|p| p.expose()))?;
        if new.api_key_id == detail.api_key_id {
            return Err(RotationError::SameKey {
                label: label.to_owned(),
            });
        }
        let key_type = new.key_type.unwrap_or(detail.summary.key_type);
        let rid = row.id;
        let masked = mask_key_id(&new.api_key_id);
        let _ = key_id;
        self.transition(
            (actor, None),
            label,
            &row,
            Some(RotationState::NewKeyEntered),
            RotationEvent::NewKeyEntered { new_key: masked },
            |tx, sealer| {
                let secret = sealer.seal(&rid, NEW_SECRET, new.secret.expose().as_bytes())?;
                let passphrase = match &new.passphrase {
                    Some(p) if !p.is_empty() => {
                        Some(sealer.seal(&rid, NEW_PASSPHRASE, p.expose().as_bytes())?)
                    }
                    _ => None,
                };
                tx.execute(
                    "UPDATE rotations SET new_api_key_id = ?2, new_key_type = ?3,
                        new_secret = ?4, new_passphrase = ?5, verification = NULL,
                        unknown_override = 0, new_key_verified_at = NULL, error = NULL
                     WHERE id = ?1",
                    params![
                        &rid[..],
                        new.api_key_id,
                        key_type.as_str(),
                        secret,
                        passphrase
                    ],
                )?;
                Ok(())
            },
        )?;
        self.rotation_status(label)
    }

    /// Phase 1 of the verify step: checks the state and the requested
    /// narrowing, unseals the new key. No I/O; release the lock after it.
    pub fn prepare_rotation_verify(
        &mut self,
        label: &str,
        options: &VerifyOptions,
    ) -> Result<PendingVerification, RotationError> {
        let (row, _) = self.open_rotation(label)?;
        if !matches!(
            row.state,
            RotationState::NewKeyEntered | RotationState::NewKeyVerified
        ) || !row.has_new_secret
        {
            return Err(Self::wrong_state(label, row.state, "verifying the new key"));
        }
        let detail = self.key_detail(label)?;
        let scopes = match &options.scopes {
            Some(wanted) => {
                for s in wanted {
                    if !detail.summary.scopes.contains(s) {
                        return Err(RotationError::ScopeWidening {
                            label: label.to_owned(),
                            scope: s.as_str(),
                        });
                    }
                }
                let mut v = wanted.clone();
                v.sort_by_key(|s| s.as_str());
                v.dedup();
                v
            }
            None => row.scopes.clone(),
        };
        let access = self
            .exchange_access(label)
            .map_err(|e| access_error(label, e))?;
        let (secret, passphrase): (Vec<u8>, Option<Vec<u8>>) = self.conn.query_row(
            "SELECT new_secret, new_passphrase FROM rotations WHERE id = ?1",
            params![&row.id[..]],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let (secret, passphrase) = self.open_rotation_fields(
            label,
            &row.id,
            (NEW_SECRET, &secret),
            passphrase.as_deref().map(|p| (NEW_PASSPHRASE, p)),
        )?;
        let credentials = credentials(
            row.new_api_key_id.as_deref().unwrap_or_default(),
            &secret,
            passphrase.as_ref(),
            row.new_key_type.unwrap_or(detail.summary.key_type),
            label,
        )?;
        Ok(PendingVerification {
            rotation_id: row.id,
            revision: row.revision,
            label: label.to_owned(),
            exchange: detail.summary.exchange,
            environment: access.environment.clone(),
            credentials,
            scopes,
            intended_ips: detail.ip_whitelist.clone(),
            allow_unknown: options.allow_unknown,
        })
    }

    fn open_rotation_fields(
        &mut self,
        label: &str,
        rid: &[u8; 16],
        secret: (&'static str, &[u8]),
        passphrase: Option<(&'static str, &[u8])>,
    ) -> Result<Unsealed, VaultError> {
        let vault_id = self.header.vault_id;
        let key = self.key()?;
        let sealer = Sealer {
            key,
            vault_id: &vault_id,
        };
        let open = |(field, blob): (&'static str, &[u8])| {
            sealer
                .open(rid, field, blob)
                .map_err(|_| VaultError::Corrupt {
                    record: label.to_owned(),
                    field,
                })
        };
        let s = open(secret)?;
        let p = passphrase.map(open).transpose()?;
        Ok((s, p))
    }

    /// Phase 3 of the verify step: records the outcome. Passed →
    /// `new_key_verified` (with the narrowed scopes, and the override in
    /// the audit entry if one was used); failed → stays (or goes back to)
    /// `new_key_entered` with the differences stored, audited as a refused
    /// step. A rotation that moved meanwhile gives [`RotationError::Stale`].
    pub fn record_rotation_verify(
        &mut self,
        actor: Actor,
        checked: CheckedNewKey,
    ) -> Result<VerifyOutcome, RotationError> {
        self.key()?;
        let label = checked.label.clone();
        let row = self
            .rotation_row(&checked.rotation_id)?
            .filter(|r| r.revision == checked.revision)
            .ok_or_else(|| RotationError::Stale {
                label: label.clone(),
            })?;
        let outcome = checked.outcome;
        let json = to_json(&outcome, "verification")?;
        let rid = row.id;
        let scopes = join_scopes(&checked.scopes);
        let key_label = self.label_of(&row.key_id)?;
        if outcome.passed {
            let event = RotationEvent::NewKeyVerified {
                scopes: checked.scopes.iter().map(|s| s.as_str()).collect(),
                overridden: outcome.overridden_codes(),
            };
            let over = outcome.unknown_override;
            self.transition(
                (actor, None),
                &key_label,
                &row,
                Some(RotationState::NewKeyVerified),
                event,
                |tx, _| {
                    tx.execute(
                    "UPDATE rotations SET verification = ?2, scopes = ?3, unknown_override = ?4,
                        error = NULL
                     WHERE id = ?1",
                    params![&rid[..], json, scopes, over],
                )?;
                    Ok(())
                },
            )?;
        } else {
            let reason = outcome
                .blocking()
                .next()
                .map(|d| d.code.as_str())
                .unwrap_or("unknown_not_accepted");
            let to = (row.state == RotationState::NewKeyVerified)
                .then_some(RotationState::NewKeyEntered);
            let error = format!("the new key did not pass verification ({reason})");
            self.transition(
                (actor, None),
                &key_label,
                &row,
                to,
                RotationEvent::StepRefused {
                    step: "verify",
                    reason,
                },
                |tx, _| {
                    tx.execute(
                        "UPDATE rotations SET verification = ?2, unknown_override = 0,
                            new_key_verified_at = NULL, error = ?3
                         WHERE id = ?1",
                        params![&rid[..], json, error],
                    )?;
                    Ok(())
                },
            )?;
        }
        Ok(outcome)
    }

    fn label_of(&self, key_id: &[u8; 16]) -> Result<String, VaultError> {
        Ok(self.conn.query_row(
            "SELECT label FROM keys WHERE id = ?1",
            params![&key_id[..]],
            |r| r.get(0),
        )?)
    }

    /// Makes the verified new key current (gated:
    /// [`GatedAction::RotationPromote`](crate::mfa::GatedAction::RotationPromote)): key id, secret, passphrase, type
    /// and (narrowed) scopes are replaced and `last_rotated_at` set; the new
    /// key's verified live check (permissions, IP allowlist) becomes the
    /// key's last check; the old key is resealed as the rotation's
    /// `previous` until it is revoked; the key's linked services become the
    /// checklist. No network.
    pub fn rotation_promote(
        &mut self,
        actor: Actor,
        grant: StepUpGrant<RotationPromote>,
        label: &str,
    ) -> Result<RotationView, RotationError> {
        let (row, key_id) = self.open_rotation(label)?;
        if row.state != RotationState::NewKeyVerified {
            return Err(Self::wrong_state(label, row.state, "promoting"));
        }
        let verified = match &row.verification {
            Some(v) if v.passed => v.clone(),
            _ => {
                return Err(RotationError::NotVerified {
                    label: label.to_owned(),
                    summary: "no passed verification is recorded".into(),
                });
            }
        };
        if key_fingerprint(&self.conn, &key_id)?.as_deref() != Some(row.old_fingerprint.as_slice())
        {
            return Err(RotationError::KeyChanged {
                label: label.to_owned(),
            });
        }
        let detail = self.key_detail(label)?;
        let old_kid = detail.api_key_id.clone();
        let new_kid = row.new_api_key_id.clone().unwrap_or_default();
        let services: Vec<ServiceItem> = detail
            .linked_services
            .iter()
            .map(|service| ServiceItem {
                name: service.name.clone(),
                state: ServiceState::Pending,
                marked_at: None,
            })
            .collect();
        let services = to_json(&services, "services")?;
        let rid = row.id;
        let now = self.now_secs();
        let new_type = row.new_key_type.unwrap_or(detail.summary.key_type);
        let old_type = detail.summary.key_type;
        let scopes = join_scopes(&row.scopes);
        // The verify step checked the new key live: that check becomes the
        // key's last check, so health follows the key now current (the
        // old key's stale permissions and allowlist go with it).
        let (audit_at, audit_result, audit_check) = promoted_check(&verified, label)?;
        let label_owned = label.to_owned();
        self.transition(
            (actor, Some(grant.method())),
            label,
            &row,
            Some(RotationState::Promoted),
            RotationEvent::Promoted {
                new_key: mask_key_id(&new_kid),
                old_key: mask_key_id(&old_kid),
            },
            |tx, sealer| {
                let (old_secret, old_pass): (Vec<u8>, Option<Vec<u8>>) = tx.query_row(
                    "SELECT secret, passphrase FROM keys WHERE id = ?1",
                    params![&key_id[..]],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                let (new_secret, new_pass): (Option<Vec<u8>>, Option<Vec<u8>>) = tx.query_row(
                    "SELECT new_secret, new_passphrase FROM rotations WHERE id = ?1",
                    params![&rid[..]],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                let corrupt = |field| VaultError::Corrupt {
                    record: label_owned.clone(),
                    field,
                };
                let new_secret = new_secret.ok_or_else(|| corrupt("rotation.new_secret"))?;
                let reseal = |blob: &[u8],
                              from_rec: &[u8; 16],
                              from_field: &'static str,
                              to_rec: &[u8; 16],
                              to_field: &str|
                 -> Result<Vec<u8>, VaultError> {
                    let plain = sealer
                        .open(from_rec, from_field, blob)
                        .map_err(|_| corrupt(from_field))?;
                    sealer.seal(to_rec, to_field, &plain)
                };
                let prev_secret = reseal(&old_secret, &key_id, "secret", &rid, PREVIOUS_SECRET)?;
                let prev_pass = old_pass
                    .as_deref()
                    .map(|p| reseal(p, &key_id, "passphrase", &rid, PREVIOUS_PASSPHRASE))
                    .transpose()?;
                let cur_secret = reseal(&new_secret, &rid, NEW_SECRET, &key_id, "secret")?;
                let cur_pass = new_pass
                    .as_deref()
                    .map(|p| reseal(p, &rid, NEW_PASSPHRASE, &key_id, "passphrase"))
                    .transpose()?;
                super::rowmac::execute(
                    tx,
                    sealer,
                    &key_id,
                    "UPDATE keys SET api_key_id = ?2, secret = ?3, passphrase = ?4,
                        key_type = ?5, scopes = ?6, last_rotated_at = ?7,
                        last_audit_at = ?8, last_audit_result = ?9,
                        last_audit_permissions = ?10
                     WHERE id = ?1",
                    params![
                        &key_id[..],
                        new_kid,
                        cur_secret,
                        cur_pass,
                        new_type.as_str(),
                        scopes,
                        now,
                        audit_at,
                        audit_result,
                        audit_check
                    ],
                )?;
                tx.execute(
                    "UPDATE rotations SET previous_api_key_id = ?2, previous_key_type = ?3,
                        previous_secret = ?4, previous_passphrase = ?5, new_secret = NULL,
                        new_passphrase = NULL, services = ?6, error = NULL
                     WHERE id = ?1",
                    params![
                        &rid[..],
                        old_kid,
                        old_type.as_str(),
                        prev_secret,
                        prev_pass,
                        services
                    ],
                )?;
                Ok(())
            },
        )?;
        self.rotation_status(label)
    }

    /// Phase 1 of revoking a rotation's old key (gated:
    /// [`GatedAction::Revoke`](crate::mfa::GatedAction::Revoke)): unseals the `previous` key. With
    /// `confirm_manual`, the user states they deleted the key on the
    /// exchange by hand (for exchanges without a revocation API); the live
    /// check still decides.
    pub fn prepare_rotation_revoke(
        &mut self,
        grant: StepUpGrant<Revoke>,
        label: &str,
        confirm_manual: bool,
    ) -> Result<PendingRevocation, RotationError> {
        let (row, _) = self.open_rotation(label)?;
        if row.state != RotationState::Promoted {
            return Err(Self::wrong_state(label, row.state, "revoking the old key"));
        }
        let access = self
            .exchange_access(label)
            .map_err(|e| access_error(label, e))?;
        let detail = self.key_detail(label)?;
        let (secret, passphrase): (Option<Vec<u8>>, Option<Vec<u8>>) = self.conn.query_row(
            "SELECT previous_secret, previous_passphrase FROM rotations WHERE id = ?1",
            params![&row.id[..]],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let secret = secret.ok_or_else(|| VaultError::Corrupt {
            record: label.to_owned(),
            field: PREVIOUS_SECRET,
        })?;
        let (secret, passphrase) = self.open_rotation_fields(
            label,
            &row.id,
            (PREVIOUS_SECRET, &secret),
            passphrase.as_deref().map(|p| (PREVIOUS_PASSPHRASE, p)),
        )?;
        let credentials = credentials(
            row.previous_api_key_id.as_deref().unwrap_or_default(),
            &secret,
            passphrase.as_ref(),
            row.previous_key_type.unwrap_or(detail.summary.key_type),
            label,
        )?;
        Ok(PendingRevocation {
            target: RevokeTarget::RotationOld {
                rotation_id: row.id,
                revision: row.revision,
            },
            label: label.to_owned(),
            exchange: detail.summary.exchange,
            environment: access.environment.clone(),
            credentials,
            confirm_manual,
            proof: grant.method(),
        })
    }

    /// Phase 1 of revoking a key on its own (gated: [`GatedAction::Revoke`](crate::mfa::GatedAction::Revoke)).
    /// A key whose rotation is already promoted must finish it instead
    /// (`rotation_revoke_old`); an earlier open rotation is cancelled when
    /// the revocation is recorded.
    pub fn prepare_key_revoke(
        &mut self,
        grant: StepUpGrant<Revoke>,
        label: &str,
        confirm_manual: bool,
    ) -> Result<PendingRevocation, RotationError> {
        self.prepare_key_revoke_with(grant.method(), label, confirm_manual)
    }

    fn prepare_key_revoke_with(
        &mut self,
        proof: ProofMethod,
        label: &str,
        confirm_manual: bool,
    ) -> Result<PendingRevocation, RotationError> {
        self.key()?;
        let detail = self.key_detail(label)?;
        let key_id = self.find_id(label)?;
        if detail.summary.status == KeyStatus::Revoked {
            return Err(RotationError::KeyStatus {
                label: label.to_owned(),
                status: "revoked",
                what: "it is already revoked",
            });
        }
        if let Some(open) = self
            .rotation_rows(&key_id)?
            .into_iter()
            .find(|r| r.state.is_open() && r.state.is_promoted())
        {
            return Err(Self::wrong_state(
                label,
                open.state,
                "revoking the key on its own",
            ));
        }
        let fingerprint =
            key_fingerprint(&self.conn, &key_id)?.ok_or_else(|| VaultError::KeyNotFound {
                label: label.to_owned(),
            })?;
        let access = self
            .exchange_access(label)
            .map_err(|e| access_error(label, e))?;
        Ok(PendingRevocation {
            target: RevokeTarget::Key {
                key_id,
                fingerprint,
            },
            label: label.to_owned(),
            exchange: detail.summary.exchange,
            environment: access.environment,
            credentials: access.credentials,
            confirm_manual,
            proof,
        })
    }

    /// Phase 1 of "revoke everything on this exchange" (gated, one grant
    /// for the batch): one pending revocation per key of `exchange` that is
    /// not revoked yet; keys that cannot be prepared come back as failed
    /// outcomes, and the batch goes on.
    pub fn prepare_exchange_revoke(
        &mut self,
        grant: StepUpGrant<Revoke>,
        exchange: Exchange,
        confirm_manual: bool,
    ) -> Result<Vec<Result<PendingRevocation, RevokeOutcome>>, RotationError> {
        let labels: Vec<String> = self
            .list_keys()?
            .into_iter()
            .filter(|k| k.exchange == exchange && k.status != KeyStatus::Revoked)
            .map(|k| k.label)
            .collect();
        Ok(labels
            .into_iter()
            .map(|label| {
                self.prepare_key_revoke_with(grant.method(), &label, confirm_manual)
                    .map_err(|e| RevokeOutcome::Failed {
                        kind: e.kind(),
                        message: e.to_string(),
                        label,
                    })
            })
            .collect())
    }

    /// Phase 3 of a revocation: re-checks that the rotation or key did not
    /// change (else [`RotationError::Stale`]) and records the answer.
    /// Confirmed → `old_key_revoked` then `done` (rotation; the sealed
    /// `previous` key is erased) or status `revoked` (key), each audited
    /// with the proof. Anything else changes no state; for a rotation the
    /// refusal and its error are stored and audited.
    pub fn record_revocation(
        &mut self,
        actor: Actor,
        result: RevocationResult,
    ) -> Result<RevokeOutcome, RotationError> {
        self.key()?;
        let outcome = result.outcome();
        match &result.target {
            RevokeTarget::RotationOld {
                rotation_id,
                revision,
            } => {
                let row = self
                    .rotation_row(rotation_id)?
                    .filter(|r| r.revision == *revision && r.state == RotationState::Promoted)
                    .ok_or_else(|| RotationError::Stale {
                        label: result.label.clone(),
                    })?;
                let label = self.label_of(&row.key_id)?;
                let rid = row.id;
                if let Answer::Confirmed { method, .. } = &result.answer {
                    self.transition(
                        (actor, Some(result.proof)),
                        &label,
                        &row,
                        Some(RotationState::OldKeyRevoked),
                        RotationEvent::OldKeyRevoked {
                            method: method.as_str(),
                        },
                        |tx, _| {
                            tx.execute(
                                "UPDATE rotations SET previous_secret = NULL,
                                    previous_passphrase = NULL, error = NULL
                                 WHERE id = ?1",
                                params![&rid[..]],
                            )?;
                            Ok(())
                        },
                    )?;
                    self.rotation_finish(actor, &label)?;
                } else {
                    let (steps, error) = match &outcome {
                        RevokeOutcome::ManualStepsRequired { steps, reason, .. } => {
                            (Some(to_json(steps, "manual_steps")?), reason.clone())
                        }
                        RevokeOutcome::StillActive { message, .. }
                        | RevokeOutcome::Failed { message, .. } => (None, message.clone()),
                        RevokeOutcome::Inconclusive {
                            message,
                            check_by_hand,
                            ..
                        } => (
                            Some(to_json(check_by_hand, "manual_steps")?),
                            message.clone(),
                        ),
                        RevokeOutcome::Revoked { .. } => (None, String::new()),
                    };
                    self.transition(
                        (actor, Some(result.proof)),
                        &label,
                        &row,
                        None,
                        RotationEvent::StepRefused {
                            step: "revoke_old",
                            reason: result.reason_code(),
                        },
                        |tx, _| {
                            tx.execute(
                                "UPDATE rotations SET error = ?2,
                                    manual_steps = COALESCE(?3, manual_steps)
                                 WHERE id = ?1",
                                params![&rid[..], error, steps],
                            )?;
                            Ok(())
                        },
                    )?;
                }
            }
            RevokeTarget::Key {
                key_id,
                fingerprint,
            } => {
                if key_fingerprint(&self.conn, key_id)?.as_deref() != Some(fingerprint.as_slice()) {
                    return Err(RotationError::Stale {
                        label: result.label.clone(),
                    });
                }
                if let Answer::Confirmed { method, .. } = &result.answer {
                    let label = self.label_of(key_id)?;
                    let open = self
                        .rotation_rows(key_id)?
                        .into_iter()
                        .find(|r| r.state.is_open());
                    if open.as_ref().is_some_and(|r| r.state.is_promoted()) {
                        return Err(RotationError::Stale { label });
                    }
                    let kid = *key_id;
                    let mut actions = vec![
                        Event::new(audit::Action::KeyRevoked)
                            .with_key(uuid_string(key_id), label.clone())
                            .with_details(Details::new().with("method", method.as_str())),
                    ];
                    if let Some(r) = &open {
                        actions.push(rotation_event(
                            uuid_string(key_id),
                            label.clone(),
                            &uuid_string(&r.id),
                            RotationEvent::Cancelled,
                        ));
                    }
                    let open_id = open.map(|r| r.id);
                    let now = self.now_secs();
                    self.write_events(
                        actor,
                        Some(result.proof),
                        |_| actions,
                        |tx, sealer| {
                            if let Some(rid) = open_id {
                                tx.execute(
                                    "UPDATE rotations SET state = 'cancelled', cancelled_at = ?2,
                                    new_secret = NULL, new_passphrase = NULL,
                                    error = 'superseded by the revocation of the key',
                                    revision = revision + 1
                                 WHERE id = ?1",
                                    params![&rid[..], now],
                                )?;
                            }
                            super::rowmac::execute(
                                tx,
                                sealer,
                                &kid,
                                "UPDATE keys SET status = 'revoked' WHERE id = ?1",
                                params![&kid[..]],
                            )?;
                            Ok(())
                        },
                    )?;
                }
            }
        }
        Ok(outcome)
    }

    /// `old_key_revoked → done`; the key's status becomes `active` (a
    /// compromised key is no longer compromised once its secret is
    /// replaced and the old one revoked).
    pub fn rotation_finish(
        &mut self,
        actor: Actor,
        label: &str,
    ) -> Result<RotationView, RotationError> {
        let (row, key_id) = self.open_rotation(label)?;
        if row.state != RotationState::OldKeyRevoked {
            return Err(Self::wrong_state(label, row.state, "finishing"));
        }
        self.transition(
            (actor, None),
            label,
            &row,
            Some(RotationState::Done),
            RotationEvent::Done,
            |tx, sealer| {
                super::rowmac::execute(
                    tx,
                    sealer,
                    &key_id,
                    "UPDATE keys SET status = 'active' WHERE id = ?1",
                    params![&key_id[..]],
                )?;
                Ok(())
            },
        )?;
        self.rotation_status(label)
    }

    /// Abandons the rotation before promotion: the pending new key is
    /// erased and the key's status restored.
    pub fn rotation_cancel(
        &mut self,
        actor: Actor,
        label: &str,
    ) -> Result<RotationView, RotationError> {
        let (row, key_id) = self.open_rotation(label)?;
        let prior = row.prior_status;
        let rid = row.id;
        self.transition(
            (actor, None),
            label,
            &row,
            Some(RotationState::Cancelled),
            RotationEvent::Cancelled,
            |tx, sealer| {
                tx.execute(
                    "UPDATE rotations SET new_secret = NULL, new_passphrase = NULL WHERE id = ?1",
                    params![&rid[..]],
                )?;
                super::rowmac::execute(
                    tx,
                    sealer,
                    &key_id,
                    "UPDATE keys SET status = ?2 WHERE id = ?1",
                    params![&key_id[..], prior.as_str()],
                )?;
                Ok(())
            },
        )?;
        self.rotation_status(label)
    }

    /// Closes an open rotation as `failed` with `reason` (for a rotation
    /// that cannot go on, e.g. the new key was deleted on the exchange).
    /// The pending new key is erased; before promotion the key's status is
    /// restored, after it the key is `active` with its new credentials.
    pub fn rotation_fail(
        &mut self,
        actor: Actor,
        label: &str,
        reason: &str,
    ) -> Result<RotationView, RotationError> {
        validate::free_text("reason", reason, false)?;
        let (row, key_id) = self.open_rotation(label)?;
        let status = if row.state.is_promoted() {
            KeyStatus::Active
        } else {
            row.prior_status
        };
        let rid = row.id;
        let reason_owned = reason.to_owned();
        self.transition(
            (actor, None),
            label,
            &row,
            Some(RotationState::Failed),
            RotationEvent::Failed {
                reason: reason.to_owned(),
            },
            |tx, sealer| {
                tx.execute(
                    "UPDATE rotations SET new_secret = NULL, new_passphrase = NULL, error = ?2
                     WHERE id = ?1",
                    params![&rid[..], reason_owned],
                )?;
                super::rowmac::execute(
                    tx,
                    sealer,
                    &key_id,
                    "UPDATE keys SET status = ?2 WHERE id = ?1",
                    params![&key_id[..], status.as_str()],
                )?;
                Ok(())
            },
        )?;
        self.rotation_status(label)
    }

    /// Marks one linked service on the checklist of a promoted rotation.
    pub fn rotation_mark_service(
        &mut self,
        actor: Actor,
        label: &str,
        service: &str,
        state: ServiceState,
    ) -> Result<RotationView, RotationError> {
        self.key()?;
        let key_id = self.find_id(label)?;
        let row = self
            .rotation_rows(&key_id)?
            .into_iter()
            .find(|r| r.state.is_promoted())
            .ok_or_else(|| RotationError::NoOpenRotation {
                label: label.to_owned(),
            })?;
        let now = self.now_secs();
        let mut services = row.services.clone();
        let item = services
            .iter_mut()
            .find(|s| s.name == service)
            .ok_or_else(|| RotationError::UnknownService {
                label: label.to_owned(),
                service: service.chars().take(64).collect(),
            })?;
        item.state = state;
        item.marked_at = Some(now);
        let json = to_json(&services, "services")?;
        let rid = row.id;
        self.transition(
            (actor, None),
            label,
            &row,
            None,
            RotationEvent::ServiceMarked {
                service: service.to_owned(),
                state,
            },
            |tx, _| {
                tx.execute(
                    "UPDATE rotations SET services = ?2 WHERE id = ?1",
                    params![&rid[..], json],
                )?;
                Ok(())
            },
        )?;
        self.rotation_status(label)
    }
}

/// Access to a session for the three-phase steps: each phase takes it
/// briefly and gives it back before any network call.
pub trait SessionAccess {
    /// Runs `f` on the session. A mutex-held session is locked only for
    /// the length of `f`; a missing (locked) session is
    /// [`VaultError::Locked`].
    fn with_session<T, E: From<VaultError>>(
        &mut self,
        f: impl FnOnce(&mut Session) -> Result<T, E>,
    ) -> Result<T, E>;
}

impl SessionAccess for &mut Session {
    fn with_session<T, E: From<VaultError>>(
        &mut self,
        f: impl FnOnce(&mut Session) -> Result<T, E>,
    ) -> Result<T, E> {
        f(self)
    }
}

impl SessionAccess for &Mutex<Option<Session>> {
    fn with_session<T, E: From<VaultError>>(
        &mut self,
        f: impl FnOnce(&mut Session) -> Result<T, E>,
    ) -> Result<T, E> {
        // A poisoned lock is recovered: the session's invariants do not
        // depend on code that panicked elsewhere.
        let mut guard = self
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match guard.as_mut() {
            Some(session) => f(session),
            None => Err(VaultError::Locked.into()),
        }
    }
}

/// The verify step, all three phases (lock, network without it, lock).
pub async fn rotation_verify<S: SessionAccess>(
    mut access: S,
    client: &ExchangeClient,
    actor: Actor,
    label: &str,
    options: &VerifyOptions,
) -> Result<VerifyOutcome, RotationError> {
    let pending = access.with_session(|s| s.prepare_rotation_verify(label, options))?;
    let checked = pending.run(client).await;
    access.with_session(|s| s.record_rotation_verify(actor, checked))
}

/// The last check a promotion stores on the key, from the new key's passed
/// verification: when it ran, its result word (`ok`, or `warning` when the
/// verification noted any difference, such as no IP allowlist) and the
/// granted permissions with the live allowlist.
fn promoted_check(
    verified: &VerifyOutcome,
    label: &str,
) -> Result<(i64, &'static str, String), VaultError> {
    let result = if verified.differences.is_empty() {
        crate::model::CheckStatus::Ok
    } else {
        crate::model::CheckStatus::Warning
    };
    let stored = super::checks::StoredCheck {
        granted: verified.granted.clone(),
        ip_restricted: verified.live_ips.as_ref().map(|ips| !ips.is_empty()),
        ip_whitelist: verified.live_ips.clone(),
    };
    Ok((
        verified.checked_at,
        result.as_str(),
        stored.to_column(label)?,
    ))
}

/// Revokes a rotation's old key, all three phases; on confirmation the
/// rotation ends `done`. The grant (`revoke`) is passed through by value.
pub async fn rotation_revoke_old<S: SessionAccess>(
    mut access: S,
    client: &ExchangeClient,
    actor: Actor,
    grant: StepUpGrant<Revoke>,
    label: &str,
    confirm_manual: bool,
) -> Result<RevokeOutcome, RotationError> {
    let pending =
        access.with_session(|s| s.prepare_rotation_revoke(grant, label, confirm_manual))?;
    let result = pending.run(client).await;
    access.with_session(|s| s.record_revocation(actor, result))
}

/// [`rotation_revoke_old`] with a person deleting the key by hand while it
/// runs (see [`PendingRevocation::run_waiting`]).
pub async fn rotation_revoke_old_waiting<S, W, Fut>(
    mut access: S,
    client: &ExchangeClient,
    actor: Actor,
    grant: StepUpGrant<Revoke>,
    label: &str,
    wait: W,
) -> Result<RevokeOutcome, RotationError>
where
    S: SessionAccess,
    W: FnOnce(String, Vec<String>) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let pending = access.with_session(|s| s.prepare_rotation_revoke(grant, label, false))?;
    let result = pending.run_waiting(client, Some(wait)).await;
    access.with_session(|s| s.record_revocation(actor, result))
}

/// [`revoke_key`] with a person deleting the key by hand while it runs.
pub async fn revoke_key_waiting<S, W, Fut>(
    mut access: S,
    client: &ExchangeClient,
    actor: Actor,
    grant: StepUpGrant<Revoke>,
    label: &str,
    wait: W,
) -> Result<RevokeOutcome, RotationError>
where
    S: SessionAccess,
    W: FnOnce(String, Vec<String>) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let pending = access.with_session(|s| s.prepare_key_revoke(grant, label, false))?;
    let result = pending.run_waiting(client, Some(wait)).await;
    access.with_session(|s| s.record_revocation(actor, result))
}

/// Revokes one key on its own, all three phases.
pub async fn revoke_key<S: SessionAccess>(
    mut access: S,
    client: &ExchangeClient,
    actor: Actor,
    grant: StepUpGrant<Revoke>,
    label: &str,
    confirm_manual: bool,
) -> Result<RevokeOutcome, RotationError> {
    let pending = access.with_session(|s| s.prepare_key_revoke(grant, label, confirm_manual))?;
    let result = pending.run(client).await;
    access.with_session(|s| s.record_revocation(actor, result))
}

/// "Revoke everything on this exchange": one grant for the batch, one
/// outcome per key, in label order; a failure is that key's outcome and the
/// batch goes on.
pub async fn revoke_exchange<S: SessionAccess>(
    mut access: S,
    client: &ExchangeClient,
    actor: Actor,
    grant: StepUpGrant<Revoke>,
    exchange: Exchange,
    confirm_manual: bool,
) -> Result<Vec<RevokeOutcome>, RotationError> {
    let prepared =
        access.with_session(|s| s.prepare_exchange_revoke(grant, exchange, confirm_manual))?;
    let mut out = Vec::with_capacity(prepared.len());
    for item in prepared {
        match item {
            Err(outcome) => out.push(outcome),
            Ok(pending) => {
                let label = pending.label().to_owned();
                let result = pending.run(client).await;
                match access.with_session(|s| s.record_revocation(actor, result)) {
                    Ok(outcome) => out.push(outcome),
                    Err(e) => out.push(RevokeOutcome::Failed {
                        kind: e.kind(),
                        message: e.to_string(),
                        label,
                    }),
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_desktop_futures_are_send() {
        fn assert_send<T: Send>(_: &T) {}
        let slot = Mutex::new(None);
        let client = ExchangeClient::new(exchange::HttpConfig::default()).unwrap();
        let options = VerifyOptions::default();
        let fut = rotation_verify(&slot, &client, Actor::Gui, "k", &options);
        assert_send(&fut);
    }

    #[test]
    fn every_state_has_its_own_stamp_column() {
        let mut cols: Vec<&str> = RotationState::ALL
            .iter()
            .map(|s| stamp_column(*s))
            .collect();
        cols.dedup();
        assert_eq!(cols.len(), RotationState::ALL.len());
        for (i, s) in RotationState::ALL.iter().enumerate() {
            assert!(COLUMNS.contains(stamp_column(*s)), "{s}");
            assert_eq!(RotationState::ALL[i], *s);
        }
    }
}
