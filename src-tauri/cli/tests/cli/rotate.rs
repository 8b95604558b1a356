//! `keyward rotate …` and `keyward revoke …` against the strict simulator:
//! a Bybit rotation revoked through the API (the simulator rejects the old
//! key afterwards), an OKX rotation through the manual steps with
//! --confirm-manual (refused loudly while the old key still works), verify
//! refusing undeclared withdraw and a wrong secret with exit 1 / 6, MFA on
//! promote and revoke (missing and replayed codes exit 4), SIGKILL inside
//! every transition and inside the network steps with the next command
//! resuming and `log --verify` staying valid, revoke faults leaving the
//! rotation at `promoted` until a retry, `revoke --exchange --all`, and no
//! secret in any output or file.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use keyward_core::mfa::TotpSeed;
use keyward_sim::{Accounts, Fault, FaultKind, KeyAccount, SimExchange, SimHandle, SimScope};
use serde_json::Value;

use crate::support::{Env, Run};

const OKX_OLD: &str = "1b2c3d4e-0000-4000-8000-000000000001";
const OKX_NEW: &str = "1b2c3d4e-0000-4000-8000-000000000002";
const OKX_WD: &str = "1b2c3d4e-0000-4000-8000-000000000003";
const OKX_OLD_SECRET: &str = "CANARYCLIokxOLDsecret";
const OKX_NEW_SECRET: &str = "CANARYCLIokxNEWsecret";
const OKX_OLD_PASS: &str = "CANARYCLIokxOLDpass";
const OKX_NEW_PASS: &str = "CANARYCLIokxNEWpass";
const BYBIT_OLD: &str = "BYBITCLIOLD1";
const BYBIT_NEW: &str = "BYBITCLINEW1";
const BYBIT_OLD_SECRET: &str = "CANARYCLIbybitOLDsecret";
const BYBIT_NEW_SECRET: &str = "CANARYCLIbybitNEWsecret";
const BYBIT_OLD2: &str = "BYBITCLIOLD2";
const BYBIT_NEW2: &str = "BYBITCLINEW2";
const BYBIT_OLD2_SECRET: &str = "CANARYCLIbybitOLD2secret";
const BYBIT_NEW2_SECRET: &str = "CANARYCLIbybitNEW2secret";
const IP: &str = "192.0.2.10";

const SECRETS: [&str; 8] = [
    BYBIT_OLD2_SECRET,
    BYBIT_NEW2_SECRET,
    OKX_OLD_SECRET,
    OKX_NEW_SECRET,
    OKX_OLD_PASS,
    OKX_NEW_PASS,
    BYBIT_OLD_SECRET,
    BYBIT_NEW_SECRET,
];

/// The simulator on its own runtime, alive as long as this value.
struct Sim {
    handle: SimHandle,
    _runtime: tokio::runtime::Runtime,
}

