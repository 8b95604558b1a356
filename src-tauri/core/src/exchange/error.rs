//! Errors of the exchange layer. Messages name the exchange, the status and
//! the exchange's own code; they never carry request headers, signatures,
//! secrets or passphrases.

use std::time::Duration;

use serde::Serialize;

use super::types::RejectReason;
use crate::error::{ErrorKind, KindedError};
use crate::model::{Exchange, Scope};

/// Why an exchange operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The exchange answered and refused the request.
    #[error("{} rejected the request: {code} {message}", .exchange.display_name())]
    Rejected {
        /// Which exchange.
        exchange: Exchange,
        /// Its error code (at most 160 characters of it, as for `message`).
        code: String,
        /// Its message: at most 160 characters, control characters
        /// replaced (an answer is not trusted to be short or printable).
        message: String,
        /// What the code means.
        reason: RejectReason,
    },
    /// Rate limited (HTTP 429 or the exchange's own code). Retry after the
    /// given delay when the exchange said one.
    #[error("{} rate limit reached (retry after {retry_after:?})", .exchange.display_name())]
    RateLimited {
        /// Which exchange.
        exchange: Exchange,
        /// The exchange's `Retry-After`, when sent.
        retry_after: Option<Duration>,
    },
    /// The exchange banned this IP for a while (Binance 418, Kraken lockout).
    #[error("{} banned this address for {retry_after:?}", .exchange.display_name())]
    Banned {
        /// Which exchange.
        exchange: Exchange,
        /// How long, when the exchange said.
        retry_after: Option<Duration>,
    },
    /// The exchange's edge refused this address or region (a CDN's HTTP
    /// 403 page, e.g. CloudFront geo-blocking): not a rate limit and not a
    /// ban that ends by waiting. Another host of the exchange (a regional
    /// site) or another network may be needed.
    #[error("{} refused this address or region (HTTP {status}): {excerpt}", .exchange.display_name())]
    Blocked {
        /// Which exchange.
        exchange: Exchange,
        /// HTTP status.
        status: u16,
        /// The start of the body, sanitized.
        excerpt: String,
    },
    /// No answer within the configured timeout.
    #[error("{} did not answer in time", .exchange.display_name())]
    Timeout {
        /// Which exchange.
        exchange: Exchange,
    },
    /// The connection could not be made or broke before an answer.
    #[error("{} is unreachable: {detail}", .exchange.display_name())]
    Unreachable {
        /// Which exchange.
        exchange: Exchange,
        /// What failed (connect, reset…), without the request.
        detail: &'static str,
    },
    /// The exchange answered with a server error (5xx) after the retries.
    #[error("{} server error (HTTP {status}): {excerpt}", .exchange.display_name())]
    ServerError {
        /// Which exchange.
        exchange: Exchange,
        /// HTTP status.
        status: u16,
        /// The start of the body, sanitized.
        excerpt: String,
    },
    /// The answer was not what the exchange documents (HTML, broken JSON,
    /// missing fields).
    #[error("{} sent an unexpected answer (HTTP {status}): {excerpt}", .exchange.display_name())]
    Malformed {
        /// Which exchange.
        exchange: Exchange,
        /// HTTP status.
        status: u16,
        /// The start of the body, sanitized.
        excerpt: String,
    },
    /// The credentials cannot be used as given (bad PEM, bad base64, a
    /// missing passphrase, an unsupported key type).
    #[error("credentials cannot be used: {reason}")]
    InvalidCredentials {
        /// What is wrong, without the secret.
        reason: &'static str,
    },
    /// The custom base URL was refused.
    #[error("invalid base URL: {reason}")]
    InvalidBaseUrl {
        /// Why.
        reason: &'static str,
    },
    /// The exchange has no such environment (e.g. Coinbase testnet).
    #[error("{} has no {environment} environment for authenticated calls", .exchange.display_name())]
    UnsupportedEnvironment {
        /// Which exchange.
        exchange: Exchange,
        /// Which environment.
        environment: &'static str,
    },
    /// The exchange offers no API for this operation.
    #[error("{} does not support {operation} through its API", .exchange.display_name())]
    Unsupported {
        /// Which exchange.
        exchange: Exchange,
        /// The operation.
        operation: &'static str,
    },
    /// A narrowing named a permission the key does not hold, or one the
    /// exchange does not let a key drop through its API (or a name that is
    /// not one of the exchange's at all). Nothing was sent.
    #[error("{}: {permission:?} is not a permission this key holds and can drop through the API; it can drop: {}", .exchange.display_name(), if removable.is_empty() { "nothing".to_string() } else { removable.join(", ") })]
    PermissionNotRemovable {
        /// Which exchange.
        exchange: Exchange,
        /// The name asked for, as given (at most 80 characters of it).
        permission: String,
        /// The names the key can drop.
        removable: Vec<String>,
    },
    /// A sub-account key was asked for a scope the exchange does not let a
    /// master account grant it through the API. Nothing was sent.
    #[error("{} cannot grant a sub-account key the {scope} scope through its API: {why}", .exchange.display_name())]
    ScopeNotGrantable {
        /// Which exchange.
        exchange: Exchange,
        /// The scope asked for.
        scope: Scope,
        /// Why, said plainly.
        why: &'static str,
    },
    /// A sub-account key spec the exchange would refuse (a sub-account id
    /// or label it does not take, too many IPs). Nothing was sent.
    #[error("{}: {why}", .exchange.display_name())]
    InvalidSubKeySpec {
        /// Which exchange.
        exchange: Exchange,
        /// What is wrong, said plainly.
        why: String,
    },
    /// Keyward has no live adapter for the exchange (see
    /// [`crate::model::Exchange::has_adapter`]).
    #[error("Keyward has no live adapter for {exchange}")]
    NoAdapter {
        /// Which exchange.
        exchange: Exchange,
    },
    /// The HTTP client could not be built (TLS setup).
    #[error("HTTP client setup failed")]
    ClientSetup,
}

