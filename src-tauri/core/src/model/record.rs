//! Key records: what a front end sends in and gets back.
//!
//! Owns: the key DTOs ([`NewKey`], [`KeyEdit`], [`KeySummary`],
//! [`KeyDetail`]) and what is derived from a record alone (official hosts,
//! custom host, masked key id). Must never: put a secret or passphrase in a
//! type that derives `Serialize` — input types hold them in [`ApiSecret`] /
//! [`Passphrase`], output types hold only metadata.

use serde::Serialize;

use super::names::{Environment, Exchange, KeyStatus, KeyType, Scope};
use super::secret::{ApiSecret, Passphrase};
use super::service::LinkedService;

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
    /// key; see [`super::service`]).
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
    #[cfg_attr(feature = "ts", ts(as = "Option<super::names::CheckStatus>"))]
    pub last_audit_result: Option<String>,
    /// Whether this is its account's manager key (the master key that
    /// lists and manages the account's keys; see `managed`). A manager key
    /// is never handed to `keyward run`.
    pub manager: bool,
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
    fn masking_hides_the_middle() {
        assert_eq!(mask_key_id("abcdefghijklmnopqrstuvwxyz"), "abcd…wxyz");
        assert_eq!(mask_key_id("short"), "*****");
    }
}
