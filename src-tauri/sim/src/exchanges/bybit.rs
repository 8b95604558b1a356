//! Bybit v5: `X-BAPI-API-KEY/-TIMESTAMP/-SIGN/-RECV-WINDOW`; sign = hex
//! HMAC-SHA256 of ts ‖ key ‖ recvWindow ‖ (query | JSON body); accepted when
//! `server - recvWindow <= ts < server + 1000`.
//!
//! Key management follows the documentation, not any client:
//! - `update-api` / `delete-api`: the calling **main-account** key only, which
//!   must hold a transfer or withdrawal permission. Since 2026-02-10
//!   `update-api` has no `ips` field ("modifying, adding, or deleting IP
//!   addresses via API is prohibited", docs changelog v5); `readOnly`
//!   omitted means `0` (read and write).
//! - `update-sub-api` / `delete-sub-api`: a **sub-account** key on itself
//!   (without `apikey`), which must hold a transfer permission. `ips`
//!   omitted or `"*"` means *no IP binding*; `readOnly` omitted means `0`.
//!   A master-account key passing `apikey` manages that sub-account key
//!   instead (see `manage`, with `create-sub-api`, `sub-apikeys` and
//!   `query-sub-members`).
//!
//! <https://bybit-exchange.github.io/docs/v5/user/modify-master-apikey>,
//! <https://bybit-exchange.github.io/docs/v5/user/modify-sub-apikey>,
//! <https://bybit-exchange.github.io/docs/v5/user/rm-master-apikey>,
//! <https://bybit-exchange.github.io/docs/v5/user/rm-sub-apikey>,
//! <https://bybit-exchange.github.io/docs/changelog/v5> (2026-02-10),
//! <https://bybit-exchange.github.io/docs/v5/user/create-subuid-apikey>,
//! <https://bybit-exchange.github.io/docs/v5/user/list-sub-apikeys>,
//! <https://bybit-exchange.github.io/docs/v5/user/subuid-list>,
//! <https://bybit-exchange.github.io/docs/v5/error>.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::{hmac_sha256, same};
use crate::accounts::{ActivityKind, SimExchange, SimScope};
use crate::http::{Req, Resp, iso_ms};
use crate::state::{KeyState, State, Verifier, lock};

const EX: SimExchange = SimExchange::Bybit;

fn reply(st: &State, status: u16, code: i64, msg: &str, result: Value) -> Resp {
    Resp::json(
        status,
        json!({"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": st.now_ms(EX)}),
    )
}

pub(crate) fn rate_limited(retry_after: u64) -> Resp {
    Resp::json(
        429,
        json!({"retCode": 10006, "retMsg": "Too many visits!", "result": {}, "retExtInfo": {}}),
    )
    .with_header("Retry-After", retry_after.to_string())
}

/// The UID the simulator reports for every Bybit master account
/// (`userID` in `query-api`, `parentUid` of its sub-accounts' keys).
pub(crate) const MASTER_UID: &str = "24617703";

enum Op {
    Read(fn(&KeyState, &Req) -> Value),
    Update {
        sub: bool,
    },
    Delete {
        sub: bool,
    },
    /// Master-account key management of sub-accounts.
    Manage(Manage),
}

#[derive(Clone, Copy, PartialEq)]
enum Manage {
    Create,
    Update,
    Delete,
    ListKeys,
    Members,
}

