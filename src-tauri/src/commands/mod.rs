//! IPC command adapters: each one translates a request into one core call
//! and its result into a DTO. No policy lives here.

pub mod vault;

/// The one visible list of commands the webview may invoke. Keep in sync
/// with `COMMANDS` in `src-tauri/build.rs` and the capability file.
pub fn handler<R: tauri::Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static
{
    tauri::generate_handler![vault::vault_status]
}
