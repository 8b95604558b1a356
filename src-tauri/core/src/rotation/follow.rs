//! Promotion follows the key to its servers: the targets that held the key
//! before it was promoted get the new one, sealed under the same step-up
//! as the promotion, before the old key can be revoked.
//!
//! ```text
//! rotation::promote_and_deploy(access, Actor, grant /*RotationPromote*/, label, &SshOptions)
//!   under the session: targets holding the key → promote → seal a bundle per target
//!   without it:        each bundle copied by the SSH client
//!   under it again:    each delivery recorded (one per target)
//! ```
//! A delivery that fails leaves the rotation promoted, the target named
//! with its cause, and `revoke-old` refused for the target
//! ([`Session::check_revoke_old_deployments`]) until `keyward deploy LABEL
//! --all` reaches it. Only targets already granted the key (and delivered
//! to before) are sent anything: the promotion changes which key a server
//! holds, never which servers hold it.
//!
//! Imports `deploy`; `deploy` never imports this module.

use serde::Serialize;

use super::steps::{promote_with, status};
use super::{RotationError, RotationView};
use crate::deploy::{FollowDeploy, SshOptions, TargetDelivery, deliver_followed};
use crate::mfa::actions::RotationPromote;
use crate::mfa::{ProofMethod, StepUpGrant};
use crate::vault::{Actor, Session, SessionAccess};

/// What a promotion did: the rotation, and each target the new key was
/// sent to.
#[derive(Debug, Clone, Serialize)]
pub struct PromoteOutcome {
    /// The rotation as it stands (`promoted`).
    pub rotation: RotationView,
    /// One entry per target that held the key, delivered or not (empty
    /// when the key is deployed nowhere).
    pub deployments: Vec<TargetDelivery>,
}

impl PromoteOutcome {
    /// The targets the new key did not reach.
    pub fn failed(&self) -> impl Iterator<Item = &TargetDelivery> {
        self.deployments.iter().filter(|d| !d.delivered)
    }
}

/// Under the session: the targets holding `label`, the promotion, then a
/// bundle with the new key sealed for each of them, all under `proof`.
pub(super) fn promote_and_prepare(
    session: &mut Session,
    actor: Actor,
    proof: ProofMethod,
    label: &str,
) -> Result<(RotationView, Vec<FollowDeploy>), RotationError> {
    // Read before the promotion: a target row that does not verify stops
    // it here, with nothing changed.
    let holding = session.deployments_holding(label)?;
    let view = promote_with(session, actor, proof, label)?;
    let prepared = session.prepare_follow(proof, label, &holding);
    Ok((view, prepared))
}

/// Makes the verified new key current (gated: `RotationPromote`) and
/// re-deploys it to every target that held the key, under the same
/// step-up (see the module docs). A failed delivery is reported in the
/// outcome, not as an error: the promotion stands.
pub async fn promote_and_deploy<S: SessionAccess>(
    mut access: S,
    actor: Actor,
    grant: StepUpGrant<RotationPromote>,
    label: &str,
    ssh: &SshOptions,
) -> Result<PromoteOutcome, RotationError> {
    let proof = grant.method();
    let (_, prepared) = access.with_session(|s| promote_and_prepare(s, actor, proof, label))?;
    let deployments = deliver_followed(&mut access, actor, prepared, ssh).await;
    let rotation = access.with_session(|s| status(s, label))?;
    Ok(PromoteOutcome {
        rotation,
        deployments,
    })
}

/// For a rotation already promoted (an automated run resumed): re-deploys
/// to the targets still holding a bundle from before the promotion, under
/// the run's proof. Empty when none is behind.
pub(super) async fn redeploy_behind<S: SessionAccess>(
    access: &mut S,
    actor: Actor,
    proof: ProofMethod,
    label: &str,
    ssh: &SshOptions,
) -> Result<Vec<TargetDelivery>, RotationError> {
    let prepared = access.with_session(|s| -> Result<_, RotationError> {
        let behind = s.deployments_behind(label)?;
        Ok(s.prepare_follow(proof, label, &behind))
    })?;
    Ok(deliver_followed(access, actor, prepared, ssh).await)
}
