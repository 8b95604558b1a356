//! Key records: what a front end sends in and gets back.
//!
//! Owns: the record vocabulary (exchange, environment, key type, scopes,
//! status) and the DTOs. Must never: put a secret or passphrase in a type that
//! derives `Serialize` — input types hold them in [`ApiSecret`] /
//! [`Passphrase`], output types hold only metadata.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::secret::{ApiSecret, Passphrase};
use super::service::LinkedService;
use super::validate::ValidationError;

macro_rules! name_enum {
    ($(#[$doc:meta])* $ty:ident, $err:ident { $($(#[$vdoc:meta])* $variant:ident => $name:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[serde(rename_all = "snake_case")]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
        #[non_exhaustive]
        pub enum $ty {
            $($(#[$vdoc])* $variant),+
        }

        impl $ty {
            /// Every value, in display order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The stable name (database, CLI, JSON).
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let lower = s.trim().to_ascii_lowercase();
                match lower.as_str() {
                    $($name => Ok($ty::$variant),)+
                    _ => Err(ValidationError::$err { value: s.chars().take(32).collect() }),
                }
            }
        }
    };
}

name_enum!(
    /// A supported exchange.
    Exchange, UnknownExchange {
        /// Binance.
        Binance => "binance",
        /// Coinbase (Advanced Trade / CDP keys).
        Coinbase => "coinbase",
        /// Kraken.
        Kraken => "kraken",
        /// OKX (needs a passphrase).
        Okx => "okx",
        /// Bybit.
        Bybit => "bybit",
        /// KuCoin (needs a passphrase).
        Kucoin => "kucoin",
        /// Bitget (needs a passphrase).
        Bitget => "bitget",
        /// Any other exchange or service.
        Other => "other",
    }
);

impl Exchange {
    /// The exchange's brand as a person writes it ("Binance", "OKX",
    /// "KuCoin"): for every text a person reads. [`Exchange::as_str`] stays
    /// the identifier (database, CLI arguments, JSON).
    pub fn display_name(self) -> &'static str {
        match self {
            Exchange::Binance => "Binance",
            Exchange::Coinbase => "Coinbase",
            Exchange::Kraken => "Kraken",
            Exchange::Okx => "OKX",
            Exchange::Bybit => "Bybit",
            Exchange::Kucoin => "KuCoin",
            Exchange::Bitget => "Bitget",
            Exchange::Other => "Other",
        }
    }
}

impl Exchange {
    /// Whether the exchange issues a passphrase with every key.
    pub fn requires_passphrase(self) -> bool {
        matches!(self, Exchange::Okx | Exchange::Kucoin | Exchange::Bitget)
    }
}

name_enum!(
    /// The kind of credential.
    KeyType, UnknownKeyType {
        /// A shared HMAC secret.
        Hmac => "hmac",
        /// An Ed25519 private key.
        Ed25519 => "ed25519",
        /// An RSA private key.
        Rsa => "rsa",
        /// An ECDSA private key used to sign JWTs (e.g. Coinbase CDP).
        EcdsaJwt => "ecdsa_jwt",
    }
);

name_enum!(
    /// A permission a key was created with.
    Scope, UnknownScope {
        /// Read balances, orders, history.
        Read => "read",
        /// Place and cancel spot orders.
        Trade => "trade",
        /// Withdraw funds.
        Withdraw => "withdraw",
        /// Move funds between accounts.
        Transfer => "transfer",
        /// Trade futures or derivatives.
        Futures => "futures",
        /// Margin trading.
        Margin => "margin",
        /// Trade options (Bybit, OKX and Binance report it).
        Options => "options",
    }
);

name_enum!(
    /// Lifecycle state of a key.
    KeyStatus, UnknownStatus {
        /// In use.
        Active => "active",
        /// A rotation is in progress.
        Rotating => "rotating",
        /// Revoked at the exchange.
        Revoked => "revoked",
        /// Known or suspected to be exposed.
        Compromised => "compromised",
    }
);

/// Which endpoint the key talks to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "base_url", rename_all = "snake_case")]
#[non_exhaustive]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Environment {
    /// The exchange's production API.
    Mainnet,
    /// The exchange's public testnet.
    Testnet,
    /// A custom base URL (https, or http to loopback only).
    Custom(String),
}

impl Environment {
    /// The stored kind name.
    pub fn kind_str(&self) -> &'static str {
        match self {
            Environment::Mainnet => "mainnet",
            Environment::Testnet => "testnet",
            Environment::Custom(_) => "custom",
        }
    }
}

/// A new key, as entered by the user.
#[derive(Debug)]
pub struct NewKey {
    /// Unique label, 1–64 characters.
    pub label: String,
    /// The exchange.
    pub exchange: Exchange,
    /// Endpoint.
    pub environment: Environment,
    /// The public API key id.
    pub api_key_id: String,
    /// The secret (sealed before it is stored).
    pub secret: ApiSecret,
    /// The passphrase, where the exchange has one (sealed before it is stored).
    pub passphrase: Option<Passphrase>,
    /// Kind of credential.
    pub key_type: KeyType,
    /// Declared permissions.
    pub scopes: Vec<Scope>,
    /// IP addresses or CIDR ranges the key is restricted to at the exchange.
    pub ip_whitelist: Vec<String>,
    /// Which bots, platforms or scripts hold this key (names unique per
    /// key; see `vault::service`).
    pub linked_services: Vec<LinkedService>,
    /// Free-form notes (not secret; do not paste secrets here).
    pub notes: String,
    /// Rotation period in days; `None` uses the vault default.
    pub rotate_every_days: Option<u32>,
}

