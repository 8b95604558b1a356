//! Webhook alerts: URL checks, payloads for Discord and Slack incoming
//! webhooks, and a sender that respects rate limits.
//!
//! Owns: [`WebhookUrl`] (a bearer secret: no `Debug` of its value, no
//! `Serialize`, zeroized on drop), [`WebhookKind`] detection, the JSON
//! bodies ([`payload`]) and [`WebhookSender`]: https only (plain http only
//! to loopback, for tests), timeouts, no redirects, `429` with
//! `Retry-After` (header, or Discord's JSON `retry_after`), Discord's
//! `X-RateLimit-Remaining: 0` + `X-RateLimit-Reset-After` (the next send
//! waits), bounded retries, typed errors.
//!
//! Must never: put the URL (or any part of its path or query) in an error,
//! a log line or a `Debug` output; follow a redirect (the body would go to
//! another host); retry without bound; panic on a hostile answer.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::AlertEvent;
use crate::error::{ErrorKind, KindedError};

/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;
/// Attempts per message (the first and two retries).
pub const MAX_ATTEMPTS: u32 = 3;
/// The longest rate-limit wait honoured inside one send; longer ones fail
/// with [`WebhookError::RateLimited`] and the outbox tries again later.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// Which chat service's incoming-webhook format to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum WebhookKind {
    /// `{"content": …, "embeds": […]}`.
    Discord,
    /// `{"text": …}` (also Mattermost, Rocket.Chat and other
    /// Slack-compatible receivers).
    Slack,
}

impl WebhookKind {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookKind::Discord => "discord",
            WebhookKind::Slack => "slack",
        }
    }
}

impl std::str::FromStr for WebhookKind {
    type Err = WebhookError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "discord" => Ok(WebhookKind::Discord),
            "slack" => Ok(WebhookKind::Slack),
            _ => Err(WebhookError::InvalidUrl {
                reason: "the kind must be discord or slack",
            }),
        }
    }
}

/// Why a webhook could not be set or a message not delivered. Never holds
/// the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The URL (or kind) was refused.
    #[error("webhook URL refused: {reason}")]
    InvalidUrl {
        /// Why.
        reason: &'static str,
    },
    /// No webhook is configured.
    #[error("no webhook is configured")]
    NotConfigured,
    /// No connection, a timeout, or a broken answer.
    #[error("webhook not reachable ({what})")]
    Network {
        /// `connect`, `timeout`, `request`.
        what: &'static str,
    },
    /// The receiver answered with an error status.
    #[error("webhook receiver answered HTTP {status}")]
    Status {
        /// The HTTP status.
        status: u16,
    },
    /// Still rate limited after the retries, or asked to wait longer than
    /// [`MAX_WAIT`].
    #[error("webhook receiver is rate limiting; retry in {retry_after_secs} s")]
    RateLimited {
        /// What the receiver asked for, in whole seconds.
        retry_after_secs: u64,
    },
    /// The HTTP client could not be built.
    #[error("the HTTP client could not be set up")]
    ClientSetup,
}

impl WebhookError {
    /// A stable code for audit entries and JSON.
    pub fn code(&self) -> &'static str {
        match self {
            WebhookError::InvalidUrl { .. } => "invalid_url",
            WebhookError::NotConfigured => "not_configured",
            WebhookError::Network { .. } => "network",
            WebhookError::Status { .. } => "http_status",
            WebhookError::RateLimited { .. } => "rate_limited",
            WebhookError::ClientSetup => "client_setup",
        }
    }

    /// Whether trying the same message later may work.
    pub fn is_transient(&self) -> bool {
        match self {
            WebhookError::Network { .. } | WebhookError::RateLimited { .. } => true,
            WebhookError::Status { status } => *status >= 500 || *status == 408,
            _ => false,
        }
    }
}

impl From<WebhookError> for crate::vault::VaultError {
    fn from(e: WebhookError) -> Self {
        crate::vault::VaultError::from_feature(e)
    }
}

