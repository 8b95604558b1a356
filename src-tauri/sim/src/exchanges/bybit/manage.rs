//! A master-account key managing its sub-accounts' keys.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::lists::{next, paging};
use super::permissions::{ips_of, sub_items, sub_permissions, update};
use super::{EX, MASTER_UID, Manage, reply};
use crate::accounts::SimExchange;
use crate::http::{Req, Resp, iso_ms};
use crate::state::{KeyState, State};

fn iso_s(ms: i64) -> String {
    iso_ms(ms).replace(".000Z", "Z")
}

/// Master-account management of sub-account keys:
/// - `create-sub-api` (Create Sub UID API Key): "Use master user's api
///   key only", which must hold "Account Transfer", "Subaccount Transfer"
///   or "Withdrawal"; returns the secret once.
/// - `update-sub-api` / `delete-sub-api` with `apikey`: the same
///   permissions; the deleted key is "invalid immediately" (afterwards it
///   gets `10003`, as an unknown key does).
/// - `sub-apikeys` (Get Sub Account All API Keys): "Any permission",
///   "Only master account can call this endpoint".
/// - `query-sub-members` (Get Sub UID List (Limited)): master key with the
///   permissions of `create-sub-api`.
///
/// A sub-account key gets `10005` (permission denied); a sub UID that is
/// not the master's gets `500010` "The subaccount specified does not
/// belong to the parent account" (error codes page).
pub(super) fn manage(
    st: &State,
    keys: &mut std::collections::HashMap<(SimExchange, String), KeyState>,
    m: Manage,
    is_sub: bool,
    may_manage: bool,
    req: &Req,
) -> Resp {
    let denied = |msg: &str| reply(st, 200, 10005, msg, json!({}));
    let params = |msg: &str| reply(st, 200, 10001, msg, json!({}));
    let not_ours = || {
        reply(
            st,
            200,
            500010,
            "The subaccount specified does not belong to the parent account",
            json!({}),
        )
    };
    if is_sub {
        return denied(
            "Permission denied: only the master account's api key can call this endpoint.",
        );
    }
    if m != Manage::ListKeys && !may_manage {
        return denied("Permission denied, please check your API key permissions.");
    }
    let body: Value = if req.method == hyper::Method::POST {
        match serde_json::from_slice(&req.body) {
            Ok(b @ Value::Object(_)) => b,
            _ => return params("params error: body is not a JSON object"),
        }
    } else {
        Value::Null
    };
    match m {
        Manage::Members => {
            let members: Vec<Value> = st
                .subs
                .iter()
                .filter(|s| s.exchange == EX)
                .map(|s| {
                    json!({"uid": s.id, "username": s.label.clone().unwrap_or_else(|| s.id.clone()),
                           "memberType": 1, "status": 1, "remark": s.note.clone().unwrap_or_default(),
                           "accountMode": 5})
                })
                .collect();
            reply(st, 200, 0, "", json!({"subMembers": members}))
        }
        Manage::ListKeys => {
            let Some(sub) = req.param("subMemberId").filter(|s| !s.is_empty()) else {
                return params("params error: subMemberId is required");
            };
            if crate::exchanges::sub_account(st, EX, &sub).is_none() {
                return not_ours();
            }
            let (limit, offset) = paging(req, 20, 20);
            let all = crate::exchanges::keys_of_sub(keys, EX, &sub);
            let (page, more) = crate::exchanges::page(&all, offset, limit);
            let list: Vec<Value> = page
                .into_iter()
                .map(|k| {
                    let created = k.account.created_at_ms.unwrap_or(1_700_000_000_000);
                    let bound = !k.ips.is_empty();
                    json!({
                        "id": k.account.created_at_ms.unwrap_or(0).rem_euclid(100_000_000).to_string(),
                        "ips": ips_of(k), "apiKey": k.account.api_key,
                        "note": k.account.label.clone().unwrap_or_default(),
                        // 1 permanent (IP bound), 3 within the validity period.
                        "status": if bound { 1 } else { 3 },
                        "expiredAt": k.account.expires_at_ms.map(iso_s).unwrap_or_default(),
                        "createdAt": iso_s(created), "type": 1,
                        "permissions": sub_permissions(k), "secret": "******",
                        // Here `readOnly` is a boolean (sub-apikeys response
                        // parameters), unlike create/update's integer.
                        "readOnly": k.read_only,
                        "deadlineDay": match k.account.expires_at_ms {
                            Some(e) if !bound => (e - st.now_ms(EX)).max(0) / 86_400_000,
                            _ => -1,
                        },
                        "flag": "hmac",
                    })
                })
                .collect();
            reply(
                st,
                200,
                0,
                "",
                json!({"result": list, "nextPageCursor": next(more)}),
            )
        }
        Manage::Create => {
            let sub = match body.get("subuid") {
                Some(Value::Number(n)) if n.is_u64() => n.to_string(),
                _ => return params("params error: subuid must be an integer"),
            };
            if crate::exchanges::sub_account(st, EX, &sub).is_none() {
                return not_ours();
            }
            let read_only = match body.get("readOnly").and_then(Value::as_i64) {
                Some(0) => false,
                Some(1) => true,
                _ => return params("params error: readOnly"),
            };
            let Some(groups) = body.get("permissions").and_then(Value::as_object) else {
                return params("params error: permissions");
            };
            let mut held = BTreeMap::new();
            for (group, items) in groups {
                let (Some(allowed), Some(items)) = (sub_items(group), items.as_array()) else {
                    return params(&format!("params error: permissions.{group}"));
                };
                let mut list: Vec<String> = Vec::new();
                for item in items {
                    match item.as_str() {
                        Some(i) if allowed.contains(&i) => {
                            if !list.iter().any(|l| l == i) {
                                list.push(i.to_string());
                            }
                        }
                        _ => return params(&format!("params error: permissions.{group}")),
                    }
                }
                held.insert(group.clone(), list);
            }
            if held.values().all(Vec::is_empty) {
                // "one of below types must be passed, otherwise the error
                // is thrown". Whether an empty list counts as passed is not
                // said, so the simulator takes the strict reading: a type
                // is passed only with at least one of its items.
                return params("params error: permissions");
            }
            let ips = match body.get("ips") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::String(s)) => crate::exchanges::comma_list(s),
                Some(_) => return params("params error: ips must be a string"),
            };
            let ips = if ips.iter().any(|i| i == "*") {
                Vec::new()
            } else {
                ips
            };
            let note = match body.get("note") {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(_) => return params("params error: note"),
            };
            let now = st.now_ms(EX);
            let mut account = crate::accounts::KeyAccount::hmac(
                EX,
                &crate::exchanges::random_string(crate::exchanges::ALNUM, 18),
                &crate::exchanges::random_string(crate::exchanges::ALNUM, 36),
                &[],
            );
            account.bybit_permissions = Some(held);
            account.parent_uid = Some(MASTER_UID.to_string());
            account.sub_account = Some(sub);
            account.ips = ips.clone();
            account.label = Some(note.clone());
            account.created_at_ms = Some(now);
            // "No ip bound api key will be invalid after 90 days".
            account.expires_at_ms = ips.is_empty().then_some(now + 90 * 86_400_000);
            let Ok(mut k) = KeyState::new(&account) else {
                return params("params error");
            };
            k.read_only = read_only;
            k.updated_ms = now;
            let secret = account.secret.clone().unwrap_or_default();
            let v = json!({
                "id": now.rem_euclid(100_000_000).to_string(), "note": note,
                "apiKey": account.api_key, "readOnly": i64::from(k.read_only),
                "secret": secret, "permissions": sub_permissions(&k),
            });
            keys.insert((EX, account.api_key.clone()), k);
            reply(st, 200, 0, "", v)
        }
        Manage::Update | Manage::Delete => {
            let Some(target) = body.get("apikey").and_then(Value::as_str) else {
                return params("params error: apikey");
            };
            let Some(k) = keys
                .get_mut(&(EX, target.to_string()))
                .filter(|k| !k.revoked)
            else {
                return params("params error: apikey");
            };
            if k.account.sub_account.is_none() {
                return not_ours();
            }
            if m == Manage::Delete {
                k.revoked = true;
                return reply(st, 200, 0, "", json!({}));
            }
            match update(k, req, true, true) {
                Ok(v) => {
                    k.updated_ms = st.now_ms(EX);
                    reply(st, 200, 0, "", v)
                }
                Err(msg) => params(&msg),
            }
        }
    }
}
