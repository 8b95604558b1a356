//! Kraken spot REST: `API-Sign = base64(HMAC-SHA512(b64decode(secret),
//! path ‖ SHA256(nonce ‖ postdata)))` with a strictly increasing nonce per
//! key. Introspection: `POST /0/private/GetApiKeyInfo`.

use reqwest::Method;
use serde_json::Value;

use super::error::excerpt;
use super::http::{Prepared, RawResponse};
use super::json::{Time, TransferRow, field, int};
use super::types::*;
use super::{Endpoint, ExchangeError, MAX_PAGES, sign};
use crate::model::{Exchange, KeyType, Scope};

pub(super) fn capabilities() -> Capabilities {
    Capabilities {
        key_types: vec![KeyType::Hmac],
        introspection_endpoint: "POST /0/private/GetApiKeyInfo",
        reports_scopes: vec![Scope::Read, Scope::Trade, Scope::Withdraw],
        reports_ip_restriction: true,
        reports_ip_whitelist: true,
        reports_expiry: true,
        activity_orders: true,
        activity_withdrawals: true,
        activity_deposits: true,
        notes: vec![
            "Standard keys are deleted only in the web interface.",
            "Kraken has no transfer, margin, futures or options permission on spot keys: those stay unknown.",
        ],
        ..Capabilities::none(Exchange::Kraken)
    }
}

fn reason_for(err: &str) -> RejectReason {
    match err {
        "EAPI:Invalid key" => RejectReason::InvalidKey,
        "EAPI:Invalid signature" => RejectReason::BadSignature,
        "EAPI:Invalid nonce" => RejectReason::Timestamp,
        "EGeneral:Permission denied" => RejectReason::PermissionDenied,
        _ => RejectReason::Unclassified,
    }
}

fn parse(ep: &Endpoint, resp: RawResponse) -> Result<Value, ExchangeError> {
    let ex = Exchange::Kraken;
    let json = resp.json(ex)?;
    let errors: Vec<String> = json
        .get("error")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if let Some(first) = errors.first() {
        // "EAPI:Rate limit exceeded", "EService:Throttled: <ts>",
        // "EGeneral:Too many requests" (Kraken's API error messages).
        if first.starts_with("EAPI:Rate limit")
            || first.starts_with("EService:Throttled")
            || first.starts_with("EGeneral:Too many requests")
        {
            return Err(ep.rate_limited(None));
        }
        if first.starts_with("EGeneral:Temporary lockout") {
            return Err(ep.banned(None));
        }
        let (code, message) = match first.split_once(':') {
            Some((_, m)) => (excerpt(first.as_bytes()), excerpt(m.as_bytes())),
            None => (excerpt(first.as_bytes()), excerpt(first.as_bytes())),
        };
        return Err(ExchangeError::Rejected {
            exchange: ex,
            reason: reason_for(first),
            code,
            message,
        });
    }
    if resp.status != 200 {
        return Err(resp.malformed(ex));
    }
    json.get("result")
        .cloned()
        .ok_or_else(|| resp.malformed(ex))
}

