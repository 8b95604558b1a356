//! Bybit v5 sub-account key management by the master account's key:
//! `GET /v5/user/query-sub-members` (Get Sub UID List (Limited)), `GET
//! /v5/user/sub-apikeys` (Get Sub Account All API Keys, paged by `cursor`),
//! `POST /v5/user/create-sub-api` and `POST /v5/user/delete-sub-api` with
//! `apikey`. Each needs a master key holding "Account Transfer",
//! "Subaccount Transfer" or "Withdrawal" (sub-apikeys: any permission); a
//! sub-account key gets `10005`.

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{AccountInventory, AccountKey, CreatedSubKey, SubAccount, SubKeySpec};
use crate::exchange::bybit::{report_of, signed, strings};
use crate::exchange::json::{bool_of, field, int};
use crate::exchange::types::{Credentials, Timestamp};
use crate::exchange::{Endpoint, ExchangeError, MAX_PAGES, sign};
use crate::model::{Exchange, Scope};

const EX: Exchange = Exchange::Bybit;

/// Page size of `sub-apikeys` ("limit: [1, 20]. Default: 20").
const PAGE: usize = 20;

pub(super) async fn sub_accounts(
    ep: &Endpoint,
    creds: &Credentials,
) -> Result<Vec<SubAccount>, ExchangeError> {
    let result = signed(ep, creds, Method::GET, "/v5/user/query-sub-members", "").await?;
    let members = result
        .get("subMembers")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("query-sub-members without subMembers"))?;
    Ok(members
        .iter()
        .filter_map(|m| {
            Some(SubAccount {
                id: field(m, "uid").filter(|u| !u.is_empty())?,
                label: field(m, "username").filter(|u| !u.is_empty()),
            })
        })
        .collect())
}

fn malformed(what: &str) -> ExchangeError {
    ExchangeError::Malformed {
        exchange: EX,
        status: 200,
        excerpt: what.to_string(),
    }
}

/// The permission object as `Group.Item` names (the names narrowing uses),
/// read-only keys marked.
fn permission_names(item: &Value, read_only: bool) -> Vec<String> {
    let mut out = Vec::new();
    if read_only {
        out.push("ReadOnly".to_string());
    }
    if let Some(groups) = item.get("permissions").and_then(Value::as_object) {
        for (group, items) in groups {
            for p in strings(Some(items)) {
                out.push(format!("{group}.{p}"));
            }
        }
    }
    out
}

fn time_of(item: &Value, name: &str) -> Option<Timestamp> {
    field(item, name)
        .filter(|s| !s.is_empty())
        .and_then(|s| Timestamp::parse_utc(&s))
        .filter(|t| t.unix_ms() > 0)
}

/// One key of a listing or a create answer, its scopes mapped by the
/// adapter's own report builder (`readOnly` is a boolean in sub-apikeys,
/// an integer elsewhere).
fn account_key(item: &Value, sub: &str) -> Option<AccountKey> {
    let key_id = field(item, "apiKey").filter(|k| !k.is_empty())?;
    let read_only = bool_of(item, "readOnly")
        .or_else(|| int(item, "readOnly").map(|r| r == 1))
        .unwrap_or(false);
    let mut shaped = item.clone();
    if let Some(o) = shaped.as_object_mut() {
        o.remove("secret");
        o.insert("readOnly".into(), json!(i64::from(read_only)));
        o.entry("permissions").or_insert_with(|| json!({}));
    }
    let scopes = report_of(shaped)
        .map(|r| r.permissions.granted())
        .unwrap_or_default();
    Some(AccountKey {
        key_id,
        sub_account: Some(sub.to_string()),
        label: field(item, "note").filter(|n| !n.is_empty()),
        permissions: permission_names(item, read_only),
        scopes,
        ips: strings(item.get("ips"))
            .into_iter()
            .filter(|i| i != "*")
            .collect(),
        created: time_of(item, "createdAt"),
        expires: time_of(item, "expiredAt"),
    })
}

/// Every key of one sub-account, following `nextPageCursor`.
async fn keys_of(
    ep: &Endpoint,
    creds: &Credentials,
    sub: &str,
) -> Result<Vec<AccountKey>, ExchangeError> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    for _ in 0..MAX_PAGES {
        let mut query = format!("subMemberId={}&limit={PAGE}", sign::percent_encode(sub));
        if !cursor.is_empty() {
            query.push_str(&format!("&cursor={}", sign::percent_encode(&cursor)));
        }
        let result = signed(ep, creds, Method::GET, "/v5/user/sub-apikeys", &query).await?;
        let rows = result
            .get("result")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed("sub-apikeys without result"))?;
        out.extend(rows.iter().filter_map(|r| account_key(r, sub)));
        match field(&result, "nextPageCursor").filter(|c| !c.is_empty() && *c != cursor) {
            Some(next) => cursor = next,
            None => return Ok(out),
        }
    }
    Err(malformed("sub-apikeys: more pages than Keyward follows"))
}

