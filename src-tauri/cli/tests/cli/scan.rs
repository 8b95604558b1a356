//! `keyward scan`: what `--history` covers is the core's `scan::plan`, the
//! same rule as the desktop's scan page.

use std::path::Path;

use crate::support::Env;

fn git(dir: &Path, args: &[&str]) {
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
fn history_covers_nested_repositories_and_refuses_a_folder_without_one() {
    let env = Env::init();
    let bots = env.path("bots");
    let alpha = bots.join("alpha");
    let nested = alpha.join("vendored").join("lib");
    for repo in [&alpha, &nested] {
        std::fs::create_dir_all(repo).unwrap();
        git(repo, &["init", "-q"]);
        std::fs::write(repo.join("README.md"), "a bot\n").unwrap();
        git(repo, &["add", "README.md"]);
        git(repo, &["commit", "-q", "-m", "first"]);
    }
    let plain = env.path("plain");
    std::fs::create_dir(&plain).unwrap();
    std::fs::write(plain.join("notes.txt"), "nothing here\n").unwrap();

    // A folder of repositories: each one's history, the nested one too.
    let run = env.run(&["scan", "--history", bots.to_str().unwrap()]).ok();
    for repo in [&alpha, &nested] {
        assert!(
            run.stderr
                .contains(&format!("history scanned: {}", repo.display())),
            "{}",
            run.stderr
        );
    }

    // Without --history a plain folder is scanned as files.
    env.run(&["scan", plain.to_str().unwrap()]).ok();
    // With it, a folder holding no repository is an error (exit 1), not a
    // clean result — and it is refused before any file is scanned.
    let refused = env
        .run(&[
            "scan",
            "--history",
            bots.to_str().unwrap(),
            plain.to_str().unwrap(),
        ])
        .code(1);
    assert!(
        refused
            .stderr
            .contains("is not a git repository and holds none"),
        "{}",
        refused.stderr
    );
    assert!(
        !refused.stderr.contains("history scanned"),
        "{}",
        refused.stderr
    );
}
