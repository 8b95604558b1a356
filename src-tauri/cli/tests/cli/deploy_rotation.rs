//! Rotation follows the key to its servers (the real sshd of `deploy`):
//! `rotate promote` delivers the new key, under the same code, to every
//! target that held the old one; a target it cannot reach is named, and
//! revoke-old is refused until `deploy --all` reaches it (or `--force`,
//! audited).

use std::path::Path;

use keyward_core::mfa::TotpSeed;
use keyward_sim::{Accounts, KeyAccount, SimExchange, SimScope};

use crate::deploy::{Sshd, files_with, server_env};
use crate::support::{Env, Run, Sim};

const OLD: &str = "BYBITDEPLOYOLD1";
const NEW: &str = "BYBITDEPLOYNEW1";
const OLD_SECRET: &str = "CANARYdeployBYBITold1";
const NEW_SECRET: &str = "CANARYdeployBYBITnew1";
const OLD2: &str = "BYBITDEPLOYOLD2";
const NEW2: &str = "BYBITDEPLOYNEW2";
const OLD2_SECRET: &str = "CANARYdeployBYBITold2";
const NEW2_SECRET: &str = "CANARYdeployBYBITnew2";
const ALL: [&str; 4] = [OLD_SECRET, NEW_SECRET, OLD2_SECRET, NEW2_SECRET];

/// Adds the keys `bot` and `bot2` (on the simulator) and creates the
/// server's identity: its file and its recipient.
fn two_bots_and_a_server_identity(env: &Env, sim: &Sim) -> (String, String) {
    for (label, id, secret) in [("bot", OLD, OLD_SECRET), ("bot2", OLD2, OLD2_SECRET)] {
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
                "read,trade,transfer",
                "--base-url",
                &sim.handle.url(SimExchange::Bybit),
                "--secret-stdin",
            ],
            &format!("{secret}\n"),
        ))
        .ok();
    }
    let id_file = env.path("server/identity").display().to_string();
    let recipient = env.run(&["identity", "new", "--out", &id_file]).ok().stdout;
    (id_file, recipient)
}

fn sim() -> Sim {
    Sim::start(Accounts {
        keys: [
            (OLD, OLD_SECRET),
            (NEW, NEW_SECRET),
            (OLD2, OLD2_SECRET),
            (NEW2, NEW2_SECRET),
        ]
        .iter()
        .map(|(id, secret)| {
            KeyAccount::hmac(
                SimExchange::Bybit,
                id,
                secret,
                &[SimScope::Read, SimScope::Trade, SimScope::Transfer],
            )
        })
        .collect(),
        rate_limits: false,
        ..Accounts::default()
    })
}

fn clean(run: Run) -> Run {
    for s in ALL {
        assert!(!run.stdout.contains(s), "secret on stdout");
        assert!(!run.stderr.contains(s), "secret on stderr");
    }
    run
}

fn advance(env: &Env) {
    let now = env.pinned_now();
    std::fs::write(env.path("clock"), (now + 60).to_string()).unwrap();
}

