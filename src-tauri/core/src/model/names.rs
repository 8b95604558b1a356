//! The names of the vocabulary: exchange, key type, scope, key status,
//! environment and the result of a live check, each with its one wire name.
//!
//! Every name here is written as-is to the vault (SQLite text), the audit
//! log, JSON outputs, CLI flags and IPC DTOs: the `wire_names_are_pinned`
//! test pins each one, and a change there breaks stored vaults.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::validate::ValidationError;

macro_rules! name_enum {
    ($(#[$doc:meta])* $ty:ident, $err:ident { $($(#[$vdoc:meta])* $variant:ident => $name:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
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

    /// Whether the exchange issues a passphrase with every key.
    pub fn requires_passphrase(self) -> bool {
        matches!(self, Exchange::Okx | Exchange::Kucoin | Exchange::Bitget)
    }

    /// Whether Keyward has a live adapter for the exchange (see
    /// [`crate::exchange`]): Binance, Coinbase, Kraken, OKX and Bybit keys
    /// can be checked, narrowed, revoked and listed live; KuCoin, Bitget
    /// and other keys are stored and rotated by hand only.
    pub fn has_adapter(self) -> bool {
        match self {
            Exchange::Binance
            | Exchange::Coinbase
            | Exchange::Kraken
            | Exchange::Okx
            | Exchange::Bybit => true,
            Exchange::Kucoin | Exchange::Bitget | Exchange::Other => false,
        }
    }

    /// The exchanges with a live adapter, in display order.
    pub fn with_adapter() -> impl Iterator<Item = Exchange> {
        Exchange::ALL.iter().copied().filter(|e| e.has_adapter())
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

/// Which endpoint the key talks to. Stored as its kind name and, for a
/// custom one, its base URL (checked by `model::validate::base_url`; the
/// exchange layer parses it again before it sends anything).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(tag = "kind", content = "base_url", rename_all = "snake_case")]
#[non_exhaustive]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Environment {
    /// The exchange's production API.
    #[default]
    Mainnet,
    /// The exchange's public testnet or demo environment (Binance spot
    /// testnet, Bybit testnet, OKX demo trading).
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

/// What a check found, in one word. Stored as the key's
/// `last_audit_result` (except [`CheckStatus::NotSupported`], which is not
/// a check and is not stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum CheckStatus {
    /// Authenticated; no finding above info.
    Ok,
    /// Authenticated, with at least one warning (e.g. no IP restriction).
    Warning,
    /// Authenticated, with a critical finding (e.g. undeclared withdraw).
    Critical,
    /// The exchange rejected the key (its code and message are in `error`).
    Rejected,
    /// No usable answer: timeout, connection failure, 5xx, malformed
    /// answer, rate limit or ban.
    Unreachable,
    /// The stored credentials cannot be used as they are (bad PEM, a base
    /// URL or environment the exchange layer refuses); nothing was sent.
    Unusable,
    /// Keyward cannot check keys of this exchange live (KuCoin, Bitget,
    /// other).
    NotSupported,
}

impl CheckStatus {
    /// The stable name (JSON, `last_audit_result`).
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Ok => "ok",
            CheckStatus::Warning => "warning",
            CheckStatus::Critical => "critical",
            CheckStatus::Rejected => "rejected",
            CheckStatus::Unreachable => "unreachable",
            CheckStatus::Unusable => "unusable",
            CheckStatus::NotSupported => "not_supported",
        }
    }

    /// Whether the exchange rejected the key or could not be reached (the
    /// CLI's exit 6).
    pub fn is_exchange_failure(self) -> bool {
        matches!(self, CheckStatus::Rejected | CheckStatus::Unreachable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn names_round_trip() {
        for e in Exchange::ALL {
            assert_eq!(e.as_str().parse::<Exchange>().unwrap(), *e);
        }
        for s in Scope::ALL {
            assert_eq!(s.as_str().parse::<Scope>().unwrap(), *s);
        }
        for k in KeyType::ALL {
            assert_eq!(k.as_str().parse::<KeyType>().unwrap(), *k);
        }
        for s in KeyStatus::ALL {
            assert_eq!(s.as_str().parse::<KeyStatus>().unwrap(), *s);
        }
        assert!("nope".parse::<Exchange>().is_err());
    }

    /// Each variant's wire name, as stored in vaults and printed in JSON:
    /// changing one breaks every vault written before.
    #[test]
    fn wire_names_are_pinned() {
        fn json<T: Serialize>(v: T) -> String {
            serde_json::to_string(&v).unwrap()
        }
        let exchanges = [
            (Exchange::Binance, "binance"),
            (Exchange::Coinbase, "coinbase"),
            (Exchange::Kraken, "kraken"),
            (Exchange::Okx, "okx"),
            (Exchange::Bybit, "bybit"),
            (Exchange::Kucoin, "kucoin"),
            (Exchange::Bitget, "bitget"),
            (Exchange::Other, "other"),
        ];
        assert_eq!(exchanges.len(), Exchange::ALL.len());
        for (e, name) in exchanges {
            assert_eq!(
                (e.as_str(), json(e), e.to_string()),
                (name, format!("\"{name}\""), name.to_owned())
            );
        }
        let scopes = [
            (Scope::Read, "read"),
            (Scope::Trade, "trade"),
            (Scope::Withdraw, "withdraw"),
            (Scope::Transfer, "transfer"),
            (Scope::Futures, "futures"),
            (Scope::Margin, "margin"),
            (Scope::Options, "options"),
        ];
        assert_eq!(scopes.len(), Scope::ALL.len());
        for (s, name) in scopes {
            assert_eq!((s.as_str(), json(s)), (name, format!("\"{name}\"")));
        }
        let key_types = [
            (KeyType::Hmac, "hmac"),
            (KeyType::Ed25519, "ed25519"),
            (KeyType::Rsa, "rsa"),
            (KeyType::EcdsaJwt, "ecdsa_jwt"),
        ];
        assert_eq!(key_types.len(), KeyType::ALL.len());
        for (k, name) in key_types {
            assert_eq!((k.as_str(), json(k)), (name, format!("\"{name}\"")));
        }
        let statuses = [
            (KeyStatus::Active, "active"),
            (KeyStatus::Rotating, "rotating"),
            (KeyStatus::Revoked, "revoked"),
            (KeyStatus::Compromised, "compromised"),
        ];
        assert_eq!(statuses.len(), KeyStatus::ALL.len());
        for (s, name) in statuses {
            assert_eq!((s.as_str(), json(s)), (name, format!("\"{name}\"")));
        }
        let checks = [
            (CheckStatus::Ok, "ok"),
            (CheckStatus::Warning, "warning"),
            (CheckStatus::Critical, "critical"),
            (CheckStatus::Rejected, "rejected"),
            (CheckStatus::Unreachable, "unreachable"),
            (CheckStatus::Unusable, "unusable"),
            (CheckStatus::NotSupported, "not_supported"),
        ];
        for (c, name) in checks {
            assert_eq!((c.as_str(), json(c)), (name, format!("\"{name}\"")));
        }
        assert_eq!(Environment::Mainnet.kind_str(), "mainnet");
        assert_eq!(Environment::Testnet.kind_str(), "testnet");
        assert_eq!(Environment::Custom("u".into()).kind_str(), "custom");
        assert_eq!(json(Environment::Mainnet), r#"{"kind":"mainnet"}"#);
        assert_eq!(json(Environment::Testnet), r#"{"kind":"testnet"}"#);
        assert_eq!(
            json(Environment::Custom("http://127.0.0.1:9".into())),
            r#"{"kind":"custom","base_url":"http://127.0.0.1:9"}"#
        );
    }

    #[test]
    fn adapters_exist_for_the_five_live_exchanges() {
        let live: Vec<Exchange> = Exchange::with_adapter().collect();
        assert_eq!(
            live,
            [
                Exchange::Binance,
                Exchange::Coinbase,
                Exchange::Kraken,
                Exchange::Okx,
                Exchange::Bybit
            ]
        );
    }
}