pub(crate) fn handle(st: &State, req: &Req) -> Resp {
    if let Err(ra) = st.take_ip(EX, req.peer, 1.0) {
        return rate_limited(ra);
    }
    if req.method == hyper::Method::GET && req.path == "/v5/market/time" {
        let now = st.now_ms(EX);
        return reply(
            st,
            200,
            0,
            "OK",
            json!({"timeSecond": (now / 1000).to_string(), "timeNano": (now as i128 * 1_000_000).to_string()}),
        );
    }
    let op = match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/v5/user/query-api") => Op::Read(query_api),
        ("GET", "/v5/order/history") => Op::Read(orders),
        ("GET", "/v5/asset/withdraw/query-record") => Op::Read(withdrawals),
        ("GET", "/v5/asset/deposit/query-record") => Op::Read(deposits),
        ("POST", "/v5/user/update-api") => Op::Update { sub: false },
        ("POST", "/v5/user/delete-api") => Op::Delete { sub: false },
        ("POST", "/v5/user/update-sub-api") => Op::Update { sub: true },
        ("POST", "/v5/user/delete-sub-api") => Op::Delete { sub: true },
        ("POST", "/v5/user/create-sub-api") => Op::Manage(Manage::Create),
        ("GET", "/v5/user/sub-apikeys") => Op::Manage(Manage::ListKeys),
        ("GET", "/v5/user/query-sub-members") => Op::Manage(Manage::Members),
        _ => return Resp::not_found(),
    };
    let mut keys = lock(&st.keys);
    let k = match authenticate(st, &mut keys, req) {
        Ok(k) => k,
        Err(r) => {
            drop(keys);
            st.count_auth_failure(EX);
            return r;
        }
    };
    let api_key = k.account.api_key.clone();
    let is_sub = k.account.parent_uid.is_some();
    if let Some(refused) = list_rules(st, k, req) {
        drop(keys);
        return refused;
    }
    // A master key passing `apikey` to update-sub-api / delete-sub-api
    // manages that sub-account key ("You must pass this param when you use
    // master account manage sub account api key settings").
    let op = match op {
        Op::Update { sub: true } if !is_sub && body_has(req, "apikey") => {
            Op::Manage(Manage::Update)
        }
        Op::Delete { sub: true } if !is_sub && body_has(req, "apikey") => {
            Op::Manage(Manage::Delete)
        }
        op => op,
    };
    let may_manage = !k.read_only && (k.has(SimScope::Transfer) || k.has(SimScope::Withdraw));
    let resp = match op {
        Op::Manage(m) => manage(st, &mut keys, m, is_sub, may_manage, req),
        Op::Read(f) => reply(st, 200, 0, "OK", f(k, req)),
        // The main-account endpoints take main-account keys only, the
        // sub-account ones (without `apikey`) the calling sub key only.
        Op::Update { sub } | Op::Delete { sub } if sub != is_sub => reply(
            st,
            200,
            10005,
            if is_sub {
                "Permission denied: use update-sub-api / delete-sub-api for a sub-account api key."
            } else {
                "Permission denied: update-sub-api / delete-sub-api need the apikey of a sub account."
            },
            json!({}),
        ),
        // Main key: "Account Transfer", "Subaccount Transfer" or
        // "Withdrawal"; sub key: "Account Transfer" or "Sub Member
        // Transfer".
        Op::Update { .. } | Op::Delete { .. }
            if k.read_only
                || !(k.has(SimScope::Transfer) || (!is_sub && k.has(SimScope::Withdraw))) =>
        {
            reply(
                st,
                200,
                10005,
                "Permission denied, please check your API key permissions.",
                json!({}),
            )
        }
        Op::Update { sub } => match update(k, req, sub, false) {
            Ok(v) => reply(st, 200, 0, "", v),
            Err(msg) => reply(st, 200, 10001, &msg, json!({})),
        },
        Op::Delete { sub } => {
            if sub && body_has(req, "apikey") {
                // "If you use corresponding sub uid api key call this
                // endpoint, apikey param cannot be passed".
                reply(st, 200, 10001, "params error: apikey", json!({}))
            } else {
                k.revoked = true;
                reply(st, 200, 0, "", json!({}))
            }
        }
    };
    drop(keys);
    let resp = match st.take_key(EX, &api_key, 1.0) {
        Err(ra) => rate_limited(ra),
        Ok(()) => resp,
    };
    // "Every request to the API returns response header": X-Bapi-Limit
    // (the limit), X-Bapi-Limit-Status (remaining), X-Bapi-Limit-Reset-
    // Timestamp (when it resets; otherwise the current time)
    // https://bybit-exchange.github.io/docs/v5/rate-limit
    match st.key_bucket(EX, &api_key) {
        Some((cap, left, reset)) => resp
            .with_header("X-Bapi-Limit", (cap as u64).to_string())
            .with_header("X-Bapi-Limit-Status", (left as u64).to_string())
            .with_header("X-Bapi-Limit-Reset-Timestamp", reset.to_string()),
        None => resp,
    }
}

