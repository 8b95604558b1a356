//! Shared simulator state: keys (with their live permissions, revocation,
//! Kraken nonces), rate-limit buckets, faults, clock offsets and counters.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::accounts::{Accounts, KeyAccount, Limits, SimExchange, SimScope, SubAccount};

/// How a key's requests are verified.
pub(crate) enum Verifier {
    Hmac(Vec<u8>),
    Ed25519(ed25519_dalek::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
}

pub(crate) struct KeyState {
    pub account: KeyAccount,
    pub scopes: BTreeSet<SimScope>,
    /// Bybit: the permission object as the exchange holds it (`update-api`
    /// replaces it whole); `None` until set, then it is the truth and
    /// `scopes` is derived from it.
    pub bybit_permissions: Option<BTreeMap<String, Vec<String>>>,
    pub ips: Vec<String>,
    pub read_only: bool,
    pub revoked: bool,
    pub last_nonce: u64,
    pub verifier: Verifier,
    /// When the permissions or IPs last changed (exchange ms; Binance
    /// `updateTime`).
    pub updated_ms: i64,
}

impl KeyState {
    /// A key as the accounts file or a create endpoint describes it.
    pub fn new(a: &KeyAccount) -> Result<KeyState, String> {
        let verifier = verifier_for(a)?;
        let mut a = a.clone();
        // A Bybit key of a sub-account reports `isMaster: false` and the
        // master's UID as `parentUid`.
        if a.exchange == SimExchange::Bybit && a.sub_account.is_some() && a.parent_uid.is_none() {
            a.parent_uid = Some(crate::exchanges::bybit::MASTER_UID.to_string());
        }
        let a = &a;
        let mut scopes: BTreeSet<SimScope> = a.scopes.iter().copied().collect();
        if let Some(p) = &a.bybit_permissions {
            scopes = crate::exchanges::bybit::scopes_of(p, a.parent_uid.is_some());
        }
        let read_only = !scopes.iter().any(|s| !matches!(s, SimScope::Read));
        Ok(KeyState {
            account: a.clone(),
            scopes,
            bybit_permissions: a.bybit_permissions.clone(),
            ips: a.ips.clone(),
            read_only,
            revoked: false,
            last_nonce: 0,
            verifier,
            updated_ms: a.created_at_ms.unwrap_or(1_700_000_000_000),
        })
    }

    /// A key of the master account (not of a sub-account).
    pub fn is_master(&self) -> bool {
        self.account.sub_account.is_none() && self.account.parent_uid.is_none()
    }

    pub fn has(&self, s: SimScope) -> bool {
        self.scopes.contains(&s)
    }

    /// Whether `peer` may use this key (only when enforcement is on).
    pub fn ip_allowed(&self, peer: IpAddr) -> bool {
        !self.account.enforce_ips
            || self.ips.is_empty()
            || self.ips.iter().any(|i| i == &peer.to_string())
    }
}

/// A fault to inject into matching requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// What to do.
    pub kind: FaultKind,
    /// Only this exchange (default: all).
    #[serde(default)]
    pub exchange: Option<SimExchange>,
    /// Only paths containing this (default: all).
    #[serde(default)]
    pub path_contains: Option<String>,
    /// How many requests it applies to; 0 = until cleared. Default 1.
    #[serde(default = "one")]
    pub count: u32,
    /// For `latency`: the delay in ms.
    #[serde(default)]
    pub latency_ms: u64,
    /// For `server_error` / `processed_then_error` / `html`: the status
    /// (default 503 / 503 / 502).
    #[serde(default)]
    pub status: Option<u16>,
    /// For `rate_limit`: the `Retry-After` seconds (default 1).
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
}

fn one() -> u32 {
    1
}

/// Kinds of faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Delay the answer by `latency_ms`, then answer normally.
    Latency,
    /// Answer `status` (default 503) with a short HTML body.
    ServerError,
    /// Answer 200 with truncated JSON.
    Malformed,
    /// Answer `status` (default 502) with an HTML error page.
    Html,
    /// Close the connection without answering.
    Drop,
    /// Answer the exchange's own rate-limit response with `Retry-After`.
    RateLimit,
    /// Answer 403 with a CDN's HTML page for a blocked country or region
    /// (CloudFront's "The request could not be satisfied"): not an API ban.
    GeoBlock,
    /// Answer Bybit's IP ban: HTTP 403 "access too frequent" (docs v5
    /// rate-limit: "wait for at least 10 minutes").
    TooFrequent,
    /// Process the request (a deletion happens), then answer `status`
    /// (default 503) with a short HTML body instead of the exchange's
    /// answer: the caller never learns that it went through.
    ProcessedThenError,
}

