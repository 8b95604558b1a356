//! Exchange clients: signing, key introspection, revocation, narrowing and
//! recent activity for Binance, Coinbase (CDP keys), Kraken, OKX and Bybit.
//!
//! **Owns:** the signers ([`sign`]), the shared HTTP layer (timeouts, rate
//! limits, retries, `Retry-After`, clock offsets), one adapter per exchange
//! behind [`Endpoint`], the report types and [`findings`]. It takes
//! [`crate::model`]'s [`Exchange`], [`Environment`], `Scope` and `KeyType`
//! as they are; [`ExchangeClient::endpoint`] refuses an exchange without a
//! live adapter ([`Exchange::has_adapter`]).
//!
//! **Must never:** read or write the vault (callers hand it [`Credentials`]),
//! enforce MFA (the caller's step-up gate runs before [`Endpoint::narrow`] or
//! [`Endpoint::revoke`]), put a secret, a passphrase, a signature or a request
//! header in an error, a log line or a DTO, guess a permission the exchange
//! did not report (unknown stays `None`), talk plain HTTP to anything but
//! loopback, or define a second name for an exchange, scope, key type or
//! environment.
//!
//! Runtime: the calls are `async` and need a Tokio runtime (reqwest). One
//! [`ExchangeClient`] is meant to be shared (it is cheap to clone): its rate
//! limiters and clock offsets only work if every call goes through it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), keyward_core::exchange::ExchangeError> {
//! use keyward_core::exchange::*;
//! use keyward_core::model::{Environment, Exchange, Scope};
//! let client = ExchangeClient::new(HttpConfig::default())?;
//! let okx = client.endpoint(Exchange::Okx, &Environment::Mainnet)?;
//! let creds = Credentials::hmac("key-id", "secret").with_passphrase("passphrase");
//! let report = okx.verify(&creds).await?;
//! let issues = findings(&[Scope::Read, Scope::Trade], &report);
//! # let _ = issues; Ok(()) }
//! ```

mod binance;
mod bybit;
mod coinbase;
pub mod error;
mod findings;
pub mod http;
mod kraken;
mod okx;
pub mod sign;
mod sites;
pub mod types;

use std::future::Future;
use std::sync::Arc;

pub use error::{ErrorDto, ExchangeError};
pub use findings::{Finding, KeyCheck, KeyCheckError, Severity, findings};
pub use http::{Bucket, ExchangeLimits, HttpConfig, TransportStats};
pub use sites::{SITES, Site, site_of};
pub use types::{
    Activity, BaseUrl, Capabilities, Credentials, KeyReport, MAX_PAGES, Narrowing, OrderEvent,
    Permissions, RejectReason, Rejection, RemovablePermission, Revocation, RevocationCheck,
    SourceError, Timestamp, TransferEvent,
};

use crate::model::{Environment, Exchange};

use http::{CallSpec, Prepared, RawResponse, Transport};

/// The entry point: holds the HTTP client, rate limiters and clock offsets.
#[derive(Clone)]
pub struct ExchangeClient {
    transport: Arc<Transport>,
}

impl ExchangeClient {
    /// Builds a client (no network I/O).
    pub fn new(config: HttpConfig) -> Result<ExchangeClient, ExchangeError> {
        Ok(ExchangeClient {
            transport: Arc::new(Transport::new(config)?),
        })
    }