async fn private(
    ep: &Endpoint,
    creds: &Credentials,
    method: &str,
    params: &str,
    weight: f64,
) -> Result<Value, ExchangeError> {
    use secrecy::ExposeSecret;
    if creds.key_type != KeyType::Hmac {
        return Err(ExchangeError::InvalidCredentials {
            reason: "Kraken keys are HMAC keys",
        });
    }
    let path = format!("/0/private/{method}");
    let call = || async {
        let mut build = || {
            let nonce = ep
                .transport
                .next_nonce(Exchange::Kraken, &creds.api_key)
                .to_string();
            let sep = if params.is_empty() { "" } else { "&" };
            let body = format!("nonce={nonce}{sep}{params}");
            let sig = sign::kraken(creds.secret.expose_secret(), &path, &nonce, &body)?;
            Ok(Prepared {
                method: Method::POST,
                url: ep.url(&path, ""),
                headers: vec![("API-Key", creds.api_key.clone()), ("API-Sign", sig)],
                body: Some(("application/x-www-form-urlencoded", body)),
            })
        };
        // Read-only queries change nothing: safe to retry with a new nonce.
        let resp = ep.send(&creds.api_key, weight, true, &mut build).await?;
        parse(ep, resp)
    };
    // Kraken reports its rate limit in the body, without a Retry-After: wait
    // for its counter to decay (about 3 s per unit on the Starter tier) and
    // try again, twice at most.
    let mut attempt = 0;
    loop {
        let result = ep
            .with_clock_retry(call, || {
                ep.sync_clock("/0/public/Time", |v| {
                    v.get("result")
                        .and_then(|r| int(r, "unixtime"))
                        .map(|s| s * 1000)
                })
            })
            .await;
        match result {
            Err(ExchangeError::RateLimited { .. }) if attempt < 2 => {
                attempt += 1;
                tokio::time::sleep(ep.transport.backoff(attempt + 2)).await;
            }
            other => return other,
        }
    }
}

pub(super) async fn verify(ep: &Endpoint, creds: &Credentials) -> Result<KeyReport, ExchangeError> {
    report_of(private(ep, creds, "GetApiKeyInfo", "", 1.0).await?)
}

/// The answer of the introspection call, parsed and turned into a report.
pub(super) fn report(ep: &Endpoint, resp: RawResponse) -> Result<KeyReport, ExchangeError> {
    report_of(parse(ep, resp)?)
}

/// Every permission value `GetApiKeyInfo` documents
/// (<https://docs.kraken.com/api-reference/account-data/get-api-key-info>).
const KNOWN_PERMISSIONS: &[&str] = &[
    "query-funds",
    "add-funds",
    "withdraw-funds",
    "earn-funds",
    "query-open-trades",
    "query-closed-trades",
    "modify-trades",
    "close-trades",
    "query-ledger",
    "export-data",
    "create-ws-token",
    "add-withdraw-address",
    "update-withdraw-address",
];

/// Permissions that move funds out or prepare it: withdrawing, and adding or
/// changing withdrawal addresses (the step before a withdrawal).
const WITHDRAW_RISK: &[&str] = &[
    "withdraw-funds",
    "add-withdraw-address",
    "update-withdraw-address",
];

/// Permissions that place, change, cancel or close orders.
const TRADE: &[&str] = &["modify-trades", "close-trades"];

fn report_of(raw: Value) -> Result<KeyReport, ExchangeError> {
    let perms: Vec<String> = raw
        .get("permissions")
        .and_then(Value::as_array)
        .ok_or(ExchangeError::Malformed {
            exchange: Exchange::Kraken,
            status: 200,
            excerpt: "GetApiKeyInfo without permissions".into(),
        })?
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    let any_of = |set: &[&str]| perms.iter().any(|p| set.contains(&p.as_str()));
    let unknown: Vec<&str> = perms
        .iter()
        .map(String::as_str)
        .filter(|p| !KNOWN_PERMISSIONS.contains(p))
        .collect();
    // A permission Keyward does not know could be anything, withdrawal
    // included: while one is present, "no" is never reported as definite.
    let known_or_unknown = |yes: bool| {
        if yes {
            Some(true)
        } else if unknown.is_empty() {
            Some(false)
        } else {
            None
        }
    };
    let mut notes = Vec::new();
    if !unknown.is_empty() {
        notes.push(format!(
            "Kraken reported permission(s) Keyward does not know: {}. Trade and withdraw are reported as unknown unless a known permission grants them.",
            unknown.join(", ")
        ));
    }
    for (p, what) in [
        ("add-withdraw-address", "add withdrawal addresses"),
        ("update-withdraw-address", "change withdrawal addresses"),
    ] {
        if perms.iter().any(|x| x == p) {
            notes.push(format!("The key can {what} ({p}): counted as withdraw."));
        }
    }
    for (p, what) in [
        ("add-funds", "deposit funds"),
        ("earn-funds", "move funds into and out of Earn"),
        ("export-data", "export account data"),
    ] {
        if perms.iter().any(|x| x == p) {
            notes.push(format!("The key can {what} ({p})."));
        }
    }
    let ips: Option<Vec<String>> = raw.get("ipAllowlist").and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    });
    let expires_at = int(&raw, "validUntil")
        .filter(|t| *t > 0)
        .map(Timestamp::from_unix_secs);
    Ok(KeyReport {
        removable: Vec::new(),
        account_role: None,
        exchange: Exchange::Kraken,
        authenticated: true,
        rejection: None,
        permissions: Permissions {
            read: Some(
                perms
                    .iter()
                    .any(|p| p.starts_with("query-") || p == "export-data"),
            ),
            trade: known_or_unknown(any_of(TRADE)),
            withdraw: known_or_unknown(any_of(WITHDRAW_RISK)),
            transfer: None,
            margin: None,
            futures: None,
            options: None,
        },
        ip_restricted: ips.as_ref().map(|l| !l.is_empty()),
        ip_whitelist: ips,
        expires_at,
        checked_at: Timestamp::now(),
        raw,
        notes,
    })
}

