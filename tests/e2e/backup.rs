//! Settings: encrypted backup export (password step-up) and import into a
//! fresh vault with its merge report; the master-password change; feedback
//! next to the control that was used, in view below the sticky navigation.

use keyward_tests::{App, files_containing};
use serde_json::json;

const PASSWORD: &str = "orbit-violet-harbor-candle-42";
const NEW_PASSWORD: &str = "lantern-quartz-meadow-otter-77";
const BACKUP_PASSPHRASE: &str = "backup-pass-sierra-tundra-19";
const SECRET_A: &str = "CANARYbackupA7xv9LmN2pR4tW8yZ1aB3cD5eF6gH7jK9mN0pQ2rS4tU6vW8xY";
const SECRET_B: &str = "CANARYbackupB7xv9LmN2pR4tW8yZ1aB3cD5eF6gH7jK9mN0pQ2rS4tU6vW8xY";
const API_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";

fn key(label: &str, secret: &str) -> serde_json::Value {
    json!({ "label": label, "exchange": "binance", "api_key_id": API_KEY, "secret": secret })
}

/// Whether the element matching `css` lies wholly inside the window and
/// below the navigation bar, and the navigation bar is at the top (only the
/// part below it scrolls).
fn in_view_below_nav(app: &App, css: &str) -> bool {
    app.execute(
        "const el = document.querySelector(arguments[0]);
         const nav = document.querySelector('header.top').getBoundingClientRect();
         const r = el.getBoundingClientRect();
         return nav.top === 0 && r.top >= nav.bottom && r.bottom <= window.innerHeight;",
        json!([css]),
    ) == json!(true)
}

/// Brings a button to the middle of the window, then clicks it.
fn click_centered(app: &App, css: &str) {
    app.execute(
        "document.querySelector(arguments[0]).scrollIntoView({ block: 'center' }); return true",
        json!([css]),
    );
    app.click(css);
}

fn scroll_to_top(app: &App) {
    app.execute(
        "document.querySelector('.scroller').scrollTo(0, 0); return true",
        json!([]),
    );
}

fn step_up_with_password(app: &App, password: &str) {
    app.wait_for("[data-testid=step-up]");
    app.fill("#stepup-code", password);
    app.click("[data-testid=step-up-confirm]");
}

