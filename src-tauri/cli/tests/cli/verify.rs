//! `keyward verify` against the strict simulator: keys added through the
//! CLI with `--base-url http://127.0.0.1:PORT/<exchange>`, checked over all
//! five exchanges; JSON shape, human table, exit codes (6 for a rejected or
//! unreachable key), the last check shown by `show --json`, and the secrets
//! never printed.

use std::time::Duration;

use keyward_sim::{Accounts, Fault, FaultKind, KeyAccount, SimExchange, SimHandle, SimScope};
use serde_json::Value;

use crate::support::{Env, Run};

const BIN_ID: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const BIN_SECRET: &str = "CANARYVERIFYbinance0secret";
const CB_ID: &str = "organizations/org-1/apiKeys/es256";
const KRAKEN_ID: &str = "KRAKENKEY1";
const KRAKEN_SECRET: &str =
    "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==";
const OKX_ID: &str = "6c4b2a8e-3f1d-4e5a-9b7c-0d1e2f3a4b5c";
const OKX_SECRET: &str = "CANARYVERIFYokx0secret";
const OKX_PASS: &str = "CANARYVERIFYokxpass";
const BYBIT_ID: &str = "BYBITKEY1";
const BYBIT_SECRET: &str = "CANARYVERIFYbybit0secret";

// A P-256 test key (Coinbase ES256), used only against the simulator.
const CB_PRIVATE: &str = "-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIH/Vi1fT8y92XCXYkGI0X2lauBl4eL6LH1KxGlwkoY5FoAoGCCqGSM49
AwEHoUQDQgAE2wmaAWvo+fnihwUqIm7AtW5cyOqPFDiQDlVTgOeZB5rqDfMOkXrF
c9YTMqdrbx884A6Qxm5B0EgqLazEhyEBXA==
-----END EC PRIVATE KEY-----
";
const CB_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2wmaAWvo+fnihwUqIm7AtW5cyOqP
FDiQDlVTgOeZB5rqDfMOkXrFc9YTMqdrbx884A6Qxm5B0EgqLazEhyEBXA==
-----END PUBLIC KEY-----
";

/// The simulator on its own runtime, alive as long as this value.
struct Sim {
    handle: SimHandle,
    _runtime: tokio::runtime::Runtime,
}

impl Sim {
    fn start() -> Sim {
        use SimScope::*;
        let accounts = Accounts {
            keys: vec![
                KeyAccount {
                    ips: vec!["203.0.113.7".into()],
                    ..KeyAccount::hmac(SimExchange::Binance, BIN_ID, BIN_SECRET, &[Read, Trade])
                },
                KeyAccount::asymmetric(SimExchange::Coinbase, CB_ID, CB_PUBLIC, &[Read, Trade]),
                KeyAccount {
                    ips: vec!["198.51.100.1".into(), "198.51.100.2".into()],
                    ..KeyAccount::hmac(SimExchange::Kraken, KRAKEN_ID, KRAKEN_SECRET, &[Read])
                },
                KeyAccount {
                    passphrase: Some(OKX_PASS.into()),
                    ips: vec!["192.0.2.10".into()],
                    ..KeyAccount::hmac(SimExchange::Okx, OKX_ID, OKX_SECRET, &[Read, Trade])
                },
                KeyAccount {
                    ips: vec!["192.0.2.20".into()],
                    ..KeyAccount::hmac(
                        SimExchange::Bybit,
                        BYBIT_ID,
                        BYBIT_SECRET,
                        &[Read, Trade, Withdraw],
                    )
                },
            ],
            ..Accounts::default()
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (_, handle) = runtime.block_on(keyward_sim::spawn(accounts)).unwrap();
        Sim {
            handle,
            _runtime: runtime,
        }
    }

    fn url(&self, ex: SimExchange) -> String {
        self.handle.url(ex)
    }
}

fn add(env: &Env, args: &[&str], stdin: &str) {
    let mut all = vec!["add"];
    all.extend_from_slice(args);
    env.run_stdin(&all, stdin).ok();
}

/// A vault with one key per exchange, all pointing at the simulator, plus
/// a KuCoin key (no live adapter).
fn setup(sim: &Sim) -> Env {
    let env = Env::init();
    let u = |ex| sim.url(ex);
    add(
        &env,
        &[
            "--exchange",
            "binance",
            "--label",
            "binance-bot",
            "--api-key",
            BIN_ID,
            "--scopes",
            "read,trade",
            "--base-url",
            &u(SimExchange::Binance),
            "--secret-stdin",
        ],
        &format!("{BIN_SECRET}\n"),
    );
    let pem = env.path("cb.pem");
    std::fs::write(&pem, CB_PRIVATE).unwrap();
    add(
        &env,
        &[
            "--exchange",
            "coinbase",
            "--label",
            "coinbase-es",
            "--api-key",
            CB_ID,
            "--key-type",
            "ecdsa_jwt",
            "--scopes",
            "read,trade",
            "--base-url",
            &u(SimExchange::Coinbase),
            "--secret-file",
            pem.to_str().unwrap(),
        ],
        "",
    );
    std::fs::remove_file(&pem).unwrap();
    add(
        &env,
        &[
            "--exchange",
            "kraken",
            "--label",
            "kraken-bot",
            "--api-key",
            KRAKEN_ID,
            "--base-url",
            &u(SimExchange::Kraken),
            "--secret-stdin",
        ],
        &format!("{KRAKEN_SECRET}\n"),
    );
    add(
        &env,
        &[
            "--exchange",
            "okx",
            "--label",
            "okx-bot",
            "--api-key",
            OKX_ID,
            "--scopes",
            "read,trade",
            "--base-url",
            &u(SimExchange::Okx),
            "--secret-stdin",
        ],
        &format!("{OKX_SECRET}\n{OKX_PASS}\n"),
    );
    // Withdraw is live at the exchange but not declared here.
    add(
        &env,
        &[
            "--exchange",
            "bybit",
            "--label",
            "bybit-bot",
            "--api-key",
            BYBIT_ID,
            "--scopes",
            "read,trade",
            "--base-url",
            &u(SimExchange::Bybit),
            "--secret-stdin",
        ],
        &format!("{BYBIT_SECRET}\n"),
    );
    add(
        &env,
        &[
            "--exchange",
            "kucoin",
            "--label",
            "kucoin-x",
            "--api-key",
            "0123456789abcdef01234567",
            "--secret-stdin",
        ],
        "CANARYVERIFYkucoin\nCANARYVERIFYkucoinpass\n",
    );
    env
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

fn entry<'a>(all: &'a Value, label: &str) -> &'a Value {
    all.as_array()
        .unwrap()
        .iter()
        .find(|v| v["label"] == label)
        .unwrap_or_else(|| panic!("no {label} in {all}"))
}

