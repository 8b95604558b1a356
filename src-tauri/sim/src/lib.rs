//! `keyward-sim`: a strict local simulator of the exchange APIs Keyward
//! talks to, for tests and the demo. It serves, on loopback only:
//!
//! | prefix | exchange | authentication checked |
//! |---|---|---|
//! | `/binance` | Binance spot | HMAC-SHA256 hex or Ed25519 signature over query ‖ body, `timestamp`/`recvWindow` window |
//! | `/coinbase` | Coinbase Advanced Trade (CDP) | ES256 / EdDSA JWT: signature, `kid`, `sub`, `iss`, `nbf`/`exp`, `uri` |
//! | `/kraken` | Kraken spot | HMAC-SHA512 `API-Sign`, strictly increasing nonce per key |
//! | `/okx` | OKX v5 | HMAC-SHA256 base64, 30 s timestamp window, passphrase, demo header |
//! | `/bybit` | Bybit v5 | HMAC-SHA256 hex, `recvWindow` rule |
//!
//! Each serves its key-introspection endpoint (per-key permissions and IP
//! allowlist from the accounts file), its time endpoint, recent activity,
//! Bybit's `update-api` / `delete-api` (main-account keys) and
//! `update-sub-api` / `delete-sub-api` (sub-account keys, `parent_uid`) on
//! the calling key with the documented defaults, master-account management
//! of sub-account keys (below), the exchange's
//! own error codes and HTTP statuses, rate limits (429 + `Retry-After`;
//! Kraken answers `EAPI:Rate limit exceeded` in the body as it does), and
//! injected faults. Verification here is written independently of
//! Keyward's signers, so a signing bug fails against it.
//!
//! # Master and sub-accounts
//! The accounts file's `sub_accounts` lists sub-accounts under each
//! exchange's master account; a key with `sub_account` belongs to one,
//! every other key is a key of the master account. Only a master key with
//! the documented permission manages the sub-accounts' keys. A created key
//! gets a fresh id and secret, returned once by the create call (the lists
//! never show it); it then authenticates on every endpoint like a key from
//! the file (its IP list is reported but, as with `enforce_ips: false`,
//! not enforced). A deleted key is refused afterwards with the code an unknown
//! key gets on that exchange. Each answer has at least the fields, and the
//! JSON types, of the documented example (fixtures under
//! `src-tauri/core/tests/data/exchange/<exchange>/`, tested by
//! `core/tests/it/exchange_fixtures.rs`, module `sub_accounts`).
//!
//! | exchange | endpoints | caller | refused with |
//! |---|---|---|---|
//! | Bybit | `POST /v5/user/create-sub-api` (`subuid`, `readOnly`, `permissions`, `ips`, `note`); `POST /v5/user/update-sub-api` and `/v5/user/delete-sub-api` with `apikey`; `GET /v5/user/sub-apikeys?subMemberId=`; `GET /v5/user/query-sub-members` | master key with "Account Transfer", "Subaccount Transfer" or "Withdrawal" (`sub-apikeys`: any permission) | sub-account key or missing permission: `10005`; sub UID not the master's: `500010`; deleted key: `10003` (HTTP 401) |
//! | OKX | `GET /api/v5/users/subaccount/list`; `POST` / `GET /api/v5/users/subaccount/apikey`; `POST /api/v5/users/subaccount/modify-apikey`; `POST /api/v5/users/subaccount/delete-apikey` | master key; the writes need Trade and an IP binding | sub-account key or no Trade: `50030` (HTTP 200); master key without IPs: `50035` (HTTP 403); bad value: `51000`; missing field: `50014`; deleted key: `50111` (HTTP 401) |
//! | Binance | `GET /sapi/v1/sub-account/list` (`email`, `isFreeze`, `page`, `limit`); `POST` / `DELETE /sapi/v1/sub-account/subAccountApi`; `POST /sapi/v1/sub-account/subAccountApiPermission`; `POST /sapi/v2/sub-account/subAccountApi/ipRestriction`; `GET /sapi/v1/sub-account/subAccountApi/ipRestriction` | master key; the writes need "Enable Spot & Margin Trading" | sub-account key: `-1002` (HTTP 401); master without trading: `-2015`; missing parameter: `-1102`; bad value: `-1130`; deleted key: `-2015` (HTTP 401) |
//!
//! Types follow the documentation: Bybit's `readOnly` is an integer in
//! create/update answers and a boolean in `sub-apikeys`; OKX sends every
//! value as a string (`perm` `"read_only,trade"`, `ip` comma-separated,
//! `ts`); Binance's create answer has `apiKey` and a numeric `status`, the
//! permission answer `apikey`, the IP-restriction answers a string
//! `status` / `ipRestrict`. OKX's modify example shows `perm: "read,trade"`
//! although its parameters name `read_only` / `trade`; the simulator takes
//! and answers `read_only` / `trade`.
//!
//! Binance, regular master account: the sub-account API-management pages
//! also list `Query Sub-account API Key` and `DELETE
//! /sapi/v1/sub-account/subAccountApi/ipRestriction/ipList`; they are not
//! simulated (no documented example answer was available for the first).
//! Create takes HMAC keys only (`publicKey` is refused with `-1130`). The
//! `/sapi/v1/broker/subAccountApi` family is for Binance Link (broker)
//! accounts and is not simulated; neither is Bybit's or OKX's broker API.
//! Which code a real exchange gives a sub-account key on these endpoints
//! is not in the documentation of any of the three: the codes above are
//! the documented general ones for "no permission".
//!
//! **Coinbase `uri` on loopback:** the JWT's `uri` claim must be
//! `"<METHOD> <host><path>"` where `<host>` equals the request's `Host`
//! header (against the real API that is `api.coinbase.com`; here it is
//! `127.0.0.1:PORT`) and `<path>` is the exchange's own path, without the
//! `/coinbase` prefix and without the query string.
//!
//! # Command line
//! ```text
//! keyward-sim [--port N] [--accounts FILE] [--no-rate-limits] [--fault JSON]...
//! ```
//! prints `listening on http://127.0.0.1:PORT` on stdout once it accepts
//! connections (`--port 0` picks a free port).
//!
//! # Accounts file (JSON)
//! ```json
//! {
//!   "rate_limits": true,
//!   "limits": { "okx": { "ip": null, "key": { "rate": 2.5, "burst": 5 } } },
//!   "keys": [
//!     { "exchange": "bybit", "api_key": "BYBITKEY1", "secret": "s3cret",
//!       "scopes": ["read", "trade", "withdraw"], "ips": ["203.0.113.7"],
//!       "label": "bot", "created_at_ms": 1700000000000, "expires_at_ms": null,
//!       "enforce_ips": false,
//!       "activity": [ { "kind": "withdrawal", "id": "w1", "time_ms": 1700000000000,
//!                       "asset": "BTC", "amount": "0.5", "address": "bc1q…", "tx_id": "ab12" } ] },
//!     { "exchange": "okx", "api_key": "OKXKEY", "secret": "…", "passphrase": "…", "demo": false },
//!     { "exchange": "coinbase", "api_key": "organizations/o/apiKeys/k",
//!       "public_key": "-----BEGIN PUBLIC KEY-----\n…" },
//!     { "exchange": "okx", "api_key": "OKXSUBKEY", "secret": "…", "passphrase": "…",
//!       "sub_account": "botsub01" }
//!   ],
//!   "sub_accounts": [
//!     { "exchange": "okx", "id": "botsub01", "uid": "698827017768230914", "label": "bot" },
//!     { "exchange": "bybit", "id": "100400345" },
//!     { "exchange": "binance", "id": "sub1@example.com" }
//!   ]
//! }
//! ```
//! - `scopes`: any of `read trade withdraw transfer margin futures options`,
//!   rendered in each exchange's own permission format. A key with only
//!   `read` is read-only.
//! - `bybit_permissions` (Bybit only, optional): the key's permission
//!   object exactly as `query-api` reports it, e.g. `{"Wallet":
//!   ["AccountTransfer", "Withdraw"], "Earn": ["Earn"]}`, instead of
//!   rendering `scopes`. `update-api` / `update-sub-api` replace it whole
//!   when they carry `permissions`, and `query-api` reports what they set.
//! - HMAC keys carry `secret` as the exchange issued it (Kraken: base64).
//!   Ed25519 (Binance, Coinbase EdDSA) and P-256 (Coinbase ES256) keys carry
//!   the `public_key` as an SPKI PEM, as the exchange holds it.
//! - `ips` is reported by the introspection endpoints; requests from other
//!   addresses are refused only with `enforce_ips: true`.
//! - `sub_accounts`: sub-accounts under each exchange's master account;
//!   `id` is what the exchange's requests name it by (Bybit the sub UID,
//!   OKX `subAcct`, Binance the email), `uid` the numeric UID OKX reports.
//!   A key's `sub_account` names its sub-account (which must be listed);
//!   keys without one are the master account's (see above).
//! - `about` (top level) and `note` (per key) are free text, ignored.
//! - `limits` overrides the documented limits per exchange: `ip` is shared
//!   by every key calling from one address, `key` is per API key, each a
//!   token bucket `{rate per second, burst}` counted in request weight.
//!   `rate_limits: false` turns limiting off.
//!
//! A sample lives in `accounts.sample.json` beside this crate.
//!
//! # Faults and admin endpoint
//! `POST /_admin/faults` with a [`Fault`] (or an array):
//! `{"kind": "latency" | "server_error" | "processed_then_error" |
//! "malformed" | "html" | "drop" | "rate_limit", "exchange": "okx",
//! "path_contains": "/account", "count": 1, "latency_ms": 2000, "status":
//! 503, "retry_after_secs": 1}`; `count` 0 means until cleared.
//! `processed_then_error` lets the exchange act on the request (a key is
//! deleted) and answers the 5xx instead. `DELETE /_admin/faults` clears
//! them.
//! `POST /_admin/revoke {"exchange","api_key"}` revokes any key;
//! `POST /_admin/clock {"exchange","offset_ms"}` skews one exchange's clock;
//! `GET /_admin/stats` returns [`SimStats`]. The same operations exist on
//! [`SimHandle`] for tests in the same process.
//!
//! # As a library
//! ```no_run
//! # async fn demo() -> Result<(), keyward_sim::SimError> {
//! let accounts = keyward_sim::Accounts::from_json(r#"{"keys": []}"#).map_err(keyward_sim::SimError::Accounts)?;
//! let (addr, handle) = keyward_sim::spawn(accounts).await?;
//! let kraken_base = handle.url(keyward_sim::SimExchange::Kraken); // http://127.0.0.1:PORT/kraken
//! # let _ = (addr, kraken_base); Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod accounts;
mod exchanges;
mod http;
mod server;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;

