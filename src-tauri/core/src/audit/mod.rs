//! The tamper-evident audit log: what happened, when, through which front
//! end, to which key.
//!
//! Owns: the event vocabulary ([`Action`], closed: one stored name per
//! event, and the only one — the vault names its writes' entries with it,
//! as an [`Event`]) and its sentences and categories for people
//! ([`describe`], [`Category`]), the entry format, the MAC chain
//! and its verification ([`verify_chain`]), and the `audit_log` table
//! ([`store`]). Each entry's MAC is HMAC-SHA256, under a key derived with
//! HKDF-SHA256 from the vault key ([`AuditKey`]), over the previous entry's
//! MAC followed by a canonical, length-prefixed encoding of the entry, so
//! an edited, deleted or reordered entry breaks the chain. The chain head
//! (last sequence number and MAC, [`ChainHead`]) is sealed by the vault in
//! its metadata, so a truncated log is caught too.
//!
//! Must never:
//! - hold a secret: details are a small JSON object of non-secret facts
//!   (a label, an exchange name, a count, an error kind). Callers must never
//!   put an API secret, a passphrase, a password, a TOTP seed or code, a
//!   recovery code or any key material there; the log is readable by
//!   anyone who can read the vault file;
//! - append outside the transaction of the change it records: an entry and
//!   its change commit together or not at all ([`store::append`] takes the
//!   caller's transaction for that reason);
//! - depend on JSON formatting for integrity: the MAC covers the exact
//!   stored details text, never a re-serialization.
//!
//! # Example
//!
//! ```
//! use std::time::SystemTime;
//! use keyward_core::audit::{
//!     Action, Actor, AuditError, AuditKey, ChainHead, Details, NewEvent, next_entry, verify_chain,
//! };
//!
//! let key = AuditKey::derive(&[7u8; 32]); // from the unwrapped vault key, in reality
//! let event = NewEvent::new(Actor::Cli, Action::SecretRevealed, SystemTime::now())
//!     .with_key("3f1c…", "binance-main")
//!     .with_details(Details::new().with("exchange", "binance"));
//! let first = next_entry(&ChainHead::GENESIS, &key, event)?;
//! let sealed_head = first.head(); // the vault seals this in its metadata
//!
//! let mut log = vec![first];
//! verify_chain(&log, &key, &sealed_head)?;
//!
//! log[0].key_label = Some("someone-else".into());
//! assert!(matches!(
//!     verify_chain(&log, &key, &sealed_head),
//!     Err(AuditError::Modified { seq: 1 })
//! ));
//! # Ok::<(), AuditError>(())
//! ```

mod chain;
mod describe;
mod error;
mod key;
pub mod store;

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

pub use chain::{next_entry, verify_chain};
pub use describe::{Category, describe};
pub use error::AuditError;
pub use key::AuditKey;

/// Largest serialized size of an entry's details, in bytes.
pub const MAX_DETAILS_LEN: usize = 4096;

/// Which front end performed the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Actor {
    /// The desktop app.
    Gui,
    /// The `keyward` command line.
    Cli,
    /// The core itself, with no front-end request behind it (e.g. an
    /// integrity finding made while absorbing events recorded while
    /// locked).
    System,
}

impl Actor {
    /// Every actor, in a fixed order.
    pub const ALL: &'static [Actor] = &[Actor::Gui, Actor::Cli, Actor::System];

    /// The stored name (part of the MAC'd encoding: never change one).
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Gui => "gui",
            Actor::Cli => "cli",
            Actor::System => "system",
        }
    }

    /// The actor with this stored name.
    pub fn from_name(name: &str) -> Option<Actor> {
        Actor::ALL.iter().copied().find(|a| a.as_str() == name)
    }
}

