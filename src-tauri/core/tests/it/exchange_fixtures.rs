//! The exchanges' documented answers (`tests/data/exchange/<exchange>/*.json`,
//! each with the documentation page it was copied from) against the client's
//! parsers and against the simulator: the parser reads each documented
//! introspection answer, and the simulator answers with at least the fields
//! the documentation shows.

use std::collections::BTreeSet;
use std::path::PathBuf;

use keyward_core::exchange::{Credentials, ExchangeClient, HttpConfig};
use keyward_core::fuzzing::exchange_response;
use keyward_core::model::{Environment, Exchange};
use keyward_sim::{Accounts, KeyAccount, SimExchange, SimScope};
use serde_json::Value;

fn fixture(exchange: &str, name: &str) -> Value {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests/data/exchange",
        exchange,
        &format!("{name}.json"),
    ]
    .iter()
    .collect();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let v: Value = serde_json::from_str(&text).unwrap();
    let source = v["source"]
        .as_str()
        .expect("every fixture names its source");
    assert!(source.starts_with("https://"), "{source}");
    v
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// The introspection object inside a documented answer, as the client's
/// report keeps it in `raw`.
fn introspection_object(exchange: Exchange, response: &Value) -> Value {
    match exchange {
        Exchange::Bybit | Exchange::Kraken => response["result"].clone(),
        Exchange::Okx => response["data"][0].clone(),
        _ => response.clone(),
    }
}

/// The documented introspection answer parses into an authenticated report.
fn parses(exchange: Exchange, name: &str) -> keyward_core::exchange::KeyReport {
    let f = fixture(exchange.as_str(), name);
    let status = f["status"].as_u64().unwrap() as u16;
    let body = f["response"].to_string();
    let report = exchange_response(exchange, false, status, None, body.as_bytes())
        .unwrap_or_else(|e| panic!("{exchange} {name}: {e}"));
    assert!(report.authenticated, "{exchange} {name}: {report:?}");
    report
}

/// The simulator's introspection answer has every field of the documented
/// one.
async fn simulator_agrees(exchange: Exchange, name: &str, account: KeyAccount, creds: Credentials) {
    let f = fixture(exchange.as_str(), name);
    let documented = keys(&introspection_object(exchange, &f["response"]));
    let sim_ex = account.exchange;
    let (_, sim) = keyward_sim::spawn(Accounts {
        keys: vec![account],
        ..Accounts::default()
    })
    .await
    .unwrap();
    let client = ExchangeClient::new(HttpConfig::default()).unwrap();
    let env = Environment::Custom(sim.url(sim_ex));
    let report = client
        .endpoint(exchange, &env)
        .unwrap()
        .verify(&creds)
        .await
        .unwrap();
    assert!(report.authenticated, "{exchange}: {report:?}");
    let served = keys(&report.raw);
    let missing: Vec<_> = documented.difference(&served).collect();
    assert!(
        missing.is_empty(),
        "{exchange}: the simulator lacks documented fields {missing:?}"
    );
}

