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

//!
//! `permissions` holds the permission groups and the key-level endpoints'
//! answers, `lists` the order, withdrawal and deposit lists, `manage` the
//! master account's management of sub-account keys.

mod lists;
mod manage;
mod permissions;

use serde_json::{Value, json};

use super::{hmac_sha256, same};
use crate::accounts::{SimExchange, SimScope};
use crate::http::{Req, Resp};
use crate::state::{KeyState, State, Verifier, lock};
use lists::{deposits, list_rules, orders, withdrawals};
use manage::manage;
pub(crate) use permissions::scopes_of;
use permissions::{query_api, update};

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

fn body_has(req: &Req, name: &str) -> bool {
    serde_json::from_slice::<Value>(&req.body).is_ok_and(|b| b.get(name).is_some())
}
