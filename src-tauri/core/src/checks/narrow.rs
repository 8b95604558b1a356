//! Narrowing a key at its exchange (drop one of the permissions it holds,
//! "remove withdraw", "read-only", "restrict to these IPs") where the exchange allows it on the key itself
//! (Bybit's `update-api`), behind step-up MFA, verified by a fresh live
//! check that is stored as the key's last check.
//!
//! Owns: the gated, three-phase narrowing of a stored key. Must never: call
//! the exchange without a `SecuritySettings` grant, hold the session across
//! a network call, or put a secret in its results or audit details.

use std::time::{Duration, UNIX_EPOCH};

use super::{CheckSelection, KeyVerification, verify_through};
use crate::KindedError;
use crate::audit::{self, Details, NewEvent};
use crate::error::ErrorKind;
use crate::exchange::{ExchangeClient, ExchangeError, Narrowing};
use crate::mfa::StepUpGrant;
use crate::mfa::actions::SecuritySettings;
use crate::vault::{self, AccessError, Actor, Session, SessionAccess, VaultError};

/// Why narrowing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NarrowError {
    /// The vault refused (locked, no such key, step-up missing).
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The exchange refused or could not be reached, or cannot narrow a
    /// key through its API (then do it on its website).
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
    /// Keyward has no live adapter for this key's exchange.
    #[error("{label}: this exchange cannot be reached by Keyward; narrow the key on its website")]
    NotSupported {
        /// The key.
        label: String,
    },
}

impl KindedError for NarrowError {
    fn kind(&self) -> ErrorKind {
        match self {
            NarrowError::Vault(e) => e.kind(),
            NarrowError::Exchange(e) => e.kind(),
            NarrowError::NotSupported { .. } => ErrorKind::Invalid,
        }
    }
}

/// Narrows `label` at its exchange, then checks it live and stores that
/// check. The grant is for [`crate::mfa::GatedAction::SecuritySettings`].
pub async fn narrow_key<S: SessionAccess>(
    mut access: S,
    client: &ExchangeClient,
    actor: Actor,
    grant: StepUpGrant<SecuritySettings>,
    label: &str,
    narrowing: &Narrowing,
) -> Result<KeyVerification, NarrowError> {
    let _ = grant;
    // The three phases of the narrowing itself.
    vault::three_phase(
        &mut access,
        // Under the lock: unseal what the exchange layer needs.
        |s| {
            let detail = s.key_detail(label)?;
            let target = s.exchange_access(label).map_err(|e| match e {
                AccessError::Vault(v) => NarrowError::Vault(v),
                AccessError::NotSupported { .. } => NarrowError::NotSupported {
                    label: label.to_owned(),
                },
                AccessError::Exchange(x) => NarrowError::Exchange(x),
            })?;
            Ok::<_, NarrowError>((target, detail.summary.id))
        },
        // No lock: narrow (the exchange layer refuses exchanges that
        // cannot do it on the key); the credentials drop right after.
        |(target, key_id)| async move {
            let endpoint = client.endpoint(target.exchange, &target.environment)?;
            let (_, dropped) = endpoint
                .narrow_dropping(&target.credentials, narrowing)
                .await?;
            drop(target);
            Ok::<_, NarrowError>((dropped, key_id))
        },
        // Under the lock: audit what was changed at the exchange (its
        // names of the dropped permissions), nothing secret.
        |s, narrowed| record_narrowing(s, actor, label, narrowing, narrowed),
    )
    .await?;
    // A fresh live check, stored as the key's last check (three phases).
    let selection = CheckSelection::Labels(vec![label.to_owned()]);
    let results = verify_through(&mut access, client, &selection, actor).await?;
    results.into_iter().next().ok_or_else(|| {
        NarrowError::Vault(VaultError::KeyNotFound {
            label: label.to_owned(),
        })
    })
}

/// Phase 3 of a narrowing: its audit entry, or the network phase's error.
fn record_narrowing(
    s: &mut Session,
    actor: Actor,
    label: &str,
    narrowing: &Narrowing,
    narrowed: Result<(Vec<String>, String), NarrowError>,
) -> Result<(), NarrowError> {
    let (dropped, key_id) = narrowed?;
    let details = Details::new()
        .with("dropped", dropped)
        .with("remove_withdraw", narrowing.remove_withdraw)
        .with("read_only", narrowing.read_only)
        .with(
            "ips",
            narrowing
                .ips
                .as_ref()
                .map(|ips| ips.len() as u64)
                .unwrap_or(0),
        );
    let at = UNIX_EPOCH + Duration::from_secs(u64::try_from(s.now_secs()).unwrap_or(0));
    let event = NewEvent::new(actor, audit::Action::KeyNarrowed, at)
        .with_key(key_id, label.to_owned())
        .with_details(details);
    s.write_events(
        actor,
        None,
        |_| Vec::new(),
        |tx, sealer| {
            vault::append_event(tx, sealer, event)?;
            Ok(())
        },
    )?;
    Ok(())
}
