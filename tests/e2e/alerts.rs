//! Reminders and alert settings through the real desktop binary.
//!
//! Desktop notifications are observed on the test's own D-Bus session bus
//! (the suite runs under `dbus-run-session`): `dbus-monitor` records every
//! `org.freedesktop.Notifications.Notify` call the app makes, whether or
//! not a notification daemon answers. A key whose rotation is due within a
//! day gives exactly one reminder, naming its label and exchange and never
//! its key id, across two unlocks (at most once a day per key). The
//! Settings screen shows the alert section; a webhook URL saved there never
//! comes back to the page.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keyward_tests::App;
use serde_json::json;

const PASSWORD: &str = "orbit-violet-harbor-candle-42";
const API_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const HOOK_TOKEN: &str = "CANARYe2eHookToken";

/// `dbus-monitor` on the session bus, filtered to `Notify` calls.
struct Monitor {
    child: Child,
    text: Arc<Mutex<String>>,
}

impl Monitor {
    fn start() -> Monitor {
        assert!(
            std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
            "the alerts tests need a D-Bus session (run them under dbus-run-session)"
        );
        let mut child = Command::new("dbus-monitor")
            .args([
                "--session",
                "type='method_call',interface='org.freedesktop.Notifications',member='Notify'",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-monitor (package dbus-bin)");
        let text = Arc::new(Mutex::new(String::new()));
        let sink = text.clone();
        let mut out = child.stdout.take().expect("piped");
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        // Give the monitor time to register with the bus.
        std::thread::sleep(Duration::from_millis(500));
        Monitor { child, text }
    }

    fn text(&self) -> String {
        self.text.lock().unwrap().clone()
    }

    /// Notify calls seen so far.
    fn calls(&self) -> usize {
        self.text().matches("member=Notify").count()
    }

    fn wait_for_calls(&self, n: usize, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.calls() >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        self.calls() >= n
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn relock(app: &App) {
    assert!(app.invoke("vault_lock", json!({})).get("ok").is_some());
    let unlocked = app.invoke("vault_unlock", json!({ "password": PASSWORD }));
    assert!(unlocked.get("ok").is_some(), "{unlocked}");
}

#[test]
fn a_due_rotation_is_reminded_once_and_the_webhook_url_never_returns() {
    let monitor = Monitor::start();
    let app = App::launch();
    app.create_vault(PASSWORD);
    app.add_key(json!({
        "label": "reminder-bot", "exchange": "binance", "api_key_id": API_KEY,
        "secret": "CANARYe2eAlertSecret", "rotate_every_days": 1
    }));
    app.add_key(json!({
        "label": "quiet-bot", "exchange": "kraken", "api_key_id": "KRAKENQUIETKEY000000000000000000000000000000000000000",
        "secret": "CANARYe2eQuietSecret"
    }));
    // A fresh unlock runs the reminder pass at once.
    relock(&app);
    assert!(
        monitor.wait_for_calls(1, Duration::from_secs(20)),
        "no Notify call; seen:\n{}",
        monitor.text()
    );
    let seen = monitor.text();
    assert!(seen.contains("reminder-bot"), "{seen}");
    assert!(seen.contains("rotation due soon"), "{seen}");
    assert!(seen.contains("Binance"), "{seen}");
    assert!(!seen.contains("quiet-bot"), "{seen}");
    assert!(
        !seen.contains(&API_KEY[..8]),
        "a key id in a notification: {seen}"
    );
    assert!(
        !seen.contains("CANARYe2e"),
        "a secret in a notification: {seen}"
    );
    // Unlocked again (the pass runs again): no second reminder today.
    relock(&app);
    std::thread::sleep(Duration::from_secs(10));
    assert_eq!(monitor.calls(), 1, "reminded twice:\n{}", monitor.text());

    // The settings screen: save a webhook (master password as step-up,
    // MFA not enrolled), see only its host.
    app.execute("location.reload(); return true", json!([]));
    app.wait_for("[data-testid=nav-settings]");
    app.click("[data-testid=nav-settings]");
    app.wait_for("[data-testid=alerts-section]");
    app.wait_for_text("[data-testid=alerts-webhook-status]", "Not configured");
    app.fill(
        "[data-testid=alerts-url]",
        &format!("http://127.0.0.1:9/api/webhooks/1/{HOOK_TOKEN}"),
    );
    // A loopback receiver names no service: pick the format.
    app.execute(
        "const s = document.querySelector('[data-testid=alerts-kind]'); \
         s.value = 'discord'; s.dispatchEvent(new Event('change')); return true",
        json!([]),
    );
    app.click("[data-testid=alerts-save-webhook]");
    app.wait_for("[data-testid=step-up]");
    app.fill("#stepup-code", PASSWORD);
    app.click("[data-testid=step-up-confirm]");
    app.wait_for_text("[data-testid=alerts-webhook-status]", "127.0.0.1");
    app.assert_accessible("alerts-settings");
    assert!(
        !app.page_html().contains(HOOK_TOKEN),
        "the URL came back to the page"
    );
    let got = app.invoke("alerts_get", json!({}));
    assert_eq!(got["ok"]["webhook"]["host"], "127.0.0.1", "{got}");
    assert!(!got.to_string().contains(HOOK_TOKEN));
    // Without step-up, a direct IPC call cannot redirect alerts.
    let direct = app.invoke(
        "alerts_set_webhook",
        json!({ "webhook": { "url": "https://hooks.slack.com/services/T/B/X", "kind": null } }),
    );
    assert_eq!(direct["err"]["kind"], "mfa", "{direct}");
    // The options command with the names the page sends (master password
    // as proof while MFA is not enrolled).
    let options = app.invoke(
        "alerts_set_options",
        json!({
            "backgroundAudit": "weekly",
            "events": { "incident_opened": true, "critical_finding": true, "rotation_overdue": false },
            "proof": { "kind": "password", "password": PASSWORD }
        }),
    );
    assert_eq!(options["ok"]["background_audit"], "weekly", "{options}");
    assert_eq!(
        options["ok"]["events"]["rotation_overdue"], false,
        "{options}"
    );
    let log = app.invoke("audit_log", json!({ "filter": {} }));
    assert!(!log.to_string().contains(HOOK_TOKEN));
    let output = app.output.text();
    assert!(!output.contains(HOOK_TOKEN), "the URL in the app's output");
    assert!(!output.contains("panicked"), "{output}");
}
