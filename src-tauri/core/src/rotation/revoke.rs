//! Revocation, in three phases: a rotation's old key once the new one is
//! current, a key on its own, or every key of one exchange.
//!
//! ```text
//! // 1. under the session lock: check the state, unseal the key to revoke,
//! //    read the baseline an earlier attempt recorded
//! let pending = rotation::prepare_key_revoke(session, grant, label, confirm_manual)?;
//! // 2. without the lock: check the key live (the baseline), record that
//! //    success under the lock, revoke at the exchange, expect a rejection
//! let result = rotation::run_revocation(&mut access, &client, Actor::Gui, pending).await?;
//! // 3. under the lock again: re-check that nothing moved, record
//! let outcome = rotation::record_revocation(session, Actor::Gui, result)?;
//! ```
//! [`revoke_old`], [`revoke_key`] and [`revoke_exchange`] do all three for
//! anything that implements [`SessionAccess`](crate::vault::SessionAccess)
//! (in `revoke/drive.rs`). Phase 2 takes the session
//! once, briefly, between the live check and the delete call: the success
//! is recorded (see `baseline`) so that a retry from another process, after
//! an answer to the deletion that never arrived, can still prove it.
//!
//! Must never: mark a key revoked or a rotation's old key revoked before a
//! live call with it was rejected as unknown or expired (a manual deletion
//! the user confirms is still checked live), send the delete call before
//! its baseline is recorded, record a result for a
//! rotation or key that changed while the call ran (each pending value
//! carries the rotation's revision or the key's credential fingerprint), or
//! let the credentials outlive the pending value (redacted `Debug`,
//! zeroized on drop).

use std::time::Instant;

use rusqlite::params;

use super::baseline::{self, Baseline, Recorded};
use super::steps::finish;
use super::store::{
    SealedKey, access_error, cancel_deletes_key, key_fingerprint, label_of, open_row,
    rotation_event, row_by_id, rows, sealed_credentials, to_json, transition, uuid_string,
    wrong_state,
};
use super::{RevokeMethod, RevokeOutcome, RotationError, RotationEvent, RotationState};
use crate::KindedError;
use crate::audit::{self, Details, Event};
use crate::exchange::{
    Credentials, Endpoint, ExchangeClient, ExchangeError, ProofScope, Revocation, RevocationCheck,
};
use crate::mfa::actions::Revoke;
use crate::mfa::{ProofMethod, StepUpGrant};
use crate::model::{Environment, Exchange, KeyStatus, mask_key_id};
use crate::vault::{self, Actor, Session, VaultError};

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
    /// The key record (for a rotation's old key, the rotated key's).
    key_id: [u8; 16],
    label: String,
    exchange: Exchange,
    environment: Environment,
    credentials: Credentials,
    confirm_manual: bool,
    proof: ProofMethod,
    /// A success of these credentials an earlier attempt recorded.
    recorded: Option<Recorded>,
    /// Set when the key is deleted through the account's manager key
    /// rather than with its own credentials.
    manager: Option<ManagerDelete>,
}

/// Deleting a sub-account key through the account's manager key (an
/// automated rotation) instead of with the key's own credentials. Holds
/// the manager key's credentials (zeroized on drop).
pub(super) struct ManagerDelete {
    /// The manager key's credentials.
    pub(super) credentials: Credentials,
    /// The sub-account holding the key to delete.
    pub(super) sub_account: String,
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
    /// Phase 2a, without the session: checks the key live on its endpoint
    /// (the baseline that makes a later rejection a proof; not with
    /// `confirm_manual`, the key is already deleted by hand). A success an
    /// earlier attempt recorded for these credentials at this endpoint is
    /// handed to the client first. Needs a Tokio runtime.
    async fn check(self, client: &ExchangeClient) -> CheckedRevocation {
        let endpoint = match client.endpoint(self.exchange, &self.environment) {
            Ok(e) => e,
            Err(e) => return self.answered(Answer::Failed(e)),
        };
        if let Some(recorded) = &self.recorded {
            recorded.seed(&endpoint, &self.credentials);
        }
        let mut unproven = None;
        let mut authenticated = None;
        if !self.confirm_manual {
            match endpoint.verify(&self.credentials).await {
                Ok(report) => {
                    if report.authenticated {
                        authenticated = Some(Instant::now());
                    }
                    unproven = report
                        .rejection
                        .map(|r| format!("{} {}", r.code, r.message));
                }
                Err(e) => return self.answered(Answer::Failed(e)),
            }
        }
        CheckedRevocation {
            pending: self,
            step: Step::Ready {
                endpoint,
                unproven,
                authenticated,
            },
        }
    }

