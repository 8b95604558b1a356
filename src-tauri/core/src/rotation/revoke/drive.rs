//! The revocation drivers: all three phases of [`super::revoke`] for
//! anything that implements [`SessionAccess`], alone or with a person
//! deleting the key by hand while it runs (the CLI's `--wait`).
//!
//! Owns: the order of the phases. Must never: send a delete call other
//! than through [`run_revocation`], which records the baseline first.

use super::{
    PendingRevocation, RevocationResult, prepare_exchange_revoke, prepare_key_revoke,
    prepare_revoke_old, record_baseline, record_revocation,
};
use crate::KindedError;
use crate::exchange::ExchangeClient;
use crate::mfa::StepUpGrant;
use crate::mfa::actions::Revoke;
use crate::model::Exchange;
use crate::rotation::{RevokeOutcome, RotationError};
use crate::vault::{Actor, Session, SessionAccess};

/// The type of [`ALONE`]'s waiter, which does not exist.
type WaitFn = fn(String, Vec<String>) -> std::future::Ready<bool>;

/// No person at hand: the revocation runs on its own.
const ALONE: Option<WaitFn> = None;

/// Phase 2 of a revocation, taking the session only to record the
/// baseline: checks the key live, records the success (an error ends the
/// revocation before anything is deleted), revokes at the exchange and
/// expects a rejection. The only way from a [`PendingRevocation`] to a
/// [`RevocationResult`].
pub async fn run_revocation<S: SessionAccess>(
    access: &mut S,
    client: &ExchangeClient,
    actor: Actor,
    pending: PendingRevocation,
) -> Result<RevocationResult, RotationError> {
    run_waiting(access, client, actor, pending, ALONE).await
}

async fn run_waiting<S, W, Fut>(
    access: &mut S,
    client: &ExchangeClient,
    actor: Actor,
    pending: PendingRevocation,
    wait: Option<W>,
) -> Result<RevocationResult, RotationError>
where
    S: SessionAccess,
    W: FnOnce(String, Vec<String>) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let checked = pending.check(client).await;
    access.with_session(|s| record_baseline(s, actor, &checked))?;
    Ok(checked.finish(wait).await)
}

/// One revocation, all three phases: `prepare` unseals the key under the
/// session, [`run_revocation`] checks it live, records the baseline,
/// revokes it and checks it again, and [`record_revocation`] records the
/// outcome under the session again.
pub async fn revoke_with<S: SessionAccess>(
    access: &mut S,
    client: &ExchangeClient,
    actor: Actor,
    prepare: impl FnOnce(&mut Session) -> Result<PendingRevocation, RotationError>,
) -> Result<RevokeOutcome, RotationError> {
    revoke_one(access, client, actor, prepare, ALONE).await
}

async fn revoke_one<S, W, Fut>(
    access: &mut S,
    client: &ExchangeClient,
    actor: Actor,
    prepare: impl FnOnce(&mut Session) -> Result<PendingRevocation, RotationError>,
    wait: Option<W>,
) -> Result<RevokeOutcome, RotationError>
where
    S: SessionAccess,
    W: FnOnce(String, Vec<String>) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let pending = access.with_session(prepare)?;
    let result = run_waiting(access, client, actor, pending, wait).await?;
    access.with_session(|s| record_revocation(s, actor, result))
}

/// Revokes a rotation's old key, all three phases; on confirmation the
/// rotation ends `done`. The grant (`revoke`) is passed through by value.
pub async fn revoke_old<S: SessionAccess>(
    mut access: S,
    client: &ExchangeClient,
    actor: Actor,
    grant: StepUpGrant<Revoke>,
    label: &str,
    confirm_manual: bool,
) -> Result<RevokeOutcome, RotationError> {
    let prepare = |s: &mut Session| prepare_revoke_old(s, grant, label, confirm_manual);
    revoke_one(&mut access, client, actor, prepare, ALONE).await
}

/// One revocation with a person deleting the key by hand while it runs
/// (the CLI's `--wait`): `prepare` is [`prepare_revoke_old`] or
/// [`prepare_key_revoke`] without `confirm_manual`. Where the exchange has
/// no revocation API, the key is checked live, `wait` gets the steps and
/// returns once the person deleted the key (`true`) or gave up (`false`),
/// then the key is checked live again: one process, one client, so the
/// proof holds.
pub async fn revoke_waiting<S, W, Fut>(
    mut access: S,
    client: &ExchangeClient,
    actor: Actor,
    prepare: impl FnOnce(&mut Session) -> Result<PendingRevocation, RotationError>,
    wait: W,
) -> Result<RevokeOutcome, RotationError>
where
    S: SessionAccess,
    W: FnOnce(String, Vec<String>) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    revoke_one(&mut access, client, actor, prepare, Some(wait)).await
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
    let prepare = |s: &mut Session| prepare_key_revoke(s, grant, label, confirm_manual);
    revoke_one(&mut access, client, actor, prepare, ALONE).await
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
        access.with_session(|s| prepare_exchange_revoke(s, grant, exchange, confirm_manual))?;
    let mut out = Vec::with_capacity(prepared.len());
    for item in prepared {
        match item {
            Err(outcome) => out.push(outcome),
            Ok(pending) => {
                let label = pending.label().to_owned();
                let recorded = match run_revocation(&mut access, client, actor, pending).await {
                    Ok(result) => access.with_session(|s| record_revocation(s, actor, result)),
                    Err(e) => Err(e),
                };
                match recorded {
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
