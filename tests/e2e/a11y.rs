//! Accessibility: axe-core on every screen, in the light and the dark
//! theme, must find no serious or critical violation (all findings are
//! printed); the keyboard alone reaches every control of the main screen,
//! each with a visible focus indicator; the step-up dialog is modal, takes
//! focus, closes with Escape and gives focus back; a health finding's fix
//! button lands on the control that fixes it.

use keyward_tests::{App, wait_until};
use serde_json::{Value, json};

const PASSWORD: &str = "quartz-ember-willow-signal-58";
const API_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const TAB: &str = "\u{E004}";
const ESCAPE: &str = "\u{E00C}";

/// Runs axe on the current screen (printing every finding), collects the
/// serious and critical ones and saves a screenshot.
fn audit(app: &App, theme: &str, screen: &str, failures: &mut Vec<String>) {
    failures.extend(app.axe_serious(&format!("[{theme}] {screen}")));
    app.screenshot(&format!("a11y-{theme}-{screen}"));
}

fn walk_every_screen(theme: &str, env: &[(&str, &str)]) {
    let app = App::launch_with(tempfile::tempdir().expect("temp dir"), env);
    let dark = app.execute(
        "return matchMedia('(prefers-color-scheme: dark)').matches",
        json!([]),
    );
    assert_eq!(
        dark,
        json!(theme == "dark"),
        "the page did not follow the system theme ({theme})"
    );
    let mut failures = Vec::new();

    app.wait_for_text("h1", "Create your vault");
    audit(&app, theme, "create", &mut failures);
    app.fill("#pw", PASSWORD);
    app.fill("#pw2", PASSWORD);
    app.wait_for_text("[data-testid=strength]", "strong");
    app.click("[data-testid=create]");
    app.wait_for("[data-testid=empty]");
    audit(&app, theme, "keys-empty", &mut failures);

    app.click("[data-testid=add-key]");
    app.wait_for_text("h1", "Add a key");
    audit(&app, theme, "add-key", &mut failures);
    app.fill("#label", "binance-main");
    app.fill("#api-key-id", API_KEY);
    app.fill("#secret", "a11y-secret-value-not-shown-anywhere-0123456789");
    app.click("[data-scope=withdraw]");
    app.click("[data-testid=save-key]");
    app.wait_for_text("[data-testid=key-detail] h1", "binance-main");
    app.wait_for("[data-testid=rotation-begin]");
    // A key without an open rotation is the normal case, not an error.
    let errors = app.execute(
        "return document.querySelectorAll('[data-testid=key-detail] [role=alert]').length",
        json!([]),
    );
    assert_eq!(
        errors,
        json!(0),
        "an error is shown on a healthy key's page"
    );
    audit(&app, theme, "key-detail", &mut failures);

    app.click("[data-testid=reveal-secret]");
    app.wait_for("[data-testid=step-up]");
    audit(&app, theme, "step-up", &mut failures);
    app.press(ESCAPE);
    wait_gone(&app, "[data-testid=step-up]");

    app.click("[data-testid=back]");
    app.wait_for("[data-testid=key-row]");
    audit(&app, theme, "keys", &mut failures);

    app.click("[data-testid=nav-settings]");
    app.wait_for("[data-testid=mfa-setup]");
    audit(&app, theme, "settings", &mut failures);
    app.click("[data-testid=mfa-setup]");
    app.wait_for("[data-testid=step-up]");
    app.fill("#stepup-code", PASSWORD);
    app.click("[data-testid=step-up-confirm]");
    app.wait_for("[data-testid=mfa-secret]");
    audit(&app, theme, "mfa-enrol", &mut failures);

    app.click("[data-testid=nav-activity]");
    app.wait_for("[data-testid=audit-table]");
    audit(&app, theme, "activity", &mut failures);

    app.click("[data-testid=nav-accounts]");
    app.wait_for("[data-testid=accounts]");
    audit(&app, theme, "accounts", &mut failures);

    app.click("[data-testid=nav-scan]");
    app.wait_for("[data-testid=scan-start]");
    audit(&app, theme, "scan", &mut failures);

    app.click("[data-testid=nav-incident]");
    app.wait_for("[data-testid=incident-open]");
    audit(&app, theme, "incident", &mut failures);

    app.click("[data-testid=lock]");
    app.wait_for_text("h1", "Unlock");
    audit(&app, theme, "unlock", &mut failures);

    assert!(
        failures.is_empty(),
        "serious or critical accessibility violations:\n{}",
        failures.join("\n")
    );
}

/// Presses Tab from the top of the page until focus comes back round (at
/// most 120 times), asserting a visible focus indicator on every stop, and
/// returns the stops in order.
fn tab_through(app: &App, screen: &str) -> Vec<String> {
    app.execute(
        "document.activeElement?.blur(); window.scrollTo(0, 0); return true",
        json!([]),
    );
    let mut seen: Vec<String> = Vec::new();
    for _ in 0..120 {
        app.press(TAB);
        let f = focused(app);
        let name = f["name"].as_str().unwrap_or_default().to_string();
        if name == "body" || seen.first() == Some(&name) {
            break;
        }
        assert_eq!(
            f["visible"],
            json!(true),
            "{screen}: no visible focus indicator on {f} (after {seen:?})"
        );
        seen.push(name);
    }
    println!("tab order on {screen}: {seen:?}");
    seen
}