    fn answered(self, answer: Answer) -> CheckedRevocation {
        CheckedRevocation {
            pending: self,
            step: Step::Answered(answer),
        }
    }
}

/// Phase 2a → 2b of a revocation: the key checked live, not yet deleted.
/// Holds the credentials (redacted `Debug`, zeroized on drop). Only
/// [`run_revocation`] goes from one to the other, recording the baseline
/// in between.
struct CheckedRevocation {
    pending: PendingRevocation,
    step: Step,
}

impl std::fmt::Debug for CheckedRevocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckedRevocation")
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

enum Step {
    /// Over before the deletion (no endpoint, the live check failed).
    Answered(Answer),
    /// Ready to delete.
    Ready {
        endpoint: Endpoint,
        /// Why the live check did not authenticate, if it did not.
        unproven: Option<String>,
        /// When it did.
        authenticated: Option<Instant>,
    },
}

/// Phase 2, between the live check and the delete call, under the session:
/// records the check's success as the key's revocation baseline (an audit
/// entry without any secret, see `baseline`) where the exchange deletes
/// through its API. An error stops the revocation before anything is
/// deleted.
fn record_baseline(
    session: &mut Session,
    actor: Actor,
    checked: &CheckedRevocation,
) -> Result<(), RotationError> {
    let Step::Ready {
        endpoint,
        authenticated: Some(at),
        ..
    } = &checked.step
    else {
        return Ok(());
    };
    let p = &checked.pending;
    if !endpoint.capabilities().revoke_via_api && p.manager.is_none() {
        return Ok(());
    }
    baseline::record(
        session,
        actor,
        p.proof,
        Baseline {
            key_id: &p.key_id,
            label: &p.label,
            scope: &endpoint.proof_scope(),
            creds: &p.credentials,
            ago: at.elapsed(),
        },
    )?;
    Ok(())
}

impl CheckedRevocation {
    /// Phase 2b, without the session: revokes through the API where the
    /// exchange has one (else, with `confirm_manual`, takes the user's word
    /// that it was done), then makes a live call with the key and expects
    /// a rejection.
    ///
    /// With a person at hand (`wait`, the CLI's `--wait`): where the
    /// exchange has no revocation API, hands the steps to `wait`, which
    /// returns once the person deleted the key (`true`) or gave up
    /// (`false`), then checks live that it is rejected: one process, one
    /// client, so the proof holds.
    async fn finish<W, Fut>(self, wait: Option<W>) -> RevocationResult
    where
        W: FnOnce(String, Vec<String>) -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let p = self.pending;
        let answer = match self.step {
            Step::Answered(answer) => answer,
            Step::Ready {
                endpoint, unproven, ..
            } => p.ask(&endpoint, unproven, wait).await,
        };
        RevocationResult {
            target: p.target.clone(),
            label: p.label.clone(),
            exchange: p.exchange,
            proof: p.proof,
            answer,
        }
    }
}

