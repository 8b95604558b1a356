//! The exchanges' documented answers (`tests/data/exchange/<exchange>/*.json`,
//! each with the documentation page it was copied from) against the client's
//! parsers and against the simulator: the parser reads each documented
//! introspection answer, and the simulator answers with at least the fields
//! the documentation shows.

use std::collections::BTreeSet;
use std::path::PathBuf;

use keyward_core::exchange::{Credentials, Environment, Exchange, ExchangeClient, HttpConfig};
use keyward_core::fuzzing::exchange_response;
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
    let env: Environment = sim.url(sim_ex).parse().unwrap();
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
