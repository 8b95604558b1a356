//! Staged rotation and revocation through a real vault against the strict
//! simulator in this process: a full rotation on each of the five
//! exchanges (Bybit revokes through its API and the simulator then rejects
//! the old key; the others go through the manual steps, the user's
//! confirmation and the live check), the loud "still works" refusal,
//! verification refusing undeclared withdraw and a wrong secret, revoke
//! faults (5xx, timeout) that leave the rotation at `promoted` until a
//! retry finishes it, a deletion whose answer was lost proven by a retry
//! from a new process (and only with a fresh baseline recorded for the
//! same credentials), MFA on promote and revoke, stale results, one open
//! rotation per key, standalone and per-exchange revocation, the desktop's
//! mutex free during network calls, and no secret in any file.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use keyward_core::audit::Action;
use keyward_core::audit::store::AuditFilter;
use keyward_core::checks::{self, CheckSelection};
use keyward_core::exchange::{Credentials, ExchangeClient, HttpConfig, Narrowing};
use keyward_core::health::RuleId;
use keyward_core::mfa::actions::{self, Gated};
use keyward_core::mfa::{Proof, StepUpGrant, TotpSeed};
use keyward_core::model::{
    Environment, Exchange, KeyEdit, KeyStatus, KeyType, NewKey, Passphrase, Scope,
};
use keyward_core::rotation::{
    self, DifferenceCode, NewRotationKey, RevokeMethod, RevokeOutcome, RotationError,
    RotationState, ServiceState, VerifyOptions,
};
use keyward_core::vault::{
    Actor, Clock, KdfParams, ManualClock, MasterPassword, Session, Vault, VaultError, VaultOptions,
};
use keyward_core::{ErrorKind, KindedError};
use keyward_sim::{Accounts, Fault, FaultKind, KeyAccount, SimExchange, SimHandle, SimScope};

const PASSWORD: &str = "correct horse battery staple";

const OKX_OLD: &str = "0a1b2c3d-0000-4000-8000-000000000010";
const OKX_NEW: &str = "0a1b2c3d-0000-4000-8000-000000000020";
const OKX_OLD_SECRET: &str = "CANARYROTokxOLDsecret00";
const OKX_NEW_SECRET: &str = "CANARYROTokxNEWsecret11";
const OKX_OLD_PASS: &str = "CANARYROTokxOLDpass";
const OKX_NEW_PASS: &str = "CANARYROTokxNEWpass";
const OKX_WD: &str = "0a1b2c3d-0000-4000-8000-000000000030";
const BYBIT_OLD: &str = "BYBITOLDKEY1";
const BYBIT_NEW: &str = "BYBITNEWKEY1";
const BYBIT_WD: &str = "BYBITWDKEY1";
const BYBIT_XFER: &str = "BYBITXFERKEY1";
const BYBIT_OLD_SECRET: &str = "CANARYROTbybitOLDsecret";
const BYBIT_NEW_SECRET: &str = "CANARYROTbybitNEWsecret";
const KRAKEN_OLD: &str = "KRAKENOLD1";
const KRAKEN_NEW: &str = "KRAKENNEW1";
const KRAKEN_OLD_SECRET: &str =
    "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==";
const KRAKEN_NEW_SECRET: &str =
    "S1JBS0VOLW5ldy1yb3RhdGlvbi1zZWNyZXQtMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYwMTIz";
const BIN_OLD_SECRET: &str = "CANARYROTbinanceOLDsecret";
const BIN_NEW_SECRET: &str = "CANARYROTbinanceNEWsecret";
const CB_OLD: &str = "organizations/org-1/apiKeys/old";
const CB_NEW: &str = "organizations/org-1/apiKeys/new";

const IP_A: &str = "192.0.2.10";

fn binance_id(tag: char) -> String {
    let mut id = String::from("BINANCE");
    id.extend(std::iter::repeat_n(tag, 57));
    id
}

fn p256(n: u8) -> p256::SecretKey {
    p256::SecretKey::from_slice(&[n; 32]).unwrap()
}

fn sec1(n: u8) -> String {
    p256(n)
        .to_sec1_pem(p256::pkcs8::LineEnding::LF)
        .unwrap()
        .to_string()
}

