//! Running the binary with a private vault and cheap KDF parameters.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const PASSWORD: &str = "correct horse battery staple";
pub const BINANCE_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";

/// A temporary vault directory and the environment to reach it.
pub struct Env {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn code(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "panic: {}", self.stderr);
        self
    }
}

/// The TOTP step length.
const STEP: u64 = 30;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_keyward")
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A new vault with the minimum KDF parameters.
    pub fn init() -> Env {
        let env = Env::new();
        env.run(&[
            "init",
            "--kdf-memory-mib",
            "19",
            "--kdf-iterations",
            "2",
            "--kdf-parallelism",
            "1",
        ])
        .ok();
        env
    }

    pub fn vault(&self) -> PathBuf {
        self.dir.path().join("vault.keyward")
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(bin());
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("KEYWARD_VAULT", self.vault())
            .env("KEYWARD_PASSWORD", PASSWORD)
            .env("HOME", self.dir.path())
            .env("XDG_DATA_HOME", self.dir.path().join("xdg"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(bus) = std::env::var_os("DBUS_SESSION_BUS_ADDRESS") {
            cmd.env("DBUS_SESSION_BUS_ADDRESS", bus);
        }
        if self.clock_file().exists() {
            cmd.env("KEYWARD_TEST_CLOCK", self.clock_file());
        }
        cmd
    }

    fn clock_file(&self) -> PathBuf {
        self.dir.path().join("clock")
    }

    /// The pinned "now" of this vault's commands, in Unix seconds. The first
    /// call pins it in the middle of a TOTP step ten minutes ahead of the
    /// wall clock (time only moves forward, and a code computed from the
    /// wall clock would be refused, so a binary that ignored the pin fails
    /// the test at once); from then on every command
    /// reads it from the file named by `KEYWARD_TEST_CLOCK` (honoured by
    /// debug builds only), so a code never crosses a step boundary between
    /// being computed and being checked.
    pub fn pinned_now(&self) -> u64 {
        if let Ok(text) = std::fs::read_to_string(self.clock_file()) {
            return text.trim().parse().unwrap();
        }
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let pinned = (wall / STEP + 20) * STEP + STEP / 2;
        std::fs::write(self.clock_file(), pinned.to_string()).unwrap();
        pinned
    }

    /// The TOTP code `offset` steps from the pinned "now" (the gate accepts
    /// ±1 step and refuses replays, so successive gated commands take
    /// successive steps, or [`Env::advance`] moves the clock on).
    pub fn code(&self, seed: &keyward_core::mfa::TotpSeed, offset: i64) -> String {
        let now = self.pinned_now();
        let at = now
            .checked_add_signed(offset * STEP as i64)
            .expect("a time after 1970");
        seed.code_at(std::time::UNIX_EPOCH + std::time::Duration::from_secs(at))
            .expose_secret()
            .to_owned()
    }

    /// Enrols and confirms MFA; the seed the codes are computed from.
    pub fn enrol_mfa(&self) -> keyward_core::mfa::TotpSeed {
        let run = self.run(&["mfa", "enroll", "--json"]).ok();
        let json: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
        let seed =
            keyward_core::mfa::TotpSeed::from_base32(json["secret"].as_str().unwrap()).unwrap();
        self.run(&["mfa", "confirm", &self.code(&seed, -1)]).ok();
        seed
    }

    /// A fresh code: the pinned clock moves on a step first (codes are
    /// single use).
    pub fn fresh_code(&self, seed: &keyward_core::mfa::TotpSeed) -> String {
        self.advance(1);
        self.code(seed, 0)
    }

    /// Moves the pinned "now" on by `steps` TOTP steps (each gated command
    /// then has fresh codes).
    pub fn advance(&self, steps: u64) {
        let now = self.pinned_now();
        std::fs::write(self.clock_file(), (now + steps * STEP).to_string()).unwrap();
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command().args(args).output().unwrap())
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command();
        for (k, v) in env {
            cmd.env(k, v);
        }
        Run::from(cmd.args(args).output().unwrap())
    }

    pub fn run_stdin(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        Run::from(child.wait_with_output().unwrap())
    }

    pub fn add_binance(&self, label: &str, secret: &str) -> Run {
        self.run_stdin(
            &[
                "add",
                "--exchange",
                "binance",
                "--label",
                label,
                "--api-key",
                BINANCE_KEY,
                "--secret-stdin",
            ],
            &format!("{secret}\n"),
        )
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Flips one byte of the sealed `secret` of `label`, directly in SQLite.
pub fn flip_secret_byte(vault: &Path, label: &str, index: usize) {
    let conn = rusqlite::Connection::open(vault).unwrap();
    let mut blob: Vec<u8> = conn
        .query_row("SELECT secret FROM keys WHERE label = ?1", [label], |r| {
            r.get(0)
        })
        .unwrap();
    let i = index % blob.len();
    blob[i] ^= 0x40;
    conn.execute(
        "UPDATE keys SET secret = ?1 WHERE label = ?2",
        rusqlite::params![blob, label],
    )
    .unwrap();
}

/// The strict exchange simulator on its own runtime, for the length of a
/// test.
pub struct Sim {
    pub handle: keyward_sim::SimHandle,
    pub runtime: tokio::runtime::Runtime,
}

impl Sim {
    /// Starts the simulator with `accounts`.
    pub fn start(accounts: keyward_sim::Accounts) -> Sim {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (_, handle) = runtime.block_on(keyward_sim::spawn(accounts)).unwrap();
        Sim { handle, runtime }
    }
}
