//! Live checks of keys stored in a real vault, against the strict simulator
//! running in this process: every exchange reports the configured
//! permissions and IPs, undeclared withdraw is critical, a one-bit-wrong
//! secret is rejected, faults become results (never panics), the last check
//! is stored on the key, the desktop's mutex is free while the network
//! calls run, a result for changed credentials is not stored, and no secret
//! reaches a result or the vault files.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keyward_core::audit::{self, store::AuditFilter};
use keyward_core::checks::{self, CheckSelection, KeyVerification, RecordOutcome};
use keyward_core::exchange::{ExchangeClient, HttpConfig, KeyCheckError, Severity};
use keyward_core::model::{
    CheckStatus, Environment, Exchange, KeyEdit, KeyStatus, KeyType, NewKey, Passphrase, Scope,
};
use keyward_core::vault::{Actor, KdfParams, MasterPassword, Session, Vault, VaultError};
use keyward_sim::{Accounts, Fault, FaultKind, KeyAccount, SimExchange, SimHandle, SimScope};

const BIN_SECRET: &str = "CANARYbinance0secret0123456789";
const OKX_SECRET: &str = "CANARYokx0secret0F14C41EDBF1AB98";
const OKX_PASS: &str = "CANARYokxpass-Horse-1";
const BYBIT_SECRET: &str = "CANARYbybit0secret0123456789";
const KRAKEN_SECRET: &str =
    "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==";
const KUCOIN_SECRET: &str = "CANARYkucoin0secret";
const OKX_ID: &str = "6c4b2a8e-3f1d-4e5a-9b7c-0d1e2f3a4b5c";
const CB_ID: &str = "organizations/org-1/apiKeys/es256";
const KRAKEN_ID: &str = "KRAKENKEY1";
const BYBIT_ID: &str = "BYBITKEY1";

fn binance_id(tag: char) -> String {
    let mut id = String::from("BINANCE");
    id.extend(std::iter::repeat_n(tag, 57));
    id
}

fn p256_key() -> p256::SecretKey {
    p256::SecretKey::from_slice(&[2u8; 32]).unwrap()
}

fn lf() -> p256::pkcs8::LineEnding {
    p256::pkcs8::LineEnding::LF
}

fn accounts() -> Accounts {
    use SimScope::*;
    use p256::pkcs8::EncodePublicKey;
    let cb_public = p256_key().public_key().to_public_key_pem(lf()).unwrap();
    Accounts {
        keys: vec![
            KeyAccount {
                ips: vec!["203.0.113.7".into()],
                ..KeyAccount::hmac(
                    SimExchange::Binance,
                    &binance_id('A'),
                    BIN_SECRET,
                    &[Read, Trade],
                )
            },
            KeyAccount::hmac(SimExchange::Binance, &binance_id('B'), BIN_SECRET, &[Read]),
            KeyAccount::asymmetric(SimExchange::Coinbase, CB_ID, &cb_public, &[Read, Trade]),
            KeyAccount {
                ips: vec!["198.51.100.1".into(), "198.51.100.2".into()],
                ..KeyAccount::hmac(
                    SimExchange::Kraken,
                    KRAKEN_ID,
                    KRAKEN_SECRET,
                    &[Read, Trade, Withdraw],
                )
            },
            KeyAccount {
                passphrase: Some(OKX_PASS.into()),
                ips: vec!["192.0.2.10".into()],
                ..KeyAccount::hmac(SimExchange::Okx, OKX_ID, OKX_SECRET, &[Read, Trade])
            },
            KeyAccount {
                ips: vec!["192.0.2.20".into()],
                ..KeyAccount::hmac(
                    SimExchange::Bybit,
                    BYBIT_ID,
                    BYBIT_SECRET,
                    &[Read, Trade, Withdraw],
                )
            },
        ],
        ..Accounts::default()
    }
}

