//! Binance sub-account key management "For Master Account": `GET
//! /sapi/v1/sub-account/list` (Query Sub-account List), `POST|DELETE
//! /sapi/v1/sub-account/subAccountApi` (create / delete) and `GET
//! /sapi/v1/sub-account/subAccountApi/ipRestriction`. The writes need the
//! master key's "Enable Spot & Margin Trading" (`-2015` otherwise); a
//! sub-account key gets `-1002`.
//!
//! Binance has no call that lists a sub-account's keys: an inventory holds
//! the sub-accounts and the master key and says it is incomplete; a known
//! key is found by asking each sub-account's IP restriction for it.

use reqwest::Method;
use serde_json::Value;

use super::{AccountInventory, AccountKey, CreatedSubKey, SubAccount, SubKeySpec};
use crate::exchange::binance::signed;
use crate::exchange::json::{bool_of, field, int};
use crate::exchange::types::{Credentials, RejectReason, Timestamp};
use crate::exchange::{Endpoint, ExchangeError, MAX_PAGES, sign};
use crate::model::{Exchange, Scope};

const EX: Exchange = Exchange::Binance;

/// "limit: Default value: 1, Max value: 200".
const PAGE: usize = 200;

/// The create call's permission flags, with the scope each grants (read is
/// always granted).
const FLAGS: [(&str, Scope); 5] = [
    ("canTrade", Scope::Trade),
    ("canMarginLoanRepay", Scope::Margin),
    ("canFuturesTrade", Scope::Futures),
    ("canUniversalTransfer", Scope::Transfer),
    ("canVanillaOptions", Scope::Options),
];

/// The apiRestrictions flags named in an inventory, in Binance's words.
const OWN_FLAGS: [&str; 9] = [
    "enableReading",
    "enableSpotAndMarginTrading",
    "enableWithdrawals",
    "enableInternalTransfer",
    "permitsUniversalTransfer",
    "enableMargin",
    "enableFutures",
    "enableVanillaOptions",
    "enablePortfolioMarginTrading",
];

fn malformed(what: &str) -> ExchangeError {
    ExchangeError::Malformed {
        exchange: EX,
        status: 200,
        excerpt: what.to_string(),
    }
}

fn enc(s: &str) -> String {
    sign::percent_encode(s)
}

pub(super) async fn sub_accounts(
    ep: &Endpoint,
    creds: &Credentials,
) -> Result<Vec<SubAccount>, ExchangeError> {
    let mut out: Vec<SubAccount> = Vec::new();
    for page in 1..=MAX_PAGES {
        let query = format!("page={page}&limit={PAGE}");
        let v = signed(
            ep,
            creds,
            Method::GET,
            "/sapi/v1/sub-account/list",
            &query,
            1.0,
        )
        .await?;
        let rows = v
            .get("subAccounts")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed("sub-account/list without subAccounts"))?;
        let before = out.len();
        for row in rows {
            let Some(email) = field(row, "email").filter(|e| !e.is_empty()) else {
                continue;
            };
            if out.iter().all(|s| s.id != email) {
                out.push(SubAccount {
                    id: email,
                    label: None,
                });
            }
        }
        if rows.len() < PAGE || out.len() == before {
            return Ok(out);
        }
    }
    Ok(out)
}

pub(super) async fn inventory(
    ep: &Endpoint,
    creds: &Credentials,
) -> Result<AccountInventory, ExchangeError> {
    let report = super::own_report(ep, creds).await?;
    let subs = sub_accounts(ep, creds).await?;
    let mut inv = AccountInventory::new(EX, subs);
    let raw = &report.raw;
    let words = OWN_FLAGS
        .iter()
        .filter(|f| bool_of(raw, f) == Some(true))
        .map(|f| f.to_string())
        .collect();
    inv.keys.push(super::own_key(
        creds,
        &report,
        None,
        words,
        int(raw, "createTime")
            .filter(|t| *t > 0)
            .map(Timestamp::from_unix_ms),
    ));
    inv.complete = false;
    inv.notes.push(
        "Binance has no call that lists a sub-account's API keys: only the sub-accounts and this master key are listed, and a key missing here proves nothing.".into(),
    );
    inv.notes.push(
        "Binance does not report the master key's IP allowlist, only whether it has one.".into(),
    );
    Ok(inv)
}