impl Fault {
    /// A fault of this kind for one request on any exchange.
    pub fn new(kind: FaultKind) -> Fault {
        Fault {
            kind,
            exchange: None,
            path_contains: None,
            count: 1,
            latency_ms: 0,
            status: None,
            retry_after_secs: None,
        }
    }

    /// Restricts it to one exchange.
    pub fn on(mut self, ex: SimExchange) -> Fault {
        self.exchange = Some(ex);
        self
    }

    /// Applies it to `n` requests (0 = until cleared).
    pub fn times(mut self, n: u32) -> Fault {
        self.count = n;
        self
    }
}

/// Counters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SimStats {
    /// Requests received per exchange.
    pub requests: HashMap<SimExchange, u64>,
    /// Requests refused by the rate limiter per exchange (not injected ones).
    pub rate_limited: HashMap<SimExchange, u64>,
    /// Authentication failures per exchange.
    pub auth_failures: HashMap<SimExchange, u64>,
    /// Faults applied.
    pub faults_applied: u64,
}

pub(crate) struct State {
    pub keys: Mutex<HashMap<(SimExchange, String), KeyState>>,
    /// Sub-accounts under each exchange's master account.
    pub subs: Vec<SubAccount>,
    limits: HashMap<SimExchange, Limits>,
    limits_enabled: bool,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
    /// Weight used per fixed one-minute window of the exchange clock, by
    /// pool id (Binance's `X-MBX-USED-WEIGHT-1M` / `X-SAPI-USED-IP-WEIGHT-1M`).
    minute_weight: Mutex<HashMap<String, (i64, f64)>>,
    pub faults: Mutex<Vec<Fault>>,
    clock: Mutex<HashMap<SimExchange, i64>>,
    pub stats: Mutex<SimStats>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl State {
    pub fn new(accounts: &Accounts) -> Result<State, String> {
        let mut keys = HashMap::new();
        for a in &accounts.keys {
            keys.insert((a.exchange, a.api_key.clone()), KeyState::new(a)?);
        }
        for a in &accounts.keys {
            if let Some(sub) = &a.sub_account
                && !accounts
                    .sub_accounts
                    .iter()
                    .any(|s| s.exchange == a.exchange && &s.id == sub)
            {
                return Err(format!(
                    "key {}: sub_account {sub:?} is not in sub_accounts",
                    a.api_key
                ));
            }
        }
        Ok(State {
            keys: Mutex::new(keys),
            subs: accounts.sub_accounts.clone(),
            limits: SimExchange::ALL
                .into_iter()
                .map(|e| (e, accounts.limits_for(e)))
                .collect(),
            limits_enabled: accounts.rate_limits,
            buckets: Mutex::new(HashMap::new()),
            minute_weight: Mutex::new(HashMap::new()),
            faults: Mutex::new(Vec::new()),
            clock: Mutex::new(HashMap::new()),
            stats: Mutex::new(SimStats::default()),
        })
    }

    /// The exchange's server time in ms (real time plus any test offset).
    pub fn now_ms(&self, ex: SimExchange) -> i64 {
        let offset = lock(&self.clock).get(&ex).copied().unwrap_or(0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        now + offset
    }

    pub fn set_clock_offset(&self, ex: SimExchange, offset_ms: i64) {
        lock(&self.clock).insert(ex, offset_ms);
    }

    /// Takes `weight` from the IP bucket; `Err(retry_after_secs)` if empty.
    pub fn take_ip(&self, ex: SimExchange, peer: IpAddr, weight: f64) -> Result<(), u64> {
        let bucket = self.limits.get(&ex).and_then(|l| l.ip);
        self.take(ex, format!("{ex}/ip/{peer}"), bucket, weight)
    }

    /// Takes `weight` from the key bucket.
    pub fn take_key(&self, ex: SimExchange, key: &str, weight: f64) -> Result<(), u64> {
        let bucket = self.limits.get(&ex).and_then(|l| l.key);
        self.take(ex, format!("{ex}/key/{key}"), bucket, weight)
    }

    fn take(
        &self,
        ex: SimExchange,
        id: String,
        bucket: Option<crate::accounts::Bucket>,
        w: f64,
    ) -> Result<(), u64> {
        let Some(b) = bucket.filter(|_| self.limits_enabled) else {
            return Ok(());
        };
        let now = Instant::now();
        let mut buckets = lock(&self.buckets);
        let (tokens, last) = buckets.entry(id).or_insert((b.burst, now));
        *tokens =
            (*tokens + now.saturating_duration_since(*last).as_secs_f64() * b.rate).min(b.burst);
        *last = now;
        let w = w.min(b.burst);
        if *tokens >= w {
            *tokens -= w;
            Ok(())
        } else {
            let need = (w - *tokens).max(0.0);
            drop(buckets);
            *lock(&self.stats).rate_limited.entry(ex).or_default() += 1;
            let secs = if b.rate > 0.0 {
                (need / b.rate).ceil()
            } else {
                60.0
            };
            Err((secs as u64).max(1))
        }
    }

    /// Adds `weight` to the pool's count for the current minute of the
    /// exchange clock and returns the new count.
    pub fn add_minute_weight(&self, ex: SimExchange, pool: &str, weight: f64) -> f64 {
        let minute = self.now_ms(ex).div_euclid(60_000);
        let mut m = lock(&self.minute_weight);
        let slot = m.entry(format!("{ex}/{pool}")).or_insert((minute, 0.0));
        if slot.0 != minute {
            *slot = (minute, 0.0);
        }
        slot.1 += weight;
        slot.1
    }

    /// Milliseconds until the next minute of the exchange clock.
    pub fn ms_to_next_minute(&self, ex: SimExchange) -> i64 {
        60_000 - self.now_ms(ex).rem_euclid(60_000)
    }

    /// The key bucket's capacity, what is left, and when one unit is back
    /// (exchange ms); `None` when the key is not limited.
    pub fn key_bucket(&self, ex: SimExchange, key: &str) -> Option<(f64, f64, i64)> {
        let b = self
            .limits
            .get(&ex)
            .and_then(|l| l.key)
            .filter(|_| self.limits_enabled)?;
        let now = Instant::now();
        let tokens = lock(&self.buckets)
            .get(&format!("{ex}/key/{key}"))
            .map(|(t, last)| {
                (t + now.saturating_duration_since(*last).as_secs_f64() * b.rate).min(b.burst)
            })
            .unwrap_or(b.burst);
        let reset = if tokens >= 1.0 || b.rate <= 0.0 {
            self.now_ms(ex)
        } else {
            self.now_ms(ex) + ((1.0 - tokens) / b.rate * 1000.0).ceil() as i64
        };
        Some((b.burst, tokens.floor().max(0.0), reset))
    }

    pub fn count_request(&self, ex: SimExchange) {
        *lock(&self.stats).requests.entry(ex).or_default() += 1;
    }

    pub fn count_auth_failure(&self, ex: SimExchange) {
        *lock(&self.stats).auth_failures.entry(ex).or_default() += 1;
    }

    /// Takes the first fault matching the request, if any.
    pub fn take_fault(&self, ex: Option<SimExchange>, path: &str) -> Option<Fault> {
        let mut faults = lock(&self.faults);
        let idx = faults.iter().position(|f| {
            (f.exchange.is_none() || f.exchange == ex)
                && f.path_contains.as_deref().is_none_or(|p| path.contains(p))
        })?;
        let fault = faults[idx].clone();
        if faults[idx].count == 1 {
            faults.remove(idx);
        } else if faults[idx].count > 1 {
            faults[idx].count -= 1;
        }
        drop(faults);
        lock(&self.stats).faults_applied += 1;
        Some(fault)
    }
}

pub(crate) fn verifier_for(a: &KeyAccount) -> Result<Verifier, String> {
    if let Some(pem) = &a.public_key {
        let pem = pem.replace("\\n", "\n");
        if let Ok(k) = {
            use ed25519_dalek::pkcs8::DecodePublicKey;
            ed25519_dalek::VerifyingKey::from_public_key_pem(&pem)
        } {
            return Ok(Verifier::Ed25519(k));
        }
        use p256::pkcs8::DecodePublicKey;
        return p256::PublicKey::from_public_key_pem(&pem)
            .map(|pk| Verifier::P256(p256::ecdsa::VerifyingKey::from(&pk)))
            .map_err(|_| {
                format!(
                    "key {}: public_key is neither an Ed25519 nor a P-256 SPKI PEM",
                    a.api_key
                )
            });
    }
    let secret = a
        .secret
        .as_ref()
        .ok_or_else(|| format!("key {}: needs a secret or a public_key", a.api_key))?;
    if a.exchange == SimExchange::Kraken {
        use base64::Engine;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(secret)
            .map_err(|_| format!("key {}: a Kraken secret is base64", a.api_key))?;
        return Ok(Verifier::Hmac(raw));
    }
    if a.exchange == SimExchange::Coinbase {
        return Err(format!(
            "key {}: Coinbase CDP keys need a public_key",
            a.api_key
        ));
    }
    if a.exchange == SimExchange::Okx && a.passphrase.is_none() {
        return Err(format!("key {}: OKX keys need a passphrase", a.api_key));
    }
    Ok(Verifier::Hmac(secret.as_bytes().to_vec()))
}
