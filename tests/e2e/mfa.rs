//! MFA through the GUI and straight through IPC: enrolment, step-up for
//! reveal, copy and delete, replay refusal, the audit-log view, and the
//! clipboard being taken back.

use std::time::{Duration, Instant};

use keyward_tests::{App, files_containing};
use serde_json::{Value, json};

const PASSWORD: &str = "orbit-violet-harbor-candle-42";
const CANARY_SECRET: &str = "CANARYmfaQ7xv9LmN2pR4tW8yZ1aB3cD5eF6gH7jK9mN0pQ2rS4tU6vW8xYz01";
const API_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";

/// Creates a vault and adds one key straight through IPC (the GUI forms
/// are covered by the vault tests).
fn vault_with_key(app: &App) {
    app.create_vault(PASSWORD);
    app.add_key(json!({
        "label": "binance-main", "exchange": "binance", "api_key_id": API_KEY,
        "secret": CANARY_SECRET, "scopes": ["read", "trade"]
    }));
    app.reload_to_keys();
}

fn assert_mfa_error(out: &Value, context: &str) {
    assert_eq!(out["err"]["kind"], "mfa", "{context}: {out}");
    assert!(
        !out.to_string().contains(CANARY_SECRET),
        "{context} leaked the secret"
    );
}

#[test]
fn enrol_then_reveal_with_a_code_and_refuse_direct_ipc_without_one() {
    let app = App::launch();
    vault_with_key(&app);
    assert!(
        app.text_of("[data-testid=mfa-banner]")
            .contains("Two-factor")
    );

    // Enrol through the wizard: the master password is the step-up proof
    // until MFA exists.
    app.click("[data-testid=nav-settings]");
    app.click("[data-testid=mfa-setup]");
    app.wait_for("[data-testid=step-up]");
    app.fill("#stepup-code", PASSWORD);
    app.click("[data-testid=step-up-confirm]");
    let secret = app.text_of("[data-testid=mfa-secret]");
    app.assert_accessible("mfa-1-enrol");
    // Kept for the replay below: replaying the very code the core accepted
    // is refused whenever it happens (as a replay within the ±1 step
    // window, as a stale code after it), while a code recomputed later
    // could belong to a new, unused step.
    let enrol_code = app.totp_code(&secret, 0);
    app.fill("#mfa-code", &enrol_code);
    app.click("[data-testid=mfa-confirm]");
    app.wait_for("[data-testid=recovery-codes]");
    let shown = app.execute(
        "return document.querySelectorAll('[data-testid=recovery-codes] li').length",
        json!([]),
    );
    assert_eq!(shown, json!(10), "ten recovery codes are shown once");
    app.assert_accessible("mfa-2-recovery-codes");
    // Saved to a file the user names: every code shown, mode 0600, and
    // never over an existing file.
    let codes_dir = tempfile::tempdir().expect("temp dir");
    let codes_file = codes_dir.path().join("codes.txt");
    app.fill("#codes-path", &codes_file.display().to_string());
    app.click("[data-testid=codes-save-file]");
    app.wait_for_text("[data-testid=codes-note]", "Saved to");
    let saved = std::fs::read_to_string(&codes_file).expect("codes file");
    let on_page = app.execute(
        "return [...document.querySelectorAll('[data-testid=recovery-codes] li')].map(li => li.textContent.trim())",
        json!([]),
    );
    let on_page = on_page.as_array().expect("codes");
    assert_eq!(on_page.len(), 10);
    for code in on_page {
        let code = code.as_str().expect("code");
        assert!(
            saved.lines().any(|l| l == code),
            "{code} missing from the saved file"
        );
    }
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&codes_file)
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    app.click("[data-testid=codes-save-file]");
    app.wait_for_text(
        "[data-testid=recovery-codes] [data-testid=error]",
        "already exists",
    );
    app.screenshot("mfa-2b-recovery-codes-saved");
    app.click("[data-testid=codes-saved]");
    app.wait_for_text("[data-testid=mfa-state]", "On.");
    assert!(
        app.page_text()
            .find("Two-factor authentication is off")
            .is_none()
    );

    // Straight through IPC, skipping the UI: no code, a replayed code, the
    // master password (no longer accepted) — all refused, nothing changes.
    for (what, proof) in [
        ("no proof", Value::Null),
        (
            "replayed code",
            json!({ "kind": "totp", "code": enrol_code }),
        ),
        ("wrong code", json!({ "kind": "totp", "code": "000000" })),
        (
            "master password",
            json!({ "kind": "password", "password": PASSWORD }),
        ),
    ] {
        let reveal = app.invoke(
            "key_reveal",
            json!({ "label": "binance-main", "proof": proof }),
        );
        assert_mfa_error(&reveal, &format!("key_reveal with {what}"));
        let delete = app.invoke(
            "key_delete",
            json!({ "label": "binance-main", "proof": proof }),
        );
        assert_mfa_error(&delete, &format!("key_delete with {what}"));
    }
    let still_there = app.invoke("key_get", json!({ "label": "binance-main" }));
    assert_eq!(still_there["ok"]["label"], "binance-main", "{still_there}");

    // Reveal through the GUI with a fresh code.
    app.click("[data-testid=nav-settings]");
    app.click("nav button.tab"); // Keys
    app.click("[data-testid=key-row] button.link");
    assert!(!app.page_html().contains(CANARY_SECRET));
    app.click("[data-testid=reveal-secret]");
    app.wait_for("[data-testid=step-up]");
    app.fill("#stepup-code", &app.totp_code(&secret, 1));
    app.click("[data-testid=step-up-confirm]");
    let shown = app.text_of("[data-testid=revealed-secret]");
    assert_eq!(shown, CANARY_SECRET);
    app.assert_accessible("mfa-3-revealed");
    app.click("[data-testid=revealed-secret] + button"); // Hide
    app.wait_for("[data-testid=reveal-secret]");
    assert!(
        !app.page_html().contains(CANARY_SECRET),
        "secret left in the DOM after hiding"
    );

    // The activity page tells what happened in sentences (not stored event
    // names or JSON), and the chain verifies.
    app.click("[data-testid=nav-activity]");
    let table = app.text_of("[data-testid=audit-table]");
    for sentence in [
        "Added key binance-main (Binance)",
        "Turned MFA on",
        "Revealed the secret of binance-main (TOTP)",
        "Step-up failed: wrong code (revealing a secret)",
    ] {
        assert!(
            table.contains(sentence),
            "{sentence:?} missing from the activity view:\n{table}"
        );
    }
    for raw in ['_', '{', '"'] {
        assert!(
            !table.contains(raw),
            "{raw:?} in the activity view:\n{table}"
        );
    }
    assert!(!table.contains(CANARY_SECRET));
    app.screenshot("mfa-4-activity-all");
    // The filter offers categories in words, not event names.
    let options = app.text_of("[data-testid=audit-category]");
    assert!(options.contains("Secrets revealed or used"), "{options}");
    app.execute(
        "const s = document.querySelector('[data-testid=audit-category]'); \
         s.value = 'secrets'; s.dispatchEvent(new Event('change')); \
         s.form.requestSubmit(); return true",
        json!([]),
    );
    keyward_tests::wait_until(
        || {
            let rows = app.text_of("[data-testid=audit-table]");
            !rows.contains("Turned MFA on")
        },
        "the activity filter to apply",
    );
    let secrets = app.text_of("[data-testid=audit-table]");
    assert!(
        secrets.contains("Revealed the secret of binance-main (TOTP)"),
        "{secrets}"
    );
    assert!(!secrets.contains("Added key"), "{secrets}");
    app.screenshot("mfa-4-activity-filtered");
    app.click("[data-testid=audit-verify]");
    app.wait_for_text("[data-testid=audit-verification]", "Intact");
    app.assert_accessible("mfa-4-activity");

    let output = app.output.text();
    assert!(
        !output.contains(CANARY_SECRET),
        "secret in the app's output"
    );
    assert!(!output.contains(&secret), "TOTP seed in the app's output");

    // The secret was in the page and the TOTP seed on screen: once the app
    // has closed normally, neither is in any file it or WebKit left behind
    // (vault, WAL, WebKit caches and storage under the same directory).
    let data_dir = app.quit();
    for (what, needle) in [
        ("secret", CANARY_SECRET),
        ("TOTP seed", secret.as_str()),
        ("master password", PASSWORD),
    ] {
        let found = files_containing(data_dir.path(), needle.as_bytes());
        assert!(found.is_empty(), "plaintext {what} in {found:?}");
    }
    assert!(
        data_dir.path().join("xdg").exists(),
        "WebKit's directories were not under the data directory"
    );
}