    /// A handle for one exchange in one environment. Errors: the exchange
    /// has no live adapter ([`Exchange::has_adapter`]), it has no such
    /// environment, or a custom base URL is refused ([`BaseUrl::parse`]).
    pub fn endpoint(
        &self,
        exchange: Exchange,
        environment: &Environment,
    ) -> Result<Endpoint, ExchangeError> {
        let mainnet = mainnet_url(exchange).ok_or(ExchangeError::NoAdapter { exchange })?;
        let (base, demo) = match environment {
            Environment::Mainnet => (BaseUrl::parse(mainnet)?, false),
            Environment::Testnet => match testnet_url(exchange) {
                Some(u) => (BaseUrl::parse(u)?, exchange == Exchange::Okx),
                None => {
                    return Err(ExchangeError::UnsupportedEnvironment {
                        exchange,
                        environment: "testnet",
                    });
                }
            },
            Environment::Custom(url) => (BaseUrl::parse(url)?, false),
        };
        // A custom base URL on a known host is that site: a Binance testnet
        // URL is the testnet (no /sapi) whatever the environment says.
        let site = sites::site_of(exchange, &base.authority());
        Ok(Endpoint {
            transport: self.transport.clone(),
            exchange,
            testnet: matches!(environment, Environment::Testnet) || site.is_some_and(|s| s.test),
            okx_demo: demo,
            // With a custom base URL the environment does not say whether an
            // OKX key is a demo key: it is found out (see `verify`).
            okx_demo_unknown: matches!(environment, Environment::Custom(_)),
            site,
            base,
        })
    }

    /// Counters of the shared transport.
    pub fn stats(&self) -> TransportStats {
        self.transport.stats()
    }
}

/// One exchange at one base URL. Every method dispatches to the exchange's
/// adapter.
#[derive(Clone)]
pub struct Endpoint {
    transport: Arc<Transport>,
    exchange: Exchange,
    base: BaseUrl,
    testnet: bool,
    okx_demo: bool,
    okx_demo_unknown: bool,
    site: Option<&'static sites::Site>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("exchange", &self.exchange)
            .field("base", &self.base.as_str())
            .finish()
    }
}

impl Endpoint {
    /// Which exchange.
    pub fn exchange(&self) -> Exchange {
        self.exchange
    }

    /// What this adapter does automatically.
    pub fn capabilities(&self) -> Capabilities {
        capabilities(self.exchange)
    }

    /// Authenticates with the key and reads its live permissions from the
    /// exchange's introspection endpoint. An authentication rejection is a
    /// report (`authenticated: false`), not an error; errors are for
    /// transport failures, rate limits and unusable credentials.
    pub async fn verify(&self, creds: &Credentials) -> Result<KeyReport, ExchangeError> {
        let mut report = self.verify_here(creds).await?;
        if !report.authenticated {
            report = self.find_site(creds, report).await;
        }
        if report.authenticated {
            self.transport.note_authenticated(self.proof_digest(creds));
        }
        if let Some(site) = self.site {
            report
                .notes
                .push(format!("Site: {} ({}).", site.name, site.host));
        }
        Ok(report)
    }

    /// The adapter's introspection call at this endpoint only.
    async fn verify_here(&self, creds: &Credentials) -> Result<KeyReport, ExchangeError> {
        let result = match self.exchange {
            Exchange::Binance => binance::verify(self, creds).await,
            Exchange::Coinbase => coinbase::verify(self, creds).await,
            Exchange::Kraken => kraken::verify(self, creds).await,
            Exchange::Okx => okx::verify(self, creds).await,
            Exchange::Bybit => bybit::verify(self, creds).await,
            exchange => Err(ExchangeError::NoAdapter { exchange }),
        };
        rejection_as_report(result)
    }

