//! Bybit's list endpoints: order history, withdrawal and deposit records,
//! with their documented time-range rules and cursor paging.

use serde_json::{Value, json};

use super::reply;
use crate::accounts::ActivityKind;
use crate::http::{Req, Resp};
use crate::state::{KeyState, State};

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
pub(super) fn list_rules(st: &State, k: &KeyState, req: &Req) -> Option<Resp> {
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
pub(super) fn paging(req: &Req, default: usize, max: usize) -> (usize, usize) {
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

pub(super) fn next(n: Option<usize>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

pub(super) fn orders(k: &KeyState, req: &Req) -> Value {
    let all =
        crate::exchanges::items_between(&k.account, ActivityKind::Order, since(req), until(req));
    let (limit, offset) = paging(req, 20, 50);
    let (page, more) = crate::exchanges::page(&all, offset, limit);
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

pub(super) fn withdrawals(k: &KeyState, req: &Req) -> Value {
    let all = crate::exchanges::items_between(
        &k.account,
        ActivityKind::Withdrawal,
        since(req),
        until(req),
    );
    let (limit, offset) = paging(req, 50, 50);
    let (page, more) = crate::exchanges::page(&all, offset, limit);
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

pub(super) fn deposits(k: &KeyState, req: &Req) -> Value {
    let all =
        crate::exchanges::items_between(&k.account, ActivityKind::Deposit, since(req), until(req));
    let (limit, offset) = paging(req, 50, 50);
    let (page, more) = crate::exchanges::page(&all, offset, limit);
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
