//! OKX v5: `OK-ACCESS-KEY/-SIGN/-TIMESTAMP/-PASSPHRASE`; sign =
//! base64(HMAC-SHA256(secret, ts ‖ METHOD ‖ path[?query] ‖ body)); the
//! timestamp is ISO-8601 with milliseconds and may differ from server time by
//! at most 30 s; demo keys need `x-simulated-trading: 1` and live keys must
//! not send it. Errors are `{"code","msg","data":[]}` with the HTTP status
//! OKX uses (401 for authentication).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{hmac_sha256, items, same};
use crate::accounts::{ActivityKind, SimExchange, SimScope};
use crate::http::{Req, Resp, parse_iso_ms};
use crate::state::{KeyState, State, Verifier, lock};

const EX: SimExchange = SimExchange::Okx;

fn err(status: u16, code: &str, msg: &str) -> Resp {
    Resp::json(status, json!({"code": code, "msg": msg, "data": []}))
}

fn ok(data: Value) -> Resp {
    Resp::json(200, json!({"code": "0", "msg": "", "data": data}))
}

pub(crate) fn rate_limited(retry_after: u64) -> Resp {
    err(
        429,
        "50011",
        "Rate limit reached. Please refer to API documentation and throttle requests accordingly.",
    )
    .with_header("Retry-After", retry_after.to_string())
}

pub(crate) fn handle(st: &State, req: &Req) -> Resp {
    if let Err(ra) = st.take_ip(EX, req.peer, 1.0) {
        return rate_limited(ra);
    }
    if req.method == hyper::Method::GET && req.path == "/api/v5/public/time" {
        return ok(json!([{"ts": st.now_ms(EX).to_string()}]));
    }
    let route: fn(&KeyState, &Req) -> Value = match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/api/v5/account/config") => config,
        ("GET", "/api/v5/trade/orders-history") => orders,
        ("GET", "/api/v5/asset/withdrawal-history") => withdrawals,
        ("GET", "/api/v5/asset/deposit-history") => deposits,
        _ => return err(404, "404", "Not Found"),
    };
    let keys = lock(&st.keys);
    match authenticate(st, &keys, req) {
        Ok(k) => {
            let api_key = k.account.api_key.clone();
            let data = route(k, req);
            drop(keys);
            if let Err(ra) = st.take_key(EX, &api_key, 1.0) {
                return rate_limited(ra);
            }
            ok(data)
        }
        Err(r) => {
            drop(keys);
            st.count_auth_failure(EX);
            r
        }
    }
}

fn authenticate<'a>(
    st: &State,
    keys: &'a std::collections::HashMap<(SimExchange, String), KeyState>,
    req: &Req,
) -> Result<&'a KeyState, Resp> {
    let Some(key) = req.header("ok-access-key") else {
        return Err(err(
            401,
            "50103",
            "Request header \"OK-ACCESS-KEY\" cannot be empty.",
        ));
    };
    let Some(passphrase) = req.header("ok-access-passphrase") else {
        return Err(err(
            401,
            "50104",
            "Request header \"OK-ACCESS-PASSPHRASE\" cannot be empty.",
        ));
    };
    let Some(sign) = req.header("ok-access-sign") else {
        return Err(err(
            401,
            "50106",
            "Request header \"OK-ACCESS-SIGN\" cannot be empty.",
        ));
    };
    let Some(ts) = req.header("ok-access-timestamp") else {
        return Err(err(
            401,
            "50107",
            "Request header \"OK-ACCESS-TIMESTAMP\" cannot be empty.",
        ));
    };
    let Some(k) = keys.get(&(EX, key.to_string())).filter(|k| !k.revoked) else {
        return Err(err(401, "50111", "Invalid OK-ACCESS-KEY."));
    };
    let Some(ts_ms) = parse_iso_ms(ts) else {
        return Err(err(401, "50112", "Invalid OK-ACCESS-TIMESTAMP."));
    };
    if (st.now_ms(EX) - ts_ms).abs() > 30_000 {
        return Err(err(401, "50102", "Timestamp request expired."));
    }
    let demo = req.header("x-simulated-trading") == Some("1");
    if demo != k.account.demo {
        return Err(err(
            401,
            "50101",
            "APIKey does not match current environment.",
        ));
    }
    if k.account
        .passphrase
        .as_deref()
        .is_none_or(|p| !same(p.as_bytes(), passphrase.as_bytes()))
    {
        return Err(err(401, "50105", "Invalid OK-ACCESS-PASSPHRASE."));
    }
    let Verifier::Hmac(secret) = &k.verifier else {
        return Err(err(401, "50111", "Invalid OK-ACCESS-KEY."));
    };
    let request_path = if req.query.is_empty() {
        req.path.clone()
    } else {
        format!("{}?{}", req.path, req.query)
    };
    let prehash = format!(
        "{ts}{}{request_path}{}",
        req.method.as_str(),
        req.body_str()
    );
    let good = STANDARD
        .decode(sign)
        .is_ok_and(|s| same(&s, &hmac_sha256(secret, prehash.as_bytes())));
    if !good {
        return Err(err(401, "50113", "Invalid Sign."));
    }
    if !k.ip_allowed(req.peer) {
        return Err(err(
            401,
            "50110",
            &format!(
                "Your IP {} is not included in your API key's IP whitelist.",
                req.peer
            ),
        ));
    }
    Ok(k)
}

