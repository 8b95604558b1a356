//! Plain data: credentials, base URLs and the reports the adapters return.
//! The names (exchange, scope, key type, environment) are
//! [`crate::model`]'s. Everything here that leaves the core derives
//! `Serialize`; nothing here that holds a secret does.

use std::fmt;
use std::net::IpAddr;

use secrecy::SecretString;
use serde::{Deserialize, Serialize, Serializer};
use url::Url;

use super::error::ExchangeError;
pub use super::manage::AccountRole;
use crate::model::{Exchange, KeyType, Scope};

/// Live permissions as the exchange reported them. Each field is tri-state:
/// `Some(true)` granted, `Some(false)` not granted, `None` the exchange does
/// not say (never guessed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Permissions {
    /// See [`Scope::Read`].
    pub read: Option<bool>,
    /// See [`Scope::Trade`].
    pub trade: Option<bool>,
    /// See [`Scope::Withdraw`].
    pub withdraw: Option<bool>,
    /// See [`Scope::Transfer`].
    pub transfer: Option<bool>,
    /// See [`Scope::Margin`].
    pub margin: Option<bool>,
    /// See [`Scope::Futures`].
    pub futures: Option<bool>,
    /// See [`Scope::Options`].
    pub options: Option<bool>,
}

impl Permissions {
    /// The scopes in the order of the report's fields (the order of
    /// [`Permissions::granted`], of findings and of listings of a check).
    pub const SCOPES: [Scope; 7] = [
        Scope::Read,
        Scope::Trade,
        Scope::Withdraw,
        Scope::Transfer,
        Scope::Margin,
        Scope::Futures,
        Scope::Options,
    ];

    /// The tri-state value of one scope.
    pub fn get(&self, scope: Scope) -> Option<bool> {
        match scope {
            Scope::Read => self.read,
            Scope::Trade => self.trade,
            Scope::Withdraw => self.withdraw,
            Scope::Transfer => self.transfer,
            Scope::Margin => self.margin,
            Scope::Futures => self.futures,
            Scope::Options => self.options,
        }
    }

    /// Sets one scope.
    pub fn set(&mut self, scope: Scope, value: Option<bool>) {
        let slot = match scope {
            Scope::Read => &mut self.read,
            Scope::Trade => &mut self.trade,
            Scope::Withdraw => &mut self.withdraw,
            Scope::Transfer => &mut self.transfer,
            Scope::Margin => &mut self.margin,
            Scope::Futures => &mut self.futures,
            Scope::Options => &mut self.options,
        };
        *slot = value;
    }

    /// The scopes reported as granted.
    pub fn granted(&self) -> Vec<Scope> {
        Permissions::SCOPES
            .into_iter()
            .filter(|s| self.get(*s) == Some(true))
            .collect()
    }
}

/// What an adapter needs to sign requests for one key. Holds secrets:
/// no `Serialize`, and `Debug` shows only the public key id.
pub struct Credentials {
    /// The public key id (`X-MBX-APIKEY`, Kraken `API-Key`, Coinbase key name…).
    pub api_key: String,
    /// The secret or private key.
    pub secret: SecretString,
    /// The passphrase set at key creation (OKX).
    pub passphrase: Option<SecretString>,
    /// How the secret signs.
    pub key_type: KeyType,
}

impl Credentials {
    /// An HMAC key without a passphrase.
    pub fn hmac(api_key: impl Into<String>, secret: impl Into<String>) -> Self {
        Credentials {
            api_key: api_key.into(),
            secret: SecretString::from(secret.into()),
            passphrase: None,
            key_type: KeyType::Hmac,
        }
    }

    /// Adds a passphrase (OKX).
    pub fn with_passphrase(mut self, passphrase: impl Into<String>) -> Self {
        self.passphrase = Some(SecretString::from(passphrase.into()));
        self
    }

