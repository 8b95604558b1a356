//! Cancelling an automated rotation without leaving its created key live.
//!
//! ```text
//! rotation::cancel_auto(access, &client, Actor, grant /*AutoRotate*/, label) -> Result<AutoCancel>
//!   1. under the session: the open rotation and its revision, the manager
//!      key, the stored new key (if Keyward created it), a baseline an
//!      earlier attempt recorded for it
//!   2. without it: a live call with the new key (the baseline, recorded
//!      under the session after checking nothing moved), delete_sub_key
//!      through the manager key, confirm_revoked with the new key (a
//!      rejection proves it dead); then every other key of the sub-account
//!      labelled with the rotation's marker (an interrupted creation's)
//!   3. under the session: the rotation still at the prepared revision,
//!      `cancelled`, its audit entry naming the deleted keys
//! ```
//! A rotation without such a key is cancelled at once, no network. An
//! exchange that cannot be reached, a key that still works or an
//! unprovable rejection stop before phase 3: the rotation stays open and
//! resumable, and the error says what happened.
//!
//! Owns: the order of the deletion and the cancel. Must never: record the
//! rotation cancelled while its created key may be live and provable,
//! delete the key while the rotation moved (promoted, another key
//! entered), or use the manager key without the caller's grant.

use std::time::Instant;

use serde::Serialize;

use super::{Leftovers, Manager, Target, exchange_error, manager, marker, sweep_orphans, target};
use crate::exchange::{Credentials, ExchangeClient, ExchangeError, RevocationCheck};
use crate::mfa::actions::AutoRotate;
use crate::mfa::{ProofMethod, StepUpGrant};
use crate::model::mask_key_id;
use crate::rotation::baseline::{self, Baseline, Recorded};
use crate::rotation::steps::cancel_row;
use crate::rotation::store::{
    SealedKey, interrupted_creation, open_row, sealed_credentials, stored_created, uuid_string,
    wrong_state,
};
use crate::rotation::{RotationError, RotationState, RotationView};
use crate::vault::{Actor, Session, SessionAccess};

/// A key Keyward created that the cancel deleted and proved dead.
#[derive(Debug, Clone, Serialize)]
pub struct DeletedKey {
    /// Its key id, masked.
    pub key: String,
    /// The exchange's rejection of a live call with it after the deletion.
    pub confirmation: String,
}

/// What cancelling an automated rotation did.
#[derive(Debug, Clone, Serialize)]
pub struct AutoCancel {
    /// The key's label.
    pub label: String,
    /// The rotation, now cancelled.
    pub rotation: RotationView,
    /// The stored new key, deleted through the manager key and proven dead
    /// (`None`: no created key was stored).
    pub deleted: Option<DeletedKey>,
    /// Other keys of the sub-account labelled with the rotation's marker
    /// (left by an interrupted creation), deleted.
    pub leftovers_deleted: usize,
    /// Where a creation was interrupted and the exchange cannot list the
    /// sub-account's keys: what to check on its website.
    pub check_by_hand: Option<String>,
}

/// Phase 1 → 2. Holds the manager key's and the new key's credentials
/// (zeroized on drop, never printed).
struct Prepared {
    rotation_id: [u8; 16],
    revision: i64,
    key_id: [u8; 16],
    target: Target,
    manager: Manager,
    new: Option<Credentials>,
    recorded: Option<Recorded>,
    found: Leftovers,
    marker: String,
    interrupted: bool,
}

/// Cancels the open rotation of `label`. For an automated rotation whose
/// created key may be live on the exchange, deletes it first through the
/// account's manager key and proves it dead (see the module docs); any
/// other rotation is cancelled as [`cancel`](crate::rotation::cancel)
/// does. One [`AutoRotate`] grant covers it.
pub async fn cancel_auto<S: SessionAccess>(
    mut access: S,
    client: &ExchangeClient,
    actor: Actor,
    grant: StepUpGrant<AutoRotate>,
    label: &str,
) -> Result<AutoCancel, RotationError> {
    let proof = grant.method();
    let prepared = access.with_session(|s| prepare(s, client, proof, actor, label))?;
    let p = match prepared {
        Ok(view) => {
            return Ok(AutoCancel {
                label: label.to_owned(),
                rotation: view,
                deleted: None,
                leftovers_deleted: 0,
                check_by_hand: None,
            });
        }
        Err(p) => p,
    };
    let deleted = delete_new(&mut access, client, actor, proof, label, &p).await?;
    let leftovers_deleted = sweep_orphans(
        client, &p.target, &p.manager, label, &p.marker, &p.found, false,
    )
    .await?;
    let endpoint = client
        .endpoint(p.target.exchange, &p.target.environment)
        .map_err(|e| exchange_error(label, e))?;
    let sub_account = p.target.sub_account.clone().unwrap_or_default();
    let check_by_hand = (p.interrupted && !endpoint.capabilities().list_account_keys).then(|| {
        format!(
            "{} cannot list the keys of sub-account {sub_account} through its API: check on its website that no key labelled {} is left, and delete it if one is",
            p.target.exchange.display_name(),
            p.marker
        )
    });
    let mut gone: Vec<String> = deleted.iter().map(|d| d.key.clone()).collect();
    if leftovers_deleted > 0 {
        gone.push(format!("{leftovers_deleted} labelled {}", p.marker));
    }
    let rotation = access.with_session(|s| {
        let row = unchanged(s, label, &p)?;
        cancel_row(s, (actor, Some(proof)), label, &row, gone)
    })?;
    Ok(AutoCancel {
        label: label.to_owned(),
        rotation,
        deleted,
        leftovers_deleted,
        check_by_hand,
    })
}

