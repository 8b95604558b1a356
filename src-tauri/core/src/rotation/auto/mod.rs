//! Zero-touch rotation of a sub-account key through its account's manager
//! key: the staged rotation of this module, every stage driven by Keyward
//! itself under one [`AutoRotate`] grant.
//!
//! ```text
//! rotation::rotate_auto(access, &client, Actor, grant /*AutoRotate*/, label) -> Result<AutoOutcome>
//!   (sub-account unknown: locate_sub_key through the manager key, stored on the key)
//!   planned          begin
//!   new_key_entered  create_sub_key (same declared scopes and IP allowlist, labelled
//!                    with the rotation's marker) and, in the same step, the created
//!                    secret stored sealed as the rotation's new key (storing fails:
//!                    the created key is deleted again through the manager key)
//!   new_key_verified the existing verify step (the new key works within scope;
//!                    what the exchange does not report is accepted, audited, since
//!                    Keyward asked for exactly the declared scopes)
//!   promoted         the existing promotion, then the new key re-deployed to every
//!                    deployment target that held the old one (the same grant; a
//!                    target that cannot be reached stops the run here, promoted,
//!                    and the next run delivers again before going on)
//!   old_key_revoked  baseline recorded, delete_sub_key through the manager key, the
//!                    existing proof of death (confirm_revoked with the old key)
//!   done
//! ```
//! Each stage is the existing rotation's transition (one transaction, one
//! audit entry); running `rotate_auto` again continues from the stored
//! state. The one window where a secret exists outside the vault is
//! between the creation's answer and its storing: the created key carries
//! the marker label `kw` + the rotation id's first 16 hex digits, the
//! rotation notes the attempt before the call, and a resumed `planned`
//! rotation lists the sub-account's keys and deletes every key with that
//! label before creating again (where the exchange cannot list them, it
//! refuses: [`RotationError::OrphanUnchecked`]). Keys with the marker other
//! than the stored new key are deleted the same way before verification,
//! so no two live keys remain.
//!
//! Owns: the order of the automated stages and the use of the manager key
//! in them. Must never: create a second new key while one is stored, keep
//! a created secret anywhere but the vault once the step returns, use the
//! manager key without the caller's grant, delete the old key while a
//! deployment target still holds it, or record the old key revoked
//! without the live proof.

mod cancel;
mod schedule;

use secrecy::ExposeSecret;
use serde::Serialize;

use super::flow::{VerifyOptions, prepare_verify, record_verify};
use super::follow::{promote_and_prepare, redeploy_behind};
use super::revoke::{ManagerDelete, prepare_revoke_old_with, record_revocation, run_revocation};
use super::steps::{NewRotationKey, begin, enter_key, finish, status};
use super::store::{CREATING, access_error, open_row, rows, uuid_string};
use super::verify::VerifyOutcome;
use super::{RevokeOutcome, RotationError, RotationState, RotationView};
use crate::audit::{Action, Details, Event};
use crate::deploy::{SshOptions, TargetDelivery, deliver_followed};
use crate::exchange::{Credentials, ExchangeClient, ExchangeError, SubKeySpec};
use crate::managed;
use crate::mfa::actions::AutoRotate;
use crate::mfa::{ProofMethod, StepUpGrant};
use crate::model::{ApiSecret, Environment, Exchange, KeyStatus, Passphrase, Scope};
use crate::vault::{self, Actor, Session, SessionAccess, VaultError};

pub use cancel::{AutoCancel, DeletedKey, cancel_auto};
pub use schedule::{
    AutoSchedule, DueAuto, auto_schedule, due_auto, notify_due_auto, rotate_due_auto,
    set_auto_schedule, turn_auto_off,
};

/// One stage an automated run went through.
#[derive(Debug, Clone, Serialize)]
pub struct AutoStage {
    /// The state the rotation reached (or stayed in).
    pub state: RotationState,
    /// What happened, said plainly (no secret, key ids masked).
    pub message: String,
}

