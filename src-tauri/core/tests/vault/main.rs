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

mod support;

mod golden;
mod header;
mod keyring;
mod lifecycle;
mod policy;
