//! `keyward rotate auto | schedule | due` against the strict simulator
//! (Bybit, a master key marked as manager and a sub-account key): the
//! run needs a code and prints each stage; the schedule is turned on only
//! with a code; a due key without a code is notified about (exit 4, an
//! audit entry), not rotated; SIGKILL at random moments of `rotate auto`
//! never leaves two live keys on the sub-account nor loses the stored one;
//! no secret in any output, the log or a file.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use keyward_core::exchange::{Credentials, ExchangeClient, HttpConfig};
use keyward_core::mfa::TotpSeed;
use keyward_core::model::{Environment, Exchange};
use keyward_sim::{Accounts, Fault, FaultKind, KeyAccount, SimExchange, SimScope, SubAccount};
use serde_json::Value;

use crate::support::{Env, Run, Sim};

const MASTER_SECRET: &str = "CANARYCLIautoMaster01";
const SUB_SECRET: &str = "CANARYCLIautoSubOld01";
const MASTER: &str = "BYBITAUTOMASTER1";
const SUB: &str = "BYBITAUTOSUBKEY1";
const SUB_UID: &str = "100400345";
const IP: &str = "192.0.2.10";

/// The simulator with the master key and the sub-account key.
fn start_sim() -> Sim {
    use SimScope::*;
    Sim::start(Accounts {
        keys: vec![
            KeyAccount {
                ips: vec!["203.0.113.9".into()],
                ..KeyAccount::hmac(SimExchange::Bybit, MASTER, MASTER_SECRET, &[Read, Transfer])
            },
            KeyAccount {
                parent_uid: Some("24617703".into()),
                sub_account: Some(SUB_UID.into()),
                ips: vec![IP.into()],
                ..KeyAccount::hmac(SimExchange::Bybit, SUB, SUB_SECRET, &[Read, Trade])
            },
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

/// The keys the exchange lists on the sub-account.
fn sub_keys(sim: &Sim) -> Vec<String> {
    let client = ExchangeClient::new(HttpConfig::default()).unwrap();
    let env = Environment::Custom(sim.handle.url(SimExchange::Bybit));
    let ep = client.endpoint(Exchange::Bybit, &env).unwrap();
    let master = Credentials::hmac(MASTER, MASTER_SECRET);
    let inv = sim.runtime.block_on(ep.inventory(&master)).unwrap();
    inv.keys
        .into_iter()
        .filter(|k| k.sub_account.as_deref() == Some(SUB_UID))
        .map(|k| k.key_id)
        .collect()
}

fn clean(run: Run) -> Run {
    for text in [&run.stdout, &run.stderr] {
        for s in [MASTER_SECRET, SUB_SECRET] {
            assert!(!text.contains(s), "secret in output: {text}");
        }
    }
    run
}

/// A vault with the master key (marked as manager) and the sub-account
/// key, MFA enrolled.
fn setup(sim: &Sim) -> (Env, TotpSeed) {
    let env = Env::init();
    let url = sim.handle.url(SimExchange::Bybit);
    for (label, id, secret, scopes, ip) in [
        (
            "bybit-master",
            MASTER,
            MASTER_SECRET,
            "read,transfer",
            "203.0.113.9",
        ),
        ("bybit-bot", SUB, SUB_SECRET, "read,trade", IP),
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
                "--ip",
                ip,
                "--base-url",
                &url,
                "--secret-stdin",
            ],
            &format!("{secret}\n"),
        ))
        .ok();
    }
    let seed = env.enrol_mfa();
    clean(env.run(&[
        "manager",
        "mark",
        "bybit-master",
        "--totp",
        &code(&env, &seed),
    ]))
    .ok();
    (env, seed)
}

fn code(env: &Env, seed: &TotpSeed) -> String {
    env.fresh_code(seed)
}

fn log_is_valid(env: &Env) -> String {
    clean(env.run(&["log", "--verify"])).ok();
    let log = clean(env.run(&["log", "--json"])).ok();
    log.stdout
}

fn no_secret_in_files(env: &Env) {
    for entry in std::fs::read_dir(env.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for s in [MASTER_SECRET, SUB_SECRET, "CANARYCLI"] {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "plaintext secret in {}",
                path.display()
            );
        }
    }
}

