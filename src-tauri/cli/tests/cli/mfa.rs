//! `keyward mfa`, the gated commands and `keyward log` through the binary:
//! exit codes and distinct messages for missing, wrong, replayed and
//! throttled codes; `log --verify` exit 5 on a tampered log; the canary
//! only on `reveal`'s stdout.
//!
//! Codes are computed from the enrolment secret for successive time steps
//! (the gate accepts ±1 step), so no test waits for the clock.

use keyward_core::mfa::TotpSeed;

use crate::support::{Env, Run};

const CANARY: &str = "CANARY-SECRET-0b7e55c1-never-print";

fn wrong(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

fn no_canary(run: &Run, what: &str) {
    assert!(!run.stdout.contains(CANARY), "{what}: canary on stdout");
    assert!(!run.stderr.contains(CANARY), "{what}: canary on stderr");
}

/// A vault with the canary key and confirmed MFA; returns the seed.
fn enrolled() -> (Env, TotpSeed, Vec<String>) {
    let env = Env::init();
    no_canary(&env.add_binance("planted", CANARY).ok(), "add");
    let run = env.run(&["mfa", "enroll", "--json"]).ok();
    no_canary(&run, "enroll");
    assert!(
        !run.stderr.contains("mfa enroll"),
        "enrolling is not told to enrol: {}",
        run.stderr
    );
    let json: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    let secret = json["secret"].as_str().unwrap();
    assert!(
        json["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Keyward:")
    );
    let recovery: Vec<String> = json["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    let seed = TotpSeed::from_base32(secret).unwrap();
    let status = env.run(&["mfa", "status", "--json"]).ok();
    let status: serde_json::Value = serde_json::from_str(status.stdout.trim()).unwrap();
    assert_eq!(status["pending"], true);
    assert_eq!(status["enrolled"], false);
    // Five digits is not a code: the message says what a code looks like.
    let short = env.run(&["mfa", "confirm", "12345"]).code(4);
    assert!(
        short.stderr.contains("an authentication code has 6 digits"),
        "{}",
        short.stderr
    );
    env.run(&["mfa", "confirm", &env.code(&seed, -1)]).ok();
    let status = env.run(&["mfa", "status", "--json"]).ok();
    let status: serde_json::Value = serde_json::from_str(status.stdout.trim()).unwrap();
    assert_eq!(status["enrolled"], true);
    (env, seed, recovery)
}

#[test]
fn before_enrolment_the_master_password_is_the_step_up() {
    let env = Env::init();
    env.add_binance("planted", CANARY).ok();
    let run = env.run(&["reveal", "planted"]).ok();
    assert_eq!(run.stdout.trim(), CANARY);
    assert!(run.stderr.contains("MFA is not enrolled"));
    // A code is refused while MFA is off.
    let run = env.run(&["reveal", "planted", "--totp", "123456"]).code(4);
    assert!(run.stderr.contains("MFA is not enrolled"), "{}", run.stderr);
    no_canary(&run, "reveal with code");
}

#[test]
fn missing_wrong_replayed_and_throttled_codes_exit_4_with_distinct_messages() {
    let (env, seed, _) = enrolled();

    let missing = env.run(&["reveal", "planted"]).code(4);
    assert!(
        missing.stderr.contains("needs a code: pass --totp"),
        "{}",
        missing.stderr
    );
    assert!(
        !missing.stderr.contains('_'),
        "no internal action names: {}",
        missing.stderr
    );

    let good = env.code(&seed, 0);
    let wrong_run = env
        .run(&["reveal", "planted", "--totp", &wrong(&good)])
        .code(4);
    assert!(wrong_run.stderr.contains("invalid authentication code"));

    let ok = env.run(&["reveal", "planted", "--totp", &good]).ok();
    assert_eq!(ok.stdout.trim(), CANARY);

    let replay = env.run(&["reveal", "planted", "--totp", &good]).code(4);
    assert!(replay.stderr.contains("already used"));

    let next = env.code(&seed, 1);
    let mut last = None;
    // (The accepted code reset the counter: five wrong codes from here.)
    for _ in 0..5 {
        last = Some(
            env.run(&["delete", "planted", "--totp", &wrong(&next)])
                .code(4),
        );
    }
    let locked = last.unwrap();
    assert!(
        locked.stderr.contains("too many wrong codes"),
        "{}",
        locked.stderr
    );
    // Even the right code is refused now, across processes.
    let throttled = env.run(&["delete", "planted", "--totp", &next]).code(4);
    assert!(throttled.stderr.contains("too many wrong codes"));

    let messages = [
        &missing.stderr,
        &wrong_run.stderr,
        &replay.stderr,
        &throttled.stderr,
    ];
    for (i, a) in messages.iter().enumerate() {
        for b in &messages[i + 1..] {
            assert_ne!(a, b);
        }
    }
    for run in [&missing, &wrong_run, &replay, &throttled] {
        no_canary(run, "refused reveal/delete");
    }
    // Nothing was deleted.
    env.run(&["show", "planted"]).ok();
    // Every refusal is in the log.
    let log = env
        .run(&["log", "--json", "--action", "step_up_failed"])
        .ok();
    no_canary(&log, "log");
    let entries: serde_json::Value = serde_json::from_str(log.stdout.trim()).unwrap();
    assert!(entries.as_array().unwrap().len() >= 5);
    assert!(!log.stdout.contains(&good));
    let log = env.run(&["log", "--action", "step_up_failed"]).ok();
    assert!(
        log.stdout
            .contains("Step-up failed: wrong code (revealing a secret)"),
        "{}",
        log.stdout
    );
    assert!(!log.stdout.contains(&good));
}

#[test]
fn gated_commands_need_a_code_and_a_recovery_code_works_once() {
    let (env, seed, recovery) = enrolled();
    let backup = env.path("backup.kwb");
    let backup = backup.to_str().unwrap();
    let pp = [("KEYWARD_BACKUP_PASSPHRASE", "backup pass")];
    env.run_env(&["export", "--out", backup], &pp).code(4);
    env.run(&["passwd"]).code(4);
    env.run(&["settings", "--auto-lock-minutes", "9"]).code(4);
    env.run(&["settings", "--default-rotation-days", "30"])
        .code(4);
    env.run(&["edit", "planted", "--allow-run"]).code(4);
    env.run(&["mfa", "disable"]).code(4);

    let run = env
        .run_env(
            &["export", "--out", backup, "--recovery-code", &recovery[0]],
            &pp,
        )
        .ok();
    no_canary(&run, "export");
    let again = env
        .run(&["delete", "planted", "--recovery-code", &recovery[0]])
        .code(4);
    assert!(again.stderr.contains("already been used"));

    env.run(&[
        "edit",
        "planted",
        "--allow-run",
        "--totp",
        &env.code(&seed, 0),
    ])
    .ok();
    let show = env.run(&["show", "planted", "--json"]).ok();
    let show: serde_json::Value = serde_json::from_str(show.stdout.trim()).unwrap();
    assert_eq!(show["allow_run"], true);
    env.run(&["edit", "planted", "--deny-run"]).ok();

    env.run(&["delete", "planted", "--totp", &env.code(&seed, 1)])
        .ok();
    env.run(&["show", "planted"]).code(7);
    let log = env.run(&["log", "--key", "planted"]).ok();
    // Sentences, not stored event names or JSON.
    assert!(
        log.stdout.contains("Deleted key planted (TOTP)"),
        "{}",
        log.stdout
    );
    assert!(
        log.stdout
            .contains("Allowed keyward run to use key planted (TOTP)"),
        "{}",
        log.stdout
    );
    assert!(
        log.stdout
            .contains("Stopped keyward run from using key planted"),
        "{}",
        log.stdout
    );
    assert!(
        !log.stdout.contains('_') && !log.stdout.contains('{'),
        "{}",
        log.stdout
    );
    let secrets = env.run(&["log", "--category", "secrets"]).ok();
    assert!(
        secrets
            .stdout
            .contains("Allowed keyward run to use key planted"),
        "{}",
        secrets.stdout
    );
    assert!(
        !secrets.stdout.contains("Deleted key"),
        "{}",
        secrets.stdout
    );
    env.run(&["log", "--category", "nope"]).code(1);
    let json = env.run(&["log", "--key", "planted", "--json"]).ok();
    let json: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    let deleted = json
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "key_deleted")
        .unwrap();
    assert_eq!(deleted["sentence"], "Deleted key planted (TOTP)");
    assert_eq!(deleted["details"]["proof"], "totp");
    no_canary(&log, "log --key");
    env.run(&["log", "--verify"]).ok();
}

/// `keyward settings` follows the core's one settings rule, the same as the
/// desktop's settings page: any change needs a code (the default rotation
/// period included: raising it silences rotation reminders), nothing
/// changed needs none, and a value out of range is refused before the code
/// is asked for.
#[test]
fn every_settings_change_needs_a_code_and_no_change_needs_none() {
    let (env, seed, _) = enrolled();
    let settings = |env: &Env| -> serde_json::Value {
        serde_json::from_str(&env.run(&["settings", "--json"]).ok().stdout).unwrap()
    };
    let refused = env
        .run(&["settings", "--default-rotation-days", "3650"])
        .code(4);
    assert!(
        refused.stderr.contains("changing security settings"),
        "{}",
        refused.stderr
    );
    assert_eq!(settings(&env)["default_rotation_days"], 90);
    // Out of range: refused as invalid (exit 1) before any code is asked for.
    let invalid = env
        .run(&["settings", "--step-up-window-seconds", "301"])
        .code(1);
    assert!(!invalid.stderr.contains("changing security settings"));
    env.run(&[
        "settings",
        "--default-rotation-days",
        "45",
        "--totp",
        &env.code(&seed, 0),
    ])
    .ok();
    assert_eq!(settings(&env)["default_rotation_days"], 45);
    // The same value again changes nothing and needs no code.
    env.run(&["settings", "--default-rotation-days", "45"]).ok();
    let log = env.run(&["log", "--action", "settings_changed"]).ok();
    assert_eq!(log.stdout.lines().count(), 1, "{}", log.stdout);
    assert!(
        log.stdout
            .contains("Changed settings: default rotation days set to 45"),
        "{}",
        log.stdout
    );
}

fn sqlite(env: &Env, sql: &str) {
    let conn = rusqlite::Connection::open(env.vault()).unwrap();
    conn.execute_batch(sql).unwrap();
}

#[test]
fn log_verify_exits_5_for_each_kind_of_tampering() {
    let cases = [
        (
            "modified",
            "UPDATE audit_log SET key_label = 'x' WHERE seq = 2;",
        ),
        ("deleted", "DELETE FROM audit_log WHERE seq = 2;"),
        (
            "reordered",
            "CREATE TEMP TABLE t AS SELECT * FROM audit_log WHERE seq IN (2, 3);
             DELETE FROM audit_log WHERE seq IN (2, 3);
             INSERT INTO audit_log (seq, time_ms, actor, action, key_id, key_label, details,
                 prev_mac, mac)
                 SELECT seq, time_ms, actor, action, key_id, key_label, details, prev_mac, mac
                 FROM t ORDER BY seq DESC;",
        ),
        (
            "truncated",
            "DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log);",
        ),
    ];
    for (name, sql) in cases {
        let env = Env::init();
        env.add_binance("a", "secret-a").ok();
        env.add_binance("b", "secret-b").ok();
        env.run(&["log", "--verify"]).ok();
        sqlite(&env, sql);
        let run = env.run(&["log", "--verify"]).code(5);
        assert!(run.stdout.contains("BROKEN"), "{name}: {}", run.stdout);
        assert!(run.stderr.contains("failed verification"), "{name}");
        // Other commands still work. A truncation is sealed over by the
        // finding's own entry, so later unlocks see an intact chain that
        // records the finding; the other kinds stay broken and warn.
        let list = env.run(&["list"]).ok();
        if name != "truncated" {
            assert!(
                list.stderr.contains("audit log failed verification"),
                "{name}"
            );
        }
        let findings = env
            .run(&["log", "--json", "--action", "audit_integrity_failed"])
            .ok();
        assert!(findings.stdout.contains("audit_integrity_failed"), "{name}");
    }
}
