//! Rotation follows the key to its servers: which targets still hold a
//! bundle sealed before the key's last rotation, and the check a
//! revocation of the old key passes first (refused while one does, unless
//! forced, which is audited).

use crate::audit::{self, Details, Event};
use crate::vault::{Actor, Session};

use super::error::DeployError;

impl Session {
    /// The targets of `label` whose bundle predates the key's last
    /// rotation (delivered before it was promoted): they still hold the
    /// old key. Targets never delivered to hold nothing.
    pub fn deployments_behind(&mut self, label: &str) -> Result<Vec<String>, DeployError> {
        let Some(rotated) = self.key_detail(label)?.summary.last_rotated_at else {
            return Ok(Vec::new());
        };
        Ok(self
            .deploy_targets_of(label)?
            .into_iter()
            .filter(|d| d.deployed_at.is_some_and(|at| at < rotated))
            .map(|d| d.target)
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
