//! `keyward manager` and `keyward inventory` against the strict simulator:
//! a sub-account key cannot be marked, the master key can (with a code,
//! once MFA is enrolled) and is listed; `inventory --json` flags a key
//! planted on the account (exit 8, a finding); `inventory revoke` deletes it and refuses a
//! vault key; `keyward run` refuses a manager key with its exit code; no
//! secret and no full id of the planted key in any output.

use keyward_core::mfa::TotpSeed;
use keyward_core::model::mask_key_id;
use keyward_sim::{Accounts, KeyAccount, SimExchange, SimScope, SubAccount};
use serde_json::Value;

use crate::support::{Env, Run, Sim};

const SECRET: &str = "CANARYCLImanagedSecret";
const MASTER: &str = "BYBITCLIMASTER1";
const SUB: &str = "BYBITCLISUBKEY1";
const ROGUE: &str = "BYBITCLIROGUE77";
const SUB_UID: &str = "100400345";

/// The simulator with the master key, the vault's sub-account key and a
/// key planted on the same sub-account.
fn start_sim() -> Sim {
    use SimScope::*;
    let sub = |id: &str| KeyAccount {
        parent_uid: Some("24617703".into()),
        sub_account: Some(SUB_UID.into()),
        ..KeyAccount::hmac(SimExchange::Bybit, id, SECRET, &[Read, Trade])
    };
    Sim::start(Accounts {
        keys: vec![
            KeyAccount {
                ips: vec!["203.0.113.9".into()],
                ..KeyAccount::hmac(SimExchange::Bybit, MASTER, SECRET, &[Read, Transfer])
            },
            sub(SUB),
            sub(ROGUE),
        ],
        sub_accounts: vec![SubAccount {
            exchange: SimExchange::Bybit,
            id: SUB_UID.into(),
            uid: None,
            label: None,
            created_at_ms: None,
            note: None,
        }],
        rate_limits: false,
        ..Accounts::default()
    })
}

fn clean(run: Run) -> Run {
    for text in [&run.stdout, &run.stderr] {
        assert!(!text.contains(SECRET), "secret in output: {text}");
        assert!(!text.contains(ROGUE), "full id of the planted key: {text}");
    }
    run
}

/// A vault with the master and the sub-account key, MFA enrolled.
fn setup(sim: &Sim) -> (Env, TotpSeed) {
    let env = Env::init();
    let url = sim.handle.url(SimExchange::Bybit);
    for (label, id, scopes) in [
        ("bybit-master", MASTER, "read,transfer"),
        ("bybit-bot", SUB, "read,trade"),
    ] {
        clean(env.run_stdin(
            &[
                "add",
                "--exchange",
                "bybit",
                "--label",
                label,
                "--api-key",
                id,
                "--scopes",
                scopes,
                "--base-url",
                &url,
                "--secret-stdin",
            ],
            &format!("{SECRET}\n"),
        ))
        .ok();
    }
    let seed = env.enrol_mfa();
    (env, seed)
}

fn code(env: &Env, seed: &TotpSeed) -> String {
    env.fresh_code(seed)
}

#[test]
fn manager_mark_and_list() {
    let sim = start_sim();
    let (env, seed) = setup(&sim);
    // Without a code: exit 4, nothing marked.
    clean(env.run(&["manager", "mark", "bybit-master"])).code(4);
    let run = clean(env.run(&["manager", "list", "--json"])).ok();
    assert_eq!(run.stdout.trim(), "[]");
    // A sub-account key is refused, with why.
    let run =
        clean(env.run(&["manager", "mark", "bybit-bot", "--totp", &code(&env, &seed)])).code(1);
    assert!(run.stderr.contains("sub-account"), "{}", run.stderr);
    let run = clean(env.run(&[
        "manager",
        "mark",
        "bybit-master",
        "--totp",
        &code(&env, &seed),
    ]))
    .ok();
    assert!(run.stdout.contains("manager key"), "{}", run.stdout);
    let run = clean(env.run(&["manager", "list", "--json"])).ok();
    let list: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["label"], "bybit-master");
    assert_eq!(list[0]["manager"], true);
    let run = clean(env.run(&["manager", "list"])).ok();
    assert!(run.stdout.contains("bybit-master") && run.stdout.contains("Bybit"));
    let run = clean(env.run(&["show", "bybit-master"])).ok();
    assert!(run.stdout.contains("manager key:  yes"), "{}", run.stdout);

    // Unmark with a code.
    clean(env.run(&[
        "manager",
        "unmark",
        "bybit-master",
        "--totp",
        &code(&env, &seed),
    ]))
    .ok();
    let run = clean(env.run(&["manager", "list", "--json"])).ok();
    assert_eq!(run.stdout.trim(), "[]");
    let log = clean(env.run(&["log", "--json"])).ok();
    assert!(log.stdout.contains("manager_key_marked"));
    assert!(log.stdout.contains("manager_key_unmarked"));
}

