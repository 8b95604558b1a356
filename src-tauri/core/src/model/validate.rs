//! Input validation for key records.
//!
//! Owns: the rules a record must satisfy before it is stored, each with its
//! own error variant. Must never: echo a secret or passphrase in an error (only
//! the public fields are quoted, and only truncated).

use std::net::IpAddr;

use ipnet::IpNet;
use thiserror::Error;

use super::names::{Environment, Exchange, KeyType};
use super::secret::ApiSecret;

/// Longest label, in characters.
pub const MAX_LABEL_CHARS: usize = 64;
const MAX_KEY_ID_CHARS: usize = 512;
const MAX_SECRET_BYTES: usize = 16 * 1024;
const MAX_FREE_TEXT_CHARS: usize = 4096;

/// Why an input was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValidationError {
    /// Empty label.
    #[error("the label must not be empty")]
    EmptyLabel,
    /// Label over 64 characters.
    #[error("the label is longer than {MAX_LABEL_CHARS} characters")]
    LabelTooLong,
    /// Label contains a control character.
    #[error("the label must not contain control characters")]
    LabelControlChars,
    /// Label contains an invisible Unicode format character (a
    /// bidirectional override or isolate, a zero-width character…), which
    /// can make it read as another label.
    #[error(
        "the label must not contain invisible formatting characters (bidirectional overrides, zero-width characters)"
    )]
    LabelFormatChars,
    /// Another key already has this label.
    #[error("a key labelled {label:?} already exists")]
    DuplicateLabel {
        /// The label.
        label: String,
    },
    /// Unknown exchange name.
    #[error(
        "unknown exchange {value:?} (expected binance, coinbase, kraken, okx, bybit, kucoin, bitget or other)"
    )]
    UnknownExchange {
        /// What was given (truncated).
        value: String,
    },
    /// Unknown key type name.
    #[error("unknown key type {value:?} (expected hmac, ed25519, rsa or ecdsa_jwt)")]
    UnknownKeyType {
        /// What was given (truncated).
        value: String,
    },
    /// Unknown scope name.
    #[error(
        "unknown scope {value:?} (expected read, trade, withdraw, transfer, futures or margin)"
    )]
    UnknownScope {
        /// What was given (truncated).
        value: String,
    },
    /// Unknown status name.
    #[error("unknown status {value:?} (expected active, rotating, revoked or compromised)")]
    UnknownStatus {
        /// What was given (truncated).
        value: String,
    },
    /// The API key id is empty.
    #[error("the API key id must not be empty")]
    EmptyKeyId,
    /// The API key id contains whitespace or control characters.
    #[error("the API key id must not contain whitespace or control characters")]
    KeyIdCharacters,
    /// The API key id does not have the exchange's known shape.
    #[error("this does not look like a{} {} API key id: {expected}", article(.exchange.display_name()), .exchange.display_name())]
    KeyIdShape {
        /// The exchange.
        exchange: Exchange,
        /// The expected shape, in words.
        expected: &'static str,
    },
    /// The secret is empty.
    #[error("the API secret must not be empty")]
    EmptySecret,
    /// The secret cannot be a key of the declared type (or of any type the
    /// exchange issues).
    #[error("the secret cannot be used: {reason}")]
    SecretWrongType {
        /// What is wrong, without the secret.
        reason: &'static str,
    },
    /// The secret is implausibly large.
    #[error("the API secret is larger than 16 KiB")]
    SecretTooLong,
    /// The exchange needs a passphrase and none was given.
    #[error("{} keys need a passphrase", .exchange.display_name())]
    PassphraseRequired {
        /// The exchange.
        exchange: Exchange,
    },
    /// A passphrase was given for an exchange that has none.
    #[error("{} keys have no passphrase", .exchange.display_name())]
    PassphraseNotExpected {
        /// The exchange.
        exchange: Exchange,
    },
    /// Secret or passphrase contains a control character where none can be.
    #[error("the {field} must not contain control characters")]
    SecretControlChars {
        /// `secret` or `passphrase`.
        field: &'static str,
    },
    /// Not an IP address or CIDR range.
    #[error("{value:?} is not an IP address or CIDR range")]
    BadIp {
        /// What was given (truncated).
        value: String,
    },
    /// Not a usable base URL.
    #[error(
        "{value:?} is not a valid base URL (https, or http to 127.0.0.0/8, ::1 or localhost only)"
    )]
    BadBaseUrl {
        /// What was given (truncated).
        value: String,
    },
    /// A free-text field is too long or holds control characters.
    #[error("the {field} field is too long or contains control characters")]
    BadText {
        /// The field.
        field: &'static str,
    },
    /// A linked service with an empty name.
    #[error("the service name must not be empty")]
    EmptyServiceName,
    /// A service name over 64 characters.
    #[error("the service name is longer than 64 characters")]
    ServiceNameTooLong,
    /// A service name with a control character.
    #[error("the service name must not contain control characters")]
    ServiceNameControlChars,
    /// Two services of one key with the same name (case-insensitive).
    #[error("this key already has a service named {name:?}")]
    DuplicateService {
        /// The name.
        name: String,
    },
    /// More services on one key than allowed.
    #[error("a key can have at most 50 linked services")]
    TooManyServices,
    /// Not a hostname or IP address.
    #[error("{value:?} is not a hostname or IP address (no scheme, port or path)")]
    BadServiceHost {
        /// What was given (truncated).
        value: String,
    },
    /// Service notes too long or with control characters.
    #[error("the service notes are longer than 1000 characters or contain control characters")]
    BadServiceNotes,
    /// Unknown service kind name.
    #[error("unknown service kind {value:?} (expected own-bot, platform or script)")]
    UnknownServiceKind {
        /// What was given (truncated).
        value: String,
    },
    /// Unknown vendor-checklist item.
    #[error(
        "unknown checklist item {value:?} (expected key_storage_docs, reputation, incident_history, compliance or open_source)"
    )]
    UnknownChecklistItem {
        /// What was given (truncated).
        value: String,
    },
    /// A rotation period of zero or over ten years.
    #[error("the rotation period must be between 1 and 3650 days")]
    BadRotationPeriod,
    /// A settings value out of range.
    #[error("setting {name} is out of range")]
    BadSetting {
        /// The setting.
        name: &'static str,
    },
}