    /// A key of the given type.
    pub fn new(api_key: impl Into<String>, secret: impl Into<String>, key_type: KeyType) -> Self {
        Credentials {
            api_key: api_key.into(),
            secret: SecretString::from(secret.into()),
            passphrase: None,
            key_type,
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("api_key", &self.api_key)
            .field("secret", &"[REDACTED]")
            .field(
                "passphrase",
                &self.passphrase.as_ref().map(|_| "[REDACTED]"),
            )
            .field("key_type", &self.key_type)
            .finish()
    }
}

/// A validated custom base URL: `https://…`, or `http://…` to a loopback
/// address only. It may carry a path prefix (`http://127.0.0.1:8080/kraken`);
/// the prefix is part of the URL requested but never of what is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    url: Url,
}

impl BaseUrl {
    /// Parses and validates a base URL.
    pub fn parse(s: &str) -> Result<BaseUrl, ExchangeError> {
        let url = Url::parse(s.trim()).map_err(|_| ExchangeError::InvalidBaseUrl {
            reason: "not a valid absolute URL",
        })?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ExchangeError::InvalidBaseUrl {
                reason: "a base URL carries no query or fragment",
            });
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ExchangeError::InvalidBaseUrl {
                reason: "a base URL carries no user info",
            });
        }
        match url.scheme() {
            "https" => {}
            "http" => {
                let loopback = match url.host() {
                    Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
                    Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
                    Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                    None => false,
                };
                if !loopback {
                    return Err(ExchangeError::InvalidBaseUrl {
                        reason: "plain http is allowed only to a loopback address",
                    });
                }
            }
            _ => {
                return Err(ExchangeError::InvalidBaseUrl {
                    reason: "the scheme must be https (or http to loopback)",
                });
            }
        }
        if url.host().is_none() {
            return Err(ExchangeError::InvalidBaseUrl {
                reason: "a base URL needs a host",
            });
        }
        Ok(BaseUrl { url })
    }

    /// The URL as given (normalized).
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The path prefix without a trailing slash (`""` or `/kraken`).
    pub(crate) fn prefix(&self) -> &str {
        self.url.path().trim_end_matches('/')
    }

    /// `host[:port]` as sent in the `Host` header.
    pub(crate) fn authority(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        match self.url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        }
    }

    /// The URL for an exchange path and an already-encoded query.
    pub(crate) fn join(&self, path: &str, query: &str) -> Url {
        let mut url = self.url.clone();
        url.set_path(&format!("{}{}", self.prefix(), path));
        url.set_query(if query.is_empty() { None } else { Some(query) });
        url
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A point in time, milliseconds since the Unix epoch (UTC). Serializes as
/// RFC 3339 with milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// Now, from the system clock.
    pub fn now() -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Timestamp(ms)
    }

    /// From Unix milliseconds.
    pub fn from_unix_ms(ms: i64) -> Timestamp {
        Timestamp(ms)
    }

    /// From Unix seconds.
    pub fn from_unix_secs(s: i64) -> Timestamp {
        Timestamp(s.saturating_mul(1000))
    }

    /// Unix milliseconds.
    pub fn unix_ms(self) -> i64 {
        self.0
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub fn to_rfc3339(self) -> String {
        let ms = self.0.rem_euclid(1000);
        let secs = self.0.div_euclid(1000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
            sod / 3600,
            (sod % 3600) / 60,
            sod % 60
        )
    }

    /// Parses `YYYY-MM-DD[T ]HH:MM:SS[.fff][Z]` (UTC only; offsets other than
    /// `Z`/`+00:00` are refused). Returns `None` on anything else.
    pub fn parse_utc(s: &str) -> Option<Timestamp> {
        let s = s.trim();
        let s = s
            .strip_suffix('Z')
            .or_else(|| s.strip_suffix("+00:00"))
            .unwrap_or(s);
        let b = s.as_bytes();
        if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
            return None;
        }
        if b[10] != b'T' && b[10] != b' ' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let t = s.get(r)?;
            if !t.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            t.parse().ok()
        };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
            return None;
        }
        let mut ms = 0;
        if b.len() > 19 {
            if b[19] != b'.' {
                return None;
            }
            let frac = s.get(20..)?;
            if frac.is_empty() || !frac.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let digits: String = frac.chars().chain("000".chars()).take(3).collect();
            ms = digits.parse().ok()?;
        }
        let days = days_from_civil(y, mo, d);
        Some(Timestamp(
            ((days * 86_400) + h * 3600 + mi * 60 + se) * 1000 + ms,
        ))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

