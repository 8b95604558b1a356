//! Narrowing a Bybit key: the permission groups the update endpoints
//! document, what the key can drop ([`removable`]), and the body of
//! `update-api` / `update-sub-api` that drops it without losing anything
//! else ([`narrowing_body`]).

use reqwest::Method;
use serde_json::{Value, json};

use super::{is_master, signed, strings};
use crate::exchange::json::int;
use crate::exchange::types::*;
use crate::exchange::{Endpoint, ExchangeError};
use crate::model::{Exchange, Scope};

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
pub(in crate::exchange) async fn narrow(
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The documented `query-api` example answer (a main-account key bound
    /// to three IPs, read-only).
    pub(in crate::exchange::bybit) fn documented() -> Value {
        let file: Value = serde_json::from_str(include_str!(
            "../../../tests/data/exchange/bybit/query-api.json"
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