fn truncated(value: &str) -> String {
    value.chars().take(64).collect()
}

/// Checks a label's form (uniqueness is checked against the database).
pub fn label(label: &str) -> Result<(), ValidationError> {
    if label.trim().is_empty() {
        return Err(ValidationError::EmptyLabel);
    }
    if label.chars().count() > MAX_LABEL_CHARS {
        return Err(ValidationError::LabelTooLong);
    }
    if label.chars().any(char::is_control) {
        return Err(ValidationError::LabelControlChars);
    }
    if label.chars().any(crate::text::is_format_char) {
        return Err(ValidationError::LabelFormatChars);
    }
    Ok(())
}

fn is_uuid(s: &str) -> bool {
    uuid::Uuid::try_parse(s).is_ok() && s.len() == 36
}

/// Checks an API key id, with the exchange's shape where it is known and
/// permissive otherwise. Whitespace and control characters are never valid.
pub fn api_key_id(exchange: Exchange, id: &str) -> Result<(), ValidationError> {
    if id.is_empty() {
        return Err(ValidationError::EmptyKeyId);
    }
    if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ValidationError::KeyIdCharacters);
    }
    if id.chars().count() > MAX_KEY_ID_CHARS {
        return Err(ValidationError::KeyIdShape {
            exchange,
            expected: "at most 512 characters",
        });
    }
    let alnum = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric());
    let shape_ok = match exchange {
        // Binance HMAC keys are 64 alphanumerics; Ed25519/RSA keys registered
        // with Binance get the same form of id.
        Exchange::Binance => id.len() == 64 && alnum(id),
        // CDP keys: `organizations/{org}/apiKeys/{id}`; legacy keys: a UUID.
        Exchange::Coinbase => {
            is_uuid(id)
                || match id.split('/').collect::<Vec<_>>().as_slice() {
                    ["organizations", org, "apiKeys", key] => {
                        !org.is_empty()
                            && !key.is_empty()
                            && [org, key]
                                .iter()
                                .all(|p| p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
                    }
                    _ => false,
                }
        }
        // OKX and Bitget-style keys are UUIDs; Bitget also issues `bg_` + hex.
        Exchange::Okx => is_uuid(id),
        Exchange::Bitget => is_uuid(id) || (id.starts_with("bg_") && alnum(&id[3..])),
        // KuCoin: 24 hex characters.
        Exchange::Kucoin => id.len() == 24 && id.chars().all(|c| c.is_ascii_hexdigit()),
        // Kraken (56 base64 chars) and Bybit (18+ alnum) vary; accept printable
        // ASCII of a plausible length.
        Exchange::Kraken | Exchange::Bybit => {
            (8..=128).contains(&id.len()) && id.chars().all(|c| c.is_ascii_graphic())
        }
        Exchange::Other => true,
    };
    if shape_ok {
        return Ok(());
    }
    Err(ValidationError::KeyIdShape {
        exchange,
        expected: match exchange {
            Exchange::Binance => "64 letters and digits",
            Exchange::Coinbase => "organizations/{org}/apiKeys/{id} or a UUID",
            Exchange::Okx => "a UUID",
            Exchange::Bitget => "a UUID or bg_ followed by letters and digits",
            Exchange::Kucoin => "24 hexadecimal characters",
            _ => "8 to 128 printable ASCII characters",
        },
    })
}

