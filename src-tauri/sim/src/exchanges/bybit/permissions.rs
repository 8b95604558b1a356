//! Bybit permission objects: the groups `query-api` reports, the common
//! scopes they grant, the key's object from its scopes, and the answers of
//! `query-api` and `update-api` / `update-sub-api`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::accounts::SimScope;
use crate::http::{Req, iso_ms};
use crate::state::KeyState;

/// The groups `query-api` reports (every one, empty when nothing is
/// held) (apikey-info response parameters).
const GROUPS: [&str; 14] = [
    "ContractTrade",
    "Spot",
    "Wallet",
    "Options",
    "Derivatives",
    "CopyTrading",
    "BlockTrade",
    "Exchange",
    "NFT",
    "Earn",
    "FiatP2P",
    "FiatBitPay",
    "FiatConvertBroker",
    "Affiliate",
];

/// Groups an update may carry besides [`GROUPS`] (modify-master-apikey
/// request parameters, apikey-info response example).
const MORE_GROUPS: [&str; 4] = ["FiatBybitPay", "FiatGlobalPay", "BitCard", "ByXPost"];

/// The common scopes a Bybit permission object grants (what the simulator
/// enforces on the other endpoints).
pub(crate) fn scopes_of(p: &BTreeMap<String, Vec<String>>, sub: bool) -> BTreeSet<SimScope> {
    let has = |g: &str, f: &dyn Fn(&str) -> bool| {
        p.get(g).is_some_and(|items| items.iter().any(|i| f(i)))
    };
    let mut scopes = BTreeSet::from([SimScope::Read]);
    if has("Spot", &|i| i == "SpotTrade") {
        scopes.insert(SimScope::Trade);
    }
    if !sub && has("Wallet", &|i| i == "Withdraw") {
        scopes.insert(SimScope::Withdraw);
    }
    if has("Wallet", &|i| i.contains("Transfer")) {
        scopes.insert(SimScope::Transfer);
    }
    if has("ContractTrade", &|_| true) || has("Derivatives", &|_| true) {
        scopes.insert(SimScope::Futures);
    }
    if has("Options", &|_| true) {
        scopes.insert(SimScope::Options);
    }
    scopes
}

/// The key's permission object from its scopes (until an update or the
/// accounts file set it exactly).
fn rendered(k: &KeyState) -> BTreeMap<String, Vec<String>> {
    // Wallet: "AccountTransfer, SubMemberTransfer(master account),
    // SubMemberTransferList(sub account), Withdraw(master account)"
    // (apikey-info).
    let sub = k.account.parent_uid.is_some();
    let mut wallet = Vec::new();
    if k.has(SimScope::Transfer) {
        wallet.push("AccountTransfer");
        wallet.push(if sub {
            "SubMemberTransferList"
        } else {
            "SubMemberTransfer"
        });
    }
    if k.has(SimScope::Withdraw) && !sub {
        wallet.push("Withdraw");
    }
    let list = |on: bool, v: &[&str]| -> Vec<String> {
        if on {
            v.iter().map(|s| s.to_string()).collect()
        } else {
            Vec::new()
        }
    };
    BTreeMap::from([
        (
            "ContractTrade".to_string(),
            list(k.has(SimScope::Futures), &["Order", "Position"]),
        ),
        ("Spot".into(), list(k.has(SimScope::Trade), &["SpotTrade"])),
        ("Wallet".into(), list(true, &wallet)),
        (
            "Options".into(),
            list(k.has(SimScope::Options), &["OptionsTrade"]),
        ),
        (
            "Derivatives".into(),
            list(k.has(SimScope::Futures), &["DerivativesTrade"]),
        ),
    ])
}

fn permissions_of(k: &KeyState) -> Value {
    let held = k.bybit_permissions.clone().unwrap_or_else(|| rendered(k));
    let mut out = serde_json::Map::new();
    for g in GROUPS {
        out.insert(g.into(), json!([]));
    }
    for (g, items) in held {
        out.insert(g, json!(items));
    }
    Value::Object(out)
}

// Shape: "Get API Key Information", response example
// https://bybit-exchange.github.io/docs/v5/user/apikey-info
// (fixture: core/tests/data/exchange/bybit/query-api.json). `ips` is
// `["*"]` when unbound; `isMaster` / `parentUid` ("0" for a main account).
pub(super) fn query_api(k: &KeyState, _: &Req) -> Value {
    let created = k.account.created_at_ms.unwrap_or(1_700_000_000_000);
    json!({
        "id": "13770661", "note": k.account.label.clone().unwrap_or_default(), "apiKey": k.account.api_key,
        "readOnly": i64::from(k.read_only), "secret": "", "permissions": permissions_of(k),
        "ips": if k.ips.is_empty() { vec!["*".to_string()] } else { k.ips.clone() },
        "type": 1, "deadlineDay": if k.ips.is_empty() { 90 } else { -1 },
        "expiredAt": k.account.expires_at_ms.map(|e| iso_ms(e).replace(".000Z", "Z")).unwrap_or_default(),
        "createdAt": iso_ms(created).replace(".000Z", "Z"),
        "unified": 0, "uta": 1, "userID": 24617703, "inviterID": 0, "vipLevel": "No VIP",
        "mktMakerLevel": "0", "affiliateID": 0, "rsaPublicKey": "",
        "isMaster": k.account.parent_uid.is_none(),
        "parentUid": k.account.parent_uid.clone().unwrap_or_else(|| "0".into()),
        "kycLevel": "LEVEL_DEFAULT", "kycRegion": "",
        "userIDInt64": "0", "inviterIDInt64": "0", "affiliateIDInt64": "0",
    })
}

