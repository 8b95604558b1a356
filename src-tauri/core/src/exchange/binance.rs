//! Binance spot: HMAC-SHA256 (hex) or Ed25519 (base64) signatures over the
//! query string, `X-MBX-APIKEY`, `timestamp` + `recvWindow`.
//! Introspection: `GET /sapi/v1/account/apiRestrictions` (reports only
//! whether an IP restriction exists, not the list).

use reqwest::Method;
use serde_json::Value;

use super::error::excerpt;
use super::http::{Prepared, RawResponse};
use super::json::{OrderRow, Time, TransferRow, bool_of, field, int};
use super::types::*;
use super::{Endpoint, ExchangeError, sign};
use crate::model::{Exchange, KeyType};

const RECV_WINDOW: u32 = 5000;

pub(super) fn capabilities() -> Capabilities {
    Capabilities {
        key_types: vec![KeyType::Hmac, KeyType::Ed25519],
        introspection_endpoint: "GET /sapi/v1/account/apiRestrictions",
        reports_scopes: Permissions::SCOPES.to_vec(),
        reports_ip_restriction: true,
        activity_orders: true,
        activity_withdrawals: true,
        activity_deposits: true,
        testnet: true,
        manage_sub_keys: true,
        list_account_keys: false,
        notes: vec![
            "Binance reports whether an IP restriction exists, not the list of IPs.",
            "Binance reports when the spot and margin trading permission expires (tradingAuthorityExpirationTime), not a key expiry.",
            "Keys are deleted only in the web interface.",
            "Binance answers -2015 both for an unknown key and for a call from a non-allowlisted IP; a revocation check from an allowlisted address is conclusive.",
            "Order history needs a symbol; recent activity lists open orders across all symbols.",
            "The spot testnet has no /sapi endpoints: only authentication is checked there.",
        ],
        ..Capabilities::none(Exchange::Binance)
    }
}

fn signature(creds: &Credentials, payload: &str) -> Result<String, ExchangeError> {
    use secrecy::ExposeSecret;
    match creds.key_type {
        KeyType::Hmac => Ok(sign::binance_hmac(creds.secret.expose_secret(), payload)),
        KeyType::Ed25519 => Ok(sign::percent_encode(&sign::binance_ed25519(
            creds.secret.expose_secret(),
            payload,
        )?)),
        _ => Err(ExchangeError::InvalidCredentials {
            reason: "Binance keys are HMAC or Ed25519 here (RSA is not supported yet)",
        }),
    }
}

fn reason_for(code: i64) -> RejectReason {
    match code {
        -2014 | -2015 | -2008 => RejectReason::InvalidKey,
        -1022 => RejectReason::BadSignature,
        -1021 => RejectReason::Timestamp,
        -1002 => RejectReason::PermissionDenied,
        _ => RejectReason::Unclassified,
    }
}

fn parse(resp: RawResponse) -> Result<Value, ExchangeError> {
    let ex = Exchange::Binance;
    let json = resp.json(ex);
    if resp.status == 200 {
        return json;
    }
    let json = json?;
    let code = int(&json, "code").ok_or_else(|| resp.malformed(ex))?;
    let message = field(&json, "msg").unwrap_or_default();
    Err(ExchangeError::Rejected {
        exchange: ex,
        code: code.to_string(),
        message: excerpt(message.as_bytes()),
        reason: reason_for(code),
    })
}

async fn signed_get(
    ep: &Endpoint,
    creds: &Credentials,
    path: &str,
    params: &str,
    weight: f64,
) -> Result<Value, ExchangeError> {
    signed(ep, creds, Method::GET, path, params, weight).await
}

