//! The Keyward desktop shell: a Tauri 2 window over `keyward-core`.
//!
//! Owns: window setup, app state, the idle auto-lock timer, the background
//! alerts thread ([`alerts`]), and the IPC command adapters in [`commands`]. Must never: hold security policy (MFA,
//! validation, lockout live in the core), log command arguments, or hand a
//! secret to the webview outside the MFA-gated reveal command.
#![forbid(unsafe_code)]

pub mod alerts;
pub mod clipboard;
pub mod commands;
pub mod error;
pub mod state;
#[cfg(test)]
mod ts_types;

use std::time::Duration;

use tauri::{Emitter, Manager, Runtime};

use state::{AppState, SESSION_LOCKED_EVENT, lock_slot};

/// How often the idle timer looks at the session.
const IDLE_POLL: Duration = Duration::from_secs(2);

/// Builds and runs the app with the real runtime.
pub fn run() {
    run_app(tauri::Builder::default());
}

/// Runs the app on any runtime, so tests can boot it with a mock builder.
pub fn run_app<R: Runtime>(builder: tauri::Builder<R>) {
    builder
        .manage(AppState::from_env())
        // Notifications are sent from Rust only; the capability grants the
        // webview none of the plugin's commands.
        .plugin(tauri_plugin_notification::init())
        .setup(|app| {
            #[cfg(target_os = "linux")]
            software_rendering(app.handle());
            spawn_idle_lock(app.handle().clone());
            alerts::spawn(app.handle().clone());
            Ok(())
        })
        .invoke_handler(commands::handler())
        .build(tauri::generate_context!())
        .expect("error while building Keyward")
        .run(|app, event| {
            if let tauri::RunEvent::Exit = event {
                // Drop (and zeroize) the vault key and take back a copied
                // secret before the process ends.
                app.state::<AppState>().lock();
            }
        });
}

/// Turns off WebKitGTK's GPU compositing and WebGL for the main window.
///
/// The UI is a few forms and one virtualized table: software rendering
/// draws it without noticeable cost, while accelerated compositing keeps
/// GL tile buffers and the GPU driver (with a JIT shader compiler on
/// software GL) in the web content process. Measured with 1,000 keys
/// (`bench/desktop.sh`): total PSS 354 MiB with compositing, about 244 MiB
/// without. With WebGL off too, page content does not drive the GPU driver.
#[cfg(target_os = "linux")]
fn software_rendering<R: Runtime>(app: &tauri::AppHandle<R>) {
    use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
    let Some(window) = app.get_webview_window("main") else {
        return;
    };
    let _ = window.with_webview(|webview| {
        if let Some(settings) = WebViewExt::settings(&webview.inner()) {
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            settings.set_enable_webgl(false);
        }
    });
}

/// Locks the session once the core says the idle timeout has passed, even
/// if the webview makes no further call, so the key leaves memory on time.
fn spawn_idle_lock<R: Runtime>(app: tauri::AppHandle<R>) {
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(IDLE_POLL);
            let state = app.state::<AppState>();
            let expired = lock_slot(&state.session)
                .as_ref()
                .is_some_and(|s| s.is_idle_expired());
            if expired {
                state.lock();
                let _ = app.emit(SESSION_LOCKED_EVENT, "idle");
            }
        }
    });
}
