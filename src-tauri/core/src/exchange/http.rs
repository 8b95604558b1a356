//! The shared HTTP layer: one `reqwest` client (rustls), timeouts, a rate
//! limiter per exchange (per host and per key), retries of idempotent calls
//! with exponential backoff and jitter, `Retry-After` and bans, and the
//! per-exchange clock offset.
//!
//! It signs nothing itself: adapters pass a closure that signs each attempt
//! afresh (a retried request gets a new timestamp or nonce). Errors built
//! here carry the status and a short body excerpt, never the request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Serialize;
use url::Url;

use super::error::{ExchangeError, excerpt};
use crate::model::Exchange;

/// A token bucket: `rate` units per second, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bucket {
    /// Sustained units (request weight) per second.
    pub rate: f64,
    /// Units available at once.
    pub burst: f64,
}

/// Limits for one exchange: a bucket shared by every call to one host (IP
/// limits) and one per API key (account/key limits). Either may be absent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ExchangeLimits {
    /// Per host (the exchange counts per IP).
    pub host: Option<Bucket>,
    /// Per API key (the exchange counts per key or per account).
    pub key: Option<Bucket>,
}

impl ExchangeLimits {
    /// The limits Keyward keeps to by default, each below the exchange's
    /// documented figure (EXCHANGES.md §2, §6):
    /// - Binance: 6000 weight/min per IP → 50 weight/s, burst 200.
    /// - Coinbase: 30 req/s per key → 20/s, burst 10.
    /// - Kraken: counter max 15, decay 0.33/s (Starter tier) → 0.3/s, burst 12.
    /// - OKX: `account/config` 5 req per 2 s per user → 2/s, burst 4.
    /// - Bybit: 600 req per 5 s per IP → 80/s burst 300; 10 req/s per key → 8/s, burst 8.
    ///
    /// An exchange without a live adapter has no limits (nothing is sent).
    pub fn documented(exchange: Exchange) -> ExchangeLimits {
        let b = |rate, burst| Some(Bucket { rate, burst });
        match exchange {
            Exchange::Binance => ExchangeLimits {
                host: b(50.0, 200.0),
                key: None,
            },
            Exchange::Coinbase => ExchangeLimits {
                host: None,
                key: b(20.0, 10.0),
            },
            Exchange::Kraken => ExchangeLimits {
                host: None,
                key: b(0.3, 12.0),
            },
            Exchange::Okx => ExchangeLimits {
                host: None,
                key: b(2.0, 4.0),
            },
            Exchange::Bybit => ExchangeLimits {
                host: b(80.0, 300.0),
                key: b(8.0, 8.0),
            },
            // No live adapter: nothing is ever sent to these.
            _ => ExchangeLimits {
                host: None,
                key: None,
            },
        }
    }
}

/// HTTP settings. `Default` is what production uses.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// TCP + TLS connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout (send, wait, read the body).
    pub request_timeout: Duration,
    /// Retries of an idempotent call after a transport error, 5xx or 429.
    pub max_retries: u32,
    /// First backoff delay; doubled per attempt, plus up to as much jitter.
    pub backoff_base: Duration,
    /// Longest `Retry-After` waited for inside a call; longer ones are
    /// returned as [`ExchangeError::RateLimited`].
    pub max_retry_after: Duration,
    /// Limits per exchange.
    pub limits: HashMap<Exchange, ExchangeLimits>,
    /// `User-Agent` (Kraken requires one).
    pub user_agent: String,
    /// How long a successful `verify` with a set of credentials on one host
    /// counts as "authenticated right before": within it, an ambiguous
    /// "invalid key" answer for the same credentials on the same host is
    /// proof that the key was deleted (see `Endpoint::confirm_revoked`).
    pub proof_window: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            max_retries: 3,
            backoff_base: Duration::from_millis(250),
            max_retry_after: Duration::from_secs(30),
            limits: Exchange::with_adapter()
                .map(|e| (e, ExchangeLimits::documented(e)))
                .collect(),
            user_agent: concat!("keyward/", env!("CARGO_PKG_VERSION")).to_string(),
            proof_window: Duration::from_secs(30 * 60),
        }
    }
}

