//! Every key in `accounts.sample.json` verifies through Keyward's exchange
//! layer, so the demo works as shipped.

use keyward_core::exchange::{Credentials, ExchangeClient, HttpConfig};
use keyward_core::model::{Environment, Exchange, KeyType};
use keyward_sim::{Accounts, SimExchange};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_keys_verify_through_the_core() {
    let text = std::fs::read_to_string(format!(
        "{}/accounts.sample.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let acc = Accounts::from_json(&text).unwrap();
    let (_, sim) = keyward_sim::spawn(acc.clone()).await.unwrap();
    let client = ExchangeClient::new(HttpConfig::default()).unwrap();
    for k in &acc.keys {
        let ex: Exchange = k.exchange.as_str().parse().unwrap();
        let (secret, key_type) = match (&k.secret, &k.note) {
            (Some(s), _) => (s.clone(), KeyType::Hmac),
            (None, Some(note)) => {
                let pem = &note[note.find("-----BEGIN").unwrap()..];
                let kt = if k.exchange == SimExchange::Coinbase {
                    KeyType::EcdsaJwt
                } else {
                    KeyType::Ed25519
                };
                (pem.to_string(), kt)
            }
            _ => panic!("sample key {} has no usable secret", k.api_key),
        };
        let mut creds = Credentials::new(k.api_key.clone(), secret, key_type);
        if let Some(p) = &k.passphrase {
            creds = creds.with_passphrase(p.clone());
        }
        let env = Environment::Custom(sim.url(k.exchange));
        let report = client
            .endpoint(ex, &env)
            .unwrap()
            .verify(&creds)
            .await
            .unwrap();
        assert!(report.authenticated, "{}: {report:?}", k.api_key);
    }
}