/// A step-up grant for a credential edit, from the master password (MFA
/// is not enrolled in these fixtures).
fn cred_grant(
    session: &mut Session,
) -> keyward_core::mfa::StepUpGrant<keyward_core::mfa::actions::EditCredentials> {
    let verified = session
        .verify_password(&MasterPassword::from("correct horse battery staple"))
        .unwrap();
    session
        .step_up::<keyward_core::mfa::actions::EditCredentials>(
            Actor::Cli,
            Some(keyward_core::mfa::Proof::MasterPassword(verified)),
        )
        .unwrap()
}

struct Fixture {
    sim: SimHandle,
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    session: Session,
}

fn fast_config() -> HttpConfig {
    HttpConfig {
        request_timeout: Duration::from_secs(3),
        connect_timeout: Duration::from_secs(2),
        backoff_base: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(5),
        ..HttpConfig::default()
    }
}

fn key(
    label: &str,
    exchange: Exchange,
    base: String,
    id: &str,
    secret: &str,
    scopes: &[Scope],
) -> NewKey {
    NewKey {
        environment: Environment::Custom(base),
        scopes: scopes.to_vec(),
        ..NewKey::new(label, exchange, id, secret.into())
    }
}

impl Fixture {
    async fn new() -> Fixture {
        let (_, sim) = keyward_sim::spawn(accounts()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.keyward");
        let mut session = Vault::create(
            &path,
            &MasterPassword::from("correct horse battery staple"),
            KdfParams::MINIMUM,
            Actor::Cli,
        )
        .unwrap();
        let url = |ex| sim.url(ex);
        use Scope::*;
        let keys = vec![
            key(
                "binance-bot",
                Exchange::Binance,
                url(SimExchange::Binance),
                &binance_id('A'),
                BIN_SECRET,
                &[Read, Trade],
            ),
            NewKey {
                key_type: KeyType::EcdsaJwt,
                ..key(
                    "coinbase-es",
                    Exchange::Coinbase,
                    url(SimExchange::Coinbase),
                    CB_ID,
                    &p256_key().to_sec1_pem(lf()).unwrap(),
                    &[Read, Trade],
                )
            },
            key(
                "kraken-bot",
                Exchange::Kraken,
                url(SimExchange::Kraken),
                KRAKEN_ID,
                KRAKEN_SECRET,
                &[Read, Trade, Withdraw],
            ),
            NewKey {
                passphrase: Some(Passphrase::from(OKX_PASS)),
                ..key(
                    "okx-bot",
                    Exchange::Okx,
                    url(SimExchange::Okx),
                    OKX_ID,
                    OKX_SECRET,
                    &[Read, Trade],
                )
            },
            // Withdraw is live but not declared.
            key(
                "bybit-bot",
                Exchange::Bybit,
                url(SimExchange::Bybit),
                BYBIT_ID,
                BYBIT_SECRET,
                &[Read, Trade],
            ),
            // No live adapter.
            NewKey {
                passphrase: Some(Passphrase::from("CANARYkucoinpass")),
                ..key(
                    "kucoin-x",
                    Exchange::Kucoin,
                    "https://api.kucoin.com".into(),
                    "0123456789abcdef01234567",
                    KUCOIN_SECRET,
                    &[Read],
                )
            },
        ];
        for k in keys {
            session.add_key(Actor::Cli, k).unwrap();
        }
        Fixture {
            sim,
            _dir: dir,
            path,
            session,
        }
    }

    fn add_revoked_binance(&mut self) {
        let mut k = key(
            "binance-old",
            Exchange::Binance,
            self.sim.url(SimExchange::Binance),
            &binance_id('B'),
            BIN_SECRET,
            &[Scope::Read],
        );
        k.notes = "revoked last month".into();
        self.session.add_key(Actor::Cli, k).unwrap();
        let g = cred_grant(&mut self.session);
        self.session
            .edit_key(
                Actor::Cli,
                "binance-old",
                KeyEdit {
                    status: Some(KeyStatus::Revoked),
                    ..KeyEdit::default()
                },
                Some(g),
            )
            .unwrap();
    }
}

fn by_label<'a>(results: &'a [KeyVerification], label: &str) -> &'a KeyVerification {
    results
        .iter()
        .find(|r| r.label == label)
        .unwrap_or_else(|| panic!("no result for {label}"))
}