    /// An "invalid key" answer that can also mean "wrong site or
    /// environment": asks the key's other possible sites (the same host
    /// with OKX's demo header toggled; the exchange's other known hosts,
    /// only when this endpoint is one of them). If the key works there, the
    /// rejection says which site the key belongs to. At a custom base URL
    /// an OKX demo key is simply used as one from then on.
    async fn find_site(&self, creds: &Credentials, report: KeyReport) -> KeyReport {
        let Some(rejection) = report.rejection.clone() else {
            return report;
        };
        let ambiguous = match self.exchange {
            Exchange::Okx => ["50101", "50111", "50119"].contains(&rejection.code.as_str()),
            Exchange::Bybit => rejection.code == "10003",
            Exchange::Binance => rejection.code == "-2015",
            _ => false,
        };
        if !ambiguous {
            return report;
        }
        let mut tries: Vec<(Endpoint, String)> = Vec::new();
        if self.exchange == Exchange::Okx {
            let mut other = self.clone();
            other.okx_demo = !self.okx_demo;
            let what = if other.okx_demo {
                "OKX demo trading (it works with the x-simulated-trading header)"
            } else {
                "OKX live trading, not demo trading"
            };
            tries.push((other, what.to_string()));
        }
        if self.site.is_some() {
            for s in sites::siblings(self.exchange, &self.host()) {
                let Ok(base) = BaseUrl::parse(&format!("https://{}", s.host)) else {
                    continue;
                };
                tries.push((
                    Endpoint {
                        transport: self.transport.clone(),
                        exchange: self.exchange,
                        base,
                        testnet: s.test,
                        okx_demo: false,
                        okx_demo_unknown: false,
                        site: Some(s),
                    },
                    format!("{} ({})", s.name, s.host),
                ));
            }
        }
        for (ep, what) in tries {
            let Ok(found) = ep.verify_here(creds).await else {
                continue;
            };
            if !found.authenticated {
                continue;
            }
            if self.exchange == Exchange::Okx
                && self.okx_demo_unknown
                && ep.okx_demo
                && ep.base == self.base
            {
                self.transport.note_okx_demo(&self.host(), &creds.api_key);
                let mut found = found;
                found
                    .notes
                    .push("OKX demo-trading key: its calls carry x-simulated-trading: 1.".into());
                return found;
            }
            return KeyReport::rejected(
                self.exchange,
                Rejection {
                    message: error::excerpt(
                        format!(
                            "this key belongs to {what}; set its environment to match ({})",
                            rejection.message
                        )
                        .as_bytes(),
                    ),
                    code: rejection.code,
                    reason: RejectReason::WrongEnvironment,
                },
            );
        }
        report
    }

