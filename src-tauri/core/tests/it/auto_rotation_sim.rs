//! Zero-touch rotation of sub-account keys through the manager key, with a
//! real vault (SQLite, injected clock) against the simulator over HTTP:
//! a full automated rotation on Bybit, OKX and Binance (old key proven
//! dead, new key stored and verified with the same scopes and IPs, one
//! audit entry per stage), refusals without a manager key or a step-up,
//! interrupted runs (the creation's answer lost; stopped after the new key
//! was stored) resumed without two live keys or a lost secret, the
//! schedule notifying instead of acting without a grant, and no secret in
//! any view, log or file.

use std::time::{Duration, SystemTime};

use keyward_core::audit::Action;
use keyward_core::audit::store::AuditFilter;
use keyward_core::checks::{self, CheckSelection};
use keyward_core::deploy::SshOptions;
use keyward_core::exchange::{Credentials, ExchangeClient, HttpConfig};
use keyward_core::managed;
use keyward_core::mfa::actions::{self, Gated};
use keyward_core::mfa::{Proof, StepUpGrant, TotpSeed};
use keyward_core::model::{Environment, Exchange, NewKey, Passphrase, Scope};
use keyward_core::rotation::{self, RotationError, RotationState};
use keyward_core::vault::{
    Actor, Clock, KdfParams, ManualClock, MasterPassword, Session, Vault, VaultOptions,
};
use keyward_core::{ErrorKind, KindedError};
use keyward_sim::{
    Accounts, Fault, FaultKind, KeyAccount, SimExchange, SimHandle, SimScope, SubAccount,
};

const PASSWORD: &str = "correct horse battery staple";
const IP_A: &str = "192.0.2.10";
const IP_M: &str = "192.0.2.99";

const BYBIT_SUB: &str = "100400345";
const OKX_SUB: &str = "botsub01";
const BIN_SUB: &str = "sub1@example.com";

/// Every secret the accounts hold; none may appear outside the vault's
/// sealed fields.
const SECRETS: &[&str] = &[
    "CANARYAUTObybitMASTER0",
    "CANARYAUTObybitSUBold0",
    "CANARYAUTOokxMASTER000",
    "CANARYAUTOokxSUBold000",
    "CANARYAUTOokxMpass",
    "CANARYAUTOokxSpass",
    "CANARYAUTObinMASTER000",
    "CANARYAUTObinSUBold000",
];

fn binance_id(tag: char) -> String {
    let mut id = String::from("BINANCE");
    id.extend(std::iter::repeat_n(tag, 57));
    id
}

/// One exchange's manager key and the sub-account key to rotate.
struct Case {
    exchange: Exchange,
    sim: SimExchange,
    manager: &'static str,
    label: &'static str,
    sub: &'static str,
    master_id: String,
    master_secret: &'static str,
    master_pass: Option<&'static str>,
    old_id: String,
    old_secret: &'static str,
    old_pass: Option<&'static str>,
    scopes: Vec<Scope>,
    /// The path of the creation call (for an injected lost answer).
    create_path: &'static str,
    /// The path of the deletion call.
    delete_path: &'static str,
    /// A path first called after the new key is stored and before the old
    /// one is deleted (the listing that looks for leftovers, or where the
    /// exchange cannot list keys, the new key's own live check).
    stop_path: &'static str,
    /// Whether the exchange lists a sub-account's keys.
    lists_keys: bool,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            exchange: Exchange::Bybit,
            sim: SimExchange::Bybit,
            manager: "bybit-master",
            label: "bybit-sub",
            sub: BYBIT_SUB,
            master_id: "BYBITMASTER01".into(),
            master_secret: SECRETS[0],
            master_pass: None,
            old_id: "BYBITSUBOLD01".into(),
            old_secret: SECRETS[1],
            old_pass: None,
            scopes: vec![Scope::Read, Scope::Trade],
            create_path: "create-sub-api",
            delete_path: "delete-sub-api",
            stop_path: "query-api",
            lists_keys: true,
        },
        Case {
            exchange: Exchange::Okx,
            sim: SimExchange::Okx,
            manager: "okx-master",
            label: "okx-sub",
            sub: OKX_SUB,
            master_id: "0a1b2c3d-0000-4000-8000-0000000000a1".into(),
            master_secret: SECRETS[2],
            master_pass: Some(SECRETS[4]),
            old_id: "0a1b2c3d-0000-4000-8000-0000000000b1".into(),
            old_secret: SECRETS[3],
            old_pass: Some(SECRETS[5]),
            scopes: vec![Scope::Read, Scope::Trade],
            create_path: "subaccount/apikey",
            delete_path: "delete-apikey",
            stop_path: "account/config",
            lists_keys: true,
        },
        Case {
            exchange: Exchange::Binance,
            sim: SimExchange::Binance,
            manager: "binance-master",
            label: "binance-sub",
            sub: BIN_SUB,
            master_id: binance_id('M'),
            master_secret: SECRETS[6],
            master_pass: None,
            old_id: binance_id('S'),
            old_secret: SECRETS[7],
            old_pass: None,
            scopes: vec![Scope::Read, Scope::Trade],
            create_path: "subAccountApi",
            delete_path: "subAccountApi",
            stop_path: "apiRestrictions",
            lists_keys: false,
        },
    ]
}

