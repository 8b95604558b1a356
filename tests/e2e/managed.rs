//! Managed keys in the app against the simulator (Bybit, a master account
//! with one sub-account): a sub-account key is refused as manager key with
//! the reasons, the master key is marked; the Accounts screen lists the
//! account and flags a key planted on the sub-account, which is deleted
//! from the screen (and gone on the simulator); "Rotate automatically"
//! replaces the sub-account key (the old one is dead on the simulator);
//! the schedule is turned on and off; the manager key is unmarked. No
//! secret and no full id of the planted key reaches the page or the app's
//! output. A Binance listing, which cannot be complete, is explained and
//! calls no vault key missing. An automated rotation stopped after its new
//! key was stored is cancelled from the wizard with the code: the key
//! Keyward created is deleted (gone on the simulator), the old one stays.

use keyward_core::exchange::{Credentials, Endpoint, ExchangeClient, HttpConfig};
use keyward_core::model::{Environment, Exchange};
use keyward_tests::{App, Simulator};
use serde_json::json;

const PASSWORD: &str = "orbit-violet-harbor-candle-42";
const MASTER: &str = "BYBITMASTERGUI01";
const MASTER_SECRET: &str = "CANARYmanagedMasterSecret5e1c";
const SUB: &str = "BYBITSUBGUIOLD01";
const SUB_SECRET: &str = "CANARYmanagedSubSecret8b2f4d";
const ROGUE: &str = "BYBITROGUEGUI777";
const ROGUE_SECRET: &str = "CANARYmanagedRogueSecret3a9c";
const SUB_UID: &str = "100400345";
const IP_M: &str = "203.0.113.9";
const IP_A: &str = "192.0.2.10";

/// The simulator as a third party sees it: the exchange layer's own calls.
struct SimSide {
    runtime: tokio::runtime::Runtime,
    endpoint: Endpoint,
}

impl SimSide {
    fn new(sim: &Simulator) -> SimSide {
        let client = ExchangeClient::new(HttpConfig::default()).expect("client");
        let endpoint = client
            .endpoint(Exchange::Bybit, &Environment::Custom(sim.url("bybit")))
            .expect("endpoint");
        SimSide {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            endpoint,
        }
    }

    /// Whether the key still authenticates.
    fn works(&self, id: &str, secret: &str) -> bool {
        self.runtime
            .block_on(self.endpoint.verify(&Credentials::hmac(id, secret)))
            .expect("verify")
            .authenticated
    }

    /// The full ids of every key on the account, as the master key lists them.
    fn key_ids(&self) -> Vec<String> {
        self.runtime
            .block_on(
                self.endpoint
                    .inventory(&Credentials::hmac(MASTER, MASTER_SECRET)),
            )
            .expect("inventory")
            .keys
            .into_iter()
            .map(|k| k.key_id)
            .collect()
    }
}

fn step_up(app: &App) {
    app.wait_for("[data-testid=step-up]");
    app.fill("#stepup-code", PASSWORD);
    app.click("[data-testid=step-up-confirm]");
}

fn open_key(app: &App, label: &str) {
    app.click("nav button.tab"); // Keys
    app.click(&format!(
        "[data-testid=key-row][data-label={label}] button.link"
    ));
    app.wait_for_text("[data-testid=key-detail] h1", label);
}

/// Brings `css` into the middle of the window (for the screenshot).
fn show(app: &App, css: &str) {
    app.wait_for(css);
    app.execute(
        "document.querySelector(arguments[0]).scrollIntoView({ block: 'center' }); return true",
        json!([css]),
    );
}

/// The window itself never scrolls (only the content under the navigation
/// does), in either direction: nothing on the screen is wider or taller
/// than the window allows.
fn fits_the_window(app: &App) {
    let sizes = app.execute(
        "const d = document.scrollingElement;
         const s = document.querySelector('.scroller');
         return [d.scrollWidth, d.clientWidth, d.scrollHeight, d.clientHeight,
                 s.scrollWidth, s.clientWidth];",
        json!([]),
    );
    let n = |i: usize| sizes[i].as_i64().unwrap_or_default();
    assert!(
        n(0) <= n(1) && n(2) <= n(3) && n(4) <= n(5),
        "the page overflows: {sizes}"
    );
}

