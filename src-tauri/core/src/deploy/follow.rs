//! Rotation follows the key to its servers: which targets hold the key
//! (delivered at least once), which still hold a bundle sealed before the
//! key's last rotation, the re-delivery of the new key to them under the
//! step-up of the rotation that promoted it ([`Session::prepare_follow`],
//! crate-only: it takes a proof, not a grant, so only a gated promotion
//! inside the core can call it; then [`deliver_followed`]), and the check
//! a revocation of the old key passes first (refused while one does,
//! unless forced, which is audited).

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::audit::store::AuditFilter;
use crate::audit::{self, Details, Event};
use crate::mfa::ProofMethod;
use crate::vault::{Actor, Session, SessionAccess};

use super::error::DeployError;
use super::flow::{PreparedDeploy, deliver};
use super::ssh::SshOptions;

/// What became of one target when a rotated key followed to its servers.
/// No secret: names, addresses and the error's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TargetDelivery {
    /// The target's name.
    pub target: String,
    /// `host:port`.
    pub address: String,
    /// The bundle's file on the server.
    pub remote_file: String,
    /// Whether the new bundle reached the target and was recorded.
    pub delivered: bool,
    /// Why not, when it did not (names the target, the host, the cause).
    pub error: Option<String>,
    /// The server's host key, when this delivery was the first to it and
    /// pinned it (`type base64`).
    pub newly_pinned: Option<String>,
}

impl TargetDelivery {
    fn failed(target: &str, address: String, remote_file: String, error: &DeployError) -> Self {
        TargetDelivery {
            target: target.to_owned(),
            address,
            remote_file,
            delivered: false,
            error: Some(error.to_string()),
            newly_pinned: None,
        }
    }
}

/// A bundle sealed for a target the key follows to, or why none could be.
#[derive(Debug)]
pub struct FollowDeploy(pub(super) Result<PreparedDeploy, TargetDelivery>);

impl From<PreparedDeploy> for FollowDeploy {
    /// A bundle the user asked to deliver (`deploy`), for
    /// [`deliver_followed`].
    fn from(prepared: PreparedDeploy) -> Self {
        FollowDeploy(Ok(prepared))
    }
}

impl Session {
    /// The targets that hold `label`: granted it and delivered to at least
    /// once (a target granted the key but never delivered to holds
    /// nothing, and is left for the user's own `deploy`).
    pub fn deployments_holding(&mut self, label: &str) -> Result<Vec<String>, DeployError> {
        Ok(self
            .deploy_targets_of(label)?
            .into_iter()
            .filter(|d| d.deployed_at.is_some())
            .map(|d| d.target)
            .collect())
    }

    /// Seals a bundle for each of `targets` (every one granted `label`,
    /// checked by each preparation) under the proof of the step-up that
    /// covers the rotation: a promotion's or an automated rotation's. A
    /// target that cannot be prepared (tampered, no longer granted) is
    /// reported, not fatal: the others still get the new key.
    pub(crate) fn prepare_follow(
        &mut self,
        proof: ProofMethod,
        label: &str,
        targets: &[String],
    ) -> Vec<FollowDeploy> {
        targets
            .iter()
            .map(|t| {
                FollowDeploy(self.prepare_one(proof, label, t).map_err(|e| {
                    let (address, file) = self
                        .deploy_target(t)
                        .map(|d| (d.address(), d.remote_file()))
                        .unwrap_or_default();
                    TargetDelivery::failed(t, address, file, &e)
                }))
            })
            .collect()
    }

    /// The targets of `label` whose bundle predates the key's last
    /// rotation (delivered before it was promoted): they still hold the
    /// old key. Targets never delivered to hold nothing.
    pub fn deployments_behind(&mut self, label: &str) -> Result<Vec<String>, DeployError> {
        Ok(self
            .deploy_targets_of(label)?
            .into_iter()
            .filter(|d| d.holds_old_key)
            .map(|d| d.target)
            .collect())
    }

