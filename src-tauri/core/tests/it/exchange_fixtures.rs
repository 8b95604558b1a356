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

// ---------------------------------------------------------------------------
// Sub-account key management through the master account's key: the
// documented answers, and the simulator's lifecycle (create → the new key
// authenticates → modify → list → delete → the key is refused), with raw
// requests signed by the core's signers.

mod sub_accounts {
    use super::*;
    use keyward_core::exchange::{KeyReport, Timestamp, sign};
    use keyward_sim::SubAccount;
    use serde_json::json;

    /// Every documented sub-account answer loads with its source page.
    #[test]
    fn documented_sub_account_answers_load() {
        for (ex, name) in [
            ("bybit", "create-sub-api"),
            ("bybit", "update-sub-api"),
            ("bybit", "delete-sub-api"),
            ("bybit", "sub-apikeys"),
            ("bybit", "query-sub-members"),
            ("okx", "subaccount-list"),
            ("okx", "subaccount-apikey-create"),
            ("okx", "subaccount-apikey-query"),
            ("okx", "subaccount-modify-apikey"),
            ("okx", "subaccount-delete-apikey"),
            ("binance", "subaccount-api-create"),
            ("binance", "subaccount-api-delete"),
            ("binance", "subaccount-api-permission"),
            ("binance", "subaccount-api-ip-restriction-add"),
            ("binance", "subaccount-api-ip-restriction-get"),
            ("binance", "subaccount-list"),
        ] {
            let f = fixture(ex, name);
            assert!(f["response"].is_object(), "{ex} {name}");
            assert_eq!(f["status"], 200, "{ex} {name}");
        }
    }

    fn sub(ex: SimExchange, id: &str) -> SubAccount {
        SubAccount {
            exchange: ex,
            id: id.into(),
            uid: Some("698827017768230914".into()),
            label: Some("bot sub".into()),
            created_at_ms: Some(1_700_000_000_000),
            note: None,
        }
    }

    /// `served` has every field of `documented` (objects), and each shared
    /// field has the same JSON type (string vs number vs boolean …).
    fn has_documented_fields(what: &str, documented: &Value, served: &Value) {
        let (Some(d), Some(s)) = (documented.as_object(), served.as_object()) else {
            panic!("{what}: not objects: {documented} / {served}");
        };
        for (k, dv) in d {
            let Some(sv) = s.get(k) else {
                panic!("{what}: the simulator lacks documented field {k:?}: {served}");
            };
            let kind = |v: &Value| match v {
                Value::Null => "null",
                Value::Bool(_) => "boolean",
                Value::Number(_) => "number",
                Value::String(_) => "string",
                Value::Array(_) => "array",
                Value::Object(_) => "object",
            };
            assert_eq!(kind(dv), kind(sv), "{what}: field {k:?}: {served}");
        }
    }

    /// A created key id passes the vault's id-shape check, as a real one.
    fn real_shape(ex: SimExchange, id: &str) {
        let exchange: keyward_core::model::Exchange = ex.as_str().parse().unwrap();
        keyward_core::model::validate::api_key_id(exchange, id)
            .unwrap_or_else(|e| panic!("{ex} created id {id:?}: {e}"));
    }

    async fn verify(ex: Exchange, base: &str, creds: &Credentials) -> KeyReport {
        let client = ExchangeClient::new(HttpConfig::default()).unwrap();
        let env = Environment::Custom(base.to_owned());
        client
            .endpoint(ex, &env)
            .unwrap()
            .verify(creds)
            .await
            .unwrap()
    }

