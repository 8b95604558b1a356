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
use crate::model::KeyType;

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
        KeyType::EcdsaJwt => "ES256",
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
        KeyType::EcdsaJwt => {
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
        assert!(coinbase_jwt("garbage", KeyType::EcdsaJwt, &claims).is_err());
        assert!(coinbase_jwt("garbage", KeyType::Ed25519, &claims).is_err());
        assert!(coinbase_jwt("garbage", KeyType::Hmac, &claims).is_err());
    }

    #[test]
    fn percent_encoding_of_base64() {
        assert_eq!(percent_encode("a+b/c="), "a%2Bb%2Fc%3D");
    }
}

/// A secret as the exchange hands it over, recognised: its key type and,
/// for a Coinbase CDP key file, the key name it carries.
pub struct InspectedSecret {
    /// What the secret is.
    pub key_type: KeyType,
    /// The key name from a Coinbase CDP key file (`name`), if given one.
    pub key_name: Option<String>,
    /// The secret itself, out of its wrapping (the CDP file's `privateKey`
    /// with its literal `\n` turned into newlines).
    pub secret: Zeroizing<String>,
}

impl std::fmt::Debug for InspectedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InspectedSecret")
            .field("key_type", &self.key_type)
            .field("key_name", &self.key_name)
            .finish_non_exhaustive()
    }
}

/// Recognises a secret of `exchange` as the exchange hands it over.
/// Coinbase CDP: the downloaded JSON file (`name` + `privateKey`), a SEC1
/// `EC PRIVATE KEY` PEM or a PKCS#8 PEM (ES256), a PKCS#8 Ed25519 PEM or a
/// base64 Ed25519 secret (EdDSA). Binance: a PKCS#8 Ed25519 PEM, else an
/// HMAC secret. The others: HMAC. Nothing is sent anywhere; errors never
/// carry the secret.
pub fn inspect_secret(
    exchange: crate::model::Exchange,
    text: &str,
) -> Result<InspectedSecret, ExchangeError> {
    use crate::model::Exchange as E;
    let trimmed = text.trim();
    match exchange {
        E::Coinbase => {
            let (key_name, secret) = if trimmed.starts_with('{') {
                #[derive(serde::Deserialize)]
                struct CdpFile {
                    name: String,
                    #[serde(rename = "privateKey")]
                    private_key: String,
                }
                let file: CdpFile = serde_json::from_str(trimmed).map_err(|_| {
                    ExchangeError::InvalidCredentials {
                        reason: "not a Coinbase CDP key file: expected JSON with \"name\" and \"privateKey\"",
                    }
                })?;
                let pk = Zeroizing::new(file.private_key);
                (Some(file.name), normalize_pem(&pk))
            } else {
                (None, normalize_pem(trimmed))
            };
            let key_type = if p256_from_pem(&secret).is_ok() {
                KeyType::EcdsaJwt
            } else if coinbase_ed25519(&secret).is_ok() {
                KeyType::Ed25519
            } else {
                return Err(ExchangeError::InvalidCredentials {
                    reason: "not a Coinbase CDP private key: expected the downloaded key file (JSON), an EC PRIVATE KEY PEM, a PKCS#8 PEM or a base64 Ed25519 secret",
                });
            };
            Ok(InspectedSecret {
                key_type,
                key_name,
                secret,
            })
        }
        E::Binance if trimmed.contains("PRIVATE KEY") => {
            ed25519_from_pkcs8_pem(trimmed)?;
            Ok(InspectedSecret {
                key_type: KeyType::Ed25519,
                key_name: None,
                secret: normalize_pem(trimmed),
            })
        }
        _ => Ok(InspectedSecret {
            key_type: KeyType::Hmac,
            key_name: None,
            secret: Zeroizing::new(trimmed.to_string()),
        }),
    }
}

