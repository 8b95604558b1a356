//! IPC command adapters: each one translates a request into one core call
//! and its result into a DTO. No policy lives here.

pub mod alerts;
pub mod backup;
pub mod brand;
pub mod incident;
pub mod keys;
pub mod mfa;
pub mod recovery;
pub mod rotation;
pub mod scan;
pub mod services;
pub mod stepup;
pub mod vault;

/// The one visible list of commands the webview may invoke. Keep in sync
/// with `COMMANDS` in `src-tauri/build.rs` and the capability file.
pub fn handler<R: tauri::Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static
{
    tauri::generate_handler![
        vault::vault_status,
        vault::vault_create,
        vault::vault_unlock,
        vault::vault_unlock_device,
        vault::vault_lock,
        vault::password_assess,
        vault::settings_get,
        vault::settings_update,
        vault::keyring_status,
        vault::keyring_enable,
        vault::keyring_disable,
        backup::backup_dir,
        backup::backup_export,
        backup::backup_import,
        backup::password_change,
        keys::key_list,
        keys::key_search,
        keys::key_get,
        keys::key_add,
        keys::key_edit,
        keys::key_reveal,
        keys::key_copy,
        keys::key_delete,
        keys::key_check,
        keys::health_report,
        keys::key_narrow,
        mfa::mfa_status,
        mfa::mfa_enroll,
        mfa::mfa_confirm,
        mfa::mfa_disable,
        recovery::recovery_codes_copy,
        recovery::recovery_codes_save,
        mfa::audit_log,
        mfa::audit_categories,
        mfa::audit_verify,
        scan::scan_run,
        scan::scan_cancel,
        scan::scan_open_folder,
        scan::import_preview,
        scan::import_apply,
        keys::key_allow_run,
        services::service_add,
        services::service_update,
        services::service_remove,
        services::service_check,
        rotation::rotation_status,
        rotation::rotation_begin,
        rotation::rotation_new_key,
        rotation::rotation_verify_new,
        rotation::rotation_promote,
        rotation::rotation_mark_service,
        rotation::rotation_revoke_old_key,
        rotation::rotation_finish,
        rotation::rotation_cancel,
        rotation::key_revoke,
        rotation::exchange_revoke_all,
        incident::incident_playbooks,
        incident::incident_open,
        incident::incident_list,
        incident::incident_view,
        incident::incident_step_done,
        incident::incident_step_skip,
        incident::incident_note,
        incident::incident_close,
        incident::incident_run,
        incident::incident_report,
        incident::incident_export,
        alerts::alerts_get,
        alerts::alerts_set_webhook,
        alerts::alerts_remove_webhook,
        alerts::alerts_set_options,
        alerts::alerts_test,
    ]
}

#[cfg(test)]
mod tests {
    /// The command list in `build.rs` (which generates the permissions) and
    /// the capability that allows them must name the same commands.
    #[test]
    fn capability_allows_exactly_the_listed_commands() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let build = std::fs::read_to_string(root.join("src-tauri/build.rs")).unwrap();
        let start = build.find("const COMMANDS").unwrap();
        let end = start + build[start..].find("];").unwrap();
        let mut listed: Vec<String> = build[start..end]
            .split('"')
            .skip(1)
            .step_by(2)
            .map(|c| format!("allow-{}", c.replace('_', "-")))
            .collect();
        let cap: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(root.join("src-tauri/capabilities/default.json")).unwrap(),
        )
        .unwrap();
        let mut allowed: Vec<String> = cap["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p.as_str())
            .filter(|p| p.starts_with("allow-"))
            .map(str::to_owned)
            .collect();
        listed.sort();
        allowed.sort();
        assert_eq!(listed, allowed);
    }
}
