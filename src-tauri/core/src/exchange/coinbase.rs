//! Coinbase Advanced Trade with CDP keys: one JWT per request (ES256 with an
//! EC P-256 key, or EdDSA), `uri` claim = `"METHOD host/path"` where host is
//! the authority actually requested (the prefix of a custom base URL is not
//! part of the path). Introspection: `GET /api/v3/brokerage/key_permissions`.

use reqwest::Method;
use serde_json::Value;

use super::error::excerpt;
use super::http::{Prepared, RawResponse};
use super::json::{OrderRow, Time, bool_of, field};
use super::types::*;
use super::{Endpoint, ExchangeError, MAX_PAGES, sign};
use crate::model::{Exchange, KeyType, Scope};

pub(super) fn capabilities() -> Capabilities {
    Capabilities {
        key_types: vec![KeyType::EcdsaJwt, KeyType::Ed25519],
        introspection_endpoint: "GET /api/v3/brokerage/key_permissions",
        reports_scopes: vec![Scope::Read, Scope::Trade, Scope::Withdraw, Scope::Transfer],
        activity_orders: true,
        notes: vec![
            "Coinbase reports no IP allowlist, creation or expiry time for a key.",
            "CDP keys are deleted only in the CDP portal.",
            "Coinbase answers 401 without a reason: a revoked key and a bad signature look alike.",
        ],
        ..Capabilities::none(Exchange::Coinbase)
    }
}

fn parse(resp: RawResponse) -> Result<Value, ExchangeError> {
    let ex = Exchange::Coinbase;
    match resp.status {
        200 => resp.json(ex),
        401 | 403 => {
            let json = resp.json(ex).ok();
            let message = json
                .as_ref()
                .and_then(|j| field(j, "error_details").or_else(|| field(j, "message")))
                .unwrap_or_else(|| super::error::excerpt(&resp.body));
            Err(ExchangeError::Rejected {
                exchange: ex,
                code: resp.status.to_string(),
                message: excerpt(message.as_bytes()),
                reason: if resp.status == 401 {
                    RejectReason::Unauthorized
                } else {
                    RejectReason::PermissionDenied
                },
            })
        }
        _ => {
            let json = resp.json(ex)?;
            Err(ExchangeError::Rejected {
                exchange: ex,
                code: field(&json, "error")
                    .map(|c| excerpt(c.as_bytes()))
                    .unwrap_or_else(|| resp.status.to_string()),
                message: excerpt(field(&json, "message").unwrap_or_default().as_bytes()),
                reason: RejectReason::Unclassified,
            })
        }
    }
}

async fn signed_get(
    ep: &Endpoint,
    creds: &Credentials,
    path: &str,
    query: &str,
) -> Result<Value, ExchangeError> {
    use secrecy::ExposeSecret;
    let host = ep.host();
    let call = || async {
        let mut build = || {
            let uri = format!("GET {host}{path}");
            let nonce = sign::random_nonce_hex();
            let jwt = sign::coinbase_jwt(
                creds.secret.expose_secret(),
                creds.key_type,
                &sign::JwtClaims {
                    key_name: &creds.api_key,
                    uri: &uri,
                    now_secs: ep.now_ms().div_euclid(1000),
                    nonce_hex: &nonce,
                },
            )?;
            Ok(Prepared {
                method: Method::GET,
                url: ep.url(path, query),
                headers: vec![("Authorization", format!("Bearer {jwt}"))],
                body: None,
            })
        };
        parse(ep.send(&creds.api_key, 1.0, true, &mut build).await?)
    };
    match call().await {
        // A JWT outside its 2-minute life is refused with a bare 401. Check
        // the exchange clock once; retry only if ours was off.
        Err(
            e @ ExchangeError::Rejected {
                reason: RejectReason::Unauthorized,
                ..
            },
        ) => {
            let before = ep.now_ms();
            ep.sync_clock("/api/v3/brokerage/time", |v| {
                super::json::int(v, "epochMillis")
                    .or_else(|| super::json::int(v, "epochSeconds").map(|s| s * 1000))
            })
            .await?;
            if (ep.now_ms() - before).abs() > 5_000 {
                call().await
            } else {
                Err(e)
            }
        }
        other => other,
    }
}

