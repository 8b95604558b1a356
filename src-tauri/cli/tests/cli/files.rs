//! Files and output, each test named after the attack it stops: the data
//! directory 0700 and the vault, its WAL and SHM, reports and exports 0600
//! under `umask 000`; `incident report --out` and `export --out` never
//! through a symbolic link or over a file without `--force`; `log --verify`
//! exit 5 until a truncation's finding is acknowledged; labels with bidi
//! overrides refused; terminal escapes and Markdown links an exchange sends
//! shown inert; oversized secrets on stdin or in a file refused.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use keyward_sim::{
    Accounts, ActivityItem, ActivityKind, KeyAccount, SimExchange, SimHandle, SimScope,
};
use serde_json::Value;

use crate::support::{Env, Run};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// `keyward ARGS` under `umask 000`, so any file created without an
/// explicit mode would be world-readable.
fn umask_000(env: &Env, args: &[&str]) -> Command {
    let base = env.command();
    let mut sh = Command::new("sh");
    sh.args(["-c", "umask 000; exec \"$0\" \"$@\"", crate::support::bin()])
        .args(args)
        .env_clear();
    for (k, v) in base.get_envs() {
        if let Some(v) = v {
            sh.env(k, v);
        }
    }
    sh.env("KEYWARD_BACKUP_PASSPHRASE", "backup passphrase 1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    sh
}

fn run(mut cmd: Command) -> Run {
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn init_args(vault: &Path) -> Vec<String> {
    [
        "--vault",
        vault.to_str().unwrap(),
        "init",
        "--kdf-memory-mib",
        "19",
        "--kdf-iterations",
        "2",
        "--kdf-parallelism",
        "1",
    ]
    .map(str::to_owned)
    .to_vec()
}

fn as_strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Opens an incident about `label` (no network) and returns its id.
fn open_incident(env: &Env, label: &str) -> String {
    let run = env
        .run(&[
            "incident",
            "open",
            "--situation",
            "leaked",
            "--key",
            label,
            "--json",
        ])
        .ok();
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    v["id"].as_str().unwrap().to_owned()
}

#[test]
fn vault_files_are_0600_under_umask_000() {
    let env = Env::new();
    let vault = env.path("fresh/data/vault.keyward");
    run(umask_000(&env, &as_strs(&init_args(&vault)))).ok();
    assert_eq!(mode(vault.parent().unwrap()), 0o700, "data directory");
    assert_eq!(mode(&vault), 0o600, "vault");

    // The WAL and SHM exist while a command has the vault open: `add`
    // unlocks (a write) and then waits for the secret on stdin.
    let mut cmd = umask_000(
        &env,
        &[
            "--vault",
            vault.to_str().unwrap(),
            "add",
            "--exchange",
            "binance",
            "--label",
            "a",
            "--api-key",
            crate::support::BINANCE_KEY,
            "--secret-stdin",
        ],
    );
    let mut child = cmd.stdin(Stdio::piped()).spawn().unwrap();
    let [wal, shm] = ["-wal", "-shm"].map(|s| {
        let mut p = vault.clone().into_os_string();
        p.push(s);
        std::path::PathBuf::from(p)
    });
    // Waits for a state, not for a time: the files appear once the unlock
    // has run; the child is blocked on stdin until we write.
    while !(wal.exists() && shm.exists()) {
        assert!(child.try_wait().unwrap().is_none(), "add exited early");
        std::thread::yield_now();
    }
    assert_eq!(mode(&wal), 0o600, "WAL");
    assert_eq!(mode(&shm), 0o600, "SHM");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"secret-a\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&vault), 0o600);

    // Reports and exports too.
    let v = vault.to_str().unwrap();
    let opened = run(umask_000(
        &env,
        &[
            "--vault",
            v,
            "incident",
            "open",
            "--situation",
            "leaked",
            "--key",
            "a",
            "--json",
        ],
    ))
    .ok();
    let view: Value = serde_json::from_str(&opened.stdout).unwrap();
    let id = view["id"].as_str().unwrap().to_owned();
    let report = env.path("report.md");
    let backup = env.path("backup.kwb");
    run(umask_000(
        &env,
        &[
            "--vault",
            v,
            "incident",
            "report",
            &id,
            "--format",
            "md",
            "--out",
            report.to_str().unwrap(),
        ],
    ))
    .ok();
    run(umask_000(
        &env,
        &["--vault", v, "export", "--out", backup.to_str().unwrap()],
    ))
    .ok();
    assert_eq!(mode(&report), 0o600, "report");
    assert_eq!(mode(&backup), 0o600, "backup");
}

#[test]
fn report_out_refuses_symlink() {
    let env = Env::init();
    env.add_binance("a", "secret-a").ok();
    let id = open_incident(&env, "a");
    let victim = env.path("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();
    let link = env.path("report.md");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let dangling = env.path("dangling.md");
    std::os::unix::fs::symlink(env.path("created-through-link"), &dangling).unwrap();
    for out in [&link, &dangling] {
        for force in [false, true] {
            let mut args = vec![
                "incident",
                "report",
                &id,
                "--format",
                "html",
                "--out",
                out.to_str().unwrap(),
            ];
            if force {
                args.push("--force");
            }
            let run = env.run(&args).code(1);
            assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
        }
    }
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(!env.path("created-through-link").exists());
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn report_out_refuses_to_overwrite_without_force() {
    let env = Env::init();
    env.add_binance("a", "secret-a").ok();
    let id = open_incident(&env, "a");
    let out = env.path("notes.md");
    std::fs::write(&out, b"my own notes").unwrap();
    let args = [
        "incident",
        "report",
        &id,
        "--format",
        "md",
        "--out",
        out.to_str().unwrap(),
    ];
    let run = env.run(&args).code(1);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(std::fs::read(&out).unwrap(), b"my own notes");
    let mut forced = args.to_vec();
    forced.push("--force");
    env.run(&forced).ok();
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("# Incident report"), "{text}");
    assert_eq!(mode(&out), 0o600);
}

#[test]
fn export_out_refuses_symlink_and_overwrite_without_force() {
    let env = Env::init();
    env.add_binance("a", "secret-a").ok();
    let pass = [("KEYWARD_BACKUP_PASSPHRASE", "backup passphrase 1")];
    let victim = env.path("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();
    let link = env.path("backup.link");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    for force in [false, true] {
        let mut args = vec!["export", "--out", link.to_str().unwrap()];
        if force {
            args.push("--force");
        }
        let run = env.run_env(&args, &pass).code(1);
        assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    }
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    let out = env.path("backup.kwb");
    let o = out.to_str().unwrap();
    env.run_env(&["export", "--out", o], &pass).ok();
    let first = std::fs::read(&out).unwrap();
    let run = env.run_env(&["export", "--out", o], &pass).code(1);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    assert_eq!(std::fs::read(&out).unwrap(), first);
    env.run_env(&["export", "--out", o, "--force"], &pass).ok();
    assert_ne!(std::fs::read(&out).unwrap(), first);
    assert_eq!(mode(&out), 0o600);
}

#[test]
fn log_verify_keeps_exiting_5_until_the_finding_is_acknowledged() {
    let env = Env::init();
    env.add_binance("a", "secret-a").ok();
    env.add_binance("b", "secret-b").ok();
    env.run(&["log", "--verify"]).ok();
    // Nothing to acknowledge: no step-up asked, nothing written.
    let run = env.run(&["log", "--acknowledge"]).ok();
    assert!(run.stdout.contains("no unacknowledged"), "{}", run.stdout);

    // Truncate the log: the unlock records the finding, which seals over
    // the truncation, so the chain verifies from the next unlock on.
    let conn = rusqlite::Connection::open(env.vault()).unwrap();
    conn.execute(
        "DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)",
        [],
    )
    .unwrap();
    drop(conn);
    env.run(&["log", "--verify"]).code(5);
    for _ in 0..2 {
        let run = env.run(&["log", "--verify"]).code(5);
        assert!(run.stdout.contains("NOT ACKNOWLEDGED: 1"), "{}", run.stdout);
        assert!(run.stderr.contains("not acknowledged"), "{}", run.stderr);
        let json: Value =
            serde_json::from_str(&env.run(&["log", "--verify", "--json"]).code(5).stdout).unwrap();
        assert_eq!(json["problem"], Value::Null);
        assert_eq!(json["unacknowledged_findings"], 1);
    }

    // Acknowledging is gated: with MFA on, no code is exit 4.
    let run = env.run(&["mfa", "enroll", "--json"]).ok();
    let enrolment: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    let seed =
        keyward_core::mfa::TotpSeed::from_base32(enrolment["secret"].as_str().unwrap()).unwrap();
    env.run(&["mfa", "confirm", &env.code(&seed, -1)]).ok();
    env.run(&["log", "--acknowledge"]).code(4);
    env.run(&["log", "--verify"]).code(5);
    let run = env
        .run(&["log", "--acknowledge", "--totp", &env.code(&seed, 0)])
        .ok();
    assert!(
        run.stdout.contains("acknowledged 1 integrity finding\n"),
        "{}",
        run.stdout
    );
    let run = env.run(&["log", "--verify"]).ok();
    assert!(run.stdout.contains("chain intact"), "{}", run.stdout);
    let log = env
        .run(&["log", "--json", "--action", "audit_findings_acknowledged"])
        .ok();
    let entries: Value = serde_json::from_str(&log.stdout).unwrap();
    assert_eq!(entries.as_array().unwrap().len(), 1);
}

#[test]
fn label_with_bidi_override_is_refused() {
    let env = Env::init();
    for label in [
        "invoice\u{202E}gpj.exe",
        "hot\u{200B}wallet",
        "\u{2066}a\u{2069}",
    ] {
        let run = env.add_binance(label, "secret-a").code(1);
        assert!(
            run.stderr.contains("invisible formatting characters"),
            "{}",
            run.stderr
        );
    }
    let run = env.run(&["list"]).ok();
    assert!(run.stdout.contains("no keys"), "{}", run.stdout);
}

#[test]
fn oversized_secret_stdin_is_refused() {
    let env = Env::init();
    let big = "a".repeat(64 * 1024 + 1);
    let run = env
        .run_stdin(
            &[
                "add",
                "--exchange",
                "binance",
                "--label",
                "big",
                "--api-key",
                crate::support::BINANCE_KEY,
                "--secret-stdin",
            ],
            &big,
        )
        .code(1);
    assert!(
        run.stderr
            .contains("secret from stdin is larger than 64 KiB"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(&big[..64]), "the input is echoed");
    let run = env.run(&["list"]).ok();
    assert!(run.stdout.contains("no keys"), "{}", run.stdout);
}

#[test]
fn oversized_secret_file_is_refused() {
    let env = Env::init();
    let file = env.path("huge.pem");
    std::fs::write(&file, vec![b'k'; 1024 * 1024]).unwrap();
    // An endless file ends at the limit as well instead of filling memory.
    for path in [file.to_str().unwrap(), "/dev/zero"] {
        let run = env
            .run(&[
                "add",
                "--exchange",
                "binance",
                "--label",
                "big",
                "--api-key",
                crate::support::BINANCE_KEY,
                "--secret-file",
                path,
            ])
            .code(1);
        assert!(
            run.stderr.contains("secret file is larger than 64 KiB"),
            "{}",
            run.stderr
        );
    }
}

/// The simulator on its own runtime, alive as long as this value.
struct Sim {
    handle: SimHandle,
    _runtime: tokio::runtime::Runtime,
}

const BYBIT_ID: &str = "BYBITHOSTILEKEY0001";
const BYBIT_SECRET: &str = "hostile-exchange-secret";
/// What a hostile or compromised exchange answer could carry: an OSC 52
/// clipboard write, a screen clear, a title change, a right-to-left
/// override, and a Markdown image and link.
const ESCAPES: &str = "\u{1b}]52;c;cHduZWQ=\u{7}\u{1b}[2J\u{1b}]0;owned\u{7}\u{9b}31m";
const BIDI: &str = "\u{202E}gnp.exe";
const MD_IMAGE: &str = "![](https://evil.example/pixel.png)";
const MD_LINK: &str = "[verify your account](https://evil.example/phish)";

impl Sim {
    fn start() -> Sim {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let bybit = KeyAccount {
            ips: vec!["192.0.2.10".into(), format!("198.51.100.7{ESCAPES}{BIDI}")],
            activity: vec![ActivityItem {
                kind: ActivityKind::Order,
                id: format!("ORDER1{MD_LINK}"),
                time_ms: now - 3_600_000,
                symbol: format!("BTCUSDT{ESCAPES}{BIDI}"),
                side: "buy".into(),
                asset: "USDT".into(),
                amount: "1".into(),
                price: "1".into(),
                status: format!("Filled{MD_IMAGE}<img src=x onerror=alert(1)>"),
                address: String::new(),
                tx_id: String::new(),
            }],
            ..KeyAccount::hmac(
                SimExchange::Bybit,
                BYBIT_ID,
                BYBIT_SECRET,
                &[SimScope::Read, SimScope::Trade],
            )
        };
        let accounts = Accounts {
            keys: vec![bybit],
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

fn assert_inert(what: &str, text: &str) {
    for c in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202E}'] {
        assert!(
            !text.contains(c),
            "{what}: raw U+{:04X} in {text:?}",
            u32::from(c)
        );
    }
}

#[test]
fn terminal_escape_in_exchange_string_is_neutralised() {
    let sim = Sim::start();
    let env = Env::init();
    env.run_stdin(
        &[
            "add",
            "--exchange",
            "bybit",
            "--label",
            "bybit-bot",
            "--api-key",
            BYBIT_ID,
            "--scopes",
            "read,trade",
            "--ip",
            "192.0.2.10",
            "--base-url",
            &sim.handle.url(SimExchange::Bybit),
            "--secret-stdin",
        ],
        &format!("{BYBIT_SECRET}\n"),
    )
    .ok();

    // `verify` prints the IP whitelist the exchange reports.
    let run = env.run(&["verify", "bybit-bot"]);
    assert!(run.stdout.contains("198.51.100.7"), "{}", run.stdout);
    assert_inert("verify stdout", &run.stdout);
    assert_inert("verify stderr", &run.stderr);
    assert!(run.stdout.contains("\\u001b]52;c;"), "{}", run.stdout);
    assert!(run.stdout.contains("\\u202egnp.exe"), "{}", run.stdout);
    // JSON stays valid and decodes to exactly what the exchange sent.
    let run = env.run(&["verify", "bybit-bot", "--json"]);
    assert_inert("verify --json", &run.stdout);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    let ips = v["ip_whitelist"].as_array().unwrap();
    assert!(
        ips.iter()
            .any(|i| i.as_str().unwrap() == format!("198.51.100.7{ESCAPES}{BIDI}")),
        "{v}"
    );

    // An incident's activity snapshot carries the order's fields into the
    // report: no raw escape, no live link or image, no HTML.
    let id = open_incident(&env, "bybit-bot");
    let run = env.run(&["incident", "run", &id, "snapshot"]).ok();
    assert_inert("snapshot", &run.stdout);
    let show = env.run(&["incident", "show", &id, "--json"]).ok();
    assert_inert("show --json", &show.stdout);
    serde_json::from_str::<Value>(&show.stdout).unwrap();
    let md = env.path("report.md");
    env.run(&[
        "incident",
        "report",
        &id,
        "--format",
        "md",
        "--out",
        md.to_str().unwrap(),
    ])
    .ok();
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.contains("BTCUSDT"), "{text}");
    assert_inert("report.md", &text);
    for live in ["![", "]("] {
        assert!(!text.contains(live), "{live} in {text}");
    }
    // Every `<` is escaped: no raw HTML and no autolink.
    assert!(
        text.match_indices('<')
            .all(|(i, _)| text[..i].ends_with('\\')),
        "{text}"
    );
    assert!(text.contains("\\[verify your account\\]\\(https"), "{text}");
    let html = env.path("report.html");
    env.run(&[
        "incident",
        "report",
        &id,
        "--format",
        "html",
        "--out",
        html.to_str().unwrap(),
    ])
    .ok();
    let text = std::fs::read_to_string(&html).unwrap();
    assert_inert("report.html", &text);
    assert!(!text.contains("<img"), "{text}");
}
