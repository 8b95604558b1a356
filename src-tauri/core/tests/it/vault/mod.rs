//! Integration tests of `keyward_core::vault` on real SQLite files.
//!
//! Modules:
//! - `lifecycle`: create, unlock, add, list, search, edit, settings, password
//!   and KDF changes, lock.
//! - `policy`: failed-unlock throttling (persisted) and idle auto-lock, with an
//!   injected clock.
//! - `header`: tampered headers and excessive KDF costs, through the public API.
//! - `golden`: the committed format-version-1 vault and backup still open.
//! - `keyring`: OS-keyring unlock against a real Secret Service.
//! - `stepup`: every gated action against missing, wrong, replayed and
//!   throttled proofs; recovery codes; counters across reopening.
//! - `window`: the session's step-up window on the injected clock: a second
//!   action without a proof, expiry, the actions it never covers, closing
//!   on lock, a failed proof and an MFA change.
//! - `services`: linked services and their vendor checklist: validation,
//!   one audit entry per change, search, backups, the locked vault.
//! - `tamper`: attacks on the file and on an unlocked vault: credential
//!   edits without a step-up, key rows edited in SQLite (row MACs), a
//!   replacing import.
//! - `rollback`: single rows put back from an older copy of the file (MFA
//!   record, recovery codes, settings, audit head) are detected; events
//!   written into `audit_pending` carry no authority.
//! - `audit`: every write recorded; modified, deleted, reordered and
//!   truncated entries reported at unlock; the canary never in the log.
//! - `files`: 0700 data directory, 0600 vault/WAL/SHM, backups never through
//!   a link or over a file unless asked, findings reported until a gated
//!   acknowledgement, labels with bidi overrides refused.

mod support;

mod audit;
mod files;
mod golden;
mod header;
mod keyring;
mod lifecycle;
mod policy;
mod rollback;
mod services;
mod stepup;
mod tamper;
mod window;
