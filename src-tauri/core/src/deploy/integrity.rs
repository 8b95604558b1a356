//! The deployment rows in the integrity check (`keyward check`): every
//! target's and grant's MAC, and the rows the audit chain says exist.
//!
//! A target or grant row deleted outside Keyward carries no MAC to fail:
//! it is found by replaying the chain's `deploy_target_added` and
//! `deploy_target_changed` entries (granted, withdrawn, removed). A target
//! the chain says exists but whose row is gone, or a grant of a key that
//! still exists to such a target, is reported: a grant deleted by hand
//! would make a rotation skip that server and let the old key be revoked
//! under the bot.
//!
//! Must never: repair anything, or name more than targets, labels and
//! fields.

use std::collections::{BTreeMap, BTreeSet};

use crate::audit::{self, store::AuditFilter};
use crate::vault::{DamagedRecord, Session};

use super::error::DeployError;
use super::store::{self, RowMacKey};

/// What the audit chain says exists: target names, and for each, the key
/// ids (uuid text) granted to it with the label at the time.
#[derive(Default)]
struct Expected {
    targets: BTreeMap<String, BTreeMap<String, String>>,
    /// Keys whose rows an import replaced (their grants went with them).
    replaced_labels: BTreeSet<String>,
}

fn expected(session: &mut Session) -> Result<Expected, DeployError> {
    let mut entries = session.audit_log(&AuditFilter::all().with_actions([
        audit::Action::DeployTargetAdded,
        audit::Action::DeployTargetChanged,
        audit::Action::Import,
    ]))?;
    entries.sort_by_key(|e| e.seq);
    let mut out = Expected::default();
    for e in entries {
        let d = e.details_value();
        let text = |k: &str| d.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        match e.action {
            audit::Action::DeployTargetAdded => {
                if let Some(t) = text("target") {
                    out.targets.insert(t, BTreeMap::new());
                }
            }
            audit::Action::DeployTargetChanged => {
                let (Some(t), Some(change)) = (text("target"), text("change")) else {
                    continue;
                };
                match (change.as_str(), &e.key_id) {
                    ("removed", _) => {
                        out.targets.remove(&t);
                    }
                    ("granted", Some(k)) => {
                        if let Some(g) = out.targets.get_mut(&t) {
                            g.insert(k.clone(), e.key_label.clone().unwrap_or_default());
                        }
                    }
                    ("withdrawn", Some(k)) => {
                        if let Some(g) = out.targets.get_mut(&t) {
                            g.remove(k);
                        }
                    }
                    _ => {}
                }
            }
            audit::Action::Import => {
                if let Some(labels) = d.get("replaced_labels").and_then(|v| v.as_array()) {
                    out.replaced_labels
                        .extend(labels.iter().filter_map(|l| l.as_str().map(str::to_owned)));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn damaged(id: String, label: String, field: &'static str) -> DamagedRecord {
    DamagedRecord {
        id,
        label,
        fields: vec![field],
    }
}

impl Session {
    /// The deployment rows that fail their MAC (`row`) or that the audit
    /// chain says exist but are gone (`deleted`), for the integrity check.
    /// Empty when all is well.
    pub fn check_deploy_integrity(&mut self) -> Result<Vec<DamagedRecord>, DeployError> {
        let expected = expected(self)?;
        let keys: BTreeMap<String, String> = self
            .list_keys()?
            .into_iter()
            .map(|k| (k.id, k.label))
            .collect();
        let mut out = Vec::new();
        let rows = self.read_sealed(|conn, sealer| {
            let key = RowMacKey::of(sealer);
            let mut rows = Vec::new();
            for raw in store::raw_targets(conn)? {
                let name = raw.0.name.clone();
                let id = raw.0.id;
                let grants = match store::verified(&key, raw) {
                    Ok(row) => Some(store::grants(conn, &key, &row).is_ok()),
                    Err(_) => None,
                };
                let granted = store::granted_key_ids(conn, &id)?;
                rows.push((name, id, grants, granted));
            }
            Ok(rows)
        })?;
        for (name, id, grants_ok, _) in &rows {
            let uuid = uuid::Uuid::from_bytes(*id).to_string();
            match grants_ok {
                None => out.push(damaged(uuid, format!("deployment target {name}"), "row")),
                Some(false) => {
                    out.push(damaged(uuid, format!("deployment target {name}"), "grants"))
                }
                Some(true) => {}
            }
        }
        for (name, grants) in &expected.targets {
            let Some((_, _, _, granted)) = rows.iter().find(|r| &r.0 == name) else {
                out.push(damaged(
                    "deploy_targets".into(),
                    format!("deployment target {name}"),
                    "deleted",
                ));
                continue;
            };
            for (key_id, label) in grants {
                let Some(current) = keys.get(key_id) else {
                    // The key itself is gone (deleted, audited there).
                    continue;
                };
                if expected.replaced_labels.contains(current)
                    || expected.replaced_labels.contains(label)
                {
                    continue;
                }
                let held = uuid::Uuid::parse_str(key_id)
                    .is_ok_and(|u| granted.iter().any(|g| g == u.as_bytes()));
                if !held {
                    out.push(damaged(
                        key_id.clone(),
                        format!("grant of {current} to deployment target {name}"),
                        "deleted",
                    ));
                }
            }
        }
        Ok(out)
    }
}
