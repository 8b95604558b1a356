//! The verify step of a rotation, in three phases: under the session
//! lock, check the state and unseal the new key ([`prepare_verify`]);
//! without the lock, ask the exchange ([`PendingVerification::run`]); under
//! the lock again, record the outcome unless the rotation moved meanwhile
//! ([`record_verify`]). [`verify_new_key`] does all three for anything
//! that implements [`SessionAccess`].
//!
//! Must never: hold the session across the network call, widen the
//! declared scopes, record an outcome for a revision other than the one
//! prepared, or let the new key's credentials outlive the pending value
//! (redacted `Debug`, zeroized on drop).

use rusqlite::params;

use super::store::{
    SealedKey, access_error, join_scopes, label_of, open_row, row_by_id, sealed_credentials,
    to_json, transition, wrong_state,
};
use super::verify::{self as rverify, VerifyOutcome};
use super::{RotationError, RotationEvent, RotationState};
use crate::exchange::{self, Credentials, ExchangeClient};
use crate::model::{Environment, Exchange, Scope};
use crate::vault::{self, Actor, Session, SessionAccess};

/// Options of the verify step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Narrow the declared scopes to these (each must already be declared).
    pub scopes: Option<Vec<Scope>>,
    /// Accept "unknown" permissions or IP restriction explicitly (audited).
    /// Never accepts anything beyond the declared scope.
    pub allow_unknown: bool,
}

/// Phase 1 → 2 of the verify step. Opaque: it holds the new key's
/// unsealed credentials (redacted `Debug`, zeroized on drop).
pub struct PendingVerification {
    rotation_id: [u8; 16],
    revision: i64,
    label: String,
    exchange: Exchange,
    environment: Environment,
    credentials: Credentials,
    scopes: Vec<Scope>,
    intended_ips: Vec<String>,
    allow_unknown: bool,
}

impl std::fmt::Debug for PendingVerification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingVerification")
            .field("label", &self.label)
            .field("exchange", &self.exchange)
            .finish_non_exhaustive()
    }
}

/// Phase 2 → 3 of the verify step: the outcome, tied to the rotation's
/// revision when the check was prepared. Holds no secret.
#[derive(Debug)]
pub struct CheckedNewKey {
    rotation_id: [u8; 16],
    revision: i64,
    label: String,
    scopes: Vec<Scope>,
    outcome: VerifyOutcome,
}

impl PendingVerification {
    /// Phase 2: checks the new key live. Holds no session; needs a Tokio
    /// runtime.
    pub async fn run(self, client: &ExchangeClient) -> CheckedNewKey {
        let now = exchange::Timestamp::now().unix_ms().div_euclid(1000);
        let result = match client.endpoint(self.exchange, &self.environment) {
            Ok(endpoint) => endpoint.verify(&self.credentials).await,
            Err(e) => Err(e),
        };
        let outcome = rverify::compare(
            self.exchange,
            &self.scopes,
            &self.intended_ips,
            &result,
            now,
        );
        CheckedNewKey {
            rotation_id: self.rotation_id,
            revision: self.revision,
            label: self.label.clone(),
            scopes: self.scopes.clone(),
            outcome: rverify::with_override(outcome, self.allow_unknown),
        }
        // `self` (and the credentials in it) drop and zeroize here.
    }
}

/// Phase 1 of the verify step: checks the state and the requested
/// narrowing, unseals the new key. No I/O; release the lock after it.
pub fn prepare_verify(
    session: &mut Session,
    label: &str,
    options: &VerifyOptions,
) -> Result<PendingVerification, RotationError> {
    let (row, _) = open_row(session, label)?;
    if !matches!(
        row.state,
        RotationState::NewKeyEntered | RotationState::NewKeyVerified
    ) || !row.has_new_secret
    {
        return Err(wrong_state(label, row.state, "verifying the new key"));
    }
    let detail = session.key_detail(label)?;
    let scopes = match &options.scopes {
        Some(wanted) => {
            for s in wanted {
                if !detail.summary.scopes.contains(s) {
                    return Err(RotationError::ScopeWidening {
                        label: label.to_owned(),
                        scope: s.as_str(),
                    });
                }
            }
            let mut v = wanted.clone();
            v.sort_by_key(|s| s.as_str());
            v.dedup();
            v
        }
        None => row.scopes.clone(),
    };
    let access = session
        .exchange_access(label)
        .map_err(|e| access_error(label, e))?;
    let credentials = sealed_credentials(
        session,
        label,
        &row,
        SealedKey::New,
        detail.summary.key_type,
    )?;
    Ok(PendingVerification {
        rotation_id: row.id,
        revision: row.revision,
        label: label.to_owned(),
        exchange: detail.summary.exchange,
        environment: access.environment.clone(),
        credentials,
        scopes,
        intended_ips: detail.ip_whitelist.clone(),
        allow_unknown: options.allow_unknown,
    })
}

