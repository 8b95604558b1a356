//! Binance spot: `X-MBX-APIKEY`, `signature` = HMAC-SHA256 hex (any case) or
//! Ed25519 base64 (percent-encoded) over query ‖ body without the signature
//! parameter; `timestamp < server + 1000` and `server - timestamp <=
//! recvWindow` (default 5000, max 60000).

use base64::Engine;
use serde_json::{Value, json};

use super::{hmac_sha256, items, same};
use crate::accounts::{ActivityKind, SimExchange, SimScope};
use crate::http::{Req, Resp, binance_datetime, parse_form, percent_decode, without_param};
use crate::state::{KeyState, State, Verifier, lock};

const EX: SimExchange = SimExchange::Binance;

fn err(status: u16, code: i64, msg: &str) -> Resp {
    Resp::json(status, json!({"code": code, "msg": msg}))
}

pub(crate) fn rate_limited(retry_after: u64) -> Resp {
    err(429, -1003, "Too many requests; current limit of IP is exceeded. Please use WebSocket Streams for live updates to avoid polling the API.")
        .with_header("Retry-After", retry_after.to_string())
}

/// Binance's per-minute weight limits per IP: `/api` 6000 (REQUEST_WEIGHT),
/// `/sapi` 12,000
/// (https://developers.binance.com/docs/binance-spot-api-docs/rest-api/limits).
const API_WEIGHT_PER_MINUTE: f64 = 6000.0;
const SAPI_IP_WEIGHT_PER_MINUTE: f64 = 12_000.0;

/// Every answer carries the weight used this minute: "Every request will
/// contain X-MBX-USED-WEIGHT-(intervalNum)(intervalLetter) in the response
/// headers" (`/api`); `/sapi` answers `X-SAPI-USED-IP-WEIGHT-1M` (limits
/// page above). Over the minute's limit: 429 with `Retry-After`.
pub(crate) fn handle(st: &State, req: &Req) -> Resp {
    let sapi = req.path.starts_with("/sapi/");
    let (pool, header, limit) = if sapi {
        (
            "sapi-ip",
            "X-SAPI-USED-IP-WEIGHT-1M",
            SAPI_IP_WEIGHT_PER_MINUTE,
        )
    } else {
        ("api-ip", "X-MBX-USED-WEIGHT-1M", API_WEIGHT_PER_MINUTE)
    };
    let weight = match req.path.as_str() {
        "/api/v3/openOrders" => 80.0,
        "/api/v3/account" => 20.0,
        _ => 1.0,
    };
    let used = st.add_minute_weight(EX, &format!("{pool}/{}", req.peer), weight);
    let resp = if used > limit {
        let secs = (st.ms_to_next_minute(EX) as u64).div_ceil(1000).max(1);
        *lock(&st.stats).rate_limited.entry(EX).or_default() += 1;
        rate_limited(secs)
    } else {
        route(st, req, weight)
    };
    resp.with_header(header, (used as u64).to_string())
}

fn route(st: &State, req: &Req, weight: f64) -> Resp {
    if let Err(ra) = st.take_ip(EX, req.peer, weight) {
        return rate_limited(ra);
    }
    // Deposit / withdraw history: "time between startTime and endTime must
    // be less than 90 days" (endTime defaults to now)
    // https://developers.binance.com/docs/wallet/capital/withdraw-history
    if req.path.starts_with("/sapi/v1/capital/") {
        let n = |p: &str| req.param(p).and_then(|v| v.parse::<i64>().ok());
        if let Some(start) = n("startTime") {
            let end = n("endTime").unwrap_or_else(|| st.now_ms(EX));
            if end - start >= 90 * 86_400_000 {
                return err(400, -1127, "Lookup interval is too big.");
            }
        }
    }
    if req.method == hyper::Method::GET && req.path == "/api/v3/time" {
        return Resp::json(200, json!({"serverTime": st.now_ms(EX)}));
    }
    let answer: fn(&KeyState, &Req) -> Value = match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/sapi/v1/account/apiRestrictions") => restrictions,
        ("GET", "/api/v3/account") => account,
        ("GET", "/api/v3/openOrders") => open_orders,
        ("GET", "/sapi/v1/capital/deposit/hisrec") => deposits,
        ("GET", "/sapi/v1/capital/withdraw/history") => withdrawals,
        _ => return Resp::not_found(),
    };
    let mut keys = lock(&st.keys);
    match authenticate(st, &mut keys, req) {
        Ok(k) => Resp::json(200, answer(k, req)),
        Err(r) => {
            drop(keys);
            st.count_auth_failure(EX);
            r
        }
    }
}

