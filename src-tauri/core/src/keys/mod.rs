//! Key records: adding, editing, deleting, listing and searching keys, and
//! the services linked to each key.
//!
//! Owns: the operations on key records that front ends call as methods of
//! [`Session`] (`add_key`, `edit_key`, `delete_key`, `list_keys`,
//! `search_keys`, `search_key_ids`, and in `services` the linked
//! services), each change one transaction of the vault's write path with
//! its audit entry (`key_added`, `key_edited`, `key_deleted`,
//! `service_changed`); `store` holds their queries and row changes. The
//! record types and their validation are [`crate::model`]; a key row's
//! stored form, reading one key ([`Session::key_detail`]) and the
//! validated insert are the vault's, which every kernel duty (backup,
//! reveal, rekeying) shares.
//!
//! Must never: change a credential field (endpoint, key id, secret,
//! passphrase, key type, status) without an
//! [`GatedAction::EditCredentials`] grant, delete without a
//! [`GatedAction::DeleteKey`] grant, or put a secret, a passphrase or a
//! service's host or notes in an audit entry. **The vault does not import
//! `keys`**: keys import the vault, never the other way round (checked by
//! `keys::store::tests::the_vault_does_not_import_keys`).

mod services;
mod store;

use serde_json::json;

use crate::audit::{self, Details, Event};
use crate::mfa::actions::{DeleteKey, EditCredentials};
use crate::mfa::{GatedAction, StepUpGrant};
use crate::model::validate;
use crate::model::{Environment, KeyDetail, KeyEdit, KeyStatus, KeySummary, NewKey, service};
use crate::vault::{self, Actor, Session, VaultError};

impl Session {
    /// Adds a key after validating every field.
    pub fn add_key(&mut self, actor: Actor, key: NewKey) -> Result<KeySummary, VaultError> {
        // A secret that cannot be the declared key type is refused here, not
        // at its first check (backups restore what was stored as it was).
        validate::secret_for(key.exchange, key.key_type, key.secret.expose())?;
        let id = *uuid::Uuid::new_v4().as_bytes();
        let now = self.now_secs();
        let label = key.label.clone();
        let exchange = key.exchange;
        self.write(
            actor,
            |_| {
                Event::new(audit::Action::KeyAdded)
                    .with_key(uuid::Uuid::from_bytes(id).to_string(), label.clone())
                    .with_details(Details::new().with("exchange", exchange.as_str()))
            },
            |tx, sealer| vault::insert_key(tx, sealer, id, &key, now, None, KeyStatus::Active),
        )?;
        store::summary_by_id(self.conn(), &id, self.default_rotation_days())
    }

    /// Every key, sorted by label. Metadata only.
    pub fn list_keys(&mut self) -> Result<Vec<KeySummary>, VaultError> {
        self.touch()?;
        store::summaries(self.conn(), "", &[], self.default_rotation_days())
    }

    /// Keys whose label, exchange, API key id, linked services or notes
    /// contain `query` (case-insensitive for ASCII).
    pub fn search_keys(&mut self, query: &str) -> Result<Vec<KeySummary>, VaultError> {
        self.touch()?;
        store::search(self.conn(), query, self.default_rotation_days())
    }

    /// The record ids of the keys [`Session::search_keys`] finds, in the
    /// same order: a front end that already holds the summaries filters
    /// them by id instead of receiving them all again.
    pub fn search_key_ids(&mut self, query: &str) -> Result<Vec<String>, VaultError> {
        self.touch()?;
        store::search_ids(self.conn(), query)
    }

