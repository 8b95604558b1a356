//! The rotation's side of the vault: the `rotations` table read into
//! [`Row`]s, the view front ends show, and the one guarded transition that
//! every step goes through.
//!
//! Owns: reading and writing `rotations` rows (the table itself is created
//! by the vault's frozen migration 4 → 5, and its sealed columns use the
//! field names the vault reseals on a change of vault key), one
//! transaction per transition with its audit entry through the vault's
//! write path, and unsealing a rotation's pending or previous key through
//! the vault's sealing. Must never: change a row whose revision or state
//! moved since it was read (the transition is then
//! [`RotationError::Stale`]), write outside [`Session::write_events`], or
//! let an unsealed secret outlive the call that needs it. The vault does
//! not know this module: rotation imports the vault, never the other way
//! round.

use rusqlite::{OptionalExtension, Transaction, params};
use secrecy::SecretString;
use zeroize::Zeroizing;

use super::verify::VerifyOutcome;
use super::{
    NextAction, RotationError, RotationEvent, RotationState, RotationView, ServiceItem, StepStatus,
    StepView,
};
use crate::audit::Event;
use crate::exchange::{self, Credentials};
use crate::mfa::ProofMethod;
use crate::model::{Exchange, KeyStatus, KeyType, Scope, mask_key_id};
use crate::vault::{self, AccessError, Actor, Sealer, Session, VaultError};

pub(super) use crate::vault::{
    ROTATION_NEW_PASSPHRASE as NEW_PASSPHRASE, ROTATION_NEW_SECRET as NEW_SECRET,
    ROTATION_PREVIOUS_PASSPHRASE as PREVIOUS_PASSPHRASE,
    ROTATION_PREVIOUS_SECRET as PREVIOUS_SECRET,
};

/// The note an interrupted creation leaves on an automated rotation (its
/// `error`, followed by ` as ` and the marker label).
pub(super) const CREATING: &str = "creating the new key on the exchange";

pub(super) const COLUMNS: &str =
    "id, key_id, state, revision, prior_status, old_fingerprint, scopes,
    new_api_key_id, new_key_type, new_secret IS NOT NULL, previous_api_key_id,
    previous_key_type, verification, unknown_override, services, manual_steps, error,
    planned_at, new_key_entered_at, new_key_verified_at, promoted_at, old_key_revoked_at,
    done_at, failed_at, cancelled_at";

fn stamp_column(state: RotationState) -> &'static str {
    match state {
        RotationState::Planned => "planned_at",
        RotationState::NewKeyEntered => "new_key_entered_at",
        RotationState::NewKeyVerified => "new_key_verified_at",
        RotationState::Promoted => "promoted_at",
        RotationState::OldKeyRevoked => "old_key_revoked_at",
        RotationState::Done => "done_at",
        RotationState::Failed => "failed_at",
        RotationState::Cancelled => "cancelled_at",
    }
}

/// One `rotations` row (no sealed values).
#[derive(Debug, Clone)]
pub(super) struct Row {
    pub(super) id: [u8; 16],
    pub(super) key_id: [u8; 16],
    pub(super) state: RotationState,
    pub(super) revision: i64,
    pub(super) prior_status: KeyStatus,
    pub(super) old_fingerprint: Vec<u8>,
    pub(super) scopes: Vec<Scope>,
    pub(super) new_api_key_id: Option<String>,
    pub(super) new_key_type: Option<KeyType>,
    pub(super) has_new_secret: bool,
    pub(super) previous_api_key_id: Option<String>,
    pub(super) previous_key_type: Option<KeyType>,
    pub(super) verification: Option<VerifyOutcome>,
    pub(super) unknown_override: bool,
    pub(super) services: Vec<ServiceItem>,
    pub(super) manual_steps: Vec<String>,
    pub(super) error: Option<String>,
    pub(super) stamps: [Option<i64>; 8],
}

pub(super) fn malformed(field: &'static str) -> VaultError {
    VaultError::Malformed {
        record: "rotation".into(),
        field,
    }
}