fn finding_codes(v: &Value) -> Vec<(String, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["severity"].as_str().unwrap().to_owned(),
                f["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn assert_no_canary(run: &Run) {
    for text in [&run.stdout, &run.stderr] {
        assert!(!text.contains("CANARY"), "secret printed: {text}");
        assert!(!text.contains(KRAKEN_SECRET), "secret printed: {text}");
        assert!(!text.contains("PRIVATE KEY"), "secret printed: {text}");
    }
}

#[test]
fn verify_all_over_five_exchanges() {
    let sim = Sim::start();
    let env = setup(&sim);
    let run = env.run(&["verify", "--all", "--json"]).ok();
    assert_no_canary(&run);
    let all = json(&run);
    assert_eq!(all.as_array().unwrap().len(), 6);
    for v in all.as_array().unwrap() {
        for k in [
            "label",
            "exchange",
            "authenticated",
            "permissions",
            "ip_restricted",
            "ip_whitelist",
            "findings",
            "error",
        ] {
            assert!(v.get(k).is_some(), "{k} missing in {v}");
        }
        for s in [
            "read", "trade", "withdraw", "transfer", "margin", "futures", "options",
        ] {
            let p = &v["permissions"][s];
            assert!(p.is_boolean() || p.is_null(), "{s}: {p}");
        }
    }
    let b = entry(&all, "binance-bot");
    assert_eq!(b["exchange"], "binance");
    assert_eq!(b["authenticated"], true);
    assert_eq!(b["permissions"]["trade"], true);
    assert_eq!(b["permissions"]["withdraw"], false);
    assert_eq!(b["ip_restricted"], true);
    assert!(b["ip_whitelist"].is_null(), "Binance does not list IPs");
    assert!(b["error"].is_null());

    let c = entry(&all, "coinbase-es");
    assert_eq!(c["authenticated"], true, "{c}");
    assert!(c["ip_restricted"].is_null());
    assert_eq!(
        finding_codes(c),
        [("info".into(), "ip_restriction_unknown".into())]
    );

    let k = entry(&all, "kraken-bot");
    assert_eq!(k["authenticated"], true, "{k}");
    assert_eq!(k["permissions"]["trade"], false);
    assert_eq!(
        k["ip_whitelist"],
        serde_json::json!(["198.51.100.1", "198.51.100.2"])
    );

    let o = entry(&all, "okx-bot");
    assert_eq!(o["authenticated"], true, "{o}");
    assert_eq!(o["ip_whitelist"], serde_json::json!(["192.0.2.10"]));

    let y = entry(&all, "bybit-bot");
    assert_eq!(y["authenticated"], true, "{y}");
    assert_eq!(y["permissions"]["withdraw"], true);
    assert_eq!(y["status"], "critical");
    assert!(
        finding_codes(y).contains(&("critical".into(), "withdraw_undeclared".into())),
        "{y}"
    );

    let u = entry(&all, "kucoin-x");
    assert_eq!(u["status"], "not_supported");
    assert_eq!(u["error"]["code"], "not_supported");

    // The last check is stored and shown.
    let show = env.run(&["show", "bybit-bot", "--json"]).ok();
    let d = json(&show);
    assert_eq!(d["last_audit_result"], "critical");
    assert_eq!(
        d["last_audit_permissions"],
        serde_json::json!(["read", "trade", "withdraw"])
    );
    assert!(d["last_audit_at"].as_i64().unwrap() > 1_700_000_000);
    let show = env.run(&["show", "kucoin-x", "--json"]).ok();
    assert!(json(&show)["last_audit_at"].is_null());

    // One `verify` audit entry per stored check (none for KuCoin), and the
    // chain still verifies.
    let log = env.run(&["log", "--action", "verify", "--json"]).ok();
    assert_no_canary(&log);
    let entries = json(&log);
    let mut labels: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key_label"].as_str().unwrap())
        .collect();
    labels.sort_unstable();
    assert_eq!(
        labels,
        [
            "binance-bot",
            "bybit-bot",
            "coinbase-es",
            "kraken-bot",
            "okx-bot"
        ]
    );
    env.run(&["log", "--verify"]).ok();

    // One label gives one object; the human table names the finding.
    let one = env.run(&["verify", "okx-bot", "--json"]).ok();
    assert_eq!(json(&one)["label"], "okx-bot");
    let table = env.run(&["verify", "--all"]).ok();
    assert_no_canary(&table);
    assert!(table.stdout.contains("LABEL"), "{}", table.stdout);
    assert!(
        table.stdout.contains("withdraw_undeclared"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("192.0.2.10"), "{}", table.stdout);
}

#[test]
fn a_one_bit_wrong_secret_exits_6() {
    let sim = Sim::start();
    let env = setup(&sim);
    let mut wrong = BYBIT_SECRET.as_bytes().to_vec();
    wrong[12] ^= 0x01;
    let wrong = String::from_utf8(wrong).unwrap();
    env.run_stdin(
        &["edit", "bybit-bot", "--secret-stdin"],
        &format!("{wrong}\n"),
    )
    .ok();
    let run = env.run(&["verify", "bybit-bot", "--json"]).code(6);
    assert_no_canary(&run);
    let v = json(&run);
    assert_eq!(v["authenticated"], false);
    assert_eq!(v["status"], "rejected");
    assert_eq!(v["error"]["code"], "rejected");
    assert_eq!(v["error"]["exchange_code"], "10004", "Bybit: bad signature");
    let run = env.run(&["verify", "--all"]).code(6);
    assert!(run.stdout.contains("rejected"), "{}", run.stdout);
    let d = json(&env.run(&["show", "bybit-bot", "--json"]).ok());
    assert_eq!(d["last_audit_result"], "rejected");
    // The other keys still pass on their own.
    env.run(&["verify", "okx-bot"]).ok();
}

#[test]
fn simulator_faults_exit_6_without_a_panic() {
    let sim = Sim::start();
    let env = setup(&sim);
    sim.handle.add_fault(
        Fault::new(FaultKind::ServerError)
            .on(SimExchange::Okx)
            .times(0),
    );
    let run = env.run(&["verify", "okx-bot", "--json"]).code(6);
    let v = json(&run);
    assert_eq!(v["status"], "unreachable");
    assert_eq!(v["error"]["code"], "server_error");
    assert_eq!(v["error"]["kind"], "exchange");
    sim.handle.clear_faults();

    sim.handle.add_fault(Fault {
        latency_ms: 5_000,
        ..Fault::new(FaultKind::Latency)
            .on(SimExchange::Binance)
            .times(0)
    });
    let started = std::time::Instant::now();
    let run = env
        .run(&["verify", "--all", "--json", "--timeout", "1"])
        .code(6);
    assert!(started.elapsed() < Duration::from_secs(30));
    let all = json(&run);
    assert_eq!(entry(&all, "binance-bot")["error"]["code"], "timeout");
    assert_eq!(entry(&all, "okx-bot")["authenticated"], true);
    let d = json(&env.run(&["show", "binance-bot", "--json"]).ok());
    assert_eq!(d["last_audit_result"], "unreachable");
    sim.handle.clear_faults();

    // Nothing listening at all.
    drop(sim);
    let run = env.run(&["verify", "kraken-bot"]).code(6);
    assert!(run.stdout.contains("unreachable"), "{}", run.stdout);
}

#[test]
fn usage_and_unknown_labels() {
    let env = Env::init();
    env.run(&["verify"]).code(2);
    env.run(&["verify", "x", "--all"]).code(2);
    env.run(&["verify", "nope"]).code(7);
    let run = env.run(&["verify", "--all", "--json"]).ok();
    assert_eq!(json(&run), serde_json::json!([]));
    // A key of an exchange without a live adapter is reported, exit 0.
    env.run_stdin(
        &[
            "add",
            "--exchange",
            "other",
            "--label",
            "misc",
            "--api-key",
            "whatever",
            "--secret-stdin",
        ],
        "CANARYVERIFYother\n",
    )
    .ok();
    let run = env.run(&["verify", "misc"]).ok();
    assert!(
        run.stdout.contains("not supported for live checks"),
        "{}",
        run.stdout
    );
}
