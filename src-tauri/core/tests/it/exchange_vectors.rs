//! Drives the signers with the exchanges' published worked examples from
//! `tests/data/exchange/signature_vectors.json`. Each vector declares whether
//! the signer must reproduce it (`match`) or must not (`mismatch`).

use keyward_core::exchange::sign;
use serde_json::Value;

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str()
        .unwrap_or_else(|| panic!("vector field {k} missing"))
}

fn compute(v: &Value) -> String {
    match s(v, "scheme") {
        "binance_hmac" => {
            let payload = match v.get("payload") {
                Some(p) => p.as_str().unwrap().to_string(),
                None => format!("{}{}", s(v, "query"), s(v, "body")),
            };
            sign::binance_hmac(s(v, "secret"), &payload)
        }
        "kraken" => {
            sign::kraken(s(v, "secret"), s(v, "path"), s(v, "nonce"), s(v, "payload")).unwrap()
        }
        "bybit_prehash" => sign::bybit_prehash(
            v["timestamp"].as_i64().unwrap(),
            s(v, "api_key"),
            v["recv_window"].as_u64().unwrap() as u32,
            s(v, "payload"),
        ),
        "okx_prehash" => sign::okx_prehash(
            s(v, "timestamp"),
            s(v, "method"),
            s(v, "path"),
            s(v, "body"),
        ),
        "okx" => sign::okx(s(v, "secret"), s(v, "payload")),
        "percent_encode" => sign::percent_encode(s(v, "payload")),
        other => panic!("unknown scheme {other}"),
    }
}

#[test]
fn published_signature_vectors() {
    let text = include_str!("../data/exchange/signature_vectors.json");
    let data: Value = serde_json::from_str(text).unwrap();
    let vectors = data["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 10);
    let mut failures = Vec::new();
    for v in vectors {
        let got = compute(v);
        let want = s(v, "expected");
        let ok = match s(v, "outcome") {
            "match" => got == want,
            "mismatch" => got != want,
            other => panic!("unknown outcome {other}"),
        };
        if !ok {
            failures.push(format!("{}: got {got}", s(v, "name")));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn binance_ed25519_signature_is_valid_base64_of_64_bytes_and_verifies() {
    use base64::Engine;
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    let key = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let pem = key
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .unwrap();
    let payload = "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=1&price=0.2&timestamp=1668481559918&recvWindow=5000";
    let sig_b64 = sign::binance_ed25519(&pem, payload).unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&sig_b64)
        .unwrap();
    assert_eq!(raw.len(), 64);
    let sig = ed25519_dalek::Signature::from_slice(&raw).unwrap();
    key.verifying_key()
        .verify_strict(payload.as_bytes(), &sig)
        .unwrap();
    // Deterministic: Ed25519 signs the same payload identically.
    assert_eq!(sign::binance_ed25519(&pem, payload).unwrap(), sig_b64);
}

#[test]
fn coinbase_jwt_has_the_sdk_header_and_claims_and_verifies() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use keyward_core::model::KeyType;
    use p256::ecdsa::signature::Verifier;
    use p256::pkcs8::LineEnding;
    let secret = p256::SecretKey::from_slice(&[5u8; 32]).unwrap();
    let pem = secret.to_sec1_pem(LineEnding::LF).unwrap();
    let claims = sign::JwtClaims {
        key_name: "organizations/o/apiKeys/k",
        uri: "GET api.coinbase.com/api/v3/brokerage/key_permissions",
        now_secs: 1_700_000_000,
        nonce_hex: "ab",
    };
    let jwt = sign::coinbase_jwt(&pem, KeyType::EcdsaJwt, &claims).unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let body: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], "organizations/o/apiKeys/k");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(body["iss"], "cdp");
    assert_eq!(body["sub"], "organizations/o/apiKeys/k");
    assert_eq!(
        body["exp"].as_i64().unwrap() - body["nbf"].as_i64().unwrap(),
        120
    );
    assert_eq!(
        body["uri"],
        "GET api.coinbase.com/api/v3/brokerage/key_permissions"
    );
    let sig =
        p256::ecdsa::Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
    let vk = p256::ecdsa::VerifyingKey::from(secret.public_key());
    vk.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
        .unwrap();
    // The literal "\n" form of Coinbase downloads is accepted too.
    assert!(sign::coinbase_jwt(&pem.replace('\n', "\\n"), KeyType::EcdsaJwt, &claims).is_ok());
}