pub(super) async fn verify(ep: &Endpoint, creds: &Credentials) -> Result<KeyReport, ExchangeError> {
    report_of(signed_get(ep, creds, "/api/v3/brokerage/key_permissions", "").await?)
}

/// The answer of the introspection call, parsed and turned into a report.
pub(super) fn report(resp: RawResponse) -> Result<KeyReport, ExchangeError> {
    report_of(parse(resp)?)
}

fn report_of(raw: Value) -> Result<KeyReport, ExchangeError> {
    if !raw.is_object() {
        return Err(ExchangeError::Malformed {
            exchange: Exchange::Coinbase,
            status: 200,
            excerpt: super::error::excerpt(raw.to_string().as_bytes()),
        });
    }
    let transfer = bool_of(&raw, "can_transfer");
    Ok(KeyReport {
        removable: Vec::new(),
        account_role: None,
        exchange: Exchange::Coinbase,
        authenticated: true,
        rejection: None,
        permissions: Permissions {
            read: bool_of(&raw, "can_view"),
            trade: bool_of(&raw, "can_trade"),
            // `can_transfer` covers deposits and withdrawals.
            withdraw: transfer,
            transfer,
            margin: None,
            futures: None,
            options: None,
        },
        ip_restricted: None,
        ip_whitelist: None,
        expires_at: None,
        checked_at: Timestamp::now(),
        raw,
        notes: vec!["Coinbase does not report IP restrictions or expiry for CDP keys.".into()],
    })
}

const ORDER: OrderRow = OrderRow {
    id: "order_id",
    symbol: "product_id",
    side: "side",
    lowercase_side: true,
    status: "status",
    quantity: "filled_size",
    price: "average_filled_price",
    time: Time::Utc("created_time"),
};

pub(super) async fn activity(
    ep: &Endpoint,
    creds: &Credentials,
    since: Timestamp,
) -> Result<Activity, ExchangeError> {
    let mut l = super::Listing::new(Exchange::Coinbase, since);
    // "List Orders": `limit`, `cursor`; the answer has `has_next` and
    // `cursor` (https://docs.cdp.coinbase.com/api-reference/advanced-trade-api/rest-api/orders/list-orders).
    let start = sign::percent_encode(&since.to_rfc3339());
    let mut orders = Vec::new();
    let mut cursor = String::new();
    let mut result = Ok(());
    let mut pages = 0;
    loop {
        if pages == MAX_PAGES {
            l.note(format!(
                "Listing stopped after {MAX_PAGES} pages: older orders are not listed."
            ));
            break;
        }
        pages += 1;
        let mut query = format!("start_date={start}&limit=100");
        if !cursor.is_empty() {
            query.push_str(&format!("&cursor={}", sign::percent_encode(&cursor)));
        }
        let raw = match signed_get(
            ep,
            creds,
            "/api/v3/brokerage/orders/historical/batch",
            &query,
        )
        .await
        {
            Ok(r) => r,
            Err(e) => {
                result = Err(e);
                break;
            }
        };
        let Some(page) = raw.get("orders").and_then(Value::as_array) else {
            result = Err(ExchangeError::Malformed {
                exchange: Exchange::Coinbase,
                status: 200,
                excerpt: "no orders list".into(),
            });
            break;
        };
        orders.extend(page.iter().filter_map(|o| ORDER.read(o)));
        cursor = field(&raw, "cursor").unwrap_or_default();
        if bool_of(&raw, "has_next") != Some(true) || cursor.is_empty() {
            break;
        }
    }
    l.orders(result.map(|()| orders));
    l.note("Withdrawals and deposits are not listed by the Advanced Trade API for CDP keys.");
    l.finish()
}