impl KindedError for WebhookError {
    fn kind(&self) -> ErrorKind {
        match self {
            WebhookError::InvalidUrl { .. } => ErrorKind::Invalid,
            WebhookError::NotConfigured => ErrorKind::NotFound,
            WebhookError::ClientSetup => ErrorKind::Internal,
            _ => ErrorKind::Exchange,
        }
    }
}

/// A checked webhook URL. It is a bearer secret (whoever has it can post
/// to the channel): no `Serialize`, a redacted `Debug`, zeroized on drop.
pub struct WebhookUrl {
    url: SecretString,
    host: String,
}

impl std::fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookUrl")
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

impl WebhookUrl {
    /// Checks `raw`: an absolute `https` URL with a host, no user or
    /// password part, at most [`MAX_URL_LEN`] bytes; plain `http` only to
    /// loopback.
    pub fn parse(raw: &str) -> Result<WebhookUrl, WebhookError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(WebhookError::InvalidUrl { reason: "empty" });
        }
        if raw.len() > MAX_URL_LEN {
            return Err(WebhookError::InvalidUrl {
                reason: "longer than 2048 bytes",
            });
        }
        if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(WebhookError::InvalidUrl {
                reason: "contains spaces or control characters",
            });
        }
        let url = url::Url::parse(raw).map_err(|_| WebhookError::InvalidUrl {
            reason: "not an absolute URL",
        })?;
        let host = url
            .host()
            .ok_or(WebhookError::InvalidUrl { reason: "no host" })?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&host) => {}
            "http" => {
                return Err(WebhookError::InvalidUrl {
                    reason: "must use https (plain http only to this computer)",
                });
            }
            _ => {
                return Err(WebhookError::InvalidUrl {
                    reason: "must use https",
                });
            }
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(WebhookError::InvalidUrl {
                reason: "must not contain a user name or password",
            });
        }
        if url.fragment().is_some() {
            return Err(WebhookError::InvalidUrl {
                reason: "must not contain a fragment",
            });
        }
        let host = host.to_string();
        Ok(WebhookUrl {
            url: SecretString::from(url.as_str().to_owned()),
            host,
        })
    }

    /// The host (shown in the UI as "configured: host").
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The kind its host and path say, if it is a known service.
    pub fn detect_kind(&self) -> Option<WebhookKind> {
        let url = url::Url::parse(self.url.expose_secret()).ok()?;
        let host = url.host_str()?.to_ascii_lowercase();
        let path = url.path();
        let discord = ["discord.com", "discordapp.com"]
            .iter()
            .any(|d| host == *d || host.ends_with(&format!(".{d}")));
        if discord && path.starts_with("/api/webhooks/") {
            return Some(WebhookKind::Discord);
        }
        if host == "hooks.slack.com" && path.starts_with("/services/") {
            return Some(WebhookKind::Slack);
        }
        None
    }

    /// The URL itself, for sealing and sending only.
    pub(crate) fn expose(&self) -> &str {
        self.url.expose_secret()
    }

    /// A masked form for people: scheme, host and `/…`.
    pub fn masked(&self) -> String {
        let scheme = if self.expose().starts_with("http://") {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{}/…", self.host)
    }
}

/// Picks the kind: an explicit one wins; otherwise the URL must name a
/// known service.
pub fn resolve_kind(
    url: &WebhookUrl,
    kind: Option<WebhookKind>,
) -> Result<WebhookKind, WebhookError> {
    kind.or_else(|| url.detect_kind())
        .ok_or(WebhookError::InvalidUrl {
            reason: "unknown service: say which format it takes (discord or slack)",
        })
}

fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The JSON body for `event` in the format of `kind`. Holds only what
/// [`AlertEvent::lines`] holds.
pub fn payload(kind: WebhookKind, event: &AlertEvent) -> Value {
    let lines = event.lines();
    match kind {
        // Slack reads `<…>` as links and mentions (`<!channel>`): a label
        // must not be able to ping a channel, so the three control
        // characters are escaped as Slack asks.
        WebhookKind::Slack => json!({ "text": slack_escape(&lines.join("\n")) }),
        WebhookKind::Discord => {
            let color = match event.severity {
                super::AlertSeverity::Critical => 0xD0_3B_3B,
                super::AlertSeverity::Warning => 0xE0_A0_20,
                super::AlertSeverity::Info => 0x3B_82_D0,
            };
            let fields: Vec<Value> = event
                .keys
                .iter()
                .take(10)
                .map(|k| {
                    json!({
                        "name": k.label,
                        "value": format!("{} · id {}", k.exchange.display_name(), k.key_id),
                        "inline": true,
                    })
                })
                .collect();
            json!({
                // Plain text first, so the message reads without embeds.
                "content": lines.join("\n"),
                "allowed_mentions": { "parse": [] },
                "embeds": [{
                    "title": lines.first().cloned().unwrap_or_default(),
                    "description": event.detail,
                    "color": color,
                    "fields": fields,
                }],
            })
        }
    }
}

/// How the sender waits (injected so tests can record the waits instead of
/// sleeping).
pub type Sleeper = Arc<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The real sleeper (Tokio's timer).
pub fn tokio_sleeper() -> Sleeper {
    Arc::new(|d| Box::pin(tokio::time::sleep(d)))
}

/// Sends webhook messages one at a time, honouring the receiver's rate
/// limits across messages.
#[derive(Clone)]
pub struct WebhookSender {
    client: reqwest::Client,
    sleeper: Sleeper,
    /// Discord said "0 remaining, reset after …": no send before this.
    not_before: Arc<Mutex<Option<Instant>>>,
}

impl std::fmt::Debug for WebhookSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSender").finish_non_exhaustive()
    }
}

/// What one answer asks of the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Delivered { wait_next: Option<Duration> },
    RetryAfter(Duration),
    Failed(u16),
}

fn header_secs(headers: &reqwest::header::HeaderMap, name: &str) -> Option<Duration> {
    let v = headers
        .get(name)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()?;
    (v.is_finite() && v >= 0.0).then(|| Duration::from_secs_f64(v.min(86_400.0)))
}

fn classify(status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Answer {
    // Discord: bucket exhausted → wait before the next request.
    let exhausted = headers
        .get("x-ratelimit-remaining")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "0");
    let reset = header_secs(headers, "x-ratelimit-reset-after");
    if (200..300).contains(&status) {
        return Answer::Delivered {
            wait_next: if exhausted { reset } else { None },
        };
    }
    if status == 429 {
        let from_body = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("retry_after").and_then(Value::as_f64))
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s.min(86_400.0)));
        let wait = header_secs(headers, "retry-after")
            .or(from_body)
            .or(reset)
            .unwrap_or(Duration::from_secs(1));
        return Answer::RetryAfter(wait);
    }
    Answer::Failed(status)
}

/// The most of an answer's body read (only a 429's `retry_after` is used).
const MAX_BODY: usize = 16 * 1024;

impl WebhookSender {
    /// A sender with 5 s connect and 10 s request timeouts, no redirects,
    /// and the real sleeper.
    pub fn new() -> Result<WebhookSender, WebhookError> {
        Self::with_sleeper(tokio_sleeper())
    }

    /// A sender with an injected sleeper.
    pub fn with_sleeper(sleeper: Sleeper) -> Result<WebhookSender, WebhookError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("keyward/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|_| WebhookError::ClientSetup)?;
        Ok(WebhookSender {
            client,
            sleeper,
            not_before: Arc::new(Mutex::new(None)),
        })
    }

    fn take_wait(&self) -> Option<Duration> {
        let mut nb = self.not_before.lock().unwrap_or_else(|e| e.into_inner());
        let until = nb.take()?;
        let left = until.saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
    }