/// The `verify` audit entries, oldest first, as (label, details).
fn verify_entries(session: &mut Session) -> Vec<(String, serde_json::Value)> {
    let filter = AuditFilter::all().with_actions([audit::Action::Verify]);
    session
        .audit_log(&filter)
        .unwrap()
        .into_iter()
        .map(|e| {
            (
                e.key_label.unwrap_or_default(),
                serde_json::from_str(&e.details).unwrap(),
            )
        })
        .collect()
}

fn codes(r: &KeyVerification) -> Vec<(Severity, &'static str)> {
    r.findings.iter().map(|f| (f.severity, f.code)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_all_reports_every_exchange_and_stores_the_last_check() {
    let mut f = Fixture::new().await;
    f.add_revoked_binance();
    let client = ExchangeClient::new(fast_config()).unwrap();
    let results = checks::verify_session(&mut f.session, &client, &CheckSelection::All, Actor::Cli)
        .await
        .unwrap();

    // Revoked keys are not part of --all; order is the list order.
    let labels: Vec<&str> = results.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "binance-bot",
            "bybit-bot",
            "coinbase-es",
            "kraken-bot",
            "kucoin-x",
            "okx-bot"
        ]
    );

    let r = by_label(&results, "binance-bot");
    assert_eq!(r.status, CheckStatus::Ok, "{r:?}");
    assert!(r.findings.is_empty(), "{r:?}");
    assert!(r.authenticated);
    assert_eq!(
        (
            r.permissions.read,
            r.permissions.trade,
            r.permissions.withdraw
        ),
        (Some(true), Some(true), Some(false))
    );
    assert_eq!(r.ip_restricted, Some(true));
    assert_eq!(r.ip_whitelist, None, "Binance does not list the IPs");

    let r = by_label(&results, "coinbase-es");
    assert!(r.authenticated, "{r:?}");
    assert_eq!(
        (
            r.permissions.read,
            r.permissions.trade,
            r.permissions.withdraw
        ),
        (Some(true), Some(true), Some(false))
    );
    assert_eq!((r.ip_restricted, r.ip_whitelist.clone()), (None, None));
    assert_eq!(r.status, CheckStatus::Ok, "unknown IPs are only info");
    assert_eq!(codes(r), [(Severity::Info, "ip_restriction_unknown")]);

    let r = by_label(&results, "kraken-bot");
    assert_eq!(r.status, CheckStatus::Ok, "{r:?}");
    assert_eq!(r.permissions.withdraw, Some(true));
    assert_eq!(
        r.ip_whitelist,
        Some(vec!["198.51.100.1".to_string(), "198.51.100.2".to_string()])
    );

    let r = by_label(&results, "okx-bot");
    assert_eq!(r.status, CheckStatus::Ok, "{r:?}");
    assert_eq!(
        (r.permissions.trade, r.permissions.withdraw),
        (Some(true), Some(false))
    );
    assert_eq!(r.ip_whitelist, Some(vec!["192.0.2.10".to_string()]));

    let r = by_label(&results, "bybit-bot");
    assert_eq!(r.status, CheckStatus::Critical, "{r:?}");
    assert!(
        codes(r).contains(&(Severity::Critical, "withdraw_undeclared")),
        "{r:?}"
    );
    assert_eq!(r.ip_whitelist, Some(vec!["192.0.2.20".to_string()]));
    assert_eq!(r.declared, [Scope::Read, Scope::Trade]);

    let r = by_label(&results, "kucoin-x");
    assert_eq!(r.status, CheckStatus::NotSupported);
    assert!(!r.authenticated && !r.failed());
    let json = serde_json::to_value(r).unwrap();
    assert_eq!(json["exchange"], "kucoin");
    assert_eq!(json["error"]["code"], "not_supported");
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not supported for live checks")
    );

    // The item-9 shape, for every key.
    for r in &results {
        let v = serde_json::to_value(r).unwrap();
        for k in [
            "label",
            "exchange",
            "authenticated",
            "permissions",
            "ip_restricted",
            "ip_whitelist",
            "findings",
            "error",
        ] {
            assert!(v.get(k).is_some(), "{k} missing in {v}");
        }
        for s in [
            "read", "trade", "withdraw", "transfer", "margin", "futures", "options",
        ] {
            let p = &v["permissions"][s];
            assert!(p.is_boolean() || p.is_null(), "{s}: {p}");
        }
    }

    // The last check is stored on each checked key, and only there.
    let d = f.session.key_detail("bybit-bot").unwrap();
    assert_eq!(d.last_audit_result.as_deref(), Some("critical"));
    assert_eq!(
        d.last_audit_permissions,
        Some(vec!["read".into(), "trade".into(), "withdraw".into()])
    );
    let at = d.last_audit_at.unwrap();
    let now = keyward_core::exchange::Timestamp::now().unix_ms() / 1000;
    assert!((now - 60..=now + 1).contains(&at), "{at} vs {now}");
    let d = f.session.key_detail("coinbase-es").unwrap();
    assert_eq!(d.last_audit_result.as_deref(), Some("ok"));
    let d = f.session.key_detail("kucoin-x").unwrap();
    assert_eq!(
        (d.last_audit_at, d.last_audit_result),
        (None, None),
        "no check, nothing stored"
    );
    let d = f.session.key_detail("binance-old").unwrap();
    assert_eq!(d.last_audit_at, None);

    // One `verify` audit entry per stored check, none for the KuCoin key.
    let entries = verify_entries(&mut f.session);
    let labels: Vec<&str> = entries.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        labels,
        [
            "binance-bot",
            "bybit-bot",
            "coinbase-es",
            "kraken-bot",
            "okx-bot"
        ]
    );
    let (_, details) = &entries[1];
    assert_eq!(
        details,
        &serde_json::json!({
            "exchange": "bybit",
            "result": "critical",
            "permissions": ["read", "trade", "withdraw"],
        })
    );
    assert!(f.session.verify_audit().unwrap().is_ok());

    // A revoked key is still checked when named, and is rejected.
    let results = checks::verify_session(
        &mut f.session,
        &client,
        &CheckSelection::Labels(vec!["binance-old".into()]),
        Actor::Cli,
    )
    .await
    .unwrap();
    assert_eq!(results.len(), 1);
    assert!(
        results[0].authenticated,
        "the simulator still knows this key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_bit_wrong_secret_is_rejected_and_stored_as_such() {
    let mut f = Fixture::new().await;
    let mut wrong = OKX_SECRET.as_bytes().to_vec();
    wrong[10] ^= 0x01;
    let g = cred_grant(&mut f.session);
    f.session
        .edit_key(
            Actor::Cli,
            "okx-bot",
            KeyEdit {
                secret: Some(String::from_utf8(wrong).unwrap().into()),
                ..KeyEdit::default()
            },
            Some(g),
        )
        .unwrap();
    let client = ExchangeClient::new(fast_config()).unwrap();
    let results = checks::verify_session(
        &mut f.session,
        &client,
        &CheckSelection::Labels(vec!["okx-bot".into(), "bybit-bot".into()]),
        Actor::Cli,
    )
    .await
    .unwrap();
    let r = by_label(&results, "okx-bot");
    assert_eq!(r.status, CheckStatus::Rejected, "{r:?}");
    assert!(!r.authenticated && r.failed());
    assert_eq!(codes(r), [(Severity::Critical, "rejected")]);
    match &r.error {
        Some(KeyCheckError::Rejected { exchange_code, .. }) => {
            assert_eq!(exchange_code, "50113", "OKX: invalid signature")
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(r.permissions, Default::default());
    let d = f.session.key_detail("okx-bot").unwrap();
    assert_eq!(d.last_audit_result.as_deref(), Some("rejected"));
    assert_eq!(d.last_audit_permissions, None);
    let entries = verify_entries(&mut f.session);
    assert_eq!(entries.len(), 2);
    let okx = entries.iter().find(|(l, _)| l == "okx-bot").unwrap();
    assert_eq!(
        okx.1,
        serde_json::json!({"exchange": "okx", "result": "rejected"})
    );
    // The other key in the batch is unaffected.
    assert!(by_label(&results, "bybit-bot").authenticated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_timeouts_are_results_not_panics() {
    let mut f = Fixture::new().await;
    f.sim.add_fault(
        Fault::new(FaultKind::ServerError)
            .on(SimExchange::Okx)
            .times(0),
    );
    f.sim.add_fault(Fault {
        latency_ms: 3_000,
        ..Fault::new(FaultKind::Latency)
            .on(SimExchange::Bybit)
            .times(0)
    });
    f.sim.add_fault(
        Fault::new(FaultKind::Malformed)
            .on(SimExchange::Kraken)
            .times(0),
    );
    let client = ExchangeClient::new(HttpConfig {
        request_timeout: Duration::from_millis(400),
        max_retries: 1,
        ..fast_config()
    })
    .unwrap();
    let results = checks::verify_session(&mut f.session, &client, &CheckSelection::All, Actor::Cli)
        .await
        .unwrap();
    for (label, code) in [
        ("okx-bot", "server_error"),
        ("bybit-bot", "timeout"),
        ("kraken-bot", "malformed"),
    ] {
        let r = by_label(&results, label);
        assert_eq!(r.status, CheckStatus::Unreachable, "{r:?}");
        assert!(r.failed() && !r.authenticated);
        let v = serde_json::to_value(r).unwrap();
        assert_eq!(v["error"]["code"], code, "{label}: {v}");
        assert_eq!(v["error"]["kind"], "exchange");
        let d = f.session.key_detail(label).unwrap();
        assert_eq!(d.last_audit_result.as_deref(), Some("unreachable"));
    }
    assert!(by_label(&results, "binance-bot").authenticated);
    assert!(by_label(&results, "coinbase-es").authenticated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktop_mutex_is_free_while_the_exchanges_answer() {
    let f = Fixture::new().await;
    f.sim.add_fault(Fault {
        latency_ms: 800,
        ..Fault::new(FaultKind::Latency).times(0)
    });
    let slot = Arc::new(Mutex::new(Some(f.session)));
    let client = ExchangeClient::new(fast_config()).unwrap();
    let task = {
        let (slot, client) = (slot.clone(), client.clone());
        tokio::spawn(async move {
            checks::verify_keys(&slot, &client, &CheckSelection::All, Actor::Gui).await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    {
        let mut guard = slot.lock().unwrap();
        // Another command can use the session meanwhile.
        assert_eq!(guard.as_mut().unwrap().list_keys().unwrap().len(), 6);
    }
    assert!(started.elapsed() < Duration::from_millis(300));
    assert!(!task.is_finished(), "the checks should still be running");
    let results = task.await.unwrap().unwrap();
    assert_eq!(results.iter().filter(|r| r.authenticated).count(), 5);
    {
        let mut guard = slot.lock().unwrap();
        let session = guard.as_mut().unwrap();
        assert_eq!(
            session
                .key_detail("okx-bot")
                .unwrap()
                .last_audit_result
                .as_deref(),
            Some("ok")
        );
    }

    // Locked while the exchanges answer: nothing is stored, the caller is
    // told.
    f.sim.add_fault(
        Fault::new(FaultKind::ServerError)
            .on(SimExchange::Okx)
            .times(0),
    );
    let task = {
        let (slot, client) = (slot.clone(), client.clone());
        tokio::spawn(async move {
            checks::verify_keys(&slot, &client, &CheckSelection::All, Actor::Gui).await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let taken = slot.lock().unwrap().take();
    let err = task.await.unwrap().unwrap_err();
    assert!(matches!(err, VaultError::Locked), "{err:?}");
    let mut session = taken.unwrap();
    assert_eq!(
        session
            .key_detail("okx-bot")
            .unwrap()
            .last_audit_result
            .as_deref(),
        Some("ok"),
        "the unreachable result was not stored"
    );

    // A locked vault (an empty slot) is refused before anything is sent.
    let empty: Mutex<Option<Session>> = Mutex::new(None);
    let err = checks::verify_keys(&empty, &client, &CheckSelection::All, Actor::Gui)
        .await
        .unwrap_err();
    assert!(matches!(err, VaultError::Locked), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_for_changed_credentials_is_not_stored() {
    let mut f = Fixture::new().await;
    let client = ExchangeClient::new(fast_config()).unwrap();
    let pending = f
        .session
        .prepare_checks(&CheckSelection::Labels(vec![
            "bybit-bot".into(),
            "okx-bot".into(),
        ]))
        .unwrap();
    // Meanwhile the bybit key is rotated and the okx key renamed.
    let g = cred_grant(&mut f.session);
    f.session
        .edit_key(
            Actor::Gui,
            "bybit-bot",
            KeyEdit {
                secret: Some(BYBIT_SECRET.into()),
                ..KeyEdit::default()
            },
            Some(g),
        )
        .unwrap();
    f.session
        .edit_key(
            Actor::Gui,
            "okx-bot",
            KeyEdit {
                label: Some("okx-main".into()),
                ..KeyEdit::default()
            },
            None,
        )
        .unwrap();
    let results = checks::run_checks(&client, pending).await;
    let outcomes = f.session.record_checks(Actor::Gui, &results).unwrap();
    assert_eq!(outcomes, [RecordOutcome::Stale, RecordOutcome::Stored]);
    let entries = verify_entries(&mut f.session);
    assert_eq!(entries.len(), 1, "nothing is audited for a stale result");
    assert_eq!(entries[0].0, "okx-main");
    assert_eq!(
        f.session.key_detail("bybit-bot").unwrap().last_audit_at,
        None
    );
    assert_eq!(
        f.session
            .key_detail("okx-main")
            .unwrap()
            .last_audit_result
            .as_deref(),
        Some("ok")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_labels_and_unusable_credentials() {
    let mut f = Fixture::new().await;
    let err = f
        .session
        .prepare_checks(&CheckSelection::Labels(vec!["nope".into()]))
        .unwrap_err();
    assert!(matches!(err, VaultError::KeyNotFound { .. }), "{err:?}");

    // Coinbase has no testnet for authenticated calls; a PEM that is not
    // one cannot sign. Neither reaches the network, neither panics.
    let g = cred_grant(&mut f.session);
    f.session
        .edit_key(
            Actor::Cli,
            "coinbase-es",
            KeyEdit {
                environment: Some(Environment::Testnet),
                ..KeyEdit::default()
            },
            Some(g),
        )
        .unwrap();
    let g = cred_grant(&mut f.session);
    f.session
        .edit_key(
            Actor::Cli,
            "binance-bot",
            KeyEdit {
                key_type: Some(KeyType::Ed25519),
                ..KeyEdit::default()
            },
            Some(g),
        )
        .unwrap();
    let client = ExchangeClient::new(fast_config()).unwrap();
    let results = checks::verify_session(
        &mut f.session,
        &client,
        &CheckSelection::Labels(vec!["coinbase-es".into(), "binance-bot".into()]),
        Actor::Cli,
    )
    .await
    .unwrap();
    for r in &results {
        assert_eq!(r.status, CheckStatus::Unusable, "{r:?}");
        assert!(!r.failed());
        let v = serde_json::to_value(r).unwrap();
        assert_eq!(v["error"]["kind"], "invalid", "{v}");
    }
    assert_eq!(
        f.session
            .key_detail("coinbase-es")
            .unwrap()
            .last_audit_result
            .as_deref(),
        Some("unusable")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_results_debug_output_or_the_vault_files() {
    let mut f = Fixture::new().await;
    // A rejected key too: rejection messages come from the exchange.
    let g = cred_grant(&mut f.session);
    f.session
        .edit_key(
            Actor::Cli,
            "binance-bot",
            KeyEdit {
                secret: Some(format!("{BIN_SECRET}x").into()),
                ..KeyEdit::default()
            },
            Some(g),
        )
        .unwrap();
    let pending = f.session.prepare_checks(&CheckSelection::All).unwrap();
    let debug = format!("{pending:?}");
    let client = ExchangeClient::new(fast_config()).unwrap();
    let results = checks::run_checks(&client, pending).await;
    f.session.record_checks(Actor::Cli, &results).unwrap();
    let json = serde_json::to_string(&results).unwrap();
    let debug = format!("{debug}{results:?}");
    drop(f.session);
    let mut files = String::new();
    for entry in std::fs::read_dir(f.path.parent().unwrap()).unwrap() {
        let p = entry.unwrap().path();
        files.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
    }
    for canary in [
        BIN_SECRET,
        OKX_SECRET,
        OKX_PASS,
        BYBIT_SECRET,
        KRAKEN_SECRET,
        KUCOIN_SECRET,
        "CANARYkucoinpass",
        "EC PRIVATE KEY",
        "CANARY",
    ] {
        assert!(!json.contains(canary), "{canary} in JSON");
        assert!(!debug.contains(canary), "{canary} in Debug");
        assert!(!files.contains(canary), "{canary} in the vault files");
    }
    assert!(json.contains("binance-bot") && debug.contains("binance-bot"));
}

/// "options" is a declarable scope: a Bybit key with options passes once
/// options is declared, and is flagged while it is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_is_a_declarable_scope() {
    use SimScope as S;
    let (_, sim) = keyward_sim::spawn(Accounts {
        keys: vec![KeyAccount {
            ips: vec!["192.0.2.30".into()],
            ..KeyAccount::hmac(
                SimExchange::Bybit,
                "BYBITOPTIONS",
                BYBIT_SECRET,
                &[S::Read, S::Trade, S::Options],
            )
        }],
        ..Accounts::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut session = Vault::create(
        &dir.path().join("vault.keyward"),
        &MasterPassword::from("correct horse battery staple"),
        KdfParams::MINIMUM,
        Actor::Cli,
    )
    .unwrap();
    let url = sim.url(SimExchange::Bybit);
    assert_eq!("options".parse::<Scope>().unwrap(), Scope::Options);
    for (label, scopes) in [
        ("declared", vec![Scope::Read, Scope::Trade, Scope::Options]),
        ("undeclared", vec![Scope::Read, Scope::Trade]),
    ] {
        session
            .add_key(
                Actor::Cli,
                key(
                    label,
                    Exchange::Bybit,
                    url.clone(),
                    "BYBITOPTIONS",
                    BYBIT_SECRET,
                    &scopes,
                ),
            )
            .unwrap();
    }
    let client = ExchangeClient::new(fast_config()).unwrap();
    let results = checks::verify_session(&mut session, &client, &CheckSelection::All, Actor::Cli)
        .await
        .unwrap();
    let mentions_options = |r: &KeyVerification| {
        r.findings
            .iter()
            .any(|f| f.severity >= Severity::Warning && f.message.contains("options"))
    };
    let declared = by_label(&results, "declared");
    assert!(declared.authenticated);
    assert!(!mentions_options(declared), "{:?}", declared.findings);
    assert!(mentions_options(by_label(&results, "undeclared")));
}