    /// A digest of everything a "this key is gone" proof depends on: the
    /// exchange, the base URL and environment flags, and the credentials.
    /// Kept only in memory, only as a digest.
    fn proof_digest(&self, creds: &Credentials) -> [u8; 32] {
        use secrecy::ExposeSecret;
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        let flags = [u8::from(self.testnet), u8::from(self.okx_demo)];
        let passphrase = creds
            .passphrase
            .as_ref()
            .map(|p| p.expose_secret().as_bytes().to_vec())
            .unwrap_or_default();
        for part in [
            self.exchange.as_str().as_bytes(),
            self.base.as_str().as_bytes(),
            &flags[..],
            format!("{:?}", creds.key_type).as_bytes(),
            creds.api_key.as_bytes(),
            creds.secret.expose_secret().as_bytes(),
            &passphrase[..],
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        h.finalize().into()
    }

    /// What [`Endpoint::verify`] makes of one answer of the exchange's
    /// introspection endpoint, without the network: the adapter's answer
    /// parser and report builder. For the fuzz targets.
    pub(crate) fn verify_response(&self, resp: RawResponse) -> Result<KeyReport, ExchangeError> {
        let result = match self.exchange {
            Exchange::Binance => binance::report(self, resp),
            Exchange::Coinbase => coinbase::report(resp),
            Exchange::Kraken => kraken::report(self, resp),
            Exchange::Okx => okx::report(self, resp),
            Exchange::Bybit => bybit::report(self, resp),
            exchange => Err(ExchangeError::NoAdapter { exchange }),
        };
        rejection_as_report(result)
    }

    /// Deletes the key through the exchange's API where it allows that (Bybit
    /// `delete-api`, the calling key only); otherwise returns the manual
    /// steps. The caller enforces MFA step-up before calling.
    pub async fn revoke(&self, creds: &Credentials) -> Result<Revocation, ExchangeError> {
        match self.exchange {
            Exchange::Bybit => bybit::revoke(self, creds).await,
            other => Ok(manual_revocation(other, &creds.api_key)),
        }
    }

    /// Makes a live authenticated call and expects the exchange to reject
    /// the key as unknown or expired.
    ///
    /// Every exchange's "invalid key" answer can mean something else too
    /// (Binance -2015 also means "wrong IP or permission", Kraken `EAPI:Invalid
    /// key` also answers a bad signature, OKX 50101/50111/50119 a key of
    /// another environment or region, Bybit 10003 a testnet/demo/regional
    /// host mismatch, Coinbase's bare 401 a bad JWT or an IP allowlist). So
    /// such an answer is [`RevocationCheck::Confirmed`] only if the same
    /// credentials authenticated on this same endpoint through this client
    /// within [`HttpConfig::proof_window`]: then this computer, this host and
    /// this signature did work, and only the key changed. Otherwise it is
    /// [`RevocationCheck::Inconclusive`], with what to check by hand.
    pub async fn confirm_revoked(
        &self,
        creds: &Credentials,
    ) -> Result<RevocationCheck, ExchangeError> {
        let report = self.verify(creds).await?;
        let Some(rejection) = report.rejection else {
            return Ok(RevocationCheck::StillActive);
        };
        if report.authenticated {
            return Ok(RevocationCheck::StillActive);
        }
        let check_by_hand = check_by_hand(self.exchange, &creds.api_key);
        if !rejection.reason.means_key_unusable() {
            return Ok(RevocationCheck::Inconclusive {
                why: format!(
                    "{} refused the call for another reason ({}), which says nothing about whether the key still exists",
                    self.exchange.display_name(),
                    reason_words(rejection.reason)
                ),
                rejection,
                check_by_hand,
            });
        }
        if self
            .transport
            .authenticated_recently(&self.proof_digest(creds))
        {
            return Ok(RevocationCheck::Confirmed { rejection });
        }
        let minutes = self.transport.proof_window().as_secs() / 60;
        Ok(RevocationCheck::Inconclusive {
            why: format!(
                "{} answers {} also when {}; these credentials did not authenticate on {} from this computer in the last {minutes} minutes, so the answer cannot tell a deleted key from that",
                self.exchange.display_name(),
                rejection.code,
                ambiguity(self.exchange),
                self.base.authority(),
            ),
            rejection,
            check_by_hand,
        })
    }

    /// Recent orders, withdrawals and deposits since `since`, normalized.
    ///
    /// Each source (orders, withdrawals, deposits) is listed on its own: one
    /// that fails (a missing permission, an endpoint the environment lacks)
    /// is reported in [`Activity::errors`] and the others are still listed.
    /// Only when no source could be listed is the first error returned.
    /// Pagination is followed up to [`MAX_PAGES`] pages per source.
    pub async fn recent_activity(
        &self,
        creds: &Credentials,
        since: Timestamp,
    ) -> Result<Activity, ExchangeError> {
        match self.exchange {
            Exchange::Binance => binance::activity(self, creds, since).await,
            Exchange::Coinbase => coinbase::activity(self, creds, since).await,
            Exchange::Kraken => kraken::activity(self, creds, since).await,
            Exchange::Okx => okx::activity(self, creds, since).await,
            Exchange::Bybit => bybit::activity(self, creds, since).await,
            exchange => Err(ExchangeError::NoAdapter { exchange }),
        }
    }

    /// Narrows the calling key in place where the exchange allows it (Bybit
    /// `update-api`), then verifies it afresh and returns that report. The
    /// caller enforces MFA step-up before calling.
    pub async fn narrow(
        &self,
        creds: &Credentials,
        narrowing: &Narrowing,
    ) -> Result<KeyReport, ExchangeError> {
        Ok(self.narrow_dropping(creds, narrowing).await?.0)
    }

    /// [`Endpoint::narrow`], also returning the exchange's names of the
    /// permissions it dropped (what the audit records). A name in
    /// [`Narrowing::drop`] that the key does not hold, or cannot drop
    /// through the API, is refused before anything is sent.
    pub async fn narrow_dropping(
        &self,
        creds: &Credentials,
        narrowing: &Narrowing,
    ) -> Result<(KeyReport, Vec<String>), ExchangeError> {
        match self.exchange {
            Exchange::Bybit => {
                let dropped = bybit::narrow(self, creds, narrowing).await?;
                Ok((self.verify(creds).await?, dropped))
            }
            other => Err(ExchangeError::Unsupported {
                exchange: other,
                operation: "narrowing a key",
            }),
        }
    }

    // ---- helpers shared by the adapters ----

    fn host(&self) -> String {
        self.base.authority()
    }

    fn url(&self, path: &str, query: &str) -> url::Url {
        self.base.join(path, query)
    }

    /// Sends a call through the transport; `build` signs each attempt.
    async fn send(
        &self,
        key: &str,
        weight: f64,
        idempotent: bool,
        build: &mut (dyn FnMut() -> Result<Prepared, ExchangeError> + Send),
    ) -> Result<RawResponse, ExchangeError> {
        let host = self.host();
        let spec = CallSpec {
            exchange: self.exchange,
            host: &host,
            key,
            weight,
            idempotent,
        };
        self.transport.execute(&spec, build).await
    }

    /// Runs `op`; if the exchange refused the timestamp or nonce, re-reads
    /// the exchange clock via `sync` and runs `op` once more.
    async fn with_clock_retry<T, F, Fut, S, SFut>(
        &self,
        mut op: F,
        sync: S,
    ) -> Result<T, ExchangeError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ExchangeError>>,
        S: FnOnce() -> SFut,
        SFut: Future<Output = Result<(), ExchangeError>>,
    {
        match op().await {
            Err(e) if e.is_clock_rejection() => {
                sync().await?;
                op().await
            }
            other => other,
        }
    }

    /// Measures the exchange clock with an unauthenticated call: `parse`
    /// extracts the server time (ms) from the answer.
    async fn sync_clock(
        &self,
        path: &str,
        parse: impl Fn(&serde_json::Value) -> Option<i64>,
    ) -> Result<(), ExchangeError> {
        let exchange = self.exchange;
        let url = self.url(path, "");
        let before = Timestamp::now().unix_ms();
        let resp = self
            .send("", 1.0, true, &mut || {
                Ok(Prepared {
                    method: reqwest::Method::GET,
                    url: url.clone(),
                    headers: Vec::new(),
                    body: None,
                })
            })
            .await?;
        let after = Timestamp::now().unix_ms();
        let json = resp.json(exchange)?;
        let server = parse(&json).ok_or_else(|| resp.malformed(exchange))?;
        self.transport
            .set_clock_offset(exchange, server - (before + after) / 2);
        Ok(())
    }

    fn now_ms(&self) -> i64 {
        self.transport.now_ms(self.exchange)
    }
}

/// An activity listing being built source by source.
pub(crate) struct Listing {
    activity: Activity,
    first_error: Option<ExchangeError>,
}

impl Listing {
    pub(crate) fn new(exchange: Exchange, since: Timestamp) -> Listing {
        Listing {
            activity: Activity {
                exchange,
                since,
                orders: None,
                withdrawals: None,
                deposits: None,
                notes: Vec::new(),
                errors: Vec::new(),
            },
            first_error: None,
        }
    }

