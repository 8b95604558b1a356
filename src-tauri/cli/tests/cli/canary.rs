//! A planted secret and passphrase must never appear in plaintext anywhere:
//! not in the database, its WAL or shared-memory file, temp files, backups,
//! nor in stdout/stderr of any command.

use crate::support::{Env, Run};

const SECRET_CANARY: &str = "CANARYSECRETq7Zx9vW2";
const PASSPHRASE_CANARY: &str = "CANARYPASSPHRASEk3Lm8";

fn assert_clean(what: &str, bytes: &[u8]) {
    for canary in [SECRET_CANARY, PASSPHRASE_CANARY] {
        let found = bytes.windows(canary.len()).any(|w| w == canary.as_bytes());
        assert!(!found, "canary {canary} found in {what}");
    }
}

fn scan_dir(dir: &std::path::Path) -> usize {
    let mut files = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files += scan_dir(&path);
        } else {
            assert_clean(&path.display().to_string(), &std::fs::read(&path).unwrap());
            files += 1;
        }
    }
    files
}

#[test]
fn canaries_never_leak() {
    let env = Env::init();
    let mut runs: Vec<Run> = Vec::new();
    let stdin = format!("{SECRET_CANARY}\n{PASSPHRASE_CANARY}\n");
    runs.push(
        env.run_stdin(
            &[
                "add",
                "--exchange",
                "okx",
                "--label",
                "canary",
                "--api-key",
                "6c4b2a8e-3f1d-4e5a-9b7c-0d1e2f3a4b5c",
                "--secret-stdin",
            ],
            &stdin,
        )
        .ok(),
    );
    // Failing commands print errors: they must not echo the input either.
    runs.push(env.run_stdin(
        &[
            "add",
            "--exchange",
            "binance",
            "--label",
            "bad",
            "--api-key",
            "x",
            "--secret-stdin",
        ],
        &stdin,
    ));
    runs.push(env.run_stdin(
        &[
            "add",
            "--exchange",
            "binance",
            "--label",
            "canary",
            "--api-key",
            "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
            "--secret-stdin",
        ],
        &stdin,
    ));
    runs.push(
        env.run_stdin(&["edit", "canary", "--secret-stdin"], &stdin)
            .ok(),
    );
    runs.push(env.run_env(&["list"], &[("KEYWARD_PASSWORD", PASSPHRASE_CANARY)]));
    for args in [
        vec!["list"],
        vec!["list", "--json"],
        vec!["list", "--search", "CANARY"],
        vec!["show", "canary"],
        vec!["show", "canary", "--json"],
        vec!["check"],
        vec!["check", "--json"],
        vec!["status", "--json"],
        vec!["settings"],
        vec!["keyring", "status"],
    ] {
        runs.push(env.run(&args).ok());
    }
    let backup = env.path("backup.kwb");
    runs.push(
        env.run_env(
            &["export", "--out", backup.to_str().unwrap()],
            &[("KEYWARD_BACKUP_PASSPHRASE", "bk")],
        )
        .ok(),
    );
    let other = Env::init();
    runs.push(
        other
            .run_env(
                &["import", backup.to_str().unwrap()],
                &[("KEYWARD_BACKUP_PASSPHRASE", "bk")],
            )
            .ok(),
    );
    for (i, run) in runs.iter().enumerate() {
        assert_clean(&format!("stdout of command {i}"), run.stdout.as_bytes());
        assert_clean(&format!("stderr of command {i}"), run.stderr.as_bytes());
    }
    assert!(scan_dir(env.dir.path()) >= 2);
    assert!(scan_dir(other.dir.path()) >= 1);
}