pub(super) fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Row, VaultError>> {
    let id: Vec<u8> = r.get(0)?;
    let key_id: Vec<u8> = r.get(1)?;
    let state: String = r.get(2)?;
    let prior: String = r.get(4)?;
    let scopes: String = r.get(6)?;
    let new_type: Option<String> = r.get(8)?;
    let prev_type: Option<String> = r.get(11)?;
    let verification: Option<String> = r.get(12)?;
    let services: String = r.get(14)?;
    let steps: String = r.get(15)?;
    let mut stamps = [None; 8];
    for (i, slot) in stamps.iter_mut().enumerate() {
        *slot = r.get(17 + i)?;
    }
    let revision: i64 = r.get(3)?;
    let old_fingerprint: Vec<u8> = r.get(5)?;
    let new_api_key_id: Option<String> = r.get(7)?;
    let has_new_secret: bool = r.get(9)?;
    let previous_api_key_id: Option<String> = r.get(10)?;
    let unknown_override: bool = r.get(13)?;
    let error: Option<String> = r.get(16)?;
    Ok((|| {
        Ok(Row {
            id: id.try_into().map_err(|_| malformed("id"))?,
            key_id: key_id.try_into().map_err(|_| malformed("key_id"))?,
            state: RotationState::parse(&state).ok_or_else(|| malformed("state"))?,
            revision,
            prior_status: prior.parse().map_err(|_| malformed("prior_status"))?,
            old_fingerprint,
            scopes: scopes
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| s.parse::<Scope>())
                .collect::<Result<_, _>>()
                .map_err(|_| malformed("scopes"))?,
            new_api_key_id,
            new_key_type: new_type
                .map(|t| t.parse::<KeyType>())
                .transpose()
                .map_err(|_| malformed("new_key_type"))?,
            has_new_secret,
            previous_api_key_id,
            previous_key_type: prev_type
                .map(|t| t.parse::<KeyType>())
                .transpose()
                .map_err(|_| malformed("previous_key_type"))?,
            verification: verification
                .map(|v| serde_json::from_str(&v))
                .transpose()
                .map_err(|_| malformed("verification"))?,
            unknown_override,
            services: serde_json::from_str(&services).map_err(|_| malformed("services"))?,
            manual_steps: serde_json::from_str(&steps).map_err(|_| malformed("manual_steps"))?,
            error,
            stamps,
        })
    })())
}

/// The audit event of a rotation's move (or refused step).
pub(super) fn rotation_event(
    key_id: String,
    label: String,
    rotation_id: &str,
    event: RotationEvent,
) -> Event {
    Event::new(event.audit_action())
        .with_key(key_id, label)
        .with_details(event.details(rotation_id))
}

pub(super) fn join_scopes(scopes: &[Scope]) -> String {
    let mut names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names.join(",")
}

pub(super) fn uuid_string(id: &[u8; 16]) -> String {
    uuid::Uuid::from_bytes(*id).to_string()
}

pub(super) fn to_json<T: serde::Serialize>(
    value: &T,
    field: &'static str,
) -> Result<String, VaultError> {
    serde_json::to_string(value).map_err(|_| malformed(field))
}

/// Builds exchange credentials from unsealed bytes; the bytes are zeroized
/// when dropped, the strings live in `SecretString`s.
pub(super) fn credentials(
    api_key: &str,
    secret: &Zeroizing<Vec<u8>>,
    passphrase: Option<&Zeroizing<Vec<u8>>>,
    key_type: KeyType,
    label: &str,
) -> Result<Credentials, VaultError> {
    let text = |b: &Zeroizing<Vec<u8>>, field| {
        std::str::from_utf8(b)
            .map(|s| SecretString::from(s.to_owned()))
            .map_err(|_| VaultError::Malformed {
                record: label.to_owned(),
                field,
            })
    };
    Ok(Credentials {
        api_key: api_key.to_owned(),
        secret: text(secret, "secret")?,
        passphrase: passphrase.map(|p| text(p, "passphrase")).transpose()?,
        key_type,
    })
}

