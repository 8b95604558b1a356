//! Request signers, one function per exchange scheme, as pure functions of
//! their inputs so the exchanges' published vectors can drive them.
//!
//! Only RustCrypto primitives are used (HMAC, SHA-2, Ed25519, ECDSA P-256);
//! nothing here implements a primitive. Decoded key material is held in
//! zeroizing buffers and dropped before returning.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256, Sha512};
use zeroize::Zeroizing;

use super::error::ExchangeError;
use super::types::KeyType;

type HmacSha256 = Hmac<Sha256>;
type HmacSha512 = Hmac<Sha512>;

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; the error case cannot occur.
    match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(msg);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// Binance HMAC-SHA256 over `query ‖ body` (no separator), lower-case hex.
pub fn binance_hmac(secret: &str, payload: &str) -> String {
    hex::encode(hmac_sha256(secret.as_bytes(), payload.as_bytes()))
}

/// Binance Ed25519 over the payload with a PKCS#8 PEM private key; standard
/// base64 (the caller percent-encodes it into the query).
pub fn binance_ed25519(pem: &str, payload: &str) -> Result<String, ExchangeError> {
    let key = ed25519_from_pkcs8_pem(pem)?;
    use ed25519_dalek::Signer;
    Ok(STANDARD.encode(key.sign(payload.as_bytes()).to_bytes()))
}

/// Kraken: `base64(HMAC-SHA512(base64decode(secret), path ‖ SHA256(nonce ‖ postdata)))`.
pub fn kraken(
    secret_b64: &str,
    path: &str,
    nonce: &str,
    post_data: &str,
) -> Result<String, ExchangeError> {
    let key = Zeroizing::new(STANDARD.decode(secret_b64.trim()).map_err(|_| {
        ExchangeError::InvalidCredentials {
            reason: "the Kraken secret is not valid base64",
        }
    })?);
    let inner = Sha256::digest(format!("{nonce}{post_data}").as_bytes());
    let mut mac =
        HmacSha512::new_from_slice(&key).map_err(|_| ExchangeError::InvalidCredentials {
            reason: "the Kraken secret has an unusable length",
        })?;
    mac.update(path.as_bytes());
    mac.update(&inner);
    Ok(STANDARD.encode(mac.finalize().into_bytes()))
}

/// The OKX prehash: `timestamp ‖ METHOD ‖ requestPath(+?query) ‖ body`.
pub fn okx_prehash(timestamp: &str, method: &str, request_path: &str, body: &str) -> String {
    format!(
        "{timestamp}{}{request_path}{body}",
        method.to_ascii_uppercase()
    )
}

/// OKX: `base64(HMAC-SHA256(secret, prehash))`.
pub fn okx(secret: &str, prehash: &str) -> String {
    STANDARD.encode(hmac_sha256(secret.as_bytes(), prehash.as_bytes()))
}

/// The Bybit v5 prehash: `timestamp ‖ apiKey ‖ recvWindow ‖ (query | body)`.
pub fn bybit_prehash(timestamp_ms: i64, api_key: &str, recv_window: u32, payload: &str) -> String {
    format!("{timestamp_ms}{api_key}{recv_window}{payload}")
}

/// Bybit v5 HMAC: lower-case hex HMAC-SHA256 of the prehash.
pub fn bybit(secret: &str, prehash: &str) -> String {
    hex::encode(hmac_sha256(secret.as_bytes(), prehash.as_bytes()))
}

/// The claims of a Coinbase CDP JWT, as the official SDK builds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtClaims<'a> {
    /// The key name (`organizations/{org}/apiKeys/{id}`): `kid` and `sub`.
    pub key_name: &'a str,
    /// `"<METHOD> <host><path>"`, no scheme, no query.
    pub uri: &'a str,
    /// `nbf`, seconds; `exp` is `nbf + 120`.
    pub now_secs: i64,
    /// The header nonce (random per request), hex.
    pub nonce_hex: &'a str,
}

