//! Entry points for the fuzz targets; no behaviour of its own.
//!
//! Each function hands its input to the real internal code that a front end
//! reaches through I/O (a file, an HTTP answer), so the fuzz targets in
//! `fuzz/` can call it without the file system or the network. Nothing here
//! parses, checks or decides anything itself. Not a stable API.

use std::path::Path;
use std::sync::OnceLock;

use zeroize::Zeroizing;

use crate::exchange::http::{RawResponse, retry_after};
use crate::exchange::{ExchangeClient, ExchangeError, HttpConfig, KeyReport};
use crate::model::{Environment, Exchange};
use crate::scan::ImportError;
use crate::scan::import::{FileCandidates, Format};

/// What [`crate::scan::read_file`] makes of `bytes` as a file of `format`
/// (labels start with `fuzz-`).
pub fn import_config(format: Format, bytes: &[u8]) -> Result<FileCandidates, ImportError> {
    let name = match format {
        Format::Env => ".env",
        Format::Json => "config.json",
        Format::Yaml => "config.yaml",
        Format::Toml => "config.toml",
    };
    crate::scan::import::recognise_bytes(Path::new(name), Zeroizing::new(bytes.to_vec()), "fuzz-")
}

/// What [`crate::exchange::Endpoint::verify`] makes of one answer of
/// `exchange`'s introspection endpoint: HTTP `status`, a `Retry-After`
/// header value if any, and the body. `testnet` picks the exchange's testnet
/// endpoint where it has one.
pub fn exchange_response(
    exchange: Exchange,
    testnet: bool,
    status: u16,
    retry_after_header: Option<&str>,
    body: &[u8],
) -> Result<KeyReport, ExchangeError> {
    static CLIENT: OnceLock<Result<ExchangeClient, ExchangeError>> = OnceLock::new();
    let client = CLIENT
        .get_or_init(|| ExchangeClient::new(HttpConfig::default()))
        .as_ref()
        .map_err(|_| ExchangeError::ClientSetup)?;
    let environment = if testnet && crate::exchange::testnet_url(exchange).is_some() {
        Environment::Testnet
    } else {
        Environment::Mainnet
    };
    let endpoint = client.endpoint(exchange, &environment)?;
    endpoint.verify_response(RawResponse {
        status,
        body: body.to_vec(),
        retry_after: retry_after_header.and_then(retry_after),
        headers: Vec::new(),
    })
}
