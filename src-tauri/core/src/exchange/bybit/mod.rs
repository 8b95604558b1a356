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
//!
//! `narrow` owns the permission groups and the update endpoints' bodies,
//! `activity` the order, withdrawal and deposit listings.

mod activity;
mod narrow;

pub(super) use activity::activity;
pub(super) use narrow::narrow;

use reqwest::Method;
use serde_json::Value;

use crate::exchange::error::excerpt;
use crate::exchange::http::{Prepared, RawResponse};
use crate::exchange::json::{bool_of, field, int};
use crate::exchange::types::*;
use crate::exchange::{Endpoint, ExchangeError, sign};
use crate::model::{Exchange, KeyType, Scope};

const RECV_WINDOW: u32 = 5000;

pub(super) fn capabilities() -> Capabilities {
    Capabilities {
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
        manage_sub_keys: true,
        list_account_keys: true,
        notes: vec![
            "A key deletes or narrows only itself, and Bybit requires it to hold a transfer (or, for a main-account key, withdrawal) permission to do so.",
            "A main-account key's IP binding cannot be changed through the API (update-api has no ips since 2026-02-10); it is kept as it is. A sub-account key's IPs are always sent back, since omitting them unbinds the key.",
            "Keys without an IP restriction expire after 90 days (reported as expiry).",
        ],
        ..Capabilities::none(Exchange::Bybit)
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
            return Err(ep.banned(
                resp.retry_after
                    .or(Some(std::time::Duration::from_secs(600))),
            ));
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
        return Err(ep.rate_limited(resp.retry_after));
    }
    Err(ExchangeError::Rejected {
        exchange: ex,
        code: code.to_string(),
        message: excerpt(field(&json, "retMsg").unwrap_or_default().as_bytes()),
        reason: reason_for(code),
    })
}

pub(in crate::exchange) async fn signed(
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

pub(in crate::exchange) fn strings(v: Option<&Value>) -> Vec<String> {
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
pub(in crate::exchange) fn is_master(raw: &Value) -> Option<bool> {
    bool_of(raw, "isMaster").or_else(|| field(raw, "parentUid").map(|p| p == "0" || p.is_empty()))
}

pub(in crate::exchange) fn report_of(raw: Value) -> Result<KeyReport, ExchangeError> {
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
        removable: narrow::removable(&raw),
        account_role: is_master(&raw).map(|m| {
            if m {
                AccountRole::Master
            } else {
                AccountRole::Sub
            }
        }),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_answer_reports_its_ips_and_main_account() {
        let r = report_of(narrow::tests::documented()).unwrap();
        assert_eq!(r.ip_restricted, Some(true));
        assert_eq!(r.ip_whitelist.as_ref().map(Vec::len), Some(3));
        // "1970-01-01T00:00:00Z" is no expiry.
        assert_eq!(r.expires_at, None);
        assert!(r.notes.iter().any(|n| n.contains("Main-account")));
        // readOnly 1: nothing writable, whatever the lists say.
        assert_eq!(r.permissions.trade, Some(false));
    }
}