fn case(exchange: Exchange) -> Case {
    cases()
        .into_iter()
        .find(|c| c.exchange == exchange)
        .unwrap()
}

fn accounts() -> Accounts {
    use SimScope::*;
    let mut keys = Vec::new();
    let mut subs = Vec::new();
    for c in cases() {
        let master_scopes: &[SimScope] = if c.exchange == Exchange::Bybit {
            &[Read, Trade, Transfer]
        } else {
            &[Read, Trade]
        };
        keys.push(KeyAccount {
            ips: vec![IP_M.into()],
            passphrase: c.master_pass.map(String::from),
            ..KeyAccount::hmac(c.sim, &c.master_id, c.master_secret, master_scopes)
        });
        keys.push(KeyAccount {
            ips: vec![IP_A.into()],
            passphrase: c.old_pass.map(String::from),
            sub_account: Some(c.sub.into()),
            ..KeyAccount::hmac(c.sim, &c.old_id, c.old_secret, &[Read, Trade])
        });
        subs.push(SubAccount {
            exchange: c.sim,
            id: c.sub.into(),
            uid: (c.exchange == Exchange::Okx).then(|| "698827017768230914".into()),
            label: Some("bot".into()),
            created_at_ms: None,
            note: None,
        });
    }
    Accounts {
        keys,
        sub_accounts: subs,
        // Rate limits are another test's subject (the account-management
        // calls have tight ones).
        rate_limits: false,
        ..Accounts::default()
    }
}

fn config() -> HttpConfig {
    HttpConfig {
        request_timeout: Duration::from_secs(3),
        connect_timeout: Duration::from_secs(2),
        backoff_base: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(2),
        ..HttpConfig::default()
    }
}

struct Fixture {
    sim: SimHandle,
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    clock: ManualClock,
    seed: TotpSeed,
    session: Session,
    client: ExchangeClient,
}

