//! Account management through a master ("manager") key against the
//! simulator over HTTP, for Bybit, OKX and Binance: the sub-accounts, an
//! inventory that finds a planted sub-account key (Binance's says it is
//! incomplete), a sub-account key created with [Read, Trade] and an IP
//! list that verifies with exactly those, its deletion proven by
//! `confirm_revoked`, a sub-account key refused as a manager with the
//! exchange's documented code, `manager_fitness` for a master key, a
//! sub-account key and a key with withdraw and no IP allowlist, scopes the
//! exchange cannot grant refused before anything is sent, and no created
//! secret in any Debug or error output.

use std::time::Duration;

use keyward_core::exchange::{
    AccountRole, Credentials, Endpoint, ExchangeClient, ExchangeError, HttpConfig, RevocationCheck,
    SubKeySpec, manager_fitness,
};
use keyward_core::model::{Environment, Exchange, Scope};
use keyward_sim::{Accounts, KeyAccount, SimExchange, SimHandle, SimScope, SubAccount};
use secrecy::ExposeSecret;

const IP_A: &str = "192.0.2.10";
const IP_B: &str = "192.0.2.11";

const BY_MASTER: (&str, &str) = ("BYMGRMASTER1", "bybit-manager-master-secret");
const BY_WD: (&str, &str) = ("BYMGRWD1", "bybit-manager-withdraw-secret");
const BY_SUB: (&str, &str) = ("BYMGRSUB1", "bybit-manager-sub-secret");
const BY_UID: &str = "100400345";
const BY_MASTER_UID: &str = "24617703";

const OKX_MASTER: (&str, &str, &str) = (
    "0a1b2c3d-0000-4000-8000-0000000000a1",
    "A2582BD0CFF14C41EDBF1AB98506286D",
    "Master-1!",
);
const OKX_WD: (&str, &str, &str) = (
    "0a1b2c3d-0000-4000-8000-0000000000a2",
    "B2582BD0CFF14C41EDBF1AB98506286D",
    "Master-2!",
);
const OKX_SUB: (&str, &str, &str) = (
    "0a1b2c3d-0000-4000-8000-0000000000a3",
    "C2582BD0CFF14C41EDBF1AB98506286D",
    "Sub-1!",
);
const OKX_SUBACCT: &str = "botsub01";
const OKX_SUB_UID: &str = "698827017768230914";

const BN_EMAIL: &str = "sub1@example.com";
const BN_SECRET: &str = "binance-manager-master-secret";
const BN_WD_SECRET: &str = "binance-manager-withdraw-secret";
const BN_SUB_SECRET: &str = "binance-manager-sub-secret";

fn bn_id(tag: char) -> String {
    let mut id = String::from("BNMGR");
    id.extend(std::iter::repeat_n(tag, 59));
    id
}

fn sub(exchange: SimExchange, id: &str, uid: Option<&str>) -> SubAccount {
    SubAccount {
        exchange,
        id: id.into(),
        uid: uid.map(str::to_string),
        label: Some("bot sub".into()),
        created_at_ms: Some(1_700_000_000_000),
        note: None,
    }
}

fn accounts() -> Accounts {
    let okx = |(k, s, p): (&str, &str, &str), scopes: &[SimScope]| KeyAccount {
        passphrase: Some(p.into()),
        ..KeyAccount::hmac(SimExchange::Okx, k, s, scopes)
    };
    Accounts {
        rate_limits: false,
        keys: vec![
            // Bybit.
            KeyAccount {
                ips: vec![IP_A.into()],
                ..KeyAccount::hmac(
                    SimExchange::Bybit,
                    BY_MASTER.0,
                    BY_MASTER.1,
                    &[SimScope::Read, SimScope::Transfer],
                )
            },
            KeyAccount::hmac(
                SimExchange::Bybit,
                BY_WD.0,
                BY_WD.1,
                &[SimScope::Read, SimScope::Withdraw],
            ),
            KeyAccount {
                sub_account: Some(BY_UID.into()),
                parent_uid: Some(BY_MASTER_UID.into()),
                ips: vec![IP_A.into()],
                label: Some("planted".into()),
                ..KeyAccount::hmac(
                    SimExchange::Bybit,
                    BY_SUB.0,
                    BY_SUB.1,
                    &[SimScope::Read, SimScope::Trade, SimScope::Transfer],
                )
            },
            // OKX.
            KeyAccount {
                ips: vec![IP_A.into()],
                ..okx(OKX_MASTER, &[SimScope::Read, SimScope::Trade])
            },
            okx(
                OKX_WD,
                &[SimScope::Read, SimScope::Trade, SimScope::Withdraw],
            ),
            KeyAccount {
                sub_account: Some(OKX_SUBACCT.into()),
                ips: vec![IP_A.into()],
                ..okx(OKX_SUB, &[SimScope::Read, SimScope::Trade])
            },
            // Binance.
            KeyAccount {
                ips: vec![IP_A.into()],
                ..KeyAccount::hmac(
                    SimExchange::Binance,
                    &bn_id('M'),
                    BN_SECRET,
                    &[SimScope::Read, SimScope::Trade],
                )
            },
            KeyAccount::hmac(
                SimExchange::Binance,
                &bn_id('W'),
                BN_WD_SECRET,
                &[SimScope::Read, SimScope::Trade, SimScope::Withdraw],
            ),
            KeyAccount {
                sub_account: Some(BN_EMAIL.into()),
                ..KeyAccount::hmac(
                    SimExchange::Binance,
                    &bn_id('S'),
                    BN_SUB_SECRET,
                    &[SimScope::Read, SimScope::Trade],
                )
            },
        ],
        sub_accounts: vec![
            sub(SimExchange::Bybit, BY_UID, None),
            sub(SimExchange::Okx, OKX_SUBACCT, Some(OKX_SUB_UID)),
            sub(SimExchange::Binance, BN_EMAIL, None),
        ],
        ..Accounts::default()
    }
}

