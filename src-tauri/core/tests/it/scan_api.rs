//! The scanner's core API as a front end (the desktop app) uses it: needles
//! from an unlocked vault, progress, cancellation, import previews — and
//! that no value ever shows in a finding, a preview or a `Debug` string.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use keyward_core::model::{ApiSecret, Exchange, NewKey};
use keyward_core::scan::{self, Matcher, ScanError, ScanOptions, import};
use keyward_core::vault::{Actor, KdfParams, MasterPassword, Vault};

const KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const SECRET: &str = "CanarySecretValue0123456789abcdef";

fn session(dir: &std::path::Path) -> keyward_core::vault::Session {
    let mut s = Vault::create(
        &dir.join("v.keyward"),
        &MasterPassword::from("correct horse battery staple"),
        KdfParams::MINIMUM,
        Actor::Cli,
    )
    .unwrap();
    s.add_key(
        Actor::Cli,
        NewKey::new("main", Exchange::Binance, KEY, ApiSecret::from(SECRET)),
    )
    .unwrap();
    s
}

#[test]
fn needles_progress_and_findings_without_values() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session(dir.path());
    let needles = s.scan_needles().unwrap();
    assert_eq!(needles.len(), 2);
    let shown = format!("{needles:?}");
    assert!(!shown.contains(SECRET) && !shown.contains(KEY), "{shown}");
    let corpus = dir.path().join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    for i in 0..600 {
        std::fs::write(corpus.join(format!("f{i}.txt")), "nothing here\n").unwrap();
    }
    std::fs::write(corpus.join("leak.py"), format!("x = 1\nS = '{SECRET}'\n")).unwrap();
    let m = Matcher::new(needles, true).unwrap();
    assert!(!format!("{m:?}").contains(SECRET));
    let calls = AtomicU64::new(0);
    let last = AtomicU64::new(0);
    let report = scan::scan_paths(
        &m,
        std::slice::from_ref(&corpus),
        &ScanOptions::default(),
        &|p| {
            calls.fetch_add(1, Ordering::Relaxed);
            last.store(p.scanned, Ordering::Relaxed);
        },
    )
    .unwrap();
    assert!(calls.load(Ordering::Relaxed) >= 2);
    assert_eq!(last.load(Ordering::Relaxed), 601);
    assert_eq!(report.findings.len(), 1);
    let f = &report.findings[0];
    assert_eq!((f.label.as_deref(), f.line), (Some("main"), 2));
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains(SECRET) && !json.contains(KEY));

    let cancel = Arc::new(AtomicBool::new(true));
    let options = ScanOptions {
        cancel,
        ..ScanOptions::default()
    };
    assert!(matches!(
        scan::scan_paths(&m, &[corpus], &options, &|_| {}),
        Err(ScanError::Cancelled)
    ));
}

#[test]
fn import_preview_shows_no_value_and_imports() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session(dir.path());
    let file = dir.path().join("bot.env");
    let other_key = "Rb5Nc8Md1Pf4Qg7Sh0Tj3Vk6Wl9Xm2Yn5Zp8Aq1Br4Cs7Dt0Eu3Fv6Gw9Hx2Iy5J";
    let other_secret = "AnotherCanarySecret987654321zyx";
    std::fs::write(
        &file,
        format!("BINANCE_API_KEY={other_key}\nBINANCE_API_SECRET={other_secret}\n"),
    )
    .unwrap();
    let found = import::read_file(&file, "bot-").unwrap();
    assert_eq!(found.candidates.len(), 1);
    let preview = serde_json::to_string(&found.candidates[0].preview).unwrap();
    let debug = format!("{found:?}");
    for shown in [&preview, &debug] {
        assert!(
            !shown.contains(other_secret) && !shown.contains(other_key),
            "{shown}"
        );
    }
    let chosen: Vec<_> = found.candidates.iter().collect();
    let out = import::import(&mut s, Actor::Cli, &chosen).unwrap();
    assert!(out[0].added, "{out:?}");
    assert_eq!(s.key_detail("bot-binance").unwrap().api_key_id, other_key);
    // Imported twice: refused (duplicate label), reported, not fatal.
    let out = import::import(&mut s, Actor::Cli, &chosen).unwrap();
    assert!(!out[0].added && out[0].error.is_some());
    // The file is untouched until rewrite is asked for.
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains(other_secret)
    );
    let r = import::rewrite_without_values(&found, &chosen).unwrap();
    assert_eq!(r.removed, 2);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "BINANCE_API_KEY=\nBINANCE_API_SECRET=\n"
    );
    // A second rewrite from the stale read is refused: the file changed.
    assert!(matches!(
        import::rewrite_without_values(&found, &chosen),
        Err(keyward_core::scan::ImportError::Changed { .. })
    ));
}