fn read_clipboard() -> Option<String> {
    arboard::Clipboard::new().ok()?.get_text().ok()
}

#[test]
fn copy_puts_the_secret_on_the_clipboard_and_takes_it_back() {
    let app = App::launch();
    vault_with_key(&app);
    // Before MFA is enrolled, step-up takes the master password.
    let settings = app.invoke("settings_get", json!({}))["ok"].clone();
    let mut fast = settings.clone();
    fast["clipboard_clear_seconds"] = json!(5);
    let refused = app.invoke(
        "settings_update",
        json!({ "settings": fast, "proof": null }),
    );
    assert_mfa_error(&refused, "settings_update without proof");
    let saved = app.invoke(
        "settings_update",
        json!({ "settings": fast, "proof": { "kind": "password", "password": PASSWORD } }),
    );
    assert_eq!(saved["ok"]["clipboard_clear_seconds"], 5, "{saved}");

    app.click("[data-testid=key-row] button.link");
    app.click("[data-testid=copy-secret]");
    app.wait_for("[data-testid=step-up]");
    app.fill("#stepup-code", PASSWORD);
    app.click("[data-testid=step-up-confirm]");
    app.wait_for_text("[data-testid=copy-secret]", "Copied");
    // The webview never held the secret for the copy.
    assert!(!app.page_html().contains(CANARY_SECRET));
    assert_eq!(read_clipboard().as_deref(), Some(CANARY_SECRET));
    app.assert_accessible("mfa-5-copied");

    let deadline = Instant::now() + Duration::from_secs(20);
    while read_clipboard().as_deref() == Some(CANARY_SECRET) {
        assert!(Instant::now() < deadline, "clipboard never cleared");
        std::thread::sleep(Duration::from_millis(250));
    }
}