pub use accounts::{
    Accounts, ActivityItem, ActivityKind, Bucket, KeyAccount, Limits, SimExchange, SimScope,
    SubAccount,
};
pub use state::{Fault, FaultKind, SimStats};

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The accounts file is invalid.
    #[error("{0}")]
    Accounts(String),
    /// The socket could not be bound.
    #[error("cannot listen: {0}")]
    Bind(#[from] std::io::Error),
}

/// A running simulator. Dropping it stops accepting connections.
pub struct SimHandle {
    addr: SocketAddr,
    state: Arc<state::State>,
    task: tokio::task::JoinHandle<()>,
}

impl SimHandle {
    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL of one exchange (`http://127.0.0.1:PORT/okx`).
    pub fn url(&self, ex: SimExchange) -> String {
        format!("http://{}/{}", self.addr, ex.as_str())
    }

    /// Injects a fault.
    pub fn add_fault(&self, fault: Fault) {
        state::lock(&self.state.faults).push(fault);
    }

    /// Removes all faults.
    pub fn clear_faults(&self) {
        state::lock(&self.state.faults).clear();
    }

    /// Skews one exchange's clock by `offset_ms`.
    pub fn set_clock_offset(&self, ex: SimExchange, offset_ms: i64) {
        self.state.set_clock_offset(ex, offset_ms);
    }