/// `update-api` (main key) or `update-sub-api` (sub key, on itself), with
/// the documented defaults for omitted fields.
pub(super) fn update(
    k: &mut KeyState,
    req: &Req,
    sub: bool,
    managed: bool,
) -> Result<Value, String> {
    let body: Value = serde_json::from_slice(&req.body)
        .map_err(|_| "params error: body is not JSON".to_string())?;
    if sub && !managed && body.get("apikey").is_some() {
        // "If you use corresponding sub uid api key call this endpoint,
        // `apikey` param cannot be passed, otherwise throwing an error".
        return Err("params error: apikey".into());
    }
    if !sub && body.get("ips").is_some() {
        // Changelog 2026-02-10: "Remove request fields "ips", modifying,
        // adding, or deleting IP addresses via API is prohibited."
        return Err("params error: modifying IP addresses via API is prohibited".into());
    }
    // "readOnly: 0 (default): Read and Write. 1: Read only".
    match body.get("readOnly") {
        None | Some(Value::Null) => k.read_only = false,
        Some(ro) => match ro.as_i64() {
            Some(0) => k.read_only = false,
            Some(1) => k.read_only = true,
            _ => return Err("params error: readOnly".into()),
        },
    }
    // update-sub-api: "don't pass ips or pass with "*" means no bind".
    if sub && body.get("ips").is_none_or(Value::is_null) {
        k.ips = Vec::new();
    }
    if let Some(ips) = body.get("ips").filter(|v| !v.is_null()) {
        let list: Vec<String> = match ips {
            Value::String(s) => s
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            Value::Array(a) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => return Err("params error: ips".into()),
        };
        k.ips = if list.iter().any(|i| i == "*") {
            Vec::new()
        } else {
            list
        };
    }
    // "permissions: Tick the types of permission. Don't send this param if
    // you don't want to change the permission": when sent, the object
    // replaces the key's permissions whole (a group left out is no longer
    // held), and the enforced scopes follow it.
    if let Some(p) = body.get("permissions") {
        let Some(groups) = p.as_object() else {
            return Err("params error: permissions".into());
        };
        let mut held = BTreeMap::new();
        for (group, items) in groups {
            if !GROUPS.contains(&group.as_str()) && !MORE_GROUPS.contains(&group.as_str()) {
                return Err(format!("params error: permissions.{group}"));
            }
            let Some(items) = items.as_array() else {
                return Err(format!("params error: permissions.{group}"));
            };
            let mut list = Vec::new();
            for item in items {
                let Some(item) = item.as_str() else {
                    return Err(format!("params error: permissions.{group}"));
                };
                if !list.iter().any(|i| i == item) {
                    list.push(item.to_string());
                }
            }
            held.insert(group.clone(), list);
        }
        k.scopes = scopes_of(&held, sub);
        k.bybit_permissions = Some(held);
    }
    // Shape: the response examples of modify-master-apikey /
    // modify-sub-apikey (same fields).
    Ok(json!({
        "id": "13770661", "note": k.account.label.clone().unwrap_or_default(), "apiKey": k.account.api_key,
        "readOnly": i64::from(k.read_only), "secret": "", "permissions": permissions_of(k),
        "ips": if k.ips.is_empty() { vec!["*".to_string()] } else { k.ips.clone() },
    }))
}

/// The permission groups a sub-account key reports (create-sub-api and
/// sub-apikeys response parameters; groups a sub-account cannot hold are
/// "always `[]`").
const SUB_GROUPS: [&str; 13] = [
    "ContractTrade",
    "Spot",
    "Wallet",
    "Options",
    "Derivatives",
    "Exchange",
    "Earn",
    "BlockTrade",
    "Affiliate",
    "FiatP2P",
    "FiatConvertBroker",
    "NFT",
    "CopyTrading",
];

/// What create-sub-api accepts per group (its request parameters, plus
/// `Derivatives` as update-sub-api documents it).
pub(super) fn sub_items(group: &str) -> Option<&'static [&'static str]> {
    Some(match group {
        "ContractTrade" => &["Order", "Position"],
        "Spot" => &["SpotTrade"],
        "Options" => &["OptionsTrade"],
        "Wallet" => &["AccountTransfer", "SubMemberTransferList"],
        "Exchange" => &["ExchangeHistory"],
        "Earn" => &["Earn"],
        "Derivatives" => &["DerivativesTrade"],
        _ => return None,
    })
}

pub(super) fn sub_permissions(k: &KeyState) -> Value {
    let held = k.bybit_permissions.clone().unwrap_or_else(|| rendered(k));
    let mut out = serde_json::Map::new();
    for g in SUB_GROUPS {
        out.insert(g.into(), json!(held.get(g).cloned().unwrap_or_default()));
    }
    for (g, items) in held {
        out.entry(g).or_insert_with(|| json!(items));
    }
    Value::Object(out)
}

pub(super) fn ips_of(k: &KeyState) -> Vec<String> {
    if k.ips.is_empty() {
        vec!["*".to_string()]
    } else {
        k.ips.clone()
    }
}