fn no_secret_in_sight(app: &App) {
    let html = app.page_html();
    let output = app.output.text();
    for needle in [MASTER_SECRET, SUB_SECRET, ROGUE_SECRET, ROGUE] {
        assert!(!html.contains(needle), "{needle} reached the page");
        assert!(!output.contains(needle), "{needle} in the app's output");
    }
}

#[test]
fn manager_key_inventory_revoke_and_automatic_rotation_from_the_app() {
    let sub_key = |id: &str, secret: &str| {
        json!({ "exchange": "bybit", "api_key": id, "secret": secret,
                "scopes": ["read", "trade"], "ips": [IP_A],
                "parent_uid": "24617703", "sub_account": SUB_UID })
    };
    let sim = Simulator::start(json!({
        "rate_limits": false,
        "keys": [
            { "exchange": "bybit", "api_key": MASTER, "secret": MASTER_SECRET,
              "scopes": ["read", "transfer"], "ips": [IP_M] },
            sub_key(SUB, SUB_SECRET),
            // Made by someone else: on the account, not in the vault.
            sub_key(ROGUE, ROGUE_SECRET),
        ],
        "sub_accounts": [{ "exchange": "bybit", "id": SUB_UID, "label": "bots" }]
    }));
    let exchange = SimSide::new(&sim);
    assert!(exchange.works(ROGUE, ROGUE_SECRET));

    let app = App::launch();
    app.create_vault(PASSWORD);
    let env = json!({ "kind": "custom", "base_url": sim.url("bybit") });
    app.add_key(json!({
        "label": "bybit-master", "exchange": "bybit", "environment": env,
        "api_key_id": MASTER, "secret": MASTER_SECRET,
        "scopes": ["read", "transfer"], "ip_whitelist": [IP_M]
    }));
    app.add_key(json!({
        "label": "bybit-bot", "exchange": "bybit", "environment": env,
        "api_key_id": SUB, "secret": SUB_SECRET,
        "scopes": ["read", "trade"], "ip_whitelist": [IP_A]
    }));
    app.reload_to_keys();

    // No manager key yet: the screen says how to mark one in the app.
    app.click("[data-testid=nav-accounts]");
    let text = app.text_of("[data-testid=no-manager]");
    assert!(text.contains("Mark as manager key"), "{text}");
    assert!(!text.contains("keyward manager"), "{text}");
    app.assert_accessible("managed-1-accounts-no-manager");

    // A sub-account key is refused, with the reasons; automatic rotation
    // is offered disabled, with why.
    open_key(&app, "bybit-bot");
    app.wait_for_text("[data-testid=auto-rotate-blocked]", "No Bybit manager key");
    app.click("[data-testid=manager-mark]");
    step_up(&app);
    let refused = app.text_of("[data-testid=manager-refused]");
    assert!(refused.contains("sub-account"), "{refused}");
    assert!(
        refused.contains("What a Bybit manager key needs"),
        "{refused}"
    );
    show(&app, "[data-testid=manager-refused]");
    app.assert_accessible("managed-2-manager-refused");

    // The master key is taken.
    open_key(&app, "bybit-master");
    app.click("[data-testid=manager-mark]");
    step_up(&app);
    app.wait_for_text(
        "[data-testid=manager-notice]",
        "is now the Bybit account's manager key",
    );
    app.wait_for("[data-testid=manager-unmark]");
    show(&app, "[data-testid=manager-key]");
    app.assert_accessible("managed-3-manager-marked");

    // The inventory flags the planted key, masked.
    app.click("[data-testid=nav-accounts]");
    app.wait_for_text("[data-testid=account-manager]", "bybit-master");
    app.click("[data-testid=inventory-run]");
    step_up(&app);
    app.wait_for_text("[data-testid=inventory-summary]", "1 unknown key");
    let rogue_row = "[data-testid=inventory-row][data-status=unknown]";
    let row = app.text_of(rogue_row);
    assert!(row.contains("BYBI"), "{row}");
    assert!(row.contains(SUB_UID), "{row}");
    assert!(
        !row.contains(ROGUE),
        "the full id of an unknown key is shown"
    );
    let known = app.execute(
        "return document.querySelectorAll('[data-testid=inventory-row][data-status=known]').length",
        json!([]),
    );
    assert_eq!(known, json!(2), "{}", app.page_text());
    no_secret_in_sight(&app);
    fits_the_window(&app);
    show(&app, "[data-testid=inventory-table]");
    app.assert_accessible("managed-4-inventory");

    // Deleting it asks first, naming the key and the sub-account.
    app.click(&format!("{rogue_row} [data-testid=inventory-revoke]"));
    let confirm = app.text_of("[data-testid=inventory-confirm]");
    assert!(
        confirm.contains(SUB_UID) && confirm.contains("BYBI"),
        "{confirm}"
    );
    show(&app, "[data-testid=inventory-confirm]");
    app.assert_accessible("managed-5-revoke-confirm");
    app.click("[data-testid=inventory-revoke-confirm]");
    step_up(&app);
    app.wait_for_text("[data-testid=inventory-revoked]", "was revoked");
    // The fresh listing after it needs the code again (no step-up window).
    step_up(&app);
    app.wait_for_text("[data-testid=inventory-summary]", "0 unknown keys");
    assert!(
        !exchange.works(ROGUE, ROGUE_SECRET),
        "the rogue key still works"
    );
    assert!(!exchange.key_ids().iter().any(|k| k == ROGUE));
    show(&app, "[data-testid=inventory-table]");
    app.assert_accessible("managed-6-inventory-clean");

    // Rotate the sub-account key automatically.
    open_key(&app, "bybit-bot");
    app.wait_for_text("[data-testid=auto-manager]", "bybit-master");
    app.click("[data-testid=auto-rotate-run]");
    step_up(&app);
    let outcome = app.wait_for_text("[data-testid=auto-outcome]", "Rotated.");
    assert!(outcome.contains("proven dead"), "{outcome}");
    app.wait_for_text("[data-testid=auto-sub-account]", SUB_UID);
    no_secret_in_sight(&app);
    fits_the_window(&app);
    show(&app, "[data-testid=auto-outcome]");
    app.assert_accessible("managed-7-auto-rotated");
    let detail = app.invoke("key_get", json!({ "label": "bybit-bot" }));
    let new_id = detail["ok"]["api_key_id"].as_str().unwrap_or_default();
    assert!(!new_id.is_empty() && new_id != SUB, "{detail}");
    assert!(!exchange.works(SUB, SUB_SECRET), "the old key still works");
    let ids = exchange.key_ids();
    assert!(ids.iter().any(|k| k == new_id), "{ids:?}");
    assert!(!ids.iter().any(|k| k == SUB), "{ids:?}");
    let check = app.invoke("key_check", json!({ "labels": ["bybit-bot"] }));
    assert_eq!(check["ok"][0]["authenticated"], json!(true), "{check}");

    // The schedule: on every 14 days (with the code), then off.
    app.fill("#auto-every", "14");
    app.click("[data-testid=auto-schedule-on]");
    step_up(&app);
    app.wait_for_text("[data-testid=auto-schedule]", "every 14 days");
    show(&app, "[data-testid=auto-schedule]");
    app.assert_accessible("managed-8-schedule-on");
    let schedule = app.invoke("rotate_schedule", json!({ "label": "bybit-bot" }));
    assert_eq!(schedule["ok"]["auto_rotate"], json!(true), "{schedule}");
    assert_eq!(schedule["ok"]["rotate_every_days"], json!(14), "{schedule}");
    app.click("[data-testid=auto-schedule-off]");
    app.wait_for_text("[data-testid=auto-schedule]", "Off.");
    let schedule = app.invoke("rotate_schedule", json!({ "label": "bybit-bot" }));
    assert_eq!(schedule["ok"]["auto_rotate"], json!(false), "{schedule}");

    // The manager key cannot rotate itself: disabled, with why.
    open_key(&app, "bybit-master");
    app.wait_for_text("[data-testid=auto-rotate-blocked]", "manager key");
    no_secret_in_sight(&app);

    // Unmarking it takes the code too; then the account has no manager key.
    app.click("[data-testid=manager-unmark]");
    step_up(&app);
    app.wait_for_text("[data-testid=manager-notice]", "no longer the manager key");
    app.wait_for("[data-testid=manager-mark]");
    let detail = app.invoke("key_get", json!({ "label": "bybit-master" }));
    assert_eq!(detail["ok"]["manager"], json!(false), "{detail}");
    app.click("[data-testid=nav-accounts]");
    app.wait_for("[data-testid=no-manager]");

    let data = app.quit();
    for needle in [MASTER_SECRET, SUB_SECRET, ROGUE_SECRET] {
        let found = keyward_tests::files_containing(data.path(), needle.as_bytes());
        assert!(found.is_empty(), "{needle} in {found:?}");
    }
}

