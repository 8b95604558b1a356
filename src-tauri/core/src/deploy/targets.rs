//! The gated changes to deployment targets and what front ends read of
//! them: [`Session::add_deploy_target`], [`Session::grant_deploy_target`],
//! [`Session::remove_deploy_target`] (each behind a
//! [`DeployTargets`] step-up, one transaction with its audit entry),
//! [`Session::deploy_targets`] and [`Session::deploy_targets_of`].

use crate::audit::{self, Details, Event};
use crate::mfa::StepUpGrant;
use crate::mfa::actions::DeployTargets;
use crate::vault::{Actor, Session, VaultError};

use super::error::DeployError;
use super::store::{self, RowMacKey, TargetRow};
use super::target::{DeployTarget, KeyDeployment, NewTarget, TargetKey};

/// A refusal found inside a write's transaction, as the write path's error.
pub(super) fn in_write(e: DeployError) -> VaultError {
    match e {
        DeployError::Vault(v) => v,
        DeployError::Tampered { target } => VaultError::IntegrityFailed {
            damaged: vec![format!("deployment target {target}")],
        },
        other => VaultError::IntegrityFailed {
            damaged: vec![other.to_string()],
        },
    }
}

fn key_uuid(id: &[u8; 16]) -> String {
    uuid::Uuid::from_bytes(*id).to_string()
}

impl Session {
    /// Adds a deployment target. Its host key is pinned by the first
    /// delivery. Audited as `deploy_target_added`.
    pub fn add_deploy_target(
        &mut self,
        actor: Actor,
        grant: StepUpGrant<DeployTargets>,
        new: &NewTarget,
    ) -> Result<DeployTarget, DeployError> {
        self.touch()?;
        let checked = new.check()?;
        let exists = self.read_sealed(|conn, sealer| {
            Ok(store::target(conn, &RowMacKey::of(sealer), &checked.name))
        })?;
        if !matches!(exists, Err(DeployError::NoTarget { .. })) {
            return Err(DeployError::TargetExists {
                name: checked.name.clone(),
            });
        }
        let row = TargetRow {
            id: *uuid::Uuid::new_v4().as_bytes(),
            name: checked.name,
            user: checked.user,
            host: checked.host,
            port: checked.port,
            remote_path: checked.remote_path,
            recipient: checked.recipient,
            host_key: None,
            created_at: self.now_secs(),
        };
        let details = Details::new()
            .with("target", row.name.clone())
            .with("host", row.host.clone())
            .with("port", row.port)
            .with(
                "recipient_kind",
                if row.recipient.starts_with("age1") {
                    "age"
                } else {
                    "ssh-ed25519"
                },
            );
        self.write_gated(
            actor,
            grant.method(),
            |_| Event::new(audit::Action::DeployTargetAdded).with_details(details),
            |tx, sealer| store::insert_target(tx, &RowMacKey::of(sealer), &row),
        )?;
        Ok(to_target(row, Vec::new()))
    }

    /// Grants the key `label` to the target `name` (`allow`), or withdraws
    /// it. Audited as `deploy_target_changed` (granted / withdrawn).
    pub fn grant_deploy_target(
        &mut self,
        actor: Actor,
        grant: StepUpGrant<DeployTargets>,
        name: &str,
        label: &str,
        allow: bool,
    ) -> Result<DeployTarget, DeployError> {
        self.touch()?;
        // A missing or tampered target is refused before the write.
        self.deploy_target(name)?;
        let key_id = self.find_id(label)?;
        self.verify_row(&key_id)?;
        if allow && self.key_detail(label)?.summary.manager {
            return Err(DeployError::ManagerKey {
                label: label.to_owned(),
            });
        }
        let now = self.now_secs();
        let details = Details::new()
            .with("target", name.to_owned())
            .with("change", if allow { "granted" } else { "withdrawn" });
        let label_owned = label.to_owned();
        self.write_gated(
            actor,
            grant.method(),
            |_| {
                Event::new(audit::Action::DeployTargetChanged)
                    .with_key(key_uuid(&key_id), label_owned)
                    .with_details(details)
            },
            |tx, sealer| {
                let key = RowMacKey::of(sealer);
                let target = store::target(tx, &key, name).map_err(in_write)?;
                store::grants(tx, &key, &target).map_err(in_write)?;
                if allow {
                    store::insert_grant(tx, &key, &target.id, &key_id, now)?;
                    Ok(true)
                } else {
                    store::delete_grant(tx, &target.id, &key_id)
                }
            },
        )
        .map_err(|e| match e {
            VaultError::IntegrityFailed { .. } => DeployError::Tampered {
                target: name.to_owned(),
            },
            e => e.into(),
        })?;
        self.deploy_target(name)
    }