impl KindedError for ExchangeError {
    fn kind(&self) -> ErrorKind {
        match self {
            ExchangeError::Rejected { .. }
            | ExchangeError::RateLimited { .. }
            | ExchangeError::Banned { .. }
            | ExchangeError::Blocked { .. }
            | ExchangeError::Timeout { .. }
            | ExchangeError::Unreachable { .. }
            | ExchangeError::ServerError { .. }
            | ExchangeError::Malformed { .. } => ErrorKind::Exchange,
            ExchangeError::ClientSetup => ErrorKind::Internal,
            ExchangeError::InvalidCredentials { .. }
            | ExchangeError::InvalidBaseUrl { .. }
            | ExchangeError::UnsupportedEnvironment { .. }
            | ExchangeError::Unsupported { .. }
            | ExchangeError::PermissionNotRemovable { .. }
            | ExchangeError::ScopeNotGrantable { .. }
            | ExchangeError::InvalidSubKeySpec { .. }
            | ExchangeError::NoAdapter { .. } => ErrorKind::Invalid,
        }
    }
}

impl ExchangeError {
    /// A stable machine name for the variant (`rejected`, `timeout`…).
    pub fn code(&self) -> &'static str {
        match self {
            ExchangeError::Rejected { .. } => "rejected",
            ExchangeError::RateLimited { .. } => "rate_limited",
            ExchangeError::Banned { .. } => "banned",
            ExchangeError::Blocked { .. } => "blocked",
            ExchangeError::Timeout { .. } => "timeout",
            ExchangeError::Unreachable { .. } => "unreachable",
            ExchangeError::ServerError { .. } => "server_error",
            ExchangeError::Malformed { .. } => "malformed",
            ExchangeError::InvalidCredentials { .. } => "invalid_credentials",
            ExchangeError::InvalidBaseUrl { .. } => "invalid_base_url",
            ExchangeError::UnsupportedEnvironment { .. } => "unsupported_environment",
            ExchangeError::Unsupported { .. } => "unsupported",
            ExchangeError::PermissionNotRemovable { .. } => "permission_not_removable",
            ExchangeError::ScopeNotGrantable { .. } => "scope_not_grantable",
            ExchangeError::InvalidSubKeySpec { .. } => "invalid_sub_key_spec",
            ExchangeError::NoAdapter { .. } => "no_adapter",
            ExchangeError::ClientSetup => "client_setup",
        }
    }

    /// Whether the exchange refused the timestamp or nonce (worth one retry
    /// after re-reading its clock).
    pub(crate) fn is_clock_rejection(&self) -> bool {
        matches!(
            self,
            ExchangeError::Rejected {
                reason: RejectReason::Timestamp,
                ..
            }
        )
    }

    /// The serializable `{ kind, code, message, exchange_code }` form.
    pub fn to_dto(&self) -> ErrorDto {
        ErrorDto {
            kind: self.kind(),
            code: self.code(),
            message: self.to_string(),
            exchange_code: match self {
                ExchangeError::Rejected { code, .. } => Some(code.clone()),
                _ => None,
            },
            retry_after_secs: match self {
                ExchangeError::RateLimited { retry_after, .. }
                | ExchangeError::Banned { retry_after, .. } => retry_after.map(|d| d.as_secs()),
                _ => None,
            },
        }
    }
}

/// An [`ExchangeError`] as front ends print it.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorDto {
    /// The front-end kind (`exchange`, `invalid`…).
    pub kind: ErrorKind,
    /// The variant's machine name.
    pub code: &'static str,
    /// A human message (no secrets).
    pub message: String,
    /// The exchange's own code, for rejections.
    pub exchange_code: Option<String>,
    /// Seconds to wait, for rate limits and bans.
    pub retry_after_secs: Option<u64>,
}

/// At most 160 characters of a body, control characters replaced, for error
/// messages. Exchange answers carry no secrets; request data never gets here.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text
        .chars()
        .take(160)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > 160 {
        out.push('…');
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_exchange_by_its_brand() {
        let e = ExchangeError::Timeout {
            exchange: Exchange::Okx,
        };
        assert_eq!(e.to_string(), "OKX did not answer in time");
        for x in Exchange::ALL {
            assert!(
                x.display_name().starts_with(char::is_uppercase),
                "{}",
                x.as_str()
            );
        }
    }
}
