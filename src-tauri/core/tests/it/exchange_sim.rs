//! The exchange adapters against the strict simulator: permissions and IPs
//! as configured, strictness (one-bit secret change, stale timestamps, a
//! reused Kraken nonce, a wrong OKX passphrase), revocation and its
//! confirmation, narrowing, recent activity, and the HTTP layer under
//! 429 + Retry-After, 5xx, malformed bodies, timeouts and dropped
//! connections.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use keyward_core::KindedError;
use keyward_core::exchange::*;
use keyward_core::model::{Environment, Exchange, KeyType, Scope};
use keyward_sim::{
    Accounts, ActivityItem, ActivityKind, Fault, FaultKind, KeyAccount, SimExchange, SimHandle,
    SimScope,
};

const BIN_SECRET: &str = "binance-secret-0123456789";
const OKX_SECRET: &str = "22582BD0CFF14C41EDBF1AB98506286D";
const OKX_PASS: &str = "Correct-Horse-1";
const BYBIT_SECRET: &str = "bybit-secret-0123456789";
const KRAKEN_SECRET: &str =
    "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==";
const CB_ES: &str = "organizations/org-1/apiKeys/es256";
const CB_ED: &str = "organizations/org-1/apiKeys/eddsa";

fn lf() -> p256::pkcs8::LineEnding {
    p256::pkcs8::LineEnding::LF
}

fn ed_key(seed: u8) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
}

fn ed_public_pem(k: &ed25519_dalek::SigningKey) -> String {
    use ed25519_dalek::pkcs8::EncodePublicKey;
    k.verifying_key().to_public_key_pem(lf()).unwrap()
}

fn ed_private_pem(k: &ed25519_dalek::SigningKey) -> String {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    k.to_pkcs8_pem(lf()).unwrap().to_string()
}

fn p256_key(byte: u8) -> p256::SecretKey {
    p256::SecretKey::from_slice(&[byte; 32]).unwrap()
}

fn p256_public_pem(k: &p256::SecretKey) -> String {
    use p256::pkcs8::EncodePublicKey;
    k.public_key().to_public_key_pem(lf()).unwrap()
}

fn now_ms() -> i64 {
    Timestamp::now().unix_ms()
}

fn activity(kinds: &[(ActivityKind, &str, &str)]) -> Vec<ActivityItem> {
    kinds
        .iter()
        .enumerate()
        .map(|(i, (kind, id, asset))| ActivityItem {
            kind: *kind,
            id: id.to_string(),
            time_ms: now_ms() - 60_000 * (i as i64 + 1),
            symbol: "BTCUSDT".into(),
            side: "buy".into(),
            asset: asset.to_string(),
            amount: "0.25".into(),
            price: "50000".into(),
            status: String::new(),
            address: "bc1qexample".into(),
            tx_id: format!("tx-{id}"),
        })
        .collect()
}

fn bybit_groups(groups: &[(&str, &[&str])]) -> std::collections::BTreeMap<String, Vec<String>> {
    groups
        .iter()
        .map(|(g, items)| (g.to_string(), items.iter().map(|i| i.to_string()).collect()))
        .collect()
}

fn accounts() -> Accounts {
    use SimScope::*;
    let act = activity(&[
        (ActivityKind::Order, "1001", ""),
        (ActivityKind::Withdrawal, "2001", "BTC"),
        (ActivityKind::Deposit, "3001", "ETH"),
    ]);
    let mut keys = vec![
        KeyAccount {
            ips: vec!["203.0.113.7".into()],
            activity: act.clone(),
            ..KeyAccount::hmac(
                SimExchange::Binance,
                "BINHMAC",
                BIN_SECRET,
                &[Read, Trade, Withdraw],
            )
        },
        KeyAccount::asymmetric(
            SimExchange::Binance,
            "BINED",
            &ed_public_pem(&ed_key(1)),
            &[Read],
        ),
        KeyAccount {
            activity: act.clone(),
            ..KeyAccount::asymmetric(
                SimExchange::Coinbase,
                CB_ES,
                &p256_public_pem(&p256_key(2)),
                &[Read, Trade],
            )
        },
        KeyAccount::asymmetric(
            SimExchange::Coinbase,
            CB_ED,
            &ed_public_pem(&ed_key(3)),
            &[Read, Withdraw],
        ),
        KeyAccount {
            ips: vec!["198.51.100.1".into(), "198.51.100.2".into()],
            activity: act.clone(),
            ..KeyAccount::hmac(
                SimExchange::Kraken,
                "KRAKENKEY",
                KRAKEN_SECRET,
                &[Read, Trade],
            )
        },
        KeyAccount {
            passphrase: Some(OKX_PASS.into()),
            ips: vec!["192.0.2.10".into()],
            activity: act.clone(),
            ..KeyAccount::hmac(
                SimExchange::Okx,
                "OKXKEY",
                OKX_SECRET,
                &[Read, Trade, Withdraw],
            )
        },
        KeyAccount {
            activity: act,
            ..KeyAccount::hmac(
                SimExchange::Bybit,
                "BYBITKEY",
                BYBIT_SECRET,
                &[Read, Trade, Withdraw, Transfer],
            )
        },
        KeyAccount::hmac(SimExchange::Bybit, "BYBITRO", BYBIT_SECRET, &[Read]),
        KeyAccount {
            ips: vec!["203.0.113.7".into()],
            ..KeyAccount::hmac(
                SimExchange::Bybit,
                "BYBITIP",
                BYBIT_SECRET,
                &[Read, Trade, Withdraw, Transfer],
            )
        },
        KeyAccount {
            ips: vec!["198.51.100.4".into()],
            parent_uid: Some("24617703".into()),
            ..KeyAccount::hmac(
                SimExchange::Bybit,
                "BYBITSUB",
                BYBIT_SECRET,
                &[Read, Trade, Transfer],
            )
        },
        KeyAccount {
            parent_uid: Some("24617703".into()),
            ..KeyAccount::hmac(
                SimExchange::Bybit,
                "BYBITSUBDEL",
                BYBIT_SECRET,
                &[Read, Transfer],
            )
        },
        KeyAccount::hmac(
            SimExchange::Bybit,
            "BYBITDEL",
            BYBIT_SECRET,
            &[Read, Transfer],
        ),
        // A main key with a permission object of many groups, set exactly.
        KeyAccount {
            bybit_permissions: Some(bybit_groups(&[
                ("ContractTrade", &["Order", "Position"]),
                ("Spot", &["SpotTrade"]),
                (
                    "Wallet",
                    &["AccountTransfer", "SubMemberTransfer", "Withdraw"],
                ),
                ("Options", &["OptionsTrade"]),
                ("Derivatives", &["DerivativesTrade"]),
                ("Exchange", &["ExchangeHistory"]),
                ("Earn", &["Earn"]),
            ])),
            ..KeyAccount::hmac(SimExchange::Bybit, "BYBITMANY", BYBIT_SECRET, &[])
        },
    ];
    keys.push(KeyAccount::hmac(
        SimExchange::Kraken,
        "KRAKEN2",
        KRAKEN_SECRET,
        &[Read],
    ));
    Accounts {
        keys,
        ..Accounts::default()
    }
}

fn creds(ex: Exchange) -> Credentials {
    match ex {
        Exchange::Binance => Credentials::hmac("BINHMAC", BIN_SECRET),
        Exchange::Coinbase => Credentials::new(
            CB_ES,
            p256_key(2).to_sec1_pem(lf()).unwrap().to_string(),
            KeyType::EcdsaJwt,
        ),
        Exchange::Kraken => Credentials::hmac("KRAKENKEY", KRAKEN_SECRET),
        Exchange::Okx => Credentials::hmac("OKXKEY", OKX_SECRET).with_passphrase(OKX_PASS),
        Exchange::Bybit => Credentials::hmac("BYBITKEY", BYBIT_SECRET),
        _ => unreachable!(),
    }
}

