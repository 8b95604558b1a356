//! Bybit v5: `X-BAPI-SIGN = hex(HMAC-SHA256(secret, ts ‖ key ‖ recvWindow ‖
//! query|body))`. Introspection `GET /v5/user/query-api` (also says whether
//! the key is a main-account key: `isMaster`, `parentUid`). The calling key
//! narrows and deletes itself: a main-account key through `update-api` /
//! `delete-api`, a sub-account key through `update-sub-api` /
//! `delete-sub-api` (without `apikey`).
//!
//! Narrowing never loses the IP binding: `update-sub-api` unbinds a key
//! when `ips` is omitted ("don't pass ips or pass with "*" means no bind"),
//! so the current IPs are always sent; `update-api` has had no `ips` field
//! since 2026-02-10 (docs changelog), so a main key's IPs are never sent
//! and cannot be changed here. `readOnly` is always sent (omitted means 0,
//! read and write).

use reqwest::Method;
use serde_json::{Value, json};

use super::error::excerpt;
use super::http::{Prepared, RawResponse};
use super::json::{field, int};
use super::types::*;
use super::{Endpoint, ExchangeError, sign};
use crate::model::{Exchange, KeyType, Scope};

const RECV_WINDOW: u32 = 5000;

pub(super) fn capabilities() -> Capabilities {
    Capabilities {
        exchange: Exchange::Bybit,
        key_types: vec![KeyType::Hmac],
        introspection_endpoint: "GET /v5/user/query-api",
        reports_scopes: vec![
            Scope::Read,
            Scope::Trade,
            Scope::Withdraw,
            Scope::Transfer,
            Scope::Futures,
            Scope::Options,
        ],
        reports_ip_restriction: true,
        reports_ip_whitelist: true,
        reports_expiry: true,
        revoke_via_api: true,
        narrow_via_api: true,
        activity_orders: true,
        activity_withdrawals: true,
        activity_deposits: true,
        testnet: true,
        notes: vec![
            "A key deletes or narrows only itself, and Bybit requires it to hold a transfer (or, for a main-account key, withdrawal) permission to do so.",
            "A main-account key's IP binding cannot be changed through the API (update-api has no ips since 2026-02-10); it is kept as it is. A sub-account key's IPs are always sent back, since omitting them unbinds the key.",
            "Keys without an IP restriction expire after 90 days (reported as expiry).",
        ],
    }
}

fn reason_for(code: i64) -> RejectReason {
    match code {
        10003 => RejectReason::InvalidKey,
        10004 => RejectReason::BadSignature,
        10002 => RejectReason::Timestamp,
        10010 => RejectReason::IpNotAllowed,
        10005 => RejectReason::PermissionDenied,
        33004 => RejectReason::Expired,
        _ => RejectReason::Unclassified,
    }
}

fn parse(ep: &Endpoint, resp: RawResponse) -> Result<Value, ExchangeError> {
    let ex = Exchange::Bybit;
    if resp.status == 403 {
        // "403, access too frequent": the IP is banned, "wait for at least
        // 10 minutes" (docs v5 rate-limit). Any other 403 (CloudFront's
        // HTML page for a blocked country or region) is not a ban.
        let body = String::from_utf8_lossy(&resp.body).to_ascii_lowercase();
        if body.contains("too frequent") {
            ep.transport.note_rate_limited();
            return Err(ExchangeError::Banned {
                exchange: ex,
                retry_after: resp
                    .retry_after
                    .or(Some(std::time::Duration::from_secs(600))),
            });
        }
        return Err(ExchangeError::Blocked {
            exchange: ex,
            status: resp.status,
            excerpt: if body.contains("cloudfront") {
                "CloudFront: the request could not be satisfied (a country or region block, not a rate limit; Bybit has regional sites)".into()
            } else {
                excerpt(&resp.body)
            },
        });
    }
    let json = resp.json(ex)?;
    let code = int(&json, "retCode").ok_or_else(|| resp.malformed(ex))?;
    if code == 0 {
        return json
            .get("result")
            .cloned()
            .ok_or_else(|| resp.malformed(ex));
    }
    if code == 10006 || code == 10018 {
        ep.transport.note_rate_limited();
        return Err(ExchangeError::RateLimited {
            exchange: ex,
            retry_after: resp.retry_after,
        });
    }
    Err(ExchangeError::Rejected {
        exchange: ex,
        code: code.to_string(),
        message: excerpt(field(&json, "retMsg").unwrap_or_default().as_bytes()),
        reason: reason_for(code),
    })
}

