//! OKX v5: `OK-ACCESS-SIGN = base64(HMAC-SHA256(secret, ts ‖ METHOD ‖
//! path?query ‖ body))`, ISO-8601 ms timestamp, plain passphrase header, demo
//! trading by `x-simulated-trading: 1`. Introspection: `GET
//! /api/v5/account/config` (`perm`, `ip`).

use reqwest::Method;
use serde_json::Value;

use super::error::excerpt;
use super::http::{Prepared, RawResponse};
use super::json::{OrderRow, Time, TransferRow, field, int};
use super::types::*;
use super::{Endpoint, ExchangeError, sign};
use crate::model::{Exchange, KeyType, Scope};

pub(super) fn capabilities() -> Capabilities {
    Capabilities {
        key_types: vec![KeyType::Hmac],
        introspection_endpoint: "GET /api/v5/account/config",
        reports_scopes: vec![Scope::Read, Scope::Trade, Scope::Withdraw],
        reports_ip_restriction: true,
        reports_ip_whitelist: true,
        activity_orders: true,
        activity_withdrawals: true,
        activity_deposits: true,
        testnet: true,
        manage_sub_keys: true,
        list_account_keys: true,
        notes: vec![
            "OKX reports read_only / trade / withdraw only; other scopes stay unknown.",
            "Main-account keys are deleted only in the web interface.",
            "Keys with trade or withdraw rights and no IP expire after 14 days unused (not reported).",
        ],
        ..Capabilities::none(Exchange::Okx)
    }
}

fn reason_for(code: &str) -> RejectReason {
    match code {
        // "50101: APIKey does not match current environment".
        "50101" => RejectReason::WrongEnvironment,
        "50111" | "50119" | "50103" => RejectReason::InvalidKey,
        "50113" | "50106" => RejectReason::BadSignature,
        "50105" | "50104" => RejectReason::WrongPassphrase,
        "50102" | "50112" | "50107" => RejectReason::Timestamp,
        "50110" | "50035" => RejectReason::IpNotAllowed,
        "50120" | "50030" => RejectReason::PermissionDenied,
        "50100" => RejectReason::Expired,
        _ => RejectReason::Unclassified,
    }
}

fn parse(ep: &Endpoint, resp: RawResponse) -> Result<Value, ExchangeError> {
    let ex = Exchange::Okx;
    let json = resp.json(ex)?;
    let code = field(&json, "code").ok_or_else(|| resp.malformed(ex))?;
    if code == "0" {
        return json.get("data").cloned().ok_or_else(|| resp.malformed(ex));
    }
    if code == "50011" || code == "50013" {
        return Err(ep.rate_limited(resp.retry_after));
    }
    Err(ExchangeError::Rejected {
        exchange: ex,
        reason: reason_for(&code),
        message: excerpt(field(&json, "msg").unwrap_or_default().as_bytes()),
        code: excerpt(code.as_bytes()),
    })
}

async fn signed_get(
    ep: &Endpoint,
    creds: &Credentials,
    path: &str,
    query: &str,
) -> Result<Value, ExchangeError> {
    signed(ep, creds, Method::GET, path, query, "").await
}

/// A signed call: `query` goes in the URL (and the prehash), `body` (JSON,
/// empty for a GET) in the prehash and the request.
pub(super) async fn signed(
    ep: &Endpoint,
    creds: &Credentials,
    method: Method,
    path: &str,
    query: &str,
    body: &str,
) -> Result<Value, ExchangeError> {
    use secrecy::ExposeSecret;
    let passphrase = creds
        .passphrase
        .as_ref()
        .ok_or(ExchangeError::InvalidCredentials {
            reason: "OKX keys need the passphrase set at key creation",
        })?;
    if creds.key_type != KeyType::Hmac {
        return Err(ExchangeError::InvalidCredentials {
            reason: "OKX keys are HMAC keys",
        });
    }
    let request_path = if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    };
    let call = || async {
        let mut build = || {
            let ts = Timestamp::from_unix_ms(ep.now_ms()).to_rfc3339();
            let prehash = sign::okx_prehash(&ts, method.as_str(), &request_path, body);
            let sig = sign::okx(creds.secret.expose_secret(), &prehash);
            let mut headers = vec![
                ("OK-ACCESS-KEY", creds.api_key.clone()),
                ("OK-ACCESS-SIGN", sig),
                ("OK-ACCESS-TIMESTAMP", ts),
                (
                    "OK-ACCESS-PASSPHRASE",
                    passphrase.expose_secret().to_string(),
                ),
            ];
            if ep.okx_demo || ep.transport.is_okx_demo(&ep.host(), &creds.api_key) {
                headers.push(("x-simulated-trading", "1".to_string()));
            }
            Ok(Prepared {
                method: method.clone(),
                url: ep.url(path, query),
                headers,
                body: (method != Method::GET).then(|| ("application/json", body.to_string())),
            })
        };
        let idempotent = method == Method::GET;
        let resp = ep.send(&creds.api_key, 1.0, idempotent, &mut build).await?;
        parse(ep, resp)
    };
    ep.with_clock_retry(call, || {
        ep.sync_clock("/api/v5/public/time", |v| {
            v.get("data")?
                .as_array()?
                .first()
                .and_then(|d| int(d, "ts"))
        })
    })
    .await
}

