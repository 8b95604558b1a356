//! The steps of a rotation that need no network: start it, read it,
//! enter the new key, promote the verified key, finish, cancel, fail, and
//! the linked-services checklist.
//!
//! Owns: what each step checks before it moves the state, and what it
//! writes with the move (the sealed pending key, the promotion's swap of
//! current and `previous` credentials, the key's status). Must never:
//! promote without a passed verification recorded for the current
//! revision, promote over a key whose credentials changed since the
//! rotation began, or let a secret reach a view, an error or an audit
//! detail.

use rusqlite::params;

use super::store::{
    COLUMNS, NEW_PASSPHRASE, NEW_SECRET, PREVIOUS_PASSPHRASE, PREVIOUS_SECRET, Row,
    cancel_deletes_key, join_scopes, key_fingerprint, open_row, read_row, rotation_event, rows,
    to_json, transition, uuid_string, view, wrong_state,
};
use super::verify::VerifyOutcome;
use super::{RotationError, RotationEvent, RotationState, RotationView, ServiceItem, ServiceState};
use crate::mfa::actions::RotationPromote;
use crate::mfa::{ProofMethod, StepUpGrant};
use crate::model::{ApiSecret, CheckStatus, KeyStatus, KeyType, Passphrase, mask_key_id, validate};
use crate::vault::{self, Actor, Session, VaultError};

/// A new key for a rotation, as the user entered it.
#[derive(Debug)]
pub struct NewRotationKey {
    /// The new public key id.
    pub api_key_id: String,
    /// The new secret (sealed at once).
    pub secret: ApiSecret,
    /// The new passphrase, where the exchange has one.
    pub passphrase: Option<Passphrase>,
    /// The new key's type; `None` keeps the current key's type.
    pub key_type: Option<KeyType>,
}

/// Starts a rotation of `label` (`planned`); the key's status becomes
/// `rotating`. Refused for revoked keys, for exchanges Keyward cannot
/// check live, and when the key already has an open rotation.
pub fn begin(
    session: &mut Session,
    actor: Actor,
    label: &str,
) -> Result<RotationView, RotationError> {
    session.vault_key()?;
    let detail = session.key_detail(label)?;
    let key_id = session.find_id(label)?;
    let summary = &detail.summary;
    if !summary.exchange.has_adapter() {
        return Err(RotationError::NotSupported {
            exchange: summary.exchange,
        });
    }
    if summary.status == KeyStatus::Revoked {
        return Err(RotationError::KeyStatus {
            label: label.to_owned(),
            status: "revoked",
            what: "a revoked key cannot be rotated (add a new key instead)",
        });
    }
    if let Some(open) = rows(session, &key_id)?
        .into_iter()
        .find(|r| r.state.is_open())
    {
        return Err(RotationError::AlreadyOpen {
            label: label.to_owned(),
            state: open.state,
        });
    }
    let fingerprint =
        key_fingerprint(session.conn(), &key_id)?.ok_or_else(|| VaultError::KeyNotFound {
            label: label.to_owned(),
        })?;
    let id = *uuid::Uuid::new_v4().as_bytes();
    let now = session.now_secs();
    let prior = summary.status;
    let scopes = join_scopes(&summary.scopes);
    let action = rotation_event(
        uuid_string(&key_id),
        label.to_owned(),
        &uuid_string(&id),
        RotationEvent::Planned,
    );
    let inserted = session.write_events(
        actor,
        None,
        |ok: &bool| if *ok { vec![action] } else { Vec::new() },
        |tx, sealer| {
            let n = tx.execute(
                "INSERT OR IGNORE INTO rotations (id, key_id, state, prior_status,
                    old_fingerprint, scopes, planned_at)
                 VALUES (?1, ?2, 'planned', ?3, ?4, ?5, ?6)",
                params![
                    &id[..],
                    &key_id[..],
                    prior.as_str(),
                    fingerprint,
                    scopes,
                    now
                ],
            )?;
            if n != 1 {
                return Ok(false);
            }
            vault::update_key_row(
                tx,
                sealer,
                &key_id,
                "UPDATE keys SET status = 'rotating' WHERE id = ?1",
                params![&key_id[..]],
            )?;
            Ok(true)
        },
    )?;
    if !inserted {
        // The partial unique index refused a second open rotation.
        return Err(RotationError::AlreadyOpen {
            label: label.to_owned(),
            state: RotationState::Planned,
        });
    }
    status(session, label)
}