    /// The targets whose last delivery of `label` came before the key's
    /// last promotion, in the order of the audit chain (its sequence, not
    /// the clock: a delivery and a promotion in the same second are told
    /// apart, and a clock set back changes nothing).
    pub(super) fn delivered_before_promotion(
        &mut self,
        label: &str,
    ) -> Result<HashSet<String>, DeployError> {
        let id = self.key_detail(label)?.summary.id;
        let entries = self.audit_log(
            &AuditFilter::for_key(id)
                .with_actions([audit::Action::RotationPromoted, audit::Action::KeyDeployed]),
        )?;
        let Some(promoted) = entries
            .iter()
            .filter(|e| e.action == audit::Action::RotationPromoted)
            .map(|e| e.seq)
            .max()
        else {
            return Ok(HashSet::new());
        };
        let mut last: HashMap<String, u64> = HashMap::new();
        for e in entries
            .iter()
            .filter(|e| e.action == audit::Action::KeyDeployed)
        {
            if let Some(target) = e.details_value().get("target").and_then(|t| t.as_str()) {
                let seq = last.entry(target.to_owned()).or_default();
                *seq = (*seq).max(e.seq);
            }
        }
        Ok(last
            .into_iter()
            .filter(|(_, seq)| *seq < promoted)
            .map(|(target, _)| target)
            .collect())
    }

    /// Before revoking the old key of `label`: refused with
    /// [`DeployError::StillDeployed`] while a target holds a bundle from
    /// before the rotation (the bot there would stop working), unless
    /// `force`, which is audited (`revoke_forced_while_deployed`, naming
    /// the targets). Returns the targets left behind.
    pub fn check_revoke_old_deployments(
        &mut self,
        actor: Actor,
        label: &str,
        force: bool,
    ) -> Result<Vec<String>, DeployError> {
        let behind = self.deployments_behind(label)?;
        if behind.is_empty() {
            return Ok(behind);
        }
        if !force {
            return Err(DeployError::StillDeployed {
                label: label.to_owned(),
                targets: behind,
            });
        }
        let id = self.key_detail(label)?.summary.id;
        let details = Details::new().with("targets", behind.clone());
        let label = label.to_owned();
        self.write(
            actor,
            |_| {
                Event::new(audit::Action::RevokeForcedWhileDeployed)
                    .with_key(id, label)
                    .with_details(details)
            },
            |_, _| Ok(()),
        )?;
        Ok(behind)
    }
}

/// Delivers each prepared bundle (the SSH client on a blocking thread,
/// without the session) and records each delivery under the session. One
/// target failing (unreachable, host key changed) does not stop the
/// others; each outcome names its target and, on failure, the cause.
pub async fn deliver_followed<S: SessionAccess>(
    access: &mut S,
    actor: Actor,
    prepared: Vec<FollowDeploy>,
    opts: &SshOptions,
) -> Vec<TargetDelivery> {
    let mut out = Vec::new();
    for FollowDeploy(p) in prepared {
        let p = match p {
            Ok(p) => p,
            Err(failed) => {
                out.push(failed);
                continue;
            }
        };
        let name = p.target().name.clone();
        let address = p.target().address();
        let file = p.target().remote_file();
        let ssh = opts.clone();
        let delivered = match tokio::task::spawn_blocking(move || deliver(p, &ssh)).await {
            Ok(r) => r,
            Err(e) => Err(DeployError::Invalid(format!(
                "the delivery to {name:?} stopped: {e}"
            ))),
        };
        let recorded = delivered.and_then(|d| {
            let pinned = d.newly_pinned().map(str::to_owned);
            access
                .with_session(|s| s.record_deploy(actor, d))
                .map(|t| (t, pinned))
        });
        out.push(match recorded {
            Ok((t, newly_pinned)) => TargetDelivery {
                target: t.name.clone(),
                address: t.address(),
                remote_file: t.remote_file(),
                delivered: true,
                error: None,
                newly_pinned,
            },
            Err(e) => TargetDelivery::failed(&name, address, file, &e),
        });
    }
    out
}