fn authenticate<'a>(
    st: &State,
    keys: &'a mut std::collections::HashMap<(SimExchange, String), KeyState>,
    req: &Req,
) -> Result<&'a KeyState, Resp> {
    let Some(api_key) = req.header("x-mbx-apikey") else {
        return Err(err(401, -2014, "API-key format invalid."));
    };
    let invalid = || {
        err(
            401,
            -2015,
            "Invalid API-key, IP, or permissions for action.",
        )
    };
    let Some(k) = keys.get(&(EX, api_key.to_string())) else {
        return Err(invalid());
    };
    if k.revoked || !k.ip_allowed(req.peer) {
        return Err(invalid());
    }
    // totalParams = query string ‖ body, with the signature parameter removed.
    let body = if req
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
    {
        req.body_str().to_string()
    } else {
        String::new()
    };
    let (query, sig_q) = without_param(&req.query, "signature");
    let (body_rest, sig_b) = without_param(&body, "signature");
    let Some(signature) = sig_q.or(sig_b) else {
        return Err(err(
            400,
            -1102,
            "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
        ));
    };
    let params: Vec<(String, String)> = parse_form(&query)
        .into_iter()
        .chain(parse_form(&body_rest))
        .collect();
    let get = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let Some(ts) = get("timestamp").and_then(|t| t.parse::<i64>().ok()) else {
        return Err(err(
            400,
            -1102,
            "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
        ));
    };
    let recv_window = match get("recvWindow") {
        None => 5000.0,
        Some(v) => match v.parse::<f64>() {
            Ok(w) if (0.0..=60000.0).contains(&w) => w,
            _ => return Err(err(400, -1131, "recvWindow must be less than 60000")),
        },
    };
    let server = st.now_ms(EX);
    if ts >= server + 1000 {
        return Err(err(
            400,
            -1021,
            "Timestamp for this request was 1000ms ahead of the server's time.",
        ));
    }
    if (server - ts) as f64 > recv_window {
        return Err(err(
            400,
            -1021,
            "Timestamp for this request is outside of the recvWindow.",
        ));
    }
    let payload = format!("{query}{body_rest}");
    let ok = match &k.verifier {
        Verifier::Hmac(secret) => hex::decode(signature.to_ascii_lowercase())
            .is_ok_and(|sig| same(&sig, &hmac_sha256(secret, payload.as_bytes()))),
        Verifier::Ed25519(vk) => base64::engine::general_purpose::STANDARD
            .decode(percent_decode(&signature))
            .ok()
            .and_then(|b| ed25519_dalek::Signature::from_slice(&b).ok())
            .is_some_and(|s| vk.verify_strict(payload.as_bytes(), &s).is_ok()),
        Verifier::P256(_) => false,
    };
    if !ok {
        return Err(err(400, -1022, "Signature for this request is not valid."));
    }
    Ok(k)
}

// Shape: "Get API Key Permission", response example
// https://developers.binance.com/docs/wallet/account/api-key-permission
// (fixture: core/tests/data/exchange/binance/api-restrictions.json), plus
// `tradingAuthorityExpirationTime` ("Expiration time for spot and margin
// trading permission", Binance's OpenAPI description
// https://github.com/binance/binance-api-swagger/blob/master/spot_api.yaml)
// when the account file sets `expires_at_ms`: it is the trading
// permission's expiry, not the key's.
fn restrictions(k: &KeyState, _: &Req) -> Value {
    let w = !k.read_only;
    let mut v = json!({
        "ipRestrict": !k.ips.is_empty(),
        "createTime": k.account.created_at_ms.unwrap_or(1_700_000_000_000i64),
        "enableReading": k.has(SimScope::Read),
        "enableWithdrawals": w && k.has(SimScope::Withdraw),
        "enableInternalTransfer": w && k.has(SimScope::Transfer),
        "permitsUniversalTransfer": w && k.has(SimScope::Transfer),
        "enableMargin": w && k.has(SimScope::Margin),
        "enableFutures": w && k.has(SimScope::Futures),
        "enableVanillaOptions": w && k.has(SimScope::Options),
        "enableSpotAndMarginTrading": w && k.has(SimScope::Trade),
        "enableFixApiTrade": false,
        "enableFixReadOnly": false,
        "enablePortfolioMarginTrading": false,
    });
    if let (Some(at), Some(o)) = (k.account.expires_at_ms, v.as_object_mut()) {
        o.insert("tradingAuthorityExpirationTime".into(), json!(at));
    }
    v
}

fn account(k: &KeyState, _: &Req) -> Value {
    json!({
        "canTrade": k.has(SimScope::Trade),
        "canWithdraw": k.has(SimScope::Withdraw),
        "canDeposit": true,
        "permissions": ["SPOT"],
        "balances": [],
        "uid": 354_937_868,
    })
}

fn since(req: &Req) -> Option<i64> {
    req.param("startTime").and_then(|s| s.parse().ok())
}

fn until(req: &Req) -> Option<i64> {
    req.param("endTime").and_then(|s| s.parse().ok())
}

fn open_orders(k: &KeyState, _: &Req) -> Value {
    Value::Array(
        items(&k.account, ActivityKind::Order, None)
            .into_iter()
            .map(|o| {
                json!({
                    "symbol": o.symbol, "orderId": o.id.parse::<i64>().unwrap_or(0), "price": o.price,
                    "origQty": o.amount, "executedQty": "0.0", "status": if o.status.is_empty() { "NEW".to_string() } else { o.status },
                    "type": "LIMIT", "side": o.side.to_ascii_uppercase(), "time": o.time_ms, "updateTime": o.time_ms,
                })
            })
            .collect(),
    )
}

fn deposits(k: &KeyState, req: &Req) -> Value {
    Value::Array(
        super::items_between(&k.account, ActivityKind::Deposit, since(req), until(req))
            .into_iter()
            .map(|d| {
                json!({
                    "id": d.id, "amount": d.amount, "coin": d.asset, "network": d.asset, "status": 1,
                    "address": d.address, "txId": d.tx_id, "insertTime": d.time_ms, "confirmTimes": "12/12",
                })
            })
            .collect(),
    )
}

fn withdrawals(k: &KeyState, req: &Req) -> Value {
    Value::Array(
        super::items_between(&k.account, ActivityKind::Withdrawal, since(req), until(req))
            .into_iter()
            .map(|w| {
                json!({
                    "id": w.id, "amount": w.amount, "transactionFee": "0.0004", "coin": w.asset, "status": 6,
                    "address": w.address, "txId": w.tx_id, "applyTime": binance_datetime(w.time_ms), "network": w.asset,
                })
            })
            .collect(),
    )
}