fn accounts() -> Accounts {
    use SimScope::*;
    use p256::pkcs8::EncodePublicKey;
    let public = |n| {
        p256(n)
            .public_key()
            .to_public_key_pem(p256::pkcs8::LineEnding::LF)
            .unwrap()
    };
    let ips = |k: KeyAccount| KeyAccount {
        ips: vec![IP_A.into()],
        ..k
    };
    let okx = |id: &str, secret: &str, pass: &str, scopes: &[SimScope]| KeyAccount {
        passphrase: Some(pass.into()),
        ips: vec![IP_A.into()],
        ..KeyAccount::hmac(SimExchange::Okx, id, secret, scopes)
    };
    Accounts {
        keys: vec![
            okx(OKX_OLD, OKX_OLD_SECRET, OKX_OLD_PASS, &[Read, Trade]),
            okx(OKX_NEW, OKX_NEW_SECRET, OKX_NEW_PASS, &[Read, Trade]),
            okx(
                OKX_WD,
                OKX_NEW_SECRET,
                OKX_NEW_PASS,
                &[Read, Trade, Withdraw],
            ),
            ips(KeyAccount::hmac(
                SimExchange::Bybit,
                BYBIT_OLD,
                BYBIT_OLD_SECRET,
                &[Read, Trade, Transfer],
            )),
            ips(KeyAccount::hmac(
                SimExchange::Bybit,
                BYBIT_NEW,
                BYBIT_NEW_SECRET,
                &[Read, Trade, Transfer],
            )),
            ips(KeyAccount::hmac(
                SimExchange::Kraken,
                KRAKEN_OLD,
                KRAKEN_OLD_SECRET,
                &[Read, Trade],
            )),
            ips(KeyAccount::hmac(
                SimExchange::Kraken,
                KRAKEN_NEW,
                KRAKEN_NEW_SECRET,
                &[Read, Trade],
            )),
            ips(KeyAccount::hmac(
                SimExchange::Binance,
                &binance_id('O'),
                BIN_OLD_SECRET,
                &[Read, Trade],
            )),
            ips(KeyAccount::hmac(
                SimExchange::Binance,
                &binance_id('N'),
                BIN_NEW_SECRET,
                &[Read, Trade],
            )),
            ips(KeyAccount::hmac(
                SimExchange::Bybit,
                BYBIT_WD,
                BYBIT_OLD_SECRET,
                &[Read, Trade, Withdraw],
            )),
            ips(KeyAccount {
                bybit_permissions: Some(
                    [
                        ("Spot", vec!["SpotTrade"]),
                        ("Wallet", vec!["AccountTransfer", "Withdraw"]),
                    ]
                    .into_iter()
                    .map(|(g, v)| (g.to_string(), v.into_iter().map(String::from).collect()))
                    .collect(),
                ),
                ..KeyAccount::hmac(SimExchange::Bybit, BYBIT_XFER, BYBIT_OLD_SECRET, &[])
            }),
            KeyAccount::asymmetric(SimExchange::Coinbase, CB_OLD, &public(2), &[Read, Trade]),
            KeyAccount::asymmetric(SimExchange::Coinbase, CB_NEW, &public(3), &[Read, Trade]),
        ],
        ..Accounts::default()
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

fn config(timeout: Duration) -> HttpConfig {
    HttpConfig {
        request_timeout: timeout,
        connect_timeout: Duration::from_secs(2),
        backoff_base: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(2),
        ..HttpConfig::default()
    }
}

/// One old key per exchange (the ones the rotations replace), plus what
/// each new key should be entered as.
struct Case {
    label: &'static str,
    exchange: Exchange,
    sim: SimExchange,
    new_id: String,
    new_secret: String,
    new_pass: Option<&'static str>,
    old_id: String,
    old_secret: String,
    old_pass: Option<&'static str>,
    key_type: KeyType,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            label: "okx-bot",
            exchange: Exchange::Okx,
            sim: SimExchange::Okx,
            new_id: OKX_NEW.into(),
            new_secret: OKX_NEW_SECRET.into(),
            new_pass: Some(OKX_NEW_PASS),
            old_id: OKX_OLD.into(),
            old_secret: OKX_OLD_SECRET.into(),
            old_pass: Some(OKX_OLD_PASS),
            key_type: KeyType::Hmac,
        },
        Case {
            label: "bybit-bot",
            exchange: Exchange::Bybit,
            sim: SimExchange::Bybit,
            new_id: BYBIT_NEW.into(),
            new_secret: BYBIT_NEW_SECRET.into(),
            new_pass: None,
            old_id: BYBIT_OLD.into(),
            old_secret: BYBIT_OLD_SECRET.into(),
            old_pass: None,
            key_type: KeyType::Hmac,
        },
        Case {
            label: "kraken-bot",
            exchange: Exchange::Kraken,
            sim: SimExchange::Kraken,
            new_id: KRAKEN_NEW.into(),
            new_secret: KRAKEN_NEW_SECRET.into(),
            new_pass: None,
            old_id: KRAKEN_OLD.into(),
            old_secret: KRAKEN_OLD_SECRET.into(),
            old_pass: None,
            key_type: KeyType::Hmac,
        },
        Case {
            label: "binance-bot",
            exchange: Exchange::Binance,
            sim: SimExchange::Binance,
            new_id: binance_id('N'),
            new_secret: BIN_NEW_SECRET.into(),
            new_pass: None,
            old_id: binance_id('O'),
            old_secret: BIN_OLD_SECRET.into(),
            old_pass: None,
            key_type: KeyType::Hmac,
        },
        Case {
            label: "coinbase-bot",
            exchange: Exchange::Coinbase,
            sim: SimExchange::Coinbase,
            new_id: CB_NEW.into(),
            new_secret: sec1(3),
            new_pass: None,
            old_id: CB_OLD.into(),
            old_secret: sec1(2),
            old_pass: None,
            key_type: KeyType::EcdsaJwt,
        },
    ]
}

impl Fixture {
    async fn new() -> Fixture {
        let (_, sim) = keyward_sim::spawn(accounts()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.keyward");
        let clock = ManualClock::new(SystemTime::now());
        let options = VaultOptions::with_clock(clock.clone());
        let mut session = Vault::create_with(
            &path,
            &MasterPassword::from(PASSWORD),
            KdfParams::MINIMUM,
            options,
        )
        .unwrap();
        for c in cases() {
            let scopes = if c.exchange == Exchange::Bybit {
                vec![Scope::Read, Scope::Trade, Scope::Transfer]
            } else {
                vec![Scope::Read, Scope::Trade]
            };
            let ips = if c.exchange == Exchange::Coinbase {
                vec![]
            } else {
                vec![IP_A.to_owned()]
            };
            session
                .add_key(
                    Actor::Cli,
                    NewKey {
                        environment: Environment::Custom(sim.url(c.sim)),
                        scopes,
                        ip_whitelist: ips,
                        key_type: c.key_type,
                        passphrase: c.old_pass.map(Passphrase::from),
                        linked_services: vec!["grid bot on VPS".into(), "tax export".into()],
                        ..NewKey::new(c.label, c.exchange, &c.old_id, c.old_secret.as_str().into())
                    },
                )
                .unwrap();
        }
        // MFA on: promote and revoke need fresh TOTP codes.
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
            client: ExchangeClient::new(config(Duration::from_secs(3))).unwrap(),
        }
    }

    /// A fresh code for the next time step, and the grant it buys.
    fn grant<A: Gated>(&mut self) -> StepUpGrant<A> {
        self.clock.advance(Duration::from_secs(30));
        let code = self.seed.code_at(self.clock.now());
        self.session
            .step_up::<A>(Actor::Cli, Some(Proof::Totp(code)))
            .unwrap()
    }

    fn enter(&mut self, c: &Case) {
        rotation::enter_new_key(
            &mut self.session,
            Actor::Cli,
            c.label,
            NewRotationKey {
                api_key_id: c.new_id.clone(),
                secret: c.new_secret.as_str().into(),
                passphrase: c.new_pass.map(Passphrase::from),
                key_type: None,
            },
        )
        .unwrap();
    }

    async fn verify(&mut self, label: &str, allow_unknown: bool) -> vault_verify::Outcome {
        rotation::verify_new_key(
            &mut self.session,
            &self.client,
            Actor::Cli,
            label,
            &VerifyOptions {
                scopes: None,
                allow_unknown,
            },
        )
        .await
        .unwrap()
    }