/// The key's credential digest (the one `checks` uses), as stored with a
/// rotation.
pub(super) fn key_fingerprint(
    conn: &rusqlite::Connection,
    id: &[u8; 16],
) -> Result<Option<Vec<u8>>, VaultError> {
    Ok(vault::key_fingerprint(conn, id)?.map(|d| d.to_vec()))
}

/// An unsealed secret and optional passphrase (zeroized on drop).
type Unsealed = (Zeroizing<Vec<u8>>, Option<Zeroizing<Vec<u8>>>);

pub(super) fn access_error(label: &str, e: AccessError) -> RotationError {
    match e {
        AccessError::Vault(v) => RotationError::Vault(v),
        AccessError::NotSupported { exchange } => RotationError::NotSupported { exchange },
        AccessError::Exchange(source) => RotationError::Exchange {
            label: label.to_owned(),
            source,
        },
    }
}

pub(super) fn rows(session: &Session, key_id: &[u8; 16]) -> Result<Vec<Row>, VaultError> {
    let mut stmt = session.conn().prepare_cached(&format!(
        "SELECT {COLUMNS} FROM rotations WHERE key_id = ?1 ORDER BY planned_at DESC, rowid DESC"
    ))?;
    let rows = stmt.query_map(params![&key_id[..]], read_row)?;
    let mut out = Vec::new();
    for r in rows {
        out.push(r??);
    }
    Ok(out)
}

pub(super) fn row_by_id(session: &Session, id: &[u8; 16]) -> Result<Option<Row>, VaultError> {
    let row = session
        .conn()
        .query_row(
            &format!("SELECT {COLUMNS} FROM rotations WHERE id = ?1"),
            params![&id[..]],
            read_row,
        )
        .optional()?;
    row.transpose()
}

pub(super) fn open_row(
    session: &mut Session,
    label: &str,
) -> Result<(Row, [u8; 16]), RotationError> {
    session.vault_key()?;
    let key_id = session.find_id(label)?;
    let row = rows(session, &key_id)?
        .into_iter()
        .find(|r| r.state.is_open())
        .ok_or_else(|| RotationError::NoOpenRotation {
            label: label.to_owned(),
        })?;
    Ok((row, key_id))
}

/// Whether the pending new key of `row` is one Keyward created itself
/// through the account's manager key: the last `rotation_new_key_entered`
/// entry of this rotation in the audit log says `created_by: manager_key`.
pub(super) fn stored_created(session: &mut Session, row: &Row) -> Result<bool, VaultError> {
    if !row.has_new_secret {
        return Ok(false);
    }
    let rid = uuid_string(&row.id);
    let entries = session.audit_log(&crate::audit::store::AuditFilter {
        key_id: Some(uuid_string(&row.key_id)),
        actions: vec![crate::audit::Action::RotationNewKeyEntered],
        ..Default::default()
    })?;
    Ok(entries
        .iter()
        .rev()
        .map(|e| e.details_value())
        .find(|d| d.get("rotation_id").and_then(|v| v.as_str()) == Some(rid.as_str()))
        .is_some_and(|d| d.get("created_by").and_then(|v| v.as_str()) == Some("manager_key")))
}

/// Whether an automated creation of `row`'s new key was interrupted (a key
/// under its marker may be live on the exchange with no secret stored).
pub(super) fn interrupted_creation(row: &Row) -> bool {
    row.state == RotationState::Planned
        && row
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with(CREATING))
}

/// Whether cancelling `row` must first delete a key Keyward created on the
/// exchange (the stored new key, or one an interrupted creation may have
/// left): only the automated cancel, under the `AutoRotate` step-up, may.
pub(super) fn cancel_deletes_key(session: &mut Session, row: &Row) -> Result<bool, VaultError> {
    if !row.state.can_go_to(RotationState::Cancelled) {
        return Ok(false);
    }
    Ok(interrupted_creation(row) || stored_created(session, row)?)
}