/// The key's open rotation, else its most recent one.
pub fn status(session: &mut Session, label: &str) -> Result<RotationView, RotationError> {
    session.vault_key()?;
    let key_id = session.find_id(label)?;
    let rows = rows(session, &key_id)?;
    let row = rows
        .iter()
        .find(|r| r.state.is_open())
        .or_else(|| rows.first())
        .ok_or_else(|| RotationError::NoOpenRotation {
            label: label.to_owned(),
        })?
        .clone();
    Ok(view(session, &row)?)
}

/// Every open rotation (to resume them), by label.
pub fn open_rotations(session: &mut Session) -> Result<Vec<RotationView>, RotationError> {
    session.vault_key()?;
    let rows: Vec<Row> = {
        let mut stmt = session.conn().prepare(&format!(
            "SELECT {COLUMNS} FROM rotations
             WHERE state NOT IN ('done', 'failed', 'cancelled')"
        ))?;
        let mapped = stmt.query_map([], read_row)?;
        let mut out = Vec::new();
        for r in mapped {
            out.push(r??);
        }
        out
    };
    let mut views = rows
        .iter()
        .map(|r| view(session, r))
        .collect::<Result<Vec<_>, _>>()?;
    views.sort_by(|a, b| a.label.cmp(&b.label));
    Ok(views)
}

/// Stores the new key, sealed (`new_key_entered`). Allowed until
/// promotion; entering another key replaces the pending one and needs
/// a fresh verification.
pub fn enter_new_key(
    session: &mut Session,
    actor: Actor,
    label: &str,
    new: NewRotationKey,
) -> Result<RotationView, RotationError> {
    enter_key(session, actor, label, new, false)
}

/// [`enter_new_key`], saying whether Keyward created the key itself
/// through the account's manager key (`created`, in the audit entry).
pub(super) fn enter_key(
    session: &mut Session,
    actor: Actor,
    label: &str,
    new: NewRotationKey,
    created: bool,
) -> Result<RotationView, RotationError> {
    let (row, _) = open_row(session, label)?;
    if !row.state.can_go_to(RotationState::NewKeyEntered) {
        return Err(wrong_state(label, row.state, "entering a new key"));
    }
    let detail = session.key_detail(label)?;
    let exchange = detail.summary.exchange;
    validate::api_key_id(exchange, &new.api_key_id)?;
    validate::secret(new.secret.expose())?;
    validate::passphrase(exchange, new.passphrase.as_ref().map(|p| p.expose()))?;
    if new.api_key_id == detail.api_key_id {
        return Err(RotationError::SameKey {
            label: label.to_owned(),
        });
    }
    let key_type = new.key_type.unwrap_or(detail.summary.key_type);
    let rid = row.id;
    let masked = mask_key_id(&new.api_key_id);
    transition(
        session,
        (actor, None),
        label,
        &row,
        Some(RotationState::NewKeyEntered),
        RotationEvent::NewKeyEntered {
            new_key: masked,
            created,
        },
        |tx, sealer| {
            let secret = sealer.seal(&rid, NEW_SECRET, new.secret.expose().as_bytes())?;
            let passphrase = match &new.passphrase {
                Some(p) if !p.is_empty() => {
                    Some(sealer.seal(&rid, NEW_PASSPHRASE, p.expose().as_bytes())?)
                }
                _ => None,
            };
            tx.execute(
                "UPDATE rotations SET new_api_key_id = ?2, new_key_type = ?3,
                    new_secret = ?4, new_passphrase = ?5, verification = NULL,
                    unknown_override = 0, new_key_verified_at = NULL, error = NULL
                 WHERE id = ?1",
                params![
                    &rid[..],
                    new.api_key_id,
                    key_type.as_str(),
                    secret,
                    passphrase
                ],
            )?;
            Ok(())
        },
    )?;
    status(session, label)
}