fn wait_until_focused(app: &App, name: &str) {
    wait_until(
        || focused(app)["name"] == name,
        &format!("{name} takes focus"),
    );
}

fn wait_gone(app: &App, css: &str) {
    wait_until(
        || {
            app.execute(
                "return !!document.querySelector(arguments[0])",
                json!([css]),
            ) == json!(false)
        },
        &format!("{css} leaves the page"),
    );
}

#[test]
fn axe_finds_nothing_serious_on_any_screen_in_the_light_theme() {
    walk_every_screen("light", &[("GTK_THEME", "Adwaita")]);
}

#[test]
fn axe_finds_nothing_serious_on_any_screen_in_the_dark_theme() {
    walk_every_screen("dark", &[("GTK_THEME", "Adwaita:dark")]);
}

/// What has focus: a short description and whether a focus indicator is
/// drawn (an outline or a box shadow).
fn focused(app: &App) -> Value {
    app.execute(
        "const el = document.activeElement;
         if (!el || el === document.body) return { name: 'body', visible: false };
         const cs = getComputedStyle(el);
         const outline = cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0;
         const shadow = cs.boxShadow && cs.boxShadow !== 'none';
         const name = (el.getAttribute('data-testid') || el.id || el.textContent || el.tagName).trim().slice(0, 40);
         return { name, tag: el.tagName, visible: outline || !!shadow };",
        json!([]),
    )
}

#[test]
fn the_keyboard_reaches_every_control_with_visible_focus() {
    let app = App::launch();
    app.create_vault(PASSWORD);
    app.add_key(json!({ "label": "kraken-reader", "exchange": "kraken",
        "api_key_id": "kraken-public-key-id-0001", "secret": "a2V5d2FyZC1rcmFrZW4tc2VjcmV0" }));
    app.reload_to_keys();

    // Tab through the whole main screen once.
    app.focus_window();
    let seen = tab_through(&app, "keys");
    for control in [
        "nav-scan",
        "nav-settings",
        "nav-incident",
        "lock",
        "search",
        "add-key",
        "kraken-reader",
    ] {
        assert!(
            seen.iter().any(|s| s == control),
            "Tab never reached {control}: {seen:?}"
        );
    }

    // Every other screen: each control Tab reaches shows where focus is.
    for (nav, ready) in [
        ("[data-testid=nav-settings]", "[data-testid=mfa-setup]"),
        ("[data-testid=nav-activity]", "[data-testid=audit-table]"),
        ("[data-testid=nav-accounts]", "[data-testid=accounts]"),
        ("[data-testid=nav-scan]", "[data-testid=scan-start]"),
        ("[data-testid=nav-incident]", "[data-testid=incident-open]"),
        ("[data-testid=add-key]", "#label"),
    ] {
        if nav == "[data-testid=add-key]" {
            app.click("nav button.tab"); // Keys
        }
        app.click(nav);
        app.wait_for(ready);
        let names = tab_through(&app, nav);
        assert!(
            names.len() >= 3,
            "Tab reached almost nothing on {nav}: {names:?}"
        );
    }
    app.click("nav button.tab"); // Keys
    app.click("[data-testid=key-row] button.link");
    app.wait_for("[data-testid=rotation-begin]");
    let names = tab_through(&app, "key detail");
    for control in ["check-now", "edit-key", "reveal-secret"] {
        assert!(
            names.iter().any(|s| s == control),
            "Tab never reached {control}: {names:?}"
        );
    }
    app.click("nav button.tab"); // Keys
    app.wait_for("[data-testid=key-row]");

    // A health finding's fix lands on the control that fixes it: "Add an
    // IP whitelist" opens the key's edit form with the whitelist focused.
    app.click("[data-testid=health] button[data-fix=add_ip_whitelist][data-label=kraken-reader]");
    app.wait_for("#ips");
    wait_until_focused(&app, "ips");
    app.click("nav button.tab"); // Keys
    app.wait_for("[data-testid=key-row]");

    // Enter on the focused key opens it; the step-up dialog takes focus,
    // keeps Tab inside, closes on Escape and returns focus to its opener.
    app.send_keys("[data-testid=key-row] button.link", "\u{E007}");
    app.wait_for_text("[data-testid=key-detail] h1", "kraken-reader");
    app.send_keys("[data-testid=reveal-secret]", "\u{E007}");
    app.wait_for("[data-testid=step-up]");
    assert_eq!(focused(&app)["name"], "stepup-code");
    for _ in 0..6 {
        app.press(TAB);
        let inside = app.execute(
            "return !!document.activeElement?.closest('[data-testid=step-up]')",
            json!([]),
        );
        assert_eq!(inside, json!(true), "Tab left the modal dialog");
    }
    app.screenshot("a11y-keyboard-step-up");
    app.press(ESCAPE);
    wait_gone(&app, "[data-testid=step-up]");
    assert_eq!(focused(&app)["name"], "reveal-secret");
}
