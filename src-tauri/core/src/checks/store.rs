//! The checks' side of the vault: phase 1 (unseal what the checks need,
//! under the session lock) and phase 3 (store each result as the key's last
//! check, one audited transaction per key, raising
//! `vault::KernelEvent::KeyChecked` inside it).
//!
//! Must never: store a result about a key whose credentials changed while
//! it ran, or write outside the vault's write path.

use std::time::{Duration, UNIX_EPOCH};

use rusqlite::params;

use super::{CheckSelection, KeyVerification, PendingCheck, RecordOutcome, Target};
use crate::audit::{self, Details, NewEvent};
use crate::model::{CheckStatus, KeyStatus};
use crate::vault::{
    self, AccessError, Actor, KernelEvent, KeyChecked, Session, StoredCheck, VaultError,
    key_fingerprint,
};

impl Session {
    /// Phase 1: unseals what checking the selected keys needs. No network
    /// I/O; call it under the session lock, then release the lock.
    pub fn prepare_checks(
        &mut self,
        selection: &CheckSelection,
    ) -> Result<Vec<PendingCheck>, VaultError> {
        self.vault_key()?;
        let labels = match selection {
            CheckSelection::Labels(labels) => labels.clone(),
            CheckSelection::All => self
                .list_keys()?
                .into_iter()
                .filter(|k| k.status != KeyStatus::Revoked)
                .map(|k| k.label)
                .collect(),
            CheckSelection::Unattended => {
                let mut labels = Vec::new();
                for k in self.list_keys()? {
                    if k.status == KeyStatus::Revoked {
                        continue;
                    }
                    let detail = self.key_detail(&k.label)?;
                    if detail.custom_host.is_none() || detail.host_confirmed {
                        labels.push(k.label);
                    }
                }
                labels
            }
        };
        let mut out = Vec::with_capacity(labels.len());
        for label in labels {
            let detail = self.key_detail(&label)?;
            let id = parse_id(&detail.summary.id, &label)?;
            let fingerprint =
                key_fingerprint(self.conn(), &id)?.ok_or(VaultError::KeyNotFound {
                    label: label.clone(),
                })?;
            let target = match self.exchange_access(&label) {
                Ok(access) => Target::Live(access),
                Err(AccessError::NotSupported { .. }) => Target::NotSupported,
                Err(AccessError::Exchange(e)) => Target::Unusable(e),
                Err(AccessError::Vault(e)) => return Err(e),
            };
            out.push(PendingCheck {
                id,
                label,
                exchange: detail.summary.exchange,
                declared: detail.summary.scopes.clone(),
                fingerprint,
                target,
            });
        }
        Ok(out)
    }

    /// Phase 3 for one result: stores it as the key's last check
    /// (`last_audit_at`, `last_audit_result` = [`CheckStatus::as_str`],
    /// `last_audit_permissions` = the granted scopes and the live IP
    /// allowlist as a [`StoredCheck`], or none when the key did not
    /// authenticate) in one transaction with its audit entry.
    ///
    /// The result is matched to the key by record id, so a rename in the
    /// meantime does not matter; a deleted key or changed credentials make
    /// it [`RecordOutcome::Stale`].
    pub fn record_check(
        &mut self,
        actor: Actor,
        result: &KeyVerification,
    ) -> Result<RecordOutcome, VaultError> {
        self.vault_key()?;
        if result.status == CheckStatus::NotSupported {
            return Ok(RecordOutcome::NotChecked);
        }
        let id = parse_id(&result.id, &result.label)?;
        let Some(now) = key_fingerprint(self.conn(), &id)? else {
            return Ok(RecordOutcome::Stale);
        };
        if result.fingerprint != now {
            return Ok(RecordOutcome::Stale);
        }
        let at = result.checked_at.unix_ms().div_euclid(1000);
        let permissions = if result.authenticated {
            let stored = StoredCheck {
                granted: result.granted(),
                ip_restricted: result.ip_restricted,
                ip_whitelist: result.ip_whitelist.clone(),
            };
            Some(stored.to_column(&result.label)?)
        } else {
            None
        };
        let label: String = self.conn().query_row(
            "SELECT label FROM keys WHERE id = ?1",
            params![&id[..]],
            |r| r.get(0),
        )?;
        let status = result.status.as_str();
        let mut details = Details::new()
            .with("exchange", result.exchange.as_str())
            .with("result", status);
        if result.authenticated {
            details = details.with("permissions", result.granted());
        }
        let event = NewEvent::new(
            actor,
            audit::Action::Verify,
            UNIX_EPOCH + Duration::from_secs(u64::try_from(self.now_secs()).unwrap_or(0)),
        )
        .with_key(result.id.clone(), label.clone())
        .with_details(details);
        let label_for_alert = label;
        // The `verify` entry is appended by hand, in the same transaction as
        // the update, instead of through an `Action` (no action is passed).
        self.write_events(
            actor,
            None,
            |_| Vec::new(),
            |tx, sealer| {
                vault::update_key_row(
                    tx,
                    sealer,
                    &id,
                    "UPDATE keys SET last_audit_at = ?2, last_audit_result = ?3,
                        last_audit_permissions = ?4
                     WHERE id = ?1",
                    params![&id[..], at, status, permissions],
                )?;
                vault::append_event(tx, sealer, event)?;
                let api_key_id: String = tx.query_row(
                    "SELECT api_key_id FROM keys WHERE id = ?1",
                    params![&id[..]],
                    |r| r.get(0),
                )?;
                // Whoever listens hears of the check in this transaction
                // (alerts queues critical findings, sent after commit); an
                // inconclusive check forgets nothing.
                vault::raise(
                    tx,
                    sealer,
                    &KernelEvent::KeyChecked(KeyChecked {
                        key_id: &id,
                        label: &label_for_alert,
                        exchange: result.exchange,
                        api_key_id: &api_key_id,
                        findings: &result.findings,
                        conclusive: !matches!(
                            result.status,
                            CheckStatus::Unreachable | CheckStatus::Unusable
                        ),
                        at,
                    }),
                )?;
                Ok(())
            },
        )?;
        Ok(RecordOutcome::Stored)
    }

    /// Phase 3: stores every result of [`super::run_checks`] (one audited
    /// transaction per key, see [`Session::record_check`]). Returns what
    /// happened to each, in order.
    pub fn record_checks(
        &mut self,
        actor: Actor,
        results: &[KeyVerification],
    ) -> Result<Vec<RecordOutcome>, VaultError> {
        results
            .iter()
            .map(|r| self.record_check(actor, r))
            .collect()
    }
}

fn parse_id(id: &str, label: &str) -> Result<[u8; 16], VaultError> {
    uuid::Uuid::try_parse(id)
        .map(|u| *u.as_bytes())
        .map_err(|_| VaultError::Malformed {
            record: label.to_owned(),
            field: "id",
        })
}

#[cfg(test)]
mod tests {
    /// Checks import the vault, never the other way round.
    #[test]
    fn the_vault_does_not_import_checks() {
        let naming = crate::vault::sources_naming(&["crate::checks", "super::checks"]);
        assert!(naming.is_empty(), "the vault imports checks: {naming:?}");
    }
}
