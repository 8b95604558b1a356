//! Kraken spot REST: `API-Key`, `API-Sign` = base64(HMAC-SHA512(
//! b64decode(secret), path ‖ SHA256(nonce ‖ POST data))) where path starts at
//! `/0/private/`; the nonce must exceed the last one accepted for the key
//! (nonce window 0). Errors are `{"error": ["EAPI:…"]}` with HTTP 200.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{hmac_sha512, items, same};
use crate::accounts::{ActivityKind, SimExchange, SimScope};
use crate::http::{Req, Resp, parse_form};
use crate::state::{KeyState, State, Verifier, lock};

const EX: SimExchange = SimExchange::Kraken;

fn error(e: &str) -> Resp {
    Resp::json(200, json!({"error": [e]}))
}

pub(crate) fn rate_limited(_retry_after: u64) -> Resp {
    error("EAPI:Rate limit exceeded")
}

pub(crate) fn handle(st: &State, req: &Req) -> Resp {
    if st.take_ip(EX, req.peer, 1.0).is_err() {
        return rate_limited(1);
    }
    if req.method == hyper::Method::GET && req.path == "/0/public/Time" {
        let now = st.now_ms(EX) / 1000;
        return Resp::json(
            200,
            json!({"error": [], "result": {"unixtime": now, "rfc1123": ""}}),
        );
    }
    let route: fn(&KeyState, &[(String, String)]) -> Value =
        match (req.method.as_str(), req.path.as_str()) {
            ("POST", "/0/private/GetApiKeyInfo") => key_info,
            ("POST", "/0/private/ClosedOrders") => closed_orders,
            ("POST", "/0/private/WithdrawStatus") => withdraw_status,
            ("POST", "/0/private/DepositStatus") => deposit_status,
            _ => return error("EGeneral:Unknown method"),
        };
    let mut keys = lock(&st.keys);
    match authenticate(&mut keys, req) {
        Ok((k, params)) => {
            let api_key = k.account.api_key.clone();
            let body = route(k, &params);
            drop(keys);
            if st.take_key(EX, &api_key, 1.0).is_err() {
                return rate_limited(1);
            }
            Resp::json(200, json!({"error": [], "result": body}))
        }
        Err(r) => {
            drop(keys);
            st.count_auth_failure(EX);
            r
        }
    }
}

type Authed<'a> = (&'a KeyState, Vec<(String, String)>);

fn authenticate<'a>(
    keys: &'a mut std::collections::HashMap<(SimExchange, String), KeyState>,
    req: &Req,
) -> Result<Authed<'a>, Resp> {
    let Some(api_key) = req.header("api-key") else {
        return Err(error("EAPI:Invalid key"));
    };
    let Some(k) = keys
        .get_mut(&(EX, api_key.to_string()))
        .filter(|k| !k.revoked)
    else {
        return Err(error("EAPI:Invalid key"));
    };
    if !k.ip_allowed(req.peer) {
        return Err(error("EGeneral:Permission denied"));
    }
    let post = req.body_str();
    let params = parse_form(post);
    let Some(nonce_str) = params
        .iter()
        .find(|(k, _)| k == "nonce")
        .map(|(_, v)| v.clone())
    else {
        return Err(error("EAPI:Invalid nonce"));
    };
    let Some(sig) = req.header("api-sign").and_then(|s| STANDARD.decode(s).ok()) else {
        return Err(error("EAPI:Invalid signature"));
    };
    let Verifier::Hmac(secret) = &k.verifier else {
        return Err(error("EAPI:Invalid key"));
    };
    let inner = Sha256::digest(format!("{nonce_str}{post}").as_bytes());
    let expected = hmac_sha512(secret, &[req.path.as_bytes(), &inner]);
    if !same(&sig, &expected) {
        // "If there is a discrepancy between the Signature included in the
        // header and the POST data included in the request, an Invalid API
        // Key error will be returned."
        // https://support.kraken.com/hc/en-us/articles/common-causes-of-invalid-key-error
        return Err(error("EAPI:Invalid key"));
    }
    match nonce_str.parse::<u64>() {
        Ok(n) if n > k.last_nonce => k.last_nonce = n,
        _ => return Err(error("EAPI:Invalid nonce")),
    }
    Ok((k, params))
}

