//! Generates Tauri's context and one permission per Keyward command. Commands
//! are denied by default; `src-tauri/capabilities/` allows each one by name.

/// Every IPC command of the app. Adding a command means adding it here, to
/// `commands::handler()` and to the capability file.
const COMMANDS: &[&str] = &[
    "vault_status",
    "vault_create",
    "vault_unlock",
    "vault_unlock_device",
    "vault_lock",
    "password_assess",
    "settings_get",
    "settings_update",
    "keyring_status",
    "keyring_enable",
    "keyring_disable",
    "key_list",
    "key_search",
    "key_get",
    "key_add",
    "key_edit",
    "key_reveal",
    "key_copy",
    "key_delete",
    "key_check",
    "health_report",
    "key_narrow",
    "key_allow_run",
    "service_add",
    "service_update",
    "service_remove",
    "service_check",
    "mfa_status",
    "mfa_enroll",
    "mfa_confirm",
    "mfa_disable",
    "audit_log",
    "audit_verify",
    "scan_run",
    "scan_cancel",
    "scan_open_folder",
    "import_preview",
    "import_apply",
    "rotation_status",
    "rotation_begin",
    "rotation_new_key",
    "rotation_verify_new",
    "rotation_promote",
    "rotation_mark_service",
    "rotation_revoke_old_key",
    "rotation_finish",
    "rotation_cancel",
    "key_revoke",
    "exchange_revoke_all",
    "incident_playbooks",
    "incident_open",
    "incident_list",
    "incident_view",
    "incident_step_done",
    "incident_step_skip",
    "incident_note",
    "incident_close",
    "incident_run",
    "incident_report",
    "incident_export",
    "alerts_get",
    "alerts_set_webhook",
    "alerts_remove_webhook",
    "alerts_set_options",
    "alerts_test",
];

fn main() {
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .capabilities_path_pattern("./src-tauri/capabilities/**/*")
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri build script");
}
