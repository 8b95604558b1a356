//! The accounts file: keys the simulator knows, their permissions, IP
//! allowlists, activity, and rate limits. See the crate docs for the format.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An exchange the simulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimExchange {
    /// Served under `/binance`.
    Binance,
    /// Served under `/coinbase`.
    Coinbase,
    /// Served under `/kraken`.
    Kraken,
    /// Served under `/okx`.
    Okx,
    /// Served under `/bybit`.
    Bybit,
}

impl SimExchange {
    /// All exchanges.
    pub const ALL: [SimExchange; 5] = [
        SimExchange::Binance,
        SimExchange::Coinbase,
        SimExchange::Kraken,
        SimExchange::Okx,
        SimExchange::Bybit,
    ];

    /// The name, which is also the path prefix without the slash.
    pub fn as_str(self) -> &'static str {
        match self {
            SimExchange::Binance => "binance",
            SimExchange::Coinbase => "coinbase",
            SimExchange::Kraken => "kraken",
            SimExchange::Okx => "okx",
            SimExchange::Bybit => "bybit",
        }
    }

    /// The limits the real exchange documents (used when the file sets none).
    pub fn documented_limits(self) -> Limits {
        let b = |rate, burst| Some(Bucket { rate, burst });
        match self {
            // 6000 weight per minute per IP.
            SimExchange::Binance => Limits {
                ip: b(100.0, 6000.0),
                key: None,
            },
            // 30 requests per second per key.
            SimExchange::Coinbase => Limits {
                ip: None,
                key: b(30.0, 30.0),
            },
            // Starter tier: counter max 15, decays 0.33 per second.
            SimExchange::Kraken => Limits {
                ip: None,
                key: b(0.33, 15.0),
            },
            // account/config: 5 requests per 2 seconds per user.
            SimExchange::Okx => Limits {
                ip: None,
                key: b(2.5, 5.0),
            },
            // 600 requests per 5 s per IP; query-api 10 per second per user.
            SimExchange::Bybit => Limits {
                ip: b(120.0, 600.0),
                key: b(10.0, 10.0),
            },
        }
    }
}

impl fmt::Display for SimExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SimExchange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SimExchange::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| format!("unknown exchange {s:?}"))
    }
}

/// A token bucket: `rate` units per second, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    /// Units per second.
    pub rate: f64,
    /// Units at once.
    pub burst: f64,
}

/// Rate limits of one exchange: per client IP and per API key.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Per client IP (all keys together).
    #[serde(default)]
    pub ip: Option<Bucket>,
    /// Per API key.
    #[serde(default)]
    pub key: Option<Bucket>,
}

/// What a key may do, in Keyward's common vocabulary; the simulator renders
/// it in each exchange's own format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimScope {
    /// Read.
    Read,
    /// Spot trading.
    Trade,
    /// Withdrawals.
    Withdraw,
    /// Internal transfers.
    Transfer,
    /// Margin.
    Margin,
    /// Futures.
    Futures,
    /// Options.
    Options,
}

/// Kind of an activity item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    /// An order.
    Order,
    /// A withdrawal.
    Withdrawal,
    /// A deposit.
    Deposit,
}

/// One activity record, rendered in each exchange's own format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityItem {
    /// Order, withdrawal or deposit.
    pub kind: ActivityKind,
    /// The exchange's id.
    pub id: String,
    /// Unix ms.
    pub time_ms: i64,
    /// Market symbol (orders).
    #[serde(default)]
    pub symbol: String,
    /// `buy` / `sell` (orders).
    #[serde(default)]
    pub side: String,
    /// Asset (transfers).
    #[serde(default)]
    pub asset: String,
    /// Quantity or amount, decimal string.
    #[serde(default)]
    pub amount: String,
    /// Price (orders).
    #[serde(default)]
    pub price: String,
    /// Status in the exchange's words.
    #[serde(default)]
    pub status: String,
    /// Address (transfers).
    #[serde(default)]
    pub address: String,
    /// Transaction id (transfers).
    #[serde(default)]
    pub tx_id: String,
}

