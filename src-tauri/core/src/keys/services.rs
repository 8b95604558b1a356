//! Linked services' write path: the per-service operations of [`Session`]
//! (add, update, remove, check/uncheck), each one transaction with one
//! `service_changed` audit entry. The record, its validation and its stored
//! JSON form are [`crate::model::service`].
//!
//! Must never: put a service's host or notes in an audit entry (it names
//! the service, the change and the checklist item only).

use super::store;
use crate::audit::{self, Details, Event};
use crate::model::ValidationError;
use crate::model::service::{
    ChecklistItem, LinkedService, MAX_SERVICES_PER_KEY, NewService, ServiceUpdate, VendorChecklist,
    find,
};
use crate::vault::{Actor, Session, VaultError};

/// What changed, for the audit entry.
struct Change {
    service: String,
    change: &'static str,
    fields: Vec<&'static str>,
    item: Option<ChecklistItem>,
}

impl Session {
    /// The services recorded for `label`.
    pub fn services(&mut self, label: &str) -> Result<Vec<LinkedService>, VaultError> {
        Ok(self.key_detail(label)?.linked_services)
    }

    /// Adds a service to `label`'s key. Errors: the name is taken on this
    /// key, or a field is invalid.
    pub fn add_service(
        &mut self,
        actor: Actor,
        label: &str,
        service: NewService,
    ) -> Result<Vec<LinkedService>, VaultError> {
        self.change_services(actor, label, move |list, _now| {
            let s = LinkedService {
                name: service.name,
                kind: service.kind,
                host: service.host,
                notes: service.notes,
                checklist: VendorChecklist::default(),
            }
            .validated()?;
            if find(list, &s.name).is_some() {
                return Err(ValidationError::DuplicateService { name: s.name }.into());
            }
            if list.len() >= MAX_SERVICES_PER_KEY {
                return Err(ValidationError::TooManyServices.into());
            }
            let name = s.name.clone();
            list.push(s);
            Ok(Some(Change {
                service: name,
                change: "added",
                fields: Vec::new(),
                item: None,
            }))
        })
    }

    /// Changes a service of `label`'s key (name, kind, host, notes; the
    /// checklist is kept). An update that changes nothing writes nothing.
    pub fn update_service(
        &mut self,
        actor: Actor,
        label: &str,
        name: &str,
        update: ServiceUpdate,
    ) -> Result<Vec<LinkedService>, VaultError> {
        let wanted = name.to_owned();
        let key_label = label.to_owned();
        self.change_services(actor, label, move |list, _now| {
            let i = find(list, &wanted).ok_or_else(|| VaultError::ServiceNotFound {
                label: key_label.clone(),
                service: wanted.chars().take(64).collect(),
            })?;
            if update.is_empty() {
                return Ok(None);
            }
            let old = list[i].clone();
            let mut new = old.clone();
            if let Some(n) = update.name {
                new.name = n;
            }
            if let Some(k) = update.kind {
                new.kind = k;
            }
            if let Some(h) = update.host {
                new.host = h;
            }
            if let Some(n) = update.notes {
                new.notes = n;
            }
            let new = new.validated()?;
            if let Some(j) = find(list, &new.name)
                && j != i
            {
                return Err(ValidationError::DuplicateService { name: new.name }.into());
            }
            let mut fields = Vec::new();
            if new.name != old.name {
                fields.push("name");
            }
            if new.kind != old.kind {
                fields.push("kind");
            }
            if new.host != old.host {
                fields.push("host");
            }
            if new.notes != old.notes {
                fields.push("notes");
            }
            if fields.is_empty() {
                return Ok(None);
            }
            let service = new.name.clone();
            list[i] = new;
            Ok(Some(Change {
                service,
                change: "updated",
                fields,
                item: None,
            }))
        })
    }

    /// Removes a service from `label`'s key.
    pub fn remove_service(
        &mut self,
        actor: Actor,
        label: &str,
        name: &str,
    ) -> Result<Vec<LinkedService>, VaultError> {
        let wanted = name.to_owned();
        let key_label = label.to_owned();
        self.change_services(actor, label, move |list, _now| {
            let i = find(list, &wanted).ok_or_else(|| VaultError::ServiceNotFound {
                label: key_label.clone(),
                service: wanted.chars().take(64).collect(),
            })?;
            let removed = list.remove(i);
            Ok(Some(Change {
                service: removed.name,
                change: "removed",
                fields: Vec::new(),
                item: None,
            }))
        })
    }

    /// Checks (recording now) or unchecks one vendor-checklist item of a
    /// service. Checking an item already checked keeps its first date and
    /// writes nothing; so does unchecking one that is not checked.
    pub fn set_service_check(
        &mut self,
        actor: Actor,
        label: &str,
        name: &str,
        item: ChecklistItem,
        checked: bool,
    ) -> Result<Vec<LinkedService>, VaultError> {
        let wanted = name.to_owned();
        let key_label = label.to_owned();
        self.change_services(actor, label, move |list, now| {
            let i = find(list, &wanted).ok_or_else(|| VaultError::ServiceNotFound {
                label: key_label.clone(),
                service: wanted.chars().take(64).collect(),
            })?;
            if !list[i].checklist.set(item, checked, now) {
                return Ok(None);
            }
            Ok(Some(Change {
                service: list[i].name.clone(),
                change: if checked { "checked" } else { "unchecked" },
                fields: Vec::new(),
                item: Some(item),
            }))
        })
    }

    /// Reads the key's services inside one immediate transaction, lets `f`
    /// change them, writes them back and records one audit entry; nothing
    /// is written when `f` fails or reports no change.
    fn change_services(
        &mut self,
        actor: Actor,
        label: &str,
        f: impl FnOnce(&mut Vec<LinkedService>, i64) -> Result<Option<Change>, VaultError>,
    ) -> Result<Vec<LinkedService>, VaultError> {
        self.touch()?;
        let now = self.now_secs();
        let key_label = label.to_owned();
        let (_, list, _) = self.write_events(
            actor,
            None,
            |(key_id, _, change): &(String, Vec<LinkedService>, Option<Change>)| match change {
                Some(c) => {
                    let mut details = Details::new()
                        .with("service", c.service.as_str())
                        .with("change", c.change);
                    if !c.fields.is_empty() {
                        details = details.with("fields", serde_json::json!(c.fields));
                    }
                    if let Some(item) = c.item {
                        details = details.with("item", item.as_str());
                    }
                    vec![
                        Event::new(audit::Action::ServiceChanged)
                            .with_key(key_id.clone(), key_label.clone())
                            .with_details(details),
                    ]
                }
                None => Vec::new(),
            },
            |tx, sealer| {
                let (id, mut list) = store::read_services(tx, sealer, label)?;
                let change = f(&mut list, now)?;
                if change.is_some() {
                    store::write_services(tx, sealer, &id, &list)?;
                }
                let key_id = uuid::Uuid::from_bytes(id).to_string();
                Ok((key_id, list, change))
            },
        )?;
        Ok(list)
    }
}