    /// One source's outcome: its list, or `None` and its error recorded.
    fn source<T>(
        &mut self,
        source: &'static str,
        result: Result<Vec<T>, ExchangeError>,
    ) -> Option<Vec<T>> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.activity.errors.push(SourceError {
                    source,
                    code: e.code().to_string(),
                    message: e.to_string(),
                });
                self.first_error.get_or_insert(e);
                None
            }
        }
    }

    pub(crate) fn orders(&mut self, r: Result<Vec<OrderEvent>, ExchangeError>) {
        self.activity.orders = self.source("orders", r);
    }

    pub(crate) fn withdrawals(&mut self, r: Result<Vec<TransferEvent>, ExchangeError>) {
        self.activity.withdrawals = self.source("withdrawals", r);
    }

    pub(crate) fn deposits(&mut self, r: Result<Vec<TransferEvent>, ExchangeError>) {
        self.activity.deposits = self.source("deposits", r);
    }

    /// Whether a source failed for a reason that will fail the others too
    /// (transport, server, rate limit): then the listing stops there. A
    /// source's own refusal (a missing permission, an endpoint the
    /// environment lacks) does not stop the others.
    pub(crate) fn stop(&self) -> bool {
        !matches!(
            self.first_error,
            None | Some(ExchangeError::Rejected { .. })
                | Some(ExchangeError::Unsupported { .. })
                | Some(ExchangeError::UnsupportedEnvironment { .. })
        )
    }

    pub(crate) fn note(&mut self, note: impl Into<String>) {
        self.activity.notes.push(note.into());
    }

    /// The listing; when no source could be listed, or the listing stopped
    /// (see [`Listing::stop`]), the first error.
    pub(crate) fn finish(self) -> Result<Activity, ExchangeError> {
        let stop = self.stop();
        let a = self.activity;
        let listed = a.orders.is_some() || a.withdrawals.is_some() || a.deposits.is_some();
        match self.first_error {
            Some(e) if !listed || stop => Err(e),
            _ => Ok(a),
        }
    }
}