#[test]
fn backup_export_then_import_into_a_fresh_vault_reports_the_merge() {
    let out_dir = tempfile::tempdir().expect("temp dir");
    let file = out_dir.path().join("keys.kwbackup");
    let file_str = file.display().to_string();

    // Export from a vault with two keys.
    let app = App::launch();
    app.create_vault(PASSWORD);
    app.add_key(key("alpha", SECRET_A));
    app.add_key(key("beta", SECRET_B));
    app.reload_to_keys();
    app.click("[data-testid=nav-settings]");
    app.wait_for("[data-testid=backup-section]");
    let default_path = app.execute(
        "return document.querySelector('#export-path').value",
        json!([]),
    );
    let backups = app.data_dir.path().join("backups");
    assert!(
        default_path.as_str().is_some_and(
            |p| p.starts_with(&backups.display().to_string()) && p.ends_with(".kwbackup")
        ),
        "default export path: {default_path}"
    );
    // Straight through IPC without proof: refused by the core, no file.
    let refused = app.invoke(
        "backup_export",
        json!({ "path": &file_str, "passphrase": BACKUP_PASSPHRASE, "overwrite": false, "proof": null }),
    );
    assert_eq!(refused["err"]["kind"], "mfa", "{refused}");
    assert!(!file.exists());
    // The recovery-code commands take nothing but recovery codes.
    let odd = app.invoke(
        "recovery_codes_save",
        json!({ "codes": ["#!/bin/sh\nrm -rf ~"], "path": out_dir.path().join("x.sh").display().to_string() }),
    );
    assert_eq!(odd["err"]["kind"], "invalid", "{odd}");
    assert!(!out_dir.path().join("x.sh").exists());

    app.fill("#export-path", &file_str);
    app.fill("#export-pass", BACKUP_PASSPHRASE);
    app.fill("#export-pass2", BACKUP_PASSPHRASE);
    scroll_to_top(&app);
    click_centered(&app, "[data-testid=export-backup]");
    step_up_with_password(&app, PASSWORD);
    app.wait_for_text("[data-testid=export-note]", "Exported 2 key(s)");
    assert!(in_view_below_nav(&app, "[data-testid=export-note]"));
    app.screenshot("backup-exported");
    assert!(file.is_file(), "no backup file at {file_str}");
    for secret in [SECRET_A, SECRET_B, BACKUP_PASSPHRASE] {
        assert!(
            files_containing(out_dir.path(), secret.as_bytes()).is_empty(),
            "a secret in plain text in the backup"
        );
    }

    // The same path again: refused next to the button, before any code.
    app.fill("#export-pass", BACKUP_PASSPHRASE);
    app.fill("#export-pass2", BACKUP_PASSPHRASE);
    scroll_to_top(&app);
    click_centered(&app, "[data-testid=export-backup]");
    app.wait_for_text(
        "[data-testid=backup-section] [data-testid=error]",
        "already exists",
    );
    assert!(in_view_below_nav(
        &app,
        "[data-testid=backup-section] [data-testid=error]"
    ));
    assert_eq!(
        app.execute(
            "return !!document.querySelector('[data-testid=step-up]')",
            json!([])
        ),
        json!(false),
        "a refused destination must not ask for a code"
    );
    drop(app);

    // Import into a fresh vault that already has its own "alpha".
    let app = App::launch();
    app.create_vault(PASSWORD);
    app.add_key(key("alpha", SECRET_B));
    app.reload_to_keys();
    app.click("[data-testid=nav-settings]");
    app.wait_for("[data-testid=backup-section]");
    app.fill("#import-path", &file_str);
    app.fill("#import-pass", "not-the-passphrase");
    click_centered(&app, "[data-testid=import-backup]");
    app.wait_for_text(
        "[data-testid=backup-section] [data-testid=error]",
        "passphrase",
    );
    assert!(in_view_below_nav(
        &app,
        "[data-testid=backup-section] [data-testid=error]"
    ));

    app.fill("#import-pass", BACKUP_PASSPHRASE);
    click_centered(&app, "[data-testid=import-backup]");
    let report = app.wait_for_text("[data-testid=import-report]", "1 added");
    assert!(report.contains("0 replaced"), "{report}");
    assert!(report.contains("1 kept"), "{report}");
    assert!(report.contains("beta"), "{report}");
    assert!(report.contains("alpha"), "{report}");
    assert!(in_view_below_nav(&app, "[data-testid=import-report]"));
    app.assert_accessible("backup-import-report");
    assert!(!app.page_html().contains(BACKUP_PASSPHRASE));

    // Replacing asks for the step-up first, then reports what it replaced.
    app.click("[data-testid=import-replace]");
    app.fill("#import-pass", BACKUP_PASSPHRASE);
    click_centered(&app, "[data-testid=import-backup]");
    step_up_with_password(&app, PASSWORD);
    let report = app.wait_for_text("[data-testid=import-report]", "2 replaced");
    assert!(report.contains("0 added"), "{report}");

    let labels = app.invoke("key_list", json!({}));
    let text = labels.to_string();
    assert!(
        text.contains("\"beta\"") && text.contains("\"alpha\""),
        "{text}"
    );
}