// Shape: "Get API Key Info", response example and permission values
// https://docs.kraken.com/api-reference/account-data/get-api-key-info
// (fixture: core/tests/data/exchange/kraken/get-api-key-info.json):
// query-funds, add-funds, withdraw-funds, earn-funds, query-open-trades,
// query-closed-trades, modify-trades, close-trades, query-ledger,
// export-data, create-ws-token, add-withdraw-address,
// update-withdraw-address.
fn key_info(k: &KeyState, _: &[(String, String)]) -> Value {
    let mut perms = vec![
        "query-funds",
        "query-open-trades",
        "query-closed-trades",
        "query-ledger",
    ];
    if !k.has(SimScope::Read) {
        perms.clear();
    }
    if !k.read_only && k.has(SimScope::Trade) {
        perms.extend(["modify-trades", "close-trades"]);
    }
    if !k.read_only && k.has(SimScope::Withdraw) {
        perms.extend(["withdraw-funds", "add-withdraw-address"]);
    }
    let secs = |ms: Option<i64>| {
        ms.map(|m| (m / 1000).to_string())
            .unwrap_or_else(|| "0".into())
    };
    json!({
        "apiKeyName": k.account.label.clone().unwrap_or_else(|| "keyward-sim".into()),
        "apiKey": k.account.api_key,
        "nonce": k.last_nonce.to_string(),
        "nonceWindow": 0,
        "permissions": perms,
        "iban": "AA00 0000 0000 0000",
        "validUntil": secs(k.account.expires_at_ms),
        "queryFrom": "0",
        "queryTo": "0",
        "createdTime": secs(k.account.created_at_ms.or(Some(1_700_000_000_000))),
        "modifiedTime": secs(k.account.created_at_ms.or(Some(1_700_000_000_000))),
        "ipAllowlist": k.ips,
        "lastUsed": "0",
    })
}

fn start(params: &[(String, String)]) -> Option<i64> {
    params
        .iter()
        .find(|(k, _)| k == "start")
        .and_then(|(_, v)| v.parse::<i64>().ok())
        .map(|s| s * 1000)
}

// "Get Closed Orders": 50 results at a time, `ofs` to page, `count` = all
// matching (https://docs.kraken.com/api-reference/account-data/get-closed-orders).
fn closed_orders(k: &KeyState, params: &[(String, String)]) -> Value {
    let all = super::items_between(&k.account, ActivityKind::Order, start(params), None);
    let ofs = params
        .iter()
        .find(|(k, _)| k == "ofs")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let (page, _) = super::page(&all, ofs, 50);
    let mut closed = Map::new();
    for o in page {
        closed.insert(
            o.id.clone(),
            json!({
                "refid": null, "userref": 0,
                "status": if o.status.is_empty() { "closed".to_string() } else { o.status },
                "opentm": o.time_ms as f64 / 1000.0, "closetm": o.time_ms as f64 / 1000.0 + 1.0,
                "descr": {"pair": o.symbol, "type": o.side, "ordertype": "limit", "price": o.price},
                "vol": o.amount, "vol_exec": o.amount, "cost": "0", "fee": "0",
            }),
        );
    }
    json!({"closed": closed, "count": all.len()})
}

fn transfers(k: &KeyState, kind: ActivityKind, params: &[(String, String)]) -> Value {
    Value::Array(
        items(&k.account, kind, start(params))
            .into_iter()
            .map(|t| {
                json!({
                    "method": t.asset, "aclass": "currency", "asset": t.asset, "refid": t.id,
                    "txid": t.tx_id, "info": t.address, "amount": t.amount, "fee": "0",
                    "time": t.time_ms / 1000, "status": if t.status.is_empty() { "Success".to_string() } else { t.status },
                })
            })
            .collect(),
    )
}

fn withdraw_status(k: &KeyState, p: &[(String, String)]) -> Value {
    transfers(k, ActivityKind::Withdrawal, p)
}

fn deposit_status(k: &KeyState, p: &[(String, String)]) -> Value {
    transfers(k, ActivityKind::Deposit, p)
}
