//! The managed keys' side of the vault: the `keys.manager` column (which
//! key is its account's manager key, at most one per exchange and
//! environment) and `keys.sub_account` (the exchange's sub-account a key
//! lives in, as the inventory found it).
//!
//! Owns: reading the manager key of an exchange and environment, and the
//! row changes that mark, unmark and record a sub-account, each inside the
//! vault's write path under the row's MAC. Must never: write a row outside
//! the write path, or let two keys of one exchange and environment be
//! marked at once. The vault does not know this module.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::ManagedError;
use crate::audit::{self, Details, Event};
use crate::mfa::ProofMethod;
use crate::model::{Environment, Exchange};
use crate::vault::{self, Actor, Sealer, Session, VaultError};

/// The condition selecting keys of `exchange` (`?1`) and the environment
/// (`?2` the kind, `?3` the base URL of a custom one).
const SAME_ACCOUNT: &str = "exchange = ?1 AND environment = ?2
    AND (environment <> 'custom' OR base_url IS ?3)";

fn base_url(environment: &Environment) -> Option<&str> {
    match environment {
        Environment::Custom(url) => Some(url.as_str()),
        _ => None,
    }
}

/// The label of the key marked as the manager key of `exchange` in
/// `environment`, if one is. Its row MAC is verified first: a manager flag
/// set outside Keyward is [`VaultError::RecordTampered`], never obeyed.
pub fn manager_for(
    session: &mut Session,
    exchange: Exchange,
    environment: &Environment,
) -> Result<Option<String>, VaultError> {
    session.touch()?;
    let found = manager_row(session.conn(), exchange, environment)?;
    let Some((id, label)) = found else {
        return Ok(None);
    };
    session.verify_row(&id)?;
    Ok(Some(label))
}

/// Every key marked as a manager key: `(label, exchange, environment)`, by
/// label. Reading only (the front ends' list); each row's MAC is verified.
pub fn managers(session: &mut Session) -> Result<Vec<crate::model::KeySummary>, VaultError> {
    let keys = session.list_keys()?;
    let mut out = Vec::new();
    for key in keys.into_iter().filter(|k| k.manager) {
        let id = parse_id(&key.id, &key.label)?;
        session.verify_row(&id)?;
        out.push(key);
    }
    Ok(out)
}

fn manager_row(
    conn: &Connection,
    exchange: Exchange,
    environment: &Environment,
) -> Result<Option<([u8; 16], String)>, VaultError> {
    let row: Option<(Vec<u8>, String)> = conn
        .query_row(
            &format!(
                "SELECT id, label FROM keys WHERE manager = 1 AND {SAME_ACCOUNT}
                 ORDER BY label LIMIT 1"
            ),
            params![
                exchange.as_str(),
                environment.kind_str(),
                base_url(environment)
            ],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    row.map(|(id, label)| {
        let id = id.try_into().map_err(|_| VaultError::Malformed {
            record: label.clone(),
            field: "id",
        })?;
        Ok((id, label))
    })
    .transpose()
}

pub(crate) fn parse_id(id: &str, label: &str) -> Result<[u8; 16], VaultError> {
    uuid::Uuid::try_parse(id)
        .map(|u| *u.as_bytes())
        .map_err(|_| VaultError::Malformed {
            record: label.to_owned(),
            field: "id",
        })
}

/// Marks (`manager`) or unmarks the key `label` as its account's manager
/// key: one transaction of the write path, the row changed under its MAC,
/// with its audit entry (`manager_key_marked` / `manager_key_unmarked`,
/// details: the exchange; the proof method of the caller's step-up).
/// Marking refuses when another key of the same exchange and environment is
/// marked ([`ManagedError::OtherManager`]); nothing is written then. The
/// caller checks the step-up and, for marking, the key's fitness.
pub(crate) fn write_manager(
    session: &mut Session,
    actor: Actor,
    proof: ProofMethod,
    label: &str,
    manager: bool,
) -> Result<(), ManagedError> {
    let detail = session.key_detail(label)?;
    let id = parse_id(&detail.summary.id, label)?;
    let exchange = detail.summary.exchange;
    let environment = detail.summary.environment.clone();
    let action = if manager {
        audit::Action::ManagerKeyMarked
    } else {
        audit::Action::ManagerKeyUnmarked
    };
    let event = Event::new(action)
        .with_key(detail.summary.id.clone(), label.to_owned())
        .with_details(Details::new().with("exchange", exchange.as_str()));
    let written = session.write_events(
        actor,
        Some(proof),
        |_| vec![event],
        |tx, sealer| set_manager(tx, sealer, &id, exchange, &environment, manager),
    );
    match written {
        Ok(()) => Ok(()),
        Err(e) => match e.feature::<ManagedError>() {
            Some(ManagedError::OtherManager { exchange, other }) => {
                Err(ManagedError::OtherManager {
                    exchange: *exchange,
                    other: other.clone(),
                })
            }
            _ => Err(e.into()),
        },
    }
}

/// Marks or unmarks the key `id` inside the write path's transaction,
/// under the row's MAC; marking refuses (a feature error carrying
/// [`ManagedError::OtherManager`], so the transaction rolls back) when
/// another key of the same exchange and environment is marked.
fn set_manager(
    tx: &Transaction<'_>,
    sealer: &Sealer<'_>,
    id: &[u8; 16],
    exchange: Exchange,
    environment: &Environment,
    manager: bool,
) -> Result<(), VaultError> {
    if manager
        && let Some((other, label)) = manager_row(tx, exchange, environment)?
        && &other != id
    {
        return Err(VaultError::from_feature(ManagedError::OtherManager {
            exchange,
            other: label,
        }));
    }
    vault::update_key_row(
        tx,
        sealer,
        id,
        "UPDATE keys SET manager = ?2 WHERE id = ?1",
        params![&id[..], manager],
    )?;
    Ok(())
}

/// Records the sub-account the exchange reports for the key `id` (`None`:
/// a key of the master account), inside the write path, under the row's
/// MAC. Writes nothing when it is already stored.
pub(crate) fn set_sub_account(
    tx: &Transaction<'_>,
    sealer: &Sealer<'_>,
    id: &[u8; 16],
    sub_account: Option<&str>,
) -> Result<bool, VaultError> {
    let now: Option<String> = tx.query_row(
        "SELECT sub_account FROM keys WHERE id = ?1",
        params![&id[..]],
        |r| r.get(0),
    )?;
    if now.as_deref() == sub_account {
        return Ok(false);
    }
    vault::update_key_row(
        tx,
        sealer,
        id,
        "UPDATE keys SET sub_account = ?2 WHERE id = ?1",
        params![&id[..], sub_account],
    )?;
    Ok(true)
}

/// The sub-account stored for the key `label` (`None`: none recorded, or
/// a key of the master account).
pub fn sub_account_of(session: &mut Session, label: &str) -> Result<Option<String>, VaultError> {
    session.touch()?;
    let id = session.find_id(label)?;
    session.verify_row(&id)?;
    Ok(session.conn().query_row(
        "SELECT sub_account FROM keys WHERE id = ?1",
        params![&id[..]],
        |r| r.get(0),
    )?)
}

#[cfg(test)]
mod tests {
    /// Managed keys import the vault, never the other way round.
    #[test]
    fn the_vault_does_not_import_managed() {
        let naming = crate::vault::sources_naming(&["crate::managed", "super::managed"]);
        assert!(naming.is_empty(), "the vault imports managed: {naming:?}");
    }
}