    /// Revokes a key (as if deleted in the exchange's web interface).
    /// Returns whether the key was known.
    pub fn revoke(&self, ex: SimExchange, api_key: &str) -> bool {
        server::revoke(&self.state, ex, api_key)
    }

    /// The ids of one exchange's keys that still work (not revoked or
    /// deleted), sorted: what a test compares with what the exchange's own
    /// listing says, also where the exchange has none.
    pub fn live_keys(&self, ex: SimExchange) -> Vec<String> {
        let mut ids: Vec<String> = state::lock(&self.state.keys)
            .iter()
            .filter(|((e, _), k)| *e == ex && !k.revoked)
            .map(|((_, id), _)| id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Adds Binance request weight used this minute by `peer` (as another
    /// program on the same address would): `sapi` picks the `/sapi` pool.
    pub fn add_binance_weight(&self, sapi: bool, peer: std::net::IpAddr, weight: f64) {
        let pool = if sapi { "sapi-ip" } else { "api-ip" };
        self.state
            .add_minute_weight(SimExchange::Binance, &format!("{pool}/{peer}"), weight);
    }

    /// Counters so far.
    pub fn stats(&self) -> SimStats {
        state::lock(&self.state.stats).clone()
    }

    /// Stops accepting connections.
    pub fn shutdown(self) {
        self.task.abort();
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the simulator on `127.0.0.1` with a free port. Needs a Tokio
/// runtime.
pub async fn spawn(accounts: Accounts) -> Result<(SocketAddr, SimHandle), SimError> {
    spawn_on(accounts, 0).await
}

/// Starts the simulator on `127.0.0.1:port` (0 = any free port).
pub async fn spawn_on(accounts: Accounts, port: u16) -> Result<(SocketAddr, SimHandle), SimError> {
    let state = Arc::new(state::State::new(&accounts).map_err(SimError::Accounts)?);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(server::run(listener, state.clone()));
    Ok((addr, SimHandle { addr, state, task }))
}