fn state(env: &Env) -> Option<String> {
    let run = clean(env.run(&["rotate", "status", "bybit-bot", "--json"]));
    if run.code == 1 {
        return None;
    }
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    Some(v["state"].as_str().unwrap().to_owned())
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

#[test]
fn rotate_auto_end_to_end_and_the_schedule() {
    let sim = start_sim();
    let (env, seed) = setup(&sim);
    // Without a code: exit 4, nothing begun, nothing created.
    clean(env.run(&["rotate", "auto", "bybit-bot"])).code(4);
    assert_eq!(state(&env), None);
    assert_eq!(sub_keys(&sim), vec![SUB.to_owned()]);
    // The manager key itself is refused (exit 1).
    clean(env.run(&[
        "rotate",
        "auto",
        "bybit-master",
        "--totp",
        &code(&env, &seed),
    ]))
    .code(1);
    let run = clean(env.run(&["rotate", "auto", "bybit-bot", "--totp", &code(&env, &seed)])).ok();
    for stage in [
        "[planned]",
        "[new_key_entered]",
        "[new_key_verified]",
        "[promoted]",
        "[done]",
    ] {
        assert!(run.stdout.contains(stage), "{stage}: {}", run.stdout);
    }
    assert!(run.stdout.contains("proven dead"), "{}", run.stdout);
    assert_eq!(state(&env).as_deref(), Some("done"));
    let show: Value =
        serde_json::from_str(&clean(env.run(&["show", "bybit-bot", "--json"])).ok().stdout)
            .unwrap();
    let new_id = show["api_key_id"].as_str().unwrap().to_owned();
    assert_ne!(new_id, SUB);
    assert_eq!(sub_keys(&sim), vec![new_id.clone()]);
    // The stored key works.
    clean(env.run(&["verify", "bybit-bot"])).ok();

    // The schedule: turning automatic rotation on needs a code.
    clean(env.run(&[
        "rotate",
        "schedule",
        "bybit-bot",
        "--every",
        "30d",
        "--auto",
    ]))
    .code(4);
    let run = clean(env.run(&[
        "rotate",
        "schedule",
        "bybit-bot",
        "--every",
        "30d",
        "--auto",
        "--totp",
        &code(&env, &seed),
        "--json",
    ]))
    .ok();
    let s: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(s["auto_rotate"], true);
    assert_eq!(s["rotate_every_days"], 30);
    assert_eq!(s["manager"], "bybit-master");
    let run = clean(env.run(&["rotate", "due", "--auto"])).ok();
    assert!(
        run.stdout.contains("no automated rotation is due"),
        "{}",
        run.stdout
    );
    // 31 days later, cron without a code: notified, not rotated.
    env.advance(31 * 2880);
    let run = clean(env.run(&["rotate", "due", "--auto"])).code(4);
    assert!(run.stdout.contains("needs a step-up"), "{}", run.stdout);
    let log = log_is_valid(&env);
    assert!(log.contains("auto_rotation_needs_step_up"));
    let show: Value =
        serde_json::from_str(&clean(env.run(&["show", "bybit-bot", "--json"])).ok().stdout)
            .unwrap();
    assert_eq!(show["api_key_id"], new_id.as_str());
    // With a code it rotates.
    clean(env.run(&["rotate", "due", "--auto", "--totp", &code(&env, &seed)])).ok();
    let show: Value =
        serde_json::from_str(&clean(env.run(&["show", "bybit-bot", "--json"])).ok().stdout)
            .unwrap();
    let newer = show["api_key_id"].as_str().unwrap().to_owned();
    assert_ne!(newer, new_id);
    assert_eq!(sub_keys(&sim), vec![newer]);
    // Off needs no code.
    let run = clean(env.run(&["rotate", "schedule", "bybit-bot", "--off", "--json"])).ok();
    let s: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(s["auto_rotate"], false);
    log_is_valid(&env);
    no_secret_in_files(&env);
}

/// The id and state of the key's open (or last) rotation.
fn rotation(env: &Env) -> Option<(String, String)> {
    let run = clean(env.run(&["rotate", "status", "bybit-bot", "--json"]));
    if run.code == 1 {
        return None;
    }
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    Some((
        v["id"].as_str().unwrap().to_owned(),
        v["state"].as_str().unwrap().to_owned(),
    ))
}

/// SIGKILL `rotate auto` at random moments of its lifetime (unlock, each
/// stage's transaction, each exchange call, slowed down), again and again
/// over four rotations: a rotation's state never goes back, the
/// sub-account never holds more than the old and the new key, the log
/// verifies; each time, an uninterrupted run finishes it, and then the
/// sub-account holds exactly one key — the stored one, which works.
#[test]
fn sigkill_during_rotate_auto_leaves_one_live_key() {
    let sim = start_sim();
    let (env, seed) = setup(&sim);
    let start = Instant::now();
    clean(env.run(&["rotate", "status", "bybit-bot"])).code(1);
    let typical = start.elapsed().max(Duration::from_millis(20)).as_millis() as u64;
    let mut slow = Fault::new(FaultKind::Latency)
        .on(SimExchange::Bybit)
        .times(0);
    slow.latency_ms = 150;
    let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut kills = 0;
    for _round in 0..4 {
        sim.handle.add_fault(slow.clone());
        let done_before = rotation(&env).map(|(id, _)| id);
        let mut last: Option<(String, String)> = None;
        for _ in 0..12 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            // Aimed past the unlock, over the run's stages and calls.
            let delay = Duration::from_millis(typical / 2 + rng % (typical + 1200));
            let totp = code(&env, &seed);
            let mut child = env
                .command()
                .args(["rotate", "auto", "bybit-bot", "--totp", &totp])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            std::thread::sleep(delay);
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            if out.status.signal() == Some(9) {
                kills += 1;
            }
            for s in [MASTER_SECRET, SUB_SECRET] {
                assert!(!String::from_utf8_lossy(&out.stdout).contains(s));
                assert!(!String::from_utf8_lossy(&out.stderr).contains(s));
            }
            let now = rotation(&env).filter(|(id, _)| Some(id) != done_before.as_ref());
            if let (Some((a, sa)), Some((b, sb))) = (&last, &now) {
                assert_eq!(a, b, "a second rotation began while one was open");
                let (ra, rb) = (rank(&Some(sa.clone())), rank(&Some(sb.clone())));
                assert!(rb >= ra, "{sa} -> {sb}");
            }
            assert!(sub_keys(&sim).len() <= 2, "{:?}", sub_keys(&sim));
            log_is_valid(&env);
            last = now;
            if last.as_ref().is_some_and(|(_, s)| s == "done") {
                break;
            }
        }
        sim.handle.clear_faults();
        // Uninterrupted, it finishes from wherever the kills left it.
        if last.as_ref().is_none_or(|(_, s)| s != "done") {
            clean(env.run(&["rotate", "auto", "bybit-bot", "--totp", &code(&env, &seed)])).ok();
        }
        assert_eq!(state(&env).as_deref(), Some("done"));
        let show: Value =
            serde_json::from_str(&clean(env.run(&["show", "bybit-bot", "--json"])).ok().stdout)
                .unwrap();
        let stored = show["api_key_id"].as_str().unwrap().to_owned();
        assert_eq!(sub_keys(&sim), vec![stored]);
        clean(env.run(&["verify", "bybit-bot"])).ok();
    }
    eprintln!("{kills} kills landed");
    assert!(kills >= 6, "only {kills} kills landed");
    log_is_valid(&env);
    no_secret_in_files(&env);
}