impl Fixture {
    async fn new() -> Fixture {
        let (_, sim) = keyward_sim::spawn(accounts()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.keyward");
        let clock = ManualClock::new(SystemTime::now());
        let mut session = Vault::create_with(
            &path,
            &MasterPassword::from(PASSWORD),
            KdfParams::MINIMUM,
            VaultOptions::with_clock(clock.clone()),
        )
        .unwrap();
        for c in cases() {
            let env = Environment::Custom(sim.url(c.sim));
            let master_scopes = if c.exchange == Exchange::Bybit {
                vec![Scope::Read, Scope::Trade, Scope::Transfer]
            } else {
                vec![Scope::Read, Scope::Trade]
            };
            session
                .add_key(
                    Actor::Cli,
                    NewKey {
                        environment: env.clone(),
                        scopes: master_scopes,
                        ip_whitelist: vec![IP_M.into()],
                        passphrase: c.master_pass.map(Passphrase::from),
                        ..NewKey::new(c.manager, c.exchange, &c.master_id, c.master_secret.into())
                    },
                )
                .unwrap();
            session
                .add_key(
                    Actor::Cli,
                    NewKey {
                        environment: env,
                        scopes: c.scopes.clone(),
                        ip_whitelist: vec![IP_A.into()],
                        passphrase: c.old_pass.map(Passphrase::from),
                        ..NewKey::new(c.label, c.exchange, &c.old_id, c.old_secret.into())
                    },
                )
                .unwrap();
        }
        let pw = session
            .verify_password(&MasterPassword::from(PASSWORD))
            .unwrap();
        let g = session
            .step_up::<actions::SecuritySettings>(Actor::Cli, Some(Proof::MasterPassword(pw)))
            .unwrap();
        let enrolment = session.mfa_enrol(Actor::Cli, g).unwrap();
        let seed = TotpSeed::from_base32(enrolment.expose_secret_base32()).unwrap();
        session
            .mfa_confirm(Actor::Cli, &seed.code_at(clock.now()))
            .unwrap();
        Fixture {
            sim,
            _dir: dir,
            path,
            clock,
            seed,
            session,
            client: ExchangeClient::new(config()).unwrap(),
        }
    }

    fn grant<A: Gated>(&mut self) -> StepUpGrant<A> {
        self.clock.advance(Duration::from_secs(30));
        let code = self.seed.code_at(self.clock.now());
        self.session
            .step_up::<A>(Actor::Cli, Some(Proof::Totp(code)))
            .unwrap()
    }

    async fn mark_managers(&mut self) {
        for c in cases() {
            let g = self.grant::<actions::MarkManager>();
            managed::mark(&mut self.session, &self.client, Actor::Cli, g, c.manager)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", c.manager));
        }
    }

    async fn rotate(&mut self, label: &str) -> Result<rotation::AutoOutcome, RotationError> {
        let g = self.grant::<actions::AutoRotate>();
        rotation::rotate_auto(
            &mut self.session,
            &self.client,
            &SshOptions::default(),
            Actor::Cli,
            g,
            label,
        )
        .await
    }

    fn endpoint(&self, c: &Case) -> keyward_core::exchange::Endpoint {
        self.client
            .endpoint(c.exchange, &Environment::Custom(self.sim.url(c.sim)))
            .unwrap()
    }

    fn master(c: &Case) -> Credentials {
        let mut creds = Credentials::hmac(c.master_id.as_str(), c.master_secret);
        if let Some(p) = c.master_pass {
            creds = creds.with_passphrase(p);
        }
        creds
    }

    async fn old_live(&self, c: &Case) -> bool {
        let mut creds = Credentials::hmac(c.old_id.as_str(), c.old_secret);
        if let Some(p) = c.old_pass {
            creds = creds.with_passphrase(p);
        }
        self.endpoint(c).verify(&creds).await.unwrap().authenticated
    }

    /// The keys the exchange lists on the case's sub-account (where it
    /// lists them).
    async fn sub_keys(&self, c: &Case) -> Vec<String> {
        let inv = self
            .endpoint(c)
            .inventory(&Fixture::master(c))
            .await
            .unwrap();
        inv.keys
            .into_iter()
            .filter(|k| k.sub_account.as_deref() == Some(c.sub))
            .map(|k| k.key_id)
            .collect()
    }

    /// The stored key's live check through the vault.
    async fn stored_works(&mut self, label: &str) -> keyward_core::checks::KeyVerification {
        let results = checks::verify_session(
            &mut self.session,
            &self.client,
            &CheckSelection::Labels(vec![label.into()]),
            Actor::Cli,
        )
        .await
        .unwrap();
        results.into_iter().next().unwrap()
    }

    fn entries(&mut self, label: &str, action: Action) -> usize {
        self.session
            .audit_log(&AuditFilter::all().with_actions([action]))
            .unwrap()
            .into_iter()
            .filter(|e| e.key_label.as_deref() == Some(label))
            .count()
    }

    fn restart(&mut self) {
        let session = Vault::open_with(&self.path, VaultOptions::with_clock(self.clock.clone()))
            .unwrap()
            .unlock(&MasterPassword::from(PASSWORD))
            .unwrap();
        drop(std::mem::replace(&mut self.session, session));
        self.client = ExchangeClient::new(config()).unwrap();
    }

    fn no_secret_anywhere(&mut self, extra: &[String]) {
        let log = format!(
            "{:?}",
            self.session.audit_log(&AuditFilter::default()).unwrap()
        );
        let all: Vec<&str> = SECRETS
            .iter()
            .copied()
            .chain(extra.iter().map(String::as_str))
            .collect();
        for s in &all {
            assert!(!log.contains(s), "secret in the audit log");
        }
        for entry in std::fs::read_dir(self.path.parent().unwrap()).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            for s in all.iter().chain(["CANARYAUTO"].iter()) {
                assert!(
                    !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                    "plaintext secret in a vault file"
                );
            }
        }
    }