// Howard Hinnant's civil-calendar conversions (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The exchange's own rejection of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// The exchange's error code as it sent it (`-2015`, `50113`,
    /// `EAPI:Invalid key`, HTTP `401`…).
    pub code: String,
    /// The exchange's message.
    pub message: String,
    /// What Keyward understood the rejection to mean.
    pub reason: RejectReason,
}

/// The meaning of a rejection, as far as the exchange's code tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RejectReason {
    /// The key does not exist (deleted, revoked, typo, wrong environment).
    InvalidKey,
    /// The signature did not verify: wrong secret or a signing bug.
    BadSignature,
    /// The OKX passphrase is wrong.
    WrongPassphrase,
    /// Timestamp outside the exchange's window, or a stale nonce.
    Timestamp,
    /// The caller's IP is not in the key's allowlist.
    IpNotAllowed,
    /// The key lacks the permission for this call.
    PermissionDenied,
    /// The key expired or was frozen.
    Expired,
    /// The key belongs to another site or environment of the exchange
    /// (OKX EEA / US, demo vs live, a Bybit regional host or testnet,
    /// Binance.US): the message says which, when Keyward could tell.
    WrongEnvironment,
    /// The exchange answered "unauthorized" without saying why (Coinbase).
    Unauthorized,
    /// A rejection with a code Keyward does not classify.
    Unclassified,
}

impl RejectReason {
    /// Whether the rejection says the key itself is no longer usable.
    pub fn means_key_unusable(self) -> bool {
        matches!(
            self,
            RejectReason::InvalidKey | RejectReason::Expired | RejectReason::Unauthorized
        )
    }
}

/// The answer of `verify`.
#[derive(Debug, Clone, Serialize)]
pub struct KeyReport {
    /// Which exchange answered.
    pub exchange: Exchange,
    /// Whether the key authenticated.
    pub authenticated: bool,
    /// The exchange's rejection, when it did not.
    pub rejection: Option<Rejection>,
    /// Live permissions mapped onto the common scopes.
    pub permissions: Permissions,
    /// Whether an IP allowlist is set; `None` if the exchange does not say.
    pub ip_restricted: Option<bool>,
    /// The allowlist; `None` if the exchange does not report it.
    pub ip_whitelist: Option<Vec<String>>,
    /// When the key expires; `None` if never or unknown (see `notes`).
    pub expires_at: Option<Timestamp>,
    /// When the check ran.
    pub checked_at: Timestamp,
    /// The exchange's introspection answer, as received (no secrets: the
    /// endpoints return none).
    pub raw: serde_json::Value,
    /// What this exchange cannot report, said plainly.
    pub notes: Vec<String>,
    /// The permissions the key holds that the exchange lets it drop
    /// through the API; empty where the exchange cannot narrow a key
    /// through its API (then it is done on the exchange's website).
    pub removable: Vec<RemovablePermission>,
    /// Whether the key belongs to the master account or a sub-account, as
    /// the introspection answer says; `None` where it does not say.
    pub account_role: Option<AccountRole>,
}