/// Makes the verified new key current (gated:
/// [`GatedAction::RotationPromote`](crate::mfa::GatedAction::RotationPromote)): key id, secret, passphrase, type
/// and (narrowed) scopes are replaced and `last_rotated_at` set; the new
/// key's verified live check (permissions, IP allowlist) becomes the
/// key's last check; the old key is resealed as the rotation's
/// `previous` until it is revoked; the key's linked services become the
/// checklist. No network.
pub fn promote(
    session: &mut Session,
    actor: Actor,
    grant: StepUpGrant<RotationPromote>,
    label: &str,
) -> Result<RotationView, RotationError> {
    promote_with(session, actor, grant.method(), label)
}

/// [`promote`] under a grant the caller already took (an automated
/// rotation's [`AutoRotate`](crate::mfa::actions::AutoRotate)).
pub(super) fn promote_with(
    session: &mut Session,
    actor: Actor,
    proof: ProofMethod,
    label: &str,
) -> Result<RotationView, RotationError> {
    let (row, key_id) = open_row(session, label)?;
    if row.state != RotationState::NewKeyVerified {
        return Err(wrong_state(label, row.state, "promoting"));
    }
    let verified = match &row.verification {
        Some(v) if v.passed => v.clone(),
        _ => {
            return Err(RotationError::NotVerified {
                label: label.to_owned(),
                summary: "no passed verification is recorded".into(),
            });
        }
    };
    if key_fingerprint(session.conn(), &key_id)?.as_deref() != Some(row.old_fingerprint.as_slice())
    {
        return Err(RotationError::KeyChanged {
            label: label.to_owned(),
        });
    }
    let detail = session.key_detail(label)?;
    let old_kid = detail.api_key_id.clone();
    let new_kid = row.new_api_key_id.clone().unwrap_or_default();
    let services: Vec<ServiceItem> = detail
        .linked_services
        .iter()
        .map(|service| ServiceItem {
            name: service.name.clone(),
            state: ServiceState::Pending,
            marked_at: None,
        })
        .collect();
    let services = to_json(&services, "services")?;
    let rid = row.id;
    let now = session.now_secs();
    let new_type = row.new_key_type.unwrap_or(detail.summary.key_type);
    let old_type = detail.summary.key_type;
    let scopes = join_scopes(&row.scopes);
    // The verify step checked the new key live: that check becomes the
    // key's last check, so health follows the key now current (the
    // old key's stale permissions and allowlist go with it).
    let (audit_at, audit_result, audit_check) = promoted_check(&verified, label)?;
    let label_owned = label.to_owned();
    transition(
        session,
        (actor, Some(proof)),
        label,
        &row,
        Some(RotationState::Promoted),
        RotationEvent::Promoted {
            new_key: mask_key_id(&new_kid),
            old_key: mask_key_id(&old_kid),
        },
        |tx, sealer| {
            let (old_secret, old_pass): (Vec<u8>, Option<Vec<u8>>) = tx.query_row(
                "SELECT secret, passphrase FROM keys WHERE id = ?1",
                params![&key_id[..]],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let (new_secret, new_pass): (Option<Vec<u8>>, Option<Vec<u8>>) = tx.query_row(
                "SELECT new_secret, new_passphrase FROM rotations WHERE id = ?1",
                params![&rid[..]],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let corrupt = |field| VaultError::Corrupt {
                record: label_owned.clone(),
                field,
            };
            let new_secret = new_secret.ok_or_else(|| corrupt("rotation.new_secret"))?;
            let reseal = |blob: &[u8],
                          from_rec: &[u8; 16],
                          from_field: &'static str,
                          to_rec: &[u8; 16],
                          to_field: &str|
             -> Result<Vec<u8>, VaultError> {
                let plain = sealer
                    .open(from_rec, from_field, blob)
                    .map_err(|_| corrupt(from_field))?;
                sealer.seal(to_rec, to_field, &plain)
            };
            let prev_secret = reseal(&old_secret, &key_id, "secret", &rid, PREVIOUS_SECRET)?;
            let prev_pass = old_pass
                .as_deref()
                .map(|p| reseal(p, &key_id, "passphrase", &rid, PREVIOUS_PASSPHRASE))
                .transpose()?;
            let cur_secret = reseal(&new_secret, &rid, NEW_SECRET, &key_id, "secret")?;
            let cur_pass = new_pass
                .as_deref()
                .map(|p| reseal(p, &rid, NEW_PASSPHRASE, &key_id, "passphrase"))
                .transpose()?;
            vault::update_key_row(
                tx,
                sealer,
                &key_id,
                "UPDATE keys SET api_key_id = ?2, secret = ?3, passphrase = ?4,
                    key_type = ?5, scopes = ?6, last_rotated_at = ?7,
                    last_audit_at = ?8, last_audit_result = ?9,
                    last_audit_permissions = ?10
                 WHERE id = ?1",
                params![
                    &key_id[..],
                    new_kid,
                    cur_secret,
                    cur_pass,
                    new_type.as_str(),
                    scopes,
                    now,
                    audit_at,
                    audit_result,
                    audit_check
                ],
            )?;
            tx.execute(
                "UPDATE rotations SET previous_api_key_id = ?2, previous_key_type = ?3,
                    previous_secret = ?4, previous_passphrase = ?5, new_secret = NULL,
                    new_passphrase = NULL, services = ?6, error = NULL
                 WHERE id = ?1",
                params![
                    &rid[..],
                    old_kid,
                    old_type.as_str(),
                    prev_secret,
                    prev_pass,
                    services
                ],
            )?;
            Ok(())
        },
    )?;
    status(session, label)
}

/// The last check a promotion stores on the key, from the new key's passed
/// verification: when it ran, its result word (`ok`, or `warning` when the
/// verification noted any difference, such as no IP allowlist) and the
/// granted permissions with the live allowlist.
fn promoted_check(
    verified: &VerifyOutcome,
    label: &str,
) -> Result<(i64, &'static str, String), VaultError> {
    let result = if verified.differences.is_empty() {
        CheckStatus::Ok
    } else {
        CheckStatus::Warning
    };
    let stored = vault::StoredCheck {
        granted: verified.granted.clone(),
        ip_restricted: verified.live_ips.as_ref().map(|ips| !ips.is_empty()),
        ip_whitelist: verified.live_ips.clone(),
    };
    Ok((
        verified.checked_at,
        result.as_str(),
        stored.to_column(label)?,
    ))
}

/// `old_key_revoked → done`; the key's status becomes `active` (a
/// compromised key is no longer compromised once its secret is
/// replaced and the old one revoked).
pub fn finish(
    session: &mut Session,
    actor: Actor,
    label: &str,
) -> Result<RotationView, RotationError> {
    let (row, key_id) = open_row(session, label)?;
    if row.state != RotationState::OldKeyRevoked {
        return Err(wrong_state(label, row.state, "finishing"));
    }
    transition(
        session,
        (actor, None),
        label,
        &row,
        Some(RotationState::Done),
        RotationEvent::Done,
        |tx, sealer| {
            vault::update_key_row(
                tx,
                sealer,
                &key_id,
                "UPDATE keys SET status = 'active' WHERE id = ?1",
                params![&key_id[..]],
            )?;
            Ok(())
        },
    )?;
    status(session, label)
}

/// Abandons the rotation before promotion: the pending new key is
/// erased and the key's status restored. Refused
/// ([`RotationError::CreatedKeyLive`]) for an automated rotation whose
/// created key may be live on the exchange: `cancel_auto` deletes it first.
pub fn cancel(
    session: &mut Session,
    actor: Actor,
    label: &str,
) -> Result<RotationView, RotationError> {
    let (row, _) = open_row(session, label)?;
    if cancel_deletes_key(session, &row)? {
        return Err(RotationError::CreatedKeyLive {
            label: label.to_owned(),
        });
    }
    cancel_row(session, (actor, None), label, &row, Vec::new())
}

/// Moves `row` to `cancelled` (one transaction, one audit entry naming the
/// keys `deleted` on the exchange before, masked): the pending new key is
/// erased and the key's status restored.
pub(super) fn cancel_row(
    session: &mut Session,
    who: (Actor, Option<ProofMethod>),
    label: &str,
    row: &Row,
    deleted: Vec<String>,
) -> Result<RotationView, RotationError> {
    let key_id = row.key_id;
    let prior = row.prior_status;
    let rid = row.id;
    transition(
        session,
        who,
        label,
        row,
        Some(RotationState::Cancelled),
        RotationEvent::Cancelled { deleted },
        |tx, sealer| {
            tx.execute(
                "UPDATE rotations SET new_secret = NULL, new_passphrase = NULL WHERE id = ?1",
                params![&rid[..]],
            )?;
            vault::update_key_row(
                tx,
                sealer,
                &key_id,
                "UPDATE keys SET status = ?2 WHERE id = ?1",
                params![&key_id[..], prior.as_str()],
            )?;
            Ok(())
        },
    )?;
    status(session, label)
}

/// Closes an open rotation as `failed` with `reason` (for a rotation
/// that cannot go on, e.g. the new key was deleted on the exchange).
/// The pending new key is erased; before promotion the key's status is
/// restored, after it the key is `active` with its new credentials.
/// Refused, as [`cancel`] is, before promotion of an automated rotation
/// whose created key may be live.
pub fn fail(
    session: &mut Session,
    actor: Actor,
    label: &str,
    reason: &str,
) -> Result<RotationView, RotationError> {
    validate::free_text("reason", reason, false)?;
    let (row, key_id) = open_row(session, label)?;
    if cancel_deletes_key(session, &row)? {
        return Err(RotationError::CreatedKeyLive {
            label: label.to_owned(),
        });
    }
    let key_status = if row.state.is_promoted() {
        KeyStatus::Active
    } else {
        row.prior_status
    };
    let rid = row.id;
    let reason_owned = reason.to_owned();
    transition(
        session,
        (actor, None),
        label,
        &row,
        Some(RotationState::Failed),
        RotationEvent::Failed {
            reason: reason.to_owned(),
        },
        |tx, sealer| {
            tx.execute(
                "UPDATE rotations SET new_secret = NULL, new_passphrase = NULL, error = ?2
                 WHERE id = ?1",
                params![&rid[..], reason_owned],
            )?;
            vault::update_key_row(
                tx,
                sealer,
                &key_id,
                "UPDATE keys SET status = ?2 WHERE id = ?1",
                params![&key_id[..], key_status.as_str()],
            )?;
            Ok(())
        },
    )?;
    status(session, label)
}

/// Marks one linked service on the checklist of a promoted rotation.
pub fn mark_service(
    session: &mut Session,
    actor: Actor,
    label: &str,
    service: &str,
    state: ServiceState,
) -> Result<RotationView, RotationError> {
    session.vault_key()?;
    let key_id = session.find_id(label)?;
    let row = rows(session, &key_id)?
        .into_iter()
        .find(|r| r.state.is_promoted())
        .ok_or_else(|| RotationError::NoOpenRotation {
            label: label.to_owned(),
        })?;
    let now = session.now_secs();
    let mut services = row.services.clone();
    let item = services
        .iter_mut()
        .find(|s| s.name == service)
        .ok_or_else(|| RotationError::UnknownService {
            label: label.to_owned(),
            service: service.chars().take(64).collect(),
        })?;
    item.state = state;
    item.marked_at = Some(now);
    let json = to_json(&services, "services")?;
    let rid = row.id;
    transition(
        session,
        (actor, None),
        label,
        &row,
        None,
        RotationEvent::ServiceMarked {
            service: service.to_owned(),
            state,
        },
        |tx, _| {
            tx.execute(
                "UPDATE rotations SET services = ?2 WHERE id = ?1",
                params![&rid[..], json],
            )?;
            Ok(())
        },
    )?;
    status(session, label)
}
