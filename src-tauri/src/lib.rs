//! The Keyward desktop shell: a Tauri 2 window over `keyward-core`.
//!
//! Owns: window setup, app state, and the IPC command adapters in
//! [`commands`]. Must never: hold security policy (MFA, validation, lockout
//! live in the core), log command arguments, or hand a secret to the webview
//! outside the MFA-gated reveal command.
#![forbid(unsafe_code)]

pub mod commands;
pub mod error;
pub mod state;

use tauri::Runtime;

/// Builds and runs the app with the real runtime.
pub fn run() {
    run_app(tauri::Builder::default());
}

/// Runs the app on any runtime, so tests can boot it with a mock builder.
pub fn run_app<R: Runtime>(builder: tauri::Builder<R>) {
    builder
        .manage(state::AppState::from_env())
        .invoke_handler(commands::handler())
        .run(tauri::generate_context!())
        .expect("error while running Keyward");
}
