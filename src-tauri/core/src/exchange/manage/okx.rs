//! OKX v5 sub-account key management by the master account's key ("Applies
//! to master accounts only"): `GET /api/v5/users/subaccount/list`, `GET|POST
//! /api/v5/users/subaccount/apikey` (query / create), `POST
//! /api/v5/users/subaccount/delete-apikey`. Listing needs Read; create and
//! delete need Trade and a master key bound to IPs (`50035` otherwise). A
//! sub-account key gets `50030`.
//!
//! A created key's passphrase is chosen here, from the operating system's
//! random source, to OKX's rules ("8 to 32 alphanumeric characters
//! containing at least 1 number, 1 uppercase letter, 1 lowercase letter and
//! 1 special character"), and lives only in the returned credentials.

use rand::Rng;
use rand::rngs::OsRng;
use rand::seq::SliceRandom;
use reqwest::Method;
use serde_json::{Value, json};

use super::{AccountInventory, AccountKey, CreatedSubKey, SubAccount, SubKeySpec};
use crate::exchange::json::{field, int};
use crate::exchange::okx::{report_of, signed};
use crate::exchange::types::{Credentials, Timestamp};
use crate::exchange::{Endpoint, ExchangeError, MAX_PAGES, sign};
use crate::model::{Exchange, Scope};

const EX: Exchange = Exchange::Okx;

/// "limit: Number of results per request. The maximum is 100".
const PAGE: usize = 100;

/// "Support up to 20 addresses".
const MAX_IPS: usize = 20;

fn malformed(what: &str) -> ExchangeError {
    ExchangeError::Malformed {
        exchange: EX,
        status: 200,
        excerpt: what.to_string(),
    }
}

fn rows(data: &Value, what: &str) -> Result<Vec<Value>, ExchangeError> {
    data.as_array()
        .cloned()
        .ok_or_else(|| malformed(&format!("{what} without data")))
}

pub(super) async fn sub_accounts(
    ep: &Endpoint,
    creds: &Credentials,
) -> Result<Vec<SubAccount>, ExchangeError> {
    let mut out: Vec<SubAccount> = Vec::new();
    let mut after = String::new();
    for _ in 0..MAX_PAGES {
        let mut query = format!("limit={PAGE}");
        if !after.is_empty() {
            query.push_str(&format!("&after={after}"));
        }
        let data = signed(
            ep,
            creds,
            Method::GET,
            "/api/v5/users/subaccount/list",
            &query,
            "",
        )
        .await?;
        let page = rows(&data, "subaccount/list")?;
        let before = out.len();
        for row in &page {
            let Some(id) = field(row, "subAcct").filter(|s| !s.is_empty()) else {
                continue;
            };
            if out.iter().all(|s| s.id != id) {
                out.push(SubAccount {
                    id,
                    label: field(row, "label").filter(|l| !l.is_empty()),
                });
            }
        }
        // "after: Query the data earlier than the requested subaccount
        // creation timestamp"; a page that added nothing ends it too.
        let last_ts = page.last().and_then(|r| field(r, "ts"));
        match last_ts {
            Some(ts) if page.len() >= PAGE && out.len() > before => after = ts,
            _ => return Ok(out),
        }
    }
    Ok(out)
}

