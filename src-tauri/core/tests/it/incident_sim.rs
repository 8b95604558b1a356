//! Incidents through a real vault against the strict simulator: a leaked
//! Bybit key revoked through the API, confirmed dead and its activity
//! snapshotted; an OKX key whose revocation stays pending with manual
//! steps until confirmed; close refused while a step is pending; resuming
//! in a new session; reports with the timeline and masked ids and no
//! secret; every change in the audit log, which verifies; faults during
//! the automated steps (5xx, dropped connections, timeouts) leave the step
//! `failed` with the error and nothing else changed, and a retry succeeds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keyward_core::exchange::{ExchangeClient, HttpConfig};
use keyward_core::incident::{self, Situation, StepState, report};
use keyward_core::mfa::actions;
use keyward_core::mfa::{Proof, StepUpGrant};
use keyward_core::model::{
    self, Environment, Exchange, KeyEdit, KeyStatus, NewKey, Passphrase, Scope,
};
use keyward_core::vault::{
    Actor, KdfParams, ManualClock, MasterPassword, Session, Vault, VaultOptions,
};
use keyward_sim::{
    Accounts, ActivityItem, ActivityKind, Fault, FaultKind, KeyAccount, SimExchange, SimHandle,
    SimScope,
};

const PASSWORD: &str = "correct horse battery staple";
const BYBIT_ID: &str = "BYBITLEAKEDKEY0001";
const BYBIT_SECRET: &str = "CANARYINCbybitSECRET";
const BYBIT_OTHER: &str = "BYBITOTHERKEY0002";
const OKX_ID: &str = "0a1b2c3d-0000-4000-8000-0000000000aa";
const OKX_SECRET: &str = "CANARYINCokxSECRET00";
const OKX_PASS: &str = "CANARYINCokxPASS";

fn item(kind: ActivityKind, id: &str, ago_ms: i64) -> ActivityItem {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    ActivityItem {
        kind,
        id: id.into(),
        time_ms: now - ago_ms,
        symbol: "BTCUSDT".into(),
        side: "buy".into(),
        asset: "USDT".into(),
        amount: "0.5".into(),
        price: "91000".into(),
        status: String::new(),
        address: "addr-incident-test".into(),
        tx_id: "tx-incident-test".into(),
    }
}

fn accounts() -> Accounts {
    use SimScope::*;
    let mut bybit = KeyAccount::hmac(
        SimExchange::Bybit,
        BYBIT_ID,
        BYBIT_SECRET,
        &[Read, Trade, Transfer],
    );
    bybit.ips = vec!["192.0.2.10".into()];
    bybit.activity = vec![
        item(ActivityKind::Order, "INCORDER1", 3_600_000),
        item(ActivityKind::Withdrawal, "INCWD1", 7_200_000),
    ];
    let mut other = KeyAccount::hmac(SimExchange::Bybit, BYBIT_OTHER, "othersecret", &[Read]);
    other.ips = vec!["192.0.2.10".into()];
    let okx = KeyAccount {
        passphrase: Some(OKX_PASS.into()),
        ips: vec!["192.0.2.10".into()],
        ..KeyAccount::hmac(SimExchange::Okx, OKX_ID, OKX_SECRET, &[Read, Trade])
    };
    Accounts {
        keys: vec![bybit, other, okx],
        ..Accounts::default()
    }
}

struct Fixture {
    sim: SimHandle,
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    session: Session,
    client: ExchangeClient,
}