fn deploy(env: &Env, sshd: &Sshd, args: &[&str]) -> Run {
    let key = sshd.user_key().display().to_string();
    let mut all = vec!["deploy"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--ssh-identity", &key]);
    clean(env.run_env(&all, &[("KEYWARD_SSH_OPTIONS", "-F /dev/null")]))
}

/// Begins a rotation of `label` and takes it to verified with the new key
/// `new` (its secret on stdin).
fn rotate_to_verified(env: &Env, label: &str, new: &str, secret: &str) {
    clean(env.run(&["rotate", "begin", label])).ok();
    clean(env.run_stdin(
        &[
            "rotate",
            "new-key",
            label,
            "--api-key",
            new,
            "--secret-stdin",
        ],
        &format!("{secret}\n"),
    ))
    .ok();
    clean(env.run(&["rotate", "verify", label, "--allow-unknown"])).ok();
}

fn rotate_to_promoted(env: &Env, label: &str, new: &str, secret: &str) -> Run {
    rotate_to_verified(env, label, new, secret);
    clean(env.run(&["rotate", "promote", label])).ok()
}

fn rotation_state(env: &Env, label: &str) -> String {
    let run = clean(env.run(&["rotate", "status", label, "--json"])).ok();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    v["state"].as_str().unwrap().to_owned()
}

#[test]
fn revoke_old_waits_for_the_servers_to_have_the_new_key() {
    let sim = sim();
    let sshd = Sshd::start();
    // No MFA here: the master password is the step-up.
    let env = Env::init();
    env.pinned_now();
    let (id_file, recipient) = two_bots_and_a_server_identity(&env, &sim);
    let remote = sshd.remote().display().to_string();
    for (target, label) in [("box1", "bot"), ("box2", "bot2")] {
        env.run(&[
            "target",
            "add",
            target,
            "--ssh",
            &sshd.ssh(),
            "--path",
            &remote,
            "--recipient",
            recipient.trim(),
        ])
        .ok();
        env.run(&["target", "grant", target, label]).ok();
        deploy(&env, &sshd, &[label, "--to", target]).ok();
    }
    advance(&env);

    // Promote without a login the server accepts (no --ssh-identity): the
    // delivery is refused, and the server that still has the old key is
    // named.
    let run = rotate_to_promoted(&env, "bot", NEW, NEW_SECRET);
    assert!(
        run.stderr.contains("box1 still holds the old key"),
        "{}",
        run.stderr
    );
    // Revoke-old is refused, before anything reaches the exchange.
    let run = clean(env.run(&["rotate", "revoke-old", "bot"])).code(1);
    assert!(run.stderr.contains("deploy bot --all"), "{}", run.stderr);
    assert_eq!(rotation_state(&env, "bot"), "promoted");
    // Deploy to every target of the key; then the revocation goes on.
    let run = deploy(&env, &sshd, &["bot", "--all"]).ok();
    assert!(run.stdout.contains("deployed bot to"), "{}", run.stdout);
    let seen = server_env(&sshd.remote().join("box1.age"), &id_file, "BYBIT_API_KEY").ok();
    assert_eq!(seen.stdout, NEW);
    let env = &env;
    clean(env.run(&["rotate", "revoke-old", "bot"])).ok();
    assert_eq!(rotation_state(env, "bot"), "done");

    // The other key: forced, and the log says so.
    let run = rotate_to_promoted(env, "bot2", NEW2, NEW2_SECRET);
    assert!(run.stderr.contains("box2"), "{}", run.stderr);
    let run = clean(env.run(&["rotate", "revoke-old", "bot2", "--force"])).ok();
    assert!(run.stderr.contains("revoking it anyway"), "{}", run.stderr);
    let log = clean(env.run(&["log", "--json"])).ok();
    assert!(log.stdout.contains("revoke_forced_while_deployed"));
    assert!(
        log.stdout
            .contains("Revoked the old key of bot2 although box2 still held it (forced)"),
        "{}",
        log.stdout
    );
    for dir in [env.dir.path(), sshd.dir.path()] {
        for s in ALL {
            assert!(files_with(dir, s).is_empty(), "{s} in a file");
        }
    }
}

/// `keyward ARGS --totp CODE` with the test's SSH options.
fn gated(env: &Env, seed: &TotpSeed, sshd: &Sshd, args: &[&str]) -> Run {
    let code = env.fresh_code(seed);
    let key = sshd.user_key().display().to_string();
    let mut all = args.to_vec();
    if matches!(args[0], "deploy") || args.get(1) == Some(&"promote") {
        all.extend_from_slice(&["--ssh-identity", &key]);
    }
    all.extend_from_slice(&["--totp", &code]);
    clean(env.run_env(&all, &[("KEYWARD_SSH_OPTIONS", "-F /dev/null")]))
}

#[test]
fn promote_delivers_the_new_key_and_an_unreachable_server_holds_revoke_old() {
    let sim = sim();
    let mut sshd = Sshd::start();
    let env = Env::init();
    let seed = env.enrol_mfa();
    let (id_file, recipient) = two_bots_and_a_server_identity(&env, &sim);
    let remote = sshd.remote().display().to_string();
    for (target, label) in [("box1", "bot"), ("box2", "bot2")] {
        gated(
            &env,
            &seed,
            &sshd,
            &[
                "target",
                "add",
                target,
                "--ssh",
                &sshd.ssh(),
                "--path",
                &remote,
                "--recipient",
                recipient.trim(),
            ],
        )
        .ok();
        gated(&env, &seed, &sshd, &["target", "grant", target, label]).ok();
        gated(&env, &seed, &sshd, &["deploy", label, "--to", target]).ok();
    }
    let bundle1 = sshd.remote().join("box1.age");
    let bundle2 = sshd.remote().join("box2.age");
    let key_in = |bundle: &Path| server_env(bundle, &id_file, "BYBIT_API_KEY").ok().stdout;
    assert_eq!(key_in(&bundle1), OLD);
    env.advance(2);

    // Promote (one code) delivers the new key to the server that held
    // the old one; the server runs with the new key; revoke-old passes.
    rotate_to_verified(&env, "bot", NEW, NEW_SECRET);
    let run = gated(&env, &seed, &sshd, &["rotate", "promote", "bot"]).ok();
    assert!(
        run.stderr.contains("deployed the new key to box1"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("still hold"), "{}", run.stderr);
    assert_eq!(key_in(&bundle1), NEW);
    assert_eq!(key_in(&bundle2), OLD2, "box2 holds another key");
    let log = clean(env.run(&["log", "--json"])).ok().stdout;
    assert_eq!(log.matches("\"key_deployed\"").count(), 3, "{log}");
    gated(&env, &seed, &sshd, &["rotate", "revoke-old", "bot"]).ok();
    assert_eq!(rotation_state(&env, "bot"), "done");

    // The server is down during the promotion: the promotion stands,
    // the output names the target and the cause, revoke-old waits.
    rotate_to_verified(&env, "bot2", NEW2, NEW2_SECRET);
    sshd.stop();
    let run = gated(&env, &seed, &sshd, &["rotate", "promote", "bot2"]).ok();
    assert!(
        run.stderr.contains("error: cannot reach") && run.stderr.contains("\"box2\""),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("box2 still holds the old key"),
        "{}",
        run.stderr
    );
    assert_eq!(rotation_state(&env, "bot2"), "promoted");
    let run = gated(&env, &seed, &sshd, &["rotate", "revoke-old", "bot2"]).code(1);
    assert!(run.stderr.contains("deploy bot2 --all"), "{}", run.stderr);
    assert_eq!(rotation_state(&env, "bot2"), "promoted");
    assert_eq!(key_in(&bundle2), OLD2);
    // Back up: deploy --all reaches it, then revoke-old proceeds.
    sshd.launch();
    gated(&env, &seed, &sshd, &["deploy", "bot2", "--all"]).ok();
    assert_eq!(key_in(&bundle2), NEW2);
    gated(&env, &seed, &sshd, &["rotate", "revoke-old", "bot2"]).ok();
    assert_eq!(rotation_state(&env, "bot2"), "done");
    let log = clean(env.run(&["log", "--json"])).ok().stdout;
    assert!(!log.contains("revoke_forced_while_deployed"));
    for dir in [env.dir.path(), sshd.dir.path()] {
        for s in ALL {
            assert!(files_with(dir, s).is_empty(), "{s} in a file");
        }
    }
}

#[test]
fn a_target_changed_outside_keyward_stops_the_promotion_before_anything_changes() {
    let sim = sim();
    let env = Env::init();
    clean(env.run_stdin(
        &[
            "add",
            "--exchange",
            "bybit",
            "--label",
            "bot",
            "--api-key",
            OLD,
            "--scopes",
            "read,trade,transfer",
            "--base-url",
            &sim.handle.url(SimExchange::Bybit),
            "--secret-stdin",
        ],
        &format!("{OLD_SECRET}\n"),
    ))
    .ok();
    let id_file = env.path("server/identity").display().to_string();
    let recipient = env.run(&["identity", "new", "--out", &id_file]).ok().stdout;
    env.run(&[
        "target",
        "add",
        "box",
        "--ssh",
        "bot@127.0.0.1:2222",
        "--path",
        "bots",
        "--recipient",
        recipient.trim(),
    ])
    .ok();
    env.run(&["target", "grant", "box", "bot"]).ok();
    rotate_to_verified(&env, "bot", NEW, NEW_SECRET);
    rusqlite::Connection::open(env.vault())
        .unwrap()
        .execute(
            "UPDATE deploy_targets SET host = '203.0.113.66' WHERE name = 'box'",
            [],
        )
        .unwrap();
    let run = clean(env.run(&["rotate", "promote", "bot"])).code(5);
    assert!(
        run.stderr.contains("\"box\" was changed outside Keyward"),
        "{}",
        run.stderr
    );
    assert_eq!(rotation_state(&env, "bot"), "new_key_verified");
    let show = clean(env.run(&["show", "bot", "--json"])).ok().stdout;
    let show: serde_json::Value = serde_json::from_str(&show).unwrap();
    assert_eq!(show["api_key_id"], OLD);
}