/// Checks the secret. PEM keys are multi-line, so newlines are allowed there,
/// other control characters never are.
pub fn secret(secret: &str) -> Result<(), ValidationError> {
    if secret.trim().is_empty() {
        return Err(ValidationError::EmptySecret);
    }
    if secret.len() > MAX_SECRET_BYTES {
        return Err(ValidationError::SecretTooLong);
    }
    if secret
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r')
    {
        return Err(ValidationError::SecretControlChars { field: "secret" });
    }
    Ok(())
}

/// Checks that the secret can be a key of `key_type` on `exchange` (a
/// Coinbase PEM or base64 Ed25519 secret, a Binance Ed25519 PEM, a base64
/// Kraken secret, no private key declared as HMAC). Exchanges without a
/// live adapter are not checked.
pub fn secret_for(
    exchange: Exchange,
    key_type: KeyType,
    secret: &str,
) -> Result<(), ValidationError> {
    use crate::exchange::{ExchangeError, sign};
    if !exchange.has_adapter() {
        return Ok(());
    }
    sign::check_secret(exchange, key_type, secret).map_err(|e| match e {
        ExchangeError::InvalidCredentials { reason } => ValidationError::SecretWrongType { reason },
        _ => ValidationError::SecretWrongType {
            reason: "the secret does not fit the key type",
        },
    })
}

/// A secret as the exchange handed it over, recognised (see
/// [`recognise_secret`]).
#[derive(Debug)]
pub struct RecognisedSecret {
    /// Its key type.
    pub key_type: KeyType,
    /// The key name a Coinbase CDP key file carries (`name`).
    pub key_name: Option<String>,
    /// The secret out of its wrapping (redacted `Debug`, zeroized on drop).
    pub secret: ApiSecret,
}

/// Recognises a secret as the exchange hands it over, for adding a key
/// without a declared key type: a Coinbase CDP key file (JSON with `name`
/// and `privateKey`), an EC or PKCS#8 PEM, a base64 Ed25519 secret, a
/// Binance Ed25519 PEM; anything else is an HMAC secret. The error never
/// carries the secret.
pub fn recognise_secret(
    exchange: Exchange,
    text: &str,
) -> Result<RecognisedSecret, ValidationError> {
    use crate::exchange::{ExchangeError, sign};
    if !exchange.has_adapter() {
        return Ok(RecognisedSecret {
            key_type: KeyType::Hmac,
            key_name: None,
            secret: ApiSecret::new(text.trim().to_string()),
        });
    }
    let found = sign::inspect_secret(exchange, text).map_err(|e| match e {
        ExchangeError::InvalidCredentials { reason } => ValidationError::SecretWrongType { reason },
        _ => ValidationError::SecretWrongType {
            reason: "the secret is not a key of this exchange",
        },
    })?;
    Ok(RecognisedSecret {
        key_type: found.key_type,
        key_name: found.key_name.clone(),
        secret: ApiSecret::new(found.secret.as_str().to_owned()),
    })
}

/// Checks the passphrase against the exchange's needs.
pub fn passphrase(exchange: Exchange, passphrase: Option<&str>) -> Result<(), ValidationError> {
    match passphrase {
        None | Some("") if exchange.requires_passphrase() => {
            Err(ValidationError::PassphraseRequired { exchange })
        }
        None | Some("") => Ok(()),
        Some(_) if !exchange.requires_passphrase() && exchange != Exchange::Other => {
            Err(ValidationError::PassphraseNotExpected { exchange })
        }
        Some(p) if p.chars().any(char::is_control) || p.len() > MAX_SECRET_BYTES => {
            Err(ValidationError::SecretControlChars {
                field: "passphrase",
            })
        }
        Some(_) => Ok(()),
    }
}