fn sim_ex(ex: Exchange) -> SimExchange {
    match ex {
        Exchange::Binance => SimExchange::Binance,
        Exchange::Coinbase => SimExchange::Coinbase,
        Exchange::Kraken => SimExchange::Kraken,
        Exchange::Okx => SimExchange::Okx,
        Exchange::Bybit => SimExchange::Bybit,
        _ => unreachable!(),
    }
}

fn fast_config() -> HttpConfig {
    HttpConfig {
        request_timeout: Duration::from_secs(3),
        connect_timeout: Duration::from_secs(2),
        backoff_base: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(5),
        ..HttpConfig::default()
    }
}

struct Fixture {
    sim: SimHandle,
    client: ExchangeClient,
}

impl Fixture {
    async fn new() -> Fixture {
        Fixture::with(accounts(), fast_config()).await
    }

    async fn with(accounts: Accounts, config: HttpConfig) -> Fixture {
        let (_, sim) = keyward_sim::spawn(accounts).await.unwrap();
        Fixture {
            sim,
            client: ExchangeClient::new(config).unwrap(),
        }
    }

    fn ep(&self, ex: Exchange) -> Endpoint {
        let env = Environment::Custom(self.sim.url(sim_ex(ex)));
        self.client.endpoint(ex, &env).unwrap()
    }
}

