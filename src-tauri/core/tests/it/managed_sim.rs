//! Managed keys against the simulator over HTTP, with a real vault: a
//! manager key is marked only with its step-up and only when its live
//! check makes it fit (a sub-account key is refused, the master key is
//! taken); the inventory flags a key planted on the account, classifies
//! the vault's keys (known, missing) and stores their sub-accounts; an
//! incomplete Binance listing never calls a key missing; an unknown key is
//! deleted through the manager key and a vault key is refused; a manager
//! key never reaches `keyward run`; the incident's inventory step records
//! the unknown key; no secret and no full key id of the inventory reaches
//! a result, an error or the audit log.

use keyward_core::audit::store::AuditFilter;
use keyward_core::exchange::{ExchangeClient, HttpConfig};
use keyward_core::incident::{self, Situation, StepState};
use keyward_core::managed::{self, InventoryStatus, ManagedError};
use keyward_core::mfa::actions::{self, Gated};
use keyward_core::mfa::{Proof, StepUpGrant};
use keyward_core::model::{Environment, Exchange, NewKey, Scope, mask_key_id};
use keyward_core::vault::{Actor, KdfParams, MasterPassword, Session, Vault, VaultError};
use keyward_core::{ErrorKind, KindedError};
use keyward_sim::{Accounts, KeyAccount, SimExchange, SimHandle, SimScope, SubAccount};

const PASSWORD: &str = "correct horse battery staple";
const SECRET: &str = "CANARYmanaged0secret0123456789";
const BYBIT_MASTER: &str = "BYBITMASTER01";
const BYBIT_SUB: &str = "BYBITSUBKEY01";
const BYBIT_ROGUE: &str = "BYBITROGUEKEY7";
const BYBIT_GONE: &str = "BYBITGONEKEY99";
const BYBIT_SUB_UID: &str = "100400345";
const BYBIT_MASTER_UID: &str = "24617703";
const BINANCE_SUB_EMAIL: &str = "sub1@example.com";

fn binance_id(tag: char) -> String {
    let mut id = String::from("BINANCE");
    id.extend(std::iter::repeat_n(tag, 57));
    id
}

fn sub_account(exchange: SimExchange, id: &str) -> SubAccount {
    SubAccount {
        exchange,
        id: id.into(),
        uid: None,
        label: None,
        created_at_ms: None,
        note: None,
    }
}

fn accounts() -> Accounts {
    use SimScope::*;
    let bybit_sub = |id: &str| KeyAccount {
        parent_uid: Some(BYBIT_MASTER_UID.into()),
        sub_account: Some(BYBIT_SUB_UID.into()),
        ..KeyAccount::hmac(SimExchange::Bybit, id, SECRET, &[Read, Trade])
    };
    Accounts {
        keys: vec![
            KeyAccount {
                ips: vec!["203.0.113.9".into()],
                ..KeyAccount::hmac(SimExchange::Bybit, BYBIT_MASTER, SECRET, &[Read, Transfer])
            },
            bybit_sub(BYBIT_SUB),
            // Made by someone else: on the account, not in the vault.
            bybit_sub(BYBIT_ROGUE),
            KeyAccount {
                ips: vec!["203.0.113.9".into()],
                ..KeyAccount::hmac(
                    SimExchange::Binance,
                    &binance_id('M'),
                    SECRET,
                    &[Read, Trade],
                )
            },
            KeyAccount {
                sub_account: Some(BINANCE_SUB_EMAIL.into()),
                ..KeyAccount::hmac(
                    SimExchange::Binance,
                    &binance_id('S'),
                    SECRET,
                    &[Read, Trade],
                )
            },
        ],
        sub_accounts: vec![
            sub_account(SimExchange::Bybit, BYBIT_SUB_UID),
            sub_account(SimExchange::Binance, BINANCE_SUB_EMAIL),
        ],
        rate_limits: false,
        ..Accounts::default()
    }
}

struct Fixture {
    sim: SimHandle,
    _dir: tempfile::TempDir,
    session: Session,
    client: ExchangeClient,
}