/// Splits `[since, now]` into windows of at most `span_ms`, newest first,
/// at most `max` of them; `true` if older time was left out.
pub(crate) fn windows(since: i64, now: i64, span_ms: i64, max: usize) -> (Vec<(i64, i64)>, bool) {
    let mut out = Vec::new();
    let mut end = now;
    while end > since && out.len() < max {
        let start = (end - span_ms).max(since);
        out.push((start, end));
        end = start;
    }
    (out, end > since)
}

/// What each adapter does automatically. An exchange without a live
/// adapter can do nothing automatically: every flag is false.
pub fn capabilities(exchange: Exchange) -> Capabilities {
    match exchange {
        Exchange::Binance => binance::capabilities(),
        Exchange::Coinbase => coinbase::capabilities(),
        Exchange::Kraken => kraken::capabilities(),
        Exchange::Okx => okx::capabilities(),
        Exchange::Bybit => bybit::capabilities(),
        _ => Capabilities {
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
            notes: vec!["Keyward has no live adapter for this exchange"],
        },
    }
}

/// The production REST base URL of an exchange with a live adapter.
pub(crate) fn mainnet_url(exchange: Exchange) -> Option<&'static str> {
    match exchange {
        Exchange::Binance => Some("https://api.binance.com"),
        Exchange::Coinbase => Some("https://api.coinbase.com"),
        Exchange::Kraken => Some("https://api.kraken.com"),
        Exchange::Okx => Some("https://www.okx.com"),
        Exchange::Bybit => Some("https://api.bybit.com"),
        _ => None,
    }
}

/// The test or demo base URL, where the exchange has one for
/// authenticated calls. OKX demo trading uses the production host with a
/// header; Coinbase and Kraken have no authenticated spot testnet.
pub(crate) fn testnet_url(exchange: Exchange) -> Option<&'static str> {
    match exchange {
        Exchange::Binance => Some("https://testnet.binance.vision"),
        Exchange::Okx => Some("https://www.okx.com"),
        Exchange::Bybit => Some("https://api-testnet.bybit.com"),
        _ => None,
    }
}

