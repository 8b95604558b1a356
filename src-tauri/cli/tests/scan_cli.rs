//! `keyward scan`, `keyward import-env` and `keyward run` end to end, against
//! real vault files, real git repositories and real child processes.
//!
//! Every test also checks the canary: no secret value appears on stdout or
//! stderr.

#[allow(dead_code)]
#[path = "cli/support.rs"]
mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::{BINANCE_KEY, Env, Run};

const BINANCE_SECRET: &str = "pLantedBinanceSecret0123456789abcdefXYZ";
const OKX_KEY: &str = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";
const OKX_SECRET: &str = "PlantedOkxSecretAAAA1111BBBB2222";
const OKX_PASSPHRASE: &str = "Pl4ntedOkxPassphrase";

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/data/scan")
}

fn no_canary(run: &Run, values: &[&str]) {
    for v in values {
        assert!(!run.stdout.contains(v), "value leaked to stdout");
        assert!(!run.stderr.contains(v), "value leaked to stderr");
    }
}

fn vault_with_keys() -> Env {
    let env = Env::init();
    env.add_binance("binance-main", BINANCE_SECRET).ok();
    env.run_stdin(
        &[
            "add",
            "--exchange",
            "okx",
            "--label",
            "okx-bot",
            "--api-key",
            OKX_KEY,
            "--secret-stdin",
        ],
        &format!("{OKX_SECRET}\n{OKX_PASSPHRASE}\n"),
    )
    .ok();
    env
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap()
}

fn findings(run: &Run) -> Vec<serde_json::Value> {
    json(run)["findings"].as_array().unwrap().clone()
}