struct Fixture {
    sim: SimHandle,
    client: ExchangeClient,
}

impl Fixture {
    async fn new() -> Fixture {
        let (_, sim) = keyward_sim::spawn(accounts()).await.unwrap();
        let client = ExchangeClient::new(HttpConfig {
            request_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(2),
            backoff_base: Duration::from_millis(20),
            ..HttpConfig::default()
        })
        .unwrap();
        Fixture { sim, client }
    }

    fn ep(&self, ex: Exchange) -> Endpoint {
        let sim_ex = match ex {
            Exchange::Bybit => SimExchange::Bybit,
            Exchange::Okx => SimExchange::Okx,
            _ => SimExchange::Binance,
        };
        self.client
            .endpoint(ex, &Environment::Custom(self.sim.url(sim_ex)))
            .unwrap()
    }
}

struct Keys {
    master: Credentials,
    withdraw_no_ip: Credentials,
    sub: Credentials,
    planted: String,
    sub_account: String,
    refusal: &'static str,
}

fn keys(ex: Exchange) -> Keys {
    match ex {
        Exchange::Bybit => Keys {
            master: Credentials::hmac(BY_MASTER.0, BY_MASTER.1),
            withdraw_no_ip: Credentials::hmac(BY_WD.0, BY_WD.1),
            sub: Credentials::hmac(BY_SUB.0, BY_SUB.1),
            planted: BY_SUB.0.into(),
            sub_account: BY_UID.into(),
            refusal: "10005",
        },
        Exchange::Okx => {
            let c = |(k, s, p): (&str, &str, &str)| Credentials::hmac(k, s).with_passphrase(p);
            Keys {
                master: c(OKX_MASTER),
                withdraw_no_ip: c(OKX_WD),
                sub: c(OKX_SUB),
                planted: OKX_SUB.0.into(),
                sub_account: OKX_SUBACCT.into(),
                refusal: "50030",
            }
        }
        _ => Keys {
            master: Credentials::hmac(bn_id('M'), BN_SECRET),
            withdraw_no_ip: Credentials::hmac(bn_id('W'), BN_WD_SECRET),
            sub: Credentials::hmac(bn_id('S'), BN_SUB_SECRET),
            planted: bn_id('S'),
            sub_account: BN_EMAIL.into(),
            refusal: "-1002",
        },
    }
}

fn spec(sub_account: &str, scopes: &[Scope]) -> SubKeySpec {
    SubKeySpec {
        sub_account: sub_account.into(),
        label: "keyward-rot".into(),
        scopes: scopes.to_vec(),
        ips: vec![IP_A.into(), IP_B.into()],
    }
}