/// The key id the bundle on the "server" gives the bot.
fn key_in_bundle(bundle: &std::path::Path, identity: &str) -> String {
    crate::deploy::server_env(bundle, identity, "BYBIT_API_KEY")
        .ok()
        .stdout
}

#[test]
fn rotate_auto_redeploys_to_the_servers_before_deleting_the_old_key() {
    let sim = start_sim();
    let mut sshd = crate::deploy::Sshd::start();
    let (env, seed) = setup(&sim);
    let key = sshd.user_key().display().to_string();
    let ssh_env = [("KEYWARD_SSH_OPTIONS", "-F /dev/null")];
    let identity = env.path("server/identity").display().to_string();
    let recipient = env
        .run(&["identity", "new", "--out", &identity])
        .ok()
        .stdout;
    let remote = sshd.remote().display().to_string();
    clean(env.run(&[
        "target",
        "add",
        "box",
        "--ssh",
        &sshd.ssh(),
        "--path",
        &remote,
        "--recipient",
        recipient.trim(),
        "--totp",
        &code(&env, &seed),
    ]))
    .ok();
    clean(env.run(&[
        "target",
        "grant",
        "box",
        "bybit-bot",
        "--totp",
        &code(&env, &seed),
    ]))
    .ok();
    let deploy = |seed: &TotpSeed| {
        clean(env.run_env(
            &[
                "deploy",
                "bybit-bot",
                "--all",
                "--ssh-identity",
                &key,
                "--totp",
                &code(&env, seed),
            ],
            &ssh_env,
        ))
    };
    deploy(&seed).ok();
    let bundle = sshd.remote().join("box.age");
    assert_eq!(key_in_bundle(&bundle, &identity), SUB);
    let auto = |seed: &TotpSeed| {
        clean(env.run_env(
            &[
                "rotate",
                "auto",
                "bybit-bot",
                "--ssh-identity",
                &key,
                "--totp",
                &code(&env, seed),
            ],
            &ssh_env,
        ))
    };

    // The server is down: the run stops at promoted, names the target and
    // keeps the old key alive on the exchange (the bot still runs on it).
    sshd.stop();
    let run = auto(&seed).code(6);
    assert!(
        run.stdout
            .contains("did not reach deployment target box: cannot reach"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("[done]"), "{}", run.stdout);
    assert_eq!(state(&env).as_deref(), Some("promoted"));
    let keys = sub_keys(&sim);
    assert!(keys.contains(&SUB.to_owned()), "old key deleted: {keys:?}");
    assert_eq!(keys.len(), 2);
    assert_eq!(key_in_bundle(&bundle, &identity), SUB);

    // Back up: the next run delivers first, then deletes the old key.
    sshd.launch();
    let run = auto(&seed).ok();
    let delivered = run
        .stdout
        .find("deployed the new key to box")
        .unwrap_or_else(|| panic!("{}", run.stdout));
    let deleted = run.stdout.find("deleted the old key").unwrap();
    assert!(delivered < deleted, "{}", run.stdout);
    assert_eq!(state(&env).as_deref(), Some("done"));
    let show: Value =
        serde_json::from_str(&clean(env.run(&["show", "bybit-bot", "--json"])).ok().stdout)
            .unwrap();
    let first = show["api_key_id"].as_str().unwrap().to_owned();
    assert_eq!(sub_keys(&sim), vec![first.clone()]);
    assert_eq!(key_in_bundle(&bundle, &identity), first);

    // Server up all along: one run promotes, delivers, then deletes.
    let run = auto(&seed).ok();
    assert!(
        run.stdout
            .contains("[promoted] deployed the new key to box"),
        "{}",
        run.stdout
    );
    let show: Value =
        serde_json::from_str(&clean(env.run(&["show", "bybit-bot", "--json"])).ok().stdout)
            .unwrap();
    let second = show["api_key_id"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert_eq!(sub_keys(&sim), vec![second.clone()]);
    assert_eq!(key_in_bundle(&bundle, &identity), second);
    let log = log_is_valid(&env);
    assert_eq!(log.matches("\"key_deployed\"").count(), 3, "{log}");
    no_secret_in_files(&env);
}

/// `rotate cancel` of an automated rotation stopped after its new key was
/// stored: without a code it is refused (exit 4, naming --totp) and nothing
/// changes; with one, the created key is deleted through the manager key
/// and proven dead before the rotation is cancelled; a manual rotation is
/// cancelled without a code, as before.
#[test]
fn rotate_cancel_of_an_automated_rotation_deletes_the_created_key() {
    let sim = start_sim();
    let (env, seed) = setup(&sim);
    // A first run records the sub-account, so the second one's first
    // account-config call comes after its new key is stored.
    clean(env.run(&["rotate", "auto", "bybit-bot", "--totp", &code(&env, &seed)])).ok();
    let current = sub_keys(&sim);
    assert_eq!(current.len(), 1);
    let mut stop = Fault::new(FaultKind::ServerError)
        .on(SimExchange::Bybit)
        .times(0);
    stop.path_contains = Some("query-api".into());
    sim.handle.add_fault(stop);
    let run = clean(env.run(&["rotate", "auto", "bybit-bot", "--totp", &code(&env, &seed)]));
    sim.handle.clear_faults();
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert_eq!(state(&env).as_deref(), Some("new_key_entered"));
    let both = sub_keys(&sim);
    assert_eq!(both.len(), 2, "{both:?}");
    // Without a code: refused, nothing changed.
    let run = clean(env.run(&["rotate", "cancel", "bybit-bot"])).code(4);
    assert!(run.stderr.contains("--totp"), "{}", run.stderr);
    assert_eq!(state(&env).as_deref(), Some("new_key_entered"));
    assert_eq!(sub_keys(&sim), both);
    // With a code: the created key deleted and proven dead, then cancelled.
    let run = clean(env.run(&[
        "rotate",
        "cancel",
        "bybit-bot",
        "--totp",
        &code(&env, &seed),
    ]))
    .ok();
    assert!(
        run.stdout.contains("deleted the created key"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("rejected"), "{}", run.stdout);
    assert!(run.stdout.contains("cancelled the rotation of bybit-bot"));
    assert_eq!(state(&env).as_deref(), Some("cancelled"));
    assert_eq!(sub_keys(&sim), current);
    let show: Value =
        serde_json::from_str(&clean(env.run(&["show", "bybit-bot", "--json"])).ok().stdout)
            .unwrap();
    assert_eq!(show["api_key_id"], current[0].as_str());
    clean(env.run(&["verify", "bybit-bot"])).ok();
    // A manual rotation: no code.
    clean(env.run(&["rotate", "begin", "bybit-bot"])).ok();
    clean(env.run(&["rotate", "cancel", "bybit-bot"])).ok();
    assert_eq!(state(&env).as_deref(), Some("cancelled"));
    let log = log_is_valid(&env);
    assert!(
        log.contains("\"deleted_by\""),
        "the cancel names no deletion"
    );
    no_secret_in_files(&env);
}