fn authenticate<'a>(
    st: &State,
    keys: &'a mut std::collections::HashMap<(SimExchange, String), KeyState>,
    req: &Req,
) -> Result<&'a mut KeyState, Resp> {
    let invalid = || reply(st, 401, 10003, "API key is invalid.", json!({}));
    let Some(key) = req.header("x-bapi-api-key") else {
        return Err(invalid());
    };
    let Some(ts) = req
        .header("x-bapi-timestamp")
        .and_then(|t| t.parse::<i64>().ok())
    else {
        return Err(reply(
            st,
            200,
            10001,
            "params error: X-BAPI-TIMESTAMP",
            json!({}),
        ));
    };
    let Some(sign) = req.header("x-bapi-sign") else {
        return Err(reply(
            st,
            200,
            10004,
            "error sign! missing X-BAPI-SIGN",
            json!({}),
        ));
    };
    let recv: i64 = match req.header("x-bapi-recv-window") {
        None => 5000,
        Some(r) => match r.parse() {
            Ok(r) if r > 0 => r,
            _ => {
                return Err(reply(
                    st,
                    200,
                    10001,
                    "params error: X-BAPI-RECV-WINDOW",
                    json!({}),
                ));
            }
        },
    };
    let Some(k) = keys.get_mut(&(EX, key.to_string())).filter(|k| !k.revoked) else {
        return Err(invalid());
    };
    let server = st.now_ms(EX);
    if !(server - recv <= ts && ts < server + 1000) {
        return Err(reply(
            st,
            200,
            10002,
            &format!(
                "invalid request, please check your server timestamp or recv_window param. req_timestamp[{ts}],server_timestamp[{server}],recv_window[{recv}]"
            ),
            json!({}),
        ));
    }
    let payload = if req.method == hyper::Method::GET {
        req.query.clone()
    } else {
        req.body_str().to_string()
    };
    let origin = format!("{ts}{key}{recv}{payload}");
    let Verifier::Hmac(secret) = &k.verifier else {
        return Err(invalid());
    };
    let good = hex::decode(sign.to_ascii_lowercase())
        .is_ok_and(|s| same(&s, &hmac_sha256(secret, origin.as_bytes())));
    if !good {
        return Err(reply(
            st,
            200,
            10004,
            &format!("error sign! origin_string[{origin}]"),
            json!({}),
        ));
    }
    if !k.ip_allowed(req.peer) {
        return Err(reply(
            st,
            200,
            10010,
            "Unmatched IP, please check your API key's bound IP addresses.",
            json!({}),
        ));
    }
    Ok(k)
}

/// The groups `query-api` reports (every one, empty when nothing is
/// held) (apikey-info response parameters).
const GROUPS: [&str; 14] = [
    "ContractTrade",
    "Spot",
    "Wallet",
    "Options",
    "Derivatives",
    "CopyTrading",
    "BlockTrade",
    "Exchange",
    "NFT",
    "Earn",
    "FiatP2P",
    "FiatBitPay",
    "FiatConvertBroker",
    "Affiliate",
];

/// Groups an update may carry besides [`GROUPS`] (modify-master-apikey
/// request parameters, apikey-info response example).
const MORE_GROUPS: [&str; 4] = ["FiatBybitPay", "FiatGlobalPay", "BitCard", "ByXPost"];

/// The common scopes a Bybit permission object grants (what the simulator
/// enforces on the other endpoints).
pub(crate) fn scopes_of(p: &BTreeMap<String, Vec<String>>, sub: bool) -> BTreeSet<SimScope> {
    let has = |g: &str, f: &dyn Fn(&str) -> bool| {
        p.get(g).is_some_and(|items| items.iter().any(|i| f(i)))
    };
    let mut scopes = BTreeSet::from([SimScope::Read]);
    if has("Spot", &|i| i == "SpotTrade") {
        scopes.insert(SimScope::Trade);
    }
    if !sub && has("Wallet", &|i| i == "Withdraw") {
        scopes.insert(SimScope::Withdraw);
    }
    if has("Wallet", &|i| i.contains("Transfer")) {
        scopes.insert(SimScope::Transfer);
    }
    if has("ContractTrade", &|_| true) || has("Derivatives", &|_| true) {
        scopes.insert(SimScope::Futures);
    }
    if has("Options", &|_| true) {
        scopes.insert(SimScope::Options);
    }
    scopes
}