// Shape: "Get account configuration", response example
// https://www.okx.com/docs-v5/en/#trading-account-rest-api-get-account-configuration
// (fixture: core/tests/data/exchange/okx/account-config.json): `perm` is a
// comma-separated list of read_only / trade / withdraw, `ip` the bound IPs.
fn config(k: &KeyState, _: &Req) -> Value {
    let mut perm = vec!["read_only"];
    if !k.read_only && k.has(SimScope::Trade) {
        perm.push("trade");
    }
    if !k.read_only && k.has(SimScope::Withdraw) {
        perm.push("withdraw");
    }
    json!([{
        "uid": "44705892343619584", "mainUid": "44705892343619584", "acctLv": "2", "posMode": "net_mode",
        "autoLoan": false, "greeksType": "PA", "level": "Lv1", "levelTmp": "", "ctIsoMode": "automatic",
        "mgnIsoMode": "automatic", "kycLv": "2", "type": "0",
        "acctStpMode": "cancel_maker", "enableSpotBorrow": false, "feeType": "0",
        "liquidationGear": "-1", "opAuth": "1", "roleType": "0", "spotBorrowAutoRepay": false,
        "spotOffsetType": "", "spotRoleType": "0", "spotTraderInsts": [], "stgyType": "0",
        "traderInsts": [], "settleCcy": "USDC", "settleCcyList": ["USD", "USDC", "USDG"],
        "label": k.account.label.clone().unwrap_or_default(),
        "perm": perm.join(","),
        "ip": k.ips.join(","),
    }])
}

fn since(req: &Req, name: &str) -> Option<i64> {
    req.param(name).and_then(|s| s.parse().ok())
}

fn orders(k: &KeyState, req: &Req) -> Value {
    Value::Array(
        items(&k.account, ActivityKind::Order, since(req, "begin"))
            .into_iter()
            .map(|o| {
                json!({
                    "ordId": o.id, "instId": o.symbol, "instType": "SPOT", "side": o.side, "sz": o.amount,
                    "px": o.price, "avgPx": o.price, "ordType": "limit",
                    "state": if o.status.is_empty() { "filled".to_string() } else { o.status },
                    "cTime": o.time_ms.to_string(), "uTime": o.time_ms.to_string(),
                })
            })
            .collect(),
    )
}

fn transfers(k: &KeyState, req: &Req, kind: ActivityKind) -> Value {
    Value::Array(
        items(&k.account, kind, since(req, "before"))
            .into_iter()
            .map(|t| {
                let state = if t.status.is_empty() { "2".to_string() } else { t.status.clone() };
                if kind == ActivityKind::Withdrawal {
                    // Shape: "Get withdrawal history", response example
                    // https://www.okx.com/docs-v5/en/#funding-account-rest-api-get-withdrawal-history
                    // (fixture: core/tests/data/exchange/okx/withdrawal-history.json):
                    // the receiving address is `to`.
                    json!({"note": "", "chain": t.asset, "fee": "0", "feeCcy": t.asset, "ccy": t.asset,
                           "clientId": "", "toAddrType": "1", "amt": t.amount, "txId": t.tx_id, "from": "",
                           "areaCodeFrom": "", "to": t.address, "areaCodeTo": "", "state": state,
                           "ts": t.time_ms.to_string(), "nonTradableAsset": false, "wdId": t.id})
                } else {
                    json!({"depId": t.id, "ccy": t.asset, "chain": t.asset, "amt": t.amount, "state": state,
                           "to": t.address, "txId": t.tx_id, "ts": t.time_ms.to_string()})
                }
            })
            .collect(),
    )
}

fn withdrawals(k: &KeyState, req: &Req) -> Value {
    transfers(k, req, ActivityKind::Withdrawal)
}

fn deposits(k: &KeyState, req: &Req) -> Value {
    transfers(k, req, ActivityKind::Deposit)
}
