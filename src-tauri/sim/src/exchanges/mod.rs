//! One module per exchange: authentication exactly as the exchange documents
//! it, its introspection endpoint, time endpoint, activity and errors.
//! This code verifies on its own (it shares nothing with Keyward's signers),
//! so a signing bug in the client fails here.

pub(crate) mod binance;
pub(crate) mod bybit;
pub(crate) mod coinbase;
pub(crate) mod kraken;
pub(crate) mod okx;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Sha256, Sha512};

use crate::accounts::{ActivityItem, ActivityKind, KeyAccount};

pub(crate) fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length: the error branch cannot occur.
    <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .map(|mut mac| {
            mac.update(msg);
            mac.finalize().into_bytes().to_vec()
        })
        .unwrap_or_default()
}

pub(crate) fn hmac_sha512(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    <Hmac<Sha512> as KeyInit>::new_from_slice(key)
        .map(|mut mac| {
            for p in parts {
                mac.update(p);
            }
            mac.finalize().into_bytes().to_vec()
        })
        .unwrap_or_default()
}

/// Constant-time comparison of two byte strings.
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(crate) fn items(
    a: &KeyAccount,
    kind: ActivityKind,
    since_ms: Option<i64>,
) -> Vec<ActivityItem> {
    a.activity
        .iter()
        .filter(|i| i.kind == kind && since_ms.is_none_or(|s| i.time_ms >= s))
        .cloned()
        .collect()
}

/// Items of `kind` with `since <= time <= until` (either bound optional),
/// newest first, as the exchanges list them.
pub(crate) fn items_between(
    a: &KeyAccount,
    kind: ActivityKind,
    since_ms: Option<i64>,
    until_ms: Option<i64>,
) -> Vec<ActivityItem> {
    let mut v: Vec<ActivityItem> = items(a, kind, since_ms)
        .into_iter()
        .filter(|i| until_ms.is_none_or(|u| i.time_ms <= u))
        .collect();
    v.sort_by_key(|i| std::cmp::Reverse(i.time_ms));
    v
}

/// One page of `v`: `offset` (a cursor the simulator hands out as a plain
/// number) and `limit`; the next offset when more remain.
pub(crate) fn page<T: Clone>(v: &[T], offset: usize, limit: usize) -> (Vec<T>, Option<usize>) {
    let end = (offset + limit).min(v.len());
    let slice = v.get(offset.min(v.len())..end).unwrap_or_default().to_vec();
    (slice, (end < v.len()).then_some(end))
}

/// `n` random characters from `alphabet` (new key ids and secrets).
pub(crate) fn random_string(alphabet: &[u8], n: usize) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from(alphabet[rng.gen_range(0..alphabet.len())]))
        .collect()
}

pub(crate) const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
pub(crate) const HEX_UPPER: &[u8] = b"0123456789ABCDEF";

/// The sub-account `id` of exchange `ex`, if the master account has it.
pub(crate) fn sub_account<'a>(
    st: &'a crate::state::State,
    ex: crate::accounts::SimExchange,
    id: &str,
) -> Option<&'a crate::accounts::SubAccount> {
    st.subs.iter().find(|s| s.exchange == ex && s.id == id)
}

/// The live (not deleted) keys of one sub-account, oldest first.
pub(crate) fn keys_of_sub<'a>(
    keys: &'a std::collections::HashMap<
        (crate::accounts::SimExchange, String),
        crate::state::KeyState,
    >,
    ex: crate::accounts::SimExchange,
    sub: &str,
) -> Vec<&'a crate::state::KeyState> {
    let mut v: Vec<_> = keys
        .iter()
        .filter(|((e, _), k)| {
            *e == ex && !k.revoked && k.account.sub_account.as_deref() == Some(sub)
        })
        .map(|(_, k)| k)
        .collect();
    v.sort_by(|a, b| {
        (a.account.created_at_ms, &a.account.api_key)
            .cmp(&(b.account.created_at_ms, &b.account.api_key))
    });
    v
}

/// Comma-separated list (`"1.1.1.1,2.2.2.2"`), blanks dropped.
pub(crate) fn comma_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}