/// The key's permission object from its scopes (until an update or the
/// accounts file set it exactly).
fn rendered(k: &KeyState) -> BTreeMap<String, Vec<String>> {
    // Wallet: "AccountTransfer, SubMemberTransfer(master account),
    // SubMemberTransferList(sub account), Withdraw(master account)"
    // (apikey-info).
    let sub = k.account.parent_uid.is_some();
    let mut wallet = Vec::new();
    if k.has(SimScope::Transfer) {
        wallet.push("AccountTransfer");
        wallet.push(if sub {
            "SubMemberTransferList"
        } else {
            "SubMemberTransfer"
        });
    }
    if k.has(SimScope::Withdraw) && !sub {
        wallet.push("Withdraw");
    }
    let list = |on: bool, v: &[&str]| -> Vec<String> {
        if on {
            v.iter().map(|s| s.to_string()).collect()
        } else {
            Vec::new()
        }
    };
    BTreeMap::from([
        (
            "ContractTrade".to_string(),
            list(k.has(SimScope::Futures), &["Order", "Position"]),
        ),
        ("Spot".into(), list(k.has(SimScope::Trade), &["SpotTrade"])),
        ("Wallet".into(), list(true, &wallet)),
        (
            "Options".into(),
            list(k.has(SimScope::Options), &["OptionsTrade"]),
        ),
        (
            "Derivatives".into(),
            list(k.has(SimScope::Futures), &["DerivativesTrade"]),
        ),
    ])
}

fn permissions_of(k: &KeyState) -> Value {
    let held = k.bybit_permissions.clone().unwrap_or_else(|| rendered(k));
    let mut out = serde_json::Map::new();
    for g in GROUPS {
        out.insert(g.into(), json!([]));
    }
    for (g, items) in held {
        out.insert(g, json!(items));
    }
    Value::Object(out)
}

fn body_has(req: &Req, name: &str) -> bool {
    serde_json::from_slice::<Value>(&req.body).is_ok_and(|b| b.get(name).is_some())
}

// Shape: "Get API Key Information", response example
// https://bybit-exchange.github.io/docs/v5/user/apikey-info
// (fixture: core/tests/data/exchange/bybit/query-api.json). `ips` is
// `["*"]` when unbound; `isMaster` / `parentUid` ("0" for a main account).
fn query_api(k: &KeyState, _: &Req) -> Value {
    let created = k.account.created_at_ms.unwrap_or(1_700_000_000_000);
    json!({
        "id": "13770661", "note": k.account.label.clone().unwrap_or_default(), "apiKey": k.account.api_key,
        "readOnly": i64::from(k.read_only), "secret": "", "permissions": permissions_of(k),
        "ips": if k.ips.is_empty() { vec!["*".to_string()] } else { k.ips.clone() },
        "type": 1, "deadlineDay": if k.ips.is_empty() { 90 } else { -1 },
        "expiredAt": k.account.expires_at_ms.map(|e| iso_ms(e).replace(".000Z", "Z")).unwrap_or_default(),
        "createdAt": iso_ms(created).replace(".000Z", "Z"),
        "unified": 0, "uta": 1, "userID": 24617703, "inviterID": 0, "vipLevel": "No VIP",
        "mktMakerLevel": "0", "affiliateID": 0, "rsaPublicKey": "",
        "isMaster": k.account.parent_uid.is_none(),
        "parentUid": k.account.parent_uid.clone().unwrap_or_else(|| "0".into()),
        "kycLevel": "LEVEL_DEFAULT", "kycRegion": "",
        "userIDInt64": "0", "inviterIDInt64": "0", "affiliateIDInt64": "0",
    })
}