/// Counters of what the transport did (for benchmarks and diagnostics).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct TransportStats {
    /// HTTP requests sent.
    pub requests: u64,
    /// Answers that were HTTP 429/418 or an exchange rate-limit code.
    pub rate_limited: u64,
    /// Retries made.
    pub retries: u64,
    /// Most requests in flight at once.
    pub peak_in_flight: u64,
}

/// One signed request, ready to send.
pub(crate) struct Prepared {
    pub method: Method,
    pub url: Url,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<(&'static str, String)>,
}

/// What came back.
pub(crate) struct RawResponse {
    pub status: u16,
    pub body: Vec<u8>,
    pub retry_after: Option<Duration>,
    /// The exchanges' rate-limit headers (lower-case names): Binance
    /// `x-mbx-used-weight-*`, `x-sapi-used-*`; Bybit `x-bapi-limit*`.
    pub headers: Vec<(String, String)>,
}

/// Whether a response header is one of the rate-limit headers the
/// transport reads.
fn is_limit_header(name: &str) -> bool {
    name.starts_with("x-mbx-used-weight-")
        || name.starts_with("x-sapi-used-")
        || name.starts_with("x-bapi-limit")
}

/// Binance's documented per-minute weight limits: `/api` REQUEST_WEIGHT
/// 6000 per IP
/// (<https://developers.binance.com/docs/binance-spot-api-docs/rest-api/limits>),
/// `/sapi` 12,000 per IP and 180,000 per UID
/// (<https://developers.binance.com/docs/binance-spot-api-docs/rest-api/limits>,
/// "SAPI" section).
const BINANCE_API_IP_WEIGHT_PER_MINUTE: f64 = 6000.0;
const BINANCE_SAPI_IP_WEIGHT_PER_MINUTE: f64 = 12_000.0;
const BINANCE_SAPI_UID_WEIGHT_PER_MINUTE: f64 = 180_000.0;
/// The per-second pool of withdraw history (weight 18000, "total second
/// level ... rate limit is 180000/second",
/// <https://developers.binance.com/docs/wallet/capital/withdraw-history>).
const BINANCE_SAPI_WEIGHT_PER_SECOND: f64 = 180_000.0;
const BINANCE_WITHDRAW_HISTORY_WEIGHT: f64 = 18_000.0;

/// What a response's rate-limit headers ask of the limiter: hold calls to
/// the host or the key until the exchange's window resets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Throttle {
    /// Hold every call to this host for this long.
    Host(Duration),
    /// Hold this key's calls for this long.
    Key(Duration),
}