#[test]
fn inventory_json_flags_the_unknown_key_and_revoke_deletes_it() {
    let sim = start_sim();
    let (env, seed) = setup(&sim);
    // No manager key: exit 7 with how to mark one.
    let run = clean(env.run(&["inventory", "bybit", "--totp", &code(&env, &seed)])).code(7);
    assert!(
        run.stderr.contains("keyward manager mark"),
        "{}",
        run.stderr
    );
    clean(env.run(&[
        "manager",
        "mark",
        "bybit-master",
        "--totp",
        &code(&env, &seed),
    ]))
    .ok();
    // Using the manager key needs its code.
    clean(env.run(&["inventory", "bybit", "--json"])).code(4);
    // Unknown keys are findings: exit 8, as `scan` does.
    let run =
        clean(env.run(&["inventory", "bybit", "--json", "--totp", &code(&env, &seed)])).code(8);
    let report: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(report["counts"]["unknown"], 1, "{report}");
    assert_eq!(report["complete"], true);
    let entries = report["entries"].as_array().unwrap();
    let unknown: Vec<&Value> = entries
        .iter()
        .filter(|e| e["status"] == "unknown")
        .collect();
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0]["key_id_masked"], mask_key_id(ROGUE));
    assert_eq!(unknown[0]["sub_account"], SUB_UID);
    assert!(
        entries
            .iter()
            .any(|e| e["label"] == "bybit-bot" && e["status"] == "known")
    );
    // The words say it too.
    let run = clean(env.run(&["inventory", "bybit", "--totp", &code(&env, &seed)])).code(8);
    assert!(run.stdout.contains("UNKNOWN"), "{}", run.stdout);
    assert!(
        run.stdout.contains("keyward inventory revoke bybit"),
        "{}",
        run.stdout
    );

    // A vault key is refused (exit 1, the normal revocation named).
    let run = clean(env.run(&[
        "inventory",
        "revoke",
        "bybit",
        SUB,
        "--totp",
        &code(&env, &seed),
    ]))
    .code(1);
    assert!(
        run.stderr.contains("keyward revoke bybit-bot"),
        "{}",
        run.stderr
    );
    // The planted key, by its masked id (typed with three dots).
    let masked = mask_key_id(ROGUE).replace('…', "...");
    let run = clean(env.run(&[
        "inventory",
        "revoke",
        "bybit",
        &masked,
        "--totp",
        &code(&env, &seed),
    ]))
    .ok();
    assert!(run.stdout.contains("Deleted key"), "{}", run.stdout);
    let run = clean(env.run(&["inventory", "bybit", "--json", "--totp", &code(&env, &seed)])).ok();
    let report: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(report["counts"]["unknown"], 0, "{report}");
    let log = clean(env.run(&["log", "--json"])).ok();
    assert!(log.stdout.contains("inventory_taken"));
    assert!(log.stdout.contains("unknown_key_revoked"));
}

#[test]
fn run_refuses_a_manager_key() {
    let sim = start_sim();
    let (env, seed) = setup(&sim);
    // Allowed for run first, then marked: run refuses it all the same.
    clean(env.run(&[
        "edit",
        "bybit-master",
        "--allow-run",
        "--totp",
        &code(&env, &seed),
    ]))
    .ok();
    clean(env.run(&[
        "manager",
        "mark",
        "bybit-master",
        "--totp",
        &code(&env, &seed),
    ]))
    .ok();
    let run = clean(env.run(&["run", "--key", "bybit-master", "--", "env"])).code(1);
    assert!(run.stderr.contains("manager key"), "{}", run.stderr);
    assert!(!run.stdout.contains("BYBIT_API_KEY"), "{}", run.stdout);
    // Nor can it be allowed again.
    let run = clean(env.run(&[
        "edit",
        "bybit-master",
        "--allow-run",
        "--totp",
        &code(&env, &seed),
    ]))
    .code(1);
    assert!(run.stderr.contains("manager key"), "{}", run.stderr);
}
