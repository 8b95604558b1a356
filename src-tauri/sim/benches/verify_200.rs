//! Benchmark (prints figures; not a timed test): verify 200 keys, 40 per
//! exchange, against the simulator with its rate limits on.
//!
//! The simulator limits every exchange to `SIM_RATE` requests per second per
//! client address with a burst of `SIM_BURST`; the client is configured a
//! little under that (95 % of the rate, burst 1). The minimum time the limits allow is
//! `(40 - SIM_BURST) / SIM_RATE` per exchange, the five running in parallel.
//! Reported: total time and its ratio to that minimum (target ≤ 1.5×), the
//! 429 / rate-limit answers seen (target 0), and the concurrency used.
//!
//! Run: `cargo bench -p keyward-sim --bench verify_200` (or, quicker to
//! build, `cargo test -p keyward-sim --bench verify_200`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use keyward_core::exchange::{Bucket, Credentials, ExchangeClient, ExchangeLimits, HttpConfig};
use keyward_core::model::{Environment, Exchange, KeyType};
use keyward_sim::{Accounts, KeyAccount, Limits, SimExchange, SimScope};

const PER_EXCHANGE: usize = 40;
const SIM_RATE: f64 = 20.0;
const SIM_BURST: f64 = 5.0;
const MAX_IN_FLIGHT: usize = 64;