/// What an automated run ended with.
#[derive(Debug, Clone, Serialize)]
pub struct AutoOutcome {
    /// The key's label.
    pub label: String,
    /// The stages this run went through, in order.
    pub stages: Vec<AutoStage>,
    /// The rotation as it stands now.
    pub rotation: RotationView,
    /// Whether the rotation is done (else it stopped: see `rotation.error`,
    /// `verification` or `revocation`, fix, and run it again).
    pub finished: bool,
    /// The new key's live check, when this run made one.
    pub verification: Option<VerifyOutcome>,
    /// The old key's revocation, when this run tried one.
    pub revocation: Option<RevokeOutcome>,
    /// The deliveries of the new key to the key's deployment targets this
    /// run made (a failed one stops the run before the old key is deleted).
    pub deployments: Vec<TargetDelivery>,
}

/// What the run needs to know about the key, read under the session.
struct Target {
    key_id: [u8; 16],
    exchange: Exchange,
    environment: Environment,
    sub_account: Option<String>,
    api_key_id: String,
    scopes: Vec<Scope>,
    ips: Vec<String>,
}

/// The manager key, unsealed for one network call.
struct Manager {
    credentials: Credentials,
    label: String,
}

/// The marker label a created key gets on the exchange: `kw` and the
/// rotation id's first 16 hex digits.
pub(crate) fn marker(rotation_id: &str) -> String {
    let hex: String = rotation_id
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .take(16)
        .collect();
    format!("kw{hex}")
}

fn target(session: &mut Session, label: &str) -> Result<Target, RotationError> {
    session.vault_key()?;
    let detail = session.key_detail(label)?;
    let key_id = session.find_id(label)?;
    if detail.summary.manager {
        return Err(RotationError::NotManaged {
            label: label.to_owned(),
            why: "it is the account's manager key (rotate it by hand)".into(),
        });
    }
    if detail.summary.status == KeyStatus::Revoked {
        return Err(RotationError::KeyStatus {
            label: label.to_owned(),
            status: "revoked",
            what: "a revoked key cannot be rotated (add a new key instead)",
        });
    }
    let sub_account = managed::sub_account_of(session, label)?;
    Ok(Target {
        key_id,
        exchange: detail.summary.exchange,
        environment: detail.summary.environment.clone(),
        sub_account: sub_account.filter(|s| !s.is_empty()),
        api_key_id: detail.api_key_id.clone(),
        scopes: detail.summary.scopes.clone(),
        ips: detail.ip_whitelist.clone(),
    })
}

/// The label of the vault's manager key for `exchange` in `environment`.
pub(crate) fn manager_label(
    session: &mut Session,
    exchange: Exchange,
    environment: &Environment,
) -> Result<Option<String>, VaultError> {
    managed::manager_for(session, exchange, environment)
}

fn manager(session: &mut Session, label: &str, t: &Target) -> Result<Manager, RotationError> {
    let manager = manager_label(session, t.exchange, &t.environment)?.ok_or_else(|| {
        RotationError::NoManagerKey {
            label: label.to_owned(),
            exchange: t.exchange,
        }
    })?;
    let access = session
        .exchange_access(&manager)
        .map_err(|e| access_error(&manager, e))?;
    Ok(Manager {
        credentials: access.credentials,
        label: manager,
    })
}

fn exchange_error(label: &str, source: ExchangeError) -> RotationError {
    RotationError::Exchange {
        label: label.to_owned(),
        source,
    }
}

/// Stores the sub-account the exchange reports for the key (a `key_edited`
/// entry naming the field).
fn store_sub_account(
    session: &mut Session,
    actor: Actor,
    proof: ProofMethod,
    label: &str,
    key_id: [u8; 16],
    sub_account: &str,
) -> Result<(), RotationError> {
    crate::model::validate::free_text("sub_account", sub_account, false)?;
    let event = Event::new(Action::KeyEdited)
        .with_key(uuid_string(&key_id), label.to_owned())
        .with_details(Details::new().with("fields", vec!["sub_account"]));
    let sub = sub_account.to_owned();
    session.write_events(
        actor,
        Some(proof),
        |changed: &bool| if *changed { vec![event] } else { Vec::new() },
        |tx, sealer| managed::store::set_sub_account(tx, sealer, &key_id, Some(&sub)),
    )?;
    Ok(())
}