#[test]
fn cancelling_a_stopped_automated_rotation_deletes_the_created_key() {
    let sim = Simulator::start(json!({
        "rate_limits": false,
        "keys": [
            { "exchange": "bybit", "api_key": MASTER, "secret": MASTER_SECRET,
              "scopes": ["read", "transfer"], "ips": [IP_M] },
            { "exchange": "bybit", "api_key": SUB, "secret": SUB_SECRET,
              "scopes": ["read", "trade"], "ips": [IP_A],
              "parent_uid": "24617703", "sub_account": SUB_UID },
        ],
        "sub_accounts": [{ "exchange": "bybit", "id": SUB_UID, "label": "bots" }]
    }));
    let exchange = SimSide::new(&sim);
    let app = App::launch();
    app.create_vault(PASSWORD);
    let env = json!({ "kind": "custom", "base_url": sim.url("bybit") });
    app.add_key(json!({
        "label": "bybit-master", "exchange": "bybit", "environment": env,
        "api_key_id": MASTER, "secret": MASTER_SECRET,
        "scopes": ["read", "transfer"], "ip_whitelist": [IP_M]
    }));
    app.add_key(json!({
        "label": "bybit-bot", "exchange": "bybit", "environment": env,
        "api_key_id": SUB, "secret": SUB_SECRET,
        "scopes": ["read", "trade"], "ip_whitelist": [IP_A]
    }));
    app.reload_to_keys();
    open_key(&app, "bybit-master");
    app.click("[data-testid=manager-mark]");
    step_up(&app);
    app.wait_for("[data-testid=manager-unmark]");
    // The inventory records the sub-account, so the run's first key
    // listing comes after its new key is stored; that listing fails.
    app.click("[data-testid=nav-accounts]");
    app.wait_for_text("[data-testid=account-manager]", "bybit-master");
    app.click("[data-testid=inventory-run]");
    step_up(&app);
    app.wait_for_text("[data-testid=inventory-summary]", "0 unknown keys");
    let before = sim.live_keys(keyward_sim::SimExchange::Bybit);
    let mut stop = keyward_sim::Fault::new(keyward_sim::FaultKind::ServerError)
        .on(keyward_sim::SimExchange::Bybit)
        .times(0);
    stop.path_contains = Some("query-api".into());
    sim.add_fault(stop);
    open_key(&app, "bybit-bot");
    app.wait_for_text("[data-testid=auto-manager]", "bybit-master");
    app.click("[data-testid=auto-rotate-run]");
    step_up(&app);
    // The wizard says the cancel deletes the created key and asks for the code.
    let note = app.wait_for_text("[data-testid=cancel-deletes-key]", "once you confirm");
    sim.clear_faults();
    assert!(note.contains("manager key"), "{note}");
    let created: Vec<String> = sim
        .live_keys(keyward_sim::SimExchange::Bybit)
        .into_iter()
        .filter(|k| !before.contains(k))
        .collect();
    assert_eq!(created.len(), 1, "{created:?}");
    show(&app, "[data-testid=rotation-cancel]");
    app.assert_accessible("managed-9-auto-stopped-cancel");
    app.click("[data-testid=rotation-cancel]");
    step_up(&app);
    let outcome = app.wait_for_text(
        "[data-testid=cancel-outcome]",
        "Deleted the key Keyward created",
    );
    assert!(outcome.contains("rejects it"), "{outcome}");
    no_secret_in_sight(&app);
    fits_the_window(&app);
    show(&app, "[data-testid=cancel-outcome]");
    app.assert_accessible("managed-10-auto-cancelled");
    assert!(
        !sim.live_keys(keyward_sim::SimExchange::Bybit)
            .contains(&created[0]),
        "the created key still works"
    );
    assert!(!exchange.key_ids().contains(&created[0]));
    assert!(exchange.works(SUB, SUB_SECRET), "the old key was deleted");
    let status = app.invoke("rotation_status", json!({ "label": "bybit-bot" }));
    assert_eq!(status["ok"]["state"], json!("cancelled"), "{status}");
    let detail = app.invoke("key_get", json!({ "label": "bybit-bot" }));
    assert_eq!(detail["ok"]["api_key_id"], json!(SUB), "{detail}");
    let data = app.quit();
    for needle in [MASTER_SECRET, SUB_SECRET] {
        let found = keyward_tests::files_containing(data.path(), needle.as_bytes());
        assert!(found.is_empty(), "{needle} in {found:?}");
    }
}