/// A Coinbase CDP JWT (ES256 with an EC P-256 PEM key, or EdDSA with an
/// Ed25519 key), signed over `base64url(header).base64url(claims)`.
pub fn coinbase_jwt(
    secret: &str,
    key_type: KeyType,
    claims: &JwtClaims<'_>,
) -> Result<String, ExchangeError> {
    let alg = match key_type {
        KeyType::Ecdsa => "ES256",
        KeyType::Ed25519 => "EdDSA",
        _ => {
            return Err(ExchangeError::InvalidCredentials {
                reason: "Coinbase CDP keys are ES256 (EC P-256) or Ed25519",
            });
        }
    };
    let header = serde_json::json!({
        "alg": alg,
        "kid": claims.key_name,
        "nonce": claims.nonce_hex,
        "typ": "JWT",
    });
    let body = serde_json::json!({
        "sub": claims.key_name,
        "iss": "cdp",
        "nbf": claims.now_secs,
        "exp": claims.now_secs + 120,
        "uri": claims.uri,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(body.to_string())
    );
    let sig: Vec<u8> = match key_type {
        KeyType::Ecdsa => {
            use p256::ecdsa::signature::Signer;
            let key = p256_from_pem(secret)?;
            let sig: p256::ecdsa::Signature = key.sign(signing_input.as_bytes());
            sig.to_bytes().to_vec()
        }
        _ => {
            use ed25519_dalek::Signer;
            let key = coinbase_ed25519(secret)?;
            key.sign(signing_input.as_bytes()).to_bytes().to_vec()
        }
    };
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// Coinbase downloads put literal `\n` in the PEM; accept both forms.
fn normalize_pem(pem: &str) -> Zeroizing<String> {
    Zeroizing::new(pem.trim().replace("\\n", "\n"))
}

fn ed25519_from_pkcs8_pem(pem: &str) -> Result<ed25519_dalek::SigningKey, ExchangeError> {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    let pem = normalize_pem(pem);
    ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).map_err(|_| ExchangeError::InvalidCredentials {
        reason: "the Ed25519 key is not a PKCS#8 PEM private key",
    })
}

fn p256_from_pem(pem: &str) -> Result<p256::ecdsa::SigningKey, ExchangeError> {
    let pem = normalize_pem(pem);
    let secret = if pem.contains("BEGIN EC PRIVATE KEY") {
        p256::SecretKey::from_sec1_pem(&pem).ok()
    } else {
        use p256::pkcs8::DecodePrivateKey;
        p256::SecretKey::from_pkcs8_pem(&pem).ok()
    };
    secret
        .map(p256::ecdsa::SigningKey::from)
        .ok_or(ExchangeError::InvalidCredentials {
            reason: "the ECDSA key is not an EC P-256 PEM private key",
        })
}

/// A Coinbase Ed25519 secret: base64 of 64 bytes (seed ‖ public key) or of
/// the 32-byte seed, or a PKCS#8 PEM.
fn coinbase_ed25519(secret: &str) -> Result<ed25519_dalek::SigningKey, ExchangeError> {
    if secret.contains("PRIVATE KEY") {
        return ed25519_from_pkcs8_pem(secret);
    }
    let raw = Zeroizing::new(STANDARD.decode(secret.trim()).map_err(|_| {
        ExchangeError::InvalidCredentials {
            reason: "the Ed25519 secret is not valid base64",
        }
    })?);
    if raw.len() != 64 && raw.len() != 32 {
        return Err(ExchangeError::InvalidCredentials {
            reason: "the Ed25519 secret must decode to 32 or 64 bytes",
        });
    }
    let mut seed = Zeroizing::new([0u8; 32]);
    seed.copy_from_slice(&raw[..32]);
    Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A fresh random nonce for JWT headers: 32 bytes as 64 hex characters.
pub(crate) fn random_nonce_hex() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_key_material_is_a_typed_error() {
        assert!(matches!(
            kraken("not base64!!", "/0/private/x", "1", "nonce=1"),
            Err(ExchangeError::InvalidCredentials { .. })
        ));
        assert!(
            binance_ed25519(
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
                "a"
            )
            .is_err()
        );
        let claims = JwtClaims {
            key_name: "k",
            uri: "GET h/p",
            now_secs: 1,
            nonce_hex: "00",
        };
        assert!(coinbase_jwt("garbage", KeyType::Ecdsa, &claims).is_err());
        assert!(coinbase_jwt("garbage", KeyType::Ed25519, &claims).is_err());
        assert!(coinbase_jwt("garbage", KeyType::Hmac, &claims).is_err());
    }

    #[test]
    fn percent_encoding_of_base64() {
        assert_eq!(percent_encode("a+b/c="), "a%2Bb%2Fc%3D");
    }
}