/// Reads the rate-limit headers of one answer. `now_ms` is the exchange's
/// clock (local time corrected by the measured offset).
pub(crate) fn throttles(
    exchange: Exchange,
    headers: &[(String, String)],
    now_ms: i64,
) -> Vec<Throttle> {
    let num = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite())
    };
    let mut out = Vec::new();
    match exchange {
        Exchange::Binance => {
            // Fixed one-minute windows: when (almost) all of this minute's
            // weight is used, wait for the next minute of the exchange's
            // clock, plus a little slack.
            let to_next_minute =
                Duration::from_millis((60_000 - now_ms.rem_euclid(60_000)) as u64 + 250);
            for (name, limit, host) in [
                (
                    "x-mbx-used-weight-1m",
                    BINANCE_API_IP_WEIGHT_PER_MINUTE,
                    true,
                ),
                (
                    "x-sapi-used-ip-weight-1m",
                    BINANCE_SAPI_IP_WEIGHT_PER_MINUTE,
                    true,
                ),
                (
                    "x-sapi-used-uid-weight-1m",
                    BINANCE_SAPI_UID_WEIGHT_PER_MINUTE,
                    false,
                ),
            ] {
                if let Some(used) = num(name)
                    && used >= limit - (limit * 0.02).max(20.0)
                {
                    out.push(if host {
                        Throttle::Host(to_next_minute)
                    } else {
                        Throttle::Key(to_next_minute)
                    });
                }
            }
            // Withdraw history weighs 18000 on a per-second pool of 180000
            // ("X-SAPI-USED-IP-WEIGHT-1S"; the Chinese page names the UID
            // pool): a call that would not fit waits for the next second.
            let to_next_second =
                Duration::from_millis((1000 - now_ms.rem_euclid(1000)) as u64 + 50);
            for (name, host) in [
                ("x-sapi-used-ip-weight-1s", true),
                ("x-sapi-used-uid-weight-1s", false),
            ] {
                if let Some(used) = num(name)
                    && used > BINANCE_SAPI_WEIGHT_PER_SECOND - BINANCE_WITHDRAW_HISTORY_WEIGHT
                {
                    out.push(if host {
                        Throttle::Host(to_next_second)
                    } else {
                        Throttle::Key(to_next_second)
                    });
                }
            }
        }
        Exchange::Bybit => {
            // "X-Bapi-Limit-Status: your remaining requests for current
            // endpoint", "X-Bapi-Limit-Reset-Timestamp: when your request
            // limit resets" (docs v5 rate-limit).
            if let (Some(remaining), Some(reset)) = (
                num("x-bapi-limit-status"),
                num("x-bapi-limit-reset-timestamp"),
            ) && remaining <= 0.0
            {
                let wait = (reset as i64 - now_ms).clamp(0, 60_000) as u64 + 50;
                out.push(Throttle::Key(Duration::from_millis(wait)));
            }
        }
        _ => {}
    }
    out
}

impl RawResponse {
    /// Parses the body as JSON, or a typed `Malformed` error.
    pub fn json(&self, exchange: Exchange) -> Result<serde_json::Value, ExchangeError> {
        serde_json::from_slice(&self.body).map_err(|_| self.malformed(exchange))
    }

    pub fn malformed(&self, exchange: Exchange) -> ExchangeError {
        ExchangeError::Malformed {
            exchange,
            status: self.status,
            excerpt: excerpt(&self.body),
        }
    }
}

/// A `Retry-After` header value in seconds (fractions allowed), capped at
/// three days; `None` for anything else (an HTTP date, a negative or
/// non-finite number).
pub(crate) fn retry_after(value: &str) -> Option<Duration> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(86_400.0 * 3.0)))
}

/// Call properties the transport needs.
pub(crate) struct CallSpec<'a> {
    pub exchange: Exchange,
    pub host: &'a str,
    pub key: &'a str,
    pub weight: f64,
    pub idempotent: bool,
}

#[derive(Debug)]
struct BucketState {
    tokens: f64,
    last: Instant,
}

impl BucketState {
    /// Takes `w` units, going into debt if needed; returns how long the
    /// caller must wait for its turn. Debt makes later callers queue behind.
    fn reserve(&mut self, b: Bucket, w: f64, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * b.rate).min(b.burst);
        self.last = now;
        self.tokens -= w;
        if self.tokens >= 0.0 || b.rate <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / b.rate)
        }
    }
}

#[derive(Default)]
struct LimiterState {
    buckets: HashMap<(Exchange, String), BucketState>,
    paused_until: HashMap<(Exchange, String), Instant>,
    /// Holds from the exchanges' rate-limit headers, by host or key id.
    throttled_until: HashMap<(Exchange, String), Instant>,
}

/// How long ago a success noted at `at`, `age` after it happened, was.
fn since(at: Instant, age: Duration) -> Duration {
    at.elapsed().saturating_add(age)
}