/// `update-api` (main key) or `update-sub-api` (sub key, on itself), with
/// the documented defaults for omitted fields.
fn update(k: &mut KeyState, req: &Req, sub: bool, managed: bool) -> Result<Value, String> {
    let body: Value = serde_json::from_slice(&req.body)
        .map_err(|_| "params error: body is not JSON".to_string())?;
    if sub && !managed && body.get("apikey").is_some() {
        // "If you use corresponding sub uid api key call this endpoint,
        // `apikey` param cannot be passed, otherwise throwing an error".
        return Err("params error: apikey".into());
    }
    if !sub && body.get("ips").is_some() {
        // Changelog 2026-02-10: "Remove request fields "ips", modifying,
        // adding, or deleting IP addresses via API is prohibited."
        return Err("params error: modifying IP addresses via API is prohibited".into());
    }
    // "readOnly: 0 (default): Read and Write. 1: Read only".
    match body.get("readOnly") {
        None | Some(Value::Null) => k.read_only = false,
        Some(ro) => match ro.as_i64() {
            Some(0) => k.read_only = false,
            Some(1) => k.read_only = true,
            _ => return Err("params error: readOnly".into()),
        },
    }
    // update-sub-api: "don't pass ips or pass with "*" means no bind".
    if sub && body.get("ips").is_none_or(Value::is_null) {
        k.ips = Vec::new();
    }
    if let Some(ips) = body.get("ips").filter(|v| !v.is_null()) {
        let list: Vec<String> = match ips {
            Value::String(s) => s
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            Value::Array(a) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => return Err("params error: ips".into()),
        };
        k.ips = if list.iter().any(|i| i == "*") {
            Vec::new()
        } else {
            list
        };
    }
    // "permissions: Tick the types of permission. Don't send this param if
    // you don't want to change the permission": when sent, the object
    // replaces the key's permissions whole (a group left out is no longer
    // held), and the enforced scopes follow it.
    if let Some(p) = body.get("permissions") {
        let Some(groups) = p.as_object() else {
            return Err("params error: permissions".into());
        };
        let mut held = BTreeMap::new();
        for (group, items) in groups {
            if !GROUPS.contains(&group.as_str()) && !MORE_GROUPS.contains(&group.as_str()) {
                return Err(format!("params error: permissions.{group}"));
            }
            let Some(items) = items.as_array() else {
                return Err(format!("params error: permissions.{group}"));
            };
            let mut list = Vec::new();
            for item in items {
                let Some(item) = item.as_str() else {
                    return Err(format!("params error: permissions.{group}"));
                };
                if !list.iter().any(|i| i == item) {
                    list.push(item.to_string());
                }
            }
            held.insert(group.clone(), list);
        }
        k.scopes = scopes_of(&held, sub);
        k.bybit_permissions = Some(held);
    }
    // Shape: the response examples of modify-master-apikey /
    // modify-sub-apikey (same fields).
    Ok(json!({
        "id": "13770661", "note": k.account.label.clone().unwrap_or_default(), "apiKey": k.account.api_key,
        "readOnly": i64::from(k.read_only), "secret": "", "permissions": permissions_of(k),
        "ips": if k.ips.is_empty() { vec!["*".to_string()] } else { k.ips.clone() },
    }))
}

fn since(req: &Req) -> Option<i64> {
    req.param("startTime").and_then(|s| s.parse().ok())
}

fn until(req: &Req) -> Option<i64> {
    req.param("endTime").and_then(|s| s.parse().ok())
}

/// The documented rules of the list endpoints: order history "the time
/// range between startTime and endTime must be less than 7 days"
/// (https://bybit-exchange.github.io/docs/v5/order/order-list); withdrawal
/// and deposit records "endTime - startTime should be less than 30 days",
/// withdrawal records "can query by the master UID's api key only"
/// (https://bybit-exchange.github.io/docs/v5/asset/withdraw/withdraw-record,
/// https://bybit-exchange.github.io/docs/v5/asset/deposit/deposit-record).
fn list_rules(st: &State, k: &KeyState, req: &Req) -> Option<Resp> {
    let span = match req.path.as_str() {
        "/v5/order/history" => 7,
        "/v5/asset/withdraw/query-record" | "/v5/asset/deposit/query-record" => 30,
        _ => return None,
    };
    if req.path == "/v5/asset/withdraw/query-record" && k.account.parent_uid.is_some() {
        return Some(reply(
            st,
            200,
            10005,
            "Permission denied: withdrawal records are for the master UID's api key only.",
            json!({}),
        ));
    }
    if let (Some(s), Some(e)) = (since(req), until(req))
        && e - s >= span * 86_400_000
    {
        return Some(reply(
            st,
            200,
            10001,
            &format!("params error: the time range must be less than {span} days"),
            json!({}),
        ));
    }
    None
}