#[test]
fn master_password_change_in_settings_then_unlock_with_the_new_one() {
    let app = App::launch();
    app.create_vault(PASSWORD);
    app.add_key(key("alpha", SECRET_A));
    app.reload_to_keys();
    app.click("[data-testid=nav-settings]");
    app.wait_for("[data-testid=password-section]");

    // "Remember on this device" says what it did, next to its button.
    click_centered(&app, "[data-testid=keyring-toggle]");
    step_up_with_password(&app, PASSWORD);
    app.wait_for_text(
        "[data-testid=keyring-note]",
        "opens the vault from the system keyring",
    );
    assert!(in_view_below_nav(&app, "[data-testid=keyring-note]"));
    app.wait_for_text("[data-testid=keyring-toggle]", "Forget this device");

    // Two different new passwords: said next to the button, no code asked.
    app.fill("#pw-current", PASSWORD);
    app.fill("#pw-new", NEW_PASSWORD);
    app.fill("#pw-new2", "something-else-entirely-55");
    scroll_to_top(&app);
    click_centered(&app, "[data-testid=password-change]");
    app.wait_for_text(
        "[data-testid=password-section] [data-testid=error]",
        "differ",
    );
    assert!(in_view_below_nav(
        &app,
        "[data-testid=password-section] [data-testid=error]"
    ));

    app.fill("#pw-new2", NEW_PASSWORD);
    click_centered(&app, "[data-testid=password-change]");
    step_up_with_password(&app, PASSWORD);
    app.wait_for_text("[data-testid=password-note]", "new vault key");
    // The change turned OS-keyring unlock off, and the page says so.
    app.wait_for_text("[data-testid=keyring-toggle]", "Remember on this device");
    app.screenshot("password-changed");
    assert!(!app.page_html().contains(NEW_PASSWORD));

    app.click("[data-testid=lock]");
    app.wait_for_text("h1", "Unlock");
    app.fill("#pw", PASSWORD);
    app.click("[data-testid=unlock]");
    app.wait_for("[data-testid=error]");
    app.fill("#pw", NEW_PASSWORD);
    app.click("[data-testid=unlock]");
    app.wait_for("[data-testid=key-row]");
}

#[test]
fn key_form_error_is_next_to_the_button_and_the_secret_is_masked() {
    let app = App::launch();
    app.create_vault(PASSWORD);
    app.execute("location.reload(); return true", json!([]));
    app.click("[data-testid=add-key]");
    app.wait_for_text("h1", "Add a key");
    // The secret is masked until shown.
    app.fill("#secret", SECRET_A);
    let masking = |app: &App| {
        app.execute(
            "return getComputedStyle(document.querySelector('#secret')).webkitTextSecurity",
            json!([]),
        )
    };
    assert_eq!(masking(&app), json!("disc"));
    app.click("[data-testid=secret-toggle]");
    assert_eq!(masking(&app), json!("none"));
    app.click("[data-testid=secret-toggle]");
    assert_eq!(masking(&app), json!("disc"));

    // No label, no key id: the error appears by the "Add key" button, in view.
    app.click("[data-testid=save-key]");
    app.wait_for("[data-testid=error]");
    assert!(in_view_below_nav(&app, "[data-testid=error]"));
    let gap = app.execute(
        "const e = document.querySelector('[data-testid=error]').getBoundingClientRect();
         const b = document.querySelector('[data-testid=save-key]').getBoundingClientRect();
         return b.top - e.bottom;",
        json!([]),
    );
    assert!(
        gap.as_f64().is_some_and(|g| (0.0..60.0).contains(&g)),
        "error not right above the button: gap {gap}"
    );
    app.assert_accessible("key-form-error");
}

#[test]
fn without_a_system_keyring_settings_says_so_and_spends_no_code() {
    let dir = tempfile::tempdir().expect("temp data dir");
    let app = App::launch_with(
        dir,
        &[(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/keyward-test-bus",
        )],
    );
    app.create_vault(PASSWORD);
    app.add_key(key("alpha", SECRET_A));
    app.reload_to_keys();
    app.click("[data-testid=nav-settings]");
    let why = app.wait_for_text("[data-testid=keyring-unavailable]", "Not available");
    assert!(
        why.len() > "Not available: ".len(),
        "no reason given: {why}"
    );
    assert!(
        app.execute(
            "return document.querySelector('[data-testid=keyring-toggle]') === null",
            json!([])
        ) == json!(true),
        "the keyring option is still offered"
    );
    app.execute(
        "document.querySelector('[data-testid=keyring-unavailable]').scrollIntoView({ block: 'center' }); return true",
        json!([]),
    );
    app.screenshot("settings-keyring-unavailable");
    // Straight through IPC, with no proof: the keyring is named, not the
    // missing step-up (which would have asked for a code first).
    let refused = app.invoke("keyring_enable", json!({}));
    let message = refused["err"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("keyring is not available"), "{refused}");
    assert_ne!(refused["err"]["kind"], "mfa", "{refused}");
}
