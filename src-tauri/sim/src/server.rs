//! The HTTP server: accepts connections, applies faults, strips the exchange
//! prefix and dispatches; also the `/_admin` endpoints.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::json;

use crate::accounts::SimExchange;
use crate::exchanges;
use crate::http::{Req, Resp};
use crate::state::{Fault, FaultKind, State, lock};

/// Returned by the service to make hyper drop the connection unanswered.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DropConnection {}

pub(crate) async fn run(listener: tokio::net::TcpListener, state: Arc<State>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let st = state.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| serve(st.clone(), peer, req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn into_response(r: Resp) -> Response<Full<Bytes>> {
    let mut builder = Response::builder()
        .status(r.status)
        .header("content-type", r.content_type);
    for (k, v) in r.headers {
        builder = builder.header(k, v);
    }
    builder
        .body(Full::new(Bytes::from(r.body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

async fn serve(
    st: Arc<State>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, DropConnection> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, 1 << 20).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Ok(into_response(Resp::text(
                413,
                "text/plain",
                "payload too large",
            )));
        }
    };
    let full_path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let host = parts
        .headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    let (first, rest) = match full_path.trim_start_matches('/').split_once('/') {
        Some((a, b)) => (a.to_string(), format!("/{b}")),
        None => (
            full_path.trim_start_matches('/').to_string(),
            "/".to_string(),
        ),
    };
    let req = Req {
        method: parts.method,
        path: rest,
        query,
        headers: parts.headers,
        body,
        host,
        peer: peer.ip(),
    };
    if first == "_admin" {
        return Ok(into_response(admin(&st, &req)));
    }
    let Ok(ex) = first.parse::<SimExchange>() else {
        return Ok(into_response(Resp::not_found()));
    };
    st.count_request(ex);
    if let Some(fault) = st.take_fault(Some(ex), &req.path) {
        match fault.kind {
            FaultKind::Latency => tokio::time::sleep(Duration::from_millis(fault.latency_ms)).await,
            FaultKind::Drop => return Err(DropConnection),
            FaultKind::ServerError => {
                return Ok(into_response(server_error(fault.status)));
            }
            FaultKind::ProcessedThenError => {
                // The exchange acts on it; its answer is lost on the way.
                let _ = dispatch(&st, ex, &req);
                return Ok(into_response(server_error(fault.status)));
            }
            FaultKind::Html => {
                let status = fault.status.unwrap_or(502);
                return Ok(into_response(Resp::text(
                    status,
                    "text/html",
                    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>",
                )));
            }
            FaultKind::Malformed => {
                return Ok(into_response(Resp::text(
                    200,
                    "application/json",
                    "{\"code\":\"0\",\"data\":[{\"perm\":",
                )));
            }
            FaultKind::RateLimit => {
                let ra = fault.retry_after_secs.unwrap_or(1);
                return Ok(into_response(rate_limited(ex, ra)));
            }
            FaultKind::GeoBlock => {
                return Ok(into_response(Resp::text(
                    403,
                    "text/html",
                    "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\"><HTML><HEAD><TITLE>ERROR: The request could not be satisfied</TITLE></HEAD><BODY><H1>403 ERROR</H1><H2>The request could not be satisfied.</H2>The Amazon CloudFront distribution is configured to block access from your country. Generated by cloudfront (CloudFront)</BODY></HTML>",
                )));
            }
            FaultKind::TooFrequent => {
                return Ok(into_response(Resp::text(
                    403,
                    "text/plain",
                    "403, access too frequent",
                )));
            }
        }
    }
    Ok(into_response(dispatch(&st, ex, &req)))
}

/// A proxy's 5xx page (default 503).
fn server_error(status: Option<u16>) -> Resp {
    Resp::text(
        status.unwrap_or(503),
        "text/html",
        "<html><head><title>503 Service Temporarily Unavailable</title></head><body><center><h1>503 Service Temporarily Unavailable</h1></center></body></html>",
    )
}

fn rate_limited(ex: SimExchange, retry_after: u64) -> Resp {
    match ex {
        SimExchange::Binance => exchanges::binance::rate_limited(retry_after),
        SimExchange::Coinbase => exchanges::coinbase::rate_limited(retry_after),
        SimExchange::Kraken => exchanges::kraken::rate_limited(retry_after),
        SimExchange::Okx => exchanges::okx::rate_limited(retry_after),
        SimExchange::Bybit => exchanges::bybit::rate_limited(retry_after),
    }
}

fn dispatch(st: &State, ex: SimExchange, req: &Req) -> Resp {
    match ex {
        SimExchange::Binance => exchanges::binance::handle(st, req),
        SimExchange::Coinbase => exchanges::coinbase::handle(st, req),
        SimExchange::Kraken => exchanges::kraken::handle(st, req),
        SimExchange::Okx => exchanges::okx::handle(st, req),
        SimExchange::Bybit => exchanges::bybit::handle(st, req),
    }
}

pub(crate) fn revoke(st: &State, ex: SimExchange, api_key: &str) -> bool {
    match lock(&st.keys).get_mut(&(ex, api_key.to_string())) {
        Some(k) => {
            k.revoked = true;
            true
        }
        None => false,
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Faults {
    One(Fault),
    Many(Vec<Fault>),
}

#[derive(Deserialize)]
struct RevokeBody {
    exchange: SimExchange,
    api_key: String,
}

#[derive(Deserialize)]
struct ClockBody {
    exchange: SimExchange,
    offset_ms: i64,
}

fn bad(msg: String) -> Resp {
    Resp::json(400, json!({"error": msg}))
}

fn admin(st: &State, req: &Req) -> Resp {
    let ok = || Resp::json(200, json!({"ok": true}));
    match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/faults") => match serde_json::from_slice::<Faults>(&req.body) {
            Ok(Faults::One(f)) => {
                lock(&st.faults).push(f);
                ok()
            }
            Ok(Faults::Many(v)) => {
                lock(&st.faults).extend(v);
                ok()
            }
            Err(e) => bad(e.to_string()),
        },
        ("DELETE", "/faults") => {
            lock(&st.faults).clear();
            ok()
        }
        ("POST", "/revoke") => match serde_json::from_slice::<RevokeBody>(&req.body) {
            Ok(b) if revoke(st, b.exchange, &b.api_key) => ok(),
            Ok(_) => Resp::json(404, json!({"error": "unknown key"})),
            Err(e) => bad(e.to_string()),
        },
        ("POST", "/clock") => match serde_json::from_slice::<ClockBody>(&req.body) {
            Ok(b) => {
                st.set_clock_offset(b.exchange, b.offset_ms);
                ok()
            }
            Err(e) => bad(e.to_string()),
        },
        ("GET", "/stats") => Resp::json(
            200,
            serde_json::to_value(lock(&st.stats).clone()).unwrap_or_default(),
        ),
        _ => Resp::not_found(),
    }
}

// `Infallible` is kept in scope for readers comparing with hyper examples.
#[allow(dead_code)]
type _Unused = Infallible;
