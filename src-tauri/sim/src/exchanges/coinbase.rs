//! Coinbase Advanced Trade with CDP keys: `Authorization: Bearer <JWT>`.
//! Checked: a three-part JWS; header `alg` ES256 (P-256 key) or EdDSA
//! (Ed25519 key) matching the key, `kid` = a known key name, a non-empty
//! `nonce`; claims `iss` = `cdp`, `sub` = `kid`, `nbf` ≤ now + 5 s,
//! `now` < `exp` ≤ now + 125 s, and `uri` = `"<METHOD> <host><path>"` where
//! `<host>` must equal the request's `Host` header (on the real API that is
//! `api.coinbase.com`; served on loopback it is `127.0.0.1:PORT`) and
//! `<path>` is the exchange path without the `/coinbase` prefix and without
//! the query. Every failure is a bare 401 `Unauthorized`, like Coinbase; the
//! reason goes in an `x-sim-reason` header for debugging.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::accounts::{ActivityKind, SimExchange, SimScope};
use crate::http::{Req, Resp, iso_ms, parse_iso_ms};
use crate::state::{KeyState, State, Verifier, lock};

const EX: SimExchange = SimExchange::Coinbase;

pub(crate) fn rate_limited(retry_after: u64) -> Resp {
    Resp::json(
        429,
        json!({"error": "rate_limit_exceeded", "message": "Too many requests"}),
    )
    .with_header("Retry-After", retry_after.to_string())
}

fn unauthorized(reason: &str) -> Resp {
    Resp::text(401, "text/plain", "Unauthorized").with_header("x-sim-reason", reason.to_string())
}

pub(crate) fn handle(st: &State, req: &Req) -> Resp {
    if let Err(ra) = st.take_ip(EX, req.peer, 1.0) {
        return rate_limited(ra);
    }
    if req.method == hyper::Method::GET && req.path == "/api/v3/brokerage/time" {
        let now = st.now_ms(EX);
        return Resp::json(
            200,
            json!({"iso": iso_ms(now), "epochSeconds": (now / 1000).to_string(), "epochMillis": now.to_string()}),
        );
    }
    let route: fn(&KeyState, &Req) -> Value = match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/api/v3/brokerage/key_permissions") => permissions,
        ("GET", "/api/v3/brokerage/orders/historical/batch") => orders,
        _ => return Resp::not_found(),
    };
    let keys = lock(&st.keys);
    match authenticate(st, &keys, req) {
        Ok(k) => {
            let api_key = k.account.api_key.clone();
            let body = route(k, req);
            drop(keys);
            if let Err(ra) = st.take_key(EX, &api_key, 1.0) {
                return rate_limited(ra);
            }
            Resp::json(200, body)
        }
        Err(r) => {
            drop(keys);
            st.count_auth_failure(EX);
            r
        }
    }
}

fn decode_json(part: &str) -> Option<Value> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

fn authenticate<'a>(
    st: &State,
    keys: &'a std::collections::HashMap<(SimExchange, String), KeyState>,
    req: &Req,
) -> Result<&'a KeyState, Resp> {
    let token = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorized("no bearer token"))?;
    let parts: Vec<&str> = token.split('.').collect();
    let [h, c, s] = parts.as_slice() else {
        return Err(unauthorized("not a JWS"));
    };
    let header = decode_json(h).ok_or_else(|| unauthorized("bad header"))?;
    let claims = decode_json(c).ok_or_else(|| unauthorized("bad claims"))?;
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| unauthorized("bad signature encoding"))?;
    let kid = header["kid"]
        .as_str()
        .ok_or_else(|| unauthorized("no kid"))?;
    let alg = header["alg"].as_str().unwrap_or("");
    if header["nonce"].as_str().is_none_or(str::is_empty) {
        return Err(unauthorized("no nonce"));
    }
    let k = keys
        .get(&(EX, kid.to_string()))
        .filter(|k| !k.revoked)
        .ok_or_else(|| unauthorized("unknown key"))?;
    if !k.ip_allowed(req.peer) {
        return Err(unauthorized("ip not allowed"));
    }
    let signing_input = format!("{h}.{c}");
    let verified = match (&k.verifier, alg) {
        (Verifier::P256(vk), "ES256") => {
            use p256::ecdsa::signature::Verifier as _;
            p256::ecdsa::Signature::from_slice(&sig)
                .is_ok_and(|s| vk.verify(signing_input.as_bytes(), &s).is_ok())
        }
        (Verifier::Ed25519(vk), "EdDSA") => ed25519_dalek::Signature::from_slice(&sig)
            .is_ok_and(|s| vk.verify_strict(signing_input.as_bytes(), &s).is_ok()),
        _ => return Err(unauthorized("alg does not match the key")),
    };
    if !verified {
        return Err(unauthorized("signature"));
    }
    let now = st.now_ms(EX) / 1000;
    if claims["iss"] != "cdp" || claims["sub"].as_str() != Some(kid) {
        return Err(unauthorized("iss/sub"));
    }
    let (Some(nbf), Some(exp)) = (claims["nbf"].as_i64(), claims["exp"].as_i64()) else {
        return Err(unauthorized("nbf/exp"));
    };
    if nbf > now + 5 || exp <= now || exp > now + 125 {
        return Err(unauthorized("expired or not yet valid"));
    }
    let expected = format!("{} {}{}", req.method.as_str(), req.host, req.path);
    if claims["uri"].as_str() != Some(expected.as_str()) {
        return Err(unauthorized("uri"));
    }
    Ok(k)
}

fn permissions(k: &KeyState, _: &Req) -> Value {
    let w = !k.read_only;
    json!({
        "can_view": k.has(SimScope::Read),
        "can_trade": w && k.has(SimScope::Trade),
        "can_transfer": w && (k.has(SimScope::Transfer) || k.has(SimScope::Withdraw)),
        "portfolio_uuid": "8f1f3a2b-0000-4000-8000-000000000001",
        "portfolio_type": "DEFAULT",
    })
}

// "List Orders" (GET /api/v3/brokerage/orders/historical/batch): `limit`,
// `cursor`; the answer carries `has_next` and `cursor`
// (https://docs.cdp.coinbase.com/api-reference/advanced-trade-api/rest-api/orders/list-orders).
fn orders(k: &KeyState, req: &Req) -> Value {
    let since = req.param("start_date").and_then(|s| parse_iso_ms(&s));
    let all = super::items_between(&k.account, ActivityKind::Order, since, None);
    let limit = req
        .param("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(100);
    let offset = req
        .param("cursor")
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(0);
    let (page, next) = super::page(&all, offset, limit);
    let list: Vec<Value> = page
        .into_iter()
        .map(|o| {
            json!({
                "order_id": o.id, "product_id": o.symbol, "side": o.side.to_ascii_uppercase(),
                "status": if o.status.is_empty() { "FILLED".to_string() } else { o.status },
                "created_time": iso_ms(o.time_ms), "filled_size": o.amount, "average_filled_price": o.price,
                "order_type": "LIMIT",
            })
        })
        .collect();
    json!({"orders": list, "sequence": "0", "has_next": next.is_some(),
           "cursor": next.map(|n| n.to_string()).unwrap_or_default()})
}