/// A signed call with every parameter in the query string (as Binance
/// takes them for any method).
pub(super) async fn signed(
    ep: &Endpoint,
    creds: &Credentials,
    method: Method,
    path: &str,
    params: &str,
    weight: f64,
) -> Result<Value, ExchangeError> {
    let call = || async {
        let mut build = || {
            let ts = ep.now_ms();
            let sep = if params.is_empty() { "" } else { "&" };
            let query = format!("{params}{sep}recvWindow={RECV_WINDOW}&timestamp={ts}");
            let sig = signature(creds, &query)?;
            Ok(Prepared {
                method: method.clone(),
                url: ep.url(path, &format!("{query}&signature={sig}")),
                headers: vec![("X-MBX-APIKEY", creds.api_key.clone())],
                body: None,
            })
        };
        let idempotent = method == Method::GET;
        parse(
            ep.send(&creds.api_key, weight, idempotent, &mut build)
                .await?,
        )
    };
    ep.with_clock_retry(call, || {
        ep.sync_clock("/api/v3/time", |v| int(v, "serverTime"))
    })
    .await
}

pub(super) async fn verify(ep: &Endpoint, creds: &Credentials) -> Result<KeyReport, ExchangeError> {
    let raw = if ep.testnet {
        signed_get(ep, creds, "/api/v3/account", "omitZeroBalances=true", 20.0).await?
    } else {
        signed_get(ep, creds, "/sapi/v1/account/apiRestrictions", "", 1.0).await?
    };
    report_of(ep, raw)
}

/// The answer of the introspection call, parsed and turned into a report.
pub(super) fn report(ep: &Endpoint, resp: RawResponse) -> Result<KeyReport, ExchangeError> {
    report_of(ep, parse(resp)?)
}

fn report_of(ep: &Endpoint, raw: Value) -> Result<KeyReport, ExchangeError> {
    if ep.testnet {
        return Ok(KeyReport {
            removable: Vec::new(),
            account_role: None,
            exchange: Exchange::Binance,
            authenticated: true,
            rejection: None,
            permissions: Permissions {
                read: Some(true),
                trade: bool_of(&raw, "canTrade"),
                ..Default::default()
            },
            ip_restricted: None,
            ip_whitelist: None,
            expires_at: None,
            checked_at: Timestamp::now(),
            raw,
            notes: vec!["The spot testnet has no key-introspection endpoint; only trading rights of the account are known.".into()],
        });
    }
    if !raw.is_object() {
        return Err(ExchangeError::Malformed {
            exchange: Exchange::Binance,
            status: 200,
            excerpt: super::error::excerpt(raw.to_string().as_bytes()),
        });
    }
    let or = |a: Option<bool>, b: Option<bool>| match (a, b) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) | (Some(false), None) | (None, Some(false)) => Some(false),
        (None, None) => None,
    };
    let permissions = Permissions {
        read: bool_of(&raw, "enableReading"),
        trade: bool_of(&raw, "enableSpotAndMarginTrading"),
        withdraw: bool_of(&raw, "enableWithdrawals"),
        transfer: or(
            bool_of(&raw, "enableInternalTransfer"),
            bool_of(&raw, "permitsUniversalTransfer"),
        ),
        margin: bool_of(&raw, "enableMargin"),
        futures: bool_of(&raw, "enableFutures"),
        options: bool_of(&raw, "enableVanillaOptions"),
    };
    // "tradingAuthorityExpirationTime: Expiration time for spot and margin
    // trading permission" (Binance's OpenAPI description): the trading
    // permission's end, not the key's. Binance reports no key expiry.
    let mut notes = vec!["Binance does not report the list of allowed IPs.".to_string()];
    if let Some(t) = int(&raw, "tradingAuthorityExpirationTime").filter(|t| *t > 0) {
        notes.push(format!(
            "Spot and margin trading permission expires on {} (the key itself does not).",
            Timestamp::from_unix_ms(t).to_rfc3339()
        ));
    }
    Ok(KeyReport {
        removable: Vec::new(),
        account_role: None,
        exchange: Exchange::Binance,
        authenticated: true,
        rejection: None,
        permissions,
        ip_restricted: bool_of(&raw, "ipRestrict"),
        ip_whitelist: None,
        expires_at: None,
        checked_at: Timestamp::now(),
        raw,
        notes,
    })
}

fn list(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        _ => Vec::new(),
    }
}

