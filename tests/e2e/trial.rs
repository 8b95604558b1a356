//! The README's trial path in the GUI: the simulator's sample accounts
//! (`src-tauri/sim/accounts.sample.json`, as the README starts it) typed
//! into the add-key form as a first-time user would, then checked live.
//! The sample key ids have the real exchanges' shapes, so the form's
//! id-shape check accepts them with no exemption.

use keyward_tests::{App, Simulator, workspace_root};
use serde_json::Value;

const PASSWORD: &str = "orbit-violet-harbor-candle-42";

fn sample(accounts: &Value, exchange: &str) -> Value {
    accounts["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["exchange"] == exchange && k.get("public_key").is_none())
        .unwrap_or_else(|| panic!("no {exchange} HMAC key in the sample accounts"))
        .clone()
}

fn add_through_the_form(app: &App, sim: &Simulator, label: &str, key: &Value) {
    let exchange = key["exchange"].as_str().unwrap();
    app.click("[data-testid=add-key]");
    app.wait_for_text("h1", "Add a key");
    app.fill("#label", label);
    app.click(&format!("#exchange option[value={exchange}]"));
    app.click("#env option[value=custom]");
    app.fill("#base-url", &sim.url(exchange));
    app.fill("#api-key-id", key["api_key"].as_str().unwrap());
    app.fill("#secret", key["secret"].as_str().unwrap());
    if let Some(passphrase) = key["passphrase"].as_str() {
        app.fill("#passphrase", passphrase);
    }
    app.click("[data-testid=save-key]");
    app.wait_for_text("[data-testid=key-detail] h1", label);
}

#[test]
fn sample_accounts_are_added_through_the_form_and_check_live() {
    let path = workspace_root().join("src-tauri/sim/accounts.sample.json");
    let accounts: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("sample accounts")).unwrap();
    let sim = Simulator::start(accounts.clone());
    let app = App::launch();
    app.create_vault(PASSWORD);
    app.execute("location.reload(); return true", serde_json::json!([]));
    app.wait_for("[data-testid=empty]");

    for (label, exchange) in [("binance-demo", "binance"), ("okx-demo", "okx")] {
        let key = sample(&accounts, exchange);
        add_through_the_form(&app, &sim, label, &key);
        app.click("[data-testid=check-now]");
        app.wait_for("[data-testid=check-result]");
        let status = app.execute(
            "return document.querySelector('[data-testid=check-result]').dataset.status",
            serde_json::json!([]),
        );
        assert!(
            matches!(status.as_str(), Some("ok" | "warning" | "critical")),
            "{label}: the sample key did not authenticate ({status}): {}",
            app.text_of("[data-testid=check-result]")
        );
        app.screenshot(&format!("trial-{exchange}-checked"));
        assert!(
            !app.page_html().contains(key["secret"].as_str().unwrap()),
            "{label}: the secret reached the page"
        );
        app.click("[data-testid=back]");
    }
}