    /// Sends one message: at most [`MAX_ATTEMPTS`] requests, waiting as
    /// the receiver asks (up to [`MAX_WAIT`]) after a 429 and before a
    /// request when a previous answer exhausted the bucket. Retries 5xx
    /// and connection failures with a short backoff; any other status is
    /// final.
    pub async fn send(
        &self,
        url: &WebhookUrl,
        kind: WebhookKind,
        event: &AlertEvent,
    ) -> Result<(), WebhookError> {
        let body =
            serde_json::to_vec(&payload(kind, event)).map_err(|_| WebhookError::ClientSetup)?;
        let mut last = WebhookError::Network { what: "request" };
        for attempt in 0..MAX_ATTEMPTS {
            if let Some(wait) = self.take_wait() {
                (self.sleeper)(wait.min(MAX_WAIT)).await;
            }
            let sent = self
                .client
                .post(url.expose())
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await;
            let resp = match sent {
                Ok(r) => r,
                Err(e) => {
                    // reqwest's own message names the URL: never use it.
                    last = WebhookError::Network {
                        what: if e.is_timeout() {
                            "timeout"
                        } else if e.is_connect() {
                            "connect"
                        } else {
                            "request"
                        },
                    };
                    if attempt + 1 < MAX_ATTEMPTS {
                        (self.sleeper)(Duration::from_secs(1 << attempt)).await;
                    }
                    continue;
                }
            };
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let bytes = read_capped(resp).await;
            match classify(status, &headers, &bytes) {
                Answer::Delivered { wait_next } => {
                    if let Some(w) = wait_next {
                        let mut nb = self.not_before.lock().unwrap_or_else(|e| e.into_inner());
                        *nb = Some(Instant::now() + w);
                    }
                    return Ok(());
                }
                Answer::RetryAfter(wait) => {
                    last = WebhookError::RateLimited {
                        retry_after_secs: wait.as_secs_f64().ceil() as u64,
                    };
                    if wait > MAX_WAIT {
                        return Err(last);
                    }
                    if attempt + 1 < MAX_ATTEMPTS {
                        (self.sleeper)(wait).await;
                    }
                }
                Answer::Failed(status) => {
                    last = WebhookError::Status { status };
                    if !last.is_transient() {
                        return Err(last);
                    }
                    if attempt + 1 < MAX_ATTEMPTS {
                        (self.sleeper)(Duration::from_secs(1 << attempt)).await;
                    }
                }
            }
        }
        Err(last)
    }
}