impl KeyReport {
    pub(crate) fn rejected(exchange: Exchange, rejection: Rejection) -> KeyReport {
        KeyReport {
            exchange,
            authenticated: false,
            rejection: Some(rejection),
            permissions: Permissions::default(),
            ip_restricted: None,
            ip_whitelist: None,
            expires_at: None,
            checked_at: Timestamp::now(),
            raw: serde_json::Value::Null,
            notes: Vec::new(),
            removable: Vec::new(),
            account_role: None,
        }
    }
}

/// The outcome of `revoke`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Revocation {
    /// The exchange deleted the key through its API.
    Revoked {
        /// When the exchange confirmed.
        at: Timestamp,
    },
    /// The exchange offers no API for this; a person must do it.
    Unsupported {
        /// Why.
        reason: String,
        /// What to do, step by step.
        steps: Vec<String>,
    },
}

/// The outcome of `confirm_revoked`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RevocationCheck {
    /// A live authenticated call was rejected in a way that says the key is
    /// gone (invalid / expired key), and the same credentials authenticated
    /// on the same host and environment shortly before (see
    /// [`HttpConfig::proof_window`](super::HttpConfig::proof_window)): the
    /// rejection cannot come from this computer's IP, a signing problem or
    /// a wrong environment.
    Confirmed {
        /// The exchange's rejection.
        rejection: Rejection,
    },
    /// The call was rejected, but the answer can mean something else than
    /// "this key is gone": a bad signature, a timestamp, an IP allowlist, a
    /// key of another environment or region, or one of the exchanges'
    /// ambiguous "invalid key" codes without a recent successful call with
    /// the same credentials on the same host to compare against. Not a
    /// confirmation.
    Inconclusive {
        /// The exchange's rejection.
        rejection: Rejection,
        /// Why this answer proves nothing, in one sentence.
        why: String,
        /// What to check by hand on the exchange to settle it.
        check_by_hand: Vec<String>,
    },
    /// The key still authenticates.
    StillActive,
}

impl RevocationCheck {
    /// Whether the key is confirmed gone.
    pub fn is_confirmed(&self) -> bool {
        matches!(self, RevocationCheck::Confirmed { .. })
    }
}

/// How to narrow a key in place (Bybit `update-api` / `update-sub-api`).
/// Narrowing only ever takes away: nothing here can grant a permission.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Narrowing {
    /// Drop the withdrawal permission if the key holds it (a key without it
    /// is left as it is; [`Narrowing::drop`] is the strict form).
    pub remove_withdraw: bool,
    /// Make the key read-only.
    pub read_only: bool,
    /// Restrict the key to these IPs (`Some(vec![])` removes the
    /// restriction; `None` leaves it as is).
    pub ips: Option<Vec<String>>,
    /// Permissions to drop, each by its [`RemovablePermission::name`]
    /// (Bybit: `Group.Item`, e.g. `Wallet.AccountTransfer`). Each must be
    /// one the key holds and the exchange lets it drop through its API
    /// (the key's [`KeyReport::removable`]); anything else is refused with
    /// [`ExchangeError::PermissionNotRemovable`] before anything is sent.
    pub drop: Vec<String>,
}

impl Narrowing {
    /// Drops exactly these permissions and changes nothing else.
    pub fn dropping<I, S>(names: I) -> Narrowing
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Narrowing {
            drop: names.into_iter().map(Into::into).collect(),
            ..Narrowing::default()
        }
    }
}

/// One permission a key holds that its exchange lets the key drop through
/// the API. Front ends offer exactly these, by `label`, and pass `name`
/// back in [`Narrowing::drop`]: they never spell an exchange's names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemovablePermission {
    /// The exchange's own name (Bybit: `Group.Item`, `Wallet.AccountTransfer`).
    pub name: String,
    /// For people: `Wallet · Account transfer`.
    pub label: String,
    /// The common scope it counts towards, when it maps onto one.
    pub scope: Option<Scope>,
    /// What else changes when it is dropped, said plainly (e.g. the key can
    /// then no longer be narrowed or revoked through the API).
    pub warning: Option<String>,
}

