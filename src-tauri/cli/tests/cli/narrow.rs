//! `keyward narrow` against the strict simulator: the listing of what a
//! Bybit key can drop, `--drop Wallet.AccountTransfer` changing only that
//! permission at the exchange, a name the key cannot drop refused with the
//! list (no code spent, nothing sent), step-up required once MFA is
//! enrolled, and no secret in any output.

use keyward_core::mfa::TotpSeed;
use keyward_sim::{Accounts, KeyAccount, SimExchange, SimHandle};
use serde_json::Value;

use crate::support::{Env, Run};

const KEY: &str = "BYBITCLINARROW1";
const SECRET: &str = "CANARYCLInarrowSecret";

struct Sim {
    handle: SimHandle,
    _runtime: tokio::runtime::Runtime,
}

impl Sim {
    fn start() -> Sim {
        let groups = [
            ("Spot", vec!["SpotTrade"]),
            ("Wallet", vec!["AccountTransfer", "SubMemberTransfer"]),
            ("Earn", vec!["Earn"]),
        ];
        let accounts = Accounts {
            keys: vec![KeyAccount {
                bybit_permissions: Some(
                    groups
                        .into_iter()
                        .map(|(g, v)| (g.to_string(), v.into_iter().map(String::from).collect()))
                        .collect(),
                ),
                ..KeyAccount::hmac(SimExchange::Bybit, KEY, SECRET, &[])
            }],
            rate_limits: false,
            ..Accounts::default()
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (_, handle) = runtime.block_on(keyward_sim::spawn(accounts)).unwrap();
        Sim {
            handle,
            _runtime: runtime,
        }
    }
}

fn clean(run: Run) -> Run {
    assert!(!run.stdout.contains(SECRET), "secret on stdout");
    assert!(!run.stderr.contains(SECRET), "secret on stderr");
    run
}

fn setup(sim: &Sim) -> Env {
    let env = Env::init();
    clean(env.run_stdin(
        &[
            "add",
            "--exchange",
            "bybit",
            "--label",
            "bybit-bot",
            "--api-key",
            KEY,
            "--scopes",
            "read,trade",
            "--base-url",
            &sim.handle.url(SimExchange::Bybit),
            "--secret-stdin",
        ],
        &format!("{SECRET}\n"),
    ))
    .ok();
    env
}

fn wallet(env: &Env) -> Value {
    let run = clean(env.run(&["verify", "bybit-bot", "--json"])).ok();
    let v: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    v["removable"].clone()
}

#[test]
fn narrow_drops_one_named_permission() {
    let sim = Sim::start();
    let env = setup(&sim);
    // Without a change: the list, with the core's labels.
    let run = clean(env.run(&["narrow", "bybit-bot"])).ok();
    assert!(
        run.stdout.contains("Wallet.AccountTransfer")
            && run.stdout.contains("Wallet · Account transfer")
            && run.stdout.contains("Earn.Earn"),
        "{}",
        run.stdout
    );
    let before = wallet(&env);

    // A name the key cannot drop: refused with the list, nothing changed.
    for bad in ["Options.OptionsTrade", "transfer"] {
        let run = clean(env.run(&["narrow", "bybit-bot", "--drop", bad])).code(1);
        assert!(run.stderr.contains(bad), "{}", run.stderr);
        assert!(
            run.stderr.contains("Wallet.AccountTransfer"),
            "the error lists what can be dropped: {}",
            run.stderr
        );
    }
    assert_eq!(wallet(&env), before);

    let run = clean(env.run(&["narrow", "bybit-bot", "--drop", "Wallet.AccountTransfer"])).ok();
    assert!(
        run.stdout
            .contains("Wallet · Account transfer (Wallet.AccountTransfer) dropped at the exchange"),
        "{}",
        run.stdout
    );
    // Only that permission is gone; every other one is still offered.
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut want = names(&before);
    want.retain(|n| n != "Wallet.AccountTransfer");
    assert_eq!(names(&wallet(&env)), want);
    // The audit names what was dropped.
    let run = clean(env.run(&["log", "--json"])).ok();
    assert!(
        run.stdout.contains("key_narrowed") && run.stdout.contains("Wallet.AccountTransfer"),
        "{}",
        run.stdout
    );
}

#[test]
fn narrow_needs_a_code_once_mfa_is_enrolled() {
    let sim = Sim::start();
    let env = setup(&sim);
    let run = clean(env.run(&["mfa", "enroll", "--json"])).ok();
    let json: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    let seed = TotpSeed::from_base32(json["secret"].as_str().unwrap()).unwrap();
    env.run(&["mfa", "confirm", &env.code(&seed, -1)]).ok();
    let before = wallet(&env);
    clean(env.run(&["narrow", "bybit-bot", "--drop", "Earn.Earn"])).code(4);
    assert_eq!(wallet(&env), before, "nothing changed without a code");
    clean(env.run(&[
        "narrow",
        "bybit-bot",
        "--drop",
        "Earn.Earn",
        "--totp",
        &env.code(&seed, 0),
    ]))
    .ok();
    assert!(
        !wallet(&env)
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "Earn.Earn")
    );
}
