//! Linked services on the key's page: a third-party platform with its host,
//! two vendor-checklist items ticked and dated, still there after a reload,
//! one unticked, the service removed; every change through the real core.

use std::time::{SystemTime, UNIX_EPOCH};

use keyward_tests::App;
use serde_json::{Value, json};

const PASSWORD: &str = "orbit-violet-harbor-candle-42";
const API_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const CANARY_SECRET: &str = "CANARYsvcSecret9f3b1d7e";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn services(app: &App) -> Vec<Value> {
    let detail = app.invoke("key_get", json!({ "label": "binance-main" }));
    detail["ok"]["linked_services"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("key_get: {detail}"))
}

/// The `datetime` of every checked item's date on the page, as unix seconds.
fn shown_dates(app: &App, service: &str) -> Vec<(String, i64)> {
    let v = app.execute(
        "return [...document.querySelectorAll(`[data-service=\"${arguments[0]}\"] [data-item]`)]
           .filter(b => b.checked)
           .map(b => [b.dataset.item,
                      b.parentElement.querySelector('time').getAttribute('datetime')])",
        json!([service]),
    );
    v.as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            let iso = pair[1].as_str().unwrap();
            let ms = app.execute("return Date.parse(arguments[0])", json!([iso]));
            (
                pair[0].as_str().unwrap().to_owned(),
                ms.as_i64().unwrap() / 1000,
            )
        })
        .collect()
}

#[test]
fn platform_with_host_checklist_dates_survive_reload_then_removed() {
    let app = App::launch();
    app.create_vault(PASSWORD);
    app.add_key(json!({
        "label": "binance-main", "exchange": "binance", "api_key_id": API_KEY,
        "secret": CANARY_SECRET, "linked_services": ["grid bot on VPS"]
    }));
    app.reload_to_keys();
    app.click("[data-testid=key-row][data-label=binance-main] button.link");
    app.wait_for("[data-testid=services-card]");
    // The name given at add time is a service of unspecified kind.
    let kind = app.text_of("[data-service='grid bot on VPS'] [data-testid=service-kind]");
    assert_eq!(kind.trim(), "Not specified");

    // Add a third-party platform with a host.
    app.fill("#service-add-name", "3Commas");
    app.execute(
        "const s = document.querySelector('#service-add-kind');
         s.value = 'third_party_platform'; s.dispatchEvent(new Event('change'));
         return true",
        json!([]),
    );
    app.fill("#service-add-host", "API.3commas.io");
    app.fill("#service-add-notes", "DCA bots, read and trade only");
    app.click("[data-testid=service-add]");
    let host = app.wait_for_text(
        "[data-service='3Commas'] [data-testid=service-host]",
        "3commas",
    );
    assert_eq!(
        host.trim(),
        "api.3commas.io",
        "the core normalizes the host"
    );
    assert_eq!(
        app.text_of("[data-service='3Commas'] [data-testid=service-kind]")
            .trim(),
        "Third-party platform"
    );

    // Tick two checklist items; each shows the date it was checked.
    let before = now();
    app.click("[data-service='3Commas'] [data-item=key_storage_docs]");
    app.wait_for("[data-service='3Commas'] [data-item=key_storage_docs]:checked");
    app.click("[data-service='3Commas'] [data-item=reputation]");
    app.wait_for_text(
        "[data-service='3Commas'] [data-testid=vendor-checklist]",
        "2 of 5",
    );
    let after = now();
    let dates = shown_dates(&app, "3Commas");
    assert_eq!(
        dates.iter().map(|(i, _)| i.as_str()).collect::<Vec<_>>(),
        ["key_storage_docs", "reputation"]
    );
    let stored = &services(&app)[1];
    assert_eq!(stored["name"], "3Commas");
    for (item, shown) in &dates {
        let entry = stored["checklist"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["item"] == item.as_str())
            .unwrap();
        let at = entry["checked_at"].as_i64().unwrap();
        assert_eq!(*shown, at, "the page shows the stored date of {item}");
        assert!((before - 1..=after + 1).contains(&at), "{item}: {at}");
    }
    let text = app.text_of("[data-service='3Commas']");
    assert!(text.contains("checked "), "{text}");
    app.assert_accessible("services-1-checked");

    // Reload: everything is still there.
    app.reload_to_keys();
    app.click("[data-testid=key-row][data-label=binance-main] button.link");
    app.wait_for_text(
        "[data-service='3Commas'] [data-testid=vendor-checklist]",
        "2 of 5",
    );
    assert_eq!(shown_dates(&app, "3Commas"), dates);
    assert!(app.text_of("[data-service='3Commas']").contains("DCA bots"));
    let used_by = app.text_of("[data-testid=used-by]");
    assert!(used_by.contains("3Commas") && used_by.contains("grid bot on VPS"));

    // Untick one: its date goes.
    app.click("[data-service='3Commas'] [data-item=reputation]");
    app.wait_for_text(
        "[data-service='3Commas'] [data-testid=vendor-checklist]",
        "1 of 5",
    );
    assert!(services(&app)[1]["checklist"][1]["checked_at"].is_null());
    app.assert_accessible("services-2-unchecked");

    // A bad host is a specific error and changes nothing.
    app.fill("#service-add-name", "web");
    app.fill("#service-add-host", "https://example.com/x");
    app.click("[data-testid=service-add]");
    app.wait_for_text("[data-testid=error]", "not a hostname or IP address");
    app.assert_accessible("services-3-bad-host");
    assert_eq!(services(&app).len(), 2);

    // Edit the older service: it becomes an own bot with a host; its
    // checklist is optional, so it stays as it was.
    app.click("[data-service='grid bot on VPS'] [data-testid=service-edit]");
    app.execute(
        "const s = document.querySelector('[data-service=\"grid bot on VPS\"] select');
         s.value = 'own_bot'; s.dispatchEvent(new Event('change'));
         return true",
        json!([]),
    );
    app.fill("[data-service='grid bot on VPS'] input.mono", "10.0.0.5");
    app.click("[data-service='grid bot on VPS'] [data-testid=service-save]");
    app.wait_for_text(
        "[data-service='grid bot on VPS'] [data-testid=service-kind]",
        "Own bot",
    );
    let grid = &services(&app)[0];
    assert_eq!(grid["kind"], "own_bot");
    assert_eq!(grid["host"], "10.0.0.5");

    // Remove the platform.
    app.click("[data-service='3Commas'] [data-testid=service-remove]");
    app.click("[data-service='3Commas'] [data-testid=service-remove-confirm]");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while app.page_text().contains("api.3commas.io") {
        assert!(std::time::Instant::now() < deadline, "service still shown");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let left = services(&app);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["name"], "grid bot on VPS");
    app.assert_accessible("services-4-removed");

    // The log has one entry per change, and the secret never reached the page.
    let log = app.invoke(
        "audit_log",
        json!({ "filter": { "action": "service_changed" } }),
    );
    let n = log["ok"].as_array().map_or(0, Vec::len);
    assert_eq!(n, 6, "add, check, check, uncheck, update, remove: {log}");
    assert!(!app.page_html().contains(CANARY_SECRET));
}
