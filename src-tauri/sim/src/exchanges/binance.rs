//! Binance spot: `X-MBX-APIKEY`, `signature` = HMAC-SHA256 hex (any case) or
//! Ed25519 base64 (percent-encoded) over query ‖ body without the signature
//! parameter; `timestamp < server + 1000` and `server - timestamp <=
//! recvWindow` (default 5000, max 60000).
//!
//! Sub-account API key management by the master account's key (`manage`):
//! <https://developers.binance.com/docs/sub_account/api-management>.

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
    if req.method == hyper::Method::GET && req.path == "/sapi/v1/sub-account/list" {
        return sub_account_list(st, req);
    }
    if req.path.starts_with("/sapi/v1/sub-account/subAccountApi")
        || req.path.starts_with("/sapi/v2/sub-account/subAccountApi")
    {
        return manage(st, req);
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

/// "Query Sub-account List (For Master Account) (USER_DATA)", `GET
/// /sapi/v1/sub-account/list`
/// (https://developers.binance.com/docs/sub_account/account-management/Query-Sub-account-List):
/// parameters `email`, `isFreeze`, `page` (default 1), `limit` (default
/// 1, max 200); the answer is `{"subAccounts": [{"email", "isFreeze",
/// "createTime", "isManagedSubAccount", "isAssetManagementSubAccount"}]}`.
/// A sub-account key gets `-1002`, as on the other master-account calls.
fn sub_account_list(st: &State, req: &Req) -> Resp {
    let mut keys = lock(&st.keys);
    let master = match authenticate(st, &mut keys, req) {
        Ok(k) => k.is_master(),
        Err(r) => {
            drop(keys);
            st.count_auth_failure(EX);
            return r;
        }
    };
    drop(keys);
    if !master {
        return err(
            401,
            -1002,
            "You are not authorized to execute this request.",
        );
    }
    let number = |n: &str, default: usize| -> Result<usize, Resp> {
        match req.param(n) {
            None => Ok(default),
            Some(v) => v.parse::<usize>().ok().filter(|v| *v >= 1).ok_or_else(|| {
                err(
                    400,
                    -1130,
                    &format!("Data sent for parameter '{n}' is not valid."),
                )
            }),
        }
    };
    let (page, limit) = match (number("page", 1), number("limit", 1)) {
        (Ok(p), Ok(l)) => (p, l.min(200)),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let email = req.param("email").filter(|e| !e.is_empty());
    // No sub-account is frozen here: `isFreeze=true` finds none.
    if req.param("isFreeze").as_deref() == Some("true") {
        return Resp::json(200, json!({"subAccounts": []}));
    }
    let all: Vec<Value> = st
        .subs
        .iter()
        .filter(|s| s.exchange == EX && email.as_deref().is_none_or(|e| e == s.id))
        .map(|s| {
            json!({"email": s.id, "isFreeze": false,
                   "createTime": s.created_at_ms.unwrap_or(1_700_000_000_000),
                   "isManagedSubAccount": false, "isAssetManagementSubAccount": false})
        })
        .collect();
    let (rows, _) = super::page(&all, (page - 1) * limit, limit);
    Resp::json(200, json!({ "subAccounts": rows }))
}

#[derive(Clone, Copy, PartialEq)]
enum Manage {
    Create,
    Delete,
    Permission,
    AddIpRestriction,
    GetIpRestriction,
}

/// The permission flags of a sub-account key, as the create and
/// permission endpoints name them, with the scope each stands for.
const FLAGS: [(&str, SimScope); 5] = [
    ("canTrade", SimScope::Trade),
    ("canMarginLoanRepay", SimScope::Margin),
    ("canFuturesTrade", SimScope::Futures),
    ("canUniversalTransfer", SimScope::Transfer),
    ("canVanillaOptions", SimScope::Options),
];

fn all_params(req: &Req) -> Vec<(String, String)> {
    let mut v = parse_form(&req.query);
    if req
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
    {
        v.extend(parse_form(req.body_str()));
    }
    v
}

/// Sub-account API key management "For Master Account" (Binance's
/// sub-account API-management pages):
/// `POST /sapi/v1/sub-account/subAccountApi` (create; the secret is
/// "returned only once at creation"), `DELETE
/// /sapi/v1/sub-account/subAccountApi`, `POST
/// /sapi/v1/sub-account/subAccountApiPermission`, `POST
/// /sapi/v2/sub-account/subAccountApi/ipRestriction` and `GET
/// /sapi/v1/sub-account/subAccountApi/ipRestriction`. The calling key must
/// be the master account's; a sub-account key gets `-1002` "You are not
/// authorized to execute this request." (HTTP 401). The writes need the
/// master key's "Enable Spot & Margin Trading" (the ipRestriction page
/// says so; create / delete / permission are `TRADE` endpoints), else
/// `-2015`. A deleted key afterwards gets `-2015`, as an unknown key does.
fn manage(st: &State, req: &Req) -> Resp {
    let m = match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/sapi/v1/sub-account/subAccountApi") => Manage::Create,
        ("DELETE", "/sapi/v1/sub-account/subAccountApi") => Manage::Delete,
        ("POST", "/sapi/v1/sub-account/subAccountApiPermission") => Manage::Permission,
        ("POST", "/sapi/v2/sub-account/subAccountApi/ipRestriction") => Manage::AddIpRestriction,
        ("GET", "/sapi/v1/sub-account/subAccountApi/ipRestriction") => Manage::GetIpRestriction,
        _ => return Resp::not_found(),
    };
    let mut keys = lock(&st.keys);
    let (master, can_trade) = match authenticate(st, &mut keys, req) {
        Ok(k) => (k.is_master(), !k.read_only && k.has(SimScope::Trade)),
        Err(r) => {
            drop(keys);
            st.count_auth_failure(EX);
            return r;
        }
    };
    if !master {
        return err(
            401,
            -1002,
            "You are not authorized to execute this request.",
        );
    }
    if m != Manage::GetIpRestriction && !can_trade {
        return err(
            401,
            -2015,
            "Invalid API-key, IP, or permissions for action.",
        );
    }
    let params = all_params(req);
    let get = |n: &str| {
        params
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let mandatory = |n: &str| {
        err(
            400,
            -1102,
            &format!("Mandatory parameter '{n}' was not sent, was empty/null, or malformed."),
        )
    };
    let invalid = |n: &str| {
        err(
            400,
            -1130,
            &format!("Data sent for parameter '{n}' is not valid."),
        )
    };
    let Some(email) = get("email") else {
        return mandatory("email");
    };
    if super::sub_account(st, EX, &email).is_none() {
        return invalid("email");
    }
    let now = st.now_ms(EX);
    let flag = |n: &str| -> Result<Option<bool>, Resp> {
        match get(n).as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(invalid(n)),
        }
    };
    if m == Manage::Create {
        let Some(api_name) = get("apiName") else {
            return mandatory("apiName");
        };
        let Some(status) = get("status") else {
            return mandatory("status");
        };
        let ips = match status.as_str() {
            "1" | "3" => Vec::new(),
            "2" => match get("ipAddress") {
                Some(ips) if ips.len() <= 500 => super::comma_list(&ips),
                Some(_) => return invalid("ipAddress"),
                None => return mandatory("ipAddress"),
            },
            _ => return invalid("status"),
        };
        if status == "3" && get("thirdPartyName").is_none() {
            return mandatory("thirdPartyName");
        }
        if get("publicKey").is_some() {
            // Keys with a public key (Ed25519) are not simulated here.
            return invalid("publicKey");
        }
        let mut scopes = vec![SimScope::Read];
        let mut out = serde_json::Map::new();
        out.insert("apiName".into(), json!(api_name));
        for (name, scope) in FLAGS {
            let on = match flag(name) {
                Ok(v) => v.unwrap_or(false),
                Err(r) => return r,
            };
            if on {
                scopes.push(scope);
            }
        }
        let api_key = super::random_string(super::ALNUM, 64);
        let secret = super::random_string(super::ALNUM, 64);
        let mut account = crate::accounts::KeyAccount::hmac(EX, &api_key, &secret, &scopes);
        account.ips = ips.clone();
        account.label = Some(api_name);
        account.sub_account = Some(email);
        account.created_at_ms = Some(now);
        let Ok(mut k) = crate::state::KeyState::new(&account) else {
            return invalid("apiName");
        };
        k.updated_ms = now;
        out.insert("apiKey".into(), json!(api_key));
        out.insert("secretKey".into(), json!(secret));
        for (name, scope) in FLAGS {
            out.insert(name.into(), json!(k.has(scope)));
        }
        out.insert("status".into(), json!(status.parse::<i64>().unwrap_or(1)));
        out.insert("ipList".into(), json!(ips));
        keys.insert((EX, api_key), k);
        return Resp::json(200, Value::Object(out));
    }
    let Some(target) = get("subAccountApiKey") else {
        return mandatory("subAccountApiKey");
    };
    let Some(k) = keys
        .get_mut(&(EX, target.clone()))
        .filter(|k| !k.revoked && k.account.sub_account.as_deref() == Some(email.as_str()))
    else {
        return invalid("subAccountApiKey");
    };
    match m {
        Manage::Delete => {
            k.revoked = true;
            Resp::json(200, json!({}))
        }
        Manage::Permission => {
            let mut changes = Vec::new();
            for (name, scope) in FLAGS {
                match flag(name) {
                    Ok(Some(on)) => changes.push((scope, on)),
                    Ok(None) => {}
                    Err(r) => return r,
                }
            }
            for (scope, on) in changes {
                if on {
                    k.scopes.insert(scope);
                } else {
                    k.scopes.remove(&scope);
                }
            }
            k.read_only = !k.scopes.iter().any(|s| *s != SimScope::Read);
            k.updated_ms = now;
            let mut out = serde_json::Map::new();
            out.insert(
                "apiName".into(),
                json!(k.account.label.clone().unwrap_or_default()),
            );
            // `apikey` in lower case here (response example and
            // parameters), unlike create's `apiKey`.
            out.insert("apikey".into(), json!(target));
            for (name, scope) in FLAGS {
                out.insert(name.into(), json!(k.has(scope)));
            }
            out.insert("timestamp".into(), json!(now));
            Resp::json(200, Value::Object(out))
        }
        Manage::AddIpRestriction => {
            // "1 or not filled (null) = IP Unrestricted. 2 = Restrict
            // access to trusted IPs only." `ipAddress`: "Can be added in
            // batches, separated by commas".
            let status = get("status").unwrap_or_else(|| "1".into());
            match status.as_str() {
                "1" => k.ips.clear(),
                "2" => {
                    for ip in get("ipAddress")
                        .map(|s| super::comma_list(&s))
                        .unwrap_or_default()
                    {
                        if !k.ips.contains(&ip) {
                            k.ips.push(ip);
                        }
                    }
                }
                _ => return invalid("status"),
            }
            k.updated_ms = now;
            let mut out = serde_json::Map::new();
            out.insert("status".into(), json!(status));
            // "only returned when the IP whitelist is on and has addresses".
            if status == "2" && !k.ips.is_empty() {
                out.insert("ipList".into(), json!(k.ips));
            }
            out.insert("updateTime".into(), json!(k.updated_ms));
            out.insert("apiKey".into(), json!(target));
            Resp::json(200, Value::Object(out))
        }
        Manage::GetIpRestriction => Resp::json(
            200,
            // `ipRestrict` is the string "true" / "false" here.
            json!({"ipRestrict": (!k.ips.is_empty()).to_string(), "ipList": k.ips,
                   "updateTime": k.updated_ms, "apiKey": target}),
        ),
        Manage::Create => Resp::not_found(),
    }
}
