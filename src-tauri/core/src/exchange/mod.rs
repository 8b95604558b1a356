//! Exchange clients: signing, key introspection, revocation, narrowing and
//! recent activity for Binance, Coinbase (CDP keys), Kraken, OKX and Bybit.
//!
//! **Owns:** the signers ([`sign`]), the shared HTTP layer (timeouts, rate
//! limits, retries, `Retry-After`, clock offsets), one adapter per exchange
//! behind [`Endpoint`], the report types and [`findings`], and the
//! master-account management of sub-account keys ([`manage`]). It takes
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
mod json;
mod kraken;
mod listing;
pub mod manage;
mod okx;
mod revocation;
pub mod sign;
mod site_search;
mod sites;
pub mod types;

use std::future::Future;
use std::sync::Arc;

pub use error::{ErrorDto, ExchangeError};
pub use findings::{Finding, KeyCheck, KeyCheckError, Severity, findings};
pub use http::{Bucket, ExchangeLimits, HttpConfig, TransportStats};
pub use manage::{
    AccountInventory, AccountKey, AccountRole, CreatedSubKey, ManagerFitness, SubAccount,
    SubKeySpec, manager_fitness,
};
pub use revocation::ProofScope;
pub use sites::{SITES, Site, site_of};
pub use types::{
    Activity, BaseUrl, Capabilities, Credentials, KeyReport, MAX_PAGES, Narrowing, OrderEvent,
    Permissions, RejectReason, Rejection, RemovablePermission, Revocation, RevocationCheck,
    SourceError, Timestamp, TransferEvent,
};

use crate::model::{Environment, Exchange};

use http::{CallSpec, Prepared, RawResponse, Transport};
pub(crate) use listing::{Listing, windows};

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
        let place = Place::of(exchange, environment)?;
        Ok(Endpoint {
            transport: self.transport.clone(),
            exchange,
            testnet: place.testnet,
            okx_demo: place.okx_demo,
            okx_demo_unknown: place.okx_demo_unknown,
            site: place.site,
            base: place.base,
        })
    }

    /// Counters of the shared transport.
    pub fn stats(&self) -> TransportStats {
        self.transport.stats()
    }
}

/// Where an endpoint of one exchange in one environment calls: the base URL
/// and its environment flags (no network I/O).
struct Place {
    base: BaseUrl,
    testnet: bool,
    okx_demo: bool,
    okx_demo_unknown: bool,
    site: Option<&'static sites::Site>,
}

impl Place {
    fn of(exchange: Exchange, environment: &Environment) -> Result<Place, ExchangeError> {
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
        Ok(Place {
            testnet: matches!(environment, Environment::Testnet) || site.is_some_and(|s| s.test),
            okx_demo: demo,
            // With a custom base URL the environment does not say whether an
            // OKX key is a demo key: it is found out (see `verify`).
            okx_demo_unknown: matches!(environment, Environment::Custom(_)),
            site,
            base,
        })
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

    /// An answer that says this caller is rate limited: counted, and the
    /// error.
    fn rate_limited(&self, retry_after: Option<std::time::Duration>) -> ExchangeError {
        self.transport.note_rate_limited();
        ExchangeError::RateLimited {
            exchange: self.exchange,
            retry_after,
        }
    }

    /// An answer that says this caller's IP is banned: counted, and the
    /// error.
    fn banned(&self, retry_after: Option<std::time::Duration>) -> ExchangeError {
        self.transport.note_rate_limited();
        ExchangeError::Banned {
            exchange: self.exchange,
            retry_after,
        }
    }

    fn now_ms(&self) -> i64 {
        self.transport.now_ms(self.exchange)
    }
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
            notes: vec!["Keyward has no live adapter for this exchange"],
            ..Capabilities::none(exchange)
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