/// Notes on the open rotation, before the creation call, that a key may
/// be created under `marker` (no audit entry: the stage's own entry comes
/// with the stored key).
fn note_creating(
    session: &mut Session,
    actor: Actor,
    label: &str,
    marker: &str,
) -> Result<(), RotationError> {
    let (row, _) = open_row(session, label)?;
    let rid = row.id;
    let note = format!("{CREATING} as {marker}");
    session.write_events(
        actor,
        None,
        |_| Vec::new(),
        |tx, _| {
            tx.execute(
                "UPDATE rotations SET error = ?2 WHERE id = ?1 AND state = 'planned'",
                rusqlite::params![&rid[..], note],
            )?;
            Ok(())
        },
    )?;
    Ok(())
}

/// What a sweep looks for: the markers of every automated rotation of
/// the key (a cancelled or failed one may have left its created key), and
/// the keys to keep whatever their label (the current key, which an earlier
/// automated rotation created under its marker, and the stored new key).
struct Leftovers {
    markers: Vec<String>,
    keep: Vec<String>,
}

fn leftovers(session: &mut Session, label: &str) -> Result<Leftovers, RotationError> {
    let key_id = session.find_id(label)?;
    let markers = rows(session, &key_id)?
        .iter()
        .map(|r| marker(&uuid_string(&r.id)))
        .collect();
    let mut keep = vec![session.key_detail(label)?.api_key_id];
    if let Some(new) = rows(session, &key_id)?
        .into_iter()
        .find(|r| r.state.is_open())
        .and_then(|r| r.new_api_key_id)
    {
        keep.push(new);
    }
    Ok(Leftovers { markers, keep })
}

/// Deletes every key of the sub-account labelled with one of the key's
/// rotation markers, except the keys to keep. With `required` (an earlier
/// creation under `marker` may have left one), a listing the exchange
/// cannot make complete is refused.
async fn sweep_orphans(
    client: &ExchangeClient,
    t: &Target,
    m: &Manager,
    label: &str,
    marker: &str,
    found: &Leftovers,
    required: bool,
) -> Result<usize, RotationError> {
    let sub_account = t.sub_account.as_deref().unwrap_or_default();
    let endpoint = client
        .endpoint(t.exchange, &t.environment)
        .map_err(|e| exchange_error(label, e))?;
    // Where the exchange cannot list a sub-account's keys (Binance) there
    // is nothing to ask.
    let inventory = if endpoint.capabilities().list_account_keys {
        match endpoint.inventory(&m.credentials).await {
            Ok(inv) => Some(inv),
            Err(ExchangeError::Unsupported { .. }) => None,
            Err(e) => return Err(exchange_error(label, e)),
        }
    } else {
        None
    };
    let orphans: Vec<String> = inventory
        .as_ref()
        .map(|inv| {
            inv.keys
                .iter()
                .filter(|k| {
                    k.label.as_ref().is_some_and(|l| found.markers.contains(l))
                        && k.sub_account.as_deref() == Some(sub_account)
                        && !found.keep.contains(&k.key_id)
                })
                .map(|k| k.key_id.clone())
                .collect()
        })
        .unwrap_or_default();
    let complete = inventory.as_ref().is_some_and(|inv| inv.complete);
    if required && !complete && orphans.is_empty() {
        return Err(RotationError::OrphanUnchecked {
            label: label.to_owned(),
            exchange: t.exchange,
            marker: marker.to_owned(),
            sub_account: sub_account.to_owned(),
        });
    }
    for key_id in &orphans {
        endpoint
            .delete_sub_key(&m.credentials, sub_account, key_id)
            .await
            .map_err(|e| exchange_error(label, e))?;
    }
    Ok(orphans.len())
}

