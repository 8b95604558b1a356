//! Bybit's recent activity: spot orders, withdrawals and deposits, each
//! listed window by window and page by page.

use reqwest::Method;
use serde_json::Value;

use super::signed;
use crate::exchange::json::{OrderRow, Time, TransferRow, field};
use crate::exchange::types::*;
use crate::exchange::{Endpoint, ExchangeError, Listing, sign, windows};
use crate::model::Exchange;

fn rows(v: &Value, name: &str) -> Vec<Value> {
    v.get(name)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// One list endpoint: its path, the fixed part of its query, the name of
/// its list in the answer, and the longest time range one query may span.
struct Source {
    path: &'static str,
    fixed: &'static str,
    list: &'static str,
    span_ms: i64,
}

/// Order history: "the time range between startTime and endTime must be
/// less than 7 days"; withdrawal and deposit records: "endTime - startTime
/// should be less than 30 days"
/// (https://bybit-exchange.github.io/docs/v5/order/order-list,
/// https://bybit-exchange.github.io/docs/v5/asset/withdraw/withdraw-record,
/// https://bybit-exchange.github.io/docs/v5/asset/deposit/deposit-record).
const ORDER_WINDOW_MS: i64 = 7 * 86_400_000 - 60_000;
const TRANSFER_WINDOW_MS: i64 = 30 * 86_400_000 - 60_000;

const ORDERS: Source = Source {
    path: "/v5/order/history",
    fixed: "category=spot",
    list: "list",
    span_ms: ORDER_WINDOW_MS,
};

const WITHDRAWALS: Source = Source {
    path: "/v5/asset/withdraw/query-record",
    fixed: "",
    list: "rows",
    span_ms: TRANSFER_WINDOW_MS,
};

const DEPOSITS: Source = Source {
    path: "/v5/asset/deposit/query-record",
    ..WITHDRAWALS
};

const ORDER: OrderRow = OrderRow {
    id: "orderId",
    symbol: "symbol",
    side: "side",
    lowercase_side: true,
    status: "orderStatus",
    quantity: "qty",
    price: "price",
    time: Time::Ms("createdTime"),
};

const WITHDRAWAL: TransferRow = TransferRow {
    id: "withdrawId",
    id_or_tx: true,
    asset: "coin",
    amount: "amount",
    status: "status",
    address: "toAddress",
    tx_id: "txID",
    time: Time::Ms("createTime"),
};

const DEPOSIT: TransferRow = TransferRow {
    id: "id",
    time: Time::Ms("successAt"),
    ..WITHDRAWAL
};

/// Every page of every window of one list endpoint, newest window first,
/// following `nextPageCursor`, at most [`MAX_PAGES`] calls in all. The
/// flag says whether the cap (or the oldest window) cut the listing short.
async fn paged(
    ep: &Endpoint,
    creds: &Credentials,
    source: &Source,
    since: Timestamp,
) -> Result<(Vec<Value>, bool), ExchangeError> {
    let (spans, mut truncated) = windows(since.unix_ms(), ep.now_ms(), source.span_ms, MAX_PAGES);
    let fixed = source.fixed;
    let mut out = Vec::new();
    let mut calls = 0;
    'windows: for (start, end) in spans {
        let mut cursor = String::new();
        loop {
            if calls == MAX_PAGES {
                truncated = true;
                break 'windows;
            }
            calls += 1;
            let sep = if fixed.is_empty() { "" } else { "&" };
            let mut q = format!("{fixed}{sep}startTime={start}&endTime={end}&limit=50");
            if !cursor.is_empty() {
                q.push_str(&format!("&cursor={}", sign::percent_encode(&cursor)));
            }
            let page = signed(ep, creds, Method::GET, source.path, &q).await?;
            out.extend(rows(&page, source.list));
            cursor = field(&page, "nextPageCursor").unwrap_or_default();
            if cursor.is_empty() {
                break;
            }
        }
    }
    Ok((out, truncated))
}

pub(in crate::exchange) async fn activity(
    ep: &Endpoint,
    creds: &Credentials,
    since: Timestamp,
) -> Result<Activity, ExchangeError> {
    let mut l = Listing::new(Exchange::Bybit, since);
    let mut short = false;
    // Each source's rows, noting whether its listing was cut short.
    let mut read = |r: Result<(Vec<Value>, bool), ExchangeError>| {
        r.map(|(v, t)| {
            short |= t;
            v
        })
    };
    let o = read(paged(ep, creds, &ORDERS, since).await);
    l.orders(o.map(|v| v.iter().filter_map(|o| ORDER.read(o)).collect()));
    // "Can query by the master UID's api key only": a sub-account key's
    // error is reported for this source alone.
    if l.stop() {
        return l.finish();
    }
    let w = read(paged(ep, creds, &WITHDRAWALS, since).await);
    l.withdrawals(w.map(|v| v.iter().filter_map(|t| WITHDRAWAL.read(t)).collect()));
    if l.stop() {
        return l.finish();
    }
    let d = read(paged(ep, creds, &DEPOSITS, since).await);
    l.deposits(d.map(|v| v.iter().filter_map(|t| DEPOSIT.read(t)).collect()));
    l.note("Bybit lists orders 7 days and transfers 30 days per query: Keyward walks the windows back to the start.");
    if short {
        l.note(format!(
            "Listing stopped after {MAX_PAGES} pages per source: older entries are not listed."
        ));
    }
    l.finish()
}
