//! The vault through the GUI: create → add → list → lock → unlock → edit,
//! with a canary secret that must never reach the page or the logs.

use keyward_tests::{App, files_containing};
use serde_json::json;

const PASSWORD: &str = "orbit-violet-harbor-candle-42";
const CANARY_SECRET: &str = "CANARYsecretQ7xv9LmN2pR4tW8yZ1aB3cD5eF6gH7jK9mN0pQ2rS4tU6vW8xYz";
const API_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";

fn create_vault(app: &App) {
    app.wait_for_text("h1", "Create your vault");
    app.fill("#pw", "password");
    app.wait_for_text("[data-testid=strength]", "guessable");
    app.fill("#pw", PASSWORD);
    app.fill("#pw2", PASSWORD);
    app.wait_for_text("[data-testid=strength]", "strong");
    app.click("[data-testid=create]");
    app.wait_for("[data-testid=empty]");
}

fn add_key(app: &App, label: &str) {
    app.click("[data-testid=add-key]");
    app.wait_for_text("h1", "Add a key");
    app.fill("#label", label);
    app.fill("#api-key-id", API_KEY);
    app.fill("#secret", CANARY_SECRET);
    app.click("[data-scope=trade]");
    app.fill("#ips", "203.0.113.7");
    app.fill("#services", "grid bot on VPS");
    app.click("[data-testid=save-key]");
    app.wait_for_text("[data-testid=key-detail] h1", label);
}

fn assert_no_canary(app: &App, context: &str) {
    let html = app.page_html();
    assert!(
        !html.contains(CANARY_SECRET),
        "canary secret in the DOM ({context})"
    );
    assert!(
        !html.contains(PASSWORD),
        "master password in the DOM ({context})"
    );
}

#[test]
fn create_add_list_lock_unlock_edit() {
    let app = App::launch();
    create_vault(&app);
    app.screenshot("vault-1-empty");

    add_key(&app, "binance-main");
    assert_no_canary(&app, "after add");
    app.screenshot("vault-2-detail");

    app.click("[data-testid=back]");
    let row = app.text_of("[data-testid=key-row][data-label=binance-main]");
    assert!(row.contains("binance"), "{row}");
    assert!(row.contains("trade"), "{row}");
    assert!(row.contains("Restricted"), "{row}");
    assert!(
        !row.contains(API_KEY),
        "list must mask the API key id: {row}"
    );
    app.screenshot("vault-3-list");

    app.click("[data-testid=lock]");
    app.wait_for_text("h1", "Unlock");
    // Locked: the core refuses key calls, whatever the UI does.
    let refused = app.invoke("key_list", json!({}));
    assert_eq!(refused["err"]["kind"], "locked", "{refused}");

    app.fill("#pw", "wrong password entirely");
    app.click("[data-testid=unlock]");
    let err = app.wait_for_text("[data-testid=error]", "password");
    assert!(
        !err.contains("wrong password entirely"),
        "error echoes the password: {err}"
    );
    app.screenshot("vault-4-wrong-password");

    app.fill("#pw", PASSWORD);
    app.click("[data-testid=unlock]");
    app.wait_for("[data-testid=key-row][data-label=binance-main]");

    app.click("[data-testid=key-row] button.link");
    app.click("[data-testid=edit-key]");
    app.fill("#ips", "203.0.113.7, 198.51.100.0/24");
    app.click("[data-testid=save-key]");
    app.wait_for_text("[data-testid=ip-whitelist]", "198.51.100.0/24");
    app.screenshot("vault-5-edited");
    assert_no_canary(&app, "after edit");

    // Invalid input gets a specific error and changes nothing.
    app.click("[data-testid=edit-key]");
    app.fill("#ips", "not-an-ip");
    app.click("[data-testid=save-key]");
    app.wait_for("[data-testid=error]");
    let detail = app.invoke("key_get", json!({ "label": "binance-main" }));
    assert_eq!(
        detail["ok"]["ip_whitelist"],
        json!(["203.0.113.7", "198.51.100.0/24"]),
        "{detail}"
    );

    // Redirecting the key straight through IPC, without a proof, is refused
    // by the core and changes nothing.
    let refused = app.invoke(
        "key_edit",
        json!({ "label": "binance-main", "edit": {
            "environment": { "kind": "custom", "base_url": "http://127.0.0.1:9" } } }),
    );
    assert_eq!(refused["err"]["kind"], "mfa", "{refused}");
    let detail = app.invoke("key_get", json!({ "label": "binance-main" }));
    assert_eq!(detail["ok"]["environment"]["kind"], "mainnet", "{detail}");
    // Through the form, a new endpoint asks for the step-up first; the key
    // page then says its requests leave the exchange's own hosts.
    app.click("[data-testid=cancel-edit]");
    app.click("[data-testid=edit-key]");
    app.click("#env option[value=custom]");
    app.fill("#base-url", "http://127.0.0.1:9/binance");
    app.click("[data-testid=save-key]");
    app.wait_for("[data-testid=step-up]");
    app.fill("#stepup-code", PASSWORD);
    app.click("[data-testid=step-up-confirm]");
    let host = app.wait_for_text("[data-testid=custom-host]", "127.0.0.1:9");
    assert!(host.contains("not one of Binance"), "{host}");
    app.screenshot("vault-6-custom-host");

    // Nothing the IPC returns carries the secret.
    for (cmd, args) in [
        ("key_list", json!({})),
        ("key_get", json!({ "label": "binance-main" })),
        ("key_search", json!({ "query": "binance" })),
        ("vault_status", json!({})),
    ] {
        let out = app.invoke(cmd, args).to_string();
        assert!(!out.contains(CANARY_SECRET), "{cmd} leaked the secret");
    }

    // The vault directory and the app's output never hold the secret in
    // plaintext.
    for (what, needle) in [("secret", CANARY_SECRET), ("master password", PASSWORD)] {
        let found = files_containing(app.data_dir.path(), needle.as_bytes());
        assert!(found.is_empty(), "plaintext {what} in {found:?}");
    }
    let output = app.output.text();
    assert!(
        !output.contains(CANARY_SECRET),
        "secret in the app's output"
    );
    assert!(!output.contains(PASSWORD), "password in the app's output");
}

#[test]
fn weak_master_password_is_refused_by_the_core() {
    let app = App::launch();
    app.wait_for_text("h1", "Create your vault");
    // Straight through IPC, skipping the UI's strength meter.
    let out = app.invoke("vault_create", json!({ "password": "password1" }));
    assert_eq!(out["err"]["kind"], "invalid", "{out}");
    assert!(!app.data_dir.path().join("vault.keyward").exists());
}