fn rejection(r: &KeyReport) -> &Rejection {
    assert!(!r.authenticated, "expected a rejection, got {r:?}");
    r.rejection.as_ref().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_reports_configured_permissions_and_ips() {
    let f = Fixture::new().await;

    let r = f
        .ep(Exchange::Binance)
        .verify(&creds(Exchange::Binance))
        .await
        .unwrap();
    assert!(r.authenticated);
    assert_eq!(r.permissions.read, Some(true));
    assert_eq!(r.permissions.trade, Some(true));
    assert_eq!(r.permissions.withdraw, Some(true));
    assert_eq!(r.permissions.futures, Some(false));
    assert_eq!(r.ip_restricted, Some(true));
    assert_eq!(r.ip_whitelist, None, "Binance does not report the list");
    let f1 = findings(&[Scope::Read, Scope::Trade], &r);
    assert!(
        f1.iter()
            .any(|f| f.code == "withdraw_undeclared" && f.severity == Severity::Critical)
    );

    let ed = Credentials::new("BINED", ed_private_pem(&ed_key(1)), KeyType::Ed25519);
    let r = f.ep(Exchange::Binance).verify(&ed).await.unwrap();
    assert!(r.authenticated, "{r:?}");
    assert_eq!(r.permissions.trade, Some(false));

    let r = f
        .ep(Exchange::Coinbase)
        .verify(&creds(Exchange::Coinbase))
        .await
        .unwrap();
    assert!(r.authenticated, "{r:?}");
    assert_eq!(
        (
            r.permissions.read,
            r.permissions.trade,
            r.permissions.withdraw
        ),
        (Some(true), Some(true), Some(false))
    );
    assert_eq!(
        (r.ip_restricted, r.ip_whitelist.clone()),
        (None, None),
        "Coinbase reports no IPs"
    );
    assert_eq!(r.permissions.futures, None);

    // Coinbase EdDSA key: base64 of seed ‖ public key, as Coinbase issues it.
    let k = ed_key(3);
    let mut raw = k.to_bytes().to_vec();
    raw.extend_from_slice(k.verifying_key().as_bytes());
    let ed = Credentials::new(CB_ED, STANDARD.encode(raw), KeyType::Ed25519);
    let r = f.ep(Exchange::Coinbase).verify(&ed).await.unwrap();
    assert!(r.authenticated, "{r:?}");
    assert_eq!(r.permissions.withdraw, Some(true));

    let r = f
        .ep(Exchange::Kraken)
        .verify(&creds(Exchange::Kraken))
        .await
        .unwrap();
    assert!(r.authenticated, "{r:?}");
    assert_eq!(
        (
            r.permissions.read,
            r.permissions.trade,
            r.permissions.withdraw
        ),
        (Some(true), Some(true), Some(false))
    );
    assert_eq!(r.permissions.transfer, None);
    assert_eq!(
        r.ip_whitelist,
        Some(vec!["198.51.100.1".to_string(), "198.51.100.2".to_string()])
    );
    assert_eq!(r.ip_restricted, Some(true));

    let r = f
        .ep(Exchange::Okx)
        .verify(&creds(Exchange::Okx))
        .await
        .unwrap();
    assert!(r.authenticated, "{r:?}");
    assert_eq!(
        (r.permissions.trade, r.permissions.withdraw),
        (Some(true), Some(true))
    );
    assert_eq!(r.ip_whitelist, Some(vec!["192.0.2.10".to_string()]));

    let r = f
        .ep(Exchange::Bybit)
        .verify(&creds(Exchange::Bybit))
        .await
        .unwrap();
    assert!(r.authenticated, "{r:?}");
    assert_eq!(
        (
            r.permissions.trade,
            r.permissions.withdraw,
            r.permissions.transfer,
            r.permissions.futures
        ),
        (Some(true), Some(true), Some(true), Some(false))
    );
    assert_eq!(
        (r.ip_restricted, r.ip_whitelist.clone()),
        (Some(false), Some(vec![]))
    );
    let fs = findings(&[Scope::Read, Scope::Trade, Scope::Withdraw], &r);
    let codes: Vec<_> = fs.iter().map(|f| f.code).collect();
    assert_eq!(codes, vec!["permission_undeclared", "no_ip_restriction"]);

    let ro = f
        .ep(Exchange::Bybit)
        .verify(&Credentials::hmac("BYBITRO", BYBIT_SECRET))
        .await
        .unwrap();
    assert_eq!(
        (ro.permissions.trade, ro.permissions.withdraw),
        (Some(false), Some(false))
    );

    // The printable per-key shape.
    let check = KeyCheck::new("bybit-bot", Exchange::Bybit, &[Scope::Read], &Ok(r));
    let json = serde_json::to_value(&check).unwrap();
    assert_eq!(json["permissions"]["withdraw"], true);
    assert_eq!(json["ip_whitelist"], serde_json::json!([]));
    assert!(json["error"].is_null());
}

fn flip_first_bit(s: &str) -> String {
    let mut b = s.as_bytes().to_vec();
    b[0] ^= 0x01;
    String::from_utf8(b).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bit_change_of_the_secret_is_rejected_with_the_exchange_code() {
    let f = Fixture::new().await;

    let r = f
        .ep(Exchange::Binance)
        .verify(&Credentials::hmac("BINHMAC", flip_first_bit(BIN_SECRET)))
        .await
        .unwrap();
    assert_eq!(
        (rejection(&r).code.as_str(), rejection(&r).reason),
        ("-1022", RejectReason::BadSignature)
    );

    let r = f
        .ep(Exchange::Okx)
        .verify(&Credentials::hmac("OKXKEY", flip_first_bit(OKX_SECRET)).with_passphrase(OKX_PASS))
        .await
        .unwrap();
    assert_eq!(
        (rejection(&r).code.as_str(), rejection(&r).reason),
        ("50113", RejectReason::BadSignature)
    );

    let r = f
        .ep(Exchange::Bybit)
        .verify(&Credentials::hmac("BYBITKEY", flip_first_bit(BYBIT_SECRET)))
        .await
        .unwrap();
    assert_eq!(
        (rejection(&r).code.as_str(), rejection(&r).reason),
        ("10004", RejectReason::BadSignature)
    );

    // Kraken's secret is base64: flip one bit of the decoded key.
    let mut raw = STANDARD.decode(KRAKEN_SECRET).unwrap();
    raw[0] ^= 0x01;
    let r = f
        .ep(Exchange::Kraken)
        .verify(&Credentials::hmac("KRAKENKEY", STANDARD.encode(raw)))
        .await
        .unwrap();
    // Kraken answers a signature mismatch with "EAPI:Invalid key"
    // (support.kraken.com "Common causes of invalid key error").
    assert_eq!(
        (rejection(&r).code.as_str(), rejection(&r).reason),
        ("EAPI:Invalid key", RejectReason::InvalidKey)
    );

    // Coinbase: one bit of the P-256 scalar.
    let mut scalar = [2u8; 32];
    scalar[31] ^= 0x01;
    let wrong = p256::SecretKey::from_slice(&scalar)
        .unwrap()
        .to_sec1_pem(lf())
        .unwrap();
    let r = f
        .ep(Exchange::Coinbase)
        .verify(&Credentials::new(
            CB_ES,
            wrong.to_string(),
            KeyType::EcdsaJwt,
        ))
        .await
        .unwrap();
    assert_eq!(rejection(&r).code, "401");

    // Binance Ed25519: one bit of the seed.
    let mut seed = [1u8; 32];
    seed[0] ^= 0x01;
    let k = ed25519_dalek::SigningKey::from_bytes(&seed);
    let r = f
        .ep(Exchange::Binance)
        .verify(&Credentials::new(
            "BINED",
            ed_private_pem(&k),
            KeyType::Ed25519,
        ))
        .await
        .unwrap();
    assert_eq!(rejection(&r).code, "-1022");

    let stats = f.sim.stats();
    assert_eq!(stats.auth_failures.values().sum::<u64>(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_okx_passphrase_and_unknown_keys_are_rejected() {
    let f = Fixture::new().await;
    let r = f
        .ep(Exchange::Okx)
        .verify(&Credentials::hmac("OKXKEY", OKX_SECRET).with_passphrase("Correct-Horse-2"))
        .await
        .unwrap();
    assert_eq!(
        (rejection(&r).code.as_str(), rejection(&r).reason),
        ("50105", RejectReason::WrongPassphrase)
    );
    let fs = findings(&[Scope::Read], &r);
    assert_eq!(
        (fs[0].severity, fs[0].code),
        (Severity::Critical, "rejected")
    );

    let r = f
        .ep(Exchange::Okx)
        .verify(&Credentials::hmac("NOPE", OKX_SECRET).with_passphrase(OKX_PASS))
        .await
        .unwrap();
    assert_eq!(rejection(&r).code, "50111");
    let r = f
        .ep(Exchange::Bybit)
        .verify(&Credentials::hmac("NOPE", BYBIT_SECRET))
        .await
        .unwrap();
    assert_eq!(rejection(&r).code, "10003");
    let r = f
        .ep(Exchange::Binance)
        .verify(&Credentials::hmac("NOPE", BIN_SECRET))
        .await
        .unwrap();
    assert_eq!(rejection(&r).code, "-2015");

    // No passphrase at all is a credentials error before any request.
    let e = f
        .ep(Exchange::Okx)
        .verify(&Credentials::hmac("OKXKEY", OKX_SECRET))
        .await
        .unwrap_err();
    assert!(matches!(e, ExchangeError::InvalidCredentials { .. }));
    assert_eq!(e.kind(), keyward_core::ErrorKind::Invalid);
}

/// Raw requests signed with the core signers but a stale timestamp or a
/// reused nonce: the simulator must refuse them with the exchange's code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_timestamps_and_reused_nonces_are_refused() {
    let f = Fixture::new().await;
    let http = reqwest::Client::new();
    let stale = now_ms() - 60_000;

    // Binance: outside recvWindow → -1021, HTTP 400.
    let q = format!("recvWindow=5000&timestamp={stale}");
    let sig = sign::binance_hmac(BIN_SECRET, &q);
    let url = format!(
        "{}/sapi/v1/account/apiRestrictions?{q}&signature={sig}",
        f.sim.url(SimExchange::Binance)
    );
    let resp = http
        .get(url)
        .header("X-MBX-APIKEY", "BINHMAC")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], -1021);

    // Binance: 1 s or more ahead of the server → -1021 too.
    let q = format!("timestamp={}", now_ms() + 5_000);
    let sig = sign::binance_hmac(BIN_SECRET, &q);
    let url = format!(
        "{}/sapi/v1/account/apiRestrictions?{q}&signature={sig}",
        f.sim.url(SimExchange::Binance)
    );
    let body: serde_json::Value = http
        .get(url)
        .header("X-MBX-APIKEY", "BINHMAC")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["code"], -1021);

    // OKX: more than 30 s off → 50102, HTTP 401.
    let ts = Timestamp::from_unix_ms(stale).to_rfc3339();
    let sig = sign::okx(
        OKX_SECRET,
        &sign::okx_prehash(&ts, "GET", "/api/v5/account/config", ""),
    );
    let resp = http
        .get(format!(
            "{}/api/v5/account/config",
            f.sim.url(SimExchange::Okx)
        ))
        .header("OK-ACCESS-KEY", "OKXKEY")
        .header("OK-ACCESS-SIGN", sig)
        .header("OK-ACCESS-TIMESTAMP", ts)
        .header("OK-ACCESS-PASSPHRASE", OKX_PASS)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "50102");

    // Bybit: older than recvWindow → 10002.
    let sig = sign::bybit(
        BYBIT_SECRET,
        &sign::bybit_prehash(stale, "BYBITKEY", 5000, ""),
    );
    let body: serde_json::Value = http
        .get(format!(
            "{}/v5/user/query-api",
            f.sim.url(SimExchange::Bybit)
        ))
        .header("X-BAPI-API-KEY", "BYBITKEY")
        .header("X-BAPI-TIMESTAMP", stale.to_string())
        .header("X-BAPI-RECV-WINDOW", "5000")
        .header("X-BAPI-SIGN", sig)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["retCode"], 10002);

    // Kraken: the same nonce twice → the second is EAPI:Invalid nonce; a
    // lower one too.
    let kraken = |nonce: u64| {
        let body = format!("nonce={nonce}");
        let sig = sign::kraken(
            KRAKEN_SECRET,
            "/0/private/GetApiKeyInfo",
            &nonce.to_string(),
            &body,
        )
        .unwrap();
        http.post(format!(
            "{}/0/private/GetApiKeyInfo",
            f.sim.url(SimExchange::Kraken)
        ))
        .header("API-Key", "KRAKEN2")
        .header("API-Sign", sig)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
    };
    let n = now_ms() as u64;
    let first: serde_json::Value = kraken(n).await.unwrap().json().await.unwrap();
    assert_eq!(first["error"], serde_json::json!([]));
    let again: serde_json::Value = kraken(n).await.unwrap().json().await.unwrap();
    assert_eq!(again["error"], serde_json::json!(["EAPI:Invalid nonce"]));
    let lower: serde_json::Value = kraken(n - 1).await.unwrap().json().await.unwrap();
    assert_eq!(lower["error"], serde_json::json!(["EAPI:Invalid nonce"]));

    // Coinbase: a JWT past its exp → 401.
    let pem = p256_key(2).to_sec1_pem(lf()).unwrap();
    let host = f.sim.addr().to_string();
    let uri = format!("GET {host}/api/v3/brokerage/key_permissions");
    let jwt = sign::coinbase_jwt(
        &pem,
        KeyType::EcdsaJwt,
        &sign::JwtClaims {
            key_name: CB_ES,
            uri: &uri,
            now_secs: stale / 1000 - 120,
            nonce_hex: "00ff",
        },
    )
    .unwrap();
    let resp = http
        .get(format!(
            "{}/api/v3/brokerage/key_permissions",
            f.sim.url(SimExchange::Coinbase)
        ))
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    // …and a fresh JWT whose uri names the prefix is refused as well.
    let bad_uri = format!("GET {host}/coinbase/api/v3/brokerage/key_permissions");
    let jwt = sign::coinbase_jwt(
        &pem,
        KeyType::EcdsaJwt,
        &sign::JwtClaims {
            key_name: CB_ES,
            uri: &bad_uri,
            now_secs: now_ms() / 1000,
            nonce_hex: "00ff",
        },
    )
    .unwrap();
    let resp = http
        .get(format!(
            "{}/api/v3/brokerage/key_permissions",
            f.sim.url(SimExchange::Coinbase)
        ))
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(resp.headers()["x-sim-reason"], "uri");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_offset_is_corrected_from_the_time_endpoint() {
    let f = Fixture::new().await;
    for ex in [
        Exchange::Binance,
        Exchange::Okx,
        Exchange::Bybit,
        Exchange::Coinbase,
    ] {
        // Coinbase JWTs live 120 s, so only a larger skew breaks them.
        let skew = if ex == Exchange::Coinbase {
            150_000
        } else {
            45_000
        };
        f.sim.set_clock_offset(sim_ex(ex), skew);
        let before = f
            .sim
            .stats()
            .auth_failures
            .get(&sim_ex(ex))
            .copied()
            .unwrap_or(0);
        let r = f.ep(ex).verify(&creds(ex)).await.unwrap();
        assert!(r.authenticated, "{ex}: {r:?}");
        let after = f
            .sim
            .stats()
            .auth_failures
            .get(&sim_ex(ex))
            .copied()
            .unwrap_or(0);
        assert_eq!(
            after - before,
            1,
            "{ex}: one refused attempt, then corrected"
        );
        // The offset is remembered: the next call goes straight through.
        assert!(f.ep(ex).verify(&creds(ex)).await.unwrap().authenticated);
        assert_eq!(
            f.sim
                .stats()
                .auth_failures
                .get(&sim_ex(ex))
                .copied()
                .unwrap_or(0),
            after
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bybit_revokes_via_api_and_confirm_revoked_sees_the_rejection() {
    let f = Fixture::new().await;
    let bybit = f.ep(Exchange::Bybit);
    let del = Credentials::hmac("BYBITDEL", BYBIT_SECRET);
    assert!(matches!(
        bybit.confirm_revoked(&del).await.unwrap(),
        RevocationCheck::StillActive
    ));
    assert!(matches!(
        bybit.revoke(&del).await.unwrap(),
        Revocation::Revoked { .. }
    ));
    match bybit.confirm_revoked(&del).await.unwrap() {
        RevocationCheck::Confirmed { rejection } => assert_eq!(rejection.code, "10003"),
        other => panic!("{other:?}"),
    }
    // A read-only key cannot delete itself on Bybit: manual steps instead.
    match bybit
        .revoke(&Credentials::hmac("BYBITRO", BYBIT_SECRET))
        .await
        .unwrap()
    {
        Revocation::Unsupported { steps, .. } => assert!(steps.len() >= 2),
        other => panic!("{other:?}"),
    }
    // A bad signature is not a confirmation.
    match bybit
        .confirm_revoked(&Credentials::hmac("BYBITRO", "wrong"))
        .await
        .unwrap()
    {
        RevocationCheck::Inconclusive { rejection, .. } => assert_eq!(rejection.code, "10004"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_exchanges_give_manual_steps_then_confirm_after_web_deletion() {
    let f = Fixture::new().await;
    for (ex, code) in [
        (Exchange::Binance, "-2015"),
        (Exchange::Coinbase, "401"),
        (Exchange::Kraken, "EAPI:Invalid key"),
        (Exchange::Okx, "50111"),
    ] {
        let ep = f.ep(ex);
        assert!(!ep.capabilities().revoke_via_api);
        match ep.revoke(&creds(ex)).await.unwrap() {
            Revocation::Unsupported { steps, reason } => {
                assert!(!reason.is_empty() && steps.len() == 3, "{ex}");
            }
            other => panic!("{ex}: {other:?}"),
        }
        assert!(matches!(
            ep.confirm_revoked(&creds(ex)).await.unwrap(),
            RevocationCheck::StillActive
        ));
        assert!(f.sim.revoke(sim_ex(ex), &creds(ex).api_key));
        match ep.confirm_revoked(&creds(ex)).await.unwrap() {
            RevocationCheck::Confirmed { rejection } => assert_eq!(rejection.code, code, "{ex}"),
            other => panic!("{ex}: {other:?}"),
        }
    }
}

/// Every exchange's "invalid key" answer can mean something else (an IP
/// allowlist, a signature, another environment): without a successful call
/// with the same credentials on the same endpoint shortly before, it proves
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_key_answer_without_a_recent_success_from_here_is_inconclusive() {
    let f = Fixture::new().await;
    for (ex, code) in [
        (Exchange::Binance, "-2015"),
        (Exchange::Coinbase, "401"),
        (Exchange::Kraken, "EAPI:Invalid key"),
        (Exchange::Okx, "50111"),
        (Exchange::Bybit, "10003"),
    ] {
        assert!(f.sim.revoke(sim_ex(ex), &creds(ex).api_key));
        match f.ep(ex).confirm_revoked(&creds(ex)).await.unwrap() {
            RevocationCheck::Inconclusive {
                rejection,
                why,
                check_by_hand,
            } => {
                assert_eq!(rejection.code, code, "{ex}");
                assert!(why.contains("also when"), "{ex}: {why}");
                assert!(check_by_hand.len() >= 2, "{ex}");
                assert!(
                    check_by_hand.iter().any(|s| s
                        .contains(&creds(ex).api_key.chars().take(8).collect::<String>())),
                    "{ex}: {check_by_hand:?}"
                );
            }
            other => panic!("{ex}: {other:?}"),
        }
    }
}

/// The issue's case: an IP-restricted Binance key checked from an address
/// outside its allowlist answers -2015 while it still trades.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ip_restricted_binance_key_checked_from_elsewhere_is_not_proven_dead() {
    let mut accounts = accounts();
    for k in &mut accounts.keys {
        if k.api_key == "BINHMAC" {
            k.enforce_ips = true;
        }
    }
    let f = Fixture::with(accounts, fast_config()).await;
    let ep = f.ep(Exchange::Binance);
    let c = creds(Exchange::Binance);
    let r = ep.verify(&c).await.unwrap();
    assert_eq!(rejection(&r).code, "-2015");
    match ep.confirm_revoked(&c).await.unwrap() {
        RevocationCheck::Inconclusive { check_by_hand, .. } => {
            assert!(
                check_by_hand
                    .iter()
                    .any(|s| s.contains("allowlisted address")),
                "{check_by_hand:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

/// A success long ago, or a success with other credentials, is no
/// baseline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_baseline_or_one_with_another_secret_proves_nothing() {
    let f = Fixture::with(
        accounts(),
        HttpConfig {
            proof_window: Duration::ZERO,
            ..fast_config()
        },
    )
    .await;
    let ep = f.ep(Exchange::Bybit);
    let c = creds(Exchange::Bybit);
    assert!(ep.verify(&c).await.unwrap().authenticated);
    tokio::time::sleep(Duration::from_millis(5)).await;
    f.sim.revoke(SimExchange::Bybit, &c.api_key);
    assert!(matches!(
        ep.confirm_revoked(&c).await.unwrap(),
        RevocationCheck::Inconclusive { .. }
    ));

    // Kraken answers a wrong signature with "EAPI:Invalid key": a success
    // with the right secret is no proof for a check made with a wrong one.
    let f = Fixture::new().await;
    let ep = f.ep(Exchange::Kraken);
    let good = creds(Exchange::Kraken);
    assert!(ep.verify(&good).await.unwrap().authenticated);
    let mut raw = STANDARD.decode(KRAKEN_SECRET).unwrap();
    raw[5] ^= 0x01;
    let wrong = Credentials::hmac("KRAKENKEY", STANDARD.encode(raw));
    match ep.confirm_revoked(&wrong).await.unwrap() {
        RevocationCheck::Inconclusive { rejection, .. } => {
            assert_eq!(rejection.code, "EAPI:Invalid key")
        }
        other => panic!("{other:?}"),
    }
    // With the right secret and a success just before, it is proof.
    f.sim.revoke(SimExchange::Kraken, &good.api_key);
    assert!(ep.confirm_revoked(&good).await.unwrap().is_confirmed());
}

/// Narrowing never loses the IP binding: a main key's IPs are never sent
/// (update-api has no `ips` since 2026-02-10), a sub key's are always sent
/// (update-sub-api unbinds a key when `ips` is omitted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bybit_narrowing_keeps_the_ip_binding() {
    let f = Fixture::new().await;
    let bybit = f.ep(Exchange::Bybit);
    let main = Credentials::hmac("BYBITIP", BYBIT_SECRET);
    let r = bybit
        .narrow(
            &main,
            &Narrowing {
                remove_withdraw: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(r.permissions.withdraw, Some(false));
    assert_eq!(r.permissions.trade, Some(true));
    assert_eq!(r.ip_whitelist, Some(vec!["203.0.113.7".to_string()]));
    assert!(r.notes.iter().any(|n| n.contains("Main-account key")));
    let e = bybit
        .narrow(
            &main,
            &Narrowing {
                ips: Some(vec!["192.0.2.1".into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ExchangeError::Unsupported { .. }), "{e:?}");

    let sub = Credentials::hmac("BYBITSUB", BYBIT_SECRET);
    let r = bybit.verify(&sub).await.unwrap();
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("Sub-account key of main account UID 24617703")),
        "{:?}",
        r.notes
    );
    let r = bybit
        .narrow(
            &sub,
            &Narrowing {
                ips: Some(vec!["198.51.100.5".into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(r.ip_whitelist, Some(vec!["198.51.100.5".to_string()]));
    let r = bybit
        .narrow(
            &sub,
            &Narrowing {
                read_only: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(r.ip_whitelist, Some(vec!["198.51.100.5".to_string()]));
    assert_eq!(r.permissions.trade, Some(false));

    // A sub key deletes itself through delete-sub-api.
    let del = Credentials::hmac("BYBITSUBDEL", BYBIT_SECRET);
    assert!(matches!(
        bybit.confirm_revoked(&del).await.unwrap(),
        RevocationCheck::StillActive
    ));
    assert!(matches!(
        bybit.revoke(&del).await.unwrap(),
        Revocation::Revoked { .. }
    ));
    assert!(bybit.confirm_revoked(&del).await.unwrap().is_confirmed());
}

/// The simulator applies the documented defaults of update-sub-api: `ips`
/// omitted = no binding, `readOnly` omitted = 0; update-api refuses `ips`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_applies_bybits_documented_update_defaults() {
    let f = Fixture::new().await;
    let http = reqwest::Client::new();
    let post = |key: &'static str, path: &'static str, body: &'static str| {
        let ts = now_ms();
        let sig = sign::bybit(BYBIT_SECRET, &sign::bybit_prehash(ts, key, 5000, body));
        http.post(format!("{}{path}", f.sim.url(SimExchange::Bybit)))
            .header("X-BAPI-API-KEY", key)
            .header("X-BAPI-TIMESTAMP", ts.to_string())
            .header("X-BAPI-RECV-WINDOW", "5000")
            .header("X-BAPI-SIGN", sig)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    let bybit = f.ep(Exchange::Bybit);
    let sub = Credentials::hmac("BYBITSUB", BYBIT_SECRET);
    let body: serde_json::Value = post("BYBITSUB", "/v5/user/update-sub-api", "{}")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["retCode"], 0, "{body}");
    assert_eq!(body["result"]["ips"], serde_json::json!(["*"]));
    let r = bybit.verify(&sub).await.unwrap();
    assert_eq!(r.ip_restricted, Some(false));
    let body: serde_json::Value =
        post("BYBITIP", "/v5/user/update-api", r#"{"ips":"203.0.113.7"}"#)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(body["retCode"], 10001, "{body}");
    // A main key on the sub endpoint, and the other way round: refused.
    let body: serde_json::Value = post("BYBITIP", "/v5/user/update-sub-api", "{}")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["retCode"], 10005, "{body}");
}

/// Dropping one permission changes exactly that one at the exchange: the
/// simulator's query-api, read before and after, differs in that item and
/// nothing else (readOnly, IPs and every other group stay as they were).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bybit_drops_one_permission_and_nothing_else() {
    let f = Fixture::new().await;
    let bybit = f.ep(Exchange::Bybit);
    let c = Credentials::hmac("BYBITMANY", BYBIT_SECRET);
    let before = bybit.verify(&c).await.unwrap();
    let names: Vec<&str> = before.removable.iter().map(|r| r.name.as_str()).collect();
    assert!(names.contains(&"Wallet.AccountTransfer"), "{names:?}");
    assert!(
        !names.contains(&"Derivatives.DerivativesTrade"),
        "{names:?}"
    );
    let (after, dropped) = bybit
        .narrow_dropping(&c, &Narrowing::dropping(["Wallet.AccountTransfer"]))
        .await
        .unwrap();
    assert_eq!(dropped, ["Wallet.AccountTransfer"]);
    let mut expected = before.raw.clone();
    expected["permissions"]["Wallet"] = serde_json::json!(["SubMemberTransfer", "Withdraw"]);
    assert_eq!(
        after.raw, expected,
        "only Wallet.AccountTransfer may change"
    );
    // Still a transfer key through SubMemberTransfer; the dropped one is no
    // longer offered, every other one still is.
    assert_eq!(after.permissions.transfer, Some(true));
    let left: Vec<&str> = after.removable.iter().map(|r| r.name.as_str()).collect();
    let mut want = names.clone();
    want.retain(|n| *n != "Wallet.AccountTransfer");
    assert_eq!(left, want);

    // Asking again for the permission just dropped is a specific error,
    // and nothing is sent: the key stays exactly as it is.
    let e = bybit
        .narrow(&c, &Narrowing::dropping(["Wallet.AccountTransfer"]))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ExchangeError::PermissionNotRemovable { permission, .. } if permission == "Wallet.AccountTransfer"),
        "{e:?}"
    );
    assert_eq!(e.code(), "permission_not_removable");
    assert_eq!(e.kind(), keyward_core::ErrorKind::Invalid);
    for name in [
        "Wallet.Nonsense",
        "transfer",
        "Derivatives.DerivativesTrade",
    ] {
        let e = bybit
            .narrow(&c, &Narrowing::dropping([name]))
            .await
            .unwrap_err();
        assert!(
            matches!(e, ExchangeError::PermissionNotRemovable { .. }),
            "{name}: {e:?}"
        );
    }
    assert_eq!(bybit.verify(&c).await.unwrap().raw, expected);

    // The last item of a group leaves it empty; the rest is untouched.
    let after = bybit
        .narrow(&c, &Narrowing::dropping(["Earn.Earn"]))
        .await
        .unwrap();
    expected["permissions"]["Earn"] = serde_json::json!([]);
    assert_eq!(after.raw, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bybit_narrowing_removes_withdraw_and_makes_read_only() {
    let f = Fixture::new().await;
    let bybit = f.ep(Exchange::Bybit);
    let c = creds(Exchange::Bybit);
    let n = Narrowing {
        remove_withdraw: true,
        read_only: false,
        ips: None,
        drop: Vec::new(),
    };
    let r = bybit.narrow(&c, &n).await.unwrap();
    assert_eq!(r.permissions.withdraw, Some(false));
    assert_eq!(r.permissions.trade, Some(true));
    assert_eq!(r.permissions.transfer, Some(true));
    assert_eq!(r.ip_whitelist, Some(vec![]));
    let r = bybit
        .narrow(
            &c,
            &Narrowing {
                read_only: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (r.permissions.trade, r.permissions.transfer),
        (Some(false), Some(false))
    );
    // Read-only now: Bybit refuses further self-management.
    let e = bybit
        .narrow(
            &c,
            &Narrowing {
                ips: Some(vec![]),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ExchangeError::Rejected {
                reason: RejectReason::PermissionDenied,
                ..
            }
        ),
        "{e:?}"
    );
    // Not offered elsewhere.
    let e = f
        .ep(Exchange::Okx)
        .narrow(&creds(Exchange::Okx), &n)
        .await
        .unwrap_err();
    assert!(matches!(e, ExchangeError::Unsupported { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recent_activity_is_normalized() {
    let f = Fixture::new().await;
    let since = Timestamp::from_unix_ms(now_ms() - 24 * 3600 * 1000);
    for ex in [
        Exchange::Binance,
        Exchange::Coinbase,
        Exchange::Kraken,
        Exchange::Okx,
        Exchange::Bybit,
    ] {
        let a = f.ep(ex).recent_activity(&creds(ex), since).await.unwrap();
        let orders = a.orders.as_ref().unwrap();
        assert_eq!(orders.len(), 1, "{ex}: {a:?}");
        assert_eq!(orders[0].id, "1001");
        assert_eq!(orders[0].side.as_deref(), Some("buy"), "{ex}");
        assert!(orders[0].time > since);
        if ex == Exchange::Coinbase {
            assert!(
                a.withdrawals.is_none() && a.deposits.is_none(),
                "not guessed as empty"
            );
            continue;
        }
        let w = a.withdrawals.as_ref().unwrap();
        let d = a.deposits.as_ref().unwrap();
        assert_eq!((w.len(), d.len()), (1, 1), "{ex}: {a:?}");
        assert_eq!(
            (w[0].asset.as_str(), w[0].amount.as_str()),
            ("BTC", "0.25"),
            "{ex}"
        );
        assert_eq!(d[0].asset, "ETH", "{ex}");
        assert_eq!(w[0].tx_id.as_deref(), Some("tx-2001"), "{ex}");
    }
    // Nothing after `now`.
    let a = f
        .ep(Exchange::Bybit)
        .recent_activity(&creds(Exchange::Bybit), Timestamp::now())
        .await
        .unwrap();
    assert!(a.orders.unwrap().is_empty());
}

fn many(kind: ActivityKind, n: usize, from_ms: i64, step_ms: i64) -> Vec<ActivityItem> {
    (0..n)
        .map(|i| ActivityItem {
            kind,
            id: format!("{kind:?}-{i}"),
            time_ms: from_ms - step_ms * i as i64,
            symbol: "BTCUSDT".into(),
            side: "buy".into(),
            asset: "BTC".into(),
            amount: "0.01".into(),
            price: "50000".into(),
            status: String::new(),
            address: "bc1qexample".into(),
            tx_id: format!("tx-{i}"),
        })
        .collect()
}

/// Pages are followed (Coinbase `has_next`/`cursor`, Kraken `ofs`, Bybit
/// `nextPageCursor`) and the documented windows are walked (Binance 90
/// days, Bybit 7 / 30 days) instead of being refused; the simulator
/// refuses wider windows as the exchanges do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recent_activity_follows_pages_and_windows() {
    const DAY: i64 = 86_400_000;
    let now = now_ms();
    let mut accounts = Accounts::default();
    let mut add = |mut k: KeyAccount, activity: Vec<ActivityItem>| {
        k.activity = activity;
        accounts.keys.push(k);
    };
    add(
        KeyAccount::asymmetric(
            SimExchange::Coinbase,
            CB_ES,
            &p256_public_pem(&p256_key(2)),
            &[SimScope::Read],
        ),
        many(ActivityKind::Order, 250, now - 60_000, 60_000),
    );
    add(
        KeyAccount::hmac(
            SimExchange::Kraken,
            "KRAKENKEY",
            KRAKEN_SECRET,
            &[SimScope::Read],
        ),
        many(ActivityKind::Order, 120, now - 60_000, 60_000),
    );
    // 60 withdrawals over the last 50 days (two 30-day windows, pages of
    // 50) and orders over 12 days (two 7-day windows).
    let mut bybit = many(ActivityKind::Withdrawal, 60, now - 60_000, 50 * DAY / 60);
    bybit.extend(many(ActivityKind::Order, 30, now - 60_000, 12 * DAY / 30));
    add(
        KeyAccount::hmac(
            SimExchange::Bybit,
            "BYBITKEY",
            BYBIT_SECRET,
            &[SimScope::Read],
        ),
        bybit,
    );
    // Binance deposits over 150 days: two 90-day windows.
    add(
        KeyAccount::hmac(
            SimExchange::Binance,
            "BINHMAC",
            BIN_SECRET,
            &[SimScope::Read],
        ),
        many(ActivityKind::Deposit, 15, now - 60_000, 10 * DAY),
    );
    let f = Fixture::with(accounts, fast_config()).await;
    let since = |days: i64| Timestamp::from_unix_ms(now - days * DAY);

    let a = f
        .ep(Exchange::Coinbase)
        .recent_activity(&creds(Exchange::Coinbase), since(1))
        .await
        .unwrap();
    assert_eq!(a.orders.unwrap().len(), 250);
    let a = f
        .ep(Exchange::Kraken)
        .recent_activity(&creds(Exchange::Kraken), since(1))
        .await
        .unwrap();
    assert_eq!(a.orders.unwrap().len(), 120, "{:?}", a.notes);
    let a = f
        .ep(Exchange::Bybit)
        .recent_activity(&creds(Exchange::Bybit), since(60))
        .await
        .unwrap();
    assert!(a.errors.is_empty(), "{:?}", a.errors);
    assert_eq!(a.withdrawals.unwrap().len(), 60);
    assert_eq!(a.orders.unwrap().len(), 30);
    let a = f
        .ep(Exchange::Binance)
        .recent_activity(&creds(Exchange::Binance), since(160))
        .await
        .unwrap();
    assert!(a.errors.is_empty(), "{:?}", a.errors);
    assert_eq!(a.deposits.unwrap().len(), 15);
    assert_eq!(f.sim.stats().rate_limited.values().sum::<u64>(), 0);
}

/// A listing stops at the stated cap and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recent_activity_stops_at_the_page_cap_and_says_so() {
    let now = now_ms();
    let f = Fixture::with(
        Accounts {
            keys: vec![KeyAccount {
                activity: many(ActivityKind::Order, 1100, now - 60_000, 1_000),
                ..KeyAccount::asymmetric(
                    SimExchange::Coinbase,
                    CB_ES,
                    &p256_public_pem(&p256_key(2)),
                    &[SimScope::Read],
                )
            }],
            ..Accounts::default()
        },
        fast_config(),
    )
    .await;
    let a = f
        .ep(Exchange::Coinbase)
        .recent_activity(
            &creds(Exchange::Coinbase),
            Timestamp::from_unix_ms(now - 86_400_000),
        )
        .await
        .unwrap();
    assert_eq!(a.orders.unwrap().len(), 100 * MAX_PAGES);
    assert!(
        a.notes.iter().any(|n| n.contains("stopped after")),
        "{:?}",
        a.notes
    );
}

/// A source the key may not list (Bybit withdrawal records are for the
/// main account's key only) is reported on its own; the others are listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_fails_is_reported_and_the_others_are_listed() {
    let now = now_ms();
    let mut act = many(ActivityKind::Order, 3, now - 60_000, 60_000);
    act.extend(many(ActivityKind::Deposit, 2, now - 60_000, 60_000));
    let f = Fixture::with(
        Accounts {
            keys: vec![KeyAccount {
                parent_uid: Some("24617703".into()),
                activity: act,
                ..KeyAccount::hmac(
                    SimExchange::Bybit,
                    "BYBITSUB",
                    BYBIT_SECRET,
                    &[SimScope::Read],
                )
            }],
            ..Accounts::default()
        },
        fast_config(),
    )
    .await;
    let a = f
        .ep(Exchange::Bybit)
        .recent_activity(
            &Credentials::hmac("BYBITSUB", BYBIT_SECRET),
            Timestamp::from_unix_ms(now - 86_400_000),
        )
        .await
        .unwrap();
    assert_eq!(a.orders.as_ref().map(Vec::len), Some(3));
    assert_eq!(a.deposits.as_ref().map(Vec::len), Some(2));
    assert!(a.withdrawals.is_none(), "not guessed as empty");
    assert_eq!(a.errors.len(), 1);
    assert_eq!(a.errors[0].source, "withdrawals");
    assert_eq!(a.errors[0].code, "rejected");
    // Nothing listable at all: an error, not an empty listing.
    f.sim.revoke(SimExchange::Bybit, "BYBITSUB");
    assert!(
        f.ep(Exchange::Bybit)
            .recent_activity(
                &Credentials::hmac("BYBITSUB", BYBIT_SECRET),
                Timestamp::from_unix_ms(now - 86_400_000),
            )
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_429_with_retry_after_is_honoured() {
    let f = Fixture::new().await;
    for ex in [
        Exchange::Binance,
        Exchange::Okx,
        Exchange::Bybit,
        Exchange::Coinbase,
    ] {
        f.sim.add_fault(Fault {
            retry_after_secs: Some(1),
            ..Fault::new(FaultKind::RateLimit).on(sim_ex(ex))
        });
        let t = Instant::now();
        let r = f.ep(ex).verify(&creds(ex)).await.unwrap();
        assert!(r.authenticated, "{ex}");
        assert!(
            t.elapsed() >= Duration::from_millis(950),
            "{ex}: waited {:?}",
            t.elapsed()
        );
    }
    assert!(f.client.stats().rate_limited >= 4);

    // A Retry-After longer than the client will wait is returned, typed.
    let client = ExchangeClient::new(HttpConfig {
        max_retry_after: Duration::from_millis(500),
        ..fast_config()
    })
    .unwrap();
    f.sim.add_fault(Fault {
        retry_after_secs: Some(7),
        ..Fault::new(FaultKind::RateLimit).on(SimExchange::Okx)
    });
    let ep = client
        .endpoint(
            Exchange::Okx,
            &Environment::Custom(f.sim.url(SimExchange::Okx)),
        )
        .unwrap();
    match ep.verify(&creds(Exchange::Okx)).await.unwrap_err() {
        ExchangeError::RateLimited {
            retry_after,
            exchange,
        } => {
            assert_eq!(
                (retry_after, exchange),
                (Some(Duration::from_secs(7)), Exchange::Okx)
            );
        }
        other => panic!("{other:?}"),
    }
    // While the pause lasts, calls fail fast instead of hammering.
    let t = Instant::now();
    assert!(ep.verify(&creds(Exchange::Okx)).await.is_err());
    assert!(t.elapsed() < Duration::from_millis(500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_then_typed() {
    let f = Fixture::new().await;
    f.sim.add_fault(
        Fault::new(FaultKind::ServerError)
            .on(SimExchange::Bybit)
            .times(2),
    );
    let r = f
        .ep(Exchange::Bybit)
        .verify(&creds(Exchange::Bybit))
        .await
        .unwrap();
    assert!(r.authenticated);
    assert_eq!(f.client.stats().retries, 2);

    f.sim.add_fault(
        Fault::new(FaultKind::ServerError)
            .on(SimExchange::Kraken)
            .times(0),
    );
    match f
        .ep(Exchange::Kraken)
        .verify(&creds(Exchange::Kraken))
        .await
        .unwrap_err()
    {
        ExchangeError::ServerError {
            status, excerpt, ..
        } => {
            assert_eq!(status, 503);
            assert!(excerpt.contains("503") && excerpt.len() < 200, "{excerpt}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(f.client.stats().retries, 2 + 3, "at most 3 retries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bans_are_typed_and_not_retried() {
    let f = Fixture::new().await;
    // Binance 418: IP auto-ban, with its Retry-After.
    f.sim.add_fault(Fault {
        status: Some(418),
        ..Fault::new(FaultKind::ServerError).on(SimExchange::Binance)
    });
    let e = f
        .ep(Exchange::Binance)
        .verify(&creds(Exchange::Binance))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ExchangeError::Banned {
                exchange: Exchange::Binance,
                ..
            }
        ),
        "{e:?}"
    );
    // Bybit "403, access too frequent": IP ban of at least ten minutes.
    f.sim
        .add_fault(Fault::new(FaultKind::TooFrequent).on(SimExchange::Bybit));
    match f
        .ep(Exchange::Bybit)
        .verify(&creds(Exchange::Bybit))
        .await
        .unwrap_err()
    {
        ExchangeError::Banned { retry_after, .. } => {
            assert_eq!(retry_after, Some(Duration::from_secs(600)))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(f.client.stats().retries, 0);
}

/// A CDN's 403 page (CloudFront blocking a country) is not Bybit's
/// ten-minute IP ban: typed as `blocked`, and the next call is not held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloudfront_403_is_not_a_ban() {
    let f = Fixture::new().await;
    f.sim
        .add_fault(Fault::new(FaultKind::GeoBlock).on(SimExchange::Bybit));
    let bybit = f.ep(Exchange::Bybit);
    let e = bybit.verify(&creds(Exchange::Bybit)).await.unwrap_err();
    assert!(
        matches!(e, ExchangeError::Blocked { status: 403, .. }),
        "{e:?}"
    );
    assert_eq!(e.code(), "blocked");
    assert!(e.to_string().contains("CloudFront"), "{e}");
    let started = Instant::now();
    assert!(
        bybit
            .verify(&creds(Exchange::Bybit))
            .await
            .unwrap()
            .authenticated
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Binance's used-weight header near the minute's limit holds further
/// calls until the next minute instead of drawing a 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_used_weight_header_holds_calls_instead_of_drawing_a_429() {
    let f = Fixture::new().await;
    // Another program on this address used almost all of this minute's
    // /sapi weight.
    f.sim
        .add_binance_weight(true, "127.0.0.1".parse().unwrap(), 11_999.0);
    let ep = f.ep(Exchange::Binance);
    let c = creds(Exchange::Binance);
    assert!(ep.verify(&c).await.unwrap().authenticated);
    let sent = f.sim.stats().requests[&SimExchange::Binance];
    match ep.verify(&c).await {
        // Held past max_retry_after: refused here, nothing sent.
        Err(ExchangeError::RateLimited { retry_after, .. }) => {
            assert!(retry_after.is_some());
            assert_eq!(f.sim.stats().requests[&SimExchange::Binance], sent);
        }
        // Or the minute turned while waiting: sent then, and accepted.
        Ok(r) => assert!(r.authenticated),
        Err(e) => panic!("{e:?}"),
    }
    assert_eq!(
        f.sim
            .stats()
            .rate_limited
            .get(&SimExchange::Binance)
            .copied()
            .unwrap_or(0),
        0
    );
}

/// Bybit's X-Bapi-Limit-Status / -Reset-Timestamp hold the key's next call
/// until the reset instead of drawing 10006.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bybit_limit_headers_hold_the_key_until_the_reset() {
    let mut accounts = accounts();
    accounts.limits.insert(
        SimExchange::Bybit,
        keyward_sim::Limits {
            ip: None,
            key: Some(keyward_sim::Bucket {
                rate: 1.0,
                burst: 2.0,
            }),
        },
    );
    let f = Fixture::with(accounts, fast_config()).await;
    let ep = f.ep(Exchange::Bybit);
    let c = creds(Exchange::Bybit);
    for _ in 0..4 {
        assert!(ep.verify(&c).await.unwrap().authenticated);
    }
    assert_eq!(
        f.sim
            .stats()
            .rate_limited
            .get(&SimExchange::Bybit)
            .copied()
            .unwrap_or(0),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_html_bodies_are_typed_errors() {
    let f = Fixture::new().await;
    for ex in [
        Exchange::Binance,
        Exchange::Coinbase,
        Exchange::Kraken,
        Exchange::Okx,
        Exchange::Bybit,
    ] {
        f.sim
            .add_fault(Fault::new(FaultKind::Malformed).on(sim_ex(ex)));
        match f.ep(ex).verify(&creds(ex)).await.unwrap_err() {
            ExchangeError::Malformed {
                status,
                excerpt,
                exchange,
            } => {
                assert_eq!((status, exchange), (200, ex));
                assert!(excerpt.starts_with("{\"code\""), "{excerpt}");
            }
            other => panic!("{ex}: {other:?}"),
        }
        f.sim.add_fault(Fault {
            status: Some(200),
            ..Fault::new(FaultKind::Html).on(sim_ex(ex))
        });
        let e = f.ep(ex).verify(&creds(ex)).await.unwrap_err();
        assert!(
            matches!(e, ExchangeError::Malformed { status: 200, .. }),
            "{ex}: {e:?}"
        );
        let text = format!("{e} {e:?}");
        assert!(
            !text.contains(BIN_SECRET) && !text.contains(OKX_PASS) && !text.contains("OK-ACCESS"),
            "{text}"
        );
        assert_eq!(e.kind(), keyward_core::ErrorKind::Exchange);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_and_dropped_connections_are_typed_errors() {
    let config = HttpConfig {
        request_timeout: Duration::from_millis(300),
        max_retries: 1,
        ..fast_config()
    };
    let f = Fixture::with(accounts(), config).await;
    f.sim.add_fault(Fault {
        latency_ms: 1500,
        ..Fault::new(FaultKind::Latency).on(SimExchange::Okx).times(0)
    });
    let t = Instant::now();
    let e = f
        .ep(Exchange::Okx)
        .verify(&creds(Exchange::Okx))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ExchangeError::Timeout {
                exchange: Exchange::Okx
            }
        ),
        "{e:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    f.sim.clear_faults();

    // A short delay within the timeout is fine.
    f.sim.add_fault(Fault {
        latency_ms: 100,
        ..Fault::new(FaultKind::Latency).on(SimExchange::Okx)
    });
    assert!(
        f.ep(Exchange::Okx)
            .verify(&creds(Exchange::Okx))
            .await
            .unwrap()
            .authenticated
    );

    // One dropped connection is retried; persistent drops are Unreachable.
    f.sim
        .add_fault(Fault::new(FaultKind::Drop).on(SimExchange::Binance));
    assert!(
        f.ep(Exchange::Binance)
            .verify(&creds(Exchange::Binance))
            .await
            .unwrap()
            .authenticated
    );
    f.sim.add_fault(
        Fault::new(FaultKind::Drop)
            .on(SimExchange::Binance)
            .times(0),
    );
    let e = f
        .ep(Exchange::Binance)
        .verify(&creds(Exchange::Binance))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ExchangeError::Unreachable {
                exchange: Exchange::Binance,
                ..
            }
        ),
        "{e:?}"
    );

    // Nothing listening at all.
    let dead = Environment::Custom("http://127.0.0.1:1/bybit".into());
    let e = f
        .client
        .endpoint(Exchange::Bybit, &dead)
        .unwrap()
        .verify(&creds(Exchange::Bybit))
        .await
        .unwrap_err();
    assert!(matches!(e, ExchangeError::Unreachable { .. }), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kraken_rate_limit_in_the_body_is_typed() {
    let mut acc = accounts();
    acc.limits.insert(
        SimExchange::Kraken,
        keyward_sim::Limits {
            ip: None,
            key: Some(keyward_sim::Bucket {
                rate: 0.01,
                burst: 1.0,
            }),
        },
    );
    let mut config = fast_config();
    config.limits.insert(
        Exchange::Kraken,
        ExchangeLimits {
            host: None,
            key: None,
        },
    );
    let f = Fixture::with(acc, config).await;
    assert!(
        f.ep(Exchange::Kraken)
            .verify(&creds(Exchange::Kraken))
            .await
            .unwrap()
            .authenticated
    );
    let e = f
        .ep(Exchange::Kraken)
        .verify(&creds(Exchange::Kraken))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ExchangeError::RateLimited {
                exchange: Exchange::Kraken,
                ..
            }
        ),
        "{e:?}"
    );
}

/// A custom base URL does not turn the OKX demo header off: a demo key
/// there is recognised (OKX 50101 "APIKey does not match current
/// environment" without the header, accepted with it) and used as one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_okx_demo_key_at_a_custom_base_url_is_recognised() {
    let now = now_ms();
    let f = Fixture::with(
        Accounts {
            keys: vec![KeyAccount {
                passphrase: Some(OKX_PASS.into()),
                demo: true,
                activity: activity(&[(ActivityKind::Order, "1001", "")]),
                ..KeyAccount::hmac(SimExchange::Okx, "OKXDEMO", OKX_SECRET, &[SimScope::Read])
            }],
            ..Accounts::default()
        },
        fast_config(),
    )
    .await;
    let ep = f.ep(Exchange::Okx);
    let c = Credentials::hmac("OKXDEMO", OKX_SECRET).with_passphrase(OKX_PASS);
    let r = ep.verify(&c).await.unwrap();
    assert!(r.authenticated, "{r:?}");
    assert!(
        r.notes.iter().any(|n| n.contains("demo-trading key")),
        "{:?}",
        r.notes
    );
    let a = ep
        .recent_activity(&c, Timestamp::from_unix_ms(now - 86_400_000))
        .await
        .unwrap();
    assert_eq!(a.orders.unwrap().len(), 1);
    // A deleted demo key is still an (unproven) invalid key, not a demo
    // key.
    f.sim.revoke(SimExchange::Okx, "OKXDEMO");
    let fresh = ExchangeClient::new(fast_config()).unwrap();
    let env = Environment::Custom(f.sim.url(SimExchange::Okx));
    let r = fresh
        .endpoint(Exchange::Okx, &env)
        .unwrap()
        .verify(&c)
        .await
        .unwrap();
    assert_eq!(rejection(&r).reason, RejectReason::InvalidKey);
}

#[test]
fn known_hosts_are_their_sites() {
    let client = ExchangeClient::new(HttpConfig::default()).unwrap();
    // A Binance testnet URL given as a custom base URL is the testnet.
    for (ex, url, name) in [
        (Exchange::Okx, "https://eea.okx.com", "OKX EEA"),
        (Exchange::Okx, "https://us.okx.com", "OKX US"),
        (Exchange::Bybit, "https://api.bybit.nl", "Bybit NL"),
        (
            Exchange::Bybit,
            "https://api-demo.bybit.com",
            "Bybit demo trading",
        ),
        (Exchange::Binance, "https://api.binance.us", "Binance.US"),
        (
            Exchange::Binance,
            "https://testnet.binance.vision",
            "Binance spot testnet",
        ),
    ] {
        let env = Environment::Custom(url.into());
        assert!(client.endpoint(ex, &env).is_ok());
        let host = url.trim_start_matches("https://");
        assert_eq!(site_of(ex, host).map(|s| s.name), Some(name));
    }
}

#[test]
fn environments_and_capabilities() {
    let client = ExchangeClient::new(HttpConfig::default()).unwrap();
    assert!(
        client
            .endpoint(Exchange::Coinbase, &Environment::Testnet)
            .is_err()
    );
    assert!(
        client
            .endpoint(Exchange::Kraken, &Environment::Testnet)
            .is_err()
    );
    for ex in Exchange::with_adapter() {
        assert!(client.endpoint(ex, &Environment::Mainnet).is_ok());
        let c = capabilities(ex);
        assert_eq!(c.revoke_via_api, ex == Exchange::Bybit);
        assert_eq!(c.narrow_via_api, ex == Exchange::Bybit);
        assert_eq!(
            c.reports_ip_whitelist,
            matches!(ex, Exchange::Kraken | Exchange::Okx | Exchange::Bybit)
        );
    }
    for ex in [Exchange::Kucoin, Exchange::Bitget, Exchange::Other] {
        assert!(matches!(
            client.endpoint(ex, &Environment::Mainnet),
            Err(ExchangeError::NoAdapter { .. })
        ));
    }
    let custom = |u: &str| Environment::Custom(u.into());
    assert!(
        client
            .endpoint(Exchange::Okx, &custom("http://192.168.1.5:8080/okx"))
            .is_err()
    );
    assert!(
        client
            .endpoint(Exchange::Okx, &custom("https://proxy.example/okx"))
            .is_ok()
    );
}

/// The README's trial path adds the simulator's sample accounts as keys, so
/// every sample key id must pass the same id-shape check as a real one.
#[test]
fn the_sample_accounts_have_key_ids_of_the_real_shape() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sim/accounts.sample.json");
    let sample: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let keys = sample["keys"].as_array().unwrap();
    assert!(keys.len() >= 5);
    for key in keys {
        let exchange: keyward_core::model::Exchange =
            key["exchange"].as_str().unwrap().parse().unwrap();
        let id = key["api_key"].as_str().unwrap();
        keyward_core::model::validate::api_key_id(exchange, id)
            .unwrap_or_else(|e| panic!("{exchange:?} sample id {id:?}: {e}"));
    }
}