/// The whole lifecycle on one exchange.
async fn lifecycle(ex: Exchange) {
    let f = Fixture::new().await;
    let ep = f.ep(ex);
    let k = keys(ex);

    // Capabilities say what the adapter does.
    let caps = ep.capabilities();
    assert!(caps.manage_sub_keys, "{ex}");
    assert_eq!(caps.list_account_keys, ex != Exchange::Binance, "{ex}");

    // Sub-accounts.
    let subs = ep.sub_accounts(&k.master).await.unwrap();
    assert_eq!(
        subs.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        vec![k.sub_account.as_str()],
        "{ex}"
    );

    // Inventory: the planted sub-account key (not on Binance, which says
    // so) and the master key itself.
    let inv = ep.inventory(&k.master).await.unwrap();
    assert_eq!(inv.exchange, ex);
    let master = inv
        .keys
        .iter()
        .find(|key| key.key_id == k.master.api_key)
        .expect("the master key is listed");
    assert_eq!(master.sub_account, None, "{ex}");
    assert!(master.scopes.contains(&Scope::Read), "{ex}: {master:?}");
    let planted = inv.keys.iter().find(|key| key.key_id == k.planted);
    if ex == Exchange::Binance {
        assert!(!inv.complete);
        assert!(planted.is_none());
        assert!(
            inv.notes
                .iter()
                .any(|n| n.contains("no call that lists a sub-account's API keys")),
            "{:?}",
            inv.notes
        );
    } else {
        assert!(inv.complete, "{ex}: {:?}", inv.notes);
        let planted = planted.expect("the planted sub-account key is listed");
        assert_eq!(planted.sub_account.as_deref(), Some(k.sub_account.as_str()));
        assert!(planted.scopes.contains(&Scope::Trade), "{ex}: {planted:?}");
        assert_eq!(planted.ips, vec![IP_A.to_string()], "{ex}");
    }
    // Found wherever it is, Binance by asking each sub-account.
    let located = ep.locate_sub_key(&k.master, &k.planted).await.unwrap();
    assert_eq!(
        located.and_then(|l| l.sub_account),
        Some(k.sub_account.clone()),
        "{ex}"
    );
    assert_eq!(
        ep.locate_sub_key(&k.master, "NOSUCHKEY").await.unwrap(),
        None,
        "{ex}"
    );

    // A scope the exchange cannot grant a sub-account key: refused before
    // anything is sent.
    let e = ep
        .create_sub_key(
            &k.master,
            &spec(&k.sub_account, &[Scope::Read, Scope::Withdraw]),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ExchangeError::ScopeNotGrantable {
                scope: Scope::Withdraw,
                ..
            }
        ),
        "{ex}: {e:?}"
    );

    // Create [Read, Trade] with two IPs.
    let created = ep
        .create_sub_key(
            &k.master,
            &spec(&k.sub_account, &[Scope::Read, Scope::Trade]),
        )
        .await
        .unwrap();
    let secret = created.credentials.secret.expose_secret().to_string();
    assert!(!secret.is_empty());
    let debug = format!("{created:?}");
    assert!(!debug.contains(&secret), "{ex}: the secret in Debug output");
    if let Some(p) = &created.credentials.passphrase {
        assert!(ex == Exchange::Okx);
        assert!(
            !debug.contains(p.expose_secret()),
            "the passphrase in Debug"
        );
    } else {
        assert!(ex != Exchange::Okx, "OKX keys carry their passphrase");
    }
    assert_eq!(
        created.key.sub_account.as_deref(),
        Some(k.sub_account.as_str())
    );
    assert_eq!(created.key.scopes, vec![Scope::Read, Scope::Trade], "{ex}");
    assert_eq!(created.key.key_id, created.credentials.api_key);

    // It verifies with exactly those permissions and IPs.
    let report = ep.verify(&created.credentials).await.unwrap();
    assert!(report.authenticated, "{ex}: {report:?}");
    assert_eq!(
        report.permissions.granted(),
        vec![Scope::Read, Scope::Trade],
        "{ex}: {:?}",
        report.permissions
    );
    assert_eq!(report.ip_restricted, Some(true), "{ex}");
    let ips = vec![IP_A.to_string(), IP_B.to_string()];
    if ex == Exchange::Binance {
        // Binance's key check does not list IPs: the master asks.
        let found = ep
            .locate_sub_key(&k.master, &created.credentials.api_key)
            .await
            .unwrap()
            .expect("the created key is found");
        assert_eq!(found.ips, ips);
    } else {
        assert_eq!(report.ip_whitelist, Some(ips.clone()), "{ex}");
        assert_eq!(report.account_role, Some(AccountRole::Sub), "{ex}");
        let inv = ep.inventory(&k.master).await.unwrap();
        let listed = inv
            .keys
            .iter()
            .find(|key| key.key_id == created.credentials.api_key)
            .expect("the created key is listed");
        assert_eq!(listed.scopes, vec![Scope::Read, Scope::Trade], "{ex}");
        assert_eq!(listed.ips, ips, "{ex}");
        assert!(!format!("{inv:?}").contains(&secret));
    }

    // Delete it; the live check with its own credentials, after the
    // successful verify above in this client, proves it gone.
    ep.delete_sub_key(&k.master, &k.sub_account, &created.credentials.api_key)
        .await
        .unwrap();
    let check = ep.confirm_revoked(&created.credentials).await.unwrap();
    assert!(
        matches!(check, RevocationCheck::Confirmed { .. }),
        "{ex}: {check:?}"
    );
    // Deleting it again is the exchange's refusal, without the secret.
    let e = ep
        .delete_sub_key(&k.master, &k.sub_account, &created.credentials.api_key)
        .await
        .unwrap_err();
    for text in [format!("{e}"), format!("{e:?}")] {
        assert!(!text.contains(&secret), "{ex}: {text}");
    }

    // A read-only key: the create call takes it (Bybit needs a permission
    // type even then) and the key can trade nothing.
    let ro = ep
        .create_sub_key(&k.master, &spec(&k.sub_account, &[Scope::Read]))
        .await
        .unwrap();
    let report = ep.verify(&ro.credentials).await.unwrap();
    assert!(report.authenticated, "{ex}: {report:?}");
    assert_eq!(
        report.permissions.granted(),
        vec![Scope::Read],
        "{ex}: {:?}",
        report.permissions
    );
    ep.delete_sub_key(&k.master, &k.sub_account, &ro.credentials.api_key)
        .await
        .unwrap();

    // A sub-account key as manager: the exchange's documented refusal.
    let e = ep
        .create_sub_key(&k.sub, &spec(&k.sub_account, &[Scope::Read]))
        .await
        .unwrap_err();
    match &e {
        ExchangeError::Rejected { code, .. } => assert_eq!(code, k.refusal, "{ex}: {e}"),
        other => panic!("{ex}: expected the exchange's refusal, got {other:?}"),
    }
    assert!(e.to_string().contains(k.refusal), "{e}");

    // Fitness: the master key is fit; a sub-account key is not (Binance's
    // key check cannot tell, and says so); withdraw and no IP allowlist
    // are named as risks.
    let master_report = ep.verify(&k.master).await.unwrap();
    let fit = manager_fitness(ex, &master_report);
    assert!(fit.fit, "{ex}: {fit:?}");
    assert!(!fit.needs.is_empty());
    let sub_report = ep.verify(&k.sub).await.unwrap();
    let sub_fit = manager_fitness(ex, &sub_report);
    if ex == Exchange::Binance {
        assert_eq!(sub_report.account_role, None);
        assert!(
            sub_fit
                .problems
                .iter()
                .any(|p| p.contains("Unknown whether")),
            "{sub_fit:?}"
        );
        assert!(fit.needs.iter().any(|n| n.contains("unknown")), "{fit:?}");
    } else {
        assert_eq!(master_report.account_role, Some(AccountRole::Master));
        assert_eq!(sub_report.account_role, Some(AccountRole::Sub));
        assert!(!sub_fit.fit, "{ex}: {sub_fit:?}");
        assert!(
            sub_fit
                .problems
                .iter()
                .any(|p| p.contains("sub-account key")),
            "{sub_fit:?}"
        );
    }
    let risky = manager_fitness(ex, &ep.verify(&k.withdraw_no_ip).await.unwrap());
    assert!(
        risky.problems.iter().any(|p| p.contains("withdraw")),
        "{ex}: {risky:?}"
    );
    assert!(
        risky.problems.iter().any(|p| p.contains("no IP allowlist")),
        "{ex}: {risky:?}"
    );
    // OKX refuses a manager key without IPs outright.
    assert_eq!(risky.fit, ex != Exchange::Okx, "{ex}: {risky:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bybit_manager_key_lifecycle() {
    lifecycle(Exchange::Bybit).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okx_manager_key_lifecycle() {
    lifecycle(Exchange::Okx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_manager_key_lifecycle() {
    lifecycle(Exchange::Binance).await;
}

/// A Bybit sub UID must be numeric, and a Binance key the master cannot
/// find in any sub-account is `None`, not an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_specs_are_refused_before_sending() {
    let f = Fixture::new().await;
    let k = keys(Exchange::Bybit);
    let e = f
        .ep(Exchange::Bybit)
        .create_sub_key(&k.master, &spec("not-a-uid", &[Scope::Read]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "invalid_sub_key_spec", "{e:?}");
    let k = keys(Exchange::Okx);
    let e = f
        .ep(Exchange::Okx)
        .create_sub_key(
            &k.master,
            &spec(OKX_SUBACCT, &[Scope::Read, Scope::Futures]),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "scope_not_grantable", "{e:?}");
}