impl Sim {
    fn start() -> Sim {
        use SimScope::*;
        let okx = |id: &str, secret: &str, pass: &str, scopes: &[SimScope]| KeyAccount {
            passphrase: Some(pass.into()),
            ips: vec![IP.into()],
            ..KeyAccount::hmac(SimExchange::Okx, id, secret, scopes)
        };
        let bybit = |id: &str, secret: &str| KeyAccount {
            ips: vec![IP.into()],
            ..KeyAccount::hmac(SimExchange::Bybit, id, secret, &[Read, Trade, Transfer])
        };
        let accounts = Accounts {
            keys: vec![
                okx(OKX_OLD, OKX_OLD_SECRET, OKX_OLD_PASS, &[Read, Trade]),
                okx(OKX_NEW, OKX_NEW_SECRET, OKX_NEW_PASS, &[Read, Trade]),
                okx(
                    OKX_WD,
                    OKX_NEW_SECRET,
                    OKX_NEW_PASS,
                    &[Read, Trade, Withdraw],
                ),
                bybit(BYBIT_OLD, BYBIT_OLD_SECRET),
                bybit(BYBIT_NEW, BYBIT_NEW_SECRET),
                bybit(BYBIT_OLD2, BYBIT_OLD2_SECRET),
                bybit(BYBIT_NEW2, BYBIT_NEW2_SECRET),
            ],
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

    fn url(&self, ex: SimExchange) -> String {
        self.handle.url(ex)
    }
}

/// Every output is checked for the secrets.
fn clean(run: Run) -> Run {
    for s in SECRETS {
        assert!(!run.stdout.contains(s), "secret on stdout: {}", run.stdout);
        assert!(!run.stderr.contains(s), "secret on stderr: {}", run.stderr);
    }
    run
}

fn setup(sim: &Sim) -> Env {
    let env = Env::init();
    clean(env.run_stdin(
        &[
            "add",
            "--exchange",
            "okx",
            "--label",
            "okx-bot",
            "--api-key",
            OKX_OLD,
            "--scopes",
            "read,trade",
            "--ip",
            IP,
            "--used-by",
            "grid bot on VPS",
            "--base-url",
            &sim.url(SimExchange::Okx),
            "--secret-stdin",
        ],
        &format!("{OKX_OLD_SECRET}\n{OKX_OLD_PASS}\n"),
    ))
    .ok();
    clean(env.run_stdin(
        &[
            "add",
            "--exchange",
            "bybit",
            "--label",
            "bybit-bot",
            "--api-key",
            BYBIT_OLD,
            "--scopes",
            "read,trade,transfer",
            "--ip",
            IP,
            "--base-url",
            &sim.url(SimExchange::Bybit),
            "--secret-stdin",
        ],
        &format!("{BYBIT_OLD_SECRET}\n"),
    ))
    .ok();
    env
}

fn status(env: &Env, label: &str) -> Value {
    let run = clean(env.run(&["rotate", "status", label, "--json"])).ok();
    serde_json::from_str(&run.stdout).unwrap()
}

fn state(env: &Env, label: &str) -> String {
    status(env, label)["state"].as_str().unwrap().to_owned()
}

fn new_key_stdin(label: &str) -> (Vec<String>, String) {
    let (id, stdin) = match label {
        "okx-bot" => (OKX_NEW, format!("{OKX_NEW_SECRET}\n{OKX_NEW_PASS}\n")),
        "bybit-two" => (BYBIT_NEW2, format!("{BYBIT_NEW2_SECRET}\n")),
        _ => (BYBIT_NEW, format!("{BYBIT_NEW_SECRET}\n")),
    };
    (
        [
            "rotate",
            "new-key",
            label,
            "--api-key",
            id,
            "--secret-stdin",
        ]
        .map(String::from)
        .to_vec(),
        stdin,
    )
}

fn enter_new_key(env: &Env, label: &str) -> Run {
    let (args, stdin) = new_key_stdin(label);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    clean(env.run_stdin(&args, &stdin))
}

fn log_is_valid(env: &Env) {
    let run = clean(env.run(&["log", "--verify"]));
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let log = clean(env.run(&["log", "--json"])).ok();
    for s in SECRETS {
        assert!(!log.stdout.contains(s));
    }
}

fn no_secret_in_files(env: &Env) {
    for entry in std::fs::read_dir(env.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for s in SECRETS {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "plaintext secret in {}",
                path.display()
            );
        }
    }
}

#[test]
fn bybit_rotation_revokes_the_old_key_through_the_api() {
    let sim = Sim::start();
    let env = setup(&sim);
    let run = clean(env.run(&["rotate", "begin", "bybit-bot"])).ok();
    assert!(run.stdout.contains("planned"), "{}", run.stdout);
    // Promote before verification is refused (exit 1).
    clean(env.run(&["rotate", "promote", "bybit-bot"])).code(1);
    enter_new_key(&env, "bybit-bot").ok();
    let run = clean(env.run(&["rotate", "verify", "bybit-bot", "--json", "--allow-unknown"])).ok();
    let out: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(out["passed"], true, "{out}");
    let run = clean(env.run(&["rotate", "promote", "bybit-bot"])).ok();
    assert!(run.stdout.contains("promoted"));
    let run = clean(env.run(&["rotate", "revoke-old", "bybit-bot"])).ok();
    assert!(run.stdout.contains("revoked (api)"), "{}", run.stdout);
    let v = status(&env, "bybit-bot");
    assert_eq!(v["state"], "done");
    for step in v["steps"].as_array().unwrap() {
        assert!(step["at"].is_i64(), "{v}");
    }
    // The simulator rejects the old key, the new one works.
    let show: Value =
        serde_json::from_str(&clean(env.run(&["show", "bybit-bot", "--json"])).ok().stdout)
            .unwrap();
    assert_eq!(show["api_key_id"], BYBIT_NEW);
    assert_eq!(show["status"], "active");
    let run = clean(env.run(&["verify", "bybit-bot", "--json"])).ok();
    assert!(run.stdout.contains("\"authenticated\": true"));
    // Re-adding the old key and checking it: rejected.
    clean(env.run_stdin(
        &[
            "add",
            "--exchange",
            "bybit",
            "--label",
            "old-check",
            "--api-key",
            BYBIT_OLD,
            "--base-url",
            &sim.url(SimExchange::Bybit),
            "--secret-stdin",
        ],
        &format!("{BYBIT_OLD_SECRET}\n"),
    ))
    .ok();
    let run = clean(env.run(&["verify", "old-check", "--json"])).code(6);
    assert!(
        run.stdout.contains("\"status\": \"rejected\""),
        "{}",
        run.stdout
    );
    log_is_valid(&env);
    no_secret_in_files(&env);
}

#[test]
fn okx_rotation_goes_through_the_manual_steps_and_a_live_check() {
    let sim = Sim::start();
    let env = setup(&sim);
    clean(env.run(&["rotate", "begin", "okx-bot"])).ok();
    // At most one open rotation.
    let run = clean(env.run(&["rotate", "begin", "okx-bot"])).code(1);
    assert!(run.stderr.contains("already has an open rotation"));
    // New key with withdraw, not declared: exit 1 with the fix.
    let run = clean(env.run_stdin(
        &[
            "rotate",
            "new-key",
            "okx-bot",
            "--api-key",
            OKX_WD,
            "--secret-stdin",
        ],
        &format!("{OKX_NEW_SECRET}\n{OKX_NEW_PASS}\n"),
    ))
    .ok();
    assert!(run.stdout.contains("new_key_entered"));
    let run = clean(env.run(&["rotate", "verify", "okx-bot", "--allow-unknown"])).code(1);
    assert!(run.stdout.contains("more_than_declared"), "{}", run.stdout);
    assert!(
        run.stdout.contains("switch \"withdraw\" off"),
        "{}",
        run.stdout
    );
    // Wrong secret: the exchange rejects it, exit 6.
    let run = clean(env.run_stdin(
        &[
            "rotate",
            "new-key",
            "okx-bot",
            "--api-key",
            OKX_NEW,
            "--secret-stdin",
        ],
        &format!("CANARYCLIwrong\n{OKX_NEW_PASS}\n"),
    ));
    run.ok();
    let run = clean(env.run(&["rotate", "verify", "okx-bot", "--json"])).code(6);
    let out: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(out["authenticated"], false);
    assert_eq!(out["differences"][0]["code"], "rejected");
    // The right key.
    enter_new_key(&env, "okx-bot").ok();
    // OKX does not report every scope: accepting that is explicit.
    let run = clean(env.run(&["rotate", "verify", "okx-bot"])).code(1);
    assert!(run.stdout.contains("unknown_permission"), "{}", run.stdout);
    let run = clean(env.run(&["rotate", "verify", "okx-bot", "--allow-unknown"])).ok();
    assert!(
        run.stdout.contains("accepted by explicit override"),
        "{}",
        run.stdout
    );
    clean(env.run(&["rotate", "promote", "okx-bot"])).ok();
    let v = status(&env, "okx-bot");
    assert_eq!(v["services"][0]["name"], "grid bot on VPS");
    assert_eq!(v["services"][0]["state"], "pending");
    assert_eq!(v["can_cancel"], false);
    clean(env.run(&["rotate", "cancel", "okx-bot"])).code(1);
    // No API: the steps, exit 1, nothing changes.
    let run = clean(env.run(&["rotate", "revoke-old", "okx-bot"])).code(1);
    assert!(run.stdout.contains("--confirm-manual"), "{}", run.stdout);
    assert_eq!(state(&env, "okx-bot"), "promoted");
    // Confirmed, but the key still works: loud, exit 6, stays.
    let run = clean(env.run(&["rotate", "revoke-old", "okx-bot", "--confirm-manual"])).code(6);
    assert!(run.stderr.contains("STILL WORKS"), "{}", run.stderr);
    assert_eq!(state(&env, "okx-bot"), "promoted");
    // The user really deletes it. This process never saw the key work
    // right before the deletion, and OKX's 50111 also answers a key of
    // another environment or region: not proven, said so, nothing changes.
    assert!(sim.handle.revoke(SimExchange::Okx, OKX_OLD));
    let run = clean(env.run(&["rotate", "revoke-old", "okx-bot", "--confirm-manual"])).code(6);
    assert!(run.stderr.contains("NOT PROVEN"), "{}", run.stderr);
    assert!(run.stderr.contains("check by hand"), "{}", run.stderr);
    assert_eq!(state(&env, "okx-bot"), "promoted");
    clean(env.run(&["rotate", "service", "okx-bot", "grid bot on VPS"])).ok();
    assert_eq!(status(&env, "okx-bot")["services"][0]["state"], "updated");
    log_is_valid(&env);
    no_secret_in_files(&env);
}

#[test]
fn promote_and_revoke_refuse_missing_and_replayed_codes() {
    let sim = Sim::start();
    let env = setup(&sim);
    let run = clean(env.run(&["mfa", "enroll", "--json"])).ok();
    let json: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    let seed = TotpSeed::from_base32(json["secret"].as_str().unwrap()).unwrap();
    env.run(&["mfa", "confirm", &env.code(&seed, -1)]).ok();
    clean(env.run(&["rotate", "begin", "bybit-bot"])).ok();
    enter_new_key(&env, "bybit-bot").ok();
    clean(env.run(&["rotate", "verify", "bybit-bot", "--allow-unknown"])).ok();
    let run = clean(env.run(&["rotate", "promote", "bybit-bot"])).code(4);
    assert!(!run.stderr.is_empty());
    let now = env.code(&seed, 0);
    clean(env.run(&["rotate", "promote", "bybit-bot", "--totp", &now])).ok();
    clean(env.run(&["rotate", "revoke-old", "bybit-bot"])).code(4);
    clean(env.run(&["rotate", "revoke-old", "bybit-bot", "--totp", &now])).code(4);
    assert_eq!(state(&env, "bybit-bot"), "promoted");
    clean(env.run(&["revoke", "okx-bot", "--totp", &now])).code(4);
    clean(env.run(&[
        "rotate",
        "revoke-old",
        "bybit-bot",
        "--totp",
        &env.code(&seed, 1),
    ]))
    .ok();
    assert_eq!(state(&env, "bybit-bot"), "done");
    log_is_valid(&env);
}

#[test]
fn revoke_faults_leave_the_rotation_promoted_until_a_retry() {
    let sim = Sim::start();
    let env = setup(&sim);
    clean(env.run(&["rotate", "begin", "bybit-bot"])).ok();
    enter_new_key(&env, "bybit-bot").ok();
    clean(env.run(&["rotate", "verify", "bybit-bot", "--allow-unknown"])).ok();
    clean(env.run(&["rotate", "promote", "bybit-bot"])).ok();
    let mut fault = Fault::new(FaultKind::ServerError)
        .on(SimExchange::Bybit)
        .times(0);
    fault.path_contains = Some("delete-api".into());
    fault.status = Some(502);
    sim.handle.add_fault(fault);
    let run = clean(env.run(&["rotate", "revoke-old", "bybit-bot", "--timeout", "2"])).code(6);
    assert!(run.stderr.contains("retry"), "{}", run.stderr);
    let v = status(&env, "bybit-bot");
    assert_eq!(v["state"], "promoted");
    assert!(v["error"].as_str().unwrap().contains("retry"), "{v}");
    sim.handle.clear_faults();
    let mut slow = Fault::new(FaultKind::Latency)
        .on(SimExchange::Bybit)
        .times(0);
    slow.latency_ms = 3_000;
    sim.handle.add_fault(slow);
    clean(env.run(&["rotate", "revoke-old", "bybit-bot", "--timeout", "1"])).code(6);
    assert_eq!(state(&env, "bybit-bot"), "promoted");
    sim.handle.clear_faults();
    clean(env.run(&["rotate", "revoke-old", "bybit-bot"])).ok();
    assert_eq!(state(&env, "bybit-bot"), "done");
    log_is_valid(&env);
}

#[test]
fn revoke_everything_on_an_exchange_reports_each_key() {
    let sim = Sim::start();
    let env = setup(&sim);
    clean(env.run_stdin(
        &[
            "add",
            "--exchange",
            "okx",
            "--label",
            "okx-two",
            "--api-key",
            OKX_NEW,
            "--base-url",
            &sim.url(SimExchange::Okx),
            "--secret-stdin",
        ],
        &format!("{OKX_NEW_SECRET}\n{OKX_NEW_PASS}\n"),
    ))
    .ok();
    clean(env.run(&["revoke", "nope"])).code(7);
    sim.handle.revoke(SimExchange::Okx, OKX_OLD);
    let run = clean(env.run(&[
        "revoke",
        "--exchange",
        "okx",
        "--all",
        "--confirm-manual",
        "--json",
    ]))
    .code(6);
    // Deleted by hand before any live call from this process: OKX's 50111
    // alone proves nothing.
    assert!(
        run.stdout.contains("0 of 2 OKX keys revoked"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("STILL WORKS"), "{}", run.stderr);
    assert!(run.stderr.contains("NOT PROVEN"), "{}", run.stderr);
    let list = clean(env.run(&["list", "--json"])).ok();
    let keys: Value = serde_json::from_str(&list.stdout).unwrap();
    let status_of = |l: &str| {
        keys.as_array()
            .unwrap()
            .iter()
            .find(|k| k["label"] == l)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status_of("okx-bot"), "active");
    assert_eq!(status_of("okx-two"), "active");
    assert_eq!(status_of("bybit-bot"), "active");
    // Bybit on its own, through the API.
    let run = clean(env.run(&["revoke", "bybit-bot"])).ok();
    assert!(run.stdout.contains("revoked (api)"), "{}", run.stdout);
    log_is_valid(&env);
    no_secret_in_files(&env);
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The command that moves the rotation on from `state`, with its stdin.
fn next_step(label: &str, state: Option<&str>) -> (Vec<String>, String) {
    let plain = |args: &[&str]| (args.iter().map(|s| s.to_string()).collect(), String::new());
    match state {
        None | Some("done") => plain(&["rotate", "begin", label]),
        Some("planned") => new_key_stdin(label),
        Some("new_key_entered") => plain(&["rotate", "verify", label, "--allow-unknown"]),
        Some("new_key_verified") => plain(&["rotate", "promote", label]),
        Some(_) => plain(&["rotate", "revoke-old", label]),
    }
}

fn current(env: &Env, label: &str) -> Option<String> {
    let run = clean(env.run(&["rotate", "status", label, "--json"]));
    if run.code == 1 {
        return None;
    }
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    Some(v["state"].as_str().unwrap().to_owned())
}

fn spawn(env: &Env, args: &[String], stdin: &str) -> std::process::Child {
    use std::io::Write;
    let mut child = env
        .command()
        .args(args)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    child
}

const ORDER: [&str; 6] = [
    "planned",
    "new_key_entered",
    "new_key_verified",
    "promoted",
    "old_key_revoked",
    "done",
];

fn rank(state: &Option<String>) -> usize {
    state
        .as_deref()
        .and_then(|s| ORDER.iter().position(|o| *o == s))
        .map_or(0, |i| i + 1)
}

/// SIGKILL each step of a Bybit rotation at random moments (aimed at the
/// step's whole lifetime: unlock, transaction, network), several times per
/// step; after every kill the state is one of the two on either side of
/// the step, the log verifies, and the next command carries on. Then the
/// same with the network calls slowed down, killed while they run.
#[test]
fn sigkill_inside_every_transition_resumes() {
    let sim = Sim::start();
    let env = setup(&sim);
    clean(env.run_stdin(
        &[
            "add",
            "--exchange",
            "bybit",
            "--label",
            "bybit-two",
            "--api-key",
            BYBIT_OLD2,
            "--scopes",
            "read,trade,transfer",
            "--ip",
            IP,
            "--base-url",
            &sim.url(SimExchange::Bybit),
            "--secret-stdin",
        ],
        &format!("{BYBIT_OLD2_SECRET}\n"),
    ))
    .ok();
    let start = Instant::now();
    clean(env.run(&["rotate", "status", "bybit-bot"])).code(1);
    let typical = start.elapsed().max(Duration::from_millis(20));
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut kills = 0;
    for (round, label) in ["bybit-bot", "bybit-two"].into_iter().enumerate() {
        if round == 1 {
            // Slow exchange: kills land inside the network phase.
            let mut slow = Fault::new(FaultKind::Latency)
                .on(SimExchange::Bybit)
                .times(0);
            slow.latency_ms = 400;
            sim.handle.add_fault(slow);
        }
        let mut state = current(&env, label);
        let mut guard = 0;
        while state.as_deref() != Some("done") {
            guard += 1;
            assert!(guard < 60, "no progress from {state:?}");
            let (args, stdin) = next_step(label, state.as_deref());
            let networked = args[1] == "verify" || args[1] == "revoke-old";
            for _ in 0..6 {
                let typical_ms = typical.as_millis() as u64;
                let delay = if round == 1 && networked {
                    // Past the unlock, inside the (slowed) exchange calls.
                    typical_ms + rng.next() % 700
                } else {
                    rng.next() % (typical_ms * 3 / 2).max(1)
                };
                let delay = Duration::from_millis(delay);
                let mut child = spawn(&env, &args, &stdin);
                std::thread::sleep(delay);
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                if out.status.signal() == Some(9) {
                    kills += 1;
                }
                for s in SECRETS {
                    assert!(!String::from_utf8_lossy(&out.stdout).contains(s));
                    assert!(!String::from_utf8_lossy(&out.stderr).contains(s));
                }
                let after = current(&env, label);
                let (a, b) = (rank(&state), rank(&after));
                assert!(
                    b == a || b == a + 1 || (state.as_deref() == Some("promoted") && b == a + 2),
                    "{state:?} -> {after:?} after {:?}",
                    args
                );
                log_is_valid(&env);
                state = after;
                if state.as_deref() == Some("done") {
                    break;
                }
                let (next, _) = next_step(label, state.as_deref());
                if next != args {
                    break;
                }
            }
            if state.as_deref() == Some("done") {
                break;
            }
            // The step, uninterrupted, resumes from wherever the kill left it.
            let (args, stdin) = next_step(label, state.as_deref());
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = clean(env.run_stdin(&args, &stdin));
            assert!(run.code == 0, "{args:?}: {}\n{}", run.stdout, run.stderr);
            state = current(&env, label);
        }
        let show: Value =
            serde_json::from_str(&clean(env.run(&["show", label, "--json"])).ok().stdout).unwrap();
        assert_eq!(show["status"], "active");
        assert_ne!(
            show["api_key_id"],
            if round == 0 { BYBIT_OLD } else { BYBIT_OLD2 }
        );
    }
    sim.handle.clear_faults();
    eprintln!("{kills} kills landed");
    assert!(kills >= 10, "only {kills} kills landed");
    log_is_valid(&env);
    no_secret_in_files(&env);
}

/// `--wait`: one process checks the key live, shows the steps, waits while
/// the user deletes it on the website, and checks it is rejected: with the
/// success just before, OKX's ambiguous 50111 is proof.
#[test]
fn revoke_wait_proves_a_manual_deletion_in_one_process() {
    use std::io::{BufRead, BufReader, Write};
    let sim = Sim::start();
    let env = setup(&sim);
    let mut child = env
        .command()
        .args(["revoke", "okx-bot", "--wait"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "no prompt: {seen}");
        seen.push_str(&line);
        if line.contains("Press Enter") {
            break;
        }
    }
    // The user deletes the key on the website, then presses Enter.
    assert!(sim.handle.revoke(SimExchange::Okx, OKX_OLD));
    child.stdin.take().unwrap().write_all(b"\n").unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{seen}{rest}");
    assert!(rest.contains("revoked (manual)"), "{rest}");
    for s in SECRETS {
        assert!(!seen.contains(s) && !rest.contains(s));
    }
    let list = clean(env.run(&["list", "--json"])).ok();
    let keys: Value = serde_json::from_str(&list.stdout).unwrap();
    let okx = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["label"] == "okx-bot")
        .unwrap();
    assert_eq!(okx["status"], "revoked", "{keys}");
}