/// One API key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyAccount {
    /// Which exchange.
    pub exchange: SimExchange,
    /// The public key id (Coinbase: the key name `organizations/…/apiKeys/…`).
    pub api_key: String,
    /// The HMAC secret as the exchange issued it (Kraken: base64).
    #[serde(default)]
    pub secret: Option<String>,
    /// For Ed25519 (Binance, Coinbase EdDSA) and EC P-256 (Coinbase ES256)
    /// keys: the public key as a SubjectPublicKeyInfo PEM.
    #[serde(default)]
    pub public_key: Option<String>,
    /// OKX passphrase.
    #[serde(default)]
    pub passphrase: Option<String>,
    /// Granted scopes.
    #[serde(default)]
    pub scopes: Vec<SimScope>,
    /// IP allowlist (empty: unrestricted).
    #[serde(default)]
    pub ips: Vec<String>,
    /// Reject calls whose source address is not in `ips` (off by default,
    /// so a restricted key can still be introspected from loopback).
    #[serde(default)]
    pub enforce_ips: bool,
    /// OKX demo-trading key (needs `x-simulated-trading: 1`).
    #[serde(default)]
    pub demo: bool,
    /// Bybit: the key's permission object exactly as `query-api` reports
    /// it (`{"Wallet": ["AccountTransfer"], "Earn": ["Earn"]}`), instead of
    /// rendering `scopes`; groups not named are reported empty. The
    /// scopes the simulator enforces are derived from it.
    #[serde(default)]
    pub bybit_permissions: Option<BTreeMap<String, Vec<String>>>,
    /// Bybit: the main account's UID when this is a sub-account key
    /// (`isMaster: false`, `parentUid`); `None` for a main-account key.
    #[serde(default)]
    pub parent_uid: Option<String>,
    /// The sub-account this key belongs to (its [`SubAccount::id`]);
    /// `None` for a key of the master account. The master account's keys
    /// manage the sub-accounts' keys (see the crate docs).
    #[serde(default)]
    pub sub_account: Option<String>,
    /// Label / note.
    #[serde(default)]
    pub label: Option<String>,
    /// Creation time, Unix ms.
    #[serde(default)]
    pub created_at_ms: Option<i64>,
    /// Expiry, Unix ms.
    #[serde(default)]
    pub expires_at_ms: Option<i64>,
    /// Activity on the account.
    #[serde(default)]
    pub activity: Vec<ActivityItem>,
    /// Free text for people reading the file; ignored.
    #[serde(default)]
    pub note: Option<String>,
}

/// The whole accounts file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accounts {
    /// Free text for people reading the file; ignored.
    #[serde(default)]
    pub about: Option<String>,
    /// Turn rate limiting off entirely (default on).
    #[serde(default = "yes")]
    pub rate_limits: bool,
    /// Per-exchange overrides of the documented limits (`binance`, …).
    #[serde(default)]
    pub limits: BTreeMap<SimExchange, Limits>,
    /// The keys.
    #[serde(default)]
    pub keys: Vec<KeyAccount>,
    /// Sub-accounts under each exchange's master account (the keys without
    /// `sub_account`).
    #[serde(default)]
    pub sub_accounts: Vec<SubAccount>,
}

/// A sub-account under an exchange's master account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubAccount {
    /// Which exchange.
    pub exchange: SimExchange,
    /// How the exchange names it in requests: Bybit the sub UID (digits),
    /// OKX the sub-account name (`subAcct`), Binance the sub-account email.
    pub id: String,
    /// The numeric UID where the exchange reports one besides `id` (OKX).
    #[serde(default)]
    pub uid: Option<String>,
    /// Remark / label / username.
    #[serde(default)]
    pub label: Option<String>,
    /// Creation time, Unix ms.
    #[serde(default)]
    pub created_at_ms: Option<i64>,
    /// Free text for people reading the file; ignored.
    #[serde(default)]
    pub note: Option<String>,
}

fn yes() -> bool {
    true
}

impl Default for Accounts {
    /// No keys, documented rate limits on.
    fn default() -> Self {
        Accounts {
            about: None,
            rate_limits: true,
            limits: BTreeMap::new(),
            keys: Vec::new(),
            sub_accounts: Vec::new(),
        }
    }
}

impl Accounts {
    /// Parses JSON.
    pub fn from_json(text: &str) -> Result<Accounts, String> {
        serde_json::from_str(text).map_err(|e| format!("accounts file: {e}"))
    }

    /// The limits in force for an exchange.
    pub fn limits_for(&self, ex: SimExchange) -> Limits {
        self.limits
            .get(&ex)
            .copied()
            .unwrap_or_else(|| ex.documented_limits())
    }
}

impl KeyAccount {
    /// A minimal HMAC key.
    pub fn hmac(
        exchange: SimExchange,
        api_key: &str,
        secret: &str,
        scopes: &[SimScope],
    ) -> KeyAccount {
        KeyAccount {
            exchange,
            api_key: api_key.to_string(),
            secret: Some(secret.to_string()),
            public_key: None,
            passphrase: None,
            scopes: scopes.to_vec(),
            ips: Vec::new(),
            enforce_ips: false,
            demo: false,
            bybit_permissions: None,
            parent_uid: None,
            sub_account: None,
            label: None,
            created_at_ms: None,
            expires_at_ms: None,
            activity: Vec::new(),
            note: None,
        }
    }

    /// A key verified by a public key (Ed25519 / P-256 SPKI PEM).
    pub fn asymmetric(
        exchange: SimExchange,
        api_key: &str,
        public_key_pem: &str,
        scopes: &[SimScope],
    ) -> KeyAccount {
        KeyAccount {
            secret: None,
            public_key: Some(public_key_pem.to_string()),
            ..KeyAccount::hmac(exchange, api_key, "", scopes)
        }
    }
}