/// Binance lists deposits and withdrawals for at most 90 days per query
/// ("time between startTime and endTime must be less than 90 days",
/// Withdraw History / Deposit History pages): windows of 89 days, newest
/// first, at most this many.
const TRANSFER_WINDOW_MS: i64 = 89 * 86_400_000;
const MAX_TRANSFER_WINDOWS: usize = 4;

/// "Withdraw History (supporting network)": Request Weight(IP) 18000 on the
/// per-second pool (the transport reads `X-SAPI-USED-IP-WEIGHT-1S`), and at
/// most 10 requests per second; deposits weigh 1.
/// https://developers.binance.com/docs/wallet/capital/withdraw-history
const WITHDRAW_HISTORY_WEIGHT: f64 = 1.0;

async fn transfers(
    ep: &Endpoint,
    creds: &Credentials,
    since: Timestamp,
    path: &str,
    row: &TransferRow,
    weight: f64,
) -> Result<(Vec<TransferEvent>, bool), ExchangeError> {
    let (spans, truncated) = super::windows(
        since.unix_ms(),
        ep.now_ms(),
        TRANSFER_WINDOW_MS,
        MAX_TRANSFER_WINDOWS,
    );
    let mut out = Vec::new();
    for (start, end) in spans {
        let q = format!("startTime={start}&endTime={end}");
        out.extend(
            list(signed_get(ep, creds, path, &q, weight).await?)
                .iter()
                .filter_map(|t| row.read(t)),
        );
    }
    Ok((out, truncated))
}

const DEPOSIT: TransferRow = TransferRow {
    id: "id",
    id_or_tx: true,
    asset: "coin",
    amount: "amount",
    status: "status",
    address: "address",
    tx_id: "txId",
    time: Time::Ms("insertTime"),
};

const WITHDRAWAL: TransferRow = TransferRow {
    id_or_tx: false,
    time: Time::Utc("applyTime"),
    ..DEPOSIT
};

const ORDER: OrderRow = OrderRow {
    id: "orderId",
    symbol: "symbol",
    side: "side",
    lowercase_side: true,
    status: "status",
    quantity: "origQty",
    price: "price",
    time: Time::Ms("time"),
};

pub(super) async fn activity(
    ep: &Endpoint,
    creds: &Credentials,
    since: Timestamp,
) -> Result<Activity, ExchangeError> {
    let mut l = super::Listing::new(Exchange::Binance, since);
    let open = signed_get(ep, creds, "/api/v3/openOrders", "", 80.0).await;
    l.orders(open.map(|open| {
        list(open)
            .iter()
            .filter_map(|o| ORDER.read(o))
            .filter(|o| o.time >= since)
            .collect()
    }));
    l.note("Binance order history needs a symbol: only currently open orders are listed.");
    if l.stop() {
        return l.finish();
    }
    if ep.testnet {
        // "only the /api endpoints are available" on the spot testnet.
        let none = || ExchangeError::UnsupportedEnvironment {
            exchange: Exchange::Binance,
            environment: "spot testnet (it has no /sapi endpoints)",
        };
        l.withdrawals(Err(none()));
        l.deposits(Err(none()));
        return l.finish();
    }
    let mut older = false;
    let d = transfers(
        ep,
        creds,
        since,
        "/sapi/v1/capital/deposit/hisrec",
        &DEPOSIT,
        1.0,
    )
    .await;
    l.deposits(d.map(|(v, t)| {
        older |= t;
        v
    }));
    if l.stop() {
        return l.finish();
    }
    let w = transfers(
        ep,
        creds,
        since,
        "/sapi/v1/capital/withdraw/history",
        &WITHDRAWAL,
        WITHDRAW_HISTORY_WEIGHT,
    )
    .await;
    l.withdrawals(w.map(|(v, t)| {
        older |= t;
        v
    }));
    if older {
        l.note(format!(
            "Transfers older than {} days are not listed (Binance answers at most 90 days per query).",
            MAX_TRANSFER_WINDOWS * 89
        ));
    }
    l.finish()
}
