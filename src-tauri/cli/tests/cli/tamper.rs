use crate::support::{Env, flip_secret_byte};

#[test]
fn flipped_sealed_byte_names_the_record_and_others_stay_readable() {
    let env = Env::init();
    env.add_binance("alpha", "secret-alpha").ok();
    env.add_binance("beta", "secret-beta").ok();
    env.add_binance("gamma", "secret-gamma").ok();
    // Every byte position of the sealed blob, in turn.
    let len: i64 = {
        let conn = rusqlite::Connection::open(env.vault()).unwrap();
        conn.query_row(
            "SELECT length(secret) FROM keys WHERE label='beta'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    let len = len as usize;
    for i in 0..len {
        flip_secret_byte(&env.vault(), "beta", i);
        let run = env.run(&["check"]).code(5);
        assert!(run.stderr.contains("beta"), "byte {i}: {}", run.stderr);
        assert!(!run.stderr.contains("alpha") && !run.stderr.contains("gamma"));
        flip_secret_byte(&env.vault(), "beta", i);
    }
    flip_secret_byte(&env.vault(), "beta", 20);
    let json = env.run(&["check", "--json"]).code(5);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["damaged"][0]["label"], "beta");
    assert_eq!(
        v["damaged"][0]["fields"],
        serde_json::json!(["secret", "row"])
    );
    // The other records are still listed and shown.
    env.run(&["show", "alpha"]).ok();
    env.run(&["show", "gamma"]).ok();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&env.run(&["list", "--json"]).ok().stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn swapped_ciphertexts_are_detected() {
    let env = Env::init();
    env.add_binance("one", "secret-one").ok();
    env.add_binance("two", "secret-two").ok();
    let conn = rusqlite::Connection::open(env.vault()).unwrap();
    conn.execute(
        "UPDATE keys SET secret = (SELECT secret FROM keys WHERE label='one') WHERE label='two'",
        [],
    )
    .unwrap();
    drop(conn);
    let run = env.run(&["check"]).code(5);
    assert!(run.stderr.contains("two") && !run.stderr.contains("one,"));
}

#[test]
fn truncated_garbage_and_foreign_files_fail_cleanly() {
    let env = Env::init();
    for i in 0..5 {
        env.add_binance(&format!("k{i}"), "s").ok();
    }
    let bytes = std::fs::read(env.vault()).unwrap();
    for cut in [0, 10, 100, bytes.len() / 2, bytes.len() - 1] {
        let t = Env::new();
        std::fs::write(t.vault(), &bytes[..cut]).unwrap();
        let run = t.run(&["list"]);
        assert_ne!(run.code, 0, "cut at {cut}");
        assert!(
            run.stderr.starts_with("error: "),
            "cut {cut}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"));
    }
    let t = Env::new();
    std::fs::write(t.vault(), vec![0x5Au8; 65536]).unwrap();
    let run = t.run(&["list"]).code(5);
    assert!(run.stderr.contains("not a Keyward vault"), "{}", run.stderr);
    // Some other SQLite database.
    let t = Env::new();
    rusqlite::Connection::open(t.vault())
        .unwrap()
        .execute_batch("CREATE TABLE x (y)")
        .unwrap();
    let run = t.run(&["list"]).code(5);
    assert!(run.stderr.contains("not a Keyward vault"));
    // Wrong magic: a vault whose application id was changed.
    let t = Env::init();
    rusqlite::Connection::open(t.vault())
        .unwrap()
        .pragma_update(None, "application_id", 1)
        .unwrap();
    t.run(&["list"]).code(5);
}

#[test]
fn tampered_header_is_detected() {
    for (column, value) in [
        ("kdf_iterations", "3"),
        ("kdf_memory_kib", "20000"),
        ("kdf_parallelism", "2"),
        ("vault_id", "x'00112233445566778899aabbccddeeff'"),
        ("kdf_salt", "x'00112233445566778899aabbccddeeff'"),
        ("password_wrap", "x'01'"),
    ] {
        let env = Env::init();
        env.add_binance("k", "s").ok();
        rusqlite::Connection::open(env.vault())
            .unwrap()
            .execute(&format!("UPDATE vault_meta SET {column} = {value}"), [])
            .unwrap();
        let run = env.run(&["list"]).code(5);
        assert!(run.stderr.contains("header"), "{column}: {}", run.stderr);
    }
    // A newer format version is refused as unsupported.
    let env = Env::init();
    rusqlite::Connection::open(env.vault())
        .unwrap()
        .execute("UPDATE vault_meta SET format_version = 2", [])
        .unwrap();
    let run = env.run(&["list"]).code(5);
    assert!(run.stderr.contains("not supported"), "{}", run.stderr);
    let env = Env::init();
    rusqlite::Connection::open(env.vault())
        .unwrap()
        .pragma_update(None, "user_version", 42)
        .unwrap();
    env.run(&["list"]).code(5);
}

/// A vault with one key and confirmed MFA (confirmed with the code of the
/// previous step, so the current one is still unused).
fn enrolled_env() -> (Env, keyward_core::mfa::TotpSeed) {
    let env = Env::init();
    env.add_binance("main", "secret-main").ok();
    let run = env.run(&["mfa", "enroll", "--json"]).ok();
    let json: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    let seed = keyward_core::mfa::TotpSeed::from_base32(json["secret"].as_str().unwrap()).unwrap();
    env.run(&["mfa", "confirm", &env.code(&seed, -1)]).ok();
    (env, seed)
}

#[test]
fn base_url_edit_without_a_code_exits_4_and_changes_nothing() {
    let (env, seed) = enrolled_env();
    let run = env
        .run(&["edit", "main", "--base-url", "http://127.0.0.1:9/binance"])
        .code(4);
    assert!(
        run.stderr
            .contains("changing a key's credentials needs a code"),
        "{}",
        run.stderr
    );
    let show = env.run(&["show", "main"]).ok();
    assert!(show.stdout.contains("mainnet"), "{}", show.stdout);
    assert!(!show.stdout.contains("127.0.0.1"));
    // A new secret from stdin needs the code too: the only copy survives.
    env.run_stdin(&["edit", "main", "--secret-stdin"], "overwritten\n")
        .code(4);
    // With a code the host changes, and `show` says it is not Binance's.
    let code = env.code(&seed, 0);
    env.run(&[
        "edit",
        "main",
        "--base-url",
        "http://127.0.0.1:9/binance",
        "--totp",
        &code,
    ])
    .ok();
    let show = env.run(&["show", "main"]).ok();
    assert!(
        show.stdout.contains("127.0.0.1:9 — NOT Binance's own host"),
        "{}",
        show.stdout
    );
    // Scopes and notes stay ungated.
    env.run(&["edit", "main", "--scopes", "read", "--notes", "grid bot"])
        .ok();
}

#[test]
fn allow_run_set_in_sqlite_makes_check_exit_5_and_run_refuse() {
    let env = Env::init();
    env.add_binance("main", "secret-main").ok();
    env.add_binance("other", "secret-other").ok();
    let conn = rusqlite::Connection::open(env.vault()).unwrap();
    conn.execute("UPDATE keys SET allow_run = 1 WHERE label = 'main'", [])
        .unwrap();
    drop(conn);
    let run = env.run(&["run", "--key", "main", "--", "true"]).code(5);
    assert!(run.stderr.contains("main"), "{}", run.stderr);
    assert!(!run.stderr.contains("secret-main"));
    let check = env.run(&["check"]).code(5);
    assert!(check.stderr.contains("main"), "{}", check.stderr);
    assert!(!check.stderr.contains("other"), "{}", check.stderr);
}

/// A consistent older copy of the vault, taken with `VACUUM INTO`.
fn snapshot(env: &Env, name: &str) -> std::path::PathBuf {
    let old = env.path(name);
    rusqlite::Connection::open(env.vault())
        .unwrap()
        .execute("VACUUM INTO ?1", [old.to_str().unwrap()])
        .unwrap();
    old
}

/// Runs `sql` on the vault with the older copy attached as `old`.
fn put_back(env: &Env, old: &std::path::Path, sql: &str) {
    let conn = rusqlite::Connection::open(env.vault()).unwrap();
    conn.execute("ATTACH DATABASE ?1 AS old", [old.to_str().unwrap()])
        .unwrap();
    conn.execute_batch(sql).unwrap();
}

#[test]
fn revived_recovery_code_exits_5_at_unlock() {
    let env = Env::init();
    env.add_binance("k", "secret-k").ok();
    let run = env.run(&["mfa", "enroll", "--json"]).ok();
    let json: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    let seed = keyward_core::mfa::TotpSeed::from_base32(json["secret"].as_str().unwrap()).unwrap();
    let spent = json["recovery_codes"][0].as_str().unwrap().to_owned();
    env.run(&["mfa", "confirm", &env.code(&seed, -1)]).ok();
    let old = snapshot(&env, "before-spending.keyward");
    env.run(&["reveal", "k", "--recovery-code", &spent]).ok();
    // Spent: refused as such.
    let again = env.run(&["reveal", "k", "--recovery-code", &spent]).code(4);
    assert!(
        again.stderr.contains("already been used"),
        "{}",
        again.stderr
    );
    // Put the MFA record and its recovery codes back from the older copy.
    put_back(
        &env,
        &old,
        "DELETE FROM main.mfa; INSERT INTO main.mfa SELECT * FROM old.mfa;
         DELETE FROM main.mfa_recovery_codes;
         INSERT INTO main.mfa_recovery_codes SELECT * FROM old.mfa_recovery_codes;",
    );
    let revived = env.run(&["reveal", "k", "--recovery-code", &spent]).code(5);
    assert!(revived.stderr.contains("MFA state"), "{}", revived.stderr);
    assert!(!revived.stdout.contains("secret-k"));
    assert!(!revived.stderr.contains(&spent));
    env.run(&["list"]).code(5);
    env.run(&["log", "--verify"]).code(5);
}

#[test]
fn hidden_audit_entries_make_log_verify_exit_5() {
    let env = Env::init();
    env.add_binance("k", "secret-k").ok();
    let old = snapshot(&env, "before-reveal.keyward");
    env.run(&["reveal", "k"]).ok();
    // The reveal hidden: the older sealed head, and the log cut to match.
    put_back(
        &env,
        &old,
        "UPDATE main.vault_meta SET audit_head = (SELECT audit_head FROM old.vault_meta);
         DELETE FROM main.audit_log WHERE seq > (SELECT max(seq) FROM old.audit_log);",
    );
    let run = env.run(&["log", "--verify"]).code(5);
    assert!(run.stderr.contains("put back"), "{}", run.stderr);
}