#[test]
fn planted_keys_are_found_in_files_deleted_history_other_branches_and_packs() {
    let env = vault_with_keys();
    let repo = env.path("repo");
    fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q"]);
    fs::write(repo.join("README.md"), "a bot\n").unwrap();
    // A file that is committed, then deleted.
    fs::write(
        repo.join("old.env"),
        format!("# keys\nBINANCE_SECRET={BINANCE_SECRET}\n"),
    )
    .unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "first"]);
    git(&repo, &["rm", "-q", "old.env"]);
    git(&repo, &["commit", "-q", "-m", "remove keys"]);
    // Another branch holds the OKX passphrase.
    git(&repo, &["checkout", "-q", "-b", "feature"]);
    fs::write(
        repo.join("conf.yaml"),
        format!("x: 1\npassphrase: {OKX_PASSPHRASE}\n"),
    )
    .unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "feature"]);
    git(&repo, &["checkout", "-q", "main"]);
    // A stash holds the OKX key id.
    fs::write(repo.join("README.md"), format!("a bot\nkey {OKX_KEY}\n")).unwrap();
    git(&repo, &["stash", "-q"]);
    // The work tree holds the OKX secret in an untracked file.
    fs::write(repo.join("notes.txt"), format!("\n\n{OKX_SECRET}\n")).unwrap();
    // Everything packed.
    git(&repo, &["gc", "-q", "--prune=now"]);
    let loose: Vec<_> = fs::read_dir(repo.join(".git/objects"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().len() == 2)
        .collect();
    assert!(loose.is_empty(), "objects should all be packed");

    let repo_s = repo.to_str().unwrap();
    let run = env.run(&["scan", "--history", "--json", repo_s]).code(8);
    no_canary(&run, &[BINANCE_SECRET, OKX_SECRET, OKX_PASSPHRASE, OKX_KEY]);
    let f = findings(&run);
    let has = |label: &str, part: &str, path: &str, history: bool| {
        f.iter().any(|x| {
            x["label"] == label
                && x["part"] == part
                && x["path"].as_str().unwrap().ends_with(path)
                && x.get("commit").is_some() == history
        })
    };
    assert!(has("okx-bot", "secret", "notes.txt", false), "{f:#?}");
    assert!(has("binance-main", "secret", "old.env", true), "{f:#?}");
    assert!(has("okx-bot", "passphrase", "conf.yaml", true), "{f:#?}");
    assert!(has("okx-bot", "key_id", "README.md", true), "{f:#?}");
    let branch = f.iter().find(|x| x["part"] == "passphrase").unwrap();
    assert_eq!(branch["ref"], "refs/heads/feature");
    assert_eq!(branch["line"], 2);
    let stash = f.iter().find(|x| x["part"] == "key_id").unwrap();
    assert_eq!(stash["ref"], "refs/stash");
    let deleted = f.iter().find(|x| x["label"] == "binance-main").unwrap();
    assert_eq!(deleted["line"], 2);
    assert!(deleted["ref"].as_str().unwrap().starts_with("refs/heads/"));
    // Each value is reported without its text.
    assert!(!run.stdout.contains("pLanted"));

    // Human output names label and part, and a scan without --history finds
    // only the work tree.
    let run = env.run(&["scan", repo_s]).code(8);
    no_canary(&run, &[BINANCE_SECRET, OKX_SECRET, OKX_PASSPHRASE, OKX_KEY]);
    assert!(
        run.stdout.contains("vault key \"okx-bot\" (secret)"),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
}

#[test]
fn history_of_a_folder_of_repositories_scans_each_one() {
    let env = vault_with_keys();
    let bots = env.path("bots");
    let alpha = bots.join("alpha");
    let beta = bots.join("team").join("beta");
    for repo in [&alpha, &beta] {
        fs::create_dir_all(repo).unwrap();
        git(repo, &["init", "-q"]);
        fs::write(repo.join("README.md"), "a bot\n").unwrap();
        git(repo, &["add", "."]);
        git(repo, &["commit", "-q", "-m", "first"]);
    }
    // Only beta's history holds the secret: committed, then removed.
    fs::write(
        beta.join("old.env"),
        format!("BINANCE_SECRET={BINANCE_SECRET}\n"),
    )
    .unwrap();
    git(&beta, &["add", "."]);
    git(&beta, &["commit", "-q", "-m", "keys"]);
    git(&beta, &["rm", "-q", "old.env"]);
    git(&beta, &["commit", "-q", "-m", "no keys"]);
    let bots_s = bots.to_str().unwrap();

    env.run(&["scan", bots_s]).ok();
    let run = env.run(&["scan", "--history", "--json", bots_s]).code(8);
    no_canary(&run, &[BINANCE_SECRET]);
    let report = json(&run);
    let repos: Vec<&str> = report["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(
        repos,
        [alpha.to_str().unwrap(), beta.to_str().unwrap()],
        "{report:#}"
    );
    let f = findings(&run);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0]["label"], "binance-main");
    assert_eq!(f[0]["repository"], beta.to_str().unwrap());
    assert_eq!(f[0]["path"], "old.env");

    let run = env.run(&["scan", "--history", bots_s]).code(8);
    for repo in [&alpha, &beta] {
        assert!(
            run.stderr
                .contains(&format!("history scanned: {}", repo.display())),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn file_and_history_findings_are_located_the_same_way() {
    let env = vault_with_keys();
    let bots = env.path("bots");
    let beta = bots.join("team").join("beta");
    fs::create_dir_all(&beta).unwrap();
    git(&beta, &["init", "-q"]);
    // History: committed on main, then removed.
    fs::write(
        beta.join("old.env"),
        format!("# keys\nBINANCE_SECRET={BINANCE_SECRET}\n"),
    )
    .unwrap();
    git(&beta, &["add", "."]);
    git(&beta, &["commit", "-q", "-m", "keys"]);
    git(&beta, &["rm", "-q", "old.env"]);
    git(&beta, &["commit", "-q", "-m", "no keys"]);
    // Work tree: an untracked file.
    fs::write(beta.join("notes.txt"), format!("\n\n{OKX_SECRET}\n")).unwrap();
    let bots_s = bots.to_str().unwrap();

    let run = env.run(&["scan", "--history", "--json", bots_s]).code(8);
    no_canary(&run, &[BINANCE_SECRET, OKX_SECRET]);
    let f = findings(&run);
    let history = f.iter().find(|x| x["label"] == "binance-main").unwrap();
    let commit = history["commit"].as_str().unwrap();
    let history_place = format!("team/beta/old.env:2 in commit {} (main)", &commit[..10]);
    assert_eq!(history["location"], history_place.as_str(), "{f:#?}");
    let file = f.iter().find(|x| x["label"] == "okx-bot").unwrap();
    assert_eq!(file["location"], "team/beta/notes.txt:3", "{f:#?}");

    // The human output shows the same locations.
    let run = env.run(&["scan", "--history", bots_s]).code(8);
    assert!(
        run.stdout.contains(&format!(
            "{history_place}: vault key \"binance-main\" (secret)"
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("team/beta/notes.txt:3: vault key \"okx-bot\" (secret)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("2 findings; scanned "),
        "{}",
        run.stderr
    );
}

/// Splits a POSIX shell command line into words (single and double quotes,
/// backslash escapes): enough to run a line the CLI printed.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

#[test]
fn the_scan_import_hint_is_a_command_that_runs() {
    assert_eq!(
        shell_words(r#"keyward import-env 'a b/it'\''s.env' "c d" e\ f"#),
        ["keyward", "import-env", "a b/it's.env", "c d", "e f"]
    );
    let env = Env::init();
    let dir = env.path("my bots");
    fs::create_dir_all(dir.join("it's")).unwrap();
    let sample = &samples()[0];
    fs::write(dir.join("it's").join(sample.name), &sample.text).unwrap();
    // A finding in a file import-env cannot read gets no hint of its own.
    fs::write(dir.join("notes.txt"), &sample.text).unwrap();

    let run = env.run(&["scan", dir.to_str().unwrap()]).code(8);
    no_canary(&run, &[BINANCE_SECRET]);
    let line = run
        .stderr
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("keyward "))
        .unwrap_or_else(|| panic!("no command in {}", run.stderr));
    let words = shell_words(line);
    assert_eq!(words[..2], ["keyward", "import-env"], "{line}");
    assert_eq!(
        words[2..],
        [dir.join("it's").join(sample.name).to_str().unwrap()],
        "{line}"
    );
    let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
    let preview = env.run(&args).ok();
    assert!(
        preview.stdout.contains("1 credential found:"),
        "{}",
        preview.stdout
    );
    assert!(
        preview.stdout.contains("(Binance, key id"),
        "{}",
        preview.stdout
    );
    let mut yes = args.clone();
    yes.push("--yes");
    let imported = env.run(&yes).ok();
    assert!(
        imported.stdout.contains("imported binance"),
        "{}",
        imported.stdout
    );
}

#[test]
fn unknown_credential_rules_fire_on_ccxt_configs() {
    let env = vault_with_keys();
    let dir = data().join("unknown");
    let run = env
        .run(&["scan", "--json", "--no-ignore", dir.to_str().unwrap()])
        .code(8);
    let f = findings(&run);
    assert!(f.iter().all(|x| x["kind"] == "unknown_credential"));
    let at = |file: &str, part: &str| {
        f.iter()
            .any(|x| x["path"].as_str().unwrap().ends_with(file) && x["part"] == part)
    };
    for (file, part) in [
        ("ccxt_config.json", "key_id"),
        ("ccxt_config.json", "secret"),
        ("bot.py", "key_id"),
        ("bot.py", "secret"),
        ("bot.py", "passphrase"),
        // A bare `key:` is no trigger (too common); the line scanner finds
        // this config by its secret and password.
        ("config.yaml", "secret"),
        ("settings.env", "key_id"),
        ("settings.env", "secret"),
        ("settings.env", "passphrase"),
        ("client.js", "key_id"),
        ("client.js", "secret"),
    ] {
        assert!(at(file, part), "{file} {part}: {f:#?}");
    }
    let okx = f
        .iter()
        .find(|x| x["name"] == "OKX_API_PASSPHRASE")
        .unwrap();
    assert_eq!(okx["exchange"], "okx");
    assert_eq!(okx["rule"], "exchange-variable");
    // The values of the unknown credentials are not printed either.
    no_canary(
        &run,
        &[
            "Kx3Lw6Mv9Nu2Ot5Ps8Qr1Rq4",
            "My0kxPassphrase",
            "Tr4d1ngPass!",
        ],
    );
}

#[test]
fn a_clean_corpus_gives_zero_findings() {
    let env = vault_with_keys();
    let dir = data().join("clean");
    let run = env
        .run(&["scan", "--json", "--no-ignore", dir.to_str().unwrap()])
        .ok();
    assert!(findings(&run).is_empty(), "{}", run.stdout);
    assert!(json(&run)["scanned"].as_u64().unwrap() >= 5);
    let run = env.run(&["scan", dir.to_str().unwrap()]).ok();
    assert!(run.stdout.is_empty());
}

#[test]
fn scan_errors_keep_their_codes() {
    let env = vault_with_keys();
    env.run(&["scan", env.path("nope").to_str().unwrap()])
        .code(7);
    let plain = env.path("plain");
    fs::create_dir(&plain).unwrap();
    env.run(&["scan", "--history", plain.to_str().unwrap()])
        .code(1);
    env.run_env(
        &["scan", plain.to_str().unwrap()],
        &[("KEYWARD_PASSWORD", "wrong")],
    )
    .code(3);
}

#[test]
fn binary_and_large_files_are_skipped_unless_asked() {
    let env = vault_with_keys();
    let dir = env.path("corpus");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("blob.bin"), format!("\0\0{BINANCE_SECRET}")).unwrap();
    fs::write(
        dir.join("big.txt"),
        format!("{}{BINANCE_SECRET}", "x".repeat(5000)),
    )
    .unwrap();
    let d = dir.to_str().unwrap();
    env.run(&["scan", "--max-file-size", "1000", d]).ok();
    let run = env
        .run(&[
            "scan",
            "--json",
            "--include-binary",
            "--max-file-size",
            "10000",
            d,
        ])
        .code(8);
    assert_eq!(findings(&run).len(), 2);
}

fn grant(env: &Env, label: &str) {
    env.run(&["edit", label, "--allow-run"]).ok();
}

#[test]
fn run_delivers_the_variables_to_the_child() {
    let env = vault_with_keys();
    grant(&env, "binance-main");
    grant(&env, "okx-bot");
    // The child compares against files the test wrote: no value in argv.
    fs::write(env.path("want-secret"), BINANCE_SECRET).unwrap();
    fs::write(env.path("want-pass"), OKX_PASSPHRASE).unwrap();
    let script = format!(
        "test \"$BINANCE_API_SECRET\" = \"$(cat {d}/want-secret)\" && \
         test \"$BINANCE_API_KEY\" = {BINANCE_KEY} && \
         test \"$MY_PASS\" = \"$(cat {d}/want-pass)\" && \
         test -n \"$OKX_API_SECRET\" && test -z \"$OKX_API_PASSPHRASE\" && \
         test -z \"$KEYWARD_PASSWORD\"",
        d = env.dir.path().display()
    );
    let run = env
        .run(&[
            "run",
            "--key",
            "binance-main",
            "--key",
            "okx-bot",
            "--env",
            "MY_PASS=okx-bot:passphrase",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .ok();
    no_canary(&run, &[BINANCE_SECRET, OKX_SECRET, OKX_PASSPHRASE]);
    // The exit code is passed through.
    env.run(&["run", "--key", "binance-main", "--", "sh", "-c", "exit 3"])
        .code(3);
    // Killed by a signal: 128 + signal.
    env.run(&[
        "run",
        "--key",
        "binance-main",
        "--",
        "sh",
        "-c",
        "kill -TERM $$",
    ])
    .code(143);
    // Duplicate variables are refused.
    env.run(&[
        "run",
        "--key",
        "binance-main",
        "--env",
        "X=secret",
        "--env",
        "X=key_id",
        "--",
        "true",
    ])
    .code(1);
}

#[test]
fn run_refuses_a_key_without_the_grant() {
    let env = vault_with_keys();
    grant(&env, "binance-main");
    let marker = env.path("started");
    let cmd = format!("touch {}", marker.display());
    let run = env
        .run(&[
            "run",
            "--key",
            "binance-main",
            "--key",
            "okx-bot",
            "--",
            "sh",
            "-c",
            &cmd,
        ])
        .code(4);
    assert!(run.stderr.contains("allow run"), "{}", run.stderr);
    assert!(!marker.exists(), "the command must not start");
    // Withdrawn grant: refused again.
    env.run(&["run", "--key", "okx-bot", "--", "true"]).code(4);
    env.run(&["run", "--key", "missing", "--", "true"]).code(7);
}

#[test]
fn run_forwards_sigterm_to_the_child() {
    let env = vault_with_keys();
    grant(&env, "binance-main");
    let ready = env.path("ready");
    let script = format!(
        "trap 'exit 42' TERM; touch {}; while :; do sleep 0.05; done",
        ready.display()
    );
    let mut child = env
        .command()
        .args(["run", "--key", "binance-main", "--", "sh", "-c", &script])
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !ready.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "child never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(42));
}

struct Sample {
    name: &'static str,
    text: String,
    label: &'static str,
}

fn samples() -> Vec<Sample> {
    let kucoin_key = "65a1b2c3d4e5f60718293a4b";
    vec![
        Sample {
            name: "bot.env",
            text: format!(
                "# bot\nexport BINANCE_API_KEY={BINANCE_KEY}\nBINANCE_SECRET=\"{BINANCE_SECRET}\"\nLOG_LEVEL=info\n"
            ),
            label: "t-binance",
        },
        Sample {
            name: "ccxt.json",
            text: format!(
                "{{\n  \"exchanges\": {{\n    \"okx\": {{\n      \"apiKey\": \"{OKX_KEY}\",\n      \"secret\": \"{OKX_SECRET}\",\n      \"password\": \"{OKX_PASSPHRASE}\"\n    }}\n  }},\n  \"symbols\": [\"BTC/USDT\"]\n}}\n"
            ),
            label: "t-okx",
        },
        Sample {
            name: "freqtrade.yaml",
            text: format!(
                "exchange:\n  name: kucoin\n  key: {kucoin_key}\n  secret: KucoinSecret0123456789abcdef\n  password: \"KuPass123\"\nstake_currency: USDT\n"
            ),
            label: "t-kucoin",
        },
        Sample {
            name: "bot.toml",
            text: "[exchange.bybit]\napi_key = \"BybitKey0123456789\"\napi_secret = \"BybitSecret0123456789abcdefghij\"\n\n[strategy]\nname = \"grid\"\n".into(),
            label: "t-bybit",
        },
    ]
}

#[test]
fn import_round_trip_for_each_format() {
    let env = Env::init();
    for s in samples() {
        let file = env.path(s.name);
        fs::write(&file, &s.text).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o640)).unwrap();
        let f = file.to_str().unwrap();
        // A preview without --yes imports nothing and changes nothing.
        let run = env.run(&["import-env", "--label-prefix", "t-", f]).ok();
        assert!(run.stdout.contains(s.label), "{}: {}", s.name, run.stdout);
        assert_eq!(fs::read_to_string(&file).unwrap(), s.text);
        // Import and rewrite.
        let run = env
            .run(&[
                "import-env",
                "--yes",
                "--rewrite",
                "--label-prefix",
                "t-",
                f,
            ])
            .ok();
        assert!(
            run.stdout.contains(&format!("imported {}", s.label)),
            "{}: {}",
            s.name,
            run.stdout
        );
        assert!(run.stdout.contains("keyward run --key"), "{}", run.stdout);
        let rewritten = fs::read_to_string(&file).unwrap();
        let backup = fs::read_to_string(format!("{f}.keyward-backup")).unwrap();
        assert_eq!(backup, s.text, "backup keeps the original");
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o640,
            "permissions preserved"
        );
        for v in [
            BINANCE_SECRET,
            OKX_SECRET,
            OKX_PASSPHRASE,
            OKX_KEY,
            BINANCE_KEY,
            "KucoinSecret0123456789abcdef",
            "BybitSecret0123456789abcdefghij",
        ] {
            assert!(!rewritten.contains(v), "{}: value left in the file", s.name);
            assert!(
                !run.stdout.contains(v) && !run.stderr.contains(v),
                "{}: value printed",
                s.name
            );
        }
        assert!(
            rewritten.contains("exchange") || rewritten.contains("BINANCE"),
            "structure kept"
        );
        // The rewritten file holds no vault value any more.
        env.run(&["scan", "--no-unknown", f]).ok();
        env.run(&["scan", "--no-unknown", &format!("{f}.keyward-backup")])
            .code(8);
    }
    let list = env.run(&["list", "--json"]).ok();
    for s in samples() {
        assert!(list.stdout.contains(s.label), "{}", list.stdout);
    }
    // The .env run line maps the file's own variable names.
    let run = env
        .run(&[
            "import-env",
            "--json",
            "--label-prefix",
            "u-",
            env.path("bot.env.keyward-backup").to_str().unwrap(),
        ])
        .code(1);
    assert!(run.stderr.contains("unsupported format"), "{}", run.stderr);
}

#[test]
fn import_run_line_maps_env_names() {
    let env = Env::init();
    let file = env.path(".env");
    fs::write(
        &file,
        format!("BINANCE_APIKEY={BINANCE_KEY}\nBINANCE_SECRET={BINANCE_SECRET}\n"),
    )
    .unwrap();
    let run = env
        .run(&["import-env", "--yes", "--json", file.to_str().unwrap()])
        .ok();
    let v = json(&run);
    let line = v["run"].as_str().unwrap();
    assert!(
        line.contains("--env BINANCE_APIKEY=binance:key_id"),
        "{line}"
    );
    assert!(
        line.contains("--env BINANCE_SECRET=binance:secret"),
        "{line}"
    );
    assert_eq!(v["candidates"][0]["key_id_masked"], "vmPU…Eh8A");
    // Without --rewrite the file is left alone.
    assert!(fs::read_to_string(&file).unwrap().contains(BINANCE_SECRET));
    no_canary(&run, &[BINANCE_SECRET]);
}

#[test]
fn malformed_configs_give_a_clear_error_and_stay_untouched() {
    let env = Env::init();
    for name in ["broken.json", "broken.yaml", "broken.toml", "broken.env"] {
        let src = data().join("malformed").join(name);
        let file = env.path(name);
        fs::copy(&src, &file).unwrap();
        let before = fs::read(&file).unwrap();
        let run = env
            .run(&["import-env", "--yes", "--rewrite", file.to_str().unwrap()])
            .code(1);
        assert!(run.stderr.contains("malformed"), "{name}: {}", run.stderr);
        assert!(
            run.stderr.contains("not modified"),
            "{name}: {}",
            run.stderr
        );
        assert_eq!(fs::read(&file).unwrap(), before, "{name} changed");
        assert!(!env.path(&format!("{name}.keyward-backup")).exists());
        // The parser's own message (which may quote the line) is not shown.
        assert!(
            !run.stderr.contains("def ghi") && !run.stderr.contains("unterminated\n"),
            "{}",
            run.stderr
        );
    }
}