    fn new_secret(&mut self, label: &str) -> String {
        let g = self.grant::<actions::RevealSecret>();
        let r = self.session.reveal(Actor::Cli, g, label).unwrap();
        r.secret.expose().to_owned()
    }
}

const STAGES: [Action; 6] = [
    Action::RotationPlanned,
    Action::RotationNewKeyEntered,
    Action::RotationNewKeyVerified,
    Action::RotationPromoted,
    Action::RotationOldKeyRevoked,
    Action::RotationDone,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_automated_rotation_on_bybit_okx_and_binance() {
    let mut f = Fixture::new().await;
    f.mark_managers().await;
    let mut created = Vec::new();
    for c in cases() {
        let out = f
            .rotate(c.label)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", c.label));
        assert!(
            out.finished,
            "{}: {:?} {:?} {:?}",
            c.label, out.stages, out.verification, out.rotation.error
        );
        assert_eq!(out.rotation.state, RotationState::Done);
        let views = serde_json::to_string(&out).unwrap();
        // The old key is dead by proof, the new one stored and working.
        assert!(
            !f.old_live(&c).await,
            "{}: the old key still works",
            c.label
        );
        assert!(out.revocation.as_ref().unwrap().is_revoked());
        let d = f.session.key_detail(c.label).unwrap();
        assert_ne!(d.api_key_id, c.old_id);
        assert_eq!(d.summary.scopes, c.scopes);
        assert_eq!(d.ip_whitelist, vec![IP_A.to_owned()]);
        let v = out.verification.as_ref().unwrap();
        assert!(v.passed, "{}: {:?}", c.label, v.differences);
        // The exchange holds the new key with the same IPs (and, where it
        // reports them, scopes).
        let held = f
            .endpoint(&c)
            .locate_sub_key(&Fixture::master(&c), &d.api_key_id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{}: the new key is not on the account", c.label));
        assert_eq!(held.sub_account.as_deref(), Some(c.sub));
        assert_eq!(held.ips, vec![IP_A.to_owned()], "{}", c.label);
        if !held.scopes.is_empty() {
            assert_eq!(held.scopes, c.scopes, "{}", c.label);
        }
        let live = f.stored_works(c.label).await;
        assert!(live.authenticated, "{}: {:?}", c.label, live.error);
        assert_eq!(
            managed::sub_account_of(&mut f.session, c.label)
                .unwrap()
                .as_deref(),
            Some(c.sub)
        );
        if c.lists_keys {
            assert_eq!(f.sub_keys(&c).await, vec![d.api_key_id.clone()]);
        }
        for action in STAGES {
            assert_eq!(f.entries(c.label, action), 1, "{}: {action}", c.label);
        }
        let secret = f.new_secret(c.label);
        assert!(!views.contains(&secret), "secret in the outcome");
        created.push(secret);
    }
    f.no_secret_anywhere(&created);
    assert!(f.session.verify_audit().unwrap().is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_without_a_manager_key_or_a_step_up() {
    let mut f = Fixture::new().await;
    let c = case(Exchange::Bybit);
    // No manager key marked: nothing begins.
    let e = f.rotate(c.label).await.unwrap_err();
    assert!(matches!(e, RotationError::NoManagerKey { .. }), "{e}");
    assert!(rotation::status(&mut f.session, c.label).is_err());
    f.mark_managers().await;
    // A wrong code buys no grant: the run cannot start.
    f.clock.advance(Duration::from_secs(30));
    // A code from an hour ago (one in a million could match the current).
    let stale = f.seed.code_at(f.clock.now() - Duration::from_secs(3600));
    let e = f
        .session
        .step_up::<actions::AutoRotate>(Actor::Cli, Some(Proof::Totp(stale)))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Mfa);
    let e = f
        .session
        .step_up::<actions::AutoRotate>(Actor::Cli, None)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Mfa);
    assert!(rotation::status(&mut f.session, c.label).is_err());
    assert!(f.old_live(&c).await);
    assert_eq!(f.sub_keys(&c).await, vec![c.old_id.clone()]);
    // The manager key itself is never rotated this way.
    let e = f.rotate(c.manager).await.unwrap_err();
    assert!(matches!(e, RotationError::NotManaged { .. }), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_creation_whose_answer_was_lost_leaves_one_live_key_after_resuming() {
    let mut f = Fixture::new().await;
    f.mark_managers().await;
    for c in cases().into_iter().filter(|c| c.lists_keys) {
        // The sub-account is recorded first, so the creation is the first
        // call to its path.
        let g = f.grant::<actions::UseManager>();
        let env = Environment::Custom(f.sim.url(c.sim));
        managed::inventory(&mut f.session, &f.client, Actor::Cli, g, c.exchange, &env)
            .await
            .unwrap();
        let mut fault = Fault::new(FaultKind::ProcessedThenError).on(c.sim);
        fault.path_contains = Some(c.create_path.into());
        f.sim.add_fault(fault);
        let e = f.rotate(c.label).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Exchange, "{}: {e}", c.label);
        f.sim.clear_faults();
        // The exchange made a key nobody holds.
        assert_eq!(f.sub_keys(&c).await.len(), 2, "{}", c.label);
        assert_eq!(
            rotation::status(&mut f.session, c.label).unwrap().state,
            RotationState::Planned
        );
        f.restart();
        let out = f.rotate(c.label).await.unwrap();
        assert!(out.finished, "{}: {:?}", c.label, out.stages);
        let d = f.session.key_detail(c.label).unwrap();
        assert_eq!(
            f.sub_keys(&c).await,
            vec![d.api_key_id.clone()],
            "{}",
            c.label
        );
        assert!(f.stored_works(c.label).await.authenticated);
        assert!(!f.old_live(&c).await);
        assert_eq!(f.entries(c.label, Action::RotationNewKeyEntered), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_keys_cannot_be_listed_a_lost_creation_is_refused_not_repeated() {
    let mut f = Fixture::new().await;
    f.mark_managers().await;
    let c = case(Exchange::Binance);
    // Locate the key first (no fault), then lose the creation's answer.
    let mut fault = Fault::new(FaultKind::ServerError).on(c.sim);
    fault.path_contains = Some(c.stop_path.into());
    fault.count = 0;
    f.sim.add_fault(fault);
    let out = f.rotate(c.label).await.unwrap();
    assert!(!out.finished);
    f.sim.clear_faults();
    // Stopped after the stored key: cancel (the created key deleted), then
    // lose a creation.
    let g = f.grant::<actions::AutoRotate>();
    let out = rotation::cancel_auto(&mut f.session, &f.client, Actor::Cli, g, c.label)
        .await
        .unwrap();
    assert!(out.deleted.is_some());
    let mut fault = Fault::new(FaultKind::ProcessedThenError).on(c.sim);
    fault.path_contains = Some(c.create_path.into());
    f.sim.add_fault(fault);
    assert!(f.rotate(c.label).await.is_err());
    f.sim.clear_faults();
    let e = f.rotate(c.label).await.unwrap_err();
    assert!(matches!(e, RotationError::OrphanUnchecked { .. }), "{e}");
    let view = rotation::status(&mut f.session, c.label).unwrap();
    assert_eq!(view.state, RotationState::Planned);
    // Only the step-up cancel closes it, saying what to check by hand.
    assert!(view.cancel_deletes_key);
    let e = rotation::cancel(&mut f.session, Actor::Cli, c.label).unwrap_err();
    assert!(matches!(e, RotationError::CreatedKeyLive { .. }), "{e}");
    let g = f.grant::<actions::AutoRotate>();
    let out = rotation::cancel_auto(&mut f.session, &f.client, Actor::Cli, g, c.label)
        .await
        .unwrap();
    assert_eq!(out.rotation.state, RotationState::Cancelled);
    assert!(out.deleted.is_none());
    let note = out.check_by_hand.unwrap();
    assert!(note.contains(&rotation_marker(&out.rotation.id)), "{note}");
}

/// The marker label of a rotation's created key (`kw` + 16 hex digits).
fn rotation_marker(id: &str) -> String {
    let hex: String = id
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(16)
        .collect();
    format!("kw{hex}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_after_the_new_key_was_stored_resumes_without_a_second_key() {
    let mut f = Fixture::new().await;
    f.mark_managers().await;
    for c in cases() {
        // The sub-account recorded first (where the exchange lists keys), so
        // the run's first call to the stop path comes after the new key
        // is stored; that call fails: the run stops with the new key
        // stored, nothing deleted.
        if c.lists_keys {
            let g = f.grant::<actions::UseManager>();
            let env = Environment::Custom(f.sim.url(c.sim));
            managed::inventory(&mut f.session, &f.client, Actor::Cli, g, c.exchange, &env)
                .await
                .unwrap();
        }
        let mut fault = Fault::new(FaultKind::ServerError).on(c.sim);
        fault.path_contains = Some(c.stop_path.into());
        fault.count = 0;
        f.sim.add_fault(fault);
        let stopped = f.rotate(c.label).await;
        f.sim.clear_faults();
        if let Ok(out) = &stopped {
            assert!(!out.finished, "{}", c.label);
        }
        let view = rotation::status(&mut f.session, c.label).unwrap();
        assert_eq!(view.state, RotationState::NewKeyEntered, "{}", c.label);
        assert!(f.old_live(&c).await, "{}", c.label);
        let out = view;
        let new_id = out.new_api_key_id_masked.clone().unwrap();
        f.restart();
        let out = f.rotate(c.label).await.unwrap();
        assert!(out.finished, "{}: {:?}", c.label, out.stages);
        let d = f.session.key_detail(c.label).unwrap();
        assert_eq!(keyward_core::model::mask_key_id(&d.api_key_id), new_id);
        assert_eq!(
            f.entries(c.label, Action::RotationNewKeyEntered),
            1,
            "{}",
            c.label
        );
        assert!(f.stored_works(c.label).await.authenticated, "{}", c.label);
        assert!(!f.old_live(&c).await, "{}", c.label);
        if c.lists_keys {
            assert_eq!(f.sub_keys(&c).await, vec![d.api_key_id.clone()]);
        }
    }
    // The old key's deletion answer lost (Bybit): the retry proves it with
    // the baseline recorded before the delete call.
    let c = case(Exchange::Bybit);
    let before = f.session.key_detail(c.label).unwrap().api_key_id;
    let mut fault = Fault::new(FaultKind::ProcessedThenError).on(c.sim).times(0);
    fault.path_contains = Some(c.delete_path.into());
    f.sim.add_fault(fault);
    let out = f.rotate(c.label).await.unwrap();
    f.sim.clear_faults();
    assert!(!out.finished);
    assert_eq!(out.rotation.state, RotationState::Promoted);
    let current = f.session.key_detail(c.label).unwrap().api_key_id;
    assert_ne!(current, before);
    f.restart();
    let out = f.rotate(c.label).await.unwrap();
    assert!(out.finished, "{:?}", out.stages);
    assert_eq!(f.sub_keys(&c).await, vec![current]);
    assert!(f.stored_works(c.label).await.authenticated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_automated_key_without_a_grant_notifies_and_does_not_act() {
    let mut f = Fixture::new().await;
    f.mark_managers().await;
    let c = case(Exchange::Okx);
    let g = f.grant::<actions::AutoRotate>();
    let s = rotation::set_auto_schedule(&mut f.session, Actor::Cli, g, c.label, Some(30)).unwrap();
    assert!(s.auto_rotate);
    assert_eq!(s.manager.as_deref(), Some(c.manager));
    assert!(rotation::due_auto(&mut f.session).unwrap().is_empty());
    f.clock.advance(Duration::from_secs(31 * 86_400));
    // A month later the session has long locked itself: a new process.
    f.restart();
    let due = rotation::due_auto(&mut f.session).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].label, c.label);
    let notified = rotation::notify_due_auto(&mut f.session, Actor::System).unwrap();
    assert_eq!(notified.len(), 1);
    assert_eq!(f.entries(c.label, Action::AutoRotationNeedsStepUp), 1);
    // Nothing acted: no rotation, the old key still the key.
    assert!(rotation::status(&mut f.session, c.label).is_err());
    assert!(f.old_live(&c).await);
    assert_eq!(f.session.key_detail(c.label).unwrap().api_key_id, c.old_id);
    // Once a day per key.
    assert!(
        rotation::notify_due_auto(&mut f.session, Actor::System)
            .unwrap()
            .is_empty()
    );
    // With a step-up the due key is rotated, and then no longer due.
    f.restart();
    let g = f.grant::<actions::AutoRotate>();
    let results = rotation::rotate_due_auto(
        &mut f.session,
        &f.client,
        &SshOptions::default(),
        Actor::Cli,
        g,
    )
    .await
    .unwrap();
    assert_eq!(results.len(), 1);
    assert!(results[0].1.as_ref().unwrap().finished);
    assert!(rotation::due_auto(&mut f.session).unwrap().is_empty());
    // Turning it off needs no step-up.
    let s = rotation::turn_auto_off(&mut f.session, Actor::Cli, c.label).unwrap();
    assert!(!s.auto_rotate);
}

mod cancel;