fn git(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("git")
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

#[test]
fn history_of_a_folder_covers_every_repository_below_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session(dir.path());
    let bots = dir.path().join("bots");
    let alpha = bots.join("alpha");
    let beta = bots.join("team").join("beta");
    for repo in [&alpha, &beta] {
        std::fs::create_dir_all(repo).unwrap();
        git(repo, &["init", "-q"]);
        std::fs::write(repo.join("README.md"), "a bot\n").unwrap();
        git(repo, &["add", "."]);
        git(repo, &["commit", "-q", "-m", "first"]);
    }
    // The secret lives only in beta's history: committed, then removed.
    std::fs::write(beta.join("old.env"), format!("X=1\nS={SECRET}\n")).unwrap();
    git(&beta, &["add", "."]);
    git(&beta, &["commit", "-q", "-m", "keys"]);
    git(&beta, &["rm", "-q", "old.env"]);
    git(&beta, &["commit", "-q", "-m", "no keys"]);

    let m = Matcher::new(s.scan_needles().unwrap(), true).unwrap();
    let files_only = scan::scan(
        &m,
        std::slice::from_ref(&bots),
        &ScanOptions::default(),
        &|_| {},
    )
    .unwrap();
    assert!(files_only.findings.is_empty(), "{files_only:?}");
    assert!(files_only.repositories.is_empty());

    let options = ScanOptions {
        history: true,
        ..ScanOptions::default()
    };
    let report = scan::scan(&m, std::slice::from_ref(&bots), &options, &|_| {}).unwrap();
    assert_eq!(report.repositories, vec![alpha.clone(), beta.clone()]);
    assert_eq!(report.findings.len(), 1, "{report:?}");
    let f = &report.findings[0];
    assert_eq!(f.repository.as_deref(), Some(beta.as_path()));
    assert_eq!((f.label.as_deref(), f.line), (Some("main"), 2));
    assert_eq!(f.path, std::path::Path::new("old.env"));
    assert!(f.commit.is_some());
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["repositories"].as_array().unwrap().len(), 2);

    // The same repository named twice, or through a folder inside it, is
    // scanned once.
    let twice = scan::scan(&m, &[beta.clone(), beta.join(".")], &options, &|_| {}).unwrap();
    assert_eq!(twice.repositories, vec![beta.clone()]);
    assert_eq!(twice.findings.len(), 1, "{twice:?}");

    // A folder with no repository in or below it is an error, not a clean
    // result.
    let plain = dir.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    assert!(matches!(
        scan::scan(&m, &[plain], &options, &|_| {}),
        Err(ScanError::NotARepository { .. })
    ));
}

/// `scan::plan` decides what a scan covers for the CLI and the desktop
/// alike, and refuses before reading anything: no path, a missing path, a
/// history asked for a folder with no repository (even next to one that
/// has repositories: the file scan does not run first).
#[test]
fn the_plan_decides_the_repositories_and_refuses_before_reading_anything() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session(dir.path());
    let bots = dir.path().join("bots");
    let nested = bots.join("alpha").join("vendored").join("lib");
    for repo in [&bots.join("alpha"), &nested] {
        std::fs::create_dir_all(repo).unwrap();
        git(repo, &["init", "-q"]);
        std::fs::write(repo.join("README.md"), "a bot\n").unwrap();
        git(repo, &["add", "README.md"]);
        git(repo, &["commit", "-q", "-m", "first"]);
    }
    let plain = dir.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    std::fs::write(plain.join("leak.env"), format!("S={SECRET}\n")).unwrap();
    let history = ScanOptions {
        history: true,
        ..ScanOptions::default()
    };

    assert!(matches!(
        scan::plan(&[], &ScanOptions::default()),
        Err(ScanError::NothingToScan)
    ));
    assert!(matches!(
        scan::plan(&[dir.path().join("missing")], &history),
        Err(ScanError::NotFound { .. })
    ));
    // Files only: no repository is planned, a plain folder is fine.
    let files = scan::plan(&[bots.clone(), plain.clone()], &ScanOptions::default()).unwrap();
    assert!(files.repositories().is_empty());
    // History: the repository and the one nested in it, each once.
    let plan = scan::plan(std::slice::from_ref(&bots), &history).unwrap();
    assert_eq!(plan.repositories(), [bots.join("alpha"), nested.clone()]);
    // A folder without a repository is refused, and nothing was scanned:
    // the secret in it is never reached and progress never reported.
    let m = Matcher::new(s.scan_needles().unwrap(), true).unwrap();
    let called = AtomicBool::new(false);
    let refused = scan::scan(&m, &[bots.clone(), plain.clone()], &history, &|_| {
        called.store(true, Ordering::Relaxed)
    });
    assert!(matches!(refused, Err(ScanError::NotARepository { ref path }) if *path == plain));
    assert!(!called.load(Ordering::Relaxed));
}
