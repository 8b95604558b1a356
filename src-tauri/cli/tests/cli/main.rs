//! End-to-end tests of the `keyward` binary against real vault files.
//!
//! Modules:
//! - `commands`: every command, its output and its exit code (DESIGN §6).
//! - `canary`: planted secrets never reach any file, stdout or stderr.
//! - `tamper`: damaged or foreign files give clear errors and exit codes.
//! - `crash`: SIGKILL during adds never loses an acknowledged key.
//! - `keyring`: OS-keyring unlock against a real Secret Service, and the
//!   fallback when none is reachable.

mod support;

mod canary;
mod commands;
mod crash;
mod keyring;
mod tamper;