    /// Verifies; where the exchange leaves something unreported, accepts
    /// it with the explicit override (and checks it was needed).
    async fn verify_passing(&mut self, label: &str) {
        let first = self.verify(label, false).await;
        if first.passed {
            return;
        }
        assert!(
            first.authenticated && first.blocking().next().is_none(),
            "{label}: {:?}",
            first.differences
        );
        let second = self.verify(label, true).await;
        assert!(second.passed && second.unknown_override, "{label}");
    }

    async fn revoke_old(&mut self, label: &str, confirm: bool) -> RevokeOutcome {
        let g = self.grant::<actions::Revoke>();
        rotation::revoke_old(
            &mut self.session,
            &self.client,
            Actor::Cli,
            g,
            label,
            confirm,
        )
        .await
        .unwrap()
    }

    fn promote(&mut self, label: &str) {
        let g = self.grant::<actions::RotationPromote>();
        let v = rotation::promote(&mut self.session, Actor::Cli, g, label).unwrap();
        assert_eq!(v.state, RotationState::Promoted);
        assert_eq!(v.services.len(), 2);
        assert!(v.services.iter().all(|s| s.state == ServiceState::Pending));
    }

    fn state(&mut self, label: &str) -> RotationState {
        rotation::status(&mut self.session, label).unwrap().state
    }

    async fn live(&self, c: &Case, old: bool) -> bool {
        let (id, secret, pass) = if old {
            (&c.old_id, &c.old_secret, c.old_pass)
        } else {
            (&c.new_id, &c.new_secret, c.new_pass)
        };
        let key_type = if c.key_type == KeyType::EcdsaJwt {
            KeyType::EcdsaJwt
        } else {
            KeyType::Hmac
        };
        let mut creds = Credentials::new(id.as_str(), secret.as_str(), key_type);
        if let Some(p) = pass {
            creds = creds.with_passphrase(p);
        }
        let ep = self
            .client
            .endpoint(c.exchange, &Environment::Custom(self.sim.url(c.sim)))
            .unwrap();
        ep.verify(&creds).await.unwrap().authenticated
    }

    /// A new process: the session dropped, the vault file opened and
    /// unlocked again (same clock), a new exchange client.
    fn restart(&mut self) {
        let session = Vault::open_with(&self.path, VaultOptions::with_clock(self.clock.clone()))
            .unwrap()
            .unlock(&MasterPassword::from(PASSWORD))
            .unwrap();
        drop(std::mem::replace(&mut self.session, session));
        self.client = ExchangeClient::new(config(Duration::from_secs(3))).unwrap();
    }

    async fn revoke_key(&mut self, label: &str) -> RevokeOutcome {
        let g = self.grant::<actions::Revoke>();
        rotation::revoke_key(&mut self.session, &self.client, Actor::Cli, g, label, false)
            .await
            .unwrap()
    }

    /// Bybit processes every delete call from now on and answers 503: the
    /// key is gone, the caller never learns it.
    fn lose_delete_answers(&self) {
        let mut fault = Fault::new(FaultKind::ProcessedThenError)
            .on(SimExchange::Bybit)
            .times(0);
        fault.path_contains = Some("delete-api".into());
        self.sim.add_fault(fault);
    }

    fn baselines(&mut self) -> Vec<keyward_core::audit::Entry> {
        self.session
            .audit_log(&AuditFilter::all().with_actions([Action::RevocationBaseline]))
            .unwrap()
    }

    fn audit_ok(&mut self) {
        assert!(self.session.verify_audit().unwrap().is_ok());
    }
}

mod vault_verify {
    pub type Outcome = keyward_core::rotation::VerifyOutcome;
}

fn case(label: &str) -> Case {
    cases().into_iter().find(|c| c.label == label).unwrap()
}

