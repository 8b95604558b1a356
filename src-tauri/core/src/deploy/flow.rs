//! A delivery in three steps: [`Session::prepare_deploy`] under the
//! session (verify the target and its grants, open the granted keys, seal
//! the bundle; no I/O), [`deliver`] without it (the OpenSSH client: pin the
//! host key on first use, upload, rename), and [`Session::record_deploy`]
//! under it again (the pin, each key's delivery time and one `key_deployed`
//! entry per key, in one transaction).

use secrecy::SecretString;

use crate::audit::{self, Details, Event, store::AuditFilter};
use crate::mfa::actions::Deploy;
use crate::mfa::{ProofMethod, StepUpGrant};
use crate::vault::material::{RunField, default_env_name};
use crate::vault::{Actor, Session, VaultError};

use super::bundle::{Bundle, BundleVar};
use super::error::DeployError;
use super::ssh::{self, SshOptions};
use super::store::{self, GrantRow, RowMacKey};
use super::target::DeployTarget;
use super::targets::{in_write, to_target};

/// A bundle sealed for one target, ready to be copied (it holds no
/// plaintext).
#[derive(Debug)]
pub struct PreparedDeploy {
    target: DeployTarget,
    target_id: [u8; 16],
    grants: Vec<GrantRow>,
    sealed: Vec<u8>,
    proof: ProofMethod,
}

impl PreparedDeploy {
    /// The target.
    pub fn target(&self) -> &DeployTarget {
        &self.target
    }

    #[cfg(test)]
    pub(super) fn sealed_for_tests(&self) -> Vec<u8> {
        self.sealed.clone()
    }

    /// The labels of the keys in the bundle.
    pub fn labels(&self) -> Vec<String> {
        self.grants.iter().map(|g| g.label.clone()).collect()
    }
}

/// A bundle that reached its target.
#[derive(Debug)]
pub struct Delivered {
    pub(super) prepared: PreparedDeploy,
    pub(super) newly_pinned: Option<String>,
}

impl Delivered {
    /// The host key this delivery pinned (the first one to the target).
    pub fn newly_pinned(&self) -> Option<&str> {
        self.newly_pinned.as_deref()
    }
}

fn target_uuid(id: &[u8; 16]) -> String {
    uuid::Uuid::from_bytes(*id).to_string()
}

impl Session {
    /// Step 1: the bundle for `target` (every key granted to it; `label`
    /// must be one of them), sealed to its recipient. The plaintext exists
    /// only in zeroizing memory inside this call.
    pub fn prepare_deploy(
        &mut self,
        grant: StepUpGrant<Deploy>,
        label: &str,
        target: &str,
    ) -> Result<PreparedDeploy, DeployError> {
        self.prepare_one(grant.method(), label, target)
    }

    /// Step 1 for every target `label` is granted to (one step-up for
    /// all): e.g. after a rotation, so no target keeps the old key.
    pub fn prepare_deploy_all(
        &mut self,
        grant: StepUpGrant<Deploy>,
        label: &str,
    ) -> Result<Vec<PreparedDeploy>, DeployError> {
        let targets = self.deploy_targets_of(label)?;
        if targets.is_empty() {
            return Err(DeployError::Invalid(format!(
                "key {label:?} is granted to no deployment target"
            )));
        }
        let proof = grant.method();
        targets
            .iter()
            .map(|t| self.prepare_one(proof, label, &t.target))
            .collect()
    }

    pub(super) fn prepare_one(
        &mut self,
        proof: ProofMethod,
        label: &str,
        target: &str,
    ) -> Result<PreparedDeploy, DeployError> {
        self.touch()?;
        self.find_id(label)?;
        let (row, grants) = self.read_sealed(|conn, sealer| {
            let key = RowMacKey::of(sealer);
            Ok(store::target(conn, &key, target)
                .and_then(|row| Ok((store::grants(conn, &key, &row)?, row)))
                .map(|(g, r)| (r, g)))
        })??;
        if !grants.iter().any(|g| g.label == label) {
            return Err(DeployError::NotGranted {
                label: label.to_owned(),
                target: target.to_owned(),
            });
        }
        // A pin, once recorded, is in the audit chain: a target row put
        // back to its unpinned state would otherwise pin again blindly.
        if row.host_key.is_none() && self.was_pinned(&row.id)? {
            return Err(DeployError::Tampered {
                target: row.name.clone(),
            });
        }
        let mut bundle = Bundle::default();
        for g in &grants {
            let detail = self.key_detail(&g.label)?;
            // Marked after it was granted: the whole bundle is refused,
            // so the target keeps what it had and the user is told.
            if detail.summary.manager {
                return Err(DeployError::ManagerKey {
                    label: g.label.clone(),
                });
            }
            let exchange = detail.summary.exchange;
            let (secret, passphrase) = self.open_secrets(&g.label)?;
            let mut values = vec![
                (
                    RunField::KeyId,
                    SecretString::from(detail.api_key_id.clone()),
                ),
                (
                    RunField::Secret,
                    SecretString::from(secret.expose().to_owned()),
                ),
            ];
            if let Some(p) = passphrase.as_ref().filter(|p| !p.is_empty()) {
                values.push((
                    RunField::Passphrase,
                    SecretString::from(p.expose().to_owned()),
                ));
            }
            for (field, value) in values {
                let name = default_env_name(exchange, field);
                if bundle.vars.iter().any(|v| v.name == name) {
                    return Err(DeployError::Invalid(format!(
                        "two keys granted to {target:?} would both set ${name}; a target takes \
                         one key per exchange"
                    )));
                }
                bundle.vars.push(BundleVar { name, value });
            }
        }
        let sealed = bundle.seal(&row.recipient)?;
        drop(bundle);
        let target_id = row.id;
        Ok(PreparedDeploy {
            target: to_target(row, grants.clone()),
            target_id,
            grants,
            sealed,
            proof,
        })
    }