async fn read_capped(mut resp: reqwest::Response) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = MAX_BODY.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= MAX_BODY {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{AlertKey, AlertSeverity, EventKind, short_key_id};
    use crate::model::Exchange;

    #[test]
    fn urls_are_checked() {
        for bad in [
            "",
            "discord.com/api/webhooks/1/x",
            "http://discord.com/api/webhooks/1/x",
            "ftp://hooks.slack.com/services/x",
            "https://user:pw@hooks.slack.com/services/x",
            "https://hooks.slack.com/services/x#frag",
            "https://hooks.slack.com/services/a b",
            "https://",
        ] {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad:?} accepted");
        }
        let long = format!(
            "https://hooks.slack.com/services/{}",
            "a".repeat(MAX_URL_LEN)
        );
        assert!(WebhookUrl::parse(&long).is_err());
        assert!(WebhookUrl::parse("http://127.0.0.1:8080/hook").is_ok());
        assert!(WebhookUrl::parse("http://[::1]:8080/hook").is_ok());
        let d = WebhookUrl::parse("https://discord.com/api/webhooks/123/SECRETTOKEN").unwrap();
        assert_eq!(d.detect_kind(), Some(WebhookKind::Discord));
        assert_eq!(d.masked(), "https://discord.com/…");
        assert!(!format!("{d:?}").contains("SECRETTOKEN"));
        let s = WebhookUrl::parse("https://hooks.slack.com/services/T/B/SECRET").unwrap();
        assert_eq!(s.detect_kind(), Some(WebhookKind::Slack));
        let other = WebhookUrl::parse("https://chat.example.org/hooks/abc").unwrap();
        assert!(resolve_kind(&other, None).is_err());
        assert_eq!(
            resolve_kind(&other, Some(WebhookKind::Slack)),
            Ok(WebhookKind::Slack)
        );
        // An explicit kind overrides detection.
        assert_eq!(
            resolve_kind(&d, Some(WebhookKind::Slack)),
            Ok(WebhookKind::Slack)
        );
    }

    #[test]
    fn payloads_hold_no_canary_and_no_full_key_id() {
        let full_id = "CANARYKEYID0123456789abcdef";
        let event = AlertEvent {
            kind: EventKind::CriticalFinding,
            severity: AlertSeverity::Critical,
            at: 1_700_000_000,
            keys: vec![AlertKey {
                label: "grid-bot".into(),
                exchange: Exchange::Binance,
                key_id: short_key_id(full_id),
            }],
            exchanges: vec![Exchange::Binance],
            detail: "withdraw is enabled but not declared".into(),
        };
        for kind in [WebhookKind::Discord, WebhookKind::Slack] {
            let text = payload(kind, &event).to_string();
            assert!(!text.contains(full_id), "{kind:?}: {text}");
            assert!(!text.contains("0123456789"));
            assert!(text.contains("grid-bot"));
            assert!(text.contains("Binance"), "{kind:?}: {text}");
            assert!(text.contains("CANA…"));
            assert!(text.contains("critical"));
            assert!(text.contains("2023-11-14"));
        }
        let d = payload(WebhookKind::Discord, &event);
        assert!(d["content"].is_string());
        assert!(d["embeds"].is_array());
        let s = payload(WebhookKind::Slack, &event);
        assert!(s["text"].is_string());
        // Labels cannot mention anyone.
        let mut loud = event.clone();
        loud.keys[0].label = "<!channel> @everyone".into();
        let text = payload(WebhookKind::Slack, &loud)["text"].to_string();
        assert!(!text.contains("<!channel>"), "{text}");
        let d = payload(WebhookKind::Discord, &loud);
        assert_eq!(d["allowed_mentions"]["parse"], json!([]));
        assert_eq!(s.as_object().map(|o| o.len()), Some(1));
    }

    #[test]
    fn rate_limit_answers_are_read() {
        use reqwest::header::{HeaderMap, HeaderValue};
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(
            classify(429, &h, b""),
            Answer::RetryAfter(Duration::from_secs(3))
        );
        let empty = HeaderMap::new();
        assert_eq!(
            classify(429, &empty, br#"{"retry_after": 1.5, "global": false}"#),
            Answer::RetryAfter(Duration::from_millis(1500))
        );
        assert_eq!(
            classify(429, &empty, b"garbage"),
            Answer::RetryAfter(Duration::from_secs(1))
        );
        let mut d = HeaderMap::new();
        d.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        d.insert("x-ratelimit-reset-after", HeaderValue::from_static("2.25"));
        assert_eq!(
            classify(204, &d, b""),
            Answer::Delivered {
                wait_next: Some(Duration::from_millis(2250))
            }
        );
        d.insert("x-ratelimit-remaining", HeaderValue::from_static("4"));
        assert_eq!(
            classify(200, &d, b""),
            Answer::Delivered { wait_next: None }
        );
        let mut bad = HeaderMap::new();
        bad.insert("retry-after", HeaderValue::from_static("-5"));
        assert_eq!(
            classify(429, &bad, b""),
            Answer::RetryAfter(Duration::from_secs(1))
        );
        assert_eq!(classify(500, &empty, b""), Answer::Failed(500));
    }
}