pub(super) async fn inventory(
    ep: &Endpoint,
    creds: &Credentials,
) -> Result<AccountInventory, ExchangeError> {
    let report = super::own_report(ep, creds).await?;
    let subs = sub_accounts(ep, creds).await?;
    let mut inv = AccountInventory::new(EX, subs.clone());
    let raw = &report.raw;
    let read_only = int(raw, "readOnly") == Some(1);
    inv.keys.push(super::own_key(
        creds,
        &report,
        field(raw, "note"),
        permission_names(raw, read_only),
        time_of(raw, "createdAt"),
    ));
    for sub in &subs {
        inv.add(&sub.id, keys_of(ep, creds, &sub.id).await);
    }
    Ok(inv)
}

pub(super) async fn locate(
    ep: &Endpoint,
    creds: &Credentials,
    key_id: &str,
) -> Result<Option<AccountKey>, ExchangeError> {
    super::locate_in(sub_accounts(ep, creds).await?, |sub| async move {
        let keys = keys_of(ep, creds, &sub.id).await?;
        Ok(keys.into_iter().find(|k| k.key_id == key_id))
    })
    .await
}

/// The create-sub-api permission object for `scopes`, and `readOnly`.
/// Groups and items are those a sub-account key may hold (create-sub-api's
/// `permissions`: no Withdraw in `Wallet`).
pub(super) fn permissions_for(
    scopes: &[Scope],
) -> Result<(Map<String, Value>, bool), ExchangeError> {
    let mut groups = Map::new();
    for scope in scopes {
        let (group, items): (&str, &[&str]) = match scope {
            Scope::Read => continue,
            Scope::Trade => ("Spot", &["SpotTrade"]),
            Scope::Futures => ("ContractTrade", &["Order", "Position"]),
            Scope::Options => ("Options", &["OptionsTrade"]),
            Scope::Transfer => ("Wallet", &["AccountTransfer"]),
            Scope::Withdraw => {
                return Err(ExchangeError::ScopeNotGrantable {
                    exchange: EX,
                    scope: *scope,
                    why: "create-sub-api offers no withdrawal permission for a sub-account key",
                });
            }
            _ => {
                return Err(ExchangeError::ScopeNotGrantable {
                    exchange: EX,
                    scope: *scope,
                    why: "Bybit has no key permission that is this scope alone",
                });
            }
        };
        groups.insert(group.into(), json!(items));
    }
    let read_only = groups.is_empty();
    if read_only {
        // "one of below types must be passed, otherwise the error is
        // thrown", and an empty list may not count as passed. With
        // `readOnly` 1 the key can write nothing whatever its lists say
        // (query-api's documented answer has readOnly 1 with full lists),
        // so the spot item only lets it read spot orders.
        groups.insert("Spot".into(), json!(["SpotTrade"]));
    }
    Ok((groups, read_only))
}

pub(super) async fn create(
    ep: &Endpoint,
    creds: &Credentials,
    spec: &SubKeySpec,
) -> Result<CreatedSubKey, ExchangeError> {
    let (permissions, read_only) = permissions_for(&spec.scopes)?;
    let subuid: u64 = spec.sub_account.parse().map_err(|_| {
        super::bad_spec(
            EX,
            format!(
                "a Bybit sub-account is named by its numeric UID, not {:?}",
                spec.sub_account.chars().take(40).collect::<String>()
            ),
        )
    })?;
    let mut body = json!({
        "subuid": subuid,
        "note": spec.label,
        "readOnly": i64::from(read_only),
        "permissions": permissions,
    });
    if !spec.ips.is_empty() {
        body["ips"] = json!(spec.ips.join(","));
    }
    let result = signed(
        ep,
        creds,
        Method::POST,
        "/v5/user/create-sub-api",
        &body.to_string(),
    )
    .await?;
    let api_key = field(&result, "apiKey").filter(|k| !k.is_empty());
    let secret = result.get("secret").and_then(Value::as_str);
    let (Some(api_key), Some(secret)) = (api_key, secret) else {
        return Err(malformed("create-sub-api without apiKey or secret"));
    };
    let credentials = Credentials::hmac(api_key, secret);
    let mut key = account_key(&result, &spec.sub_account)
        .ok_or_else(|| malformed("create-sub-api without apiKey"))?;
    key.ips = spec.ips.clone();
    key.label = key.label.or_else(|| Some(spec.label.clone()));
    Ok(CreatedSubKey { credentials, key })
}

pub(super) async fn delete(
    ep: &Endpoint,
    creds: &Credentials,
    key_id: &str,
) -> Result<(), ExchangeError> {
    let body = json!({ "apikey": key_id }).to_string();
    signed(ep, creds, Method::POST, "/v5/user/delete-sub-api", &body).await?;
    Ok(())
}
