//! Live checks from the GUI against the strict local exchange simulator:
//! "Check all" in the list, "Check now" with declared-versus-live
//! permissions on a key's page, and the stored last check.

use keyward_tests::{App, Simulator};
use serde_json::json;

const PASSWORD: &str = "orbit-violet-harbor-candle-42";
const BINANCE_KEY: &str = "SIMbinanceKEY000000000000000000000000000000000000000000000000001";
const BINANCE_SECRET: &str = "CANARYcheckSecretBinance7Q2w9ZpL";
const OKX_KEY: &str = "3b4f3c2e-8d1a-4f6b-9c0d-5e7a1b2c3d4e";
const OKX_SECRET: &str = "CANARYcheckSecretOkx5T8r1MnB";
const OKX_PASSPHRASE: &str = "CANARYcheckPassphraseOkx";

#[test]
fn check_all_and_check_now_against_the_simulator() {
    let sim = Simulator::start(json!({
        "rate_limits": false,
        "keys": [
            { "exchange": "binance", "api_key": BINANCE_KEY, "secret": BINANCE_SECRET,
              "scopes": ["read", "trade", "withdraw"], "ips": [] },
            { "exchange": "okx", "api_key": OKX_KEY, "secret": OKX_SECRET,
              "passphrase": OKX_PASSPHRASE, "scopes": ["read"], "ips": ["203.0.113.7"] }
        ]
    }));
    let app = App::launch();
    app.create_vault(PASSWORD);
    app.add_key(json!({
        "label": "binance-bot", "exchange": "binance",
        "environment": { "kind": "custom", "base_url": sim.url("binance") },
        "api_key_id": BINANCE_KEY, "secret": BINANCE_SECRET, "scopes": ["read", "trade"]
    }));
    app.add_key(json!({
        "label": "okx-reader", "exchange": "okx",
        "environment": { "kind": "custom", "base_url": sim.url("okx") },
        "api_key_id": OKX_KEY, "secret": OKX_SECRET, "passphrase": OKX_PASSPHRASE
    }));
    app.reload_to_keys();

    app.click("[data-testid=check-all]");
    app.wait_for_text("[data-testid=check-summary]", "2 checked");
    let binance_row = app.text_of("[data-testid=key-row][data-label=binance-bot]");
    assert!(
        binance_row.contains("critical"),
        "undeclared withdraw is critical: {binance_row}"
    );
    let okx_row = app.text_of("[data-testid=key-row][data-label=okx-reader]");
    assert!(okx_row.contains("ok"), "{okx_row}");
    // Exchanges by their brand, not their id.
    assert!(okx_row.contains("OKX"), "{okx_row}");
    assert!(binance_row.contains("Binance"), "{binance_row}");
    // The health panel scores the vault from the stored checks.
    let health = app.wait_for_text("[data-testid=health]", "binance-bot");
    assert!(health.contains("critical"), "{health}");
    let score: u32 = app
        .text_of("[data-testid=health-score]")
        .trim_end_matches("/100")
        .trim()
        .parse()
        .expect("a score");
    assert!(score < 100, "findings must cost points: {score}");
    app.assert_accessible("checks-1-list");

    app.click("[data-testid=key-row][data-label=binance-bot] button.link");
    app.click("[data-testid=check-now]");
    let result = app.text_of("[data-testid=check-result]");
    assert!(result.contains("granted, not declared"), "{result}");
    let findings = app.text_of("[data-testid=findings]");
    assert!(findings.contains("critical"), "{findings}");
    assert!(app.text_of("[data-testid=last-check]").contains("critical"));
    assert!(
        app.page_text().contains("Revoke everything on Binance"),
        "the revoke panel names the exchange by its brand"
    );
    app.assert_accessible("checks-2-detail");

    for needle in [BINANCE_SECRET, OKX_SECRET, OKX_PASSPHRASE] {
        assert!(!app.page_html().contains(needle), "secret reached the page");
        assert!(
            !app.output.text().contains(needle),
            "secret in the app's output"
        );
    }
    let log = app.invoke("audit_log", json!({ "filter": { "action": "verify" } }));
    assert!(log["ok"].as_array().is_some_and(|e| e.len() >= 3), "{log}");
}