async fn signed(
    ep: &Endpoint,
    creds: &Credentials,
    method: Method,
    path: &str,
    payload: &str,
) -> Result<Value, ExchangeError> {
    use secrecy::ExposeSecret;
    if creds.key_type != KeyType::Hmac {
        return Err(ExchangeError::InvalidCredentials {
            reason: "only Bybit HMAC (system-generated) keys are supported",
        });
    }
    let is_get = method == Method::GET;
    let call = || async {
        let mut build = || {
            let ts = ep.now_ms();
            let prehash = sign::bybit_prehash(ts, &creds.api_key, RECV_WINDOW, payload);
            let sig = sign::bybit(creds.secret.expose_secret(), &prehash);
            Ok(Prepared {
                method: method.clone(),
                url: ep.url(path, if is_get { payload } else { "" }),
                headers: vec![
                    ("X-BAPI-API-KEY", creds.api_key.clone()),
                    ("X-BAPI-TIMESTAMP", ts.to_string()),
                    ("X-BAPI-RECV-WINDOW", RECV_WINDOW.to_string()),
                    ("X-BAPI-SIGN", sig),
                ],
                body: if is_get {
                    None
                } else {
                    Some(("application/json", payload.to_string()))
                },
            })
        };
        let resp = ep.send(&creds.api_key, 1.0, is_get, &mut build).await?;
        parse(ep, resp)
    };
    ep.with_clock_retry(call, || {
        ep.sync_clock("/v5/market/time", |v| int(v, "time"))
    })
    .await
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

pub(super) async fn verify(ep: &Endpoint, creds: &Credentials) -> Result<KeyReport, ExchangeError> {
    report_of(signed(ep, creds, Method::GET, "/v5/user/query-api", "").await?)
}

/// The answer of the introspection call, parsed and turned into a report.
pub(super) fn report(ep: &Endpoint, resp: RawResponse) -> Result<KeyReport, ExchangeError> {
    report_of(parse(ep, resp)?)
}

/// Whether the key belongs to a main account: `isMaster`, else `parentUid`
/// (`"0"` for a main account); `None` if the answer says neither.
fn is_master(raw: &Value) -> Option<bool> {
    super::json::bool_of(raw, "isMaster")
        .or_else(|| field(raw, "parentUid").map(|p| p == "0" || p.is_empty()))
}

fn report_of(raw: Value) -> Result<KeyReport, ExchangeError> {
    let malformed = |what: &str| ExchangeError::Malformed {
        exchange: Exchange::Bybit,
        status: 200,
        excerpt: format!("query-api without {what}"),
    };
    let perms = raw
        .get("permissions")
        .filter(|p| p.is_object())
        .ok_or_else(|| malformed("permissions"))?;
    let read_only = int(&raw, "readOnly").ok_or_else(|| malformed("readOnly"))? == 1;
    let group = |name: &str| strings(perms.get(name));
    let writable = !read_only;
    let wallet = group("Wallet");
    let ips: Vec<String> = strings(raw.get("ips"));
    let unrestricted = ips.is_empty() || ips.iter().any(|i| i == "*");
    // "expiredAt: The expiry day of the api key. Only for those api key
    // with no IP bound or the password has been changed"; the docs' example
    // of a bound key shows "1970-01-01T00:00:00Z" (deadlineDay -2): no expiry.
    let expires_at = field(&raw, "expiredAt")
        .filter(|s| !s.is_empty())
        .and_then(|s| Timestamp::parse_utc(&s))
        .filter(|t| t.unix_ms() > 0);
    let mut notes = Vec::new();
    match (is_master(&raw), field(&raw, "parentUid")) {
        (Some(true), _) => notes.push("Main-account key.".to_string()),
        (Some(false), parent) => notes.push(format!(
            "Sub-account key of main account UID {}: narrowed and revoked through update-sub-api / delete-sub-api.",
            parent.unwrap_or_else(|| "?".into())
        )),
        (None, _) => notes.push("Bybit did not say whether this is a main-account or a sub-account key.".to_string()),
    }
    Ok(KeyReport {
        exchange: Exchange::Bybit,
        authenticated: true,
        rejection: None,
        permissions: Permissions {
            read: Some(true),
            trade: Some(writable && group("Spot").iter().any(|p| p == "SpotTrade")),
            withdraw: Some(writable && wallet.iter().any(|p| p == "Withdraw")),
            transfer: Some(writable && wallet.iter().any(|p| p.contains("Transfer"))),
            margin: None,
            futures: Some(
                writable
                    && (!group("ContractTrade").is_empty() || !group("Derivatives").is_empty()),
            ),
            options: Some(writable && !group("Options").is_empty()),
        },
        ip_restricted: Some(!unrestricted),
        ip_whitelist: Some(if unrestricted { Vec::new() } else { ips }),
        expires_at,
        checked_at: Timestamp::now(),
        removable: removable(&raw),
        raw,
        notes,
    })
}

pub(super) async fn revoke(
    ep: &Endpoint,
    creds: &Credentials,
) -> Result<Revocation, ExchangeError> {
    let current = signed(ep, creds, Method::GET, "/v5/user/query-api", "").await?;
    let path = if is_master(&current) == Some(false) {
        "/v5/user/delete-sub-api"
    } else {
        "/v5/user/delete-api"
    };
    match signed(ep, creds, Method::POST, path, "{}").await {
        Ok(_) => Ok(Revocation::Revoked { at: Timestamp::now() }),
        Err(ExchangeError::Rejected {
            reason: RejectReason::PermissionDenied,
            ..
        }) => Ok(Revocation::Unsupported {
            reason: "Bybit lets a key delete itself only if it holds a transfer permission (or, for a main-account key, withdrawal)".into(),
            steps: vec![
                "Sign in to bybit.com and open Account → API Management.".into(),
                format!(
                    "Delete the key whose id starts with {}….",
                    creds.api_key.chars().take(8).collect::<String>()
                ),
                "Come back and run the revocation check.".into(),
            ],
        }),
        Err(e) => Err(e),
    }
}

/// The permission groups the update endpoints take, as their request
/// parameters document them: `update-api` for a main-account key
/// (<https://bybit-exchange.github.io/docs/v5/user/modify-master-apikey>),
/// `update-sub-api` for a sub-account key
/// (<https://bybit-exchange.github.io/docs/v5/user/modify-sub-apikey>).
/// `Derivatives` is left out of both: the docs call it deprecated, "system
/// will automatically add this permission according to your account is UTA
/// or Classic", so dropping it would not last. Groups `query-api` reports
/// but no update endpoint documents (`FiatBitPay`, `BitCard`, `ByXPost`…)
/// cannot be dropped through the API either; they are sent back untouched.
const MAIN_GROUPS: [&str; 13] = [
    "Spot",
    "ContractTrade",
    "Options",
    "Wallet",
    "Exchange",
    "Earn",
    "CopyTrading",
    "BlockTrade",
    "NFT",
    "Affiliate",
    "FiatP2P",
    "FiatBybitPay",
    "FiatConvertBroker",
];
const SUB_GROUPS: [&str; 7] = [
    "Spot",
    "ContractTrade",
    "Options",
    "Wallet",
    "Exchange",
    "Earn",
    "CopyTrading",
];

/// The permissions that let a key modify or delete itself: "The API key
/// must have one of the below permissions in order to call this endpoint
/// — master API key: "Account Transfer", "Subaccount Transfer",
/// "Withdrawal"; sub API key: "Account Transfer", "Sub Member Transfer""
/// (the two pages above).
fn manages_itself(master: bool, item: &str) -> bool {
    matches!(
        item,
        "AccountTransfer" | "SubMemberTransfer" | "SubMemberTransferList"
    ) || (master && item == "Withdraw")
}

fn group_label(group: &str) -> String {
    match group {
        "ContractTrade" => "Contracts".into(),
        "Options" => "USDC options".into(),
        "Exchange" => "Convert".into(),
        "CopyTrading" => "Copy trading".into(),
        "BlockTrade" => "Block trade".into(),
        "FiatP2P" => "P2P".into(),
        "FiatBybitPay" => "Bybit Pay".into(),
        "FiatConvertBroker" => "Fiat convert".into(),
        other => words(other),
    }
}

fn item_label(item: &str) -> String {
    match item {
        "SpotTrade" | "OptionsTrade" => "Trade".into(),
        "Order" => "Orders".into(),
        "Position" => "Positions".into(),
        "SubMemberTransfer" | "SubMemberTransferList" => "Sub-account transfer".into(),
        "Withdraw" => "Withdrawal".into(),
        "ExchangeHistory" => "Convert history".into(),
        "NFTQueryProductList" => "NFT product list".into(),
        "FiatP2POrder" => "P2P orders".into(),
        "FaitPayOrder" => "Pay orders".into(),
        "FiatConvertBrokerOrder" => "Fiat convert orders".into(),
        other => words(other),
    }
}

/// `AccountTransfer` → `Account transfer`.
fn words(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            out.push(' ');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn scope_of(group: &str, item: &str) -> Option<Scope> {
    match (group, item) {
        ("Spot", _) => Some(Scope::Trade),
        ("Wallet", "Withdraw") => Some(Scope::Withdraw),
        ("Wallet", i) if i.contains("Transfer") => Some(Scope::Transfer),
        ("ContractTrade", _) => Some(Scope::Futures),
        ("Options", _) => Some(Scope::Options),
        _ => None,
    }
}

/// The permissions the key holds that it can drop through the update
/// endpoint for its kind (main or sub), from its `query-api` answer, in the
/// documented group order. Empty for a read-only key (its permissions act
/// on nothing, and it cannot call the update endpoints), for a key without
/// a permission that lets it modify itself ([`manages_itself`]), and when
/// the answer does not say whether it is a main-account key.
pub(super) fn removable(current: &Value) -> Vec<RemovablePermission> {
    let (Some(master), Some(perms), Some(0)) = (
        is_master(current),
        current.get("permissions").filter(|p| p.is_object()),
        int(current, "readOnly"),
    ) else {
        return Vec::new();
    };
    let groups: &[&str] = if master { &MAIN_GROUPS } else { &SUB_GROUPS };
    let managing: Vec<String> = strings(perms.get("Wallet"))
        .into_iter()
        .filter(|i| manages_itself(master, i))
        .collect();
    if managing.is_empty() {
        // Without one, the update endpoints refuse the key: nothing can be
        // dropped through the API any more.
        return Vec::new();
    }
    let mut out = Vec::new();
    for group in groups {
        for item in strings(perms.get(*group)) {
            let last_manager = group == &"Wallet" && managing.len() == 1 && managing[0] == item;
            out.push(RemovablePermission {
                name: format!("{group}.{item}"),
                label: format!("{} · {}", group_label(group), item_label(&item)),
                scope: scope_of(group, &item),
                warning: last_manager.then(|| {
                    "Bybit lets a key narrow or delete itself only while it holds a transfer (or, for a main-account key, withdrawal) permission: after this, Keyward can no longer narrow or revoke this key through the API, only you on bybit.com.".to_string()
                }),
            });
        }
    }
    out
}

/// What [`narrowing_body`] decided: where to send what, and the
/// `Group.Item` names it drops.
#[derive(Debug)]
pub(super) struct NarrowingBody {
    pub path: &'static str,
    pub body: Value,
    pub dropped: Vec<String>,
}

/// The body of `update-api` (main key) or `update-sub-api` (sub key) for a
/// narrowing, from the key's current settings (`query-api`). Every field
/// the exchange defaults when omitted is sent with the value to keep.
///
/// `permissions` is sent only when something is dropped ("Don't send this
/// param if you don't want to change the permission"), and then whole:
/// every group exactly as `query-api` reported it, minus the dropped items,
/// a group left with nothing sent as `[]` (the exchange replaces the
/// permission object, so a group left out could be lost). Nothing is ever
/// added: the documented `Wallet` items of `update-api` are
/// `AccountTransfer` and `SubMemberTransfer` only, so a main key's
/// `Withdraw` can be left out (dropped) but never granted back here.
pub(super) fn narrowing_body(
    current: &Value,
    n: &Narrowing,
) -> Result<NarrowingBody, ExchangeError> {
    let malformed = |what: &str| ExchangeError::Malformed {
        exchange: Exchange::Bybit,
        status: 200,
        excerpt: format!("query-api without {what}"),
    };
    let master = is_master(current).ok_or_else(|| malformed("isMaster / parentUid"))?;
    // Every name asked for must be one the key holds and can drop; checked
    // before anything is built, so a bad name sends nothing.
    let allowed = removable(current);
    let mut dropped: Vec<(&str, &str)> = Vec::new();
    for name in &n.drop {
        let known = allowed.iter().any(|r| r.name == *name);
        let split = name.split_once('.');
        match split {
            Some((group, item)) if known => {
                if !dropped.contains(&(group, item)) {
                    dropped.push((group, item));
                }
            }
            _ => {
                return Err(ExchangeError::PermissionNotRemovable {
                    exchange: Exchange::Bybit,
                    permission: name.chars().take(80).collect(),
                    removable: allowed.iter().map(|r| r.name.clone()).collect(),
                });
            }
        }
    }
    if n.remove_withdraw
        && !dropped.contains(&("Wallet", "Withdraw"))
        && current
            .pointer("/permissions/Wallet")
            .and_then(Value::as_array)
            .is_some_and(|w| w.iter().any(|p| p.as_str() == Some("Withdraw")))
    {
        dropped.push(("Wallet", "Withdraw"));
    }
    let names: Vec<String> = dropped.iter().map(|(g, i)| format!("{g}.{i}")).collect();
    let mut body = serde_json::Map::new();
    // "readOnly: 0 (default)": omitting it would make a read-only key
    // read-write.
    let ro = if n.read_only {
        1
    } else {
        int(current, "readOnly").ok_or_else(|| malformed("readOnly"))?
    };
    body.insert("readOnly".into(), json!(ro));
    if !dropped.is_empty() {
        let mut perms = current
            .get("permissions")
            .cloned()
            .filter(Value::is_object)
            .ok_or_else(|| malformed("permissions"))?;
        for (group, item) in &dropped {
            if let Some(list) = perms.get_mut(*group).and_then(Value::as_array_mut) {
                list.retain(|p| p.as_str() != Some(item));
            }
        }
        body.insert("permissions".into(), perms);
    }
    let now: Vec<String> = strings(current.get("ips"))
        .into_iter()
        .filter(|i| i != "*")
        .collect();
    if master {
        // update-api has no `ips` since 2026-02-10: the binding stays as it
        // is, and cannot be changed through the API.
        if let Some(wanted) = &n.ips
            && *wanted != now
        {
            return Err(ExchangeError::Unsupported {
                exchange: Exchange::Bybit,
                operation: "changing a main-account key's IP binding (update-api has no ips field since 2026-02-10; change it on the website)",
            });
        }
        return Ok(NarrowingBody {
            path: "/v5/user/update-api",
            body: Value::Object(body),
            dropped: names,
        });
    }
    // update-sub-api: "don't pass ips or pass with "*" means no bind".
    let ips = n.ips.as_ref().unwrap_or(&now);
    let joined = if ips.is_empty() {
        "*".to_string()
    } else {
        ips.join(",")
    };
    body.insert("ips".into(), json!(joined));
    Ok(NarrowingBody {
        path: "/v5/user/update-sub-api",
        body: Value::Object(body),
        dropped: names,
    })
}

/// Narrows the calling key; returns the `Group.Item` names it dropped.
pub(super) async fn narrow(
    ep: &Endpoint,
    creds: &Credentials,
    n: &Narrowing,
) -> Result<Vec<String>, ExchangeError> {
    let current = signed(ep, creds, Method::GET, "/v5/user/query-api", "").await?;
    let planned = narrowing_body(&current, n)?;
    signed(
        ep,
        creds,
        Method::POST,
        planned.path,
        &planned.body.to_string(),
    )
    .await?;
    Ok(planned.dropped)
}

fn rows(v: &Value, name: &str) -> Vec<Value> {
    v.get(name)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Order history: "the time range between startTime and endTime must be
/// less than 7 days"; withdrawal and deposit records: "endTime - startTime
/// should be less than 30 days"
/// (https://bybit-exchange.github.io/docs/v5/order/order-list,
/// https://bybit-exchange.github.io/docs/v5/asset/withdraw/withdraw-record,
/// https://bybit-exchange.github.io/docs/v5/asset/deposit/deposit-record).
const ORDER_WINDOW_MS: i64 = 7 * 86_400_000 - 60_000;
const TRANSFER_WINDOW_MS: i64 = 30 * 86_400_000 - 60_000;

/// Every page of every window of one list endpoint, newest window first,
/// following `nextPageCursor`, at most [`MAX_PAGES`] calls in all. The
/// flag says whether the cap (or the oldest window) cut the listing short.
async fn paged(
    ep: &Endpoint,
    creds: &Credentials,
    path: &str,
    fixed: &str,
    list: &str,
    since: Timestamp,
    span: i64,
) -> Result<(Vec<Value>, bool), ExchangeError> {
    let (spans, mut truncated) = super::windows(since.unix_ms(), ep.now_ms(), span, MAX_PAGES);
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
            let page = signed(ep, creds, Method::GET, path, &q).await?;
            out.extend(rows(&page, list));
            cursor = field(&page, "nextPageCursor").unwrap_or_default();
            if cursor.is_empty() {
                break;
            }
        }
    }
    Ok((out, truncated))
}

fn transfer(t: &Value, id: &str, time: &str) -> Option<TransferEvent> {
    Some(TransferEvent {
        id: field(t, id).or_else(|| field(t, "txID"))?,
        asset: field(t, "coin")?,
        amount: field(t, "amount")?,
        status: field(t, "status").unwrap_or_default(),
        address: field(t, "toAddress"),
        tx_id: field(t, "txID"),
        time: Timestamp::from_unix_ms(int(t, time)?),
    })
}

pub(super) async fn activity(
    ep: &Endpoint,
    creds: &Credentials,
    since: Timestamp,
) -> Result<Activity, ExchangeError> {
    let mut l = super::Listing::new(Exchange::Bybit, since);
    let mut short = false;
    let o = paged(
        ep,
        creds,
        "/v5/order/history",
        "category=spot",
        "list",
        since,
        ORDER_WINDOW_MS,
    )
    .await;
    l.orders(o.map(|(v, t)| {
        short |= t;
        v.iter()
            .filter_map(|o| {
                Some(OrderEvent {
                    id: field(o, "orderId")?,
                    symbol: field(o, "symbol")?,
                    side: field(o, "side").map(|s| s.to_ascii_lowercase()),
                    status: field(o, "orderStatus").unwrap_or_default(),
                    quantity: field(o, "qty"),
                    price: field(o, "price"),
                    time: Timestamp::from_unix_ms(int(o, "createdTime")?),
                })
            })
            .collect()
    }));
    // "Can query by the master UID's api key only": a sub-account key's
    // error is reported for this source alone.
    if l.stop() {
        return l.finish();
    }
    let w = paged(
        ep,
        creds,
        "/v5/asset/withdraw/query-record",
        "",
        "rows",
        since,
        TRANSFER_WINDOW_MS,
    )
    .await;
    l.withdrawals(w.map(|(v, t)| {
        short |= t;
        v.iter()
            .filter_map(|t| transfer(t, "withdrawId", "createTime"))
            .collect()
    }));
    if l.stop() {
        return l.finish();
    }
    let d = paged(
        ep,
        creds,
        "/v5/asset/deposit/query-record",
        "",
        "rows",
        since,
        TRANSFER_WINDOW_MS,
    )
    .await;
    l.deposits(d.map(|(v, t)| {
        short |= t;
        v.iter()
            .filter_map(|t| transfer(t, "id", "successAt"))
            .collect()
    }));
    l.note("Bybit lists orders 7 days and transfers 30 days per query: Keyward walks the windows back to the start.");
    if short {
        l.note(format!(
            "Listing stopped after {MAX_PAGES} pages per source: older entries are not listed."
        ));
    }
    l.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented `query-api` example answer (a main-account key bound
    /// to three IPs, read-only).
    fn documented() -> Value {
        let file: Value = serde_json::from_str(include_str!(
            "../../tests/data/exchange/bybit/query-api.json"
        ))
        .expect("fixture");
        file["response"]["result"].clone()
    }

    #[test]
    fn a_main_key_is_narrowed_through_update_api_without_ips() {
        let current = documented();
        let NarrowingBody { path, body, .. } = narrowing_body(
            &current,
            &Narrowing {
                remove_withdraw: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(path, "/v5/user/update-api");
        // update-api has no `ips` since 2026-02-10; `readOnly` is always
        // sent (omitted means 0, read and write).
        assert!(body.get("ips").is_none(), "{body}");
        assert_eq!(body["readOnly"], 1);
        // Asking to change a main key's IPs is refused, not half-done.
        let err = narrowing_body(
            &current,
            &Narrowing {
                ips: Some(vec!["192.0.2.1".into()]),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(matches!(err, ExchangeError::Unsupported { .. }), "{err:?}");
    }

    #[test]
    fn a_sub_key_is_narrowed_through_update_sub_api_keeping_its_ips() {
        let mut current = documented();
        current["isMaster"] = json!(false);
        current["parentUid"] = json!("1448939");
        current["readOnly"] = json!(0);
        let NarrowingBody { path, body, .. } = narrowing_body(
            &current,
            &Narrowing {
                read_only: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(path, "/v5/user/update-sub-api");
        // Omitting `ips` would unbind the key ("don't pass ips or pass
        // with "*" means no bind"): the current ones are sent.
        assert_eq!(body["ips"], "18.181.170.164,13.212.45.47,13.212.45.48");
        assert_eq!(body["readOnly"], 1);
        assert!(body.get("apikey").is_none());
        // Unknown main/sub: refused rather than guessed.
        current.as_object_mut().unwrap().remove("isMaster");
        current.as_object_mut().unwrap().remove("parentUid");
        assert!(narrowing_body(&current, &Narrowing::default()).is_err());
    }

    #[test]
    fn the_documented_answer_reports_its_ips_and_main_account() {
        let r = report_of(documented()).unwrap();
        assert_eq!(r.ip_restricted, Some(true));
        assert_eq!(r.ip_whitelist.as_ref().map(Vec::len), Some(3));
        // "1970-01-01T00:00:00Z" is no expiry.
        assert_eq!(r.expires_at, None);
        assert!(r.notes.iter().any(|n| n.contains("Main-account")));
        // readOnly 1: nothing writable, whatever the lists say.
        assert_eq!(r.permissions.trade, Some(false));
    }

    fn writable() -> Value {
        let mut current = documented();
        current["readOnly"] = json!(0);
        current
    }

    #[test]
    fn removable_permissions_are_the_held_items_of_the_documented_groups() {
        let names: Vec<String> = removable(&writable()).into_iter().map(|r| r.name).collect();
        assert_eq!(
            names,
            [
                "Spot.SpotTrade",
                "ContractTrade.Order",
                "ContractTrade.Position",
                "Wallet.AccountTransfer",
                "Wallet.SubMemberTransfer",
                "Exchange.ExchangeHistory",
                "Earn.Earn",
                "FiatP2P.FiatP2POrder",
                "FiatP2P.Advertising",
                "FiatConvertBroker.FiatConvertBrokerOrder",
            ]
        );
        // Derivatives is deprecated on the update endpoints; FiatBitPay,
        // BitCard and ByXPost are not among their parameters.
        let r = removable(&writable());
        let transfer = r
            .iter()
            .find(|p| p.name == "Wallet.AccountTransfer")
            .unwrap();
        assert_eq!(transfer.label, "Wallet · Account transfer");
        assert_eq!(transfer.scope, Some(Scope::Transfer));
        // Two self-managing permissions held: dropping one is no warning.
        assert_eq!(transfer.warning, None);
        // A read-only key has nothing to drop.
        assert!(removable(&documented()).is_empty());
        // A sub key drops only the groups update-sub-api documents.
        let mut sub = writable();
        sub["isMaster"] = json!(false);
        sub["parentUid"] = json!("1448939");
        let names: Vec<String> = removable(&sub).into_iter().map(|r| r.name).collect();
        assert!(names.contains(&"Earn.Earn".to_string()), "{names:?}");
        assert!(
            !names.iter().any(|n| n.starts_with("FiatP2P.")),
            "{names:?}"
        );
    }

    #[test]
    fn the_last_permission_that_lets_a_key_manage_itself_carries_a_warning() {
        let mut current = writable();
        current["permissions"]["Wallet"] = json!(["AccountTransfer"]);
        let r = removable(&current);
        let transfer = r
            .iter()
            .find(|p| p.name == "Wallet.AccountTransfer")
            .unwrap();
        assert!(
            transfer
                .warning
                .as_deref()
                .is_some_and(|w| w.contains("bybit.com")),
            "{transfer:?}"
        );
        // Without any, the key cannot call update-api: nothing to offer.
        current["permissions"]["Wallet"] = json!([]);
        assert!(removable(&current).is_empty());
    }

    #[test]
    fn dropping_one_permission_sends_every_other_exactly_as_held() {
        let current = writable();
        let NarrowingBody {
            path,
            body,
            dropped,
        } = narrowing_body(&current, &Narrowing::dropping(["Wallet.AccountTransfer"])).unwrap();
        assert_eq!(path, "/v5/user/update-api");
        assert_eq!(dropped, ["Wallet.AccountTransfer"]);
        let mut expected = current["permissions"].clone();
        expected["Wallet"] = json!(["SubMemberTransfer"]);
        assert_eq!(body["permissions"], expected);
        assert_eq!(body["readOnly"], 0);
        // The last item of a group leaves the group empty, not missing.
        let NarrowingBody { body, .. } =
            narrowing_body(&current, &Narrowing::dropping(["Spot.SpotTrade"])).unwrap();
        assert_eq!(body["permissions"]["Spot"], json!([]));
        assert_eq!(
            body["permissions"].as_object().map(|o| o.len()),
            current["permissions"].as_object().map(|o| o.len())
        );
        // Nothing dropped: the permission object is not sent at all.
        let NarrowingBody { body, dropped, .. } =
            narrowing_body(&current, &Narrowing::default()).unwrap();
        assert!(body.get("permissions").is_none() && dropped.is_empty());
    }

    #[test]
    fn a_permission_not_held_or_not_droppable_is_refused_by_name() {
        let current = writable();
        for name in [
            "Options.OptionsTrade",         // documented, not held
            "Wallet.Withdraw",              // not held by this key
            "Derivatives.DerivativesTrade", // held, not droppable via API
            "BitCard.BitCard",              // held, not an update parameter
            "Transfer",                     // not a name at all
        ] {
            let err = narrowing_body(&current, &Narrowing::dropping([name])).unwrap_err();
            match &err {
                ExchangeError::PermissionNotRemovable {
                    permission,
                    removable,
                    ..
                } => {
                    assert_eq!(permission, name);
                    assert!(removable.contains(&"Wallet.AccountTransfer".to_string()));
                }
                other => panic!("{name}: {other:?}"),
            }
            assert!(err.to_string().contains("Wallet.AccountTransfer"), "{err}");
        }
        // remove_withdraw stays lenient: nothing to drop, nothing dropped.
        let NarrowingBody { dropped, .. } = narrowing_body(
            &current,
            &Narrowing {
                remove_withdraw: true,
                ..Narrowing::default()
            },
        )
        .unwrap();
        assert!(dropped.is_empty());
    }
}