impl Fixture {
    async fn new() -> Fixture {
        let (_, sim) = keyward_sim::spawn(accounts()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.keyward");
        let options = VaultOptions::with_clock(ManualClock::new(SystemTime::now()));
        let mut session = Vault::create_with(
            &path,
            &MasterPassword::from(PASSWORD),
            KdfParams::MINIMUM,
            options,
        )
        .unwrap();
        let add = |s: &mut Session, label: &str, ex: Exchange, sim_ex, id: &str, secret: &str| {
            s.add_key(
                Actor::Cli,
                NewKey {
                    environment: Environment::Custom(sim.url(sim_ex)),
                    scopes: vec![Scope::Read, Scope::Trade],
                    ip_whitelist: vec!["192.0.2.10".into()],
                    passphrase: (ex == Exchange::Okx).then(|| Passphrase::from(OKX_PASS)),
                    ..NewKey::new(label, ex, id, secret.into())
                },
            )
            .unwrap();
        };
        add(
            &mut session,
            "bybit-bot",
            Exchange::Bybit,
            SimExchange::Bybit,
            BYBIT_ID,
            BYBIT_SECRET,
        );
        add(
            &mut session,
            "bybit-other",
            Exchange::Bybit,
            SimExchange::Bybit,
            BYBIT_OTHER,
            "othersecret",
        );
        add(
            &mut session,
            "okx-bot",
            Exchange::Okx,
            SimExchange::Okx,
            OKX_ID,
            OKX_SECRET,
        );
        let client = ExchangeClient::new(HttpConfig {
            request_timeout: Duration::from_secs(5),
            ..HttpConfig::default()
        })
        .unwrap();
        Fixture {
            sim,
            _dir: dir,
            path,
            session,
            client,
        }
    }

    fn grant(&mut self) -> StepUpGrant<actions::Revoke> {
        let pw = self
            .session
            .verify_password(&MasterPassword::from(PASSWORD))
            .unwrap();
        self.session
            .step_up::<actions::Revoke>(Actor::Cli, Some(Proof::MasterPassword(pw)))
            .unwrap()
    }

    fn reopen(&mut self) {
        let vault = Vault::open(&self.path).unwrap();
        self.session = vault.unlock(&MasterPassword::from(PASSWORD)).unwrap();
    }
}

#[test]
fn playbooks_cover_every_situation_and_exchange() {
    let c = incident::catalogue().unwrap();
    for s in Situation::ALL {
        let p = c.playbook(s).unwrap();
        let mut ids: Vec<&str> = p.steps.iter().map(|s| s.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), p.steps.len());
    }
    for task in c.tasks.keys() {
        for e in incident::EXCHANGES_WITH_TEXT {
            assert!(c.task_text(task, e).is_some_and(|t| !t.is_empty()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaked_bybit_key_end_to_end() {
    let mut f = Fixture::new().await;
    let view = incident::open(
        &mut f.session,
        Actor::Cli,
        Situation::Leaked,
        &["bybit-bot".into()],
        None,
    )
    .unwrap();
    let id = view.id.clone();
    assert!(view.steps.iter().all(|s| s.state == StepState::Pending));
    assert_eq!(view.keys[0].masked_key_id, model::mask_key_id(BYBIT_ID));

    // Revoke needs the step-up grant.
    let err = incident::run_step(
        &mut f.session,
        &f.client,
        Actor::Cli,
        &id,
        "revoke",
        None,
        false,
    )
    .await
    .unwrap_err();
    assert_eq!(
        keyward_core::KindedError::kind(&err),
        keyward_core::ErrorKind::Mfa
    );

    // Snapshot first, while the key still works.
    let run = incident::run_step(
        &mut f.session,
        &f.client,
        Actor::Cli,
        &id,
        "snapshot",
        None,
        false,
    )
    .await
    .unwrap();
    assert_eq!(run.state, StepState::Done, "{:?}", run.results);

    let g = f.grant();
    let run = incident::run_step(
        &mut f.session,
        &f.client,
        Actor::Cli,
        &id,
        "revoke",
        Some(g),
        false,
    )
    .await
    .unwrap();
    assert_eq!(run.state, StepState::Done, "{:?}", run.results);
    assert_eq!(
        f.session.key_detail("bybit-bot").unwrap().summary.status,
        KeyStatus::Revoked
    );

    // Resume in a new session, with a new client (as the CLI does): the
    // live answer alone (10003) proves nothing, but the deletion was
    // proven by the revoke step and the key was not edited since.
    f.reopen();
    let fresh = ExchangeClient::new(HttpConfig::default()).unwrap();
    let run = incident::run_step(
        &mut f.session,
        &fresh,
        Actor::Cli,
        &id[..8],
        "confirm_dead",
        None,
        false,
    )
    .await
    .unwrap();
    assert_eq!(run.state, StepState::Done, "{:?}", run.results);
    assert!(
        run.results[0].contains("proven by a live check"),
        "{:?}",
        run.results
    );
    // Without a manager key the inventory step needs no step-up and says
    // how to mark one.
    assert!(!incident::step_needs_grant(&mut f.session, &id, "inventory").unwrap());
    let run = incident::run_step(
        &mut f.session,
        &f.client,
        Actor::Cli,
        &id,
        "inventory",
        None,
        false,
    )
    .await
    .unwrap();
    assert_eq!(run.state, StepState::Done, "{:?}", run.results);
    assert!(
        run.results.iter().any(|r| r.contains("no manager key")
            && r.contains("on the key's page")
            && r.contains("keyward manager mark")),
        "{:?}",
        run.results
    );
    let run = incident::run_step(
        &mut f.session,
        &f.client,
        Actor::Cli,
        &id,
        "mark_rotation",
        None,
        false,
    )
    .await
    .unwrap();
    assert_eq!(run.state, StepState::Done);
    assert!(
        run.results.iter().any(|r| r.contains("bybit-other")),
        "{:?}",
        run.results
    );

    // Close refused while steps are pending.
    let err = incident::close(&mut f.session, Actor::Cli, &id).unwrap_err();
    assert!(err.to_string().contains("change_password"));
    // Manual steps are done by hand; automated ones cannot be.
    assert!(incident::step_done(&mut f.session, Actor::Cli, &id, "revoke", None).is_err());
    incident::step_done(
        &mut f.session,
        Actor::Cli,
        &id,
        "change_password",
        Some("changed at 10:02"),
    )
    .unwrap();
    incident::step_done(
        &mut f.session,
        Actor::Cli,
        &id,
        "check_2fa",
        Some("2FA ok; whitelist had one unknown address, removed"),
    )
    .unwrap();
    incident::step_done(
        &mut f.session,
        Actor::Cli,
        &id,
        "review_activity",
        Some("INCORDER1 not mine"),
    )
    .unwrap();
    assert!(incident::step_skip(&mut f.session, Actor::Cli, &id, "review_services", " ").is_err());
    incident::step_skip(
        &mut f.session,
        Actor::Cli,
        &id,
        "review_services",
        "the key was only used by me",
    )
    .unwrap();
    let shot = f._dir.path().join("screenshot.png");
    std::fs::write(&shot, b"png").unwrap();
    incident::note(
        &mut f.session,
        Actor::Cli,
        &id,
        "screenshot of the order list",
        Some(&shot),
    )
    .unwrap();
    let view = incident::close(&mut f.session, Actor::Cli, &id).unwrap();
    assert_eq!(view.state, "closed");
    assert!(incident::note(&mut f.session, Actor::Cli, &id, "late", None).is_ok());
    assert!(incident::step_done(&mut f.session, Actor::Cli, &id, "change_password", None).is_err());

    // Reports: timeline, masked ids, the sim's activity, no secret.
    let md = report::markdown(&view);
    let html = report::html(&view);
    for text in [&md, &html] {
        assert!(text.contains("Timeline"));
        assert!(text.contains(&model::mask_key_id(BYBIT_ID)));
        assert!(text.contains("INCORDER1") && text.contains("INCWD1"));
        assert!(text.contains("changed at 10:02"));
        // The exchange by its brand, as a person writes it.
        assert!(text.contains("Bybit"), "{text}");
        assert!(!text.contains(BYBIT_ID));
        assert!(!text.contains("CANARY"));
    }
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(!html.contains("<link") && !html.contains("<script"));
    assert!(html.contains("@media print"));

    // Audit: every change recorded, chain intact.
    let entries = f
        .session
        .audit_log(&keyward_core::audit::store::AuditFilter::default())
        .unwrap();
    let incident_entries = entries
        .iter()
        .filter(|e| e.action.as_str().starts_with("incident_"))
        .count();
    assert!(incident_entries >= 11, "{incident_entries}");
    assert!(f.session.verify_audit().unwrap().is_ok());
    let list = incident::list(&mut f.session).unwrap();
    assert_eq!(list.len(), 1);
    drop(f.sim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okx_revoke_stays_pending_until_confirmed() {
    let mut f = Fixture::new().await;
    let id = incident::open(
        &mut f.session,
        Actor::Cli,
        Situation::Trades,
        &["okx-bot".into()],
        None,
    )
    .unwrap()
    .id;
    let g = f.grant();
    let run = incident::run_step(
        &mut f.session,
        &f.client,
        Actor::Cli,
        &id,
        "revoke",
        Some(g),
        false,
    )
    .await
    .unwrap();
    assert_eq!(run.state, StepState::Pending);
    assert!(!run.manual_steps.is_empty());
    assert_eq!(
        f.session.key_detail("okx-bot").unwrap().summary.status,
        KeyStatus::Active
    );
    // Confirming without deleting: the live check still works → failed.
    let g = f.grant();
    let run = incident::run_step(
        &mut f.session,
        &f.client,
        Actor::Cli,
        &id,
        "revoke",
        Some(g),
        true,
    )
    .await
    .unwrap();
    assert_eq!(run.state, StepState::Failed);
    assert!(
        run.incident
            .steps
            .iter()
            .find(|s| s.id == "revoke")
            .unwrap()
            .error
            .as_deref()
            .unwrap()
            .contains("STILL WORKS")
    );
    // The user deletes it on the website; confirmation now succeeds.
    assert!(f.sim.revoke(SimExchange::Okx, OKX_ID));
    f.reopen();
    let g = f.grant();
    let run = incident::run_step(
        &mut f.session,
        &f.client,
        Actor::Cli,
        &id,
        "revoke",
        Some(g),
        true,
    )
    .await
    .unwrap();
    assert_eq!(run.state, StepState::Done, "{:?}", run.results);
    let md = report::markdown(&incident::view(&mut f.session, &id).unwrap());
    assert!(!md.contains(OKX_PASS) && !md.contains(OKX_SECRET));
}

/// A key marked revoked by an edit is not a dead key: neither the revoke
/// step nor "confirm dead" takes the status as proof.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_marked_revoked_by_an_edit_is_no_proof() {
    let mut f = Fixture::new().await;
    let id = incident::open(
        &mut f.session,
        Actor::Cli,
        Situation::Leaked,
        &["okx-bot".into()],
        None,
    )
    .unwrap()
    .id;
    let pw = f
        .session
        .verify_password(&MasterPassword::from(PASSWORD))
        .unwrap();
    let edit_grant = f
        .session
        .step_up::<actions::EditCredentials>(Actor::Cli, Some(Proof::MasterPassword(pw)))
        .unwrap();
    f.session
        .edit_key(
            Actor::Cli,
            "okx-bot",
            KeyEdit {
                status: Some(KeyStatus::Revoked),
                ..KeyEdit::default()
            },
            Some(edit_grant),
        )
        .unwrap();
    let g = f.grant();
    let run = incident::run_step(
        &mut f.session,
        &f.client,
        Actor::Cli,
        &id,
        "revoke",
        Some(g),
        true,
    )
    .await
    .unwrap();
    assert_eq!(run.state, StepState::Failed, "{:?}", run.results);
    assert!(
        run.results
            .iter()
            .any(|r| r.contains("no live check ever proved it")),
        "{:?}",
        run.results
    );
    // Still working: said loudly.
    let run = incident::run_step(
        &mut f.session,
        &f.client,
        Actor::Cli,
        &id,
        "confirm_dead",
        None,
        false,
    )
    .await
    .unwrap();
    assert_eq!(run.state, StepState::Failed);
    assert!(run.results.iter().any(|r| r.contains("STILL WORKS")));
    // Deleted now, but checked by a client that never saw it work: OKX's
    // 50111 alone is not proof, and the edit is not either.
    assert!(f.sim.revoke(SimExchange::Okx, OKX_ID));
    let fresh = ExchangeClient::new(HttpConfig::default()).unwrap();
    let run = incident::run_step(
        &mut f.session,
        &fresh,
        Actor::Cli,
        &id,
        "confirm_dead",
        None,
        false,
    )
    .await
    .unwrap();
    assert_eq!(run.state, StepState::Failed, "{:?}", run.results);
    assert!(
        run.results.iter().any(|r| r.contains("NOT PROVEN dead")),
        "{:?}",
        run.results
    );
    assert!(!run.manual_steps.is_empty());
}

/// What must not change when a step fails: every other step, the keys'
/// statuses and the recorded snapshots.
type Untouched = (
    Vec<(String, StepState, Option<i64>, Option<String>)>,
    Vec<(String, KeyStatus)>,
    String,
);

fn untouched(f: &mut Fixture, id: &str, step: &str) -> Untouched {
    let view = incident::view(&mut f.session, id).unwrap();
    let steps = view
        .steps
        .iter()
        .filter(|s| s.id != step)
        .map(|s| (s.id.clone(), s.state, s.updated_at, s.error.clone()))
        .collect();
    let keys = f
        .session
        .list_keys()
        .unwrap()
        .into_iter()
        .map(|k| (k.label, k.status))
        .collect();
    let snapshots = if step == "snapshot" {
        String::new()
    } else {
        serde_json::to_string(&view.snapshots).unwrap()
    };
    (steps, keys, snapshots)
}

/// Runs `step` with every request to Bybit answered by `fault`: the step is
/// `failed` with an error naming the key, nothing else changed.
async fn fails_under(
    f: &mut Fixture,
    client: &ExchangeClient,
    id: &str,
    step: &str,
    fault: Fault,
    grant: Option<StepUpGrant<actions::Revoke>>,
) {
    let before = untouched(f, id, step);
    f.sim.add_fault(fault.on(SimExchange::Bybit).times(0));
    let run = incident::run_step(&mut f.session, client, Actor::Cli, id, step, grant, false)
        .await
        .unwrap();
    f.sim.clear_faults();
    assert_eq!(run.state, StepState::Failed, "{step}: {:?}", run.results);
    let s = run.incident.steps.iter().find(|s| s.id == step).unwrap();
    assert_eq!(s.state, StepState::Failed);
    let error = s.error.as_deref().unwrap();
    assert!(error.contains("bybit-bot"), "{step}: {error}");
    assert!(!error.contains(BYBIT_SECRET) && !error.contains("CANARY"));
    assert!(
        run.incident
            .timeline
            .iter()
            .any(|e| e.event == "step_failed" && e.step.as_deref() == Some(step))
    );
    assert_eq!(
        untouched(f, id, step),
        before,
        "{step}: something else changed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_leave_automated_steps_failed_and_retryable() {
    let mut f = Fixture::new().await;
    let id = incident::open(
        &mut f.session,
        Actor::Cli,
        Situation::Leaked,
        &["bybit-bot".into()],
        None,
    )
    .unwrap()
    .id;
    // A short timeout against a long delay: the timeout is what fails the
    // step, the margin is wide.
    let impatient = ExchangeClient::new(HttpConfig {
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(1),
        ..HttpConfig::default()
    })
    .unwrap();
    let slow = || {
        let mut fault = Fault::new(FaultKind::Latency);
        fault.latency_ms = 6_000;
        fault
    };
    let client = f.client.clone();

    // Snapshot: 5xx, a dropped connection, a timeout.
    let server_error = Fault::new(FaultKind::ServerError);
    fails_under(&mut f, &client, &id, "snapshot", server_error, None).await;
    let dropped = Fault::new(FaultKind::Drop);
    fails_under(&mut f, &client, &id, "snapshot", dropped, None).await;
    fails_under(&mut f, &impatient, &id, "snapshot", slow(), None).await;
    let run = incident::run_step(
        &mut f.session,
        &client,
        Actor::Cli,
        &id,
        "snapshot",
        None,
        false,
    )
    .await
    .unwrap();
    assert_eq!(run.state, StepState::Done, "{:?}", run.results);
    let snap = &run.incident.snapshots[0];
    assert!(snap.error.is_none(), "{:?}", snap.error);
    assert!(
        snap.orders
            .as_ref()
            .unwrap()
            .iter()
            .any(|o| o.id == "INCORDER1")
    );
    assert_eq!(
        run.incident
            .steps
            .iter()
            .find(|s| s.id == "snapshot")
            .unwrap()
            .error,
        None
    );

    // Revoke: the key stays active through every fault. (A timed-out
    // delete is left out: the simulator may still carry it out after the
    // delay, as a real exchange may, so its outcome is not this test's.)
    let mut bad_gateway = Fault::new(FaultKind::ServerError);
    bad_gateway.path_contains = Some("delete-api".into());
    bad_gateway.status = Some(502);
    let g = f.grant();
    fails_under(&mut f, &client, &id, "revoke", bad_gateway, Some(g)).await;
    let g = f.grant();
    fails_under(
        &mut f,
        &client,
        &id,
        "revoke",
        Fault::new(FaultKind::Drop),
        Some(g),
    )
    .await;
    assert_eq!(
        f.session.key_detail("bybit-bot").unwrap().summary.status,
        KeyStatus::Active
    );
    let g = f.grant();
    let run = incident::run_step(
        &mut f.session,
        &client,
        Actor::Cli,
        &id,
        "revoke",
        Some(g),
        false,
    )
    .await
    .unwrap();
    assert_eq!(run.state, StepState::Done, "{:?}", run.results);
    assert_eq!(
        f.session.key_detail("bybit-bot").unwrap().summary.status,
        KeyStatus::Revoked
    );

    // Confirm dead: a 5xx, a dropped connection or a timeout proves
    // nothing.
    let server_error = Fault::new(FaultKind::ServerError);
    fails_under(&mut f, &client, &id, "confirm_dead", server_error, None).await;
    let dropped = Fault::new(FaultKind::Drop);
    fails_under(&mut f, &client, &id, "confirm_dead", dropped, None).await;
    fails_under(&mut f, &impatient, &id, "confirm_dead", slow(), None).await;
    let run = incident::run_step(
        &mut f.session,
        &client,
        Actor::Cli,
        &id,
        "confirm_dead",
        None,
        false,
    )
    .await
    .unwrap();
    assert_eq!(run.state, StepState::Done, "{:?}", run.results);
    assert!(f.session.verify_audit().unwrap().is_ok());
}