#[test]
fn narrowing_a_bybit_key_needs_step_up_and_is_verified_afterwards() {
    const KEY: &str = "BYBITNARROW00001";
    const SECRET: &str = "CANARYnarrowSecret1b2c3d4e5f";
    let sim = Simulator::start(json!({
        "rate_limits": false,
        "keys": [{ "exchange": "bybit", "api_key": KEY, "secret": SECRET,
                   "scopes": ["read", "trade", "withdraw"], "ips": [] }]
    }));
    let app = App::launch();
    app.create_vault(PASSWORD);
    app.add_key(json!({
        "label": "bybit-bot", "exchange": "bybit",
        "environment": { "kind": "custom", "base_url": sim.url("bybit") },
        "api_key_id": KEY, "secret": SECRET, "scopes": ["read", "trade"]
    }));
    app.reload_to_keys();

    // Straight through IPC without proof: refused by the core, nothing sent.
    let refused = app.invoke(
        "key_narrow",
        json!({ "label": "bybit-bot", "proof": null,
                "narrowing": { "remove_withdraw": true, "read_only": false, "ips": null } }),
    );
    assert_eq!(refused["err"]["kind"], "mfa", "{refused}");

    app.click("[data-testid=key-row][data-label=bybit-bot] button.link");
    app.click("[data-testid=check-now]");
    assert!(
        app.text_of("[data-testid=check-result]")
            .contains("granted, not declared")
    );
    app.click("[data-testid=narrow-drop][data-permission='Wallet.Withdraw']");
    app.wait_for("[data-testid=step-up]");
    app.fill("#stepup-code", PASSWORD);
    app.click("[data-testid=step-up-confirm]");
    // The fresh check after narrowing: withdraw is gone at the exchange.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let result = app.text_of("[data-testid=check-result]");
        if !result.contains("granted, not declared") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "withdraw still granted: {result}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // Said next to the buttons, and the restriction now in place is no
    // longer offered.
    app.wait_for_text(
        "[data-testid=narrow-note]",
        "Wallet · Withdrawal is dropped",
    );
    assert_eq!(
        app.execute(
            "return !!document.querySelector(\"[data-testid=narrow-drop][data-permission='Wallet.Withdraw']\")",
            json!([])
        ),
        json!(false),
        "Withdrawal is still offered after it was removed"
    );
    // It was the key's last permission that lets it change itself: Bybit
    // takes no more changes from it, so none are offered.
    app.wait_for_text("[data-testid=narrow-nothing]", "exchange's website");
    app.assert_accessible("checks-3-narrowed");
    let log = app.invoke(
        "audit_log",
        json!({ "filter": { "action": "key_narrowed" } }),
    );
    assert_eq!(log["ok"].as_array().map(Vec::len), Some(1), "{log}");
    assert!(!app.page_html().contains(SECRET));
}

/// One permission of many is dropped from the key's page: the control for
/// it comes from the core's live check, the exchange (the simulator's
/// query-api, read straight from the test) then holds every permission it
/// held before except that one, the success is said next to the controls,
/// and the dropped permission is no longer offered.
#[test]
fn dropping_one_permission_from_the_key_page() {
    const KEY: &str = "BYBITDROP0000001";
    const SECRET: &str = "CANARYdropSecret9f8e7d6c5b";
    let sim = Simulator::start(json!({
        "rate_limits": false,
        "keys": [{ "exchange": "bybit", "api_key": KEY, "secret": SECRET, "ips": [],
                   "bybit_permissions": {
                       "Spot": ["SpotTrade"],
                       "Wallet": ["AccountTransfer", "SubMemberTransfer", "Withdraw"],
                       "Earn": ["Earn"] } }]
    }));
    let at_exchange = || -> serde_json::Value {
        use keyward_core::exchange::{Credentials, ExchangeClient, HttpConfig};
        use keyward_core::model::{Environment, Exchange};
        let client = ExchangeClient::new(HttpConfig::default()).unwrap();
        let env = Environment::Custom(sim.url("bybit"));
        let ep = client.endpoint(Exchange::Bybit, &env).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let report = rt
            .block_on(ep.verify(&Credentials::hmac(KEY, SECRET)))
            .unwrap();
        report.raw["permissions"].clone()
    };
    let before = at_exchange();
    let app = App::launch();
    app.create_vault(PASSWORD);
    app.add_key(json!({
        "label": "bybit-saver", "exchange": "bybit",
        "environment": { "kind": "custom", "base_url": sim.url("bybit") },
        "api_key_id": KEY, "secret": SECRET, "scopes": ["read", "trade"]
    }));
    app.reload_to_keys();
    app.click("[data-testid=key-row][data-label=bybit-saver] button.link");
    // Before a live check there is nothing to offer but the check.
    app.click("[data-testid=narrow-list]");
    let transfer = "[data-testid=narrow-drop][data-permission='Wallet.AccountTransfer']";
    app.wait_for(transfer);
    let offered = app.text_of("[data-testid=narrow]");
    for label in [
        "Drop Spot · Trade",
        "Drop Wallet · Account transfer",
        "Drop Wallet · Sub-account transfer",
        "Drop Wallet · Withdrawal",
        "Drop Earn · Earn",
    ] {
        assert!(offered.contains(label), "{label} not offered: {offered}");
    }
    app.click(transfer);
    app.wait_for("[data-testid=step-up]");
    app.fill("#stepup-code", PASSWORD);
    app.click("[data-testid=step-up-confirm]");
    app.wait_for_text(
        "[data-testid=narrow-note]",
        "Wallet · Account transfer is dropped",
    );
    assert_eq!(
        app.execute(
            &format!("return !!document.querySelector(\"{transfer}\")"),
            json!([])
        ),
        json!(false),
        "the dropped permission is still offered"
    );
    let still = app.text_of("[data-testid=narrow]");
    assert!(
        still.contains("Drop Wallet · Sub-account transfer"),
        "{still}"
    );
    // At the exchange: exactly that one permission is gone.
    let mut expected = before.clone();
    expected["Wallet"] = json!(["SubMemberTransfer", "Withdraw"]);
    assert_eq!(at_exchange(), expected);
    app.assert_accessible("checks-4-dropped-one");
    let log = app.invoke(
        "audit_log",
        json!({ "filter": { "action": "key_narrowed" } }),
    );
    assert!(
        log.to_string().contains("Wallet.AccountTransfer"),
        "the audit names the dropped permission: {log}"
    );
    assert!(!app.page_html().contains(SECRET));
    assert!(!app.output.text().contains(SECRET));
}