pub(super) fn view(session: &mut Session, row: &Row) -> Result<RotationView, VaultError> {
    let (label, exchange, current_kid): (String, String, String) = session.conn().query_row(
        "SELECT label, exchange, api_key_id FROM keys WHERE id = ?1",
        params![&row.key_id[..]],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let exchange: Exchange = exchange.parse().map_err(|_| malformed("exchange"))?;
    let mut steps = Vec::new();
    let current_index = RotationState::PATH.iter().position(|s| *s == row.state);
    for (i, state) in RotationState::PATH.iter().enumerate() {
        let at = row.stamps[i];
        let status = match current_index {
            Some(c) if i < c => StepStatus::Done,
            Some(c) if i == c => {
                if *state == RotationState::Done {
                    StepStatus::Done
                } else {
                    StepStatus::Current
                }
            }
            Some(_) => StepStatus::Pending,
            None if at.is_some() => StepStatus::Done,
            None => StepStatus::Pending,
        };
        steps.push(StepView {
            state: *state,
            at,
            status,
        });
    }
    if matches!(row.state, RotationState::Failed | RotationState::Cancelled) {
        steps.push(StepView {
            state: row.state,
            at: row.stamps[if row.state == RotationState::Failed {
                6
            } else {
                7
            }],
            status: StepStatus::Current,
        });
    }
    let (new_kid, old_kid) = if row.state.is_promoted() {
        (Some(current_kid), row.previous_api_key_id.clone())
    } else {
        (row.new_api_key_id.clone(), Some(current_kid))
    };
    let revoke_via_api = exchange::capabilities(exchange).revoke_via_api;
    Ok(RotationView {
        id: uuid_string(&row.id),
        key_id: uuid_string(&row.key_id),
        label,
        exchange,
        state: row.state,
        open: row.state.is_open(),
        steps,
        next_action: row.state.next_action(),
        can_cancel: row.state.can_go_to(RotationState::Cancelled),
        cancel_deletes_key: cancel_deletes_key(session, row)?,
        new_api_key_id_masked: new_kid.as_deref().map(mask_key_id),
        old_api_key_id_masked: old_kid.as_deref().map(mask_key_id),
        declared_scopes: row.scopes.clone(),
        verification: row.verification.clone(),
        unknown_override: row.unknown_override,
        revoke_via_api,
        manual_steps: row.manual_steps.clone(),
        services: row.services.clone(),
        error: row.error.clone(),
        prior_status: row.prior_status,
    })
}

pub(super) fn wrong_state(label: &str, state: RotationState, step: &'static str) -> RotationError {
    let hint = match state.next_action() {
        Some(NextAction::EnterNewKey) => "enter the new key first",
        Some(NextAction::Verify) => "verify the new key first",
        Some(NextAction::Promote) => "promote the verified key next",
        Some(NextAction::RevokeOld) => "revoke the old key next",
        Some(NextAction::Finish) => "finish the rotation",
        _ => "the rotation is closed",
    };
    RotationError::WrongState {
        label: label.to_owned(),
        state,
        step,
        hint,
    }
}

/// One transition of `row` to `to` in one transaction with its audit
/// entry: `extra` runs first inside the transaction (after the guarded
/// state update, so a concurrent change makes the whole step stale).
pub(super) fn transition(
    session: &mut Session,
    (actor, proof): (Actor, Option<ProofMethod>),
    label: &str,
    row: &Row,
    to: Option<RotationState>,
    event: RotationEvent,
    extra: impl FnOnce(&Transaction<'_>, &Sealer<'_>) -> Result<(), VaultError>,
) -> Result<(), RotationError> {
    if let Some(to) = to
        && !row.state.can_go_to(to)
    {
        return Err(wrong_state(label, row.state, event.name()));
    }
    let now = session.now_secs();
    let action = rotation_event(
        uuid_string(&row.key_id),
        label.to_owned(),
        &uuid_string(&row.id),
        event,
    );
    let (id, revision, from) = (row.id, row.revision, row.state);
    let applied = session.write_events(
        actor,
        proof,
        |ok: &bool| if *ok { vec![action] } else { Vec::new() },
        |tx, sealer| {
            let changed = match to {
                Some(to) => tx.execute(
                    &format!(
                        "UPDATE rotations SET state = ?2, {} = ?3, revision = revision + 1
                         WHERE id = ?1 AND revision = ?4 AND state = ?5",
                        stamp_column(to)
                    ),
                    params![&id[..], to.as_str(), now, revision, from.as_str()],
                )?,
                None => tx.execute(
                    "UPDATE rotations SET revision = revision + 1
                     WHERE id = ?1 AND revision = ?2 AND state = ?3",
                    params![&id[..], revision, from.as_str()],
                )?,
            };
            if changed != 1 {
                return Ok(false);
            }
            extra(tx, sealer)?;
            Ok(true)
        },
    )?;
    if applied {
        Ok(())
    } else {
        Err(RotationError::Stale {
            label: label.to_owned(),
        })
    }
}

/// Unseals a rotation's sealed secret and optional passphrase (each a
/// `(field, blob)` pair sealed under the rotation's id).
pub(super) fn open_fields(
    session: &mut Session,
    label: &str,
    rid: &[u8; 16],
    (secret_field, secret): (&'static str, &[u8]),
    passphrase: Option<(&'static str, &[u8])>,
) -> Result<Unsealed, VaultError> {
    let s = session.open_field(label, rid, secret_field, secret)?;
    let p = passphrase
        .map(|(field, blob)| session.open_field(label, rid, field, blob))
        .transpose()?;
    Ok((s, p))
}

/// A rotation's sealed key: the new one (verified before promotion) or
/// the previous one (revoked after).
#[derive(Debug, Clone, Copy)]
pub(super) enum SealedKey {
    New,
    Previous,
}

/// The credentials of a rotation's new or previous key, unsealed from its
/// row; `key_type` is used when the row names none.
pub(super) fn sealed_credentials(
    session: &mut Session,
    label: &str,
    row: &Row,
    which: SealedKey,
    key_type: KeyType,
) -> Result<Credentials, VaultError> {
    let (sql, secret_field, passphrase_field, api_key, row_type) = match which {
        SealedKey::New => (
            "SELECT new_secret, new_passphrase FROM rotations WHERE id = ?1",
            NEW_SECRET,
            NEW_PASSPHRASE,
            &row.new_api_key_id,
            row.new_key_type,
        ),
        SealedKey::Previous => (
            "SELECT previous_secret, previous_passphrase FROM rotations WHERE id = ?1",
            PREVIOUS_SECRET,
            PREVIOUS_PASSPHRASE,
            &row.previous_api_key_id,
            row.previous_key_type,
        ),
    };
    let (secret, passphrase): (Option<Vec<u8>>, Option<Vec<u8>>) =
        session
            .conn()
            .query_row(sql, params![&row.id[..]], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let secret = secret.ok_or_else(|| VaultError::Corrupt {
        record: label.to_owned(),
        field: secret_field,
    })?;
    let (secret, passphrase) = open_fields(
        session,
        label,
        &row.id,
        (secret_field, &secret),
        passphrase.as_deref().map(|p| (passphrase_field, p)),
    )?;
    credentials(
        api_key.as_deref().unwrap_or_default(),
        &secret,
        passphrase.as_ref(),
        row_type.unwrap_or(key_type),
        label,
    )
}

pub(super) fn label_of(session: &Session, key_id: &[u8; 16]) -> Result<String, VaultError> {
    Ok(session.conn().query_row(
        "SELECT label FROM keys WHERE id = ?1",
        params![&key_id[..]],
        |r| r.get(0),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_its_own_stamp_column() {
        let mut cols: Vec<&str> = RotationState::ALL
            .iter()
            .map(|s| stamp_column(*s))
            .collect();
        cols.dedup();
        assert_eq!(cols.len(), RotationState::ALL.len());
        for (i, s) in RotationState::ALL.iter().enumerate() {
            assert!(COLUMNS.contains(stamp_column(*s)), "{s}");
            assert_eq!(RotationState::ALL[i], *s);
        }
    }

    /// Rotation imports the vault, never the other way round: no file
    /// under `vault/` names the rotation module (its types cannot be named
    /// without it).
    #[test]
    fn the_vault_does_not_import_rotation() {
        let naming =
            crate::vault::sources_naming(&["crate::rotation", "super::rotation", "rotation::"]);
        assert!(naming.is_empty(), "the vault imports rotation: {naming:?}");
    }
}
