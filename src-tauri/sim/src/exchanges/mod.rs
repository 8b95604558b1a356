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