/// A run of the automated rotation in progress.
struct Run<'a> {
    client: &'a ExchangeClient,
    actor: Actor,
    proof: ProofMethod,
    label: &'a str,
    out: Vec<AutoStage>,
    verification: Option<VerifyOutcome>,
    revocation: Option<RevokeOutcome>,
    deployments: Vec<TargetDelivery>,
}

impl Run<'_> {
    fn stage(&mut self, state: RotationState, message: impl Into<String>) {
        self.out.push(AutoStage {
            state,
            message: message.into(),
        });
    }
}

/// Rotates `label` end to end through its account's manager key (see the
/// module docs), or continues an open rotation from its stored state. One
/// [`AutoRotate`] grant covers the whole run: using the manager key, the
/// promotion, the new key's delivery to the key's deployment targets (over
/// `ssh`) and the old key's deletion, for this one key.
pub async fn rotate_auto<S: SessionAccess>(
    mut access: S,
    client: &ExchangeClient,
    ssh: &SshOptions,
    actor: Actor,
    grant: StepUpGrant<AutoRotate>,
    label: &str,
) -> Result<AutoOutcome, RotationError> {
    run_auto(&mut access, client, ssh, actor, grant.method(), label).await
}

pub(super) async fn run_auto<S: SessionAccess>(
    access: &mut S,
    client: &ExchangeClient,
    ssh: &SshOptions,
    actor: Actor,
    proof: ProofMethod,
    label: &str,
) -> Result<AutoOutcome, RotationError> {
    let mut run = Run {
        client,
        actor,
        proof,
        label,
        out: Vec::new(),
        verification: None,
        revocation: None,
        deployments: Vec::new(),
    };
    let mut t = access.with_session(|s| target(s, label))?;
    if t.sub_account.is_none() {
        let m = access.with_session(|s| manager(s, label, &t))?;
        let endpoint = client
            .endpoint(t.exchange, &t.environment)
            .map_err(|e| exchange_error(label, e))?;
        let found = endpoint
            .locate_sub_key(&m.credentials, &t.api_key_id)
            .await
            .map_err(|e| exchange_error(label, e))?;
        let Some(sub) = found.and_then(|k| k.sub_account) else {
            return Err(RotationError::NotManaged {
                label: label.to_owned(),
                why: format!("no sub-account of the account of {:?} holds it", m.label),
            });
        };
        access.with_session(|s| store_sub_account(s, actor, proof, label, t.key_id, &sub))?;
        run.stage(
            RotationState::Planned,
            format!("found the key on sub-account {sub}"),
        );
        t.sub_account = Some(sub);
    }
    let open = access.with_session(|s| -> Result<_, RotationError> {
        let key_id = s.find_id(label)?;
        Ok(rows(s, &key_id)?.into_iter().find(|r| r.state.is_open()))
    })?;
    if open.is_none() {
        access.with_session(|s| {
            // Checked before anything is written: no manager, no rotation.
            manager(s, label, &t)?;
            begin(s, actor, label)
        })?;
        run.stage(RotationState::Planned, "rotation planned");
    }
    loop {
        let view = access.with_session(|s| status(s, label))?;
        let stopped = match view.state {
            RotationState::Planned => create_and_store(access, &mut run, &t, &view).await?,
            RotationState::NewKeyEntered => verify(access, &mut run, &t, &view).await?,
            RotationState::NewKeyVerified => {
                let (_, prepared) =
                    access.with_session(|s| promote_and_prepare(s, actor, proof, label))?;
                run.stage(
                    RotationState::Promoted,
                    "the new key is now the current one",
                );
                let delivered = deliver_followed(access, actor, prepared, ssh).await;
                follow_stages(&mut run, delivered)
            }
            RotationState::Promoted => {
                let delivered = redeploy_behind(access, actor, proof, label, ssh).await?;
                follow_stages(&mut run, delivered) || revoke(access, &mut run, &t).await?
            }
            RotationState::OldKeyRevoked => {
                access.with_session(|s| finish(s, actor, label))?;
                run.stage(RotationState::Done, "rotation finished");
                false
            }
            _ => {
                let finished = view.state == RotationState::Done;
                return Ok(AutoOutcome {
                    label: label.to_owned(),
                    stages: run.out,
                    rotation: view,
                    finished,
                    verification: run.verification,
                    revocation: run.revocation,
                    deployments: run.deployments,
                });
            }
        };
        if stopped {
            let view = access.with_session(|s| status(s, label))?;
            return Ok(AutoOutcome {
                label: label.to_owned(),
                stages: run.out,
                rotation: view,
                finished: false,
                verification: run.verification,
                revocation: run.revocation,
                deployments: run.deployments,
            });
        }
    }
}

