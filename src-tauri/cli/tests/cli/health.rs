//! `keyward health` on a real vault: keys added through the CLI, the JSON
//! shape (score, counts, findings with their fix, every point lost), the
//! findings for a key without an IP whitelist and with withdraw declared,
//! one key shared by two services, the human output, and no secret printed.

use serde_json::Value;

use crate::support::{BINANCE_KEY, Env};

const WIDE_SECRET: &str = "CANARYHEALTHwide0secret";
const TIGHT_SECRET: &str = "CANARYHEALTHtight0secret";
const TIGHT_ID: &str = "tightKEYid000000000000000000000000000000000000000000000000000001";

fn add(env: &Env, args: &[&str], secret: &str) {
    let mut all = vec!["add", "--exchange", "binance", "--secret-stdin"];
    all.extend_from_slice(args);
    env.run_stdin(&all, &format!("{secret}\n")).ok();
}

fn findings_for<'a>(report: &'a Value, label: &str) -> Vec<&'a str> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["label"] == label)
        .map(|f| f["rule"].as_str().unwrap())
        .collect()
}

#[test]
fn health_reports_findings_score_and_fixes_without_secrets() {
    let env = Env::init();
    add(
        &env,
        &[
            "--label",
            "wide",
            "--api-key",
            BINANCE_KEY,
            "--scopes",
            "read,trade,withdraw",
            "--used-by",
            "grid-bot",
            "--used-by",
            "tax-tool",
        ],
        WIDE_SECRET,
    );
    add(
        &env,
        &[
            "--label",
            "tight",
            "--api-key",
            TIGHT_ID,
            "--scopes",
            "read",
            "--ip",
            "203.0.113.7",
            "--used-by",
            "dashboard",
        ],
        TIGHT_SECRET,
    );

    let run = env.run(&["health", "--json"]).ok();
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["keys"], 2);
    let score = report["score"]["score"].as_u64().unwrap();
    assert!(score < 100, "{report:#}");
    for field in ["critical", "warning", "info"] {
        assert!(report["counts"][field].is_u64(), "{field}");
    }

    let wide = findings_for(&report, "wide");
    assert!(wide.contains(&"no_ip_whitelist"), "{wide:?}");
    assert!(wide.contains(&"withdraw_enabled"), "{wide:?}");
    assert!(wide.contains(&"shared_across_services"), "{wide:?}");
    // Never checked live: a reminder, for both keys.
    assert!(wide.contains(&"audit_stale"), "{wide:?}");
    let tight = findings_for(&report, "tight");
    assert_eq!(tight, vec!["audit_stale"], "{report:#}");

    let finding = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["label"] == "wide" && f["rule"] == "no_ip_whitelist")
        .unwrap();
    assert_eq!(finding["severity"], "warning");
    assert_eq!(finding["fix"], "add_ip_whitelist");
    for field in ["title", "why", "explanation"] {
        assert!(finding[field].is_string(), "{field}");
    }
    assert!(finding["points"].is_u64());
    let withdraw = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "withdraw_enabled")
        .unwrap();
    assert_eq!(withdraw["fix"], "narrow_scope");

    // Every point lost is explained, and they add up to the score.
    let lost = report["score"]["lost"].as_array().unwrap();
    let sum: u64 = lost.iter().map(|l| l["points"].as_u64().unwrap()).sum();
    assert_eq!(100 - sum, score);
    for l in lost {
        assert!(l["rule"].is_string() && l["label"].is_string() && l["why"].is_string());
    }

    let text = env.run(&["health"]).ok();
    assert!(
        text.stdout
            .contains(&format!("Health score: {score}/100 (2 keys)")),
        "{}",
        text.stdout
    );
    // Counts read as words: "1 warning", "2 warnings", never "1 warnings".
    let warnings = report["counts"]["warning"].as_u64().unwrap();
    let noun = if warnings == 1 { "warning" } else { "warnings" };
    assert!(
        text.stdout
            .contains(&format!("critical, {warnings} {noun}, ")),
        "{}",
        text.stdout
    );
    // Exchanges by their brand in the key list.
    let list = env.run(&["list"]).ok();
    assert!(list.stdout.contains("Binance"), "{}", list.stdout);
    assert!(!list.stdout.contains(" binance "), "{}", list.stdout);
    assert!(
        text.stdout.contains(
            "fix: restrict the key to your server's IP at the exchange, then `keyward edit"
        ),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("Points lost:"));

    for out in [&run.stdout, &run.stderr, &text.stdout, &text.stderr] {
        for secret in [WIDE_SECRET, TIGHT_SECRET, BINANCE_KEY, TIGHT_ID] {
            assert!(!out.contains(secret), "secret or key id printed: {out}");
        }
    }
}

#[test]
fn health_of_an_empty_vault_is_100() {
    let env = Env::init();
    let run = env.run(&["health", "--json"]).ok();
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["score"]["score"], 100);
    assert_eq!(report["findings"], Value::Array(vec![]));
    assert_eq!(report["score"]["lost"], Value::Array(vec![]));
    assert!(env.run(&["health"]).ok().stdout.contains("No findings."));
}