pub(super) fn first(data: &Value) -> Option<&Value> {
    data.as_array()?.first()
}

pub(super) async fn verify(ep: &Endpoint, creds: &Credentials) -> Result<KeyReport, ExchangeError> {
    report_of(signed_get(ep, creds, "/api/v5/account/config", "").await?)
}

/// The answer of the introspection call, parsed and turned into a report.
pub(super) fn report(ep: &Endpoint, resp: RawResponse) -> Result<KeyReport, ExchangeError> {
    report_of(parse(ep, resp)?)
}

pub(super) fn report_of(data: Value) -> Result<KeyReport, ExchangeError> {
    let cfg = first(&data).ok_or(ExchangeError::Malformed {
        exchange: Exchange::Okx,
        status: 200,
        excerpt: "account/config without data".into(),
    })?;
    let perm = field(cfg, "perm").ok_or(ExchangeError::Malformed {
        exchange: Exchange::Okx,
        status: 200,
        excerpt: "account/config without perm".into(),
    })?;
    let perms: Vec<&str> = perm
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let ips: Option<Vec<String>> = field(cfg, "ip").map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    });
    // Get account configuration: the calling account is the main account
    // if `uid` equals `mainUid`, a sub-account otherwise.
    let account_role = match (field(cfg, "uid"), field(cfg, "mainUid")) {
        (Some(uid), Some(main)) if !uid.is_empty() && !main.is_empty() => Some(if uid == main {
            AccountRole::Master
        } else {
            AccountRole::Sub
        }),
        _ => None,
    };
    let cfg = cfg.clone();
    Ok(KeyReport {
        removable: Vec::new(),
        account_role,
        exchange: Exchange::Okx,
        authenticated: true,
        rejection: None,
        permissions: Permissions {
            read: Some(perms.contains(&"read_only") || !perms.is_empty()),
            trade: Some(perms.contains(&"trade")),
            withdraw: Some(perms.contains(&"withdraw")),
            transfer: None,
            margin: None,
            futures: None,
            options: None,
        },
        ip_restricted: ips.as_ref().map(|l| !l.is_empty()),
        ip_whitelist: ips,
        expires_at: None,
        checked_at: Timestamp::now(),
        raw: cfg,
        notes: vec!["OKX does not report a key's creation or expiry time.".into()],
    })
}

const ORDER: OrderRow = OrderRow {
    id: "ordId",
    symbol: "instId",
    side: "side",
    lowercase_side: false,
    status: "state",
    quantity: "sz",
    price: "px",
    time: Time::Ms("cTime"),
};

/// An order row; a market order has no `px`, its average price is used.
fn order(o: &Value) -> Option<OrderEvent> {
    let mut event = ORDER.read(o)?;
    event.price = event
        .price
        .filter(|p| !p.is_empty())
        .or_else(|| field(o, "avgPx"));
    Some(event)
}

// "to: Receiving address" (Get withdrawal history,
// https://www.okx.com/docs-v5/en/#funding-account-rest-api-get-withdrawal-history).
const WITHDRAWAL: TransferRow = TransferRow {
    id: "wdId",
    id_or_tx: false,
    asset: "ccy",
    amount: "amt",
    status: "state",
    address: "to",
    tx_id: "txId",
    time: Time::Ms("ts"),
};

const DEPOSIT: TransferRow = TransferRow {
    id: "depId",
    ..WITHDRAWAL
};

pub(super) async fn activity(
    ep: &Endpoint,
    creds: &Credentials,
    since: Timestamp,
) -> Result<Activity, ExchangeError> {
    let mut l = super::Listing::new(Exchange::Okx, since);
    let ms = since.unix_ms();
    let orders_raw = signed_get(
        ep,
        creds,
        "/api/v5/trade/orders-history",
        &format!("instType=SPOT&begin={ms}"),
    )
    .await;
    l.orders(orders_raw.map(|orders_raw| {
        orders_raw
            .as_array()
            .map(|a| a.iter().filter_map(order).collect())
            .unwrap_or_default()
    }));
    if l.stop() {
        return l.finish();
    }
    let w = signed_get(
        ep,
        creds,
        "/api/v5/asset/withdrawal-history",
        &format!("before={ms}"),
    )
    .await;
    l.withdrawals(w.map(|w| WITHDRAWAL.read_all(&w)));
    if l.stop() {
        return l.finish();
    }
    let d = signed_get(
        ep,
        creds,
        "/api/v5/asset/deposit-history",
        &format!("before={ms}"),
    )
    .await;
    l.deposits(d.map(|d| DEPOSIT.read_all(&d)));
    l.note("Spot orders of the last 7 days (orders-history); at most 100 of each kind.");
    l.finish()
}