/// Normalizes one whitelist entry: an IP address or a CIDR range.
pub fn ip_entry(value: &str) -> Result<String, ValidationError> {
    let v = value.trim();
    if let Ok(ip) = v.parse::<IpAddr>() {
        return Ok(ip.to_string());
    }
    if let Ok(net) = v.parse::<IpNet>() {
        return Ok(net.to_string());
    }
    Err(ValidationError::BadIp {
        value: truncated(value),
    })
}

/// Checks a custom base URL: `https://host[:port][/path]`, or `http://` only to
/// loopback (127.0.0.0/8, `::1`, `localhost`).
pub fn base_url(url: &str) -> Result<(), ValidationError> {
    let bad = || ValidationError::BadBaseUrl {
        value: truncated(url),
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) || url.len() > 2048 {
        return Err(bad());
    }
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err(bad());
    }
    let host = if let Some(stripped) = authority.strip_prefix('[') {
        let (h, after) = stripped.split_once(']').ok_or_else(bad)?;
        if !(after.is_empty() || after.starts_with(':')) {
            return Err(bad());
        }
        check_port(after.strip_prefix(':')).ok_or_else(bad)?;
        h
    } else {
        let (h, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        check_port(port).ok_or_else(bad)?;
        h
    };
    if host.is_empty() {
        return Err(bad());
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(()),
        "http" if is_loopback_host(host) => Ok(()),
        _ => Err(bad()),
    }
}

fn check_port(port: Option<&str>) -> Option<()> {
    match port {
        None => Some(()),
        Some(p) => p.parse::<u16>().ok().map(|_| ()),
    }
}

fn is_loopback_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Checks an environment.
pub fn environment(env: &Environment) -> Result<(), ValidationError> {
    match env {
        Environment::Custom(url) => base_url(url),
        _ => Ok(()),
    }
}

/// Checks a free-text field (notes, linked service names).
pub fn free_text(
    field: &'static str,
    value: &str,
    allow_newlines: bool,
) -> Result<(), ValidationError> {
    let bad_char = |c: char| c.is_control() && !(allow_newlines && (c == '\n' || c == '\t'));
    if value.chars().count() > MAX_FREE_TEXT_CHARS || value.chars().any(bad_char) {
        return Err(ValidationError::BadText { field });
    }
    Ok(())
}

/// Checks a rotation period.
pub fn rotation_days(days: u32) -> Result<(), ValidationError> {
    if (1..=3650).contains(&days) {
        Ok(())
    } else {
        Err(ValidationError::BadRotationPeriod)
    }
}