    async fn bybit(
        base: &str,
        method: &str,
        path: &str,
        payload: &str,
        key: &str,
        secret: &str,
    ) -> (u16, Value) {
        let ts = Timestamp::now().unix_ms();
        let sig = sign::bybit(secret, &sign::bybit_prehash(ts, key, 5000, payload));
        let http = reqwest::Client::new();
        let req = if method == "GET" {
            http.get(format!("{base}{path}?{payload}"))
        } else {
            http.post(format!("{base}{path}"))
                .header("Content-Type", "application/json")
                .body(payload.to_string())
        };
        let resp = req
            .header("X-BAPI-API-KEY", key)
            .header("X-BAPI-TIMESTAMP", ts.to_string())
            .header("X-BAPI-RECV-WINDOW", "5000")
            .header("X-BAPI-SIGN", sig)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    const BY_MASTER: (&str, &str) = ("BYMASTER", "bybit-master-secret");
    const BY_READ: (&str, &str) = ("BYMASTERRO", "bybit-master-ro-secret");
    const BY_SUB: (&str, &str) = ("BYSUBKEY", "bybit-sub-secret");
    const BY_UID: &str = "100400345";

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bybit_master_key_manages_sub_account_keys_as_documented() {
        let (_, sim) = keyward_sim::spawn(Accounts {
            rate_limits: false,
            keys: vec![
                KeyAccount {
                    ips: vec!["192.0.2.20".into()],
                    ..KeyAccount::hmac(
                        SimExchange::Bybit,
                        BY_MASTER.0,
                        BY_MASTER.1,
                        &[SimScope::Read, SimScope::Transfer],
                    )
                },
                KeyAccount::hmac(SimExchange::Bybit, BY_READ.0, BY_READ.1, &[SimScope::Read]),
                KeyAccount {
                    sub_account: Some(BY_UID.into()),
                    ..KeyAccount::hmac(
                        SimExchange::Bybit,
                        BY_SUB.0,
                        BY_SUB.1,
                        &[SimScope::Read, SimScope::Transfer],
                    )
                },
            ],
            sub_accounts: vec![sub(SimExchange::Bybit, BY_UID)],
            ..Accounts::default()
        })
        .await
        .unwrap();
        let base = sim.url(SimExchange::Bybit);
        let (mk, ms) = BY_MASTER;

        // The master's sub UIDs.
        let (_, v) = bybit(&base, "GET", "/v5/user/query-sub-members", "", mk, ms).await;
        assert_eq!(v["retCode"], 0, "{v}");
        let doc = fixture("bybit", "query-sub-members");
        has_documented_fields("query-sub-members", &doc["response"], &v);
        has_documented_fields(
            "query-sub-members row",
            &doc["response"]["result"]["subMembers"][0],
            &v["result"]["subMembers"][0],
        );
        assert_eq!(v["result"]["subMembers"][0]["uid"], BY_UID);

        // Create: the secret comes back once.
        let body = json!({"subuid": 100400345, "note": "rot-1", "readOnly": 0,
            "ips": "203.0.113.9",
            "permissions": {"Spot": ["SpotTrade"], "Wallet": ["AccountTransfer"]}})
        .to_string();
        let (_, v) = bybit(&base, "POST", "/v5/user/create-sub-api", &body, mk, ms).await;
        assert_eq!(v["retCode"], 0, "{v}");
        let doc = fixture("bybit", "create-sub-api");
        has_documented_fields("create-sub-api", &doc["response"], &v);
        has_documented_fields(
            "create-sub-api result",
            &doc["response"]["result"],
            &v["result"],
        );
        has_documented_fields(
            "create-sub-api permissions",
            &doc["response"]["result"]["permissions"],
            &v["result"]["permissions"],
        );
        let new_key = v["result"]["apiKey"].as_str().unwrap().to_string();
        let new_secret = v["result"]["secret"].as_str().unwrap().to_string();
        assert!(!new_secret.is_empty());
        assert_eq!(v["result"]["readOnly"], 0);
        real_shape(SimExchange::Bybit, &new_key);

        // The new key authenticates on the normal endpoints, as a sub key.
        let creds = Credentials::hmac(new_key.clone(), new_secret.clone());
        let r = verify(Exchange::Bybit, &base, &creds).await;
        assert!(r.authenticated, "{r:?}");
        assert_eq!(r.permissions.trade, Some(true));
        assert_eq!(r.ip_whitelist, Some(vec!["203.0.113.9".to_string()]));
        assert_eq!(r.raw["isMaster"], false);
        assert_eq!(r.raw["secret"], "", "query-api never shows the secret");

        // "one of below types must be passed": an empty list is not
        // taken as passed (the strict reading), and a read-only key keeps
        // its lists but can write nothing.
        let body = json!({"subuid": 100400345, "readOnly": 1,
            "permissions": {"Spot": []}})
        .to_string();
        let (_, v) = bybit(&base, "POST", "/v5/user/create-sub-api", &body, mk, ms).await;
        assert_ne!(
            v["retCode"], 0,
            "an empty permission list passes no type: {v}"
        );
        let body = json!({"subuid": 100400345, "readOnly": 1,
            "permissions": {"Spot": ["SpotTrade"]}})
        .to_string();
        let (_, v) = bybit(&base, "POST", "/v5/user/create-sub-api", &body, mk, ms).await;
        assert_eq!(v["retCode"], 0, "{v}");
        let ro = Credentials::hmac(
            v["result"]["apiKey"].as_str().unwrap().to_string(),
            v["result"]["secret"].as_str().unwrap().to_string(),
        );
        let r = verify(Exchange::Bybit, &base, &ro).await;
        assert!(r.authenticated, "{r:?}");
        assert_eq!(
            r.permissions.trade,
            Some(false),
            "readOnly 1 writes nothing"
        );

        // Modify through the master key (`apikey` names the sub key).
        let body = json!({"apikey": new_key, "readOnly": 0, "ips": "203.0.113.10",
            "permissions": {"Wallet": ["AccountTransfer"]}})
        .to_string();
        let (_, v) = bybit(&base, "POST", "/v5/user/update-sub-api", &body, mk, ms).await;
        assert_eq!(v["retCode"], 0, "{v}");
        let doc = fixture("bybit", "update-sub-api");
        has_documented_fields(
            "update-sub-api result",
            &doc["response"]["result"],
            &v["result"],
        );
        assert_eq!(v["result"]["ips"], json!(["203.0.113.10"]));
        let r = verify(Exchange::Bybit, &base, &creds).await;
        assert_eq!(r.permissions.trade, Some(false), "{r:?}");
        assert_eq!(r.ip_whitelist, Some(vec!["203.0.113.10".to_string()]));

        // The list shows it with the documented fields (secret masked).
        let q = format!("subMemberId={BY_UID}");
        let (_, v) = bybit(&base, "GET", "/v5/user/sub-apikeys", &q, mk, ms).await;
        assert_eq!(v["retCode"], 0, "{v}");
        let doc = fixture("bybit", "sub-apikeys");
        has_documented_fields(
            "sub-apikeys result",
            &doc["response"]["result"],
            &v["result"],
        );
        let rows = v["result"]["result"].as_array().unwrap();
        let row = rows
            .iter()
            .find(|r| r["apiKey"] == new_key.as_str())
            .unwrap();
        has_documented_fields(
            "sub-apikeys row",
            &doc["response"]["result"]["result"][0],
            row,
        );
        has_documented_fields(
            "sub-apikeys permissions",
            &doc["response"]["result"]["result"][0]["permissions"],
            &row["permissions"],
        );
        assert_eq!(row["secret"], "******");
        assert_eq!(row["readOnly"], false);
        assert_eq!(row["ips"], json!(["203.0.113.10"]));
        assert!(rows.iter().any(|r| r["apiKey"] == BY_SUB.0));

        // Delete through the master key; the key fails at once with the
        // code an unknown key gets.
        let body = json!({"apikey": new_key}).to_string();
        let (_, v) = bybit(&base, "POST", "/v5/user/delete-sub-api", &body, mk, ms).await;
        let doc = fixture("bybit", "delete-sub-api");
        has_documented_fields("delete-sub-api", &doc["response"], &v);
        assert_eq!(v["retCode"], 0, "{v}");
        assert_eq!(v["result"], json!({}));
        let (status, v) = bybit(
            &base,
            "GET",
            "/v5/user/query-api",
            "",
            &new_key,
            &new_secret,
        )
        .await;
        assert_eq!((status, v["retCode"].clone()), (401, json!(10003)), "{v}");
        let (status, unknown) =
            bybit(&base, "GET", "/v5/user/query-api", "", "NOSUCHKEY", "x").await;
        assert_eq!((status, unknown["retCode"].clone()), (401, json!(10003)));
        let (_, v) = bybit(&base, "GET", "/v5/user/sub-apikeys", &q, mk, ms).await;
        let rows = v["result"]["result"].as_array().unwrap();
        assert!(rows.iter().all(|r| r["apiKey"] != new_key.as_str()));

        // A sub-account key may not manage keys; a read-only master key may
        // list ("Any permission") but not create; a foreign sub UID is not
        // the master's.
        let body = json!({"subuid": 100400345, "readOnly": 0,
            "permissions": {"Spot": ["SpotTrade"]}})
        .to_string();
        let (_, v) = bybit(
            &base,
            "POST",
            "/v5/user/create-sub-api",
            &body,
            BY_SUB.0,
            BY_SUB.1,
        )
        .await;
        assert_eq!(v["retCode"], 10005, "{v}");
        let (_, v) = bybit(&base, "GET", "/v5/user/sub-apikeys", &q, BY_SUB.0, BY_SUB.1).await;
        assert_eq!(v["retCode"], 10005, "{v}");
        let (_, v) = bybit(
            &base,
            "POST",
            "/v5/user/create-sub-api",
            &body,
            BY_READ.0,
            BY_READ.1,
        )
        .await;
        assert_eq!(v["retCode"], 10005, "{v}");
        let (_, v) = bybit(
            &base,
            "GET",
            "/v5/user/sub-apikeys",
            &q,
            BY_READ.0,
            BY_READ.1,
        )
        .await;
        assert_eq!(v["retCode"], 0, "{v}");
        let foreign = json!({"subuid": 999, "readOnly": 0, "permissions": {"Spot": ["SpotTrade"]}})
            .to_string();
        let (_, v) = bybit(&base, "POST", "/v5/user/create-sub-api", &foreign, mk, ms).await;
        assert_eq!(v["retCode"], 500010, "{v}");
    }

    async fn okx(
        base: &str,
        method: &str,
        path: &str,
        body: &str,
        (key, secret, pass): (&str, &str, &str),
    ) -> (u16, Value) {
        let ts = Timestamp::now().to_rfc3339();
        let sig = sign::okx(secret, &sign::okx_prehash(&ts, method, path, body));
        let http = reqwest::Client::new();
        let req = if method == "GET" {
            http.get(format!("{base}{path}"))
        } else {
            http.post(format!("{base}{path}"))
                .header("Content-Type", "application/json")
                .body(body.to_string())
        };
        let resp = req
            .header("OK-ACCESS-KEY", key)
            .header("OK-ACCESS-SIGN", sig)
            .header("OK-ACCESS-TIMESTAMP", ts)
            .header("OK-ACCESS-PASSPHRASE", pass)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    const OKX_MASTER: (&str, &str, &str) =
        ("OKXMASTER", "22582BD0CFF14C41EDBF1AB98506286D", "Master-1");
    const OKX_NOIP: (&str, &str, &str) =
        ("OKXNOIP", "11582BD0CFF14C41EDBF1AB98506286D", "Master-2");
    const OKX_SUB: (&str, &str, &str) = ("OKXSUB", "33582BD0CFF14C41EDBF1AB98506286D", "Sub-1");
    const OKX_SUBACCT: &str = "botsub01";

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn okx_master_key_manages_sub_account_keys_as_documented() {
        let okx_key = |(k, s, p): (&str, &str, &str), ips: &[&str]| KeyAccount {
            passphrase: Some(p.into()),
            ips: ips.iter().map(|i| i.to_string()).collect(),
            ..KeyAccount::hmac(SimExchange::Okx, k, s, &[SimScope::Read, SimScope::Trade])
        };
        let (_, sim) = keyward_sim::spawn(Accounts {
            rate_limits: false,
            keys: vec![
                okx_key(OKX_MASTER, &["192.0.2.30"]),
                okx_key(OKX_NOIP, &[]),
                KeyAccount {
                    sub_account: Some(OKX_SUBACCT.into()),
                    ..okx_key(OKX_SUB, &["192.0.2.31"])
                },
            ],
            sub_accounts: vec![sub(SimExchange::Okx, OKX_SUBACCT)],
            ..Accounts::default()
        })
        .await
        .unwrap();
        let base = sim.url(SimExchange::Okx);

        let (_, v) = okx(
            &base,
            "GET",
            "/api/v5/users/subaccount/list",
            "",
            OKX_MASTER,
        )
        .await;
        assert_eq!(v["code"], "0", "{v}");
        let doc = fixture("okx", "subaccount-list");
        has_documented_fields("subaccount/list", &doc["response"], &v);
        has_documented_fields(
            "subaccount/list row",
            &doc["response"]["data"][0],
            &v["data"][0],
        );
        assert_eq!(v["data"][0]["subAcct"], OKX_SUBACCT);

        // Create: secretKey comes back once.
        let body = json!({"subAcct": OKX_SUBACCT, "label": "rot-1", "passphrase": "Rot-Pass-1!",
            "perm": "read_only,trade", "ip": "203.0.113.9"})
        .to_string();
        let (_, v) = okx(
            &base,
            "POST",
            "/api/v5/users/subaccount/apikey",
            &body,
            OKX_MASTER,
        )
        .await;
        assert_eq!(v["code"], "0", "{v}");
        let doc = fixture("okx", "subaccount-apikey-create");
        has_documented_fields("subaccount/apikey", &doc["response"], &v);
        has_documented_fields(
            "subaccount/apikey row",
            &doc["response"]["data"][0],
            &v["data"][0],
        );
        let new_key = v["data"][0]["apiKey"].as_str().unwrap().to_string();
        let new_secret = v["data"][0]["secretKey"].as_str().unwrap().to_string();
        assert_eq!(v["data"][0]["perm"], "read_only,trade");
        assert_eq!(v["data"][0]["ip"], "203.0.113.9");
        real_shape(SimExchange::Okx, &new_key);

        // The new key authenticates with its passphrase.
        let creds =
            Credentials::hmac(new_key.clone(), new_secret.clone()).with_passphrase("Rot-Pass-1!");
        let r = verify(Exchange::Okx, &base, &creds).await;
        assert!(r.authenticated, "{r:?}");
        assert_eq!(r.permissions.trade, Some(true));
        assert_eq!(r.ip_whitelist, Some(vec!["203.0.113.9".to_string()]));

        // Reset its permission and IPs.
        let body = json!({"subAcct": OKX_SUBACCT, "apiKey": new_key, "perm": "read_only",
            "ip": "203.0.113.10"})
        .to_string();
        let (_, v) = okx(
            &base,
            "POST",
            "/api/v5/users/subaccount/modify-apikey",
            &body,
            OKX_MASTER,
        )
        .await;
        assert_eq!(v["code"], "0", "{v}");
        let doc = fixture("okx", "subaccount-modify-apikey");
        has_documented_fields(
            "modify-apikey row",
            &doc["response"]["data"][0],
            &v["data"][0],
        );
        assert_eq!(v["data"][0]["perm"], "read_only");
        let r = verify(Exchange::Okx, &base, &creds).await;
        assert_eq!(r.permissions.trade, Some(false), "{r:?}");
        assert_eq!(r.ip_whitelist, Some(vec!["203.0.113.10".to_string()]));

        // The query lists it.
        let path = format!("/api/v5/users/subaccount/apikey?subAcct={OKX_SUBACCT}");
        let (_, v) = okx(&base, "GET", &path, "", OKX_MASTER).await;
        assert_eq!(v["code"], "0", "{v}");
        let doc = fixture("okx", "subaccount-apikey-query");
        let rows = v["data"].as_array().unwrap();
        let row = rows
            .iter()
            .find(|r| r["apiKey"] == new_key.as_str())
            .unwrap();
        has_documented_fields(
            "subaccount/apikey query row",
            &doc["response"]["data"][0],
            row,
        );
        assert_eq!(row["ip"], "203.0.113.10");
        assert!(rows.iter().any(|r| r["apiKey"] == OKX_SUB.0));

        // Delete; the key then gets what an unknown key gets.
        let body = json!({"subAcct": OKX_SUBACCT, "apiKey": new_key}).to_string();
        let (_, v) = okx(
            &base,
            "POST",
            "/api/v5/users/subaccount/delete-apikey",
            &body,
            OKX_MASTER,
        )
        .await;
        let doc = fixture("okx", "subaccount-delete-apikey");
        has_documented_fields("delete-apikey", &doc["response"], &v);
        assert_eq!(v["data"], json!([{"subAcct": OKX_SUBACCT}]));
        let gone = (new_key.as_str(), new_secret.as_str(), "Rot-Pass-1!");
        let (status, v) = okx(&base, "GET", "/api/v5/account/config", "", gone).await;
        assert_eq!((status, v["code"].clone()), (401, json!("50111")), "{v}");
        let (status, v) = okx(
            &base,
            "GET",
            "/api/v5/account/config",
            "",
            ("NOSUCH", "x", "y"),
        )
        .await;
        assert_eq!((status, v["code"].clone()), (401, json!("50111")), "{v}");

        // A sub-account key is refused; a master key without an IP binding
        // may not write; a passphrase outside the documented rule is refused.
        let (status, v) = okx(&base, "GET", "/api/v5/users/subaccount/list", "", OKX_SUB).await;
        assert_eq!((status, v["code"].clone()), (200, json!("50030")), "{v}");
        let body =
            json!({"subAcct": OKX_SUBACCT, "label": "x", "passphrase": "Rot-Pass-1!"}).to_string();
        let (_, v) = okx(
            &base,
            "POST",
            "/api/v5/users/subaccount/apikey",
            &body,
            OKX_SUB,
        )
        .await;
        assert_eq!(v["code"], "50030", "{v}");
        let (status, v) = okx(
            &base,
            "POST",
            "/api/v5/users/subaccount/apikey",
            &body,
            OKX_NOIP,
        )
        .await;
        assert_eq!((status, v["code"].clone()), (403, json!("50035")), "{v}");
        let weak = json!({"subAcct": OKX_SUBACCT, "label": "x", "passphrase": "weak"}).to_string();
        let (_, v) = okx(
            &base,
            "POST",
            "/api/v5/users/subaccount/apikey",
            &weak,
            OKX_MASTER,
        )
        .await;
        assert_eq!(v["code"], "51000", "{v}");
    }

    async fn binance(
        base: &str,
        method: &str,
        path: &str,
        params: &str,
        (key, secret): (&str, &str),
    ) -> (u16, Value) {
        let q = format!("{params}&timestamp={}", Timestamp::now().unix_ms());
        let sig = sign::binance_hmac(secret, &q);
        let http = reqwest::Client::new();
        let req = match method {
            "POST" => http
                .post(format!("{base}{path}"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(format!("{q}&signature={sig}")),
            "DELETE" => http.delete(format!("{base}{path}?{q}&signature={sig}")),
            _ => http.get(format!("{base}{path}?{q}&signature={sig}")),
        };
        let resp = req.header("X-MBX-APIKEY", key).send().await.unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    const BN_MASTER: (&str, &str) = ("BNMASTER", "binance-master-secret");
    const BN_READ: (&str, &str) = ("BNMASTERRO", "binance-master-ro-secret");
    const BN_SUB: (&str, &str) = ("BNSUB", "binance-sub-secret");
    const BN_EMAIL: &str = "sub1@example.com";

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn binance_master_key_manages_sub_account_keys_as_documented() {
        let (_, sim) = keyward_sim::spawn(Accounts {
            rate_limits: false,
            keys: vec![
                KeyAccount::hmac(
                    SimExchange::Binance,
                    BN_MASTER.0,
                    BN_MASTER.1,
                    &[SimScope::Read, SimScope::Trade],
                ),
                KeyAccount::hmac(
                    SimExchange::Binance,
                    BN_READ.0,
                    BN_READ.1,
                    &[SimScope::Read],
                ),
                KeyAccount {
                    sub_account: Some(BN_EMAIL.into()),
                    ..KeyAccount::hmac(
                        SimExchange::Binance,
                        BN_SUB.0,
                        BN_SUB.1,
                        &[SimScope::Read, SimScope::Trade],
                    )
                },
            ],
            sub_accounts: vec![sub(SimExchange::Binance, BN_EMAIL)],
            ..Accounts::default()
        })
        .await
        .unwrap();
        let base = sim.url(SimExchange::Binance);
        let email = "sub1%40example.com";

        // Create: secretKey comes back once.
        let p = format!("email={email}&apiName=rot-1&status=2&ipAddress=203.0.113.9&canTrade=true");
        let (status, v) = binance(
            &base,
            "POST",
            "/sapi/v1/sub-account/subAccountApi",
            &p,
            BN_MASTER,
        )
        .await;
        assert_eq!(status, 200, "{v}");
        has_documented_fields(
            "subAccountApi create",
            &fixture("binance", "subaccount-api-create")["response"],
            &v,
        );
        let new_key = v["apiKey"].as_str().unwrap().to_string();
        let new_secret = v["secretKey"].as_str().unwrap().to_string();
        assert_eq!(v["status"], 2);
        assert_eq!(v["ipList"], json!(["203.0.113.9"]));
        real_shape(SimExchange::Binance, &new_key);

        // The new key authenticates on the normal endpoints.
        let creds = Credentials::hmac(new_key.clone(), new_secret.clone());
        let r = verify(Exchange::Binance, &base, &creds).await;
        assert!(r.authenticated, "{r:?}");
        assert_eq!(r.permissions.trade, Some(true));
        assert_eq!(r.ip_restricted, Some(true));

        // Change its permissions, then add an IP.
        let p =
            format!("email={email}&subAccountApiKey={new_key}&canTrade=false&canFuturesTrade=true");
        let (_, v) = binance(
            &base,
            "POST",
            "/sapi/v1/sub-account/subAccountApiPermission",
            &p,
            BN_MASTER,
        )
        .await;
        has_documented_fields(
            "subAccountApiPermission",
            &fixture("binance", "subaccount-api-permission")["response"],
            &v,
        );
        assert_eq!(
            (v["canTrade"].clone(), v["canFuturesTrade"].clone()),
            (json!(false), json!(true))
        );
        let r = verify(Exchange::Binance, &base, &creds).await;
        assert_eq!(r.permissions.trade, Some(false), "{r:?}");
        let p = format!("email={email}&subAccountApiKey={new_key}&status=2&ipAddress=203.0.113.10");
        let (_, v) = binance(
            &base,
            "POST",
            "/sapi/v2/sub-account/subAccountApi/ipRestriction",
            &p,
            BN_MASTER,
        )
        .await;
        has_documented_fields(
            "ipRestriction add",
            &fixture("binance", "subaccount-api-ip-restriction-add")["response"],
            &v,
        );
        assert_eq!(v["ipList"], json!(["203.0.113.9", "203.0.113.10"]));

        // The IP restriction query shows it (`ipRestrict` is a string).
        let p = format!("email={email}&subAccountApiKey={new_key}");
        let (_, v) = binance(
            &base,
            "GET",
            "/sapi/v1/sub-account/subAccountApi/ipRestriction",
            &p,
            BN_MASTER,
        )
        .await;
        has_documented_fields(
            "ipRestriction get",
            &fixture("binance", "subaccount-api-ip-restriction-get")["response"],
            &v,
        );
        assert_eq!(v["ipRestrict"], "true");
        assert_eq!(v["apiKey"], new_key.as_str());

        // Delete; the key then gets what an unknown key gets.
        let (status, v) = binance(
            &base,
            "DELETE",
            "/sapi/v1/sub-account/subAccountApi",
            &p,
            BN_MASTER,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(v, fixture("binance", "subaccount-api-delete")["response"]);
        let (status, v) = binance(
            &base,
            "GET",
            "/sapi/v1/account/apiRestrictions",
            "recvWindow=5000",
            (&new_key, &new_secret),
        )
        .await;
        assert_eq!((status, v["code"].clone()), (401, json!(-2015)), "{v}");
        let (status, v) = binance(
            &base,
            "GET",
            "/sapi/v1/account/apiRestrictions",
            "recvWindow=5000",
            ("NOSUCH", "x"),
        )
        .await;
        assert_eq!((status, v["code"].clone()), (401, json!(-2015)), "{v}");

        // A sub-account key is refused; a master key without trading may
        // read the IP restriction but not create.
        let p = format!("email={email}&apiName=x&status=1");
        let (status, v) = binance(
            &base,
            "POST",
            "/sapi/v1/sub-account/subAccountApi",
            &p,
            BN_SUB,
        )
        .await;
        assert_eq!((status, v["code"].clone()), (401, json!(-1002)), "{v}");
        let (_, v) = binance(
            &base,
            "POST",
            "/sapi/v1/sub-account/subAccountApi",
            &p,
            BN_READ,
        )
        .await;
        assert_eq!(v["code"], -2015, "{v}");
        let p = format!("email={email}&subAccountApiKey={}", BN_SUB.0);
        let (status, v) = binance(
            &base,
            "GET",
            "/sapi/v1/sub-account/subAccountApi/ipRestriction",
            &p,
            BN_READ,
        )
        .await;
        assert_eq!(
            (status, v["ipRestrict"].clone()),
            (200, json!("false")),
            "{v}"
        );

        // Query Sub-account List: the documented fields and types; a
        // sub-account key is refused.
        let (status, v) = binance(
            &base,
            "GET",
            "/sapi/v1/sub-account/list",
            "page=1&limit=200",
            BN_MASTER,
        )
        .await;
        assert_eq!(status, 200, "{v}");
        let documented = fixture("binance", "subaccount-list")["response"].clone();
        let rows = v["subAccounts"].as_array().expect("subAccounts");
        assert_eq!(rows.len(), 1, "{v}");
        has_documented_fields("sub-account/list", &documented["subAccounts"][0], &rows[0]);
        assert_eq!(rows[0]["email"], BN_EMAIL);
        assert_eq!(rows[0]["createTime"], 1_700_000_000_000i64);
        let (_, v) = binance(
            &base,
            "GET",
            "/sapi/v1/sub-account/list",
            "email=nobody%40example.com",
            BN_MASTER,
        )
        .await;
        assert_eq!(v["subAccounts"], json!([]), "{v}");
        let (status, v) =
            binance(&base, "GET", "/sapi/v1/sub-account/list", "page=1", BN_SUB).await;
        assert_eq!((status, v["code"].clone()), (401, json!(-1002)), "{v}");
    }
}