    /// Edits a key. Only fields set in `edit` change; a new secret or
    /// passphrase is sealed afresh.
    ///
    /// Fields that decide where the secret is sent or what the credential
    /// is ([`KeyEdit::credential_fields`]: endpoint, key id, secret,
    /// passphrase, key type, status) need a grant for
    /// [`GatedAction::EditCredentials`]; without one the edit is refused
    /// before anything is read or written. A custom endpoint set under a
    /// grant counts as a confirmed host. Labels, scopes, IP whitelist,
    /// services, notes and the rotation period need no grant. A row that
    /// fails its integrity check is refused either way.
    pub fn edit_key(
        &mut self,
        actor: Actor,
        label: &str,
        edit: KeyEdit,
        grant: Option<StepUpGrant<EditCredentials>>,
    ) -> Result<KeyDetail, VaultError> {
        let gated = edit.credential_fields();
        let proof = match (&grant, gated.is_empty()) {
            (Some(g), _) => Some(g.method()),
            (None, true) => None,
            (None, false) => {
                return Err(crate::mfa::MfaError::StepUpRequired {
                    action: GatedAction::EditCredentials,
                }
                .into());
            }
        };
        self.touch()?;
        let id = self.find_id(label)?;
        let current = self.key_detail(label)?;
        let exchange = current.summary.exchange;
        let mut fields: Vec<&'static str> = Vec::new();
        let mut sets: Vec<store::Set> = Vec::new();
        if let Some(new_label) = &edit.label {
            validate::label(new_label)?;
            fields.push("label");
            sets.push(("label", Box::new(new_label.clone())));
        }
        if let Some(env) = &edit.environment {
            validate::environment(env)?;
            fields.push("environment");
            sets.push(("environment", Box::new(env.kind_str())));
            let url = match env {
                Environment::Custom(u) => Some(u.clone()),
                _ => None,
            };
            sets.push(("base_url", Box::new(url)));
            sets.push(("host_confirmed", Box::new(proof.is_some())));
        }
        if let Some(kid) = &edit.api_key_id {
            validate::api_key_id(exchange, kid)?;
            fields.push("api_key_id");
            sets.push(("api_key_id", Box::new(kid.clone())));
        }
        if let Some(secret) = &edit.secret {
            validate::secret(secret.expose())?;
            fields.push("secret");
        }
        if let Some(p) = &edit.passphrase {
            validate::passphrase(exchange, Some(p.expose()))?;
            fields.push("passphrase");
        }
        if let Some(kt) = edit.key_type {
            fields.push("key_type");
            sets.push(("key_type", Box::new(kt.as_str())));
        }
        if let Some(scopes) = &edit.scopes {
            fields.push("scopes");
            sets.push(("scopes", Box::new(vault::join_scopes(scopes))));
        }
        if let Some(ips) = &edit.ip_whitelist {
            fields.push("ip_whitelist");
            sets.push(("ip_whitelist", Box::new(vault::normalize_ips(ips)?)));
        }
        if let Some(names) = &edit.linked_services {
            let kept = service::keep_by_name(&current.linked_services, names);
            fields.push("linked_services");
            sets.push(("linked_services", Box::new(vault::services_json(&kept)?)));
        }
        if let Some(notes) = &edit.notes {
            validate::free_text("notes", notes, true)?;
            fields.push("notes");
            sets.push(("notes", Box::new(notes.clone())));
        }
        if let Some(days) = edit.rotate_every_days {
            if let Some(d) = days {
                validate::rotation_days(d)?;
            }
            fields.push("rotate_every_days");
            sets.push(("rotate_every_days", Box::new(days)));
        }
        if let Some(status) = edit.status {
            fields.push("status");
            sets.push(("status", Box::new(status.as_str())));
        }
        let new_label = edit.label.clone().unwrap_or_else(|| label.to_owned());
        let key_id = current.summary.id.clone();
        let fields_for_action = fields.clone();
        self.write_events(
            actor,
            proof,
            |_| {
                vec![
                    Event::new(audit::Action::KeyEdited)
                        .with_key(key_id, new_label.clone())
                        .with_details(Details::new().with("fields", json!(fields_for_action))),
                ]
            },
            |tx, sealer| store::update(tx, sealer, &id, &edit, sets),
        )?;
        let label = edit.label.as_deref().unwrap_or(label);
        self.key_detail(label)
    }

    /// Deletes a key (gated: [`GatedAction::DeleteKey`]). A key whose row
    /// fails its integrity check can still be deleted: deleting exposes
    /// nothing, and it is the way out of a tampered record.
    pub fn delete_key(
        &mut self,
        actor: Actor,
        grant: StepUpGrant<DeleteKey>,
        label: &str,
    ) -> Result<(), VaultError> {
        self.touch()?;
        let id = self.find_id(label)?;
        let key_id = uuid::Uuid::from_bytes(id).to_string();
        let label = label.to_owned();
        self.write_gated(
            actor,
            grant.method(),
            |_| Event::new(audit::Action::KeyDeleted).with_key(key_id, label),
            |tx, _| store::delete(tx, &id),
        )
    }
}