/// One order (or fill) in an activity listing. Amounts are decimal strings
/// exactly as the exchange sent them. Incident snapshots store it as is
/// (`time` as Unix milliseconds under `time_ms`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderEvent {
    /// The exchange's order id.
    pub id: String,
    /// Market symbol as the exchange names it.
    pub symbol: String,
    /// `buy` / `sell`, lower case, when known.
    pub side: Option<String>,
    /// Order status as the exchange names it.
    pub status: String,
    /// Quantity.
    pub quantity: Option<String>,
    /// Limit or average price.
    pub price: Option<String>,
    /// Creation time.
    #[serde(rename = "time_ms", with = "unix_ms")]
    pub time: Timestamp,
}

/// One withdrawal or deposit. Incident snapshots store it as is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferEvent {
    /// The exchange's id.
    pub id: String,
    /// Asset code.
    pub asset: String,
    /// Amount, as a decimal string.
    pub amount: String,
    /// Status as the exchange names it.
    pub status: String,
    /// Destination or source address, when given.
    pub address: Option<String>,
    /// On-chain transaction id, when given.
    pub tx_id: Option<String>,
    /// When it happened.
    #[serde(rename = "time_ms", with = "unix_ms")]
    pub time: Timestamp,
}

/// A [`Timestamp`] as Unix milliseconds, the form incident snapshots keep.
mod unix_ms {
    use super::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(t.unix_ms())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        i64::deserialize(d).map(Timestamp::from_unix_ms)
    }
}

/// Recent activity on the account behind a key. A `None` list means the
/// exchange (or this key type) cannot list that kind: it is not "none".
#[derive(Debug, Clone, Serialize)]
pub struct Activity {
    /// Which exchange.
    pub exchange: Exchange,
    /// The lower bound asked for.
    pub since: Timestamp,
    /// Orders (or open orders, see `notes`).
    pub orders: Option<Vec<OrderEvent>>,
    /// Withdrawals.
    pub withdrawals: Option<Vec<TransferEvent>>,
    /// Deposits.
    pub deposits: Option<Vec<TransferEvent>>,
    /// Limits of this listing, said plainly.
    pub notes: Vec<String>,
    /// Sources that could not be listed (their list is `None`), each with
    /// the exchange's answer: one failing source does not abort the others.
    pub errors: Vec<SourceError>,
}

/// Why one source of an activity listing could not be listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceError {
    /// `orders`, `withdrawals` or `deposits`.
    pub source: &'static str,
    /// The error's machine name (`rejected`, `unsupported_environment`…).
    pub code: String,
    /// What went wrong, safe to show (no secrets).
    pub message: String,
}

/// Most pages followed per source in one listing; a listing that stops at
/// the cap says so in its notes.
pub const MAX_PAGES: usize = 10;

/// What an adapter can do automatically, so front ends say it honestly.
#[derive(Debug, Clone, Serialize)]
pub struct Capabilities {
    /// Which exchange.
    pub exchange: Exchange,
    /// Key types the adapter signs with.
    pub key_types: Vec<KeyType>,
    /// The key-introspection endpoint used by `verify`.
    pub introspection_endpoint: &'static str,
    /// Scopes the exchange reports at key level (others stay unknown).
    pub reports_scopes: Vec<Scope>,
    /// Whether it says if an IP restriction exists.
    pub reports_ip_restriction: bool,
    /// Whether it lists the allowed IPs.
    pub reports_ip_whitelist: bool,
    /// Whether it reports an expiry.
    pub reports_expiry: bool,
    /// Whether `revoke` works through the API.
    pub revoke_via_api: bool,
    /// Whether `narrow` works through the API.
    pub narrow_via_api: bool,
    /// Whether `recent_activity` lists orders.
    pub activity_orders: bool,
    /// Whether it lists withdrawals.
    pub activity_withdrawals: bool,
    /// Whether it lists deposits.
    pub activity_deposits: bool,
    /// Whether a testnet/demo environment exists.
    pub testnet: bool,
    /// Whether a master-account key creates and deletes sub-account keys
    /// through the API.
    pub manage_sub_keys: bool,
    /// Whether the API lists every key of the account's sub-accounts (an
    /// inventory can be complete).
    pub list_account_keys: bool,
    /// Caveats.
    pub notes: Vec<&'static str>,
}

