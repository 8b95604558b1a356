use crate::support::{BINANCE_KEY, Env, PASSWORD};

#[test]
fn status_works_without_a_vault() {
    let env = Env::new();
    let run = env.run(&["status"]).ok();
    assert!(run.stdout.contains("not created"));
    let run = env.run(&["status", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["exists"], false);
}

#[test]
fn init_add_list_show_edit_check() {
    let env = Env::init();
    assert!(env.run(&["status"]).ok().stdout.contains("exists"));
    env.add_binance("main", "s3cret").ok();
    env.run_stdin(
        &[
            "add",
            "--exchange",
            "okx",
            "--label",
            "okx desk",
            "--api-key",
            "6c4b2a8e-3f1d-4e5a-9b7c-0d1e2f3a4b5c",
            "--secret-stdin",
            "--scopes",
            "read,trade",
            "--ip",
            "203.0.113.7",
            "--ip",
            "10.0.0.0/8",
            "--testnet",
            "--rotate-every",
            "30",
            "--used-by",
            "grid bot",
        ],
        "okx-secret\nokx-pass\n",
    )
    .ok();

    let list = env.run(&["list"]).ok();
    assert!(list.stdout.contains("main"));
    assert!(list.stdout.contains("okx desk"));
    assert!(!list.stdout.contains(BINANCE_KEY), "key id must be masked");
    assert!(list.stdout.contains("vmPU…Eh8A"));

    let json = env.run(&["list", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[1]["label"], "okx desk");
    assert_eq!(v[1]["ip_restricted"], true);
    assert_eq!(v[1]["rotate_every_days"], 30);
    assert_eq!(v[1]["environment"]["kind"], "testnet");

    let show = env.run(&["show", "okx desk", "--json"]).ok();
    let d: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(d["has_passphrase"], true);
    assert_eq!(
        d["ip_whitelist"],
        serde_json::json!(["203.0.113.7", "10.0.0.0/8"])
    );
    assert_eq!(d["linked_services"][0]["name"], "grid bot");
    assert_eq!(d["linked_services"][0]["kind"], "unspecified");
    assert!(!show.stdout.contains("okx-secret") && !show.stdout.contains("okx-pass"));

    env.run(&[
        "edit",
        "okx desk",
        "--new-label",
        "okx-main",
        "--clear-ips",
        "--mainnet",
        "--status",
        "rotating",
        "--notes",
        "moved to desk 2",
    ])
    .ok();
    let d: serde_json::Value =
        serde_json::from_str(&env.run(&["show", "okx-main", "--json"]).ok().stdout).unwrap();
    assert_eq!(d["ip_whitelist"], serde_json::json!([]));
    assert_eq!(d["status"], "rotating");
    assert_eq!(d["environment"]["kind"], "mainnet");
    assert_eq!(d["notes"], "moved to desk 2");
    env.run(&["show", "okx desk"]).code(7);

    // New secret through stdin.
    env.run_stdin(&["edit", "main", "--secret-stdin"], "rotated\n")
        .ok();
    let check = env.run(&["check"]).ok();
    assert!(check.stdout.contains("0 damaged"), "{}", check.stdout);
    let search = env.run(&["list", "--search", "okx", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&search.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
}

#[test]
fn exit_codes_follow_design() {
    let env = Env::new();
    // No vault yet: not found.
    let run = env.run(&["list"]).code(7);
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    // Usage errors.
    env.run(&["frobnicate"]).code(2);
    env.run(&["add", "--exchange", "binance"]).code(2);
    // A secret can never be given on the command line.
    env.run(&[
        "add",
        "--exchange",
        "binance",
        "--label",
        "x",
        "--api-key",
        BINANCE_KEY,
        "--secret",
        "oops",
    ])
    .code(2);

    let env = Env::init();
    // init twice refuses.
    env.run(&[
        "init",
        "--kdf-memory-mib",
        "19",
        "--kdf-iterations",
        "2",
        "--kdf-parallelism",
        "1",
    ])
    .code(1);
    // Wrong password: 3.
    let run = env
        .run_env(&["list"], &[("KEYWARD_PASSWORD", "wrong")])
        .code(3);
    assert!(run.stderr.contains("wrong master password"));
    // Validation: 1, with a specific message.
    let run = env
        .run_stdin(
            &[
                "add",
                "--exchange",
                "binance",
                "--label",
                "bad",
                "--api-key",
                "short",
                "--secret-stdin",
            ],
            "s\n",
        )
        .code(1);
    assert!(
        run.stderr.contains("64 letters and digits"),
        "{}",
        run.stderr
    );
    let run = env
        .run_stdin(
            &[
                "add",
                "--exchange",
                "kucoin",
                "--label",
                "k",
                "--api-key",
                "5f0c3a9e1b2d4c6e8f0a1b2c",
                "--secret-stdin",
            ],
            "only-secret\n",
        )
        .code(1);
    assert!(run.stderr.contains("need a passphrase"), "{}", run.stderr);
    let run = env
        .run_stdin(
            &[
                "add",
                "--exchange",
                "other",
                "--label",
                "u",
                "--api-key",
                "abc",
                "--secret-stdin",
                "--base-url",
                "http://example.com",
            ],
            "s\n",
        )
        .code(1);
    assert!(run.stderr.contains("base URL"), "{}", run.stderr);
    env.run_stdin(
        &[
            "add",
            "--exchange",
            "other",
            "--label",
            "sim",
            "--api-key",
            "abc",
            "--secret-stdin",
            "--base-url",
            "http://127.0.0.1:8080",
        ],
        "s\n",
    )
    .ok();
    let run = env.add_binance("sim", "dup").code(1);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    let run = env.add_binance("bad\u{7}label", "x").code(1);
    assert!(run.stderr.contains("control characters"));
    // No secret source.
    env.run(&[
        "add",
        "--exchange",
        "other",
        "--label",
        "n",
        "--api-key",
        "abc",
    ])
    .code(1);
    // No password available and no terminal: locked.
    let mut cmd = env.command();
    cmd.env_remove("KEYWARD_PASSWORD").arg("list");
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    // Not found.
    env.run(&["show", "nope"]).code(7);
    env.run(&["edit", "nope", "--notes", "x"]).code(7);
}

#[test]
fn weak_kdf_warns_and_too_weak_is_refused() {
    let env = Env::new();
    let run = env.run(&[
        "init",
        "--kdf-memory-mib",
        "19",
        "--kdf-iterations",
        "2",
        "--kdf-parallelism",
        "1",
    ]);
    let run = run.ok();
    assert!(run.stderr.contains("warning:"), "{}", run.stderr);
    let env = Env::new();
    env.run(&["init", "--kdf-memory-mib", "8"]).code(1);
    assert!(!env.vault().exists());
    env.run(&["init", "--kdf-iterations", "1"]).code(1);
}

#[test]
fn passwd_rotates_the_vault_key_and_kdf_only_rises() {
    let env = Env::init();
    env.add_binance("main", "s").ok();
    let sealed = |env: &Env| -> Vec<u8> {
        rusqlite::Connection::open(env.vault())
            .unwrap()
            .query_row("SELECT secret FROM keys", [], |r| r.get(0))
            .unwrap()
    };
    let before = sealed(&env);
    let run = env
        .run_env(
            &["passwd"],
            &[("KEYWARD_NEW_PASSWORD", "violet kettle orbit anchor 2")],
        )
        .ok();
    assert!(run.stdout.contains("new vault key"), "{}", run.stdout);
    assert_ne!(sealed(&env), before, "the secret is sealed under a new key");
    env.run(&["list"]).code(3);
    let run = env
        .run_env(
            &["list"],
            &[("KEYWARD_PASSWORD", "violet kettle orbit anchor 2")],
        )
        .ok();
    assert!(run.stdout.contains("main"));
    let with_new = [("KEYWARD_PASSWORD", "violet kettle orbit anchor 2")];
    env.run_env(&["kdf", "--memory-mib", "8"], &with_new)
        .code(1);
    env.run_env(&["kdf", "--iterations", "3"], &with_new).ok();
    let run = env.run_env(&["kdf"], &with_new).ok();
    assert!(run.stdout.contains("19 MiB, 3 passes"), "{}", run.stdout);
    env.run_env(&["check"], &with_new).ok();
}

#[test]
fn settings_round_trip() {
    let env = Env::init();
    let v: serde_json::Value =
        serde_json::from_str(&env.run(&["settings", "--json"]).ok().stdout).unwrap();
    assert_eq!(v["auto_lock_minutes"], 5);
    assert_eq!(v["clipboard_clear_seconds"], 20);
    assert_eq!(v["default_rotation_days"], 90);
    assert_eq!(v["step_up_window_seconds"], 0);
    env.run(&[
        "settings",
        "--auto-lock-minutes",
        "15",
        "--default-rotation-days",
        "30",
    ])
    .ok();
    let v: serde_json::Value =
        serde_json::from_str(&env.run(&["settings", "--json"]).ok().stdout).unwrap();
    assert_eq!(v["auto_lock_minutes"], 15);
    assert_eq!(v["default_rotation_days"], 30);
    env.run(&["settings", "--auto-lock-minutes", "0"]).code(1);
}

#[test]
fn export_import_round_trip_reports_conflicts() {
    let env = Env::init();
    env.add_binance("a", "secret-a").ok();
    env.add_binance("b", "secret-b").ok();
    let backup = env.path("backup.kwb");
    let backup_s = backup.to_str().unwrap();
    let pp = [("KEYWARD_BACKUP_PASSPHRASE", "backup pass")];
    let run = env.run_env(&["export", "--out", backup_s], &pp).ok();
    assert!(run.stdout.contains("exported 2 keys"));
    // Refuses to overwrite.
    env.run_env(&["export", "--out", backup_s], &pp).code(1);

    let other = Env::init();
    other.add_binance("b", "different").ok();
    let run = other.run_env(&["import", backup_s, "--json"], &pp).ok();
    let r: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(r["added"], serde_json::json!(["a"]));
    assert_eq!(r["conflicts"], serde_json::json!(["b"]));
    let run = other.run_env(&["import", backup_s, "--replace"], &pp).ok();
    assert!(run.stdout.contains("replaced b"), "{}", run.stdout);
    assert!(run.stdout.contains("replaced a"), "{}", run.stdout);
    other.run(&["check"]).ok();
    // Wrong passphrase: exit 3; damaged backup: exit 5.
    other
        .run_env(
            &["import", backup_s],
            &[("KEYWARD_BACKUP_PASSPHRASE", "nope")],
        )
        .code(3);
    let mut bytes = std::fs::read(&backup).unwrap();
    let n = bytes.len();
    bytes.truncate(n / 2);
    let cut = env.path("cut.kwb");
    std::fs::write(&cut, &bytes).unwrap();
    other
        .run_env(&["import", cut.to_str().unwrap()], &pp)
        .code(3);
    std::fs::write(&cut, b"garbage").unwrap();
    other
        .run_env(&["import", cut.to_str().unwrap()], &pp)
        .code(5);
    // Nothing changed by failed imports.
    let v: serde_json::Value =
        serde_json::from_str(&other.run(&["list", "--json"]).ok().stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    let _ = PASSWORD;
}

/// A test-only P-256 key (SEC1 PEM), as a Coinbase CDP key file holds it.
const TEST_EC_PEM: &str = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIE8gk5Wnmmh8+Ukx1kvEE4ZIe3105qOXuueJ+F6WVZrYoAoGCCqGSM49\nAwEHoUQDQgAEuQlVykBRw0zZMO2F7QCT/3Qz72It7DMRfpx74gp/7fON5DwIaZnS\nmttt0nblNOE2b4G4bZndutUR0Rl2/zz4sw==\n-----END EC PRIVATE KEY-----\n";

#[test]
fn secret_file_for_pem_keys() {
    let env = Env::init();
    let pem = env.path("key.pem");
    std::fs::write(&pem, TEST_EC_PEM).unwrap();
    env.run(&[
        "add",
        "--exchange",
        "coinbase",
        "--label",
        "cdp",
        "--api-key",
        "organizations/1f2e-aa/apiKeys/9b1c-77",
        "--key-type",
        "ecdsa_jwt",
        "--secret-file",
        pem.to_str().unwrap(),
    ])
    .ok();
    let d: serde_json::Value =
        serde_json::from_str(&env.run(&["show", "cdp", "--json"]).ok().stdout).unwrap();
    assert_eq!(d["key_type"], "ecdsa_jwt");
    env.run(&["check"]).ok();
}

/// A Coinbase CDP key is added as the exchange hands it over: the
/// downloaded JSON file (its key name and its PEM with literal "\n"), with
/// the key type recognised; a secret that cannot be the declared type is
/// refused at add.
#[test]
fn a_coinbase_key_file_is_added_as_downloaded() {
    let env = Env::init();
    let file = env.path("cdp_api_key.json");
    let json = serde_json::json!({
        "name": "organizations/1f2e-aa/apiKeys/9b1c-78",
        "privateKey": TEST_EC_PEM,
    })
    .to_string();
    assert!(json.contains("\\n"));
    std::fs::write(&file, json).unwrap();
    env.run(&[
        "add",
        "--exchange",
        "coinbase",
        "--label",
        "cdp-file",
        "--secret-file",
        file.to_str().unwrap(),
    ])
    .ok();
    let d: serde_json::Value =
        serde_json::from_str(&env.run(&["show", "cdp-file", "--json"]).ok().stdout).unwrap();
    assert_eq!(d["key_type"], "ecdsa_jwt");
    assert_eq!(d["api_key_id"], "organizations/1f2e-aa/apiKeys/9b1c-78");
    // A truncated PEM declared as ECDSA: refused now, not at the first check.
    let bad = env.path("bad.pem");
    std::fs::write(
        &bad,
        "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg\n-----END EC PRIVATE KEY-----\n",
    )
    .unwrap();
    let run = env.run(&[
        "add",
        "--exchange",
        "coinbase",
        "--label",
        "cdp-bad",
        "--api-key",
        "organizations/1f2e-aa/apiKeys/9b1c-79",
        "--key-type",
        "ecdsa_jwt",
        "--secret-file",
        bad.to_str().unwrap(),
    ]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("EC P-256"), "{}", run.stderr);
    assert!(!run.stderr.contains("MHcCAQEEIBkg"));
}

/// The master-password minimum is the core's, so the CLI refuses what the
/// GUI refuses, with the same message, on `init` and on `passwd`.
#[test]
fn init_and_passwd_refuse_a_weak_master_password() {
    let env = Env::new();
    for weak in ["a", "password", "123456"] {
        let run = env
            .run_env(
                &["init", "--kdf-memory-mib", "19", "--kdf-iterations", "2"],
                &[("KEYWARD_PASSWORD", weak)],
            )
            .code(1);
        assert!(
            run.stderr.contains("the master password is too weak"),
            "{weak:?}: {}",
            run.stderr
        );
        assert!(!env.vault().exists(), "{weak:?}: nothing created");
    }
    let env = Env::init();
    let run = env
        .run_env(&["passwd"], &[("KEYWARD_NEW_PASSWORD", "password")])
        .code(1);
    assert!(
        run.stderr.contains("the master password is too weak"),
        "{}",
        run.stderr
    );
    env.run(&["list"]).ok();
}