    /// Removes the target `name` and its grants (the bundle on the server
    /// stays: remove it there). Audited as `deploy_target_changed`
    /// (removed).
    pub fn remove_deploy_target(
        &mut self,
        actor: Actor,
        grant: StepUpGrant<DeployTargets>,
        name: &str,
    ) -> Result<(), DeployError> {
        self.touch()?;
        let target = self
            .read_sealed(|conn, sealer| Ok(store::target(conn, &RowMacKey::of(sealer), name)))??;
        let details = Details::new()
            .with("target", target.name.clone())
            .with("change", "removed");
        self.write_gated(
            actor,
            grant.method(),
            |_| Event::new(audit::Action::DeployTargetChanged).with_details(details),
            |tx, _| store::delete_target(tx, &target.id),
        )?;
        Ok(())
    }

    /// Every deployment target with its keys, each row verified.
    pub fn deploy_targets(&mut self) -> Result<Vec<DeployTarget>, DeployError> {
        self.touch()?;
        self.read_sealed(|conn, sealer| {
            let key = RowMacKey::of(sealer);
            Ok(store::targets(conn, &key).and_then(|rows| {
                rows.into_iter()
                    .map(|row| {
                        let grants = store::grants(conn, &key, &row)?;
                        Ok(to_target(row, grants))
                    })
                    .collect()
            }))
        })?
    }

    /// One target with its keys.
    pub fn deploy_target(&mut self, name: &str) -> Result<DeployTarget, DeployError> {
        self.touch()?;
        self.read_sealed(|conn, sealer| {
            let key = RowMacKey::of(sealer);
            Ok(store::target(conn, &key, name).and_then(|row| {
                let grants = store::grants(conn, &key, &row)?;
                Ok(to_target(row, grants))
            }))
        })?
    }

    /// Where the key `label` is deployed: each target it is granted to, and
    /// when it was last delivered there.
    pub fn deploy_targets_of(&mut self, label: &str) -> Result<Vec<KeyDeployment>, DeployError> {
        self.find_id(label)?;
        let targets = self.deploy_targets()?;
        let behind = self.delivered_before_promotion(label)?;
        Ok(targets
            .into_iter()
            .filter_map(|t| {
                let deployed_at = t.keys.iter().find(|k| k.label == label)?.deployed_at;
                Some(KeyDeployment {
                    remote_file: t.remote_file(),
                    holds_old_key: deployed_at.is_some() && behind.contains(&t.name),
                    target: t.name,
                    host: t.host,
                    deployed_at,
                })
            })
            .collect())
    }
}

pub(super) fn to_target(row: TargetRow, grants: Vec<store::GrantRow>) -> DeployTarget {
    DeployTarget {
        name: row.name,
        user: row.user,
        host: row.host,
        port: row.port,
        remote_path: row.remote_path,
        recipient: row.recipient,
        host_key: row.host_key,
        created_at: row.created_at,
        keys: grants
            .into_iter()
            .map(|g| TargetKey {
                label: g.label,
                deployed_at: g.deployed_at,
            })
            .collect(),
    }
}