const TRANSFER: TransferRow = TransferRow {
    id: "refid",
    id_or_tx: false,
    asset: "asset",
    amount: "amount",
    status: "status",
    address: "info",
    tx_id: "txid",
    time: Time::Secs("time"),
};

/// "Get Closed Orders": 50 results per page, `ofs` to page, `count` the
/// total (https://docs.kraken.com/api-reference/account-data/get-closed-orders).
const CLOSED_PAGE: usize = 50;

async fn closed_orders(
    ep: &Endpoint,
    creds: &Credentials,
    start: &str,
) -> Result<(Vec<OrderEvent>, bool), ExchangeError> {
    let mut out = Vec::new();
    for page in 0..MAX_PAGES {
        let params = format!("{start}&ofs={}", page * CLOSED_PAGE);
        let closed = private(ep, creds, "ClosedOrders", &params, 1.0).await?;
        let entries = closed
            .get("closed")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let n = entries.len();
        out.extend(entries.iter().filter_map(|(id, o)| {
            let descr = o.get("descr");
            Some(OrderEvent {
                id: id.clone(),
                symbol: descr.and_then(|d| field(d, "pair"))?,
                side: descr.and_then(|d| field(d, "type")),
                status: field(o, "status").unwrap_or_default(),
                quantity: field(o, "vol"),
                price: descr.and_then(|d| field(d, "price")),
                time: Timestamp::from_unix_secs(int(o, "opentm")?),
            })
        }));
        let count = int(&closed, "count").unwrap_or(0).max(0) as usize;
        if n == 0 || (page + 1) * CLOSED_PAGE >= count {
            return Ok((out, false));
        }
    }
    Ok((out, true))
}

pub(super) async fn activity(
    ep: &Endpoint,
    creds: &Credentials,
    since: Timestamp,
) -> Result<Activity, ExchangeError> {
    let mut l = super::Listing::new(Exchange::Kraken, since);
    let start = format!("start={}", since.unix_ms().div_euclid(1000));
    let o = closed_orders(ep, creds, &start).await;
    let mut short = false;
    l.orders(o.map(|(v, t)| {
        short = t;
        v
    }));
    // Each needs its own permission (withdrawals: "Funds permissions -
    // Withdraw" or "Query"): a refusal is reported for that source alone.
    if l.stop() {
        return l.finish();
    }
    l.withdrawals(
        private(ep, creds, "WithdrawStatus", &start, 1.0)
            .await
            .map(|v| TRANSFER.read_all(&v)),
    );
    if l.stop() {
        return l.finish();
    }
    l.deposits(
        private(ep, creds, "DepositStatus", &start, 1.0)
            .await
            .map(|v| TRANSFER.read_all(&v)),
    );
    if short {
        l.note(format!(
            "Listing stopped after {MAX_PAGES} pages of closed orders: older ones are not listed."
        ));
    }
    l.finish()
}