/// Whether `secret` can be a key of `key_type` on `exchange` (parsed, not
/// used). A secret that cannot is refused when the key is added, not at
/// its first check.
pub fn check_secret(
    exchange: crate::model::Exchange,
    key_type: KeyType,
    secret: &str,
) -> Result<(), ExchangeError> {
    use crate::model::Exchange as E;
    match (exchange, key_type) {
        (E::Coinbase, KeyType::EcdsaJwt) => p256_from_pem(secret).map(|_| ()),
        (E::Coinbase, KeyType::Ed25519) => coinbase_ed25519(secret).map(|_| ()),
        (E::Coinbase, _) => Err(ExchangeError::InvalidCredentials {
            reason: "Coinbase CDP keys are ECDSA (ES256) or Ed25519",
        }),
        (E::Binance, KeyType::Ed25519) => ed25519_from_pkcs8_pem(secret).map(|_| ()),
        (E::Binance | E::Kraken | E::Okx | E::Bybit, KeyType::Hmac)
            if secret.contains("PRIVATE KEY") =>
        {
            Err(ExchangeError::InvalidCredentials {
                reason: "this is a private key, not an HMAC secret: declare the key type it is",
            })
        }
        (E::Kraken, KeyType::Hmac) => STANDARD.decode(secret.trim()).map(|_| ()).map_err(|_| {
            ExchangeError::InvalidCredentials {
                reason: "a Kraken secret is base64, as Kraken shows it",
            }
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod import_tests {
    use super::*;
    use crate::model::Exchange;

    fn sec1() -> String {
        use p256::pkcs8::LineEnding;
        p256::SecretKey::from_slice(&[7u8; 32])
            .unwrap()
            .to_sec1_pem(LineEnding::LF)
            .unwrap()
            .to_string()
    }

    #[test]
    fn coinbase_keys_are_recognised_in_every_form_they_are_handed_over() {
        // The downloaded CDP key file: SEC1 PEM with literal "\n".
        let file = serde_json::json!({
            "name": "organizations/o-1/apiKeys/k-1",
            "privateKey": sec1(),
        })
        .to_string();
        assert!(file.contains("\\n"));
        let s = inspect_secret(Exchange::Coinbase, &file).unwrap();
        assert_eq!(s.key_type, KeyType::EcdsaJwt);
        assert_eq!(s.key_name.as_deref(), Some("organizations/o-1/apiKeys/k-1"));
        assert!(s.secret.starts_with("-----BEGIN EC PRIVATE KEY-----\n"));
        // A SEC1 PEM, a PKCS#8 P-256 PEM.
        assert_eq!(
            inspect_secret(Exchange::Coinbase, &sec1())
                .unwrap()
                .key_type,
            KeyType::EcdsaJwt
        );
        let pkcs8 = {
            use p256::pkcs8::{EncodePrivateKey, LineEnding};
            p256::SecretKey::from_slice(&[7u8; 32])
                .unwrap()
                .to_pkcs8_pem(LineEnding::LF)
                .unwrap()
                .to_string()
        };
        assert_eq!(
            inspect_secret(Exchange::Coinbase, &pkcs8).unwrap().key_type,
            KeyType::EcdsaJwt
        );
        // A base64 Ed25519 secret (seed ‖ public key) and a PKCS#8 Ed25519 PEM.
        let ed = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
        let b64 = STANDARD.encode(ed.to_keypair_bytes());
        assert_eq!(
            inspect_secret(Exchange::Coinbase, &b64).unwrap().key_type,
            KeyType::Ed25519
        );
        let ed_pem = {
            use ed25519_dalek::pkcs8::{EncodePrivateKey, spki::der::pem::LineEnding};
            ed.to_pkcs8_pem(LineEnding::LF).unwrap().to_string()
        };
        assert_eq!(
            inspect_secret(Exchange::Coinbase, &ed_pem)
                .unwrap()
                .key_type,
            KeyType::Ed25519
        );
        assert_eq!(
            inspect_secret(Exchange::Binance, &ed_pem).unwrap().key_type,
            KeyType::Ed25519
        );
        // Garbage is refused, and the error does not echo it.
        let e = inspect_secret(Exchange::Coinbase, "CANARYnot-a-key").unwrap_err();
        assert!(!e.to_string().contains("CANARY"));
        let e = inspect_secret(
            Exchange::Coinbase,
            r#"{"name":"x","privateKey":"CANARYjunk"}"#,
        )
        .unwrap_err();
        assert!(!e.to_string().contains("CANARY"));
    }

    #[test]
    fn a_secret_that_cannot_be_the_declared_type_is_refused() {
        assert!(check_secret(Exchange::Coinbase, KeyType::EcdsaJwt, &sec1()).is_ok());
        let b64 = STANDARD.encode([3u8; 64]);
        assert!(check_secret(Exchange::Coinbase, KeyType::EcdsaJwt, &b64).is_err());
        assert!(check_secret(Exchange::Coinbase, KeyType::Ed25519, &b64).is_ok());
        assert!(check_secret(Exchange::Coinbase, KeyType::Hmac, "abc").is_err());
        assert!(check_secret(Exchange::Binance, KeyType::Ed25519, "hex-secret").is_err());
        assert!(check_secret(Exchange::Bybit, KeyType::Hmac, &sec1()).is_err());
        assert!(check_secret(Exchange::Kraken, KeyType::Hmac, "not base64 !").is_err());
        assert!(
            check_secret(
                Exchange::Okx,
                KeyType::Hmac,
                "22582BD0CFF14C41EDBF1AB98506286D"
            )
            .is_ok()
        );
    }
}