/// Notes each delivery of the new key as a stage; whether one failed (the
/// run stops at `promoted`: the old key stays until every target that held
/// it has the new one).
fn follow_stages(run: &mut Run<'_>, delivered: Vec<TargetDelivery>) -> bool {
    let mut failed = false;
    for d in &delivered {
        if d.delivered {
            run.stage(
                RotationState::Promoted,
                format!("deployed the new key to {} ({})", d.target, d.remote_file),
            );
        } else {
            failed = true;
            run.stage(
                RotationState::Promoted,
                format!(
                    "the new key did not reach deployment target {}: {}; the old key is kept \
                     until it does (run the rotation again, or `keyward deploy {} --all`)",
                    d.target,
                    d.error.as_deref().unwrap_or("unknown error"),
                    run.label
                ),
            );
        }
    }
    run.deployments.extend(delivered);
    failed
}

/// `planned → new_key_entered`: clears what an interrupted creation may
/// have left, creates the new key through the manager key and stores it in
/// the same step.
async fn create_and_store<S: SessionAccess>(
    access: &mut S,
    run: &mut Run<'_>,
    t: &Target,
    view: &RotationView,
) -> Result<bool, RotationError> {
    let label = run.label;
    let marker = marker(&view.id);
    let m = access.with_session(|s| manager(s, label, t))?;
    let interrupted = view
        .error
        .as_deref()
        .is_some_and(|e| e.starts_with(CREATING));
    if interrupted {
        let found = access.with_session(|s| leftovers(s, label))?;
        let deleted = sweep_orphans(run.client, t, &m, label, &marker, &found, true).await?;
        run.stage(
            RotationState::Planned,
            format!(
                "an earlier run was interrupted while creating the new key: {} left on the exchange, deleted",
                crate::text::count(deleted as u64, "key", "keys")
            ),
        );
    }
    let actor = run.actor;
    access.with_session(|s| note_creating(s, actor, label, &marker))?;
    let endpoint = run
        .client
        .endpoint(t.exchange, &t.environment)
        .map_err(|e| exchange_error(label, e))?;
    let spec = SubKeySpec {
        sub_account: t.sub_account.clone().unwrap_or_default(),
        label: marker.clone(),
        scopes: t.scopes.clone(),
        ips: t.ips.clone(),
    };
    let created = endpoint
        .create_sub_key(&m.credentials, &spec)
        .await
        .map_err(|e| exchange_error(label, e))?;
    let creds = created.credentials;
    let new_id = creds.api_key.clone();
    let new = NewRotationKey {
        api_key_id: creds.api_key.clone(),
        secret: ApiSecret::new(creds.secret.expose_secret().to_owned()),
        passphrase: creds
            .passphrase
            .as_ref()
            .map(|p| Passphrase::new(p.expose_secret().to_owned())),
        key_type: Some(creds.key_type),
    };
    drop(creds);
    let stored = access.with_session(|s| enter_key(s, actor, label, new, true));
    if let Err(e) = stored {
        let deleted = endpoint
            .delete_sub_key(&m.credentials, &spec.sub_account, &new_id)
            .await
            .is_ok();
        return Err(RotationError::CreatedNotStored {
            label: label.to_owned(),
            cause: e.to_string(),
            deleted,
        });
    }
    run.stage(
        RotationState::NewKeyEntered,
        format!(
            "created the new key {} on sub-account {} through the manager key and stored it",
            crate::model::mask_key_id(&new_id),
            spec.sub_account
        ),
    );
    Ok(false)
}