impl PendingRevocation {
    async fn ask<W, Fut>(
        &self,
        endpoint: &Endpoint,
        unproven: Option<String>,
        wait: Option<W>,
    ) -> Answer
    where
        W: FnOnce(String, Vec<String>) -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        if let Some(manager) = &self.manager {
            let deleted = endpoint
                .delete_sub_key(
                    &manager.credentials,
                    &manager.sub_account,
                    &self.credentials.api_key,
                )
                .await;
            match deleted {
                Ok(()) => {}
                // A retry after a deletion whose answer was lost: the
                // exchange no longer knows the key. The live check below
                // decides (a key that still works is `still_active`).
                Err(ExchangeError::Rejected { .. }) => {}
                Err(e) => return Answer::Failed(e),
            }
            return self.confirm(endpoint, RevokeMethod::Api).await;
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
            // A retry after an earlier deletion whose answer was lost: the
            // key is already gone. The live check below decides (with the
            // baseline the earlier attempt recorded, it can prove it).
            Err(ExchangeError::Rejected { reason, .. }) if reason.means_key_unusable() => {
                RevokeMethod::Api
            }
            Err(e) => return Answer::Failed(e),
        };
        self.confirm(endpoint, method).await
    }

    /// After the deletion: a live call with the key, expected to be
    /// rejected as unknown.
    async fn confirm(&self, endpoint: &Endpoint, method: RevokeMethod) -> Answer {
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
                left_live: None,
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

/// Phase 1 of revoking a rotation's old key (gated:
/// [`GatedAction::Revoke`](crate::mfa::GatedAction::Revoke)): unseals the `previous` key. With
/// `confirm_manual`, the user states they deleted the key on the
/// exchange by hand (for exchanges without a revocation API); the live
/// check still decides.
pub fn prepare_revoke_old(
    session: &mut Session,
    grant: StepUpGrant<Revoke>,
    label: &str,
    confirm_manual: bool,
) -> Result<PendingRevocation, RotationError> {
    prepare_revoke_old_with(session, grant.method(), label, confirm_manual, None)
}

/// [`prepare_revoke_old`] under a grant the caller already took, deleting
/// through `manager` when given (an automated rotation).
pub(super) fn prepare_revoke_old_with(
    session: &mut Session,
    proof: ProofMethod,
    label: &str,
    confirm_manual: bool,
    manager: Option<ManagerDelete>,
) -> Result<PendingRevocation, RotationError> {
    let (row, _) = open_row(session, label)?;
    if row.state != RotationState::Promoted {
        return Err(wrong_state(label, row.state, "revoking the old key"));
    }
    let access = session
        .exchange_access(label)
        .map_err(|e| access_error(label, e))?;
    let detail = session.key_detail(label)?;
    let credentials = sealed_credentials(
        session,
        label,
        &row,
        SealedKey::Previous,
        detail.summary.key_type,
    )?;
    let exchange = detail.summary.exchange;
    let recorded = recorded_for(
        session,
        &row.key_id,
        exchange,
        &access.environment,
        &credentials,
    )?;
    Ok(PendingRevocation {
        target: RevokeTarget::RotationOld {
            rotation_id: row.id,
            revision: row.revision,
        },
        key_id: row.key_id,
        label: label.to_owned(),
        exchange,
        environment: access.environment.clone(),
        credentials,
        confirm_manual,
        proof,
        recorded,
        manager,
    })
}

/// Phase 1 of revoking a key on its own (gated: [`GatedAction::Revoke`](crate::mfa::GatedAction::Revoke)).
/// A key whose rotation is already promoted must finish it instead
/// ([`revoke_old`]); an earlier open rotation is cancelled when
/// the revocation is recorded.
pub fn prepare_key_revoke(
    session: &mut Session,
    grant: StepUpGrant<Revoke>,
    label: &str,
    confirm_manual: bool,
) -> Result<PendingRevocation, RotationError> {
    prepare_key_revoke_with(session, grant.method(), label, confirm_manual)
}

fn prepare_key_revoke_with(
    session: &mut Session,
    proof: ProofMethod,
    label: &str,
    confirm_manual: bool,
) -> Result<PendingRevocation, RotationError> {
    session.vault_key()?;
    let detail = session.key_detail(label)?;
    let key_id = session.find_id(label)?;
    if detail.summary.status == KeyStatus::Revoked {
        return Err(RotationError::KeyStatus {
            label: label.to_owned(),
            status: "revoked",
            what: "it is already revoked",
        });
    }
    if let Some(open) = rows(session, &key_id)?
        .into_iter()
        .find(|r| r.state.is_open() && r.state.is_promoted())
    {
        return Err(wrong_state(
            label,
            open.state,
            "revoking the key on its own",
        ));
    }
    let fingerprint =
        key_fingerprint(session.conn(), &key_id)?.ok_or_else(|| VaultError::KeyNotFound {
            label: label.to_owned(),
        })?;
    let access = session
        .exchange_access(label)
        .map_err(|e| access_error(label, e))?;
    let exchange = detail.summary.exchange;
    let recorded = recorded_for(
        session,
        &key_id,
        exchange,
        &access.environment,
        &access.credentials,
    )?;
    Ok(PendingRevocation {
        target: RevokeTarget::Key {
            key_id,
            fingerprint,
        },
        key_id,
        label: label.to_owned(),
        exchange,
        environment: access.environment,
        credentials: access.credentials,
        confirm_manual,
        proof,
        recorded,
        manager: None,
    })
}

/// The baseline an earlier attempt recorded for these credentials at the
/// endpoint they are about to be sent to, if any.
fn recorded_for(
    session: &mut Session,
    key_id: &[u8; 16],
    exchange: Exchange,
    environment: &Environment,
    creds: &Credentials,
) -> Result<Option<Recorded>, VaultError> {
    match ProofScope::of(exchange, environment) {
        Ok(scope) => baseline::recorded(session, key_id, &scope, creds),
        // Phase 2 reports the unusable endpoint.
        Err(_) => Ok(None),
    }
}

/// Phase 1 of "revoke everything on this exchange" (gated, one grant
/// for the batch): one pending revocation per key of `exchange` that is
/// not revoked yet; keys that cannot be prepared come back as failed
/// outcomes, and the batch goes on.
pub fn prepare_exchange_revoke(
    session: &mut Session,
    grant: StepUpGrant<Revoke>,
    exchange: Exchange,
    confirm_manual: bool,
) -> Result<Vec<Result<PendingRevocation, RevokeOutcome>>, RotationError> {
    let labels: Vec<String> = session
        .list_keys()?
        .into_iter()
        .filter(|k| k.exchange == exchange && k.status != KeyStatus::Revoked)
        .map(|k| k.label)
        .collect();
    Ok(labels
        .into_iter()
        .map(|label| {
            prepare_key_revoke_with(session, grant.method(), &label, confirm_manual).map_err(|e| {
                RevokeOutcome::Failed {
                    kind: e.kind(),
                    message: e.to_string(),
                    label,
                }
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
    session: &mut Session,
    actor: Actor,
    result: RevocationResult,
) -> Result<RevokeOutcome, RotationError> {
    session.vault_key()?;
    let mut outcome = result.outcome();
    match &result.target {
        RevokeTarget::RotationOld {
            rotation_id,
            revision,
        } => {
            let row = row_by_id(session, rotation_id)?
                .filter(|r| r.revision == *revision && r.state == RotationState::Promoted)
                .ok_or_else(|| RotationError::Stale {
                    label: result.label.clone(),
                })?;
            let label = label_of(session, &row.key_id)?;
            let rid = row.id;
            if let Answer::Confirmed { method, .. } = &result.answer {
                transition(
                    session,
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
                finish(session, actor, &label)?;
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
                transition(
                    session,
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
            if key_fingerprint(session.conn(), key_id)?.as_deref() != Some(fingerprint.as_slice()) {
                return Err(RotationError::Stale {
                    label: result.label.clone(),
                });
            }
            if let Answer::Confirmed { method, .. } = &result.answer {
                let label = label_of(session, key_id)?;
                let open = rows(session, key_id)?
                    .into_iter()
                    .find(|r| r.state.is_open());
                if open.as_ref().is_some_and(|r| r.state.is_promoted()) {
                    return Err(RotationError::Stale { label });
                }
                // An automated rotation's created key outlives the cancel
                // below: named in the entry and the outcome, for deletion.
                let left_live = match &open {
                    Some(r) if cancel_deletes_key(session, r)? => Some(
                        r.new_api_key_id
                            .as_deref()
                            .map_or_else(|| "(id unknown)".to_owned(), mask_key_id),
                    ),
                    _ => None,
                };
                let kid = *key_id;
                let mut details = Details::new().with("method", method.as_str());
                if let Some(masked) = &left_live {
                    details = details.with("rotation_key_left_live", masked.clone());
                }
                let mut actions = vec![
                    Event::new(audit::Action::KeyRevoked)
                        .with_key(uuid_string(key_id), label.clone())
                        .with_details(details),
                ];
                if let (
                    Some(masked),
                    RevokeOutcome::Revoked {
                        left_live: note, ..
                    },
                ) = (&left_live, &mut outcome)
                {
                    let exchange = session.key_detail(&label)?.summary.exchange;
                    *note = Some(format!(
                        "the automated rotation of {label} had created the key {masked}, which is \
                         still live on {} and now held by nobody: delete it on the Accounts \
                         screen (an unknown key) or with `keyward inventory revoke {} {masked} \
                         --totp CODE`",
                        exchange.display_name(),
                        exchange.as_str()
                    ));
                }
                if let Some(r) = &open {
                    actions.push(rotation_event(
                        uuid_string(key_id),
                        label.clone(),
                        &uuid_string(&r.id),
                        RotationEvent::Cancelled {
                            deleted: Vec::new(),
                        },
                    ));
                }
                let open_id = open.map(|r| r.id);
                let now = session.now_secs();
                session.write_events(
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
                        vault::update_key_row(
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

mod drive;
pub use drive::{
    revoke_exchange, revoke_key, revoke_old, revoke_waiting, revoke_with, run_revocation,
};
