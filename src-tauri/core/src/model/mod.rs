//! The vocabulary every other module speaks: which exchange, which key type,
//! which scopes, which endpoint, which lifecycle status; the key records
//! front ends send and receive; linked services; and the rules a record
//! must satisfy.
//!
//! **Owns:** [`Exchange`] (with [`Exchange::has_adapter`], whether a live
//! adapter exists), [`KeyType`], [`Scope`], [`KeyStatus`], [`Environment`],
//! each with its one wire name (the same in the vault's SQLite text, the
//! audit log, JSON outputs, CLI flags and IPC DTOs); the key records
//! ([`NewKey`], [`KeyEdit`], [`KeySummary`], [`KeyDetail`]) and the key's
//! own secrets ([`ApiSecret`], [`Passphrase`]); linked services
//! ([`service`]); key validation ([`validate`]).
//!
//! **Must never:** store, seal or send anything (no SQLite, no network, no
//! file I/O: that is `vault` and `exchange`), hold policy (MFA, rotation,
//! incidents), define a second spelling of a name it owns, or put a secret
//! in a type that derives `Serialize`. Every module may import `model`;
//! `model` imports no feature. Its one outside call is
//! [`crate::exchange::sign`]'s secret parsers, which [`validate`] asks
//! whether a secret is a key of the declared type (pure parsing, no I/O).

mod names;
mod record;
pub(crate) mod secret;
pub mod service;
pub mod validate;

pub use names::{CheckStatus, Environment, Exchange, KeyStatus, KeyType, Scope};
pub use record::{
    KeyDetail, KeyEdit, KeySummary, NewKey, custom_host, mask_key_id, official_hosts,
};
pub use secret::{ApiSecret, Passphrase};
pub use service::{
    ChecklistEntry, ChecklistItem, LinkedService, MAX_SERVICE_NAME_CHARS, MAX_SERVICE_NOTES_CHARS,
    MAX_SERVICES_PER_KEY, NewService, ServiceKind, ServiceUpdate, VendorChecklist, keep_by_name,
};
pub use validate::ValidationError;