impl NewKey {
    /// A key with only the required fields and defaults elsewhere.
    pub fn new(
        label: impl Into<String>,
        exchange: Exchange,
        api_key_id: impl Into<String>,
        secret: ApiSecret,
    ) -> NewKey {
        NewKey {
            label: label.into(),
            exchange,
            environment: Environment::Mainnet,
            api_key_id: api_key_id.into(),
            secret,
            passphrase: None,
            key_type: KeyType::Hmac,
            scopes: vec![Scope::Read],
            ip_whitelist: Vec::new(),
            linked_services: Vec::new(),
            notes: String::new(),
            rotate_every_days: None,
        }
    }
}

/// Changes to an existing key; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct KeyEdit {
    /// New label.
    pub label: Option<String>,
    /// New endpoint.
    pub environment: Option<Environment>,
    /// New public key id.
    pub api_key_id: Option<String>,
    /// New secret (re-sealed).
    pub secret: Option<ApiSecret>,
    /// New passphrase (re-sealed).
    pub passphrase: Option<Passphrase>,
    /// New key type.
    pub key_type: Option<KeyType>,
    /// Replaces the declared scopes.
    pub scopes: Option<Vec<Scope>>,
    /// Replaces the IP whitelist.
    pub ip_whitelist: Option<Vec<String>>,
    /// The names of the services that hold the key: a name the key already
    /// has (case-insensitive) keeps its record (kind, host, notes, vendor
    /// checklist), a new name becomes a service of kind unspecified, and
    /// services not named are removed (see `service::keep_by_name`). Single
    /// services are changed with `Session::add_service` and its siblings.
    pub linked_services: Option<Vec<String>>,
    /// Replaces the notes.
    pub notes: Option<String>,
    /// New rotation period; `Some(None)` reverts to the vault default.
    pub rotate_every_days: Option<Option<u32>>,
    /// New status.
    pub status: Option<KeyStatus>,
}

impl KeyEdit {
    /// Whether the edit changes nothing.
    pub fn is_empty(&self) -> bool {
        self.label.is_none()
            && self.environment.is_none()
            && self.api_key_id.is_none()
            && self.secret.is_none()
            && self.passphrase.is_none()
            && self.key_type.is_none()
            && self.scopes.is_none()
            && self.ip_whitelist.is_none()
            && self.linked_services.is_none()
            && self.notes.is_none()
            && self.rotate_every_days.is_none()
            && self.status.is_none()
    }

    /// The fields of this edit that decide where the secret is sent or what
    /// the stored credential is: endpoint, key id, secret, passphrase, key
    /// type and status. Changing any of them needs a step-up
    /// ([`crate::mfa::GatedAction::EditCredentials`]); labels, scopes, IP
    /// whitelist, services, notes and the rotation period do not.
    pub fn credential_fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.environment.is_some() {
            out.push("environment");
        }
        if self.api_key_id.is_some() {
            out.push("api_key_id");
        }
        if self.secret.is_some() {
            out.push("secret");
        }
        if self.passphrase.is_some() {
            out.push("passphrase");
        }
        if self.key_type.is_some() {
            out.push("key_type");
        }
        if self.status.is_some() {
            out.push("status");
        }
        out
    }
}

/// One row of the key list. Metadata only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KeySummary {
    /// Record id (uuid).
    pub id: String,
    /// Label.
    pub label: String,
    /// Exchange.
    pub exchange: Exchange,
    /// Endpoint.
    pub environment: Environment,
    /// The API key id, masked (first and last four characters).
    pub api_key_id_masked: String,
    /// Kind of credential.
    pub key_type: KeyType,
    /// Declared permissions.
    pub scopes: Vec<Scope>,
    /// Whether the key has an IP whitelist.
    pub ip_restricted: bool,
    /// Status.
    pub status: KeyStatus,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last rotation, if any.
    pub last_rotated_at: Option<i64>,
    /// Effective rotation period in days (own or vault default).
    pub rotate_every_days: u32,
    /// Unix seconds at which rotation is due.
    pub rotation_due_at: i64,
    /// Last live check against the exchange: unix seconds.
    pub last_audit_at: Option<i64>,
    /// Last live check: `ok`, `warning`, `critical`, `rejected`,
    /// `unreachable`… (see `vault::checks`).
    #[cfg_attr(feature = "ts", ts(as = "Option<super::CheckStatus>"))]
    pub last_audit_result: Option<String>,
}