macro_rules! actions {
    ($( $(#[doc = $doc:literal])* $variant:ident => $name:literal, )*) => {
        /// What happened. A closed vocabulary: adding an event is adding a
        /// variant here (with a new, never reused name); the stored names
        /// are part of the MAC'd encoding and must never change.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Action {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl Action {
            /// Every action, in declaration order.
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                }
            }

            /// The action with this stored name.
            pub fn from_name(name: &str) -> Option<Action> {
                match name {
                    $($name => Some(Action::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

actions! {
    /// A vault was created.
    VaultCreated => "vault_created",
    /// The vault was unlocked.
    Unlock => "unlock",
    /// An unlock attempt failed (recorded while locked, chained at the next
    /// unlock; see [`store::record_while_locked`]).
    UnlockFailed => "unlock_failed",
    /// The vault was locked (by the user, on idle, on sleep, on quit).
    Lock => "lock",
    /// The master password was changed.
    PasswordChanged => "password_changed",
    /// A setting was changed (details name it and the new value).
    SettingsChanged => "settings_changed",
    /// OS-keyring unlock was enabled on this device.
    KeyringUnlockEnabled => "keyring_unlock_enabled",
    /// OS-keyring unlock was removed.
    KeyringUnlockRemoved => "keyring_unlock_removed",
    /// A key was added.
    KeyAdded => "key_added",
    /// A key's non-secret fields or secret were edited.
    KeyEdited => "key_edited",
    /// A key was deleted.
    KeyDeleted => "key_deleted",
    /// A key's secret was revealed.
    SecretRevealed => "secret_revealed",
    /// A key's secret was copied to the clipboard.
    SecretCopied => "secret_copied",
    /// The vault (or part of it) was exported.
    Export => "export",
    /// Keys were imported.
    Import => "import",
    /// A key was verified against its exchange.
    Verify => "verify",
    /// A key's permissions or IP list were narrowed at its exchange.
    KeyNarrowed => "key_narrowed",
    /// `keyward run` was allowed to inject a key (one entry per use).
    RunAllowed => "run_allowed",
    /// The per-key "allow `keyward run`" grant was given or withdrawn
    /// (details: `allowed`).
    RunGrantChanged => "run_grant_changed",
    /// An MFA enrolment was started (MFA not yet active).
    MfaEnrolled => "mfa_enrolled",
    /// An MFA enrolment was confirmed: MFA is active.
    MfaConfirmed => "mfa_confirmed",
    /// A pending MFA enrolment was abandoned.
    MfaEnrolmentCancelled => "mfa_enrolment_cancelled",
    /// MFA was turned off.
    MfaDisabled => "mfa_disabled",
    /// New recovery codes replaced the old ones.
    MfaRecoveryCodesRegenerated => "mfa_recovery_codes_regenerated",
    /// A recovery code was spent on a step-up.
    MfaRecoveryCodeUsed => "mfa_recovery_code_used",
    /// A step-up was refused (details: action and error kind).
    StepUpFailed => "step_up_failed",
    /// Step-up was locked after too many wrong codes.
    StepUpThrottled => "step_up_throttled",
    /// A rotation was planned.
    RotationPlanned => "rotation_planned",
    /// The new key of a rotation was entered.
    RotationNewKeyEntered => "rotation_new_key_entered",
    /// The new key of a rotation was verified.
    RotationNewKeyVerified => "rotation_new_key_verified",
    /// The new key of a rotation became current.
    RotationPromoted => "rotation_promoted",
    /// The old key of a rotation was revoked.
    RotationOldKeyRevoked => "rotation_old_key_revoked",
    /// A rotation finished.
    RotationDone => "rotation_done",
    /// A rotation step failed (details: step and error kind).
    RotationFailed => "rotation_failed",
    /// A rotation was cancelled.
    RotationCancelled => "rotation_cancelled",
    /// A key on the automated rotation schedule is due, but the run had no
    /// step-up to act with: nothing was rotated (details: `due_at`).
    AutoRotationNeedsStepUp => "auto_rotation_needs_step_up",
    /// Right before a revocation sent the exchange's delete call, the key
    /// authenticated live (details: `endpoint`, the base URL;
    /// `authenticated_at`, unix seconds; `digest`, a MAC under a vault
    /// subkey binding the credentials, the endpoint and the time — never
    /// the credentials). A retry from another process reads it: within the
    /// proof window an "invalid key" answer for the same credentials on
    /// the same endpoint is then proof of the deletion.
    RevocationBaseline => "revocation_baseline",
    /// A key was revoked outside a rotation.
    KeyRevoked => "key_revoked",
    /// A key was marked compromised.
    KeyCompromised => "key_compromised",
    /// An incident was opened.
    IncidentOpened => "incident_opened",
    /// An incident playbook step was completed.
    IncidentStepDone => "incident_step_done",
    /// An incident playbook step was skipped.
    IncidentStepSkipped => "incident_step_skipped",
    /// An incident was closed.
    IncidentClosed => "incident_closed",
    /// A key's linked service was added, changed or removed, or a
    /// vendor-checklist item was checked or unchecked (details: service,
    /// change, fields or item).
    ServiceChanged => "service_changed",
    /// Verification found the log broken (details: what was found). Written
    /// so that the finding itself stays in the chain.
    AuditIntegrityFailed => "audit_integrity_failed",
    /// The user acknowledged every integrity finding recorded before this
    /// entry, after step-up (details: how many). Until then `keyward log
    /// --verify` exits 5.
    AuditFindingsAcknowledged => "audit_findings_acknowledged",
    /// The alert configuration changed (webhook set or removed, options;
    /// never the URL).
    AlertSettingsChanged => "alert_settings_changed",
    /// Reminders were decided or webhook events queued by a reminder pass.
    AlertReminded => "alert_reminded",
    /// A webhook message was delivered.
    AlertDelivered => "alert_delivered",
    /// A webhook message could not be delivered (details: error code).
    AlertFailed => "alert_failed",
    /// The vault's state seal (rollback detection) was started: from this
    /// entry on, a settings blob without one is a rollback.
    StateSealed => "state_sealed",
    /// A key was marked as its account's manager key, after a live check
    /// found it fit (details: `exchange`).
    ManagerKeyMarked => "manager_key_marked",
    /// A key stopped being its account's manager key (details: `exchange`).
    ManagerKeyUnmarked => "manager_key_unmarked",
    /// The keys of an exchange account were listed through its manager key
    /// (details: counts only — `known`, `unknown`, `missing`, `not_listed` —
    /// and whether the listing was `complete`).
    InventoryTaken => "inventory_taken",
    /// A key on the exchange account that the vault does not hold was
    /// deleted through the manager key (details: `exchange`, the masked
    /// `key_id`).
    UnknownKeyRevoked => "unknown_key_revoked",
    /// A deployment target was added (details: `target`, `host`, `port`;
    /// never the recipient's key material beyond its kind).
    DeployTargetAdded => "deploy_target_added",
    /// A deployment target changed (details: `target`, `change`: granted,
    /// withdrawn, removed or host_key_pinned).
    DeployTargetChanged => "deploy_target_changed",
    /// A key was delivered, sealed, to a deployment target (details:
    /// `target`, `host`; one entry per key in the bundle; never a secret).
    KeyDeployed => "key_deployed",
    /// Revoking a rotated key's old credentials went ahead although
    /// deployment targets still held a bundle with them (`--force`;
    /// details: `targets`).
    RevokeForcedWhileDeployed => "revoke_forced_while_deployed",
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! name_serde {
    ($ty:ident, $what:literal) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let name = String::deserialize(d)?;
                $ty::from_name(&name)
                    .ok_or_else(|| serde::de::Error::custom(concat!("unknown audit ", $what)))
            }
        }
    };
}

name_serde!(Actor, "actor");
name_serde!(Action, "action");

/// Non-secret facts about an event: a small JSON object.
///
/// **Never put a secret here** — no API secret, passphrase, password, TOTP
/// seed or code, recovery code or key material, not even truncated or
/// hashed. Put names, counts, kinds and outcomes. The serialized object is
/// limited to [`MAX_DETAILS_LEN`] bytes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Details(Map<String, Value>);

impl Details {
    /// No details.
    pub fn new() -> Self {
        Details::default()
    }

    /// Adds (or replaces) one fact.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.0.insert(name.into(), value.into());
        self
    }

    /// Details from a JSON value, which must be an object.
    pub fn from_value(value: Value) -> Result<Self, AuditError> {
        match value {
            Value::Object(map) => Ok(Details(map)),
            _ => Err(AuditError::DetailsNotObject),
        }
    }

    /// The facts.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The text that is stored and MAC'd, checked against the size limit
    /// and the secret-sounding-name tripwire.
    pub(crate) fn to_stored_text(&self) -> Result<String, AuditError> {
        check_names(&self.0)?;
        let text = Value::Object(self.0.clone()).to_string();
        if text.len() > MAX_DETAILS_LEN {
            return Err(AuditError::DetailsTooLarge {
                len: text.len(),
                max: MAX_DETAILS_LEN,
            });
        }
        Ok(text)
    }
}

/// Field names that announce a secret. A detail named like this is refused
/// outright: a tripwire for the obvious mistake, not a guarantee (a secret
/// under an innocent name still gets through, which is why the rule above
/// is on the caller).
const SECRET_NAMES: &[&str] = &[
    "secret",
    "passphrase",
    "password",
    "seed",
    "private_key",
    "recovery_code",
    "totp",
    "otp",
    "vault_key",
    "api_secret",
];

fn check_names(map: &Map<String, Value>) -> Result<(), AuditError> {
    for (name, value) in map {
        let lower = name.to_ascii_lowercase();
        if SECRET_NAMES
            .iter()
            .any(|s| lower == *s || lower.ends_with(&format!("_{s}")))
        {
            return Err(AuditError::SecretLikeDetail {
                name: name.chars().take(64).collect(),
            });
        }
        match value {
            Value::Object(inner) => check_names(inner)?,
            Value::Array(items) => {
                for item in items {
                    if let Value::Object(inner) = item {
                        check_names(inner)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// What a write did, before the write path says who and when: the audit
/// entry a vault write names (`Session::write` and its siblings stamp it
/// with the write's actor and time, and the proof of a gated write, and
/// append it in the write's transaction). Metadata only, like every entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// What happened.
    pub action: Action,
    /// The key concerned, if any (its id, as text).
    pub key_id: Option<String>,
    /// The key's label at the time, if any.
    pub key_label: Option<String>,
    /// Non-secret facts. See [`Details`].
    pub details: Details,
}

impl Event {
    /// An event with no key and no details.
    pub fn new(action: Action) -> Self {
        Event {
            action,
            key_id: None,
            key_label: None,
            details: Details::new(),
        }
    }

    /// Names the key concerned.
    pub fn with_key(mut self, id: impl Into<String>, label: impl Into<String>) -> Self {
        self.key_id = Some(id.into());
        self.key_label = Some(label.into());
        self
    }

    /// Sets the details.
    pub fn with_details(mut self, details: Details) -> Self {
        self.details = details;
        self
    }

    /// The event as `actor` did it at `time`, ready to append.
    pub fn stamped(self, actor: Actor, time: SystemTime) -> NewEvent {
        NewEvent {
            time,
            actor,
            action: self.action,
            key_id: self.key_id,
            key_label: self.key_label,
            details: self.details,
        }
    }
}

/// An event to append: everything but the sequence number and the MACs.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// When it happened (injected, so tests control it).
    pub time: SystemTime,
    /// Which front end.
    pub actor: Actor,
    /// What happened.
    pub action: Action,
    /// The key concerned, if any (its id, as text).
    pub key_id: Option<String>,
    /// The key's label at the time, if any.
    pub key_label: Option<String>,
    /// Non-secret facts. See [`Details`].
    pub details: Details,
}

impl NewEvent {
    /// An event with no key and no details.
    pub fn new(actor: Actor, action: Action, time: SystemTime) -> Self {
        Event::new(action).stamped(actor, time)
    }

    /// Names the key concerned.
    pub fn with_key(mut self, id: impl Into<String>, label: impl Into<String>) -> Self {
        self.key_id = Some(id.into());
        self.key_label = Some(label.into());
        self
    }

    /// Sets the details.
    pub fn with_details(mut self, details: Details) -> Self {
        self.details = details;
        self
    }
}

/// An HMAC-SHA256 tag of the chain. Not secret (it is stored beside the
/// entry); shown as hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mac([u8; 32]);

impl Mac {
    /// The `prev_mac` of the first entry.
    pub const ZERO: Mac = Mac([0; 32]);

    /// The raw tag.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A tag from stored bytes, if there are exactly 32.
    pub fn from_slice(bytes: &[u8]) -> Option<Mac> {
        <[u8; 32]>::try_from(bytes).ok().map(Mac)
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        let mut out = String::with_capacity(64);
        for b in self.0 {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        out
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl From<[u8; 32]> for Mac {
    fn from(bytes: [u8; 32]) -> Self {
        Mac(bytes)
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mac({})", self.to_hex())
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Mac {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

/// One entry of the log, as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// Position in the chain, from 1, without gaps.
    pub seq: u64,
    /// Unix time in milliseconds.
    pub time_ms: i64,
    /// Which front end.
    pub actor: Actor,
    /// What happened.
    pub action: Action,
    /// The key concerned, if any.
    pub key_id: Option<String>,
    /// The key's label at the time, if any.
    pub key_label: Option<String>,
    /// The details exactly as stored and MAC'd (a JSON object's text);
    /// serialized as the object itself.
    #[serde(serialize_with = "details_as_object")]
    pub details: String,
    /// The previous entry's MAC ([`Mac::ZERO`] for the first).
    pub prev_mac: Mac,
    /// HMAC-SHA256 over `prev_mac` ‖ the canonical encoding of this entry.
    pub mac: Mac,
}

impl Entry {
    /// The chain head if this is the last entry.
    pub fn head(&self) -> ChainHead {
        ChainHead {
            seq: self.seq,
            mac: self.mac,
        }
    }

    /// The details parsed (an empty object if the stored text is not one).
    pub fn details_value(&self) -> Map<String, Value> {
        match serde_json::from_str::<Value>(&self.details) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }
}

fn details_as_object<S: Serializer>(details: &str, s: S) -> Result<S::Ok, S::Error> {
    match serde_json::from_str::<Value>(details) {
        Ok(value) => value.serialize(s),
        Err(_) => Value::Object(Map::new()).serialize(s),
    }
}

/// The end of the chain: the last sequence number and its MAC. The vault
/// seals it in its metadata after every append (same transaction) and
/// hands it back to [`verify_chain`], so dropping entries from the end is
/// detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ChainHead {
    /// The last entry's sequence number (0 for an empty log).
    pub seq: u64,
    /// The last entry's MAC ([`Mac::ZERO`] for an empty log).
    pub mac: Mac,
}

impl ChainHead {
    /// The head of an empty log.
    pub const GENESIS: ChainHead = ChainHead {
        seq: 0,
        mac: Mac::ZERO,
    };

    /// Length of [`ChainHead::to_bytes`].
    pub const ENCODED_LEN: usize = 40;

    /// Fixed-width bytes for sealing: seq (u64 big-endian) ‖ MAC.
    pub fn to_bytes(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0u8; Self::ENCODED_LEN];
        out[..8].copy_from_slice(&self.seq.to_be_bytes());
        out[8..].copy_from_slice(&self.mac.0);
        out
    }

    /// The inverse of [`ChainHead::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AuditError> {
        if bytes.len() != Self::ENCODED_LEN {
            return Err(AuditError::MalformedHead);
        }
        let (seq, mac) = bytes.split_at(8);
        let seq = <[u8; 8]>::try_from(seq).map_err(|_| AuditError::MalformedHead)?;
        let mac = Mac::from_slice(mac).ok_or(AuditError::MalformedHead)?;
        Ok(ChainHead {
            seq: u64::from_be_bytes(seq),
            mac,
        })
    }
}

/// Unix milliseconds (0 for a clock before 1970).
pub(crate) fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for action in Action::ALL {
            assert!(seen.insert(action.as_str()), "{action}");
            assert_eq!(Action::from_name(action.as_str()), Some(*action));
            let json = serde_json::to_string(action).unwrap();
            assert_eq!(json, format!("\"{}\"", action.as_str()));
            assert_eq!(serde_json::from_str::<Action>(&json).unwrap(), *action);
        }
        for actor in Actor::ALL {
            assert_eq!(Actor::from_name(actor.as_str()), Some(*actor));
        }
        assert_eq!(Action::from_name("nope"), None);
    }

    #[test]
    fn stored_names_are_pinned() {
        // These names are MAC'd into existing logs: changing one breaks them.
        let pinned = [
            (Action::Unlock, "unlock"),
            (Action::UnlockFailed, "unlock_failed"),
            (Action::Lock, "lock"),
            (Action::KeyAdded, "key_added"),
            (Action::KeyEdited, "key_edited"),
            (Action::SecretRevealed, "secret_revealed"),
            (Action::SecretCopied, "secret_copied"),
            (Action::Export, "export"),
            (Action::Import, "import"),
            (Action::KeyDeleted, "key_deleted"),
            (Action::MfaEnrolled, "mfa_enrolled"),
            (Action::MfaConfirmed, "mfa_confirmed"),
            (Action::MfaDisabled, "mfa_disabled"),
            (Action::StepUpFailed, "step_up_failed"),
            (Action::Verify, "verify"),
            (Action::SettingsChanged, "settings_changed"),
            (Action::PasswordChanged, "password_changed"),
            (Action::KeyRevoked, "key_revoked"),
            (Action::RevocationBaseline, "revocation_baseline"),
            (Action::ManagerKeyMarked, "manager_key_marked"),
            (Action::ManagerKeyUnmarked, "manager_key_unmarked"),
            (Action::InventoryTaken, "inventory_taken"),
            (Action::UnknownKeyRevoked, "unknown_key_revoked"),
            (Action::DeployTargetAdded, "deploy_target_added"),
            (Action::DeployTargetChanged, "deploy_target_changed"),
            (Action::KeyDeployed, "key_deployed"),
            (
                Action::RevokeForcedWhileDeployed,
                "revoke_forced_while_deployed",
            ),
        ];
        for (action, name) in pinned {
            assert_eq!(action.as_str(), name);
        }
        assert_eq!(Actor::Gui.as_str(), "gui");
        assert_eq!(Actor::Cli.as_str(), "cli");
    }

    #[test]
    fn details_must_be_a_small_object() {
        assert!(matches!(
            Details::from_value(Value::from(3)),
            Err(AuditError::DetailsNotObject)
        ));
        let big = Details::new().with("x", "y".repeat(MAX_DETAILS_LEN));
        assert!(matches!(
            big.to_stored_text(),
            Err(AuditError::DetailsTooLarge { .. })
        ));
        for name in ["secret", "api_secret", "Passphrase", "totp", "new_password"] {
            assert!(
                matches!(
                    Details::new().with(name, "x").to_stored_text(),
                    Err(AuditError::SecretLikeDetail { .. })
                ),
                "{name}"
            );
        }
        let nested = Details::new().with("changes", serde_json::json!([{ "seed": 1 }]));
        assert!(nested.to_stored_text().is_err());
        // Values may mention secrets by name (e.g. which fields changed).
        let fields = Details::new().with("fields", serde_json::json!(["secret", "passphrase"]));
        assert!(fields.to_stored_text().is_ok());
        let ok = Details::new().with("exchange", "binance").with("count", 3);
        assert_eq!(
            ok.to_stored_text().unwrap(),
            r#"{"count":3,"exchange":"binance"}"#
        );
    }

    #[test]
    fn head_bytes_round_trip() {
        let head = ChainHead {
            seq: 0x0102_0304_0506_0708,
            mac: Mac([0xab; 32]),
        };
        let bytes = head.to_bytes();
        assert_eq!(&bytes[..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(ChainHead::from_bytes(&bytes).unwrap(), head);
        assert!(matches!(
            ChainHead::from_bytes(&bytes[..39]),
            Err(AuditError::MalformedHead)
        ));
    }

    #[test]
    fn entry_serializes_details_as_object_and_macs_as_hex() {
        let entry = Entry {
            seq: 1,
            time_ms: 5,
            actor: Actor::Cli,
            action: Action::Unlock,
            key_id: None,
            key_label: None,
            details: r#"{"a":1}"#.into(),
            prev_mac: Mac::ZERO,
            mac: Mac([1; 32]),
        };
        let json = serde_json::to_value(&entry).unwrap();
        assert_eq!(json["details"]["a"], 1);
        assert_eq!(json["actor"], "cli");
        assert_eq!(json["action"], "unlock");
        assert_eq!(json["prev_mac"], "0".repeat(64));
        assert_eq!(json["mac"], "01".repeat(32));
    }
}