#[test]
fn bybit_documented_query_api_answer_parses() {
    let r = parses(Exchange::Bybit, "query-api");
    assert_eq!(
        r.ip_whitelist,
        Some(vec![
            "18.181.170.164".to_string(),
            "13.212.45.47".to_string(),
            "13.212.45.48".to_string()
        ])
    );
    assert_eq!(r.expires_at, None, "1970-01-01 is no expiry");
    assert!(r.notes.iter().any(|n| n.contains("Main-account")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bybit_simulator_serves_the_documented_query_api_fields() {
    simulator_agrees(
        Exchange::Bybit,
        "query-api",
        KeyAccount::hmac(SimExchange::Bybit, "BYBITDOC", "s3cret", &[SimScope::Read]),
        Credentials::hmac("BYBITDOC", "s3cret"),
    )
    .await;
}

fn with_permissions(perms: &[&str]) -> keyward_core::exchange::KeyReport {
    let mut f = fixture("kraken", "get-api-key-info");
    f["response"]["result"]["permissions"] = serde_json::json!(perms);
    exchange_response(
        Exchange::Kraken,
        false,
        200,
        None,
        f["response"].to_string().as_bytes(),
    )
    .unwrap()
}

#[test]
fn kraken_documented_permissions_are_read_as_named() {
    let r = parses(Exchange::Kraken, "get-api-key-info");
    let p = &r.permissions;
    assert_eq!(
        (p.read, p.trade, p.withdraw),
        (Some(true), Some(true), Some(true))
    );
    // close-trades (not "cancel-close-trades") is a trading permission.
    let r = with_permissions(&["query-funds", "close-trades"]);
    assert_eq!(r.permissions.trade, Some(true));
    assert_eq!(r.permissions.withdraw, Some(false));
    // Adding or changing withdrawal addresses counts as withdraw risk.
    for p in ["add-withdraw-address", "update-withdraw-address"] {
        let r = with_permissions(&["query-funds", p]);
        assert_eq!(r.permissions.withdraw, Some(true), "{p}");
        assert!(r.notes.iter().any(|n| n.contains(p)), "{p}: {:?}", r.notes);
    }
    // Every documented value is known: no "unknown" note.
    let all = [
        "query-funds",
        "add-funds",
        "earn-funds",
        "query-open-trades",
        "query-closed-trades",
        "query-ledger",
        "export-data",
        "create-ws-token",
    ];
    let r = with_permissions(&all);
    assert_eq!(r.permissions.withdraw, Some(false));
    assert_eq!(r.permissions.trade, Some(false));
    assert!(
        !r.notes.iter().any(|n| n.contains("does not know")),
        "{:?}",
        r.notes
    );
}

#[test]
fn an_unknown_kraken_permission_is_reported_and_withdraw_is_never_a_definite_no() {
    let r = with_permissions(&["query-funds", "move-funds-elsewhere"]);
    assert_eq!(r.permissions.withdraw, None);
    assert_eq!(r.permissions.trade, None);
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("does not know") && n.contains("move-funds-elsewhere")),
        "{:?}",
        r.notes
    );
    // A known grant stays a definite yes.
    let r = with_permissions(&["withdraw-funds", "move-funds-elsewhere"]);
    assert_eq!(r.permissions.withdraw, Some(true));
}

#[test]
fn binance_trading_authority_expiry_is_not_the_keys_expiry() {
    let r = parses(Exchange::Binance, "api-restrictions-openapi");
    assert_eq!(r.expires_at, None);
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("trading permission expires on 2021-08-15T00:00:00.000Z")),
        "{:?}",
        r.notes
    );
    let r = parses(Exchange::Binance, "api-restrictions");
    assert_eq!(r.permissions.read, Some(true));
    assert_eq!(r.permissions.trade, Some(false));
    assert_eq!(r.ip_restricted, Some(false));
    assert!(!r.notes.iter().any(|n| n.contains("trading permission")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kraken_simulator_serves_the_documented_fields_and_permission_names() {
    let secret =
        "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==";
    simulator_agrees(
        Exchange::Kraken,
        "get-api-key-info",
        KeyAccount::hmac(
            SimExchange::Kraken,
            "KRAKENDOC",
            secret,
            &[SimScope::Read, SimScope::Trade, SimScope::Withdraw],
        ),
        Credentials::hmac("KRAKENDOC", secret),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_simulator_serves_the_documented_fields() {
    simulator_agrees(
        Exchange::Binance,
        "api-restrictions",
        KeyAccount::hmac(SimExchange::Binance, "BINDOC", "s3cret", &[SimScope::Read]),
        Credentials::hmac("BINDOC", "s3cret"),
    )
    .await;
}

/// Every documented permission value the simulator sends is one the
/// documentation lists, and the client knows all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kraken_simulator_sends_only_documented_permission_values() {
    let documented = [
        "query-funds",
        "add-funds",
        "withdraw-funds",
        "earn-funds",
        "query-open-trades",
        "query-closed-trades",
        "modify-trades",
        "close-trades",
        "query-ledger",
        "export-data",
        "create-ws-token",
        "add-withdraw-address",
        "update-withdraw-address",
    ];
    let note = fixture("kraken", "get-api-key-info")["note"]
        .as_str()
        .unwrap()
        .to_string();
    for p in documented {
        assert!(note.contains(p), "{p}");
    }
    let secret =
        "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==";
    let (_, sim) = keyward_sim::spawn(Accounts {
        keys: vec![KeyAccount::hmac(
            SimExchange::Kraken,
            "KRAKENALL",
            secret,
            &[SimScope::Read, SimScope::Trade, SimScope::Withdraw],
        )],
        ..Accounts::default()
    })
    .await
    .unwrap();
    let client = ExchangeClient::new(HttpConfig::default()).unwrap();
    let env = Environment::Custom(sim.url(SimExchange::Kraken));
    let r = client
        .endpoint(Exchange::Kraken, &env)
        .unwrap()
        .verify(&Credentials::hmac("KRAKENALL", secret))
        .await
        .unwrap();
    let sent = r.raw["permissions"].as_array().unwrap();
    assert!(sent.iter().any(|p| p == "close-trades"));
    for p in sent {
        assert!(documented.contains(&p.as_str().unwrap()), "{p}");
    }
    assert!(!r.notes.iter().any(|n| n.contains("does not know")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okx_withdrawal_address_is_read_from_to() {
    use keyward_core::exchange::Timestamp;
    use keyward_sim::{ActivityItem, ActivityKind};
    let f = fixture("okx", "withdrawal-history");
    let documented = keys(&f["response"]["data"][0]);
    assert!(documented.contains("to") && !documented.contains("toAddr"));
    let now = Timestamp::now().unix_ms();
    let (_, sim) = keyward_sim::spawn(Accounts {
        keys: vec![KeyAccount {
            passphrase: Some("Pass-1".into()),
            activity: vec![ActivityItem {
                kind: ActivityKind::Withdrawal,
                id: "15447421".into(),
                time_ms: now - 60_000,
                symbol: String::new(),
                side: String::new(),
                asset: "ETH".into(),
                amount: "0.029809".into(),
                price: String::new(),
                status: String::new(),
                address: "0xa30d1fab7CF18C7B6C579".into(),
                tx_id: "0x35cb360a174d".into(),
            }],
            ..KeyAccount::hmac(
                SimExchange::Okx,
                "OKXDOC",
                "22582BD0CFF14C41EDBF1AB98506286D",
                &[SimScope::Read],
            )
        }],
        ..Accounts::default()
    })
    .await
    .unwrap();
    let client = ExchangeClient::new(HttpConfig::default()).unwrap();
    let env = Environment::Custom(sim.url(SimExchange::Okx));
    let a = client
        .endpoint(Exchange::Okx, &env)
        .unwrap()
        .recent_activity(
            &Credentials::hmac("OKXDOC", "22582BD0CFF14C41EDBF1AB98506286D")
                .with_passphrase("Pass-1"),
            Timestamp::from_unix_ms(now - 3_600_000),
        )
        .await
        .unwrap();
    let w = &a.withdrawals.unwrap()[0];
    assert_eq!(w.address.as_deref(), Some("0xa30d1fab7CF18C7B6C579"));
    // The simulator's row has every documented field.
    use keyward_core::exchange::sign;
    let ts = Timestamp::now().to_rfc3339();
    let path = "/api/v5/asset/withdrawal-history";
    let sig = sign::okx(
        "22582BD0CFF14C41EDBF1AB98506286D",
        &sign::okx_prehash(&ts, "GET", path, ""),
    );
    let body: Value = reqwest::Client::new()
        .get(format!("{}{path}", sim.url(SimExchange::Okx)))
        .header("OK-ACCESS-KEY", "OKXDOC")
        .header("OK-ACCESS-SIGN", sig)
        .header("OK-ACCESS-TIMESTAMP", ts)
        .header("OK-ACCESS-PASSPHRASE", "Pass-1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let served = keys(&body["data"][0]);
    let missing: Vec<_> = documented.difference(&served).collect();
    assert!(
        missing.is_empty(),
        "the simulator lacks {missing:?}: {body}"
    );
}

#[test]
fn kraken_too_many_requests_is_a_rate_limit() {
    let e = exchange_response(
        Exchange::Kraken,
        false,
        200,
        None,
        br#"{"error":["EGeneral:Too many requests"]}"#,
    )
    .unwrap_err();
    assert_eq!(e.code(), "rate_limited", "{e:?}");
}

#[test]
fn okx_documented_account_config_parses() {
    let r = parses(Exchange::Okx, "account-config");
    let p = &r.permissions;
    assert_eq!(
        (p.read, p.trade, p.withdraw),
        (Some(true), Some(true), Some(true))
    );
    assert_eq!(r.ip_restricted, Some(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okx_simulator_serves_the_documented_account_config_fields() {
    simulator_agrees(
        Exchange::Okx,
        "account-config",
        KeyAccount {
            passphrase: Some("Pass-1".into()),
            ..KeyAccount::hmac(
                SimExchange::Okx,
                "OKXCFG",
                "22582BD0CFF14C41EDBF1AB98506286D",
                &[SimScope::Read],
            )
        },
        Credentials::hmac("OKXCFG", "22582BD0CFF14C41EDBF1AB98506286D").with_passphrase("Pass-1"),
    )
    .await;
}