/// Phase 3 of the verify step: records the outcome. Passed →
/// `new_key_verified` (with the narrowed scopes, and the override in
/// the audit entry if one was used); failed → stays (or goes back to)
/// `new_key_entered` with the differences stored, audited as a refused
/// step. A rotation that moved meanwhile gives [`RotationError::Stale`].
pub fn record_verify(
    session: &mut Session,
    actor: Actor,
    checked: CheckedNewKey,
) -> Result<VerifyOutcome, RotationError> {
    session.vault_key()?;
    let label = checked.label.clone();
    let row = row_by_id(session, &checked.rotation_id)?
        .filter(|r| r.revision == checked.revision)
        .ok_or_else(|| RotationError::Stale {
            label: label.clone(),
        })?;
    let outcome = checked.outcome;
    let json = to_json(&outcome, "verification")?;
    let rid = row.id;
    let scopes = join_scopes(&checked.scopes);
    let key_label = label_of(session, &row.key_id)?;
    if outcome.passed {
        let event = RotationEvent::NewKeyVerified {
            scopes: checked.scopes.iter().map(|s| s.as_str()).collect(),
            overridden: outcome.overridden_codes(),
        };
        let over = outcome.unknown_override;
        transition(
            session,
            (actor, None),
            &key_label,
            &row,
            Some(RotationState::NewKeyVerified),
            event,
            |tx, _| {
                tx.execute(
                    "UPDATE rotations SET verification = ?2, scopes = ?3, unknown_override = ?4,
                    error = NULL
                 WHERE id = ?1",
                    params![&rid[..], json, scopes, over],
                )?;
                Ok(())
            },
        )?;
    } else {
        let reason = outcome
            .blocking()
            .next()
            .map(|d| d.code.as_str())
            .unwrap_or("unknown_not_accepted");
        let to =
            (row.state == RotationState::NewKeyVerified).then_some(RotationState::NewKeyEntered);
        let error = format!("the new key did not pass verification ({reason})");
        transition(
            session,
            (actor, None),
            &key_label,
            &row,
            to,
            RotationEvent::StepRefused {
                step: "verify",
                reason,
            },
            |tx, _| {
                tx.execute(
                    "UPDATE rotations SET verification = ?2, unknown_override = 0,
                        new_key_verified_at = NULL, error = ?3
                     WHERE id = ?1",
                    params![&rid[..], json, error],
                )?;
                Ok(())
            },
        )?;
    }
    Ok(outcome)
}

/// The verify step, all three phases (lock, network without it, lock).
pub async fn verify_new_key<S: SessionAccess>(
    mut access: S,
    client: &ExchangeClient,
    actor: Actor,
    label: &str,
    options: &VerifyOptions,
) -> Result<VerifyOutcome, RotationError> {
    vault::three_phase(
        &mut access,
        |s| prepare_verify(s, label, options),
        |pending| pending.run(client),
        |s, checked| record_verify(s, actor, checked),
    )
    .await
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn the_desktop_futures_are_send() {
        fn assert_send<T: Send>(_: &T) {}
        let slot = Mutex::new(None);
        let client = ExchangeClient::new(exchange::HttpConfig::default()).unwrap();
        let options = VerifyOptions::default();
        let fut = verify_new_key(&slot, &client, Actor::Gui, "k", &options);
        assert_send(&fut);
    }
}