/// An authentication rejection is a report (`authenticated: false`), not an
/// error.
fn rejection_as_report(
    result: Result<KeyReport, ExchangeError>,
) -> Result<KeyReport, ExchangeError> {
    match result {
        Err(ExchangeError::Rejected {
            exchange,
            code,
            message,
            reason,
        }) => Ok(KeyReport::rejected(
            exchange,
            Rejection {
                code,
                message,
                reason,
            },
        )),
        other => other,
    }
}

/// What else an exchange's "invalid key" answer can mean.
fn ambiguity(exchange: Exchange) -> &'static str {
    match exchange {
        Exchange::Binance => {
            "the calling IP is not on the key's allowlist or the key lacks the permission (-2015: \"Invalid API-key, IP, or permissions for action\")"
        }
        Exchange::Coinbase => {
            "the JWT is refused (wrong algorithm, clock, key format) or the key's IP allowlist excludes this computer (a bare 401)"
        }
        Exchange::Kraken => "the signature does not match the request (EAPI:Invalid key)",
        Exchange::Okx => {
            "the key belongs to another environment or region (demo, OKX EEA at eea.okx.com, OKX US at us.okx.com)"
        }
        Exchange::Bybit => {
            "the key belongs to another host (testnet, demo trading, or a regional site such as Bybit EU, NL, TR or KZ)"
        }
        // No endpoint exists for an exchange without an adapter.
        _ => "the key is refused for another reason",
    }
}

fn reason_words(reason: RejectReason) -> &'static str {
    match reason {
        RejectReason::BadSignature => "bad signature",
        RejectReason::WrongPassphrase => "wrong passphrase",
        RejectReason::Timestamp => "timestamp or nonce",
        RejectReason::IpNotAllowed => "IP not on the allowlist",
        RejectReason::PermissionDenied => "permission denied",
        RejectReason::WrongEnvironment => "the key belongs to another site or environment",
        _ => "an unclassified error",
    }
}

/// What a person checks on the exchange when the live answer proves
/// nothing.
fn check_by_hand(exchange: Exchange, api_key: &str) -> Vec<String> {
    let shown: String = api_key.chars().take(8).collect();
    let page = match exchange {
        Exchange::Binance => {
            "binance.com → Account → API Management (or Binance.US, or the testnet site, if the key is from there)"
        }
        Exchange::Coinbase => {
            "portal.cdp.coinbase.com → API Keys (in the project the key was created in)"
        }
        Exchange::Kraken => "kraken.com → Settings → API",
        Exchange::Okx => {
            "the API page of the OKX site the key was created on (okx.com, my.okx.com / eea.okx.com, app.okx.com / us.okx.com; demo keys under Demo trading)"
        }
        Exchange::Bybit => {
            "API Management on the Bybit site the key was created on (bybit.com, testnet.bybit.com, Demo Trading, or the regional site: EU, NL, TR, KZ…)"
        }
        _ => "the exchange's API key page",
    };
    let mut steps = vec![
        format!("Sign in to {page}."),
        format!(
            "Check that no key whose id starts with {shown}… is listed any more; if it is, delete it there."
        ),
    ];
    match exchange {
        Exchange::Binance => steps.push(
            "If the key is IP-restricted, run the check from an allowlisted address: from there an answer of -2015 right after a successful call is proof.".into(),
        ),
        Exchange::Coinbase | Exchange::Kraken => steps.push(
            "Run the check again right after a successful check of the same key from this computer: a rejection then is proof.".into(),
        ),
        Exchange::Okx | Exchange::Bybit => steps.push(
            "Make sure the key's environment in Keyward matches the site it was created on, then run the check again.".into(),
        ),
        _ => {}
    }
    steps
}

