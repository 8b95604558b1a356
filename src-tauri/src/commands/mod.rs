//! IPC command adapters: each one translates a request into one core call
//! and its result into a DTO. No policy lives here.

pub mod alerts;
pub mod backup;
pub mod brand;
pub mod deploy;
pub mod incident;
pub mod keys;
pub mod managed;
pub mod mfa;
pub mod recovery;
pub mod rotation;
pub mod rotation_auto;
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
        managed::manager_mark,
        managed::manager_unmark,
        managed::inventory,
        managed::inventory_revoke,
        managed::managed_exchanges,
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
        deploy::deploy_targets_of,
        deploy::deploy_key,
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
        rotation_auto::rotate_auto,
        rotation_auto::rotate_schedule,
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
    use std::collections::BTreeSet;
    use std::path::Path;

    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    fn read(path: &str) -> String {
        std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
    }

    /// The text between `start` and the next `end` in `text`.
    fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
        let from = text
            .find(start)
            .unwrap_or_else(|| panic!("{start:?} not found"))
            + start.len();
        let to = from
            + text[from..]
                .find(end)
                .unwrap_or_else(|| panic!("{end:?} not found"));
        &text[from..to]
    }

    /// A set, failing on a name listed twice.
    fn unique(what: &str, names: impl IntoIterator<Item = String>) -> BTreeSet<String> {
        let mut set = BTreeSet::new();
        for name in names {
            assert!(set.insert(name.clone()), "{what} lists {name} twice");
        }
        set
    }

    /// `COMMANDS` in `src-tauri/build.rs`.
    fn build_commands() -> BTreeSet<String> {
        let build = read("src-tauri/build.rs");
        let list = between(&build, "const COMMANDS: &[&str] = &[", "];");
        unique(
            "build.rs",
            list.split('"').skip(1).step_by(2).map(str::to_owned),
        )
    }

    /// The handlers registered in `generate_handler!` above.
    fn handler_commands() -> BTreeSet<String> {
        let source = read("src-tauri/src/commands/mod.rs");
        let list = between(&source, "tauri::generate_handler![", "]");
        unique(
            "generate_handler!",
            list.split(',')
                .map(str::trim)
                .filter(|path| !path.is_empty())
                .map(|path| path.rsplit("::").next().unwrap_or(path).to_owned()),
        )
    }

    /// The commands named by the `allow-…` permissions of the capability.
    fn capability_commands() -> BTreeSet<String> {
        let cap: serde_json::Value =
            serde_json::from_str(&read("src-tauri/capabilities/default.json")).unwrap();
        unique(
            "the capability",
            cap["permissions"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|p| p.as_str())
                .filter_map(|p| p.strip_prefix("allow-"))
                .map(|p| p.replace('-', "_")),
        )
    }

    /// The permission files the build script generated (it ran before this
    /// test was compiled).
    fn permission_files() -> BTreeSet<String> {
        let dir = root().join("permissions/autogenerated");
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}"));
        entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    /// The first argument of every `call('…')` / `invoke('…')` in the UI's
    /// API modules (tests excluded).
    fn ui_commands() -> BTreeSet<String> {
        let dir = root().join("ui/src/lib/api");
        let mut names = BTreeSet::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.ends_with(".ts") || name.ends_with(".test.ts") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for function in ["call", "invoke"] {
                names.extend(string_arguments(&text, function));
            }
        }
        names
    }

    /// String literals passed first to `function` or `function<T>`.
    fn string_arguments(text: &str, function: &str) -> Vec<String> {
        let mut found = Vec::new();
        let mut rest = text;
        while let Some(at) = rest.find(function) {
            let before = rest[..at].chars().next_back();
            rest = &rest[at + function.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                continue;
            }
            let mut args = rest;
            if let Some(generic) = args.strip_prefix('<') {
                // Skip the type argument, nested `<…>` included.
                let mut depth = 1;
                let Some(end) = generic.char_indices().find_map(|(i, c)| {
                    match c {
                        '<' => depth += 1,
                        '>' => depth -= 1,
                        _ => {}
                    }
                    (depth == 0).then_some(i)
                }) else {
                    continue;
                };
                args = &generic[end + 1..];
            }
            let Some(args) = args.strip_prefix('(') else {
                continue;
            };
            let args = args.trim_start();
            if let Some(quoted) = args.strip_prefix('\'')
                && let Some(end) = quoted.find('\'')
            {
                found.push(quoted[..end].to_owned());
            }
        }
        found
    }

    /// One list of commands, five places: the handlers registered above,
    /// `COMMANDS` in `build.rs` (which generates the permissions), the
    /// generated permission files (stale ones are removed by `build.rs`),
    /// the capability's allow-list, and the commands the UI calls. A
    /// command missing from any of them is either unreachable or
    /// unguarded.
    #[test]
    fn command_lists_agree() {
        let commands = build_commands();
        assert!(commands.len() > 50, "COMMANDS parsed: {commands:?}");
        assert_eq!(
            handler_commands(),
            commands,
            "generate_handler! vs build.rs"
        );
        assert_eq!(capability_commands(), commands, "capability vs build.rs");
        assert_eq!(permission_files(), commands, "permission files vs build.rs");
        assert_eq!(ui_commands(), commands, "ui/src/lib/api vs build.rs");
    }

    #[test]
    fn ui_command_names_are_read_from_calls() {
        let text = "call<A<B>>('one', { x });\ncall('two');\ninvoke<T>(\n  'three')\nrecall('no');";
        let mut found = string_arguments(text, "call");
        found.extend(string_arguments(text, "invoke"));
        assert_eq!(found, ["one", "two", "three"]);
    }
}
