//! The rotation wizard end to end against the simulator (Bybit: the old key
//! is deleted through the API, then shown to be rejected).

use keyward_tests::{App, Simulator};
use serde_json::json;

const PASSWORD: &str = "orbit-violet-harbor-candle-42";
const OLD_KEY: &str = "BYBITOLDKEY000001";
const OLD_SECRET: &str = "CANARYrotOldSecret4d8f2a9c1e7b";
const NEW_KEY: &str = "BYBITNEWKEY000002";
const NEW_SECRET: &str = "CANARYrotNewSecret7c3e9b1f5a2d";

#[test]
fn rotation_wizard_walks_to_done_against_the_simulator() {
    let sim = Simulator::start(json!({
        "rate_limits": false,
        "keys": [
            // Bybit lets a key delete itself only when it holds a
            // transfer or withdrawal permission.
            { "exchange": "bybit", "api_key": OLD_KEY, "secret": OLD_SECRET,
              "scopes": ["read", "trade", "transfer"], "ips": ["203.0.113.7"] },
            { "exchange": "bybit", "api_key": NEW_KEY, "secret": NEW_SECRET,
              "scopes": ["read", "trade"], "ips": ["203.0.113.7"] }
        ]
    }));

    let app = App::launch();
    app.create_vault(PASSWORD);
    app.add_key(json!({
        "label": "bybit-bot", "exchange": "bybit",
        "environment": { "kind": "custom", "base_url": sim.url("bybit") },
        "api_key_id": OLD_KEY, "secret": OLD_SECRET, "passphrase": null,
        "key_type": "hmac", "scopes": ["read", "trade"], "ip_whitelist": ["203.0.113.7"],
        "linked_services": ["grid bot on VPS"], "notes": "", "rotate_every_days": 30
    }));
    app.reload_to_keys();
    app.click("[data-testid=key-row][data-label=bybit-bot] button.link");

    app.click("[data-testid=rotation-begin]");
    app.fill("#rot-key", NEW_KEY);
    app.fill("#rot-secret", NEW_SECRET);
    app.click("[data-testid=rotation-save-key]");
    // Bybit does not report every scope (e.g. margin): without the audited
    // override the check refuses to guess.
    app.click("[data-testid=rotation-verify]");
    app.wait_for_text("[data-testid=rotation-verification]", "cannot be promoted");
    app.click("[data-testid=rotation-allow-unknown]");
    app.click("[data-testid=rotation-verify]");
    app.wait_for_text("[data-testid=rotation-verification]", "passed");
    app.assert_accessible("rotation-1-verified");

    app.click("[data-testid=rotation-promote]");
    app.wait_for("[data-testid=step-up]");
    app.fill("#stepup-code", PASSWORD);
    app.click("[data-testid=step-up-confirm]");
    app.wait_for_text("[data-testid=rotation]", "grid bot on VPS");
    app.assert_accessible("rotation-2-promoted");
    let detail = app.invoke("key_get", json!({ "label": "bybit-bot" }));
    assert_eq!(detail["ok"]["api_key_id"], NEW_KEY, "{detail}");

    app.click("[data-testid=rotation-revoke]");
    app.wait_for("[data-testid=step-up]");
    app.fill("#stepup-code", PASSWORD);
    app.click("[data-testid=step-up-confirm]");
    app.wait_for_text("[data-testid=revoke-outcome]", "revoked");
    if app.page_text().contains("Finish") {
        app.click("[data-testid=rotation-finish]");
    }
    app.wait_for("[data-testid=rotation-done]");
    app.assert_accessible("rotation-3-done");

    for needle in [OLD_SECRET, NEW_SECRET] {
        assert!(
            !app.page_html().contains(needle),
            "a secret reached the page"
        );
        assert!(
            !app.output.text().contains(needle),
            "a secret in the app's output"
        );
    }
    let log = app.invoke(
        "audit_log",
        json!({ "filter": { "key_label": "bybit-bot" } }),
    );
    let actions: Vec<String> = log["ok"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["action"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        actions.iter().any(|a| a.starts_with("rotation")),
        "{actions:?}"
    );
}