    /// Whether the audit chain records a pinned host key for this target.
    fn was_pinned(&mut self, id: &[u8; 16]) -> Result<bool, VaultError> {
        let wanted = target_uuid(id);
        let entries =
            self.audit_log(&AuditFilter::all().with_actions([audit::Action::DeployTargetChanged]))?;
        Ok(entries.iter().any(|e| {
            let d = e.details_value();
            d.get("change").and_then(|v| v.as_str()) == Some("host_key_pinned")
                && d.get("target_id").and_then(|v| v.as_str()) == Some(wanted.as_str())
        }))
    }

    /// Step 3: records a delivery — the host key it pinned, and each key's
    /// delivery time with its `key_deployed` entry — in one transaction.
    /// The target must still be as it was prepared.
    pub fn record_deploy(
        &mut self,
        actor: Actor,
        delivered: Delivered,
    ) -> Result<DeployTarget, DeployError> {
        self.touch()?;
        let Delivered {
            prepared,
            newly_pinned,
        } = delivered;
        let name = prepared.target.name.clone();
        let at = self.now_secs();
        let mut events = Vec::new();
        if newly_pinned.is_some() {
            events.push(
                Event::new(audit::Action::DeployTargetChanged).with_details(
                    Details::new()
                        .with("target", name.clone())
                        .with("target_id", target_uuid(&prepared.target_id))
                        .with("change", "host_key_pinned"),
                ),
            );
        }
        for g in &prepared.grants {
            events.push(
                Event::new(audit::Action::KeyDeployed)
                    .with_key(target_uuid(&g.key_id), g.label.clone())
                    .with_details(
                        Details::new()
                            .with("target", name.clone())
                            .with("host", prepared.target.host.clone()),
                    ),
            );
        }
        self.write_events(
            actor,
            Some(prepared.proof),
            |_| events,
            |tx, sealer| {
                let key = RowMacKey::of(sealer);
                let row = store::target(tx, &key, &name).map_err(in_write)?;
                if row.id != prepared.target_id || row.host_key != prepared.target.host_key {
                    return Err(in_write(DeployError::Tampered {
                        target: name.clone(),
                    }));
                }
                let grants = store::grants(tx, &key, &row).map_err(in_write)?;
                if let Some(pin) = &newly_pinned {
                    store::pin_host_key(tx, &key, &row, pin)?;
                }
                for g in &prepared.grants {
                    if let Some(now) = grants.iter().find(|n| n.key_id == g.key_id) {
                        store::set_deployed(tx, &key, &row.id, now, at)?;
                    }
                }
                Ok(())
            },
        )
        .map_err(|e| match e {
            VaultError::IntegrityFailed { .. } => DeployError::Tampered {
                target: name.clone(),
            },
            e => e.into(),
        })?;
        self.deploy_target(&name)
    }
}

/// Step 2 (no session): pins the host key if none is pinned yet
/// (`ssh-keyscan`), then copies the sealed bundle with `ssh`, checking the
/// server against the pin.
pub fn deliver(prepared: PreparedDeploy, opts: &SshOptions) -> Result<Delivered, DeployError> {
    let (pinned, newly_pinned) = match &prepared.target.host_key {
        Some(k) => (k.clone(), None),
        None => {
            let scanned = ssh::keyscan(opts, &prepared.target)?;
            (scanned.clone(), Some(scanned))
        }
    };
    ssh::upload(opts, &prepared.target, &pinned, &prepared.sealed)?;
    Ok(Delivered {
        prepared,
        newly_pinned,
    })
}
