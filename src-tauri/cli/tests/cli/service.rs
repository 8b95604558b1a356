use crate::support::Env;

fn services(env: &Env, label: &str) -> serde_json::Value {
    let run = env.run(&["service", "list", label, "--json"]).ok();
    serde_json::from_str(&run.stdout).unwrap()
}

#[test]
fn add_check_edit_remove_through_the_cli() {
    let env = Env::init();
    env.add_binance("main", "s3cret").ok();
    env.run(&[
        "service",
        "add",
        "main",
        "3commas",
        "--kind",
        "platform",
        "--host",
        "API.3commas.io",
        "--notes",
        "DCA bots",
    ])
    .ok();
    env.run(&["service", "add", "main", "grid bot", "--kind", "own-bot"])
        .ok();

    let check = env
        .run(&["service", "check", "main", "3COMMAS", "reputation"])
        .ok();
    assert!(check.stdout.contains("[x] reputation"), "{}", check.stdout);
    assert!(check.stdout.contains("UTC"), "the date is shown");
    env.run(&["service", "check", "main", "3commas", "key-storage-docs"])
        .ok();

    let v = services(&env, "main");
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[0]["name"], "3commas");
    assert_eq!(v[0]["kind"], "third_party_platform");
    assert_eq!(v[0]["host"], "api.3commas.io");
    assert_eq!(v[0]["notes"], "DCA bots");
    let checklist = v[0]["checklist"].as_array().unwrap();
    assert_eq!(checklist.len(), 5);
    let checked: Vec<&str> = checklist
        .iter()
        .filter(|e| e["checked_at"].is_i64())
        .map(|e| e["item"].as_str().unwrap())
        .collect();
    assert_eq!(checked, ["key_storage_docs", "reputation"]);
    assert_eq!(v[1]["kind"], "own_bot");
    assert!(v[1]["host"].is_null());

    // show: kind, host and checklist progress.
    let show = env.run(&["show", "main"]).ok();
    assert!(
        show.stdout
            .contains("3commas (third-party platform, api.3commas.io, checklist 2/5)"),
        "{}",
        show.stdout
    );
    assert!(show.stdout.contains("grid bot (own bot, checklist 0/5)"));
    // health: the platform's checklist is incomplete, the own bot is not flagged.
    let health = env.run(&["health", "--json"]).ok();
    let h: serde_json::Value = serde_json::from_str(&health.stdout).unwrap();
    let vendor: Vec<&serde_json::Value> = h["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "vendor_checklist_incomplete")
        .collect();
    assert_eq!(vendor.len(), 1);
    assert!(
        vendor[0]["why"]
            .as_str()
            .unwrap()
            .contains("3commas (2 of 5")
    );
    assert!(!vendor[0]["why"].as_str().unwrap().contains("grid bot"));

    env.run(&[
        "service",
        "check",
        "main",
        "3commas",
        "reputation",
        "--uncheck",
    ])
    .ok();
    env.run(&[
        "service",
        "edit",
        "main",
        "grid bot",
        "--new-name",
        "grid runner",
        "--kind",
        "script",
        "--host",
        "10.0.0.5",
    ])
    .ok();
    let v = services(&env, "main");
    assert!(v[0]["checklist"][1]["checked_at"].is_null(), "unchecked");
    assert!(v[0]["checklist"][0]["checked_at"].is_i64(), "others kept");
    assert_eq!(v[1]["name"], "grid runner");
    assert_eq!(v[1]["kind"], "script");
    assert_eq!(v[1]["host"], "10.0.0.5");

    env.run(&["service", "remove", "main", "Grid Runner"]).ok();
    assert_eq!(services(&env, "main").as_array().unwrap().len(), 1);

    // Every change is in the log, without host or notes.
    let log = env.run(&["log", "--action", "service_changed"]).ok();
    assert_eq!(log.stdout.lines().count(), 7, "{}", log.stdout);
    assert!(
        log.stdout.contains("Linked 3commas to key main"),
        "{}",
        log.stdout
    );
    assert!(!log.stdout.contains("api.3commas.io") && !log.stdout.contains("DCA bots"));
}

#[test]
fn bad_input_gets_a_specific_error_and_exit_code() {
    let env = Env::init();
    env.add_binance("main", "s3cret").ok();
    env.run(&["service", "add", "main", "bot", "--kind", "own-bot"])
        .ok();

    let dup = env
        .run(&["service", "add", "main", "BOT", "--kind", "script"])
        .code(1);
    assert!(
        dup.stderr.contains("already has a service named"),
        "{}",
        dup.stderr
    );
    let host = env
        .run(&[
            "service",
            "add",
            "main",
            "web",
            "--kind",
            "platform",
            "--host",
            "https://x.io",
        ])
        .code(1);
    assert!(
        host.stderr.contains("not a hostname or IP address"),
        "{}",
        host.stderr
    );
    let long = "n".repeat(65);
    let name = env
        .run(&["service", "add", "main", &long, "--kind", "script"])
        .code(1);
    assert!(name.stderr.contains("longer than 64"), "{}", name.stderr);
    let item = env
        .run(&["service", "check", "main", "bot", "vibes"])
        .code(1);
    assert!(
        item.stderr.contains("unknown checklist item"),
        "{}",
        item.stderr
    );
    let kind = env
        .run(&["service", "add", "main", "x", "--kind", "cloud"])
        .code(2);
    assert!(kind.stderr.contains("invalid value"), "{}", kind.stderr);
    let missing = env.run(&["service", "remove", "main", "nobody"]).code(7);
    assert!(
        missing.stderr.contains("no linked service named"),
        "{}",
        missing.stderr
    );
    env.run(&["service", "list", "ghost"]).code(7);
    env.run(&["service", "edit", "main", "bot"]).code(1);

    // Nothing of the refused commands was written.
    let v = services(&env, "main");
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["name"], "bot");
    let log = env.run(&["log", "--action", "service_changed"]).ok();
    assert_eq!(log.stdout.lines().count(), 1, "{}", log.stdout);
}

#[test]
fn used_by_keeps_working_and_keeps_records() {
    let env = Env::init();
    env.run_stdin(
        &[
            "add",
            "--exchange",
            "binance",
            "--label",
            "main",
            "--api-key",
            crate::support::BINANCE_KEY,
            "--secret-stdin",
            "--used-by",
            "grid bot",
            "--used-by",
            "tax tool",
        ],
        "s3cret\n",
    )
    .ok();
    let v = services(&env, "main");
    assert_eq!(v[0]["name"], "grid bot");
    assert_eq!(v[0]["kind"], "unspecified");
    assert_eq!(v[1]["name"], "tax tool");

    env.run(&["service", "edit", "main", "grid bot", "--kind", "own-bot"])
        .ok();
    env.run(&[
        "edit",
        "main",
        "--used-by",
        "Grid Bot",
        "--used-by",
        "new one",
    ])
    .ok();
    let v = services(&env, "main");
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[0]["name"], "grid bot", "the recorded service is kept");
    assert_eq!(v[0]["kind"], "own_bot");
    assert_eq!(v[1]["name"], "new one");
    assert_eq!(v[1]["kind"], "unspecified");
    let list = env.run(&["list", "--search", "new one"]).ok();
    assert!(list.stdout.contains("main"));
    env.run(&["edit", "main", "--clear-used-by"]).ok();
    assert!(services(&env, "main").as_array().unwrap().is_empty());
    let none = env.run(&["service", "list", "main"]).ok();
    assert!(none.stdout.contains("no linked services"));
}