fn keys() -> (Accounts, Vec<(Exchange, SimExchange, Credentials)>) {
    use p256::pkcs8::{EncodePublicKey, LineEnding};
    let mut acc = Accounts::default();
    let mut creds = Vec::new();
    let scopes = [SimScope::Read, SimScope::Trade];
    for i in 0..PER_EXCHANGE {
        let seed = [(i as u8).wrapping_add(1); 32];
        // Binance: every fourth key is Ed25519.
        let id = format!("bin-{i}");
        if i % 4 == 0 {
            let k = ed25519_dalek::SigningKey::from_bytes(&seed);
            let public = ed25519_dalek::pkcs8::EncodePublicKey::to_public_key_pem(
                &k.verifying_key(),
                LineEnding::LF,
            )
            .unwrap();
            let private =
                ed25519_dalek::pkcs8::EncodePrivateKey::to_pkcs8_pem(&k, LineEnding::LF).unwrap();
            acc.keys.push(KeyAccount::asymmetric(
                SimExchange::Binance,
                &id,
                &public,
                &scopes,
            ));
            creds.push((
                Exchange::Binance,
                SimExchange::Binance,
                Credentials::new(id, private.to_string(), KeyType::Ed25519),
            ));
        } else {
            acc.keys.push(KeyAccount::hmac(
                SimExchange::Binance,
                &id,
                &format!("s-{i}"),
                &scopes,
            ));
            creds.push((
                Exchange::Binance,
                SimExchange::Binance,
                Credentials::hmac(id, format!("s-{i}")),
            ));
        }
        // Coinbase: every fourth key is EdDSA, the rest ES256.
        let id = format!("organizations/bench/apiKeys/{i}");
        if i % 4 == 0 {
            let k = ed25519_dalek::SigningKey::from_bytes(&seed);
            let public = ed25519_dalek::pkcs8::EncodePublicKey::to_public_key_pem(
                &k.verifying_key(),
                LineEnding::LF,
            )
            .unwrap();
            let mut raw = k.to_bytes().to_vec();
            raw.extend_from_slice(k.verifying_key().as_bytes());
            let secret = base64::engine::general_purpose::STANDARD.encode(raw);
            acc.keys.push(KeyAccount::asymmetric(
                SimExchange::Coinbase,
                &id,
                &public,
                &scopes,
            ));
            creds.push((
                Exchange::Coinbase,
                SimExchange::Coinbase,
                Credentials::new(id, secret, KeyType::Ed25519),
            ));
        } else {
            let k = p256::SecretKey::from_slice(&seed).unwrap();
            let public = k.public_key().to_public_key_pem(LineEnding::LF).unwrap();
            let private = k.to_sec1_pem(LineEnding::LF).unwrap();
            acc.keys.push(KeyAccount::asymmetric(
                SimExchange::Coinbase,
                &id,
                &public,
                &scopes,
            ));
            creds.push((
                Exchange::Coinbase,
                SimExchange::Coinbase,
                Credentials::new(id, private.to_string(), KeyType::EcdsaJwt),
            ));
        }
        let id = format!("kraken-{i}");
        let secret = base64::engine::general_purpose::STANDARD.encode(seed);
        acc.keys
            .push(KeyAccount::hmac(SimExchange::Kraken, &id, &secret, &scopes));
        creds.push((
            Exchange::Kraken,
            SimExchange::Kraken,
            Credentials::hmac(id, secret),
        ));
        let id = format!("okx-{i}");
        acc.keys.push(KeyAccount {
            passphrase: Some(format!("pp-{i}")),
            ..KeyAccount::hmac(SimExchange::Okx, &id, &format!("s-{i}"), &scopes)
        });
        creds.push((
            Exchange::Okx,
            SimExchange::Okx,
            Credentials::hmac(id, format!("s-{i}")).with_passphrase(format!("pp-{i}")),
        ));
        let id = format!("bybit-{i}");
        acc.keys.push(KeyAccount::hmac(
            SimExchange::Bybit,
            &id,
            &format!("s-{i}"),
            &scopes,
        ));
        creds.push((
            Exchange::Bybit,
            SimExchange::Bybit,
            Credentials::hmac(id, format!("s-{i}")),
        ));
    }
    for ex in SimExchange::ALL {
        let documented = ex.documented_limits();
        acc.limits.insert(
            ex,
            Limits {
                ip: Some(keyward_sim::Bucket {
                    rate: SIM_RATE,
                    burst: SIM_BURST,
                }),
                key: documented.key,
            },
        );
    }
    (acc, creds)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (accounts, creds) = keys();
        let (_, sim) = keyward_sim::spawn(accounts).await.unwrap();
        let mut config = HttpConfig::default();
        for ex in Exchange::with_adapter() {
            let documented = ExchangeLimits::documented(ex);
            // A little under the simulator's per-address limit.
            config.limits.insert(ex, ExchangeLimits { host: Some(Bucket { rate: SIM_RATE * 0.95, burst: 1.0 }), key: documented.key });
        }
        let client = ExchangeClient::new(config).unwrap();
        let gate = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for (ex, sim_ex, c) in creds {
            let env = Environment::Custom(sim.url(sim_ex));
            let ep = client.endpoint(ex, &env).unwrap();
            let gate = gate.clone();
            tasks.spawn(async move {
                let _permit = gate.acquire_owned().await.ok();
                (ex, ep.verify(&c).await)
            });
        }
        let (mut ok, mut rejected, mut failed) = (0, 0, 0);
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((_, Ok(r))) if r.authenticated => ok += 1,
                Ok((ex, Ok(r))) => {
                    rejected += 1;
                    eprintln!("{ex}: rejected {:?}", r.rejection);
                }
                Ok((ex, Err(e))) => {
                    failed += 1;
                    eprintln!("{ex}: {e}");
                }
                Err(e) => {
                    failed += 1;
                    eprintln!("task: {e}");
                }
            }
        }
        let total = started.elapsed();
        let minimum = Duration::from_secs_f64((PER_EXCHANGE as f64 - SIM_BURST) / SIM_RATE);
        let s = sim.stats();
        let c = client.stats();
        let sim_429: u64 = s.rate_limited.values().sum();
        let ratio = total.as_secs_f64() / minimum.as_secs_f64();
        println!("verify_200: {} keys ({PER_EXCHANGE} per exchange), sim limit {SIM_RATE}/s burst {SIM_BURST} per exchange", ok + rejected + failed);
        println!("  authenticated {ok}, rejected {rejected}, failed {failed}");
        println!("  total {:.3} s, minimum allowed by the limits {:.3} s, ratio {ratio:.2}x (target <= 1.5x)", total.as_secs_f64(), minimum.as_secs_f64());
        println!("  rate-limit answers: simulator {sim_429}, client saw {} (target 0)", c.rate_limited);
        println!("  requests {}, retries {}, peak concurrent requests {} (task cap {MAX_IN_FLIGHT})", c.requests, c.retries, c.peak_in_flight);
        println!("  result: {}", if sim_429 == 0 && c.rate_limited == 0 && ratio <= 1.5 && ok == 200 { "PASS" } else { "FAIL" });
    });
}