/// `new_key_entered → new_key_verified`, the existing verify step (after
/// deleting any other key an interrupted, cancelled or failed automated
/// rotation of this key left under its marker).
async fn verify<S: SessionAccess>(
    access: &mut S,
    run: &mut Run<'_>,
    t: &Target,
    view: &RotationView,
) -> Result<bool, RotationError> {
    let label = run.label;
    let found = access.with_session(|s| leftovers(s, label))?;
    let m = access.with_session(|s| manager(s, label, t))?;
    let marker = marker(&view.id);
    let deleted = sweep_orphans(run.client, t, &m, label, &marker, &found, false).await?;
    drop(m);
    if deleted > 0 {
        run.stage(
            RotationState::NewKeyEntered,
            format!(
                "deleted {} left by an interrupted creation",
                crate::text::count(deleted as u64, "other key", "other keys")
            ),
        );
    }
    let actor = run.actor;
    // Keyward created this key itself with exactly the declared scopes, so
    // what the exchange does not report (e.g. Bybit's margin) is known from
    // the creation request: "unknown" is accepted, audited as the override
    // it is. Anything beyond the declared scope still blocks.
    let options = VerifyOptions {
        scopes: None,
        allow_unknown: true,
    };
    let client = run.client;
    let outcome = vault::three_phase(
        access,
        |s| prepare_verify(s, label, &options),
        |pending| pending.run(client),
        |s, checked| record_verify(s, actor, checked),
    )
    .await?;
    let passed = outcome.passed;
    run.stage(
        if passed {
            RotationState::NewKeyVerified
        } else {
            RotationState::NewKeyEntered
        },
        if passed {
            "the new key works within its declared scope".to_owned()
        } else {
            "the new key did not pass verification; nothing was promoted".to_owned()
        },
    );
    run.verification = Some(outcome);
    Ok(!passed)
}

/// `promoted → old_key_revoked → done`: the old key deleted through the
/// manager key, its baseline recorded before, proven dead after.
async fn revoke<S: SessionAccess>(
    access: &mut S,
    run: &mut Run<'_>,
    t: &Target,
) -> Result<bool, RotationError> {
    let (label, actor, proof) = (run.label, run.actor, run.proof);
    let sub_account = t.sub_account.clone().unwrap_or_default();
    let pending = access.with_session(|s| {
        let m = manager(s, label, t)?;
        prepare_revoke_old_with(
            s,
            proof,
            label,
            false,
            Some(ManagerDelete {
                credentials: m.credentials,
                sub_account,
            }),
        )
    })?;
    let result = run_revocation(access, run.client, actor, pending).await?;
    let outcome = access.with_session(|s| record_revocation(s, actor, result))?;
    let revoked = outcome.is_revoked();
    run.stage(
        if revoked {
            RotationState::Done
        } else {
            RotationState::Promoted
        },
        match &outcome {
            RevokeOutcome::Revoked { confirmation, .. } => format!(
                "deleted the old key through the manager key; a live call with it was rejected ({confirmation})"
            ),
            RevokeOutcome::StillActive { message, .. }
            | RevokeOutcome::Inconclusive { message, .. }
            | RevokeOutcome::Failed { message, .. } => message.clone(),
            RevokeOutcome::ManualStepsRequired { reason, .. } => reason.clone(),
        },
    );
    run.revocation = Some(outcome);
    Ok(!revoked)
}

#[cfg(test)]
mod tests {
    use super::marker;

    #[test]
    fn the_marker_is_short_plain_and_tied_to_the_rotation() {
        let m = marker("3f9a1c2b-4d5e-4f60-8a7b-0123456789ab");
        assert_eq!(m, "kw3f9a1c2b4d5e4f60");
        assert!(m.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(m, marker("3f9a1c2b-4d5e-4f61-8a7b-0123456789ab"));
    }
}