fn binance_id(tag: char) -> String {
    let mut id = String::from("BINANCE");
    id.extend(std::iter::repeat_n(tag, 57));
    id
}

#[test]
fn an_incomplete_binance_listing_is_explained_and_never_says_missing() {
    const SECRET: &str = "CANARYmanagedBinanceSecret4d1e";
    let sim = Simulator::start(json!({
        "rate_limits": false,
        "keys": [
            { "exchange": "binance", "api_key": binance_id('M'), "secret": SECRET,
              "scopes": ["read", "trade"], "ips": [IP_M] },
            { "exchange": "binance", "api_key": binance_id('S'), "secret": SECRET,
              "scopes": ["read", "trade"], "sub_account": "sub1@example.com" }
        ],
        "sub_accounts": [{ "exchange": "binance", "id": "sub1@example.com" }]
    }));
    let app = App::launch();
    app.create_vault(PASSWORD);
    let env = json!({ "kind": "custom", "base_url": sim.url("binance") });
    for (label, tag) in [
        ("binance-master", 'M'),
        ("binance-bot", 'S'),
        ("binance-other", 'X'),
    ] {
        app.add_key(json!({
            "label": label, "exchange": "binance", "environment": env,
            "api_key_id": binance_id(tag), "secret": SECRET,
            "scopes": ["read", "trade"], "ip_whitelist": [IP_M]
        }));
    }
    app.reload_to_keys();
    fits_the_window(&app);

    // Fit, with what the check could not tell said plainly.
    open_key(&app, "binance-master");
    app.click("[data-testid=manager-mark]");
    step_up(&app);
    app.wait_for("[data-testid=manager-unmark]");
    let fitness = app.text_of("[data-testid=manager-fitness]");
    assert!(fitness.contains("master-account key"), "{fitness}");

    app.click("[data-testid=nav-accounts]");
    let manager = app.text_of("[data-testid=account-manager]");
    assert!(manager.contains("cannot list every key"), "{manager}");
    app.click("[data-testid=inventory-run]");
    step_up(&app);
    app.wait_for_text("[data-testid=inventory-summary]", "0 unknown keys");
    let incomplete = app.text_of("[data-testid=inventory-incomplete]");
    assert!(incomplete.contains("Not a complete list"), "{incomplete}");
    app.wait_for("[data-testid=inventory-notes]");
    let status = |label: &str| {
        app.execute(
            "const row = [...document.querySelectorAll('[data-testid=inventory-row]')]
               .find(r => r.textContent.includes(arguments[0]));
             return row ? row.dataset.status : null;",
            json!([label]),
        )
    };
    assert_eq!(status("binance-bot"), json!("known"));
    assert_eq!(status("binance-other"), json!("not_listed"));
    assert_eq!(
        app.execute(
            "return document.querySelectorAll('[data-status=missing]').length",
            json!([])
        ),
        json!(0)
    );
    fits_the_window(&app);
    show(&app, "[data-testid=inventory-report]");
    app.assert_accessible("managed-9-binance-incomplete");
    assert!(!app.page_html().contains(SECRET));
    assert!(!app.output.text().contains(SECRET));
}
