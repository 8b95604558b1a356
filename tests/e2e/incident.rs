//! "I think something is wrong": a leaked Bybit key handled through the
//! guided checklist against the simulator, then the report.

use keyward_tests::{App, Simulator};
use serde_json::json;

const PASSWORD: &str = "orbit-violet-harbor-candle-42";
const KEY: &str = "BYBITLEAKED00001";
const SECRET: &str = "CANARYincidentSecret9f8e7d6c5b4a";

#[test]
fn leaked_key_checklist_runs_the_automated_steps_and_exports_a_report() {
    // An order an hour ago: inside the 72-hour snapshot, which asks the
    // exchange for a window ending now.
    let an_hour_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
        - 3_600_000;
    let sim = Simulator::start(json!({
        "rate_limits": false,
        "keys": [{
            "exchange": "bybit", "api_key": KEY, "secret": SECRET,
            "scopes": ["read", "trade", "transfer"], "ips": [],
            "activity": [{ "kind": "order", "id": "x-77", "time_ms": an_hour_ago,
                           "symbol": "BTCUSDT", "side": "sell", "amount": "2", "price": "1" }]
        }]
    }));

    let app = App::launch();
    app.create_vault(PASSWORD);
    app.add_key(json!({
        "label": "bybit-bot", "exchange": "bybit",
        "environment": { "kind": "custom", "base_url": sim.url("bybit") },
        "api_key_id": KEY, "secret": SECRET, "passphrase": null, "key_type": "hmac",
        "scopes": ["read", "trade"], "ip_whitelist": [], "linked_services": [],
        "notes": "", "rotate_every_days": null
    }));
    app.execute("location.reload(); return true", json!([]));

    app.click("[data-testid=nav-incident]");
    app.click("[data-testid=situation-leaked]");
    app.click("[data-testid=affected-bybit-bot]");
    app.click("[data-testid=incident-open]");
    app.wait_for("[data-testid=incident-progress]");
    // The affected key and the exchange's own steps name it by its brand.
    let page = app.page_text();
    assert!(page.contains("bybit-bot (Bybit, BYBI"), "{page}");
    assert!(page.contains("Bybit:"), "{page}");
    app.assert_accessible("incident-1-checklist");

    // Evidence first, while the key can still read its history.
    app.click("[data-testid=run-snapshot]");
    app.wait_for_text("[data-testid=step-snapshot] .badge", "DONE");
    // Revoke needs step-up (the master password before MFA is enrolled).
    app.click("[data-testid=run-revoke]");
    app.wait_for("[data-testid=step-up]");
    app.fill("#stepup-code", PASSWORD);
    app.click("[data-testid=step-up-confirm]");
    app.wait_for_text("[data-testid=step-revoke] .badge", "DONE");
    app.click("[data-testid=run-confirm_dead]");
    app.wait_for_text("[data-testid=step-confirm_dead] .badge", "DONE");

    // Closing is refused while steps are open.
    app.click("[data-testid=incident-close]");
    app.wait_for("[data-testid=error]");
    for step in [
        "review_activity",
        "change_password",
        "check_2fa",
        "review_services",
    ] {
        app.click(&format!("[data-testid=done-{step}]"));
        app.wait_for_text(&format!("[data-testid=step-{step}] .badge"), "DONE");
    }
    app.click("[data-testid=run-mark_rotation]");
    app.wait_for_text("[data-testid=step-mark_rotation] .badge", "DONE");
    // Without a manager key the inventory step needs no code: it says how
    // to mark one, here in the app.
    app.click("[data-testid=run-inventory]");
    app.wait_for_text("[data-testid=step-inventory] .badge", "DONE");
    assert!(
        app.text_of("[data-testid=step-inventory]")
            .contains("on the key's page in the desktop app"),
        "{}",
        app.text_of("[data-testid=step-inventory]")
    );
    app.assert_accessible("incident-2-steps-done");
    app.click("[data-testid=incident-close]");
    app.wait_for("[data-testid=incident-closed]");

    app.click("[data-testid=incident-preview]");
    let report = app.text_of("[data-testid=incident-report]");
    assert!(
        report.contains("x-77"),
        "the activity snapshot is in the report:\n{report}"
    );
    assert!(!report.contains(KEY), "the report shows the full key id");
    app.click("[data-testid=incident-export]");
    let saved = app.text_of("[data-testid=incident-exported]");
    app.assert_accessible("incident-3-report");
    let html_path = saved
        .split(' ')
        .find(|w| w.ends_with(".html"))
        .expect("an HTML report path");
    let html = std::fs::read_to_string(html_path).expect("report written");
    assert!(html.contains("x-77"));
    for bad in [SECRET, KEY, "<script", "<link", "src=\"http"] {
        assert!(!html.contains(bad), "the HTML report contains {bad:?}");
    }
    assert!(!app.page_html().contains(SECRET));
    assert!(!app.output.text().contains(SECRET));
}

#[test]
fn the_entry_point_is_on_the_unlock_screen_too() {
    let app = App::launch();
    app.create_vault(PASSWORD);
    app.execute("location.reload(); return true", json!([]));
    app.click("[data-testid=lock]");
    app.wait_for_text("h1", "Unlock");
    app.click("[data-testid=unlock-incident]");
    app.fill("#pw", PASSWORD);
    app.click("[data-testid=unlock]");
    app.wait_for_text("h1", "Incident response");
}