/// Phase 1: `Ok(view)` when the rotation had no created key and is now
/// cancelled; else what the network phase needs.
#[allow(clippy::type_complexity)]
fn prepare(
    s: &mut Session,
    client: &ExchangeClient,
    proof: ProofMethod,
    actor: Actor,
    label: &str,
) -> Result<Result<RotationView, Prepared>, RotationError> {
    let (row, key_id) = open_row(s, label)?;
    if !row.state.can_go_to(RotationState::Cancelled) {
        return Err(wrong_state(label, row.state, "cancelling"));
    }
    let stored = stored_created(s, &row)?;
    let interrupted = interrupted_creation(&row);
    if !stored && !interrupted {
        return cancel_row(s, (actor, Some(proof)), label, &row, Vec::new()).map(Ok);
    }
    let t = target(s, label)?;
    if t.sub_account.is_none() {
        return Err(RotationError::NotManaged {
            label: label.to_owned(),
            why: "its sub-account is not recorded".into(),
        });
    }
    let m = manager(s, label, &t)?;
    let detail = s.key_detail(label)?;
    let rid = uuid_string(&row.id);
    let mut keep = vec![detail.api_key_id.clone()];
    let (new, recorded) = if stored {
        let creds = sealed_credentials(s, label, &row, SealedKey::New, detail.summary.key_type)?;
        let endpoint = client
            .endpoint(t.exchange, &t.environment)
            .map_err(|e| exchange_error(label, e))?;
        let recorded = baseline::recorded(s, &key_id, &endpoint.proof_scope(), &creds)?;
        keep.push(creds.api_key.clone());
        (Some(creds), recorded)
    } else {
        (None, None)
    };
    let marker = marker(&rid);
    Ok(Err(Prepared {
        rotation_id: row.id,
        revision: row.revision,
        key_id,
        target: t,
        manager: m,
        new,
        recorded,
        found: Leftovers {
            markers: vec![marker.clone()],
            keep,
        },
        marker,
        interrupted,
    }))
}

/// The open rotation, if it is still the prepared one at the prepared
/// revision (else [`RotationError::Stale`]: nothing is deleted or recorded).
fn unchanged(
    s: &mut Session,
    label: &str,
    p: &Prepared,
) -> Result<crate::rotation::store::Row, RotationError> {
    let (row, _) = open_row(s, label)?;
    if row.id != p.rotation_id || row.revision != p.revision {
        return Err(RotationError::Stale {
            label: label.to_owned(),
        });
    }
    Ok(row)
}

/// Phase 2 for the stored new key: checked live (its baseline recorded
/// under the session, after checking the rotation did not move), deleted
/// through the manager key, then a live call with it must be rejected.
async fn delete_new<S: SessionAccess>(
    access: &mut S,
    client: &ExchangeClient,
    actor: Actor,
    proof: ProofMethod,
    label: &str,
    p: &Prepared,
) -> Result<Option<DeletedKey>, RotationError> {
    let Some(new) = &p.new else {
        return Ok(None);
    };
    let t = &p.target;
    let endpoint = client
        .endpoint(t.exchange, &t.environment)
        .map_err(|e| exchange_error(label, e))?;
    if let Some(recorded) = &p.recorded {
        recorded.seed(&endpoint, new);
    }
    let report = endpoint
        .verify(new)
        .await
        .map_err(|e| exchange_error(label, e))?;
    let authenticated = report.authenticated.then(Instant::now);
    access.with_session(|s| -> Result<(), RotationError> {
        unchanged(s, label, p)?;
        if let Some(at) = authenticated {
            baseline::record(
                s,
                actor,
                proof,
                Baseline {
                    key_id: &p.key_id,
                    label,
                    scope: &endpoint.proof_scope(),
                    creds: new,
                    ago: at.elapsed(),
                },
            )?;
        }
        Ok(())
    })?;
    let sub_account = t.sub_account.as_deref().unwrap_or_default();
    match endpoint
        .delete_sub_key(&p.manager.credentials, sub_account, &new.api_key)
        .await
    {
        // A retry after a deletion whose answer was lost: the live check
        // below decides.
        Ok(()) | Err(ExchangeError::Rejected { .. }) => {}
        Err(e) => return Err(exchange_error(label, e)),
    }
    match endpoint
        .confirm_revoked(new)
        .await
        .map_err(|e| exchange_error(label, e))?
    {
        RevocationCheck::Confirmed { rejection } => Ok(Some(DeletedKey {
            key: mask_key_id(&new.api_key),
            confirmation: format!("{} {}", rejection.code, rejection.message),
        })),
        RevocationCheck::StillActive => Err(RotationError::StillActive {
            label: format!("the new key {} of {label}", mask_key_id(&new.api_key)),
            exchange: t.exchange,
        }),
        RevocationCheck::Inconclusive { rejection, .. } => Err(RotationError::Inconclusive {
            label: format!("the new key {} of {label}", mask_key_id(&new.api_key)),
            exchange: t.exchange,
            code: rejection.code,
            message: rejection.message,
        }),
    }
}