impl Capabilities {
    /// Nothing automatic: no key type, no introspection, every flag false,
    /// no notes. Adapters state what they do on top of it.
    pub(crate) fn none(exchange: Exchange) -> Capabilities {
        Capabilities {
            exchange,
            key_types: Vec::new(),
            introspection_endpoint: "",
            reports_scopes: Vec::new(),
            reports_ip_restriction: false,
            reports_ip_whitelist: false,
            reports_expiry: false,
            revoke_via_api: false,
            narrow_via_api: false,
            activity_orders: false,
            activity_withdrawals: false,
            activity_deposits: false,
            testnet: false,
            manage_sub_keys: false,
            list_account_keys: false,
            notes: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        for ms in [
            0i64,
            1_499_827_319_559,
            1_607_418_537_715,
            951_782_400_000,
            4_102_444_799_999,
        ] {
            let t = Timestamp::from_unix_ms(ms);
            assert_eq!(
                Timestamp::parse_utc(&t.to_rfc3339()),
                Some(t),
                "{}",
                t.to_rfc3339()
            );
        }
        assert_eq!(
            Timestamp::from_unix_ms(1_607_418_537_715).to_rfc3339(),
            "2020-12-08T09:08:57.715Z"
        );
        assert_eq!(
            Timestamp::parse_utc("2019-10-12 11:12:02").map(|t| t.unix_ms()),
            Some(1_570_878_722_000)
        );
        for bad in [
            "",
            "2020-13-01T00:00:00Z",
            "20x0-01-01T00:00:00Z",
            "2020-01-01T00:00:00.Z",
            "2020-01-01T00:00:00+02:00",
        ] {
            assert_eq!(Timestamp::parse_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn base_url_rules() {
        assert!(BaseUrl::parse("https://api.binance.com").is_ok());
        assert!(BaseUrl::parse("http://127.0.0.1:9000/kraken").is_ok());
        assert!(BaseUrl::parse("http://[::1]:9000/okx").is_ok());
        assert!(BaseUrl::parse("http://localhost:1").is_ok());
        assert!(BaseUrl::parse("http://example.com").is_err());
        assert!(BaseUrl::parse("http://10.0.0.1").is_err());
        assert!(BaseUrl::parse("ftp://127.0.0.1").is_err());
        assert!(BaseUrl::parse("https://u:p@x.com").is_err());
        assert!(BaseUrl::parse("https://x.com/?a=1").is_err());
        let b = BaseUrl::parse("http://127.0.0.1:9000/kraken/").unwrap();
        assert_eq!(b.prefix(), "/kraken");
        assert_eq!(b.authority(), "127.0.0.1:9000");
        assert_eq!(
            b.join("/0/private/Balance", "").as_str(),
            "http://127.0.0.1:9000/kraken/0/private/Balance"
        );
        let m = BaseUrl::parse("https://api.bybit.com").unwrap();
        assert_eq!(m.authority(), "api.bybit.com");
        assert_eq!(
            m.join("/v5/user/query-api", "a=1").as_str(),
            "https://api.bybit.com/v5/user/query-api?a=1"
        );
    }

    #[test]
    fn credentials_debug_is_redacted() {
        let c = Credentials::hmac("pub", "very-secret").with_passphrase("pp-secret");
        let d = format!("{c:?}");
        assert!(d.contains("pub"));
        assert!(!d.contains("very-secret") && !d.contains("pp-secret"));
    }
}