/// Everything about one key except its secret and passphrase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KeyDetail {
    /// The list fields.
    #[serde(flatten)]
    pub summary: KeySummary,
    /// The full public API key id.
    pub api_key_id: String,
    /// Whether a passphrase is stored (never its value).
    pub has_passphrase: bool,
    /// IP whitelist.
    pub ip_whitelist: Vec<String>,
    /// Linked services, with kind, host, notes and the dated vendor
    /// checklist.
    pub linked_services: Vec<LinkedService>,
    /// Notes.
    pub notes: String,
    /// The key's own rotation period, if it overrides the vault default.
    pub rotate_every_days_override: Option<u32>,
    /// Last exchange audit: unix seconds. (The same value as the summary's;
    /// the TypeScript declaration names it once.)
    #[cfg_attr(feature = "ts", ts(skip))]
    pub last_audit_at: Option<i64>,
    /// Last exchange audit: result (as in the summary).
    #[cfg_attr(feature = "ts", ts(skip))]
    pub last_audit_result: Option<String>,
    /// Last exchange audit: permissions the exchange reported.
    pub last_audit_permissions: Option<Vec<String>>,
    /// Last exchange audit: whether the exchange reported an IP allowlist
    /// on the key (`None`: not reported, or no authenticated check).
    pub last_audit_ip_restricted: Option<bool>,
    /// Last exchange audit: the live IP allowlist, when reported.
    pub last_audit_ip_whitelist: Option<Vec<String>>,
    /// Whether `keyward run` may inject this key without a step-up each
    /// time (granted with step-up, see `Session::set_allow_run`).
    pub allow_run: bool,
    /// For a custom base URL whose host is not one of the exchange's own:
    /// that host (`host[:port]`), so every screen can say where this key's
    /// requests go. `None` for the exchange's own endpoints.
    pub custom_host: Option<String>,
    /// Whether the custom host was confirmed with a step-up (set through a
    /// gated edit). The background audit talks only to the exchange's own
    /// hosts and to confirmed ones.
    pub host_confirmed: bool,
}

/// The API hosts each exchange documents as its own (production,
/// regional, testnet and demo). A base URL on any other host is shown as a
/// custom host.
pub fn official_hosts(exchange: Exchange) -> &'static [&'static str] {
    match exchange {
        Exchange::Binance => &[
            "api.binance.com",
            "api-gcp.binance.com",
            "api1.binance.com",
            "api2.binance.com",
            "api3.binance.com",
            "api4.binance.com",
            "testnet.binance.vision",
            "demo-api.binance.com",
            "api.binance.us",
        ],
        Exchange::Coinbase => &["api.coinbase.com"],
        Exchange::Kraken => &["api.kraken.com"],
        Exchange::Okx => &["www.okx.com", "eea.okx.com", "us.okx.com", "aws.okx.com"],
        Exchange::Bybit => &[
            "api.bybit.com",
            "api.bytick.com",
            "api-testnet.bybit.com",
            "api-demo.bybit.com",
            "api.bybit.eu",
            "api.bybit.nl",
            "api.bybit-tr.com",
            "api.bybit.kz",
            "api.bybitglobal.com",
        ],
        Exchange::Kucoin => &["api.kucoin.com"],
        Exchange::Bitget => &["api.bitget.com"],
        Exchange::Other => &[],
    }
}

/// The `host[:port]` of a custom base URL when it is not one of the
/// exchange's own hosts (an `https` URL on a documented host is not custom).
pub fn custom_host(exchange: Exchange, environment: &Environment) -> Option<String> {
    let Environment::Custom(url) = environment else {
        return None;
    };
    let rest = url
        .strip_prefix("https://")
        .map(|r| (true, r))
        .or_else(|| url.strip_prefix("http://").map(|r| (false, r)));
    let Some((https, rest)) = rest else {
        return Some(url.chars().take(64).collect());
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.to_ascii_lowercase();
    let bare = host.strip_suffix(":443").unwrap_or(&host);
    if https && official_hosts(exchange).contains(&bare) {
        None
    } else {
        Some(authority.to_owned())
    }
}

/// Masks an API key id for lists: the first and last four characters, or
/// only stars for short ids.
pub fn mask_key_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 12 {
        return "*".repeat(chars.len().max(4));
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for e in Exchange::ALL {
            assert_eq!(e.as_str().parse::<Exchange>().unwrap(), *e);
        }
        for s in Scope::ALL {
            assert_eq!(s.as_str().parse::<Scope>().unwrap(), *s);
        }
        assert!("nope".parse::<Exchange>().is_err());
    }

    #[test]
    fn exchanges_have_brand_names() {
        assert_eq!(Exchange::Okx.display_name(), "OKX");
        assert_eq!(Exchange::Kucoin.display_name(), "KuCoin");
        assert_eq!(Exchange::Binance.display_name(), "Binance");
        for e in Exchange::ALL {
            let name = e.display_name();
            assert_ne!(name, e.as_str(), "{name}");
            assert_eq!(name.to_ascii_lowercase(), e.as_str(), "{name}");
        }
    }

    #[test]
    fn masking_hides_the_middle() {
        assert_eq!(mask_key_id("abcdefghijklmnopqrstuvwxyz"), "abcd…wxyz");
        assert_eq!(mask_key_id("short"), "*****");
    }
}