/// Asks one sub-account's IP restriction for `key_id`: `None` if the
/// sub-account does not hold it (`-1130`, invalid `subAccountApiKey`).
async fn ask(
    ep: &Endpoint,
    creds: &Credentials,
    email: &str,
    key_id: &str,
) -> Result<Option<AccountKey>, ExchangeError> {
    let query = format!("email={}&subAccountApiKey={}", enc(email), enc(key_id));
    let v = match signed(
        ep,
        creds,
        Method::GET,
        "/sapi/v1/sub-account/subAccountApi/ipRestriction",
        &query,
        1.0,
    )
    .await
    {
        Ok(v) => v,
        Err(ExchangeError::Rejected {
            code,
            reason: RejectReason::Unclassified,
            ..
        }) if code == "-1130" => return Ok(None),
        Err(e) => return Err(e),
    };
    let ips = v
        .get("ipList")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(AccountKey {
        key_id: key_id.to_string(),
        sub_account: Some(email.to_string()),
        label: None,
        permissions: Vec::new(),
        scopes: Vec::new(),
        ips,
        created: None,
        expires: None,
    }))
}

pub(super) async fn locate(
    ep: &Endpoint,
    creds: &Credentials,
    key_id: &str,
) -> Result<Option<AccountKey>, ExchangeError> {
    super::locate_in(sub_accounts(ep, creds).await?, |sub| async move {
        ask(ep, creds, &sub.id, key_id).await
    })
    .await
}

/// The create call's flags for `scopes`; withdraw cannot be granted to a
/// sub-account key through the API.
pub(super) fn flags_for(scopes: &[Scope]) -> Result<Vec<(&'static str, bool)>, ExchangeError> {
    for scope in scopes {
        if *scope != Scope::Read && FLAGS.iter().all(|(_, s)| s != scope) {
            return Err(ExchangeError::ScopeNotGrantable {
                exchange: EX,
                scope: *scope,
                why: "the create call has no such permission flag for a sub-account key (withdrawals are enabled only on Binance's website)",
            });
        }
    }
    Ok(FLAGS
        .iter()
        .map(|(name, s)| (*name, scopes.contains(s)))
        .collect())
}

pub(super) async fn create(
    ep: &Endpoint,
    creds: &Credentials,
    spec: &SubKeySpec,
) -> Result<CreatedSubKey, ExchangeError> {
    let flags = flags_for(&spec.scopes)?;
    if spec.label.trim().is_empty() {
        return Err(super::bad_spec(
            EX,
            "Binance requires a name (apiName) for a new key".into(),
        ));
    }
    let mut query = format!(
        "email={}&apiName={}",
        enc(&spec.sub_account),
        enc(&spec.label)
    );
    for (name, on) in &flags {
        query.push_str(&format!("&{name}={on}"));
    }
    // "status: 1 = IP Unrestricted, 2 = Restrict access to trusted IPs
    // only" with `ipAddress`, comma-separated.
    if spec.ips.is_empty() {
        query.push_str("&status=1");
    } else {
        query.push_str(&format!("&status=2&ipAddress={}", enc(&spec.ips.join(","))));
    }
    let v = signed(
        ep,
        creds,
        Method::POST,
        "/sapi/v1/sub-account/subAccountApi",
        &query,
        1.0,
    )
    .await?;
    let api_key = field(&v, "apiKey").filter(|k| !k.is_empty());
    let secret = v.get("secretKey").and_then(Value::as_str);
    let (Some(api_key), Some(secret)) = (api_key, secret) else {
        return Err(malformed(
            "sub-account API key create without apiKey or secretKey",
        ));
    };
    let mut scopes = vec![Scope::Read];
    let mut permissions = vec!["canRead".to_string()];
    for (name, scope) in FLAGS {
        if bool_of(&v, name) == Some(true) {
            scopes.push(scope);
            permissions.push(name.to_string());
        }
    }
    let ips = v
        .get("ipList")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_else(|| spec.ips.clone());
    let key = AccountKey {
        key_id: api_key.clone(),
        sub_account: Some(spec.sub_account.clone()),
        label: field(&v, "apiName").or_else(|| Some(spec.label.clone())),
        permissions,
        scopes,
        ips,
        created: None,
        expires: None,
    };
    Ok(CreatedSubKey {
        credentials: Credentials::hmac(api_key, secret),
        key,
    })
}

pub(super) async fn delete(
    ep: &Endpoint,
    creds: &Credentials,
    sub_account: &str,
    key_id: &str,
) -> Result<(), ExchangeError> {
    let query = format!(
        "email={}&subAccountApiKey={}",
        enc(sub_account),
        enc(key_id)
    );
    signed(
        ep,
        creds,
        Method::DELETE,
        "/sapi/v1/sub-account/subAccountApi",
        &query,
        1.0,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn withdraw_is_refused_and_flags_follow_the_scopes() {
        assert!(matches!(
            flags_for(&[Scope::Read, Scope::Withdraw]),
            Err(ExchangeError::ScopeNotGrantable {
                scope: Scope::Withdraw,
                ..
            })
        ));
        let flags = flags_for(&[Scope::Read, Scope::Trade]).unwrap();
        assert!(flags.contains(&("canTrade", true)));
        assert!(flags.contains(&("canFuturesTrade", false)));
    }
}
