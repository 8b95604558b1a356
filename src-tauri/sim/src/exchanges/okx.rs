//! OKX v5: `OK-ACCESS-KEY/-SIGN/-TIMESTAMP/-PASSPHRASE`; sign =
//! base64(HMAC-SHA256(secret, ts ‖ METHOD ‖ path[?query] ‖ body)); the
//! timestamp is ISO-8601 with milliseconds and may differ from server time by
//! at most 30 s; demo keys need `x-simulated-trading: 1` and live keys must
//! not send it. Errors are `{"code","msg","data":[]}` with the HTTP status
//! OKX uses (401 for authentication).
//!
//! Sub-account key management by the master account's key (`manage`):
//! <https://www.okx.com/docs-v5/en/#sub-account-rest-api>; error codes
//! <https://www.okx.com/docs-v5/en/#error-code-rest-api-public>.

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
    if req.path.starts_with("/api/v5/users/subaccount/") {
        return manage(st, req);
    }
    if req.method == hyper::Method::GET && req.path == "/api/v5/account/config" {
        let keys = lock(&st.keys);
        return match authenticate(st, &keys, req) {
            Ok(k) => {
                let api_key = k.account.api_key.clone();
                let data = config(st, k);
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
        };
    }
    let route: fn(&KeyState, &Req) -> Value = match (req.method.as_str(), req.path.as_str()) {
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
/// The master account's UID.
const MAIN_UID: &str = "44705892343619584";

/// The account config's `uid` and `mainUid`: "uid: Account ID of current
/// request", "mainUid: Main Account ID of current request. The current
/// request account is main account if uid = mainUid. The current request
/// account is sub-account if uid != mainUid." A sub-account key reports
/// its sub-account's UID.
fn uids(st: &State, k: &KeyState) -> (String, String) {
    let uid = match k.account.sub_account.as_deref() {
        None => MAIN_UID.to_string(),
        Some(sub) => super::sub_account(st, EX, sub)
            .and_then(|s| s.uid.clone())
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| {
                // No UID in the accounts file: a stable one of the name.
                let n = sub
                    .bytes()
                    .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
                format!("{}", 10_000_000_000_000_000 + n % 1_000_000_000_000_000)
            }),
    };
    (uid, MAIN_UID.to_string())
}

fn config(st: &State, k: &KeyState) -> Value {
    let (uid, main_uid) = uids(st, k);
    let mut perm = vec!["read_only"];
    if !k.read_only && k.has(SimScope::Trade) {
        perm.push("trade");
    }
    if !k.read_only && k.has(SimScope::Withdraw) {
        perm.push("withdraw");
    }
    json!([{
        "uid": uid, "mainUid": main_uid, "acctLv": "2", "posMode": "net_mode",
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

#[derive(Clone, Copy, PartialEq)]
enum Manage {
    List,
    Create,
    Query,
    Modify,
    Delete,
}

fn perm_of(k: &KeyState) -> String {
    if !k.read_only && k.has(SimScope::Trade) {
        "read_only,trade".into()
    } else {
        "read_only".into()
    }
}

/// `perm` as create-apikey / modify-apikey take it: `read_only` and/or
/// `trade`, comma-separated. `None` when a value is not one of them.
fn parse_perm(s: &str) -> Option<bool> {
    let items = super::comma_list(s);
    if items.is_empty() || items.iter().any(|i| i != "read_only" && i != "trade") {
        return None;
    }
    Some(items.iter().any(|i| i == "trade"))
}

/// "8 to 32 alphanumeric characters containing at least 1 number, 1
/// uppercase letter, 1 lowercase letter and 1 special character".
fn passphrase_ok(p: &str) -> bool {
    (8..=32).contains(&p.chars().count())
        && p.chars().any(|c| c.is_ascii_digit())
        && p.chars().any(|c| c.is_ascii_uppercase())
        && p.chars().any(|c| c.is_ascii_lowercase())
        && p.chars().any(|c| !c.is_ascii_alphanumeric())
}

/// Sub-account management through the master account's key ("Applies to
/// master accounts only"; create / modify / delete also "master accounts
/// API Key must be linked to IP addresses" and need the Trade permission;
/// list / query need Read):
/// `GET /api/v5/users/subaccount/list`, `POST|GET
/// /api/v5/users/subaccount/apikey`, `POST
/// /api/v5/users/subaccount/modify-apikey`, `POST
/// /api/v5/users/subaccount/delete-apikey`.
/// A sub-account key, or a master key without Trade where it is needed,
/// gets `50030` (HTTP 200) "No permission to use this API"; a master key
/// without an IP binding gets `50035` (HTTP 403) "This endpoint requires
/// APIKey binding IP" (error-code table). A deleted key afterwards gets
/// `50111` "Invalid OK-ACCESS-KEY", as an unknown key does.
fn manage(st: &State, req: &Req) -> Resp {
    let m = match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/api/v5/users/subaccount/list") => Manage::List,
        ("POST", "/api/v5/users/subaccount/apikey") => Manage::Create,
        ("GET", "/api/v5/users/subaccount/apikey") => Manage::Query,
        ("POST", "/api/v5/users/subaccount/modify-apikey") => Manage::Modify,
        ("POST", "/api/v5/users/subaccount/delete-apikey") => Manage::Delete,
        _ => return err(404, "404", "Not Found"),
    };
    let mut keys = lock(&st.keys);
    let (api_key, master, can_trade, ip_bound, demo) = match authenticate(st, &keys, req) {
        Ok(k) => (
            k.account.api_key.clone(),
            k.is_master(),
            !k.read_only && k.has(SimScope::Trade),
            !k.ips.is_empty(),
            k.account.demo,
        ),
        Err(r) => {
            drop(keys);
            st.count_auth_failure(EX);
            return r;
        }
    };
    let resp = manage_as(st, &mut keys, m, master, can_trade, ip_bound, demo, req);
    drop(keys);
    if let Err(ra) = st.take_key(EX, &api_key, 1.0) {
        return rate_limited(ra);
    }
    resp
}

fn no_permission() -> Resp {
    err(200, "50030", "No permission to use this API")
}

#[allow(clippy::too_many_arguments)]
fn manage_as(
    st: &State,
    keys: &mut std::collections::HashMap<(SimExchange, String), KeyState>,
    m: Manage,
    master: bool,
    can_trade: bool,
    ip_bound: bool,
    demo: bool,
    req: &Req,
) -> Resp {
    let writes = matches!(m, Manage::Create | Manage::Modify | Manage::Delete);
    if !master || (writes && !can_trade) {
        return no_permission();
    }
    if writes && !ip_bound {
        return err(403, "50035", "This endpoint requires APIKey binding IP");
    }
    let empty = |p: &str| err(400, "50014", &format!("Parameter {p} can not be empty."));
    let bad = |p: &str| err(200, "51000", &format!("Parameter {p} error"));
    let body: serde_json::Map<String, Value> = if writes {
        match serde_json::from_slice(&req.body) {
            Ok(Value::Object(o)) => o,
            _ => return err(400, "50002", "JSON syntax error"),
        }
    } else {
        req.params()
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect()
    };
    // Every field is a string in OKX's requests.
    let field = |name: &str| -> Result<Option<String>, Resp> {
        match body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(name)),
        }
    };
    macro_rules! field {
        ($n:expr) => {
            match field($n) {
                Ok(v) => v,
                Err(r) => return r,
            }
        };
    }
    macro_rules! required {
        ($n:expr) => {
            match field!($n) {
                Some(v) if !v.is_empty() => v,
                _ => return empty($n),
            }
        };
    }
    if m == Manage::List {
        let only = field!("subAcct");
        let enable = field!("enable");
        if enable.as_deref().is_some_and(|e| e == "false") {
            return ok(json!([]));
        }
        let data: Vec<Value> = st
            .subs
            .iter()
            .filter(|s| s.exchange == EX && only.as_deref().is_none_or(|o| o == s.id))
            .map(|s| {
                json!({"canTransOut": false, "enable": true, "frozenFunc": [], "gAuth": false,
                       "label": s.label.clone().unwrap_or_default(), "mobile": "", "subAcct": s.id,
                       "ts": s.created_at_ms.unwrap_or(1_700_000_000_000).to_string(), "type": "1",
                       "uid": s.uid.clone().unwrap_or_default(), "subAcctLv": "1",
                       "firstLvSubAcct": s.id, "ifDma": false})
            })
            .collect();
        return ok(Value::Array(data));
    }
    let sub = required!("subAcct");
    if super::sub_account(st, EX, &sub).is_none() {
        return bad("subAcct");
    }
    let ts = |k: &KeyState| {
        k.account
            .created_at_ms
            .unwrap_or(1_700_000_000_000)
            .to_string()
    };
    match m {
        Manage::Query => {
            let only = field!("apiKey");
            let data: Vec<Value> = super::keys_of_sub(keys, EX, &sub)
                .into_iter()
                .filter(|k| only.as_deref().is_none_or(|o| o == k.account.api_key))
                .map(|k| {
                    json!({"label": k.account.label.clone().unwrap_or_default(), "apiKey": k.account.api_key,
                           "perm": perm_of(k), "ip": k.ips.join(","), "ts": ts(k)})
                })
                .collect();
            ok(Value::Array(data))
        }
        Manage::Create => {
            let label = required!("label");
            let passphrase = required!("passphrase");
            if !passphrase_ok(&passphrase) {
                return bad("passphrase");
            }
            let trade = match field!("perm") {
                None => false,
                Some(p) => match parse_perm(&p) {
                    Some(t) => t,
                    None => return bad("perm"),
                },
            };
            let ips = field!("ip")
                .map(|s| super::comma_list(&s))
                .unwrap_or_default();
            if ips.len() > 20 {
                return bad("ip");
            }
            let now = st.now_ms(EX);
            let hex = |n| super::random_string(b"0123456789abcdef", n);
            let api_key = format!("{}-{}-4{}-8{}-{}", hex(8), hex(4), hex(3), hex(3), hex(12));
            let scopes: &[SimScope] = if trade {
                &[SimScope::Read, SimScope::Trade]
            } else {
                &[SimScope::Read]
            };
            let mut account = crate::accounts::KeyAccount::hmac(
                EX,
                &api_key,
                &super::random_string(super::HEX_UPPER, 32),
                scopes,
            );
            account.passphrase = Some(passphrase.clone());
            account.ips = ips;
            account.label = Some(label);
            account.demo = demo;
            account.sub_account = Some(sub.clone());
            account.created_at_ms = Some(now);
            let Ok(k) = KeyState::new(&account) else {
                return bad("apiKey");
            };
            let data = json!([{
                "subAcct": sub, "label": account.label, "apiKey": api_key,
                "secretKey": account.secret, "passphrase": passphrase,
                "perm": perm_of(&k), "ip": k.ips.join(","), "ts": now.to_string(),
            }]);
            keys.insert((EX, api_key), k);
            ok(data)
        }
        Manage::Modify | Manage::Delete => {
            let target = required!("apiKey");
            let label = field!("label");
            let perm = field!("perm");
            let ip = field!("ip");
            let Some(k) = keys
                .get_mut(&(EX, target.clone()))
                .filter(|k| !k.revoked && k.account.sub_account.as_deref() == Some(sub.as_str()))
            else {
                return bad("apiKey");
            };
            if m == Manage::Delete {
                k.revoked = true;
                return ok(json!([{"subAcct": sub}]));
            }
            // "The permission will be reset if this is passed through."
            let trade = match perm.as_deref().map(parse_perm) {
                None => None,
                Some(Some(t)) => Some(t),
                Some(None) => return bad("perm"),
            };
            let ips = ip.as_deref().map(super::comma_list);
            if ips.as_ref().is_some_and(|i| i.len() > 20) {
                return bad("ip");
            }
            if let Some(l) = label {
                k.account.label = Some(l);
            }
            if let Some(t) = trade {
                if t {
                    k.scopes.insert(SimScope::Trade);
                } else {
                    k.scopes.remove(&SimScope::Trade);
                }
                k.read_only = !t;
            }
            // "If ip is set to "", then no IP addresses is linked".
            if let Some(ips) = ips {
                k.ips = ips;
            }
            k.updated_ms = st.now_ms(EX);
            ok(json!([{
                "subAcct": sub, "label": k.account.label.clone().unwrap_or_default(),
                "apiKey": target, "perm": perm_of(k), "ip": k.ips.join(","), "ts": ts(k),
            }]))
        }
        // Answered above, before `subAcct` is required.
        Manage::List => err(404, "404", "Not Found"),
    }
}
