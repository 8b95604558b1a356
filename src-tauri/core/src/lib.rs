//! `keyward-core` holds every rule that matters in Keyward: the encrypted
//! vault, MFA step-up, the audit log, exchange clients, rotation, incidents,
//! the leak scanner and health findings.
//!
//! The desktop shell and the CLI are thin front ends over this crate. They
//! translate requests into calls here and results into DTOs; they hold no
//! policy. This crate has no Tauri or GUI dependency, by design: everything a
//! front end can do has been checked here first.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod alerts;
pub mod audit;
pub mod checks;
pub mod error;
pub mod exchange;
pub mod files;
#[doc(hidden)]
pub mod fuzzing;
pub mod health;
pub mod incident;
pub mod keys;
pub mod mfa;
pub mod model;
pub mod password;
pub mod paths;
pub mod rotation;
pub mod scan;
pub mod text;
pub mod vault;

pub use error::{ErrorKind, KindedError};