/// The shared transport.
pub(crate) struct Transport {
    client: reqwest::Client,
    config: HttpConfig,
    limiter: Mutex<LimiterState>,
    clock_offsets: Mutex<HashMap<Exchange, i64>>,
    nonces: Mutex<HashMap<String, u64>>,
    /// When each set of credentials last authenticated, by a digest of
    /// (exchange, host, environment, key id, secret, passphrase): the
    /// moment it was noted and how long before that moment the success was
    /// (zero for a success seen here, the recorded age for one seen by an
    /// earlier process). Only the digest is kept, never the credentials.
    authenticated: Mutex<HashMap<[u8; 32], (Instant, Duration)>>,
    /// OKX keys found to be demo-trading keys at a custom base URL, by
    /// (host, key id): their calls carry `x-simulated-trading: 1`.
    okx_demo_keys: Mutex<std::collections::HashSet<(String, String)>>,
    requests: AtomicU64,
    rate_limited: AtomicU64,
    retries: AtomicU64,
    in_flight: AtomicU64,
    peak_in_flight: AtomicU64,
}

struct InFlight<'a>(&'a Transport);
impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Transport {
    pub fn new(config: HttpConfig) -> Result<Transport, ExchangeError> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(config.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| ExchangeError::ClientSetup)?;
        Ok(Transport {
            client,
            config,
            limiter: Mutex::new(LimiterState::default()),
            clock_offsets: Mutex::new(HashMap::new()),
            nonces: Mutex::new(HashMap::new()),
            authenticated: Mutex::new(HashMap::new()),
            okx_demo_keys: Mutex::new(std::collections::HashSet::new()),
            requests: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            peak_in_flight: AtomicU64::new(0),
        })
    }

    pub fn proof_window(&self) -> Duration {
        self.config.proof_window
    }

    pub fn stats(&self) -> TransportStats {
        TransportStats {
            requests: self.requests.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            peak_in_flight: self.peak_in_flight.load(Ordering::Relaxed),
        }
    }

    /// Local time corrected by the exchange's measured clock offset, in ms.
    pub fn now_ms(&self, exchange: Exchange) -> i64 {
        let offset = self
            .clock_offsets
            .lock()
            .map(|m| m.get(&exchange).copied().unwrap_or(0))
            .unwrap_or(0);
        super::types::Timestamp::now().unix_ms() + offset
    }

    /// Records `server_ms - local_ms` measured around a time call.
    pub fn set_clock_offset(&self, exchange: Exchange, offset_ms: i64) {
        if let Ok(mut m) = self.clock_offsets.lock() {
            m.insert(exchange, offset_ms);
        }
    }

    /// A strictly increasing nonce per key (Kraken), based on corrected ms.
    pub fn next_nonce(&self, exchange: Exchange, key: &str) -> u64 {
        let now = self.now_ms(exchange).max(0) as u64;
        match self.nonces.lock() {
            Ok(mut m) => {
                let slot = m.entry(key.to_string()).or_insert(0);
                *slot = (*slot + 1).max(now);
                *slot
            }
            Err(_) => now,
        }
    }

    /// Records that the credentials behind `digest` authenticated just now.
    pub(crate) fn note_authenticated(&self, digest: [u8; 32]) {
        self.remember_authenticated(digest, Instant::now(), Duration::ZERO);
    }

    /// Records that the credentials behind `digest` authenticated `age`
    /// before `noted` (a success an earlier process recorded). A more
    /// recent success already known is kept.
    pub(crate) fn remember_authenticated(&self, digest: [u8; 32], noted: Instant, age: Duration) {
        if let Ok(mut m) = self.authenticated.lock() {
            let newer = m
                .get(&digest)
                .is_some_and(|&(at, a)| since(at, a) <= since(noted, age));
            if !newer {
                m.insert(digest, (noted, age));
            }
        }
    }

    /// Whether the credentials behind `digest` authenticated within the
    /// proof window.
    pub(crate) fn authenticated_recently(&self, digest: &[u8; 32]) -> bool {
        self.authenticated
            .lock()
            .ok()
            .and_then(|m| m.get(digest).copied())
            .is_some_and(|(at, age)| since(at, age) <= self.config.proof_window)
    }

    /// Whether this OKX key at this host was found to be a demo key.
    pub(crate) fn is_okx_demo(&self, host: &str, key: &str) -> bool {
        self.okx_demo_keys
            .lock()
            .is_ok_and(|s| s.contains(&(host.to_string(), key.to_string())))
    }

    pub(crate) fn note_okx_demo(&self, host: &str, key: &str) {
        if let Ok(mut s) = self.okx_demo_keys.lock() {
            s.insert((host.to_string(), key.to_string()));
        }
    }

    pub(crate) fn note_rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    /// Waits for the limiter (and any pause after a 429), returning an error
    /// at once while a ban is in force.
    async fn acquire(&self, spec: &CallSpec<'_>) -> Result<(), ExchangeError> {
        let limits = self
            .config
            .limits
            .get(&spec.exchange)
            .copied()
            .unwrap_or_else(|| ExchangeLimits::documented(spec.exchange));
        let wait = {
            let mut st = self
                .limiter
                .lock()
                .map_err(|_| ExchangeError::ClientSetup)?;
            let now = Instant::now();
            let host_id = (spec.exchange, format!("host:{}", spec.host));
            let key_id = (spec.exchange, format!("key:{}:{}", spec.host, spec.key));
            let mut wait = st
                .paused_until
                .get(&host_id)
                .map(|t| t.saturating_duration_since(now))
                .unwrap_or(Duration::ZERO);
            if wait > self.config.max_retry_after {
                return Err(ExchangeError::Banned {
                    exchange: spec.exchange,
                    retry_after: Some(wait),
                });
            }
            // The exchange said how much of its window is used: hold the
            // call until the window resets rather than be refused.
            let held = [&host_id, &key_id]
                .iter()
                .filter_map(|id| st.throttled_until.get(*id))
                .map(|t| t.saturating_duration_since(now))
                .max()
                .unwrap_or(Duration::ZERO);
            if held > self.config.max_retry_after {
                return Err(ExchangeError::RateLimited {
                    exchange: spec.exchange,
                    retry_after: Some(held),
                });
            }
            wait = wait.max(held);
            // Reservations start after any pause so queued callers keep
            // their spacing once it ends.
            let start = now + wait;
            for (id, bucket) in [(host_id, limits.host), (key_id, limits.key)] {
                if let Some(b) = bucket {
                    let state = st.buckets.entry(id).or_insert(BucketState {
                        tokens: b.burst,
                        last: start,
                    });
                    let w = state.reserve(b, spec.weight.min(b.burst.max(1.0)), start);
                    wait = wait.max(start.saturating_duration_since(now) + w);
                }
            }
            wait
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }

    fn pause(&self, exchange: Exchange, host: &str, d: Duration) {
        if let Ok(mut st) = self.limiter.lock() {
            let until = Instant::now() + d;
            let slot = st
                .paused_until
                .entry((exchange, format!("host:{host}")))
                .or_insert(until);
            if *slot < until {
                *slot = until;
            }
        }
    }

    /// Applies what an answer's rate-limit headers say.
    fn observe(&self, spec: &CallSpec<'_>, resp: &RawResponse) {
        if resp.headers.is_empty() {
            return;
        }
        let now_ms = self.now_ms(spec.exchange);
        let holds = throttles(spec.exchange, &resp.headers, now_ms);
        if holds.is_empty() {
            return;
        }
        if let Ok(mut st) = self.limiter.lock() {
            let now = Instant::now();
            for hold in holds {
                let (id, d) = match hold {
                    Throttle::Host(d) => (format!("host:{}", spec.host), d),
                    Throttle::Key(d) => (format!("key:{}:{}", spec.host, spec.key), d),
                };
                let until = now + d;
                let slot = st
                    .throttled_until
                    .entry((spec.exchange, id))
                    .or_insert(until);
                if *slot < until {
                    *slot = until;
                }
            }
        }
    }

    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let base = self.config.backoff_base.as_secs_f64() * 2f64.powi(attempt as i32);
        let jitter: f64 = rand::random::<f64>() * base;
        Duration::from_secs_f64((base + jitter).min(30.0))
    }

    /// Sends one logical call: waits for the limiter, signs (via `build`)
    /// and sends, retrying idempotent calls on transport errors, 5xx and
    /// short 429s. Returns the first answer that is not one of those.
    pub async fn execute(
        &self,
        spec: &CallSpec<'_>,
        build: &mut (dyn FnMut() -> Result<Prepared, ExchangeError> + Send),
    ) -> Result<RawResponse, ExchangeError> {
        let exchange = spec.exchange;
        let mut attempt = 0u32;
        loop {
            self.acquire(spec).await?;
            let prepared = build()?;
            let outcome = self.send_once(prepared).await;
            if let Ok(resp) = &outcome {
                self.observe(spec, resp);
            }
            let retryable = spec.idempotent && attempt < self.config.max_retries;
            let err = match outcome {
                Err(e) => e,
                Ok(resp) if resp.status == 429 || resp.status == 418 => {
                    self.note_rate_limited();
                    if resp.status == 418 {
                        let d = resp.retry_after.unwrap_or(Duration::from_secs(120));
                        self.pause(exchange, spec.host, d);
                        return Err(ExchangeError::Banned {
                            exchange,
                            retry_after: resp.retry_after,
                        });
                    }
                    let wait = resp.retry_after.unwrap_or_else(|| self.backoff(attempt));
                    self.pause(exchange, spec.host, wait);
                    if retryable && wait <= self.config.max_retry_after {
                        attempt += 1;
                        self.retries.fetch_add(1, Ordering::Relaxed);
                        continue; // the pause is waited out in acquire()
                    }
                    return Err(ExchangeError::RateLimited {
                        exchange,
                        retry_after: resp.retry_after,
                    });
                }
                Ok(resp) if resp.status >= 500 => ExchangeError::ServerError {
                    exchange,
                    status: resp.status,
                    excerpt: excerpt(&resp.body),
                },
                Ok(resp) => return Ok(resp),
            };
            let err = match err {
                ExchangeError::Unreachable { detail, .. } => {
                    ExchangeError::Unreachable { exchange, detail }
                }
                ExchangeError::Timeout { .. } => ExchangeError::Timeout { exchange },
                other => other,
            };
            if !retryable {
                return Err(err);
            }
            attempt += 1;
            self.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(self.backoff(attempt - 1)).await;
        }
    }

    async fn send_once(&self, p: Prepared) -> Result<RawResponse, ExchangeError> {
        // The exchange is filled in by the caller; a placeholder is used here.
        let placeholder = Exchange::Binance;
        let mut req = self.client.request(p.method, p.url);
        for (name, value) in p.headers {
            req = req.header(name, value);
        }
        if let Some((content_type, body)) = p.body {
            req = req.header("Content-Type", content_type).body(body);
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_in_flight.fetch_max(now, Ordering::Relaxed);
        let _guard = InFlight(self);
        let classify = |e: reqwest::Error| {
            if e.is_timeout() {
                ExchangeError::Timeout {
                    exchange: placeholder,
                }
            } else if e.is_connect() {
                ExchangeError::Unreachable {
                    exchange: placeholder,
                    detail: "connection failed",
                }
            } else {
                ExchangeError::Unreachable {
                    exchange: placeholder,
                    detail: "connection closed before a complete answer",
                }
            }
        };
        let resp = req.send().await.map_err(classify)?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(retry_after);
        let headers = resp
            .headers()
            .iter()
            .filter(|(n, _)| is_limit_header(n.as_str()))
            .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let body = resp.bytes().await.map_err(classify)?;
        Ok(RawResponse {
            status,
            body: body.to_vec(),
            retry_after,
            headers,
        })
    }
}

#[cfg(test)]
mod tests;