/// `limit` and `cursor` (the simulator's cursors are plain offsets).
fn paging(req: &Req, default: usize, max: usize) -> (usize, usize) {
    let limit = req
        .param("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| (1..=max).contains(l))
        .unwrap_or(default);
    let offset = req
        .param("cursor")
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(0);
    (limit, offset)
}

fn next(n: Option<usize>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

fn orders(k: &KeyState, req: &Req) -> Value {
    let all = super::items_between(&k.account, ActivityKind::Order, since(req), until(req));
    let (limit, offset) = paging(req, 20, 50);
    let (page, more) = super::page(&all, offset, limit);
    let list: Vec<Value> = page
        .into_iter()
        .map(|o| {
            let side = {
                let mut c = o.side.chars();
                c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
            };
            json!({
                "orderId": o.id, "symbol": o.symbol, "side": side, "qty": o.amount, "price": o.price,
                "orderStatus": if o.status.is_empty() { "Filled".to_string() } else { o.status },
                "orderType": "Limit", "createdTime": o.time_ms.to_string(), "updatedTime": o.time_ms.to_string(),
            })
        })
        .collect();
    json!({"category": "spot", "list": list, "nextPageCursor": next(more)})
}

fn withdrawals(k: &KeyState, req: &Req) -> Value {
    let all = super::items_between(&k.account, ActivityKind::Withdrawal, since(req), until(req));
    let (limit, offset) = paging(req, 50, 50);
    let (page, more) = super::page(&all, offset, limit);
    let rows: Vec<Value> = page
        .into_iter()
        .map(|t| {
            json!({"coin": t.asset, "chain": t.asset, "amount": t.amount, "txID": t.tx_id,
                   "status": if t.status.is_empty() { "success".to_string() } else { t.status },
                   "toAddress": t.address, "tag": "", "withdrawFee": "0", "createTime": t.time_ms.to_string(),
                   "updateTime": t.time_ms.to_string(), "withdrawId": t.id, "withdrawType": 0})
        })
        .collect();
    json!({"rows": rows, "nextPageCursor": next(more)})
}

fn deposits(k: &KeyState, req: &Req) -> Value {
    let all = super::items_between(&k.account, ActivityKind::Deposit, since(req), until(req));
    let (limit, offset) = paging(req, 50, 50);
    let (page, more) = super::page(&all, offset, limit);
    let rows: Vec<Value> = page
        .into_iter()
        .map(|t| {
            json!({"id": t.id, "coin": t.asset, "chain": t.asset, "amount": t.amount, "txID": t.tx_id,
                   "status": 3, "toAddress": t.address, "tag": "", "depositFee": "",
                   "successAt": t.time_ms.to_string(), "confirmations": "12", "depositType": "0"})
        })
        .collect();
    json!({"rows": rows, "nextPageCursor": next(more)})
}

/// The permission groups a sub-account key reports (create-sub-api and
/// sub-apikeys response parameters; groups a sub-account cannot hold are
/// "always `[]`").
const SUB_GROUPS: [&str; 13] = [
    "ContractTrade",
    "Spot",
    "Wallet",
    "Options",
    "Derivatives",
    "Exchange",
    "Earn",
    "BlockTrade",
    "Affiliate",
    "FiatP2P",
    "FiatConvertBroker",
    "NFT",
    "CopyTrading",
];

/// What create-sub-api accepts per group (its request parameters, plus
/// `Derivatives` as update-sub-api documents it).
fn sub_items(group: &str) -> Option<&'static [&'static str]> {
    Some(match group {
        "ContractTrade" => &["Order", "Position"],
        "Spot" => &["SpotTrade"],
        "Options" => &["OptionsTrade"],
        "Wallet" => &["AccountTransfer", "SubMemberTransferList"],
        "Exchange" => &["ExchangeHistory"],
        "Earn" => &["Earn"],
        "Derivatives" => &["DerivativesTrade"],
        _ => return None,
    })
}

fn sub_permissions(k: &KeyState) -> Value {
    let held = k.bybit_permissions.clone().unwrap_or_else(|| rendered(k));
    let mut out = serde_json::Map::new();
    for g in SUB_GROUPS {
        out.insert(g.into(), json!(held.get(g).cloned().unwrap_or_default()));
    }
    for (g, items) in held {
        out.entry(g).or_insert_with(|| json!(items));
    }
    Value::Object(out)
}

fn ips_of(k: &KeyState) -> Vec<String> {
    if k.ips.is_empty() {
        vec!["*".to_string()]
    } else {
        k.ips.clone()
    }
}

fn iso_s(ms: i64) -> String {
    iso_ms(ms).replace(".000Z", "Z")
}

/// Master-account management of sub-account keys:
/// - `create-sub-api` (Create Sub UID API Key): "Use master user's api
///   key only", which must hold "Account Transfer", "Subaccount Transfer"
///   or "Withdrawal"; returns the secret once.
/// - `update-sub-api` / `delete-sub-api` with `apikey`: the same
///   permissions; the deleted key is "invalid immediately" (afterwards it
///   gets `10003`, as an unknown key does).
/// - `sub-apikeys` (Get Sub Account All API Keys): "Any permission",
///   "Only master account can call this endpoint".
/// - `query-sub-members` (Get Sub UID List (Limited)): master key with the
///   permissions of `create-sub-api`.
///
/// A sub-account key gets `10005` (permission denied); a sub UID that is
/// not the master's gets `500010` "The subaccount specified does not
/// belong to the parent account" (error codes page).
fn manage(
    st: &State,
    keys: &mut std::collections::HashMap<(SimExchange, String), KeyState>,
    m: Manage,
    is_sub: bool,
    may_manage: bool,
    req: &Req,
) -> Resp {
    let denied = |msg: &str| reply(st, 200, 10005, msg, json!({}));
    let params = |msg: &str| reply(st, 200, 10001, msg, json!({}));
    let not_ours = || {
        reply(
            st,
            200,
            500010,
            "The subaccount specified does not belong to the parent account",
            json!({}),
        )
    };
    if is_sub {
        return denied(
            "Permission denied: only the master account's api key can call this endpoint.",
        );
    }
    if m != Manage::ListKeys && !may_manage {
        return denied("Permission denied, please check your API key permissions.");
    }
    let body: Value = if req.method == hyper::Method::POST {
        match serde_json::from_slice(&req.body) {
            Ok(b @ Value::Object(_)) => b,
            _ => return params("params error: body is not a JSON object"),
        }
    } else {
        Value::Null
    };
    match m {
        Manage::Members => {
            let members: Vec<Value> = st
                .subs
                .iter()
                .filter(|s| s.exchange == EX)
                .map(|s| {
                    json!({"uid": s.id, "username": s.label.clone().unwrap_or_else(|| s.id.clone()),
                           "memberType": 1, "status": 1, "remark": s.note.clone().unwrap_or_default(),
                           "accountMode": 5})
                })
                .collect();
            reply(st, 200, 0, "", json!({"subMembers": members}))
        }
        Manage::ListKeys => {
            let Some(sub) = req.param("subMemberId").filter(|s| !s.is_empty()) else {
                return params("params error: subMemberId is required");
            };
            if super::sub_account(st, EX, &sub).is_none() {
                return not_ours();
            }
            let (limit, offset) = paging(req, 20, 20);
            let all = super::keys_of_sub(keys, EX, &sub);
            let (page, more) = super::page(&all, offset, limit);
            let list: Vec<Value> = page
                .into_iter()
                .map(|k| {
                    let created = k.account.created_at_ms.unwrap_or(1_700_000_000_000);
                    let bound = !k.ips.is_empty();
                    json!({
                        "id": k.account.created_at_ms.unwrap_or(0).rem_euclid(100_000_000).to_string(),
                        "ips": ips_of(k), "apiKey": k.account.api_key,
                        "note": k.account.label.clone().unwrap_or_default(),
                        // 1 permanent (IP bound), 3 within the validity period.
                        "status": if bound { 1 } else { 3 },
                        "expiredAt": k.account.expires_at_ms.map(iso_s).unwrap_or_default(),
                        "createdAt": iso_s(created), "type": 1,
                        "permissions": sub_permissions(k), "secret": "******",
                        // Here `readOnly` is a boolean (sub-apikeys response
                        // parameters), unlike create/update's integer.
                        "readOnly": k.read_only,
                        "deadlineDay": match k.account.expires_at_ms {
                            Some(e) if !bound => (e - st.now_ms(EX)).max(0) / 86_400_000,
                            _ => -1,
                        },
                        "flag": "hmac",
                    })
                })
                .collect();
            reply(
                st,
                200,
                0,
                "",
                json!({"result": list, "nextPageCursor": next(more)}),
            )
        }
        Manage::Create => {
            let sub = match body.get("subuid") {
                Some(Value::Number(n)) if n.is_u64() => n.to_string(),
                _ => return params("params error: subuid must be an integer"),
            };
            if super::sub_account(st, EX, &sub).is_none() {
                return not_ours();
            }
            let read_only = match body.get("readOnly").and_then(Value::as_i64) {
                Some(0) => false,
                Some(1) => true,
                _ => return params("params error: readOnly"),
            };
            let Some(groups) = body.get("permissions").and_then(Value::as_object) else {
                return params("params error: permissions");
            };
            let mut held = BTreeMap::new();
            for (group, items) in groups {
                let (Some(allowed), Some(items)) = (sub_items(group), items.as_array()) else {
                    return params(&format!("params error: permissions.{group}"));
                };
                let mut list: Vec<String> = Vec::new();
                for item in items {
                    match item.as_str() {
                        Some(i) if allowed.contains(&i) => {
                            if !list.iter().any(|l| l == i) {
                                list.push(i.to_string());
                            }
                        }
                        _ => return params(&format!("params error: permissions.{group}")),
                    }
                }
                held.insert(group.clone(), list);
            }
            if held.is_empty() {
                // "one of below types must be passed, otherwise the error
                // is thrown".
                return params("params error: permissions");
            }
            let ips = match body.get("ips") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::String(s)) => super::comma_list(s),
                Some(_) => return params("params error: ips must be a string"),
            };
            let ips = if ips.iter().any(|i| i == "*") {
                Vec::new()
            } else {
                ips
            };
            let note = match body.get("note") {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(_) => return params("params error: note"),
            };
            let now = st.now_ms(EX);
            let mut account = crate::accounts::KeyAccount::hmac(
                EX,
                &super::random_string(super::ALNUM, 18),
                &super::random_string(super::ALNUM, 36),
                &[],
            );
            account.bybit_permissions = Some(held);
            account.parent_uid = Some(MASTER_UID.to_string());
            account.sub_account = Some(sub);
            account.ips = ips.clone();
            account.label = Some(note.clone());
            account.created_at_ms = Some(now);
            // "No ip bound api key will be invalid after 90 days".
            account.expires_at_ms = ips.is_empty().then_some(now + 90 * 86_400_000);
            let Ok(mut k) = KeyState::new(&account) else {
                return params("params error");
            };
            k.read_only = read_only;
            k.updated_ms = now;
            let secret = account.secret.clone().unwrap_or_default();
            let v = json!({
                "id": now.rem_euclid(100_000_000).to_string(), "note": note,
                "apiKey": account.api_key, "readOnly": i64::from(k.read_only),
                "secret": secret, "permissions": sub_permissions(&k),
            });
            keys.insert((EX, account.api_key.clone()), k);
            reply(st, 200, 0, "", v)
        }
        Manage::Update | Manage::Delete => {
            let Some(target) = body.get("apikey").and_then(Value::as_str) else {
                return params("params error: apikey");
            };
            let Some(k) = keys
                .get_mut(&(EX, target.to_string()))
                .filter(|k| !k.revoked)
            else {
                return params("params error: apikey");
            };
            if k.account.sub_account.is_none() {
                return not_ours();
            }
            if m == Manage::Delete {
                k.revoked = true;
                return reply(st, 200, 0, "", json!({}));
            }
            match update(k, req, true, true) {
                Ok(v) => {
                    k.updated_ms = st.now_ms(EX);
                    reply(st, 200, 0, "", v)
                }
                Err(msg) => params(&msg),
            }
        }
    }
}
