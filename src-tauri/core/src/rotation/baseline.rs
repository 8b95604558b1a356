//! The revocation baseline a process leaves in the vault for the next one.
//!
//! A revocation checks the key live right before it sends the exchange's
//! delete call: only after that success can the exchange's ambiguous
//! "invalid key" answer prove the deletion, and the exchange client keeps
//! that success in memory only. If the answer to the deletion is lost (an
//! error, a timeout, a killed process), a retry from a new process would
//! find the key refused with nothing to prove it. So right before the
//! delete call the success is recorded as a `revocation_baseline` audit
//! entry, through the vault's write path: the key's id and label, the
//! endpoint's base URL, when the key authenticated, and a MAC under a
//! vault subkey binding the credentials, the endpoint and that time. A
//! retry reads the most recent one for the key; if it is for the same
//! credentials at the same endpoint, the client takes the success as its
//! own (`Endpoint::remember_authenticated`),
//! and the proof window (30 minutes) counts from the recorded time.
//!
//! Must never: put a secret, a hash of one or anything derived from one
//! without the vault's key in the entry, or let a baseline of other
//! credentials, another endpoint or an unknown time count.

use std::time::{Duration, Instant};

use hkdf::Hkdf;
use secrecy::{ExposeSecret, SecretBox};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::store::uuid_string;
use crate::audit::store::AuditFilter;
use crate::audit::{Action, Details, Event};
use crate::exchange::{Credentials, Endpoint, ProofScope};
use crate::mfa::ProofMethod;
use crate::vault::{Actor, Session, VaultError};

const HKDF_INFO: &[u8] = b"keyward revocation baseline mac v1";
const DOMAIN: &[u8] = b"keyward revocation baseline v1\0";

/// The baseline MAC key, derived from the vault's MAC root.
struct BaselineKey(SecretBox<[u8; 32]>);

impl BaselineKey {
    fn of(session: &mut Session) -> Result<BaselineKey, VaultError> {
        let root = session.vault_key()?.mac_root();
        Ok(BaselineKey(SecretBox::init_with_mut(
            |okm: &mut [u8; 32]| {
                if Hkdf::<Sha256>::new(None, root)
                    .expand(HKDF_INFO, okm)
                    .is_err()
                {
                    unreachable!("HKDF-SHA256 expands 32 bytes");
                }
            },
        )))
    }

    /// The MAC of one baseline: the key record, the time, the endpoint and
    /// the credentials.
    fn digest(
        &self,
        key_id: &[u8; 16],
        authenticated_at: i64,
        scope: &ProofScope,
        creds: &Credentials,
    ) -> [u8; 32] {
        let mut context = DOMAIN.to_vec();
        context.extend_from_slice(key_id);
        context.extend_from_slice(&authenticated_at.to_be_bytes());
        scope.keyed_digest(self.0.expose_secret(), &context, creds)
    }
}

/// A success an earlier process recorded, found valid for the key about
/// to be revoked: how old it was when it was read, and when that was.
#[derive(Debug, Clone)]
pub(super) struct Recorded {
    scope: ProofScope,
    read_at: Instant,
    age: Duration,
}

impl Recorded {
    /// Hands the recorded success to `endpoint`'s client, if the endpoint
    /// is the one it was recorded for.
    pub(super) fn seed(&self, endpoint: &Endpoint, creds: &Credentials) {
        if endpoint.proof_scope() == self.scope {
            endpoint.remember_authenticated(creds, self.read_at, self.age);
        }
    }
}

/// Phase 1 of a revocation: the most recent baseline recorded for the key
/// record `key_id`, if it is for `creds` at `scope` and not from the
/// future by the vault's clock. Its age decides later, against the
/// client's proof window.
pub(super) fn recorded(
    session: &mut Session,
    key_id: &[u8; 16],
    scope: &ProofScope,
    creds: &Credentials,
) -> Result<Option<Recorded>, VaultError> {
    let last = session.audit_log(&AuditFilter {
        key_id: Some(uuid_string(key_id)),
        actions: vec![Action::RevocationBaseline],
        limit: Some(1),
        ..AuditFilter::default()
    })?;
    let Some(entry) = last.last() else {
        return Ok(None);
    };
    let d = entry.details_value();
    let endpoint = d.get("endpoint").and_then(|v| v.as_str());
    let at = d.get("authenticated_at").and_then(|v| v.as_i64());
    let digest = d
        .get("digest")
        .and_then(|v| v.as_str())
        .and_then(|h| hex::decode(h).ok());
    let (Some(endpoint), Some(at), Some(digest)) = (endpoint, at, digest) else {
        return Ok(None);
    };
    if endpoint != scope.base_url() {
        return Ok(None);
    }
    let expected = BaselineKey::of(session)?.digest(key_id, at, scope, creds);
    if !bool::from(expected.ct_eq(digest.as_slice())) {
        return Ok(None);
    }
    let Ok(age) = u64::try_from(session.now_secs() - at) else {
        return Ok(None);
    };
    Ok(Some(Recorded {
        scope: scope.clone(),
        read_at: Instant::now(),
        age: Duration::from_secs(age),
    }))
}

/// What to record: the key, where and with what it authenticated, and
/// how long ago.
pub(super) struct Baseline<'a> {
    pub key_id: &'a [u8; 16],
    pub label: &'a str,
    pub scope: &'a ProofScope,
    pub creds: &'a Credentials,
    pub ago: Duration,
}

/// Between the live check and the delete call: records the baseline, one
/// audited write. The time is the vault clock's, less how long ago the
/// check succeeded (rounded up: never younger than it is).
pub(super) fn record(
    session: &mut Session,
    actor: Actor,
    proof: ProofMethod,
    baseline: Baseline<'_>,
) -> Result<(), VaultError> {
    let ago = baseline
        .ago
        .as_secs()
        .saturating_add(u64::from(baseline.ago.subsec_nanos() > 0));
    let at = session
        .now_secs()
        .saturating_sub(i64::try_from(ago).unwrap_or(i64::MAX));
    let digest =
        BaselineKey::of(session)?.digest(baseline.key_id, at, baseline.scope, baseline.creds);
    let event = Event::new(Action::RevocationBaseline)
        .with_key(uuid_string(baseline.key_id), baseline.label)
        .with_details(
            Details::new()
                .with("endpoint", baseline.scope.base_url())
                .with("authenticated_at", at)
                .with("digest", hex::encode(digest)),
        );
    session.write_events(actor, Some(proof), |_| vec![event], |_, _| Ok(()))
}
