//! The leak scan page, the import flow and the "allow run" grant.

use std::process::Command;

use keyward_tests::App;
use serde_json::json;

const PASSWORD: &str = "orbit-violet-harbor-candle-42";
const API_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const CANARY_SECRET: &str = "CANARYscanQ7xv9LmN2pR4tW8yZ1aB3cD5eF6gH7jK9mN0pQ2rS4tU6vW8xY";
const ENV_KEY: &str = "Z9xPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duE01";
const ENV_SECRET: &str = "CANARYenvK2j4h6g8f0d2s4a6q8w0e2r4t6y8u0i2o4p6a8s0d2f4g6h8j0k2";

fn git(dir: &std::path::Path, args: &[&str]) {
    let ok = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git")
        .status
        .success();
    assert!(ok, "git {args:?}");
}

#[test]
fn scan_finds_own_key_in_files_and_history_then_import_and_allow_run() {
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("bot");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q"]);
    std::fs::write(
        repo.join("config.py"),
        format!("SECRET = '{CANARY_SECRET}'\n"),
    )
    .unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "oops"]);
    std::fs::remove_file(repo.join("config.py")).unwrap();
    git(&repo, &["commit", "-qam", "remove"]);
    std::fs::write(repo.join("notes.txt"), format!("old key {API_KEY}\n")).unwrap();
    let env_file = work.path().join("other.env");
    std::fs::write(
        &env_file,
        format!("BINANCE_API_KEY={ENV_KEY}\nBINANCE_API_SECRET={ENV_SECRET}\nLOG_LEVEL=info\n"),
    )
    .unwrap();

    let app = App::launch();
    app.create_vault(PASSWORD);
    app.add_key(json!({
        "label": "binance-main", "exchange": "binance",
        "environment": { "kind": "mainnet" }, "api_key_id": API_KEY,
        "secret": CANARY_SECRET, "passphrase": null, "key_type": "hmac",
        "scopes": ["read"], "ip_whitelist": [], "linked_services": [],
        "notes": "", "rotate_every_days": null
    }));
    app.execute("location.reload(); return true", json!([]));
    app.wait_for("[data-testid=key-row]");

    app.click("[data-testid=nav-scan]");
    app.fill("#folders", &repo.to_string_lossy());
    app.click("[data-testid=scan-start]");
    let summary = app.wait_for_text("[data-testid=scan-summary]", "findings");
    let table = app.text_of("[data-testid=scan-findings]");
    assert!(
        table.contains("binance-main — its secret"),
        "history finding missing:\n{table}"
    );
    assert!(
        table.contains("binance-main — its key id"),
        "file finding missing:\n{table}"
    );
    // One way to say where, for history and files: relative to the
    // scanned folder, with the commit for history.
    assert!(table.contains("config.py:1 in commit "), "{table}");
    assert!(table.contains("notes.txt:1"), "{table}");
    assert!(
        !table.contains(&*work.path().to_string_lossy()),
        "absolute paths in the findings:\n{table}"
    );
    assert!(
        !app.page_html().contains(CANARY_SECRET),
        "the scan page shows the secret"
    );
    assert!(!summary.contains(CANARY_SECRET));
    app.assert_accessible("scan-1-findings");
    // "Open folder" resolves paths in Rust from the last scan only.
    let outside = app.invoke("scan_open_folder", json!({ "index": 999 }));
    assert_eq!(outside["err"]["kind"], "not_found", "{outside}");

    // Import from a .env file, then remove the values from it.
    app.fill("#import-path", &env_file.to_string_lossy());
    app.click("[data-testid=import-preview]");
    let candidates = app.text_of("[data-testid=import-candidates]");
    assert!(candidates.contains("Binance"), "{candidates}");
    assert!(
        !app.page_html().contains(ENV_SECRET),
        "the preview shows the secret"
    );
    app.click("[data-testid=import-rewrite]");
    app.click("[data-testid=import-apply]");
    app.wait_for_text("[data-testid=import-result]", "imported");
    let run_line = app.text_of("[data-testid=run-line]");
    assert!(run_line.starts_with("keyward run --key"), "{run_line}");
    app.assert_accessible("scan-2-import");
    let rewritten = std::fs::read_to_string(&env_file).unwrap();
    assert!(
        !rewritten.contains(ENV_SECRET),
        "the value is still in the file"
    );
    assert!(
        rewritten.contains("LOG_LEVEL=info"),
        "other settings were lost: {rewritten}"
    );
    let keys = app.invoke("key_list", json!({}));
    assert_eq!(keys["ok"].as_array().map(Vec::len), Some(2), "{keys}");

    // Allow run: gated (master password before MFA), then the command shows.
    app.click("[data-testid=nav-scan]");
    app.click("nav button.tab"); // Keys
    app.click("[data-testid=key-row][data-label=binance-main] button.link");
    app.click("[data-testid=allow-run]");
    app.wait_for("[data-testid=step-up]");
    app.fill("#stepup-code", PASSWORD);
    app.click("[data-testid=step-up-confirm]");
    let command = app.text_of("[data-testid=run-command]");
    assert_eq!(command, "keyward run --key binance-main -- your-bot");
    app.assert_accessible("scan-3-allow-run");
    let output = app.output.text();
    assert!(!output.contains(CANARY_SECRET) && !output.contains(ENV_SECRET));
}