/// `perm` / `ip` as comma-separated lists.
fn list(s: Option<String>) -> Vec<String> {
    s.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// One key of a query or create answer, its scopes mapped by the adapter's
/// own report builder (the answer has `perm` and `ip` as account config
/// does).
fn account_key(row: &Value, sub: &str) -> Option<AccountKey> {
    let key_id = field(row, "apiKey").filter(|k| !k.is_empty())?;
    let perm = field(row, "perm").unwrap_or_default();
    let shaped = json!([{ "perm": perm, "ip": field(row, "ip").unwrap_or_default() }]);
    let scopes = report_of(shaped)
        .map(|r| r.permissions.granted())
        .unwrap_or_default();
    Some(AccountKey {
        key_id,
        sub_account: Some(sub.to_string()),
        label: field(row, "label").filter(|l| !l.is_empty()),
        permissions: list(Some(perm)),
        scopes,
        ips: list(field(row, "ip")),
        created: int(row, "ts").map(Timestamp::from_unix_ms),
        expires: None,
    })
}

async fn keys_of(
    ep: &Endpoint,
    creds: &Credentials,
    sub: &str,
) -> Result<Vec<AccountKey>, ExchangeError> {
    let query = format!("subAcct={}", sign::percent_encode(sub));
    let data = signed(
        ep,
        creds,
        Method::GET,
        "/api/v5/users/subaccount/apikey",
        &query,
        "",
    )
    .await?;
    Ok(rows(&data, "subaccount/apikey")?
        .iter()
        .filter_map(|r| account_key(r, sub))
        .collect())
}

pub(super) async fn inventory(
    ep: &Endpoint,
    creds: &Credentials,
) -> Result<AccountInventory, ExchangeError> {
    let report = super::own_report(ep, creds).await?;
    let subs = sub_accounts(ep, creds).await?;
    let mut inv = AccountInventory::new(EX, subs.clone());
    inv.keys.push(super::own_key(
        creds,
        &report,
        field(&report.raw, "label"),
        list(field(&report.raw, "perm")),
        None,
    ));
    inv.notes
        .push("OKX does not report when the master account's own key was created.".into());
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

/// create-apikey's `perm` for `scopes`: `read_only` and, for trading,
/// `trade` (OKX's trade permission covers margin, futures and options
/// trading too, so those are granted only together with Trade). A
/// sub-account key cannot get `withdraw` through the API.
pub(super) fn perm_for(scopes: &[Scope]) -> Result<&'static str, ExchangeError> {
    let mut trade = false;
    for scope in scopes {
        match scope {
            Scope::Read => {}
            Scope::Trade => trade = true,
            Scope::Margin | Scope::Futures | Scope::Options => {}
            Scope::Withdraw => {
                return Err(ExchangeError::ScopeNotGrantable {
                    exchange: EX,
                    scope: *scope,
                    why: "create-apikey takes only read_only and trade for a sub-account key",
                });
            }
            _ => {
                return Err(ExchangeError::ScopeNotGrantable {
                    exchange: EX,
                    scope: *scope,
                    why: "OKX has no sub-account key permission for it (only read_only and trade)",
                });
            }
        }
    }
    if !trade
        && let Some(s) = scopes
            .iter()
            .find(|s| matches!(s, Scope::Margin | Scope::Futures | Scope::Options))
    {
        return Err(ExchangeError::ScopeNotGrantable {
            exchange: EX,
            scope: *s,
            why: "OKX grants margin, futures and options trading only with the trade permission, which also allows spot trading: declare Trade too",
        });
    }
    Ok(if trade {
        "read_only,trade"
    } else {
        "read_only"
    })
}

const DIGITS: &[u8] = b"0123456789";
const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const SPECIAL: &[u8] = b"!@#$%^&*()-_=+";

/// A fresh passphrase to OKX's rules: 24 characters from the operating
/// system's random source, at least one digit, uppercase, lowercase and
/// special character.
pub(super) fn passphrase() -> String {
    let mut rng = OsRng;
    let all: Vec<u8> = [DIGITS, UPPER, LOWER, SPECIAL].concat();
    let mut chars: Vec<u8> = [DIGITS, UPPER, LOWER, SPECIAL]
        .iter()
        .map(|set| set[rng.gen_range(0..set.len())])
        .collect();
    while chars.len() < 24 {
        chars.push(all[rng.gen_range(0..all.len())]);
    }
    chars.shuffle(&mut rng);
    chars.into_iter().map(char::from).collect()
}

pub(super) async fn create(
    ep: &Endpoint,
    creds: &Credentials,
    spec: &SubKeySpec,
) -> Result<CreatedSubKey, ExchangeError> {
    let perm = perm_for(&spec.scopes)?;
    if spec.ips.len() > MAX_IPS {
        return Err(super::bad_spec(
            EX,
            format!("OKX binds at most {MAX_IPS} IP addresses to a key"),
        ));
    }
    if spec.label.trim().is_empty() {
        return Err(super::bad_spec(
            EX,
            "OKX requires a label for a new key".into(),
        ));
    }
    let passphrase = passphrase();
    let mut body = json!({
        "subAcct": spec.sub_account,
        "label": spec.label,
        "passphrase": passphrase,
        "perm": perm,
    });
    if !spec.ips.is_empty() {
        body["ip"] = json!(spec.ips.join(","));
    }
    // The request body holds the passphrase: wiped when dropped.
    let body = zeroize::Zeroizing::new(body.to_string());
    let data = signed(
        ep,
        creds,
        Method::POST,
        "/api/v5/users/subaccount/apikey",
        "",
        &body,
    )
    .await;
    drop(body);
    let data = data?;
    let row = crate::exchange::okx::first(&data)
        .ok_or_else(|| malformed("subaccount/apikey create without data"))?;
    let api_key = field(row, "apiKey").filter(|k| !k.is_empty());
    let secret = row.get("secretKey").and_then(Value::as_str);
    let (Some(api_key), Some(secret)) = (api_key, secret) else {
        return Err(malformed(
            "subaccount/apikey create without apiKey or secretKey",
        ));
    };
    let credentials = Credentials::hmac(api_key, secret).with_passphrase(passphrase);
    let key = account_key(row, &spec.sub_account)
        .ok_or_else(|| malformed("subaccount/apikey create without apiKey"))?;
    Ok(CreatedSubKey { credentials, key })
}

pub(super) async fn delete(
    ep: &Endpoint,
    creds: &Credentials,
    sub_account: &str,
    key_id: &str,
) -> Result<(), ExchangeError> {
    let body = json!({ "subAcct": sub_account, "apiKey": key_id }).to_string();
    signed(
        ep,
        creds,
        Method::POST,
        "/api/v5/users/subaccount/delete-apikey",
        "",
        &body,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passphrase_meets_okx_rules_and_is_fresh() {
        let a = passphrase();
        let b = passphrase();
        assert_ne!(a, b);
        for p in [a, b] {
            assert!((8..=32).contains(&p.chars().count()));
            assert!(p.chars().any(|c| c.is_ascii_digit()));
            assert!(p.chars().any(|c| c.is_ascii_uppercase()));
            assert!(p.chars().any(|c| c.is_ascii_lowercase()));
            assert!(p.chars().any(|c| !c.is_ascii_alphanumeric()));
        }
    }

    #[test]
    fn withdraw_and_futures_alone_are_refused_before_sending() {
        assert!(matches!(
            perm_for(&[Scope::Read, Scope::Withdraw]),
            Err(ExchangeError::ScopeNotGrantable {
                scope: Scope::Withdraw,
                ..
            })
        ));
        assert!(perm_for(&[Scope::Read, Scope::Futures]).is_err());
        assert_eq!(perm_for(&[Scope::Read]).unwrap(), "read_only");
        assert_eq!(
            perm_for(&[Scope::Read, Scope::Trade]).unwrap(),
            "read_only,trade"
        );
    }
}