fn manual_revocation(exchange: Exchange, api_key: &str) -> Revocation {
    let shown: String = api_key.chars().take(8).collect();
    let (reason, page) = match exchange {
        Exchange::Binance => (
            "Binance lets a key be deleted only in the web interface",
            "binance.com → Account → API Management",
        ),
        Exchange::Coinbase => (
            "Coinbase CDP keys are deleted only in the CDP portal",
            "portal.cdp.coinbase.com → API Keys",
        ),
        Exchange::Kraken => (
            "Kraken lets a standard key be deleted only in the web interface",
            "kraken.com → Settings → API",
        ),
        Exchange::Okx => (
            "OKX lets a main-account key be deleted only in the web interface",
            "okx.com → Profile → API keys",
        ),
        Exchange::Bybit => (
            "Bybit did not delete this key",
            "bybit.com → Account → API Management",
        ),
        _ => (
            "Keyward has no live adapter for this exchange",
            "the exchange's API key page",
        ),
    };
    Revocation::Unsupported {
        reason: reason.to_string(),
        steps: vec![
            format!("Sign in to {} and open {page}.", exchange.display_name()),
            format!("Find the key whose id starts with {shown}… and delete it."),
            "Come back and run the revocation check: Keyward makes a live call with the old key and expects the exchange to reject it.".to_string(),
        ],
    }
}

/// Value helpers for the adapters' JSON parsing (no panics on any input).
pub(crate) mod json {
    use serde_json::Value;

    pub fn str_of(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    pub fn field(v: &Value, name: &str) -> Option<String> {
        v.get(name).and_then(str_of)
    }

    pub fn int(v: &Value, name: &str) -> Option<i64> {
        match v.get(name)? {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            Value::String(s) => s.trim().parse::<f64>().ok().map(|f| f as i64),
            _ => None,
        }
    }

    pub fn bool_of(v: &Value, name: &str) -> Option<bool> {
        match v.get(name)? {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::http::RawResponse;
    use super::*;

    fn answer(exchange: Exchange, status: u16, body: serde_json::Value) -> KeyReport {
        let client = ExchangeClient::new(HttpConfig::default()).expect("client");
        let endpoint = client
            .endpoint(exchange, &Environment::Mainnet)
            .expect("endpoint");
        endpoint
            .verify_response(RawResponse {
                status,
                body: body.to_string().into_bytes(),
                retry_after: None,
                headers: Vec::new(),
            })
            .expect("a rejection is a report")
    }

    // Found by fuzzing: a rejection passed the exchange's message (and
    // OKX's or Kraken's code) on whole, control characters included.
    #[test]
    fn a_rejection_echoes_a_short_printable_excerpt_of_the_answer() {
        let long = format!("{}\u{1b}[31m\nlast line", "x".repeat(400));
        let cases = [
            (
                Exchange::Binance,
                401,
                serde_json::json!({"code": -2015, "msg": long}),
            ),
            (
                Exchange::Coinbase,
                403,
                serde_json::json!({"error_details": long}),
            ),
            (
                Exchange::Coinbase,
                400,
                serde_json::json!({"error": long, "message": long}),
            ),
            (
                Exchange::Kraken,
                200,
                serde_json::json!({"error": [format!("EAPI:{long}")]}),
            ),
            (Exchange::Kraken, 200, serde_json::json!({"error": [long]})),
            (
                Exchange::Okx,
                401,
                serde_json::json!({"code": long, "msg": long, "data": []}),
            ),
            (
                Exchange::Bybit,
                401,
                serde_json::json!({"retCode": 10003, "retMsg": long}),
            ),
        ];
        for (exchange, status, body) in cases {
            let report = answer(exchange, status, body);
            assert!(!report.authenticated);
            let rejection = report.rejection.expect("rejection");
            for text in [&rejection.code, &rejection.message] {
                assert!(
                    text.chars().count() <= 161,
                    "{exchange}: {} characters",
                    text.chars().count()
                );
                assert!(!text.chars().any(char::is_control), "{exchange}: {text:?}");
                assert!(!text.contains("last line"), "{exchange}: not cut");
            }
        }
    }
}