async fn rotate_to_promoted(f: &mut Fixture, c: &Case) {
    let v = rotation::begin(&mut f.session, Actor::Cli, c.label).unwrap();
    assert_eq!(v.state, RotationState::Planned);
    assert_eq!(
        f.session.key_detail(c.label).unwrap().summary.status,
        KeyStatus::Rotating
    );
    f.enter(c);
    assert_eq!(f.state(c.label), RotationState::NewKeyEntered);
    f.verify_passing(c.label).await;
    assert_eq!(f.state(c.label), RotationState::NewKeyVerified);
    f.promote(c.label);
    let d = f.session.key_detail(c.label).unwrap();
    assert_eq!(d.api_key_id, c.new_id);
    assert!(d.summary.last_rotated_at.is_some());
    // The new key is current: a live check of the key uses it.
    let results = checks::verify_session(
        &mut f.session,
        &f.client,
        &CheckSelection::Labels(vec![c.label.into()]),
        Actor::Cli,
    )
    .await
    .unwrap();
    assert!(
        results[0].authenticated,
        "{}: {:?}",
        c.label, results[0].error
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_rotation_on_every_exchange() {
    let mut f = Fixture::new().await;
    for c in cases() {
        rotate_to_promoted(&mut f, &c).await;
        let outcome = if c.exchange == Exchange::Bybit {
            // Bybit deletes the old key through its API.
            f.revoke_old(c.label, false).await
        } else {
            // The others: the steps first, nothing changes…
            let shown = f.revoke_old(c.label, false).await;
            let RevokeOutcome::ManualStepsRequired { steps, .. } = &shown else {
                panic!("{}: {shown:?}", c.label);
            };
            assert!(!steps.is_empty());
            let v = rotation::status(&mut f.session, c.label).unwrap();
            assert_eq!(v.state, RotationState::Promoted);
            assert_eq!(&v.manual_steps, steps);
            // …then the user deletes it on the exchange and confirms.
            assert!(f.sim.revoke(c.sim, &c.old_id));
            f.revoke_old(c.label, true).await
        };
        let RevokeOutcome::Revoked { method, .. } = &outcome else {
            panic!("{}: {outcome:?}", c.label);
        };
        let expected = if c.exchange == Exchange::Bybit {
            RevokeMethod::Api
        } else {
            RevokeMethod::Manual
        };
        assert_eq!(*method, expected, "{}", c.label);
        let v = rotation::status(&mut f.session, c.label).unwrap();
        assert_eq!(v.state, RotationState::Done, "{}", c.label);
        assert!(v.steps.iter().all(|s| s.at.is_some()), "{}", c.label);
        assert_eq!(
            f.session.key_detail(c.label).unwrap().summary.status,
            KeyStatus::Active
        );
        assert!(!f.live(&c, true).await, "{}: old key still works", c.label);
        assert!(f.live(&c, false).await, "{}: new key broken", c.label);
        // The checklist keeps each item's state.
        let v = rotation::mark_service(
            &mut f.session,
            Actor::Cli,
            c.label,
            "grid bot on VPS",
            ServiceState::Updated,
        )
        .unwrap();
        assert_eq!(v.services[0].state, ServiceState::Updated);
        assert_eq!(v.services[1].state, ServiceState::Pending);
    }
    let log = f.session.audit_log(&AuditFilter::default()).unwrap();
    for action in [
        "rotation_planned",
        "rotation_new_key_entered",
        "rotation_new_key_verified",
        "rotation_promoted",
        "rotation_old_key_revoked",
        "rotation_done",
    ] {
        assert_eq!(
            log.iter().filter(|e| e.action.as_str() == action).count(),
            5,
            "{action}"
        );
    }
    f.audit_ok();
    no_secret_in_files(&mut f);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmed_by_hand_but_still_working_stays_promoted_loudly() {
    let mut f = Fixture::new().await;
    let c = case("okx-bot");
    rotate_to_promoted(&mut f, &c).await;
    let outcome = f.revoke_old(c.label, true).await;
    let RevokeOutcome::StillActive { message, .. } = &outcome else {
        panic!("{outcome:?}");
    };
    assert!(message.contains("STILL WORKS"), "{message}");
    let v = rotation::status(&mut f.session, c.label).unwrap();
    assert_eq!(v.state, RotationState::Promoted);
    assert!(v.error.unwrap().contains("STILL WORKS"));
    assert!(f.live(&c, true).await);
    // Now really deleted: the retry finishes.
    f.sim.revoke(c.sim, &c.old_id);
    assert!(f.revoke_old(c.label, true).await.is_revoked());
    assert_eq!(f.state(c.label), RotationState::Done);
    f.audit_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_refuses_undeclared_withdraw_and_a_wrong_secret() {
    let mut f = Fixture::new().await;
    rotation::begin(&mut f.session, Actor::Cli, "okx-bot").unwrap();
    // Withdraw enabled on the new key, not declared.
    rotation::enter_new_key(
        &mut f.session,
        Actor::Cli,
        "okx-bot",
        NewRotationKey {
            api_key_id: OKX_WD.into(),
            secret: OKX_NEW_SECRET.into(),
            passphrase: Some(OKX_NEW_PASS.into()),
            key_type: None,
        },
    )
    .unwrap();
    for allow_unknown in [false, true] {
        let out = f.verify("okx-bot", allow_unknown).await;
        assert!(!out.passed);
        let d = out.blocking().next().unwrap();
        assert_eq!(d.code, DifferenceCode::MoreThanDeclared);
        assert_eq!(d.scope.as_deref(), Some("withdraw"));
        assert!(d.fix.contains("withdraw"), "{}", d.fix);
    }
    assert_eq!(f.state("okx-bot"), RotationState::NewKeyEntered);
    // Promotion is refused (and the grant is spent on nothing).
    let g = f.grant::<actions::RotationPromote>();
    let err = rotation::promote(&mut f.session, Actor::Cli, g, "okx-bot").unwrap_err();
    assert!(matches!(err, RotationError::WrongState { .. }), "{err}");
    // Narrowing can never widen.
    let err = rotation::verify_new_key(
        &mut f.session,
        &f.client,
        Actor::Cli,
        "okx-bot",
        &VerifyOptions {
            scopes: Some(vec![Scope::Read, Scope::Withdraw]),
            allow_unknown: false,
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, RotationError::ScopeWidening { .. }), "{err}");

    // A wrong secret for the right key id.
    rotation::enter_new_key(
        &mut f.session,
        Actor::Cli,
        "okx-bot",
        NewRotationKey {
            api_key_id: OKX_NEW.into(),
            secret: "CANARYROTwrongSecret".into(),
            passphrase: Some(OKX_NEW_PASS.into()),
            key_type: None,
        },
    )
    .unwrap();
    let out = f.verify("okx-bot", true).await;
    assert!(!out.passed && !out.authenticated);
    assert_eq!(out.differences[0].code, DifferenceCode::Rejected);
    assert!(
        out.differences[0].fix.contains("secret"),
        "{:?}",
        out.differences
    );
    // The right one passes; narrowing to read-only is checked live too.
    let c = case("okx-bot");
    f.enter(&c);
    let out = rotation::verify_new_key(
        &mut f.session,
        &f.client,
        Actor::Cli,
        "okx-bot",
        &VerifyOptions {
            scopes: Some(vec![Scope::Read]),
            allow_unknown: false,
        },
    )
    .await
    .unwrap();
    assert!(!out.passed, "trade is live but no longer declared");
    f.verify_passing("okx-bot").await;
    let log = f.session.audit_log(&AuditFilter::default()).unwrap();
    assert!(log.iter().any(|e| e.action.as_str() == "rotation_failed"));
    f.audit_ok();
}

/// The health rules that fire for `label` now.
fn health_rules(f: &mut Fixture, label: &str) -> Vec<RuleId> {
    let now = f
        .clock
        .now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    keyward_core::health::report_for(&mut f.session, now, &[])
        .unwrap()
        .findings
        .into_iter()
        .filter(|h| h.label == label)
        .map(|h| h.rule)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_the_rotation_and_the_live_allowlist() {
    let mut f = Fixture::new().await;
    // An OKX key with withdraw enabled though only read and trade are
    // declared, and no allowlist recorded in the vault — the exchange has
    // one (IP_A).
    f.session
        .add_key(
            Actor::Cli,
            NewKey {
                environment: Environment::Custom(f.sim.url(SimExchange::Okx)),
                scopes: vec![Scope::Read, Scope::Trade],
                passphrase: Some(Passphrase::from(OKX_NEW_PASS)),
                linked_services: vec!["grid bot on VPS".into(), "tax export".into()],
                ..NewKey::new("okx-wd", Exchange::Okx, OKX_WD, OKX_NEW_SECRET.into())
            },
        )
        .unwrap();
    assert!(health_rules(&mut f, "okx-wd").contains(&RuleId::NoIpWhitelist));
    checks::verify_session(
        &mut f.session,
        &f.client,
        &CheckSelection::Labels(vec!["okx-wd".into()]),
        Actor::Cli,
    )
    .await
    .unwrap();
    let d = f.session.key_detail("okx-wd").unwrap();
    assert!(d.ip_whitelist.is_empty());
    assert_eq!(d.last_audit_ip_restricted, Some(true));
    assert_eq!(d.last_audit_ip_whitelist, Some(vec![IP_A.to_owned()]));
    let rules = health_rules(&mut f, "okx-wd");
    assert!(rules.contains(&RuleId::WithdrawUndeclared), "{rules:?}");
    assert!(!rules.contains(&RuleId::NoIpWhitelist), "{rules:?}");

    // Rotated to a key without withdraw: from the promotion on, health
    // reads the new key's verified check, with no manual verify.
    let c = Case {
        label: "okx-wd",
        old_id: OKX_WD.into(),
        old_secret: OKX_NEW_SECRET.into(),
        old_pass: Some(OKX_NEW_PASS),
        ..case("okx-bot")
    };
    rotation::begin(&mut f.session, Actor::Cli, c.label).unwrap();
    f.enter(&c);
    f.verify_passing(c.label).await;
    let rules = health_rules(&mut f, c.label);
    assert!(rules.contains(&RuleId::WithdrawUndeclared), "{rules:?}");
    f.promote(c.label);
    let d = f.session.key_detail(c.label).unwrap();
    assert_eq!(
        d.last_audit_permissions,
        Some(vec!["read".to_owned(), "trade".to_owned()])
    );
    assert_eq!(d.last_audit_ip_whitelist, Some(vec![IP_A.to_owned()]));
    let rules = health_rules(&mut f, c.label);
    assert!(!rules.contains(&RuleId::WithdrawUndeclared), "{rules:?}");
    assert!(!rules.contains(&RuleId::NoIpWhitelist), "{rules:?}");
    // The old key deleted by hand and confirmed: still nothing stale.
    let shown = f.revoke_old(c.label, false).await;
    assert!(
        matches!(shown, RevokeOutcome::ManualStepsRequired { .. }),
        "{shown:?}"
    );
    assert!(f.sim.revoke(c.sim, &c.old_id));
    assert!(f.revoke_old(c.label, true).await.is_revoked());
    assert_eq!(f.state(c.label), RotationState::Done);
    let rules = health_rules(&mut f, c.label);
    assert!(!rules.contains(&RuleId::WithdrawUndeclared), "{rules:?}");
    assert!(!rules.contains(&RuleId::NoIpWhitelist), "{rules:?}");
    f.audit_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_a_narrowing() {
    let mut f = Fixture::new().await;
    f.session
        .add_key(
            Actor::Cli,
            NewKey {
                environment: Environment::Custom(f.sim.url(SimExchange::Bybit)),
                scopes: vec![Scope::Read, Scope::Trade],
                ..NewKey::new(
                    "bybit-wd",
                    Exchange::Bybit,
                    BYBIT_WD,
                    BYBIT_OLD_SECRET.into(),
                )
            },
        )
        .unwrap();
    checks::verify_session(
        &mut f.session,
        &f.client,
        &CheckSelection::Labels(vec!["bybit-wd".into()]),
        Actor::Cli,
    )
    .await
    .unwrap();
    let rules = health_rules(&mut f, "bybit-wd");
    assert!(rules.contains(&RuleId::WithdrawUndeclared), "{rules:?}");
    assert!(!rules.contains(&RuleId::NoIpWhitelist), "{rules:?}");
    let g = f.grant::<actions::SecuritySettings>();
    let checked = checks::narrow_key(
        &mut f.session,
        &f.client,
        Actor::Cli,
        g,
        "bybit-wd",
        &Narrowing {
            remove_withdraw: true,
            ..Narrowing::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(checked.permissions.withdraw, Some(false));
    let d = f.session.key_detail("bybit-wd").unwrap();
    assert!(
        !d.last_audit_permissions
            .unwrap()
            .contains(&"withdraw".to_owned())
    );
    assert_eq!(d.last_audit_ip_whitelist, Some(vec![IP_A.to_owned()]));
    let rules = health_rules(&mut f, "bybit-wd");
    assert!(!rules.contains(&RuleId::WithdrawUndeclared), "{rules:?}");
    assert!(!rules.contains(&RuleId::NoIpWhitelist), "{rules:?}");
    f.audit_ok();
}

/// One permission, named by the check's own list, is dropped behind
/// step-up; the audit names it; the stored fresh check no longer offers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_permission_is_dropped_behind_step_up_and_audited() {
    let mut f = Fixture::new().await;
    f.session
        .add_key(
            Actor::Cli,
            NewKey {
                environment: Environment::Custom(f.sim.url(SimExchange::Bybit)),
                scopes: vec![Scope::Read, Scope::Trade],
                ..NewKey::new(
                    "bybit-xfer",
                    Exchange::Bybit,
                    BYBIT_XFER,
                    BYBIT_OLD_SECRET.into(),
                )
            },
        )
        .unwrap();
    let checked = checks::verify_session(
        &mut f.session,
        &f.client,
        &CheckSelection::Labels(vec!["bybit-xfer".into()]),
        Actor::Cli,
    )
    .await
    .unwrap();
    let offered = checked[0].removable.clone();
    assert!(checked[0].narrow_via_api);
    let transfer = offered
        .iter()
        .find(|r| r.name == "Wallet.AccountTransfer")
        .expect("offered");
    assert_eq!(transfer.label, "Wallet · Account transfer");
    let narrowing = Narrowing::dropping([transfer.name.clone()]);
    let narrowed = |f: &mut Fixture| {
        f.session.audit_log(&AuditFilter::default()).map(|log| {
            log.into_iter()
                .filter(|e| e.action.as_str() == "key_narrowed")
                .collect::<Vec<_>>()
        })
    };
    // A grant for another action does not compile (`StepUpGrant<A>`).
    // A permission the key does not hold: a specific error, nothing sent.
    let g = f.grant::<actions::SecuritySettings>();
    let err = checks::narrow_key(
        &mut f.session,
        &f.client,
        Actor::Cli,
        g,
        "bybit-xfer",
        &Narrowing::dropping(["Options.OptionsTrade"]),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(err.to_string().contains("Wallet.AccountTransfer"), "{err}");
    assert!(narrowed(&mut f).unwrap().is_empty());
    let still = checks::verify_session(
        &mut f.session,
        &f.client,
        &CheckSelection::Labels(vec!["bybit-xfer".into()]),
        Actor::Cli,
    )
    .await
    .unwrap();
    assert_eq!(still[0].removable, offered, "nothing changed yet");

    let g = f.grant::<actions::SecuritySettings>();
    let after = checks::narrow_key(
        &mut f.session,
        &f.client,
        Actor::Cli,
        g,
        "bybit-xfer",
        &narrowing,
    )
    .await
    .unwrap();
    let left: Vec<&str> = after.removable.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(left, ["Spot.SpotTrade", "Wallet.Withdraw"]);
    assert_eq!(after.permissions.transfer, Some(false));
    assert_eq!(after.permissions.withdraw, Some(true));
    // The fresh check is the stored one.
    let d = f.session.key_detail("bybit-xfer").unwrap();
    let stored = d.last_audit_permissions.unwrap();
    assert!(!stored.contains(&"transfer".to_owned()), "{stored:?}");
    assert!(stored.contains(&"withdraw".to_owned()), "{stored:?}");
    let log = narrowed(&mut f).unwrap();
    assert_eq!(log.len(), 1);
    let details: serde_json::Value = serde_json::from_str(&log[0].details).unwrap();
    assert_eq!(
        details["dropped"],
        serde_json::json!(["Wallet.AccountTransfer"])
    );
    assert!(!log[0].details.contains(BYBIT_OLD_SECRET));
    f.audit_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_faults_stay_promoted_until_a_retry() {
    let mut f = Fixture::new().await;
    f.client = ExchangeClient::new(config(Duration::from_millis(700))).unwrap();
    let c = case("bybit-bot");
    rotate_to_promoted(&mut f, &c).await;
    // 5xx on the deletion.
    let mut fault = Fault::new(FaultKind::ServerError)
        .on(SimExchange::Bybit)
        .times(0);
    fault.path_contains = Some("delete-api".into());
    fault.status = Some(503);
    f.sim.add_fault(fault);
    let outcome = f.revoke_old(c.label, false).await;
    let RevokeOutcome::Failed { kind, message, .. } = &outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(*kind, ErrorKind::Exchange);
    assert!(message.contains("retry"), "{message}");
    assert_eq!(f.state(c.label), RotationState::Promoted);
    assert!(
        rotation::status(&mut f.session, c.label)
            .unwrap()
            .error
            .is_some()
    );
    // A timeout on the live check after the deletion went through.
    f.sim.clear_faults();
    let mut slow = Fault::new(FaultKind::Latency)
        .on(SimExchange::Bybit)
        .times(0);
    slow.path_contains = Some("query-api".into());
    slow.latency_ms = 3_000;
    f.sim.add_fault(slow);
    let outcome = f.revoke_old(c.label, false).await;
    assert!(
        matches!(outcome, RevokeOutcome::Failed { .. }),
        "{outcome:?}"
    );
    assert_eq!(f.state(c.label), RotationState::Promoted);
    // The network is back: the retry finishes.
    f.sim.clear_faults();
    f.client = ExchangeClient::new(config(Duration::from_secs(3))).unwrap();
    assert!(f.revoke_old(c.label, false).await.is_revoked());
    assert_eq!(f.state(c.label), RotationState::Done);
    assert!(!f.live(&c, true).await);
    f.audit_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_from_a_new_process_proves_a_deletion_the_last_one_did_not_record() {
    let mut f = Fixture::new().await;
    let c = case("bybit-bot");
    rotate_to_promoted(&mut f, &c).await;
    // The exchange deletes the old key; its answer is lost.
    f.lose_delete_answers();
    let outcome = f.revoke_old(c.label, false).await;
    assert!(
        matches!(outcome, RevokeOutcome::Failed { .. }),
        "{outcome:?}"
    );
    assert_eq!(f.state(c.label), RotationState::Promoted);
    f.sim.clear_faults();
    assert!(!f.live(&c, true).await, "the deletion went through");
    // What the first process left: the success right before the delete
    // call, without any secret.
    let recorded = f.baselines();
    assert_eq!(recorded.len(), 1);
    let details: serde_json::Value = serde_json::from_str(&recorded[0].details).unwrap();
    assert_eq!(details["endpoint"], f.sim.url(SimExchange::Bybit));
    assert_eq!(details["digest"].as_str().unwrap().len(), 64);
    // A new process: its own live check is refused, and it never saw the
    // key work; the recorded success makes the refusal a proof.
    f.restart();
    let outcome = f.revoke_old(c.label, false).await;
    let RevokeOutcome::Revoked { method, .. } = &outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(*method, RevokeMethod::Api);
    assert_eq!(f.state(c.label), RotationState::Done);
    assert_eq!(f.baselines().len(), 1, "a refused check records nothing");
    f.audit_ok();
    no_secret_in_log_or_files(&mut f);
}

/// The first attempt of a Bybit key's revocation: the exchange deletes
/// the key, the answer is lost, and the baseline stays recorded.
async fn lose_a_deletion(f: &mut Fixture, c: &Case) {
    f.lose_delete_answers();
    let outcome = f.revoke_key(c.label).await;
    assert!(
        matches!(outcome, RevokeOutcome::Failed { .. }),
        "{outcome:?}"
    );
    f.sim.clear_faults();
    assert!(!f.live(c, true).await, "the deletion went through");
    assert_eq!(f.baselines().len(), 1);
}

/// The retry proves nothing: the key stays as it was, and the refusal is
/// explained by the missing success.
fn assert_not_proven(f: &mut Fixture, c: &Case, outcome: &RevokeOutcome) {
    let RevokeOutcome::Inconclusive { message, .. } = outcome else {
        panic!("{outcome:?}");
    };
    assert!(message.contains("did not authenticate"), "{message}");
    assert_eq!(
        f.session.key_detail(c.label).unwrap().summary.status,
        KeyStatus::Active
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_recorded_baseline_proves_nothing() {
    let mut f = Fixture::new().await;
    let c = case("bybit-bot");
    lose_a_deletion(&mut f, &c).await;
    // Past the 30-minute window (the retry's step-up adds 30 s).
    f.clock.advance(Duration::from_secs(30 * 60));
    f.restart();
    let outcome = f.revoke_key(c.label).await;
    assert_not_proven(&mut f, &c, &outcome);
    f.audit_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_baseline_of_other_credentials_proves_nothing() {
    let mut f = Fixture::new().await;
    let c = case("bybit-bot");
    lose_a_deletion(&mut f, &c).await;
    // The record now holds another key, one Bybit does not know (it
    // answers "invalid key" as it does for the deleted one).
    let g = f.grant::<actions::EditCredentials>();
    f.session
        .edit_key(
            Actor::Cli,
            c.label,
            KeyEdit {
                api_key_id: Some("BYBITOTHERKEY1".into()),
                secret: Some("CANARYROTbybitOTHERsecret".into()),
                ..KeyEdit::default()
            },
            Some(g),
        )
        .unwrap();
    f.restart();
    let outcome = f.revoke_key(c.label).await;
    assert_not_proven(&mut f, &c, &outcome);
    f.audit_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_baseline_of_another_endpoint_proves_nothing() {
    let mut f = Fixture::new().await;
    let c = case("bybit-bot");
    lose_a_deletion(&mut f, &c).await;
    // The same credentials, now sent to another host, where the key is
    // unknown ("invalid key", as for a deleted one).
    let (_, other) = keyward_sim::spawn(Accounts::default()).await.unwrap();
    let g = f.grant::<actions::EditCredentials>();
    f.session
        .edit_key(
            Actor::Cli,
            c.label,
            KeyEdit {
                environment: Some(Environment::Custom(other.url(SimExchange::Bybit))),
                ..KeyEdit::default()
            },
            Some(g),
        )
        .unwrap();
    f.restart();
    let outcome = f.revoke_key(c.label).await;
    assert_not_proven(&mut f, &c, &outcome);
    f.audit_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_and_revoke_need_a_fresh_code() {
    let mut f = Fixture::new().await;
    let c = case("kraken-bot");
    rotation::begin(&mut f.session, Actor::Cli, c.label).unwrap();
    f.enter(&c);
    f.verify_passing(c.label).await;
    // No code.
    let err = f
        .session
        .step_up::<actions::RotationPromote>(Actor::Cli, None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Mfa);
    // A grant for something else does not compile (`StepUpGrant<A>`).
    // A replayed code.
    let used = f.seed.code_at(f.clock.now());
    let err = f
        .session
        .step_up::<actions::RotationPromote>(Actor::Cli, Some(Proof::Totp(used)))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Mfa);
    assert_eq!(f.state(c.label), RotationState::NewKeyVerified);
    f.promote(c.label);
    let log = f.session.audit_log(&AuditFilter::default()).unwrap();
    let promoted = log
        .iter()
        .find(|e| e.action.as_str() == "rotation_promoted")
        .unwrap();
    let details: serde_json::Value = serde_json::from_str(&promoted.details).unwrap();
    assert_eq!(details["proof"], "totp");
    f.audit_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_open_rotation_per_key_cancel_and_stale_results() {
    let mut f = Fixture::new().await;
    let c = case("binance-bot");
    rotation::begin(&mut f.session, Actor::Cli, c.label).unwrap();
    let err = rotation::begin(&mut f.session, Actor::Cli, c.label).unwrap_err();
    assert!(matches!(err, RotationError::AlreadyOpen { .. }));
    // The schema refuses a second open rotation even behind the code's back.
    {
        let conn = rusqlite::Connection::open(&f.path).unwrap();
        let r = conn.execute(
            "INSERT INTO rotations (id, key_id, state, prior_status, old_fingerprint, scopes,
                planned_at)
             SELECT randomblob(16), key_id, 'promoted', 'active', x'00', '', 0 FROM rotations",
            [],
        );
        assert!(r.is_err(), "a second open rotation was accepted");
    }
    // The same key again is refused.
    let err = rotation::enter_new_key(
        &mut f.session,
        Actor::Cli,
        c.label,
        NewRotationKey {
            api_key_id: c.old_id.clone(),
            secret: "CANARYROTx".into(),
            passphrase: None,
            key_type: None,
        },
    )
    .unwrap_err();
    assert!(matches!(err, RotationError::SameKey { .. }));
    f.enter(&c);
    // A check prepared before the key was re-entered is stale.
    let pending =
        rotation::prepare_verify(&mut f.session, c.label, &VerifyOptions::default()).unwrap();
    f.enter(&c);
    let checked = pending.run(&f.client).await;
    let err = rotation::record_verify(&mut f.session, Actor::Cli, checked).unwrap_err();
    assert!(matches!(err, RotationError::Stale { .. }), "{err}");
    // Cancel restores the status; a new rotation may start.
    let v = rotation::cancel(&mut f.session, Actor::Cli, c.label).unwrap();
    assert_eq!(v.state, RotationState::Cancelled);
    assert!(!v.can_cancel);
    assert_eq!(
        f.session.key_detail(c.label).unwrap().summary.status,
        KeyStatus::Active
    );
    let err = rotation::cancel(&mut f.session, Actor::Cli, c.label).unwrap_err();
    assert!(matches!(err, RotationError::NoOpenRotation { .. }));
    rotation::begin(&mut f.session, Actor::Cli, c.label).unwrap();
    f.enter(&c);
    f.verify_passing(c.label).await;
    f.promote(c.label);
    let err = rotation::cancel(&mut f.session, Actor::Cli, c.label).unwrap_err();
    assert!(matches!(err, RotationError::WrongState { .. }), "{err}");
    f.audit_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_and_whole_exchange_revocation() {
    let mut f = Fixture::new().await;
    // A second OKX key: the panic action covers both.
    f.session
        .add_key(
            Actor::Cli,
            NewKey {
                environment: Environment::Custom(f.sim.url(SimExchange::Okx)),
                passphrase: Some(OKX_NEW_PASS.into()),
                ..NewKey::new("okx-two", Exchange::Okx, OKX_NEW, OKX_NEW_SECRET.into())
            },
        )
        .unwrap();
    // Unknown label.
    let g = f.grant::<actions::Revoke>();
    let err = rotation::prepare_key_revoke(&mut f.session, g, "nope", false).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    // First the steps: Keyward checks each key live before the user
    // deletes it (the baseline that makes the later rejection a proof).
    let g = f.grant::<actions::Revoke>();
    let shown = rotation::revoke_exchange(
        &mut f.session,
        &f.client,
        Actor::Cli,
        g,
        Exchange::Okx,
        false,
    )
    .await
    .unwrap();
    assert!(
        shown
            .iter()
            .all(|o| matches!(o, RevokeOutcome::ManualStepsRequired { .. })),
        "{shown:?}"
    );
    // The user deleted one of them; the other still works.
    f.sim.revoke(SimExchange::Okx, OKX_OLD);
    let g = f.grant::<actions::Revoke>();
    let outcomes = rotation::revoke_exchange(
        &mut f.session,
        &f.client,
        Actor::Cli,
        g,
        Exchange::Okx,
        true,
    )
    .await
    .unwrap();
    assert_eq!(outcomes.len(), 2);
    let by = |l: &str| outcomes.iter().find(|o| o.label() == l).unwrap();
    assert!(by("okx-bot").is_revoked());
    assert!(matches!(by("okx-two"), RevokeOutcome::StillActive { .. }));
    assert_eq!(
        f.session.key_detail("okx-bot").unwrap().summary.status,
        KeyStatus::Revoked
    );
    assert_eq!(
        f.session.key_detail("okx-two").unwrap().summary.status,
        KeyStatus::Active
    );
    // Deleted by hand, but checked from a client that never saw the key
    // work: OKX's 50111 can also mean "a key of another environment or
    // region", so nothing is recorded.
    f.sim.revoke(SimExchange::Okx, OKX_NEW);
    let fresh = ExchangeClient::new(config(Duration::from_secs(3))).unwrap();
    let g = f.grant::<actions::Revoke>();
    let outcome = rotation::revoke_key(&mut f.session, &fresh, Actor::Cli, g, "okx-two", true)
        .await
        .unwrap();
    let RevokeOutcome::Inconclusive {
        message,
        check_by_hand,
        ..
    } = &outcome
    else {
        panic!("{outcome:?}");
    };
    assert!(
        message.contains("NOT PROVEN") && message.contains("50111"),
        "{message}"
    );
    assert!(!check_by_hand.is_empty());
    assert_eq!(
        f.session.key_detail("okx-two").unwrap().summary.status,
        KeyStatus::Active
    );
    // The client that saw it work a moment before the deletion: proof.
    let g = f.grant::<actions::Revoke>();
    let outcome = rotation::revoke_key(&mut f.session, &f.client, Actor::Cli, g, "okx-two", true)
        .await
        .unwrap();
    assert!(outcome.is_revoked(), "{outcome:?}");
    // Standalone, Bybit through its API; an open rotation before
    // promotion is cancelled by it.
    rotation::begin(&mut f.session, Actor::Cli, "bybit-bot").unwrap();
    let g = f.grant::<actions::Revoke>();
    let outcome =
        rotation::revoke_key(&mut f.session, &f.client, Actor::Cli, g, "bybit-bot", false)
            .await
            .unwrap();
    assert!(outcome.is_revoked(), "{outcome:?}");
    assert_eq!(f.state("bybit-bot"), RotationState::Cancelled);
    assert_eq!(
        f.session.key_detail("bybit-bot").unwrap().summary.status,
        KeyStatus::Revoked
    );
    assert!(!f.live(&case("bybit-bot"), true).await);
    // Revoked keys cannot be rotated or revoked again.
    let err = rotation::begin(&mut f.session, Actor::Cli, "bybit-bot").unwrap_err();
    assert!(matches!(err, RotationError::KeyStatus { .. }));
    let log = f.session.audit_log(&AuditFilter::default()).unwrap();
    assert_eq!(
        log.iter()
            .filter(|e| e.action.as_str() == "key_revoked")
            .count(),
        3
    );
    f.audit_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktop_lock_is_free_while_the_exchange_is_asked() {
    let f = Fixture::new().await;
    let c = case("okx-bot");
    let Fixture {
        session,
        client,
        sim,
        _dir,
        ..
    } = f;
    let slot = Arc::new(Mutex::new(Some(session)));
    {
        let mut guard = slot.lock().unwrap();
        let s = guard.as_mut().unwrap();
        rotation::begin(s, Actor::Gui, c.label).unwrap();
        rotation::enter_new_key(
            s,
            Actor::Gui,
            c.label,
            NewRotationKey {
                api_key_id: c.new_id.clone(),
                secret: c.new_secret.as_str().into(),
                passphrase: c.new_pass.map(Passphrase::from),
                key_type: None,
            },
        )
        .unwrap();
    }
    let mut slow = Fault::new(FaultKind::Latency).on(SimExchange::Okx);
    slow.latency_ms = 800;
    sim.add_fault(slow);
    let task = {
        let slot = slot.clone();
        let client = client.clone();
        tokio::spawn(async move {
            rotation::verify_new_key(
                &*slot,
                &client,
                Actor::Gui,
                "okx-bot",
                &VerifyOptions::default(),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    {
        let mut guard = slot
            .try_lock()
            .expect("the session lock is held during the call");
        guard.as_mut().unwrap().list_keys().unwrap();
    }
    let out = task.await.unwrap().unwrap();
    assert!(out.authenticated);
    // A vault locked meanwhile records nothing.
    slot.lock().unwrap().take().unwrap().lock();
    let err = rotation::verify_new_key(
        &*slot,
        &client,
        Actor::Gui,
        "okx-bot",
        &VerifyOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, RotationError::Vault(VaultError::Locked)));
}

const SECRETS: [&str; 10] = [
    OKX_OLD_SECRET,
    OKX_NEW_SECRET,
    OKX_OLD_PASS,
    OKX_NEW_PASS,
    BYBIT_OLD_SECRET,
    BYBIT_NEW_SECRET,
    KRAKEN_OLD_SECRET,
    KRAKEN_NEW_SECRET,
    BIN_OLD_SECRET,
    BIN_NEW_SECRET,
];

fn no_secret_in_files(f: &mut Fixture) {
    let views = format!(
        "{:?}",
        cases()
            .iter()
            .map(
                |c| serde_json::to_string(&rotation::status(&mut f.session, c.label).unwrap())
                    .unwrap()
            )
            .collect::<Vec<_>>()
    );
    for s in SECRETS {
        assert!(!views.contains(s), "secret in a view");
    }
    no_secret_in_log_or_files(f);
}

fn no_secret_in_log_or_files(f: &mut Fixture) {
    let log = f.session.audit_log(&AuditFilter::default()).unwrap();
    let text = format!("{log:?}");
    for s in SECRETS {
        assert!(!text.contains(s), "secret in the audit log");
    }
    for entry in std::fs::read_dir(f.path.parent().unwrap()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for s in SECRETS.iter().chain(["CANARYROT"].iter()) {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "plaintext secret in a vault file"
            );
        }
    }
}