impl Fixture {
    async fn new() -> Fixture {
        let (_, sim) = keyward_sim::spawn(accounts()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut session = Vault::create(
            &dir.path().join("vault.keyward"),
            &MasterPassword::from(PASSWORD),
            KdfParams::MINIMUM,
            Actor::Cli,
        )
        .unwrap();
        let bybit = sim.url(SimExchange::Bybit);
        let binance = sim.url(SimExchange::Binance);
        for (label, exchange, base, id) in [
            (
                "bybit-master",
                Exchange::Bybit,
                &bybit,
                BYBIT_MASTER.to_owned(),
            ),
            ("bybit-bot", Exchange::Bybit, &bybit, BYBIT_SUB.to_owned()),
            ("bybit-gone", Exchange::Bybit, &bybit, BYBIT_GONE.to_owned()),
            (
                "binance-master",
                Exchange::Binance,
                &binance,
                binance_id('M'),
            ),
            ("binance-bot", Exchange::Binance, &binance, binance_id('S')),
            (
                "binance-other",
                Exchange::Binance,
                &binance,
                binance_id('X'),
            ),
        ] {
            let key = NewKey {
                environment: Environment::Custom(base.clone()),
                scopes: vec![Scope::Read, Scope::Trade],
                ..NewKey::new(label, exchange, id, SECRET.into())
            };
            session.add_key(Actor::Cli, key).unwrap();
        }
        let client = ExchangeClient::new(HttpConfig::default()).unwrap();
        Fixture {
            sim,
            _dir: dir,
            session,
            client,
        }
    }

    fn grant<A: Gated>(&mut self) -> StepUpGrant<A> {
        let verified = self
            .session
            .verify_password(&MasterPassword::from(PASSWORD))
            .unwrap();
        self.session
            .step_up::<A>(Actor::Cli, Some(Proof::MasterPassword(verified)))
            .unwrap()
    }

    fn env(&self, exchange: SimExchange) -> Environment {
        Environment::Custom(self.sim.url(exchange))
    }

    async fn mark(&mut self, label: &str) -> Result<managed::MarkOutcome, ManagedError> {
        let g = self.grant::<actions::MarkManager>();
        managed::mark(&mut self.session, &self.client, Actor::Cli, g, label).await
    }

    async fn inventory(&mut self, exchange: Exchange) -> managed::InventoryReport {
        let env = self.env(match exchange {
            Exchange::Bybit => SimExchange::Bybit,
            _ => SimExchange::Binance,
        });
        let g = self.grant::<actions::UseManager>();
        managed::inventory(
            &mut self.session,
            &self.client,
            Actor::Cli,
            g,
            exchange,
            &env,
        )
        .await
        .unwrap()
    }

    fn audit_text(&mut self) -> String {
        let log = self.session.audit_log(&AuditFilter::default()).unwrap();
        log.iter()
            .map(|e| format!("{} {}", e.action.as_str(), e.details))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// No secret and no full id of a key the vault does not hold.
fn clean(text: &str) {
    assert!(!text.contains("CANARY"), "a secret: {text}");
    assert!(!text.contains(BYBIT_ROGUE), "a full key id: {text}");
}

#[tokio::test]
async fn marking_needs_its_step_up_refuses_a_sub_key_and_takes_the_master_key() {
    let mut f = Fixture::new().await;
    // No proof, no grant: nothing reaches the exchange.
    let e = f
        .session
        .step_up::<actions::MarkManager>(Actor::Cli, None)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Mfa);

    let e = f.mark("bybit-bot").await.unwrap_err();
    assert!(matches!(e, ManagedError::Unfit { .. }), "{e:?}");
    assert!(e.to_string().contains("sub-account"), "{e}");
    clean(&e.to_string());
    assert!(!f.session.key_detail("bybit-bot").unwrap().summary.manager);

    let done = f.mark("bybit-master").await.unwrap();
    assert!(done.fitness.fit, "{:?}", done.fitness);
    assert!(
        f.session
            .key_detail("bybit-master")
            .unwrap()
            .summary
            .manager
    );
    let env = f.env(SimExchange::Bybit);
    assert_eq!(
        managed::manager_for(&mut f.session, Exchange::Bybit, &env)
            .unwrap()
            .as_deref(),
        Some("bybit-master")
    );
    // A second manager key for the same account is refused.
    let e = f.mark("bybit-bot").await.unwrap_err();
    assert!(matches!(e, ManagedError::OtherManager { .. }), "{e:?}");
    let audit = f.audit_text();
    assert!(audit.contains("manager_key_marked"), "{audit}");
    clean(&audit);

    // Unmarking takes its own step-up too.
    let g = f.grant::<actions::MarkManager>();
    managed::unmark(&mut f.session, Actor::Cli, g, "bybit-master").unwrap();
    assert!(
        !f.session
            .key_detail("bybit-master")
            .unwrap()
            .summary
            .manager
    );
    assert!(f.audit_text().contains("manager_key_unmarked"));
}

#[tokio::test]
async fn a_manager_key_is_refused_for_run_even_if_allowed_before() {
    let mut f = Fixture::new().await;
    let g = f.grant::<actions::AllowRun>();
    f.session
        .set_allow_run(Actor::Cli, g, "bybit-master", true)
        .unwrap();
    f.mark("bybit-master").await.unwrap();
    let e = f
        .session
        .run_secrets(Actor::Cli, "bybit-master")
        .unwrap_err();
    assert!(matches!(e, VaultError::ManagerKeyNotForRun { .. }), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::Invalid);
    clean(&e.to_string());
    let e = f
        .session
        .run_env(Actor::Cli, &["bybit-master".to_owned()], &[])
        .unwrap_err();
    assert!(e.to_string().contains("manager key"), "{e}");
}

/// A manager key never sits on a server: a key granted to a deployment
/// target is refused as manager (naming the target), and once marked it
/// cannot be granted.
#[tokio::test]
async fn a_manager_key_is_never_granted_to_a_server() {
    use keyward_core::deploy::{self, DeployError, NewTarget};
    let mut f = Fixture::new().await;
    let (_identity, recipient) = deploy::new_identity();
    let g = f.grant::<actions::DeployTargets>();
    f.session
        .add_deploy_target(
            Actor::Cli,
            g,
            &NewTarget {
                name: "vps".into(),
                ssh: "bot@127.0.0.1:2222".into(),
                remote_path: "keys".into(),
                recipient,
            },
        )
        .unwrap();
    let g = f.grant::<actions::DeployTargets>();
    f.session
        .grant_deploy_target(Actor::Cli, g, "vps", "bybit-master", true)
        .unwrap();
    let e = f.mark("bybit-master").await.unwrap_err();
    assert!(matches!(e, ManagedError::Deployed { .. }), "{e:?}");
    assert!(e.to_string().contains("vps"), "{e}");
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(
        !f.session
            .key_detail("bybit-master")
            .unwrap()
            .summary
            .manager
    );

    let g = f.grant::<actions::DeployTargets>();
    f.session
        .grant_deploy_target(Actor::Cli, g, "vps", "bybit-master", false)
        .unwrap();
    f.mark("bybit-master").await.unwrap();
    let g = f.grant::<actions::DeployTargets>();
    let e = f
        .session
        .grant_deploy_target(Actor::Cli, g, "vps", "bybit-master", true)
        .unwrap_err();
    assert!(matches!(e, DeployError::ManagerKey { .. }), "{e:?}");
    assert!(
        f.session
            .deploy_targets_of("bybit-master")
            .unwrap()
            .is_empty()
    );
    clean(&e.to_string());
}

#[tokio::test]
async fn the_inventory_flags_a_planted_key_and_classifies_the_vault() {
    let mut f = Fixture::new().await;
    // No manager key yet: said, with how to mark one.
    let g = f.grant::<actions::UseManager>();
    let env = f.env(SimExchange::Bybit);
    let e = managed::inventory(
        &mut f.session,
        &f.client,
        Actor::Cli,
        g,
        Exchange::Bybit,
        &env,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ManagedError::NoManager { .. }), "{e:?}");
    assert!(e.to_string().contains("keyward manager mark"), "{e}");

    f.mark("bybit-master").await.unwrap();
    let report = f.inventory(Exchange::Bybit).await;
    assert!(report.complete, "{:?}", report.notes);
    let json = serde_json::to_string(&report).unwrap();
    clean(&json);
    let status_of = |masked: &str| {
        report
            .entries
            .iter()
            .find(|e| e.key_id_masked == masked)
            .map(|e| e.status)
    };
    assert_eq!(
        status_of(&mask_key_id(BYBIT_ROGUE)),
        Some(InventoryStatus::Unknown),
        "{json}"
    );
    assert_eq!(
        status_of(&mask_key_id(BYBIT_SUB)),
        Some(InventoryStatus::Known),
        "{json}"
    );
    assert_eq!(
        status_of(&mask_key_id(BYBIT_MASTER)),
        Some(InventoryStatus::Known),
        "{json}"
    );
    assert_eq!(
        status_of(&mask_key_id(BYBIT_GONE)),
        Some(InventoryStatus::Missing),
        "{json}"
    );
    assert_eq!(report.counts.unknown, 1);
    assert_eq!(report.counts.missing, 1);
    // The unknown key first: the red flag leads.
    assert_eq!(report.entries[0].status, InventoryStatus::Unknown);
    assert_eq!(
        report.entries[0].sub_account.as_deref(),
        Some(BYBIT_SUB_UID)
    );
    // The sub-account of a known key is stored (auto-rotation needs it).
    assert_eq!(
        managed::sub_account_of(&mut f.session, "bybit-bot")
            .unwrap()
            .as_deref(),
        Some(BYBIT_SUB_UID)
    );
    assert_eq!(
        managed::sub_account_of(&mut f.session, "bybit-master").unwrap(),
        None
    );
    let audit = f.audit_text();
    assert!(audit.contains("inventory_taken"), "{audit}");
    assert!(audit.contains("\"unknown\":1"), "{audit}");
    clean(&audit);
    // Every key still verifies: storing the sub-account kept the rows' MACs.
    assert!(f.session.check_integrity().unwrap().damaged.is_empty());
}

#[tokio::test]
async fn an_incomplete_binance_listing_never_says_missing() {
    let mut f = Fixture::new().await;
    f.mark("binance-master").await.unwrap();
    let report = f.inventory(Exchange::Binance).await;
    assert!(!report.complete);
    assert!(!report.notes.is_empty());
    assert_eq!(report.counts.missing, 0, "{report:?}");
    let entry = |label: &str| {
        report
            .entries
            .iter()
            .find(|e| e.label.as_deref() == Some(label))
            .unwrap()
            .clone()
    };
    let other = entry("binance-other");
    assert_eq!(other.status, InventoryStatus::NotListed);
    assert!(
        other.note.as_deref().unwrap_or("").contains("Binance"),
        "{other:?}"
    );
    // Found by asking the sub-accounts: known, with its sub-account stored.
    let bot = entry("binance-bot");
    assert_eq!(bot.status, InventoryStatus::Known, "{report:?}");
    assert_eq!(
        managed::sub_account_of(&mut f.session, "binance-bot")
            .unwrap()
            .as_deref(),
        Some(BINANCE_SUB_EMAIL)
    );
    assert_eq!(entry("binance-master").status, InventoryStatus::Known);
}

#[tokio::test]
async fn an_unknown_key_is_deleted_and_a_vault_key_is_refused() {
    let mut f = Fixture::new().await;
    f.mark("bybit-master").await.unwrap();
    let env = f.env(SimExchange::Bybit);
    // A key of the vault goes through the normal revocation.
    for given in [BYBIT_SUB.to_owned(), mask_key_id(BYBIT_SUB)] {
        let g = f.grant::<actions::UseManager>();
        let e = managed::revoke_unknown(
            &mut f.session,
            &f.client,
            Actor::Cli,
            g,
            Exchange::Bybit,
            &env,
            &given,
        )
        .await
        .unwrap_err();
        assert!(matches!(e, ManagedError::KnownKey { .. }), "{given}: {e:?}");
        assert!(e.to_string().contains("keyward revoke bybit-bot"), "{e}");
    }
    // Not on the account.
    let g = f.grant::<actions::Revoke>();
    let e = managed::revoke_unknown(
        &mut f.session,
        &f.client,
        Actor::Cli,
        g,
        Exchange::Bybit,
        &env,
        "BYBITNOSUCHKEY",
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e:?}");

    // The planted key, by the masked id the inventory shows.
    let g = f.grant::<actions::UseManager>();
    let done = managed::revoke_unknown(
        &mut f.session,
        &f.client,
        Actor::Cli,
        g,
        Exchange::Bybit,
        &env,
        &mask_key_id(BYBIT_ROGUE),
    )
    .await
    .unwrap();
    assert_eq!(done.key_id_masked, mask_key_id(BYBIT_ROGUE));
    assert_eq!(done.sub_account, BYBIT_SUB_UID);
    let report = f.inventory(Exchange::Bybit).await;
    assert_eq!(report.counts.unknown, 0, "{report:?}");
    // The vault's sub-account key is untouched.
    assert!(
        report.entries.iter().any(
            |e| e.key_id_masked == mask_key_id(BYBIT_SUB) && e.status == InventoryStatus::Known
        )
    );
    let audit = f.audit_text();
    assert!(audit.contains("unknown_key_revoked"), "{audit}");
    clean(&audit);
}

#[tokio::test]
async fn the_incident_inventory_step_records_the_unknown_key() {
    let mut f = Fixture::new().await;
    f.mark("bybit-master").await.unwrap();
    let view = incident::open(
        &mut f.session,
        Actor::Cli,
        Situation::Leaked,
        &["bybit-bot".to_owned()],
        None,
    )
    .unwrap();
    let id = view.id.clone();
    assert!(incident::step_needs_grant(&mut f.session, &id, "inventory").unwrap());
    let e = incident::run_step(
        &mut f.session,
        &f.client,
        Actor::Cli,
        &id,
        "inventory",
        None,
        false,
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Mfa);
    let g = f.grant::<actions::Revoke>();
    let run = incident::run_step(
        &mut f.session,
        &f.client,
        Actor::Cli,
        &id,
        "inventory",
        Some(g),
        false,
    )
    .await
    .unwrap();
    assert_eq!(run.state, StepState::Done, "{:?}", run.results);
    let text = run.results.join("\n");
    assert!(
        text.contains("UNKNOWN key") && text.contains(&mask_key_id(BYBIT_ROGUE)),
        "{text}"
    );
    clean(&text);
    let report = keyward_core::incident::report::markdown(&run.incident);
    assert!(report.contains(&mask_key_id(BYBIT_ROGUE)), "{report}");
    clean(&report);
}

#[tokio::test]
async fn health_flags_a_manager_key_with_withdraw_and_no_whitelist() {
    use keyward_core::health::{self, RuleId, Severity};
    // A master key that can withdraw and is bound to no IP: fit to manage
    // keys, but riskier than needed.
    let accounts = Accounts {
        keys: vec![KeyAccount::hmac(
            SimExchange::Bybit,
            BYBIT_MASTER,
            SECRET,
            &[SimScope::Read, SimScope::Transfer, SimScope::Withdraw],
        )],
        rate_limits: false,
        ..Accounts::default()
    };
    let (_, sim) = keyward_sim::spawn(accounts).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut session = Vault::create(
        &dir.path().join("vault.keyward"),
        &MasterPassword::from(PASSWORD),
        KdfParams::MINIMUM,
        Actor::Cli,
    )
    .unwrap();
    let key = NewKey {
        environment: Environment::Custom(sim.url(SimExchange::Bybit)),
        scopes: vec![Scope::Read, Scope::Transfer],
        ..NewKey::new("bybit-master", Exchange::Bybit, BYBIT_MASTER, SECRET.into())
    };
    session.add_key(Actor::Cli, key).unwrap();
    let client = ExchangeClient::new(HttpConfig::default()).unwrap();
    let verified = session
        .verify_password(&MasterPassword::from(PASSWORD))
        .unwrap();
    let g = session
        .step_up::<actions::MarkManager>(Actor::Cli, Some(Proof::MasterPassword(verified)))
        .unwrap();
    let done = managed::mark(&mut session, &client, Actor::Cli, g, "bybit-master")
        .await
        .unwrap();
    // The exchange layer says what makes it riskier than needed.
    let problems = done.fitness.problems.join(" ");
    assert!(problems.contains("withdraw"), "{problems}");
    // The live check is stored, and health judges the manager key by it.
    assert!(done.check.is_some());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let report = health::report_for(&mut session, now, &[]).unwrap();
    let found: Vec<(RuleId, Severity)> = report
        .findings
        .iter()
        .filter(|f| f.label == "bybit-master")
        .map(|f| (f.rule, f.severity))
        .collect();
    assert!(
        found.contains(&(RuleId::ManagerWithdraw, Severity::Critical)),
        "{found:?}"
    );
    assert!(
        found.contains(&(RuleId::ManagerNoIpWhitelist, Severity::Critical)),
        "{found:?}"
    );
    // The general rules do not count the same problem twice.
    assert!(
        !found
            .iter()
            .any(|(r, _)| matches!(r, RuleId::NoIpWhitelist | RuleId::WithdrawUndeclared))
    );
}