/// "n" before a brand said with a vowel first ("an OKX"), else nothing
/// ("a Binance"): for `KeyIdShape`'s message.
fn article(name: &str) -> &'static str {
    if name.starts_with(['A', 'E', 'I', 'O', 'U']) {
        "n"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert!(label("main").is_ok());
        assert_eq!(label(""), Err(ValidationError::EmptyLabel));
        assert_eq!(label("  "), Err(ValidationError::EmptyLabel));
        assert_eq!(label(&"x".repeat(65)), Err(ValidationError::LabelTooLong));
        assert!(label(&"é".repeat(64)).is_ok());
        assert_eq!(label("a\nb"), Err(ValidationError::LabelControlChars));
        assert_eq!(label("a\u{7}"), Err(ValidationError::LabelControlChars));
    }

    #[test]
    fn label_with_bidi_override_is_refused() {
        // "main" + RLO + "txt.exe" reads as "mainexe.txt".
        for bad in [
            "main\u{202E}txt.exe",
            "a\u{2066}b",
            "hot\u{200B}wallet",
            "\u{FEFF}main",
            "x\u{200D}y",
        ] {
            assert_eq!(
                label(bad),
                Err(ValidationError::LabelFormatChars),
                "{bad:?}"
            );
        }
        assert!(label("trading bot 中文 ✓").is_ok());
    }

    #[test]
    fn key_ids() {
        let binance = "a".repeat(64);
        assert!(api_key_id(Exchange::Binance, &binance).is_ok());
        assert!(api_key_id(Exchange::Binance, "short").is_err());
        assert!(api_key_id(Exchange::Binance, &format!("{}!", "a".repeat(63))).is_err());
        assert!(api_key_id(Exchange::Coinbase, "organizations/1f2e-aa/apiKeys/9b1c-77").is_ok());
        assert!(api_key_id(Exchange::Coinbase, "6c4b2a8e-3f1d-4e5a-9b7c-0d1e2f3a4b5c").is_ok());
        assert!(api_key_id(Exchange::Coinbase, "organizations//apiKeys/x").is_err());
        assert!(api_key_id(Exchange::Okx, "6c4b2a8e-3f1d-4e5a-9b7c-0d1e2f3a4b5c").is_ok());
        assert!(api_key_id(Exchange::Kucoin, "5f0c3a9e1b2d4c6e8f0a1b2c").is_ok());
        assert!(api_key_id(Exchange::Other, "anything-goes").is_ok());
        assert_eq!(
            api_key_id(Exchange::Other, "has space"),
            Err(ValidationError::KeyIdCharacters)
        );
        assert_eq!(
            api_key_id(Exchange::Kraken, "tab\there"),
            Err(ValidationError::KeyIdCharacters)
        );
        assert_eq!(
            api_key_id(Exchange::Other, ""),
            Err(ValidationError::EmptyKeyId)
        );
    }

    #[test]
    fn passphrases() {
        assert!(passphrase(Exchange::Okx, None).is_err());
        assert!(passphrase(Exchange::Kucoin, Some("")).is_err());
        assert!(passphrase(Exchange::Bitget, Some("pp")).is_ok());
        assert!(passphrase(Exchange::Binance, None).is_ok());
        assert!(passphrase(Exchange::Binance, Some("pp")).is_err());
        assert!(passphrase(Exchange::Okx, Some("a\u{0}b")).is_err());
    }

    #[test]
    fn messages_name_exchanges_by_their_brand() {
        let e = passphrase(Exchange::Okx, None).unwrap_err();
        assert_eq!(e.to_string(), "OKX keys need a passphrase");
        let e = ValidationError::KeyIdShape {
            exchange: Exchange::Okx,
            expected: "a UUID",
        };
        assert_eq!(
            e.to_string(),
            "this does not look like an OKX API key id: a UUID"
        );
        let e = ValidationError::KeyIdShape {
            exchange: Exchange::Binance,
            expected: "64 letters and digits",
        };
        assert!(
            e.to_string()
                .starts_with("this does not look like a Binance API")
        );
    }

    #[test]
    fn secrets() {
        assert!(secret("abc").is_ok());
        assert!(secret("-----BEGIN PRIVATE KEY-----\nAAA\n-----END PRIVATE KEY-----\n").is_ok());
        assert!(secret("").is_err());
        assert!(secret("a\u{1b}b").is_err());
    }

    #[test]
    fn ips() {
        assert_eq!(ip_entry("203.0.113.7").unwrap(), "203.0.113.7");
        assert_eq!(ip_entry("10.0.0.0/8").unwrap(), "10.0.0.0/8");
        assert_eq!(ip_entry("2001:db8::/32").unwrap(), "2001:db8::/32");
        assert!(ip_entry("2001:db8::1").is_ok());
        assert!(ip_entry("300.1.1.1").is_err());
        assert!(ip_entry("10.0.0.0/33").is_err());
        assert!(ip_entry("example.com").is_err());
    }

    #[test]
    fn base_urls() {
        assert!(base_url("https://api.binance.com").is_ok());
        assert!(base_url("https://testnet.example:8443/api").is_ok());
        assert!(base_url("http://127.0.0.1:8080").is_ok());
        assert!(base_url("http://127.9.9.9").is_ok());
        assert!(base_url("http://[::1]:9000/x").is_ok());
        assert!(base_url("http://localhost:3000").is_ok());
        assert!(base_url("http://example.com").is_err());
        assert!(base_url("http://10.0.0.1").is_err());
        assert!(base_url("ftp://localhost").is_err());
        assert!(base_url("https://").is_err());
        assert!(base_url("https://user@host").is_err());
        assert!(base_url("http://localhost.evil.com").is_err());
        assert!(base_url("https://host:99999").is_err());
        assert!(base_url("not a url").is_err());
    }
}
