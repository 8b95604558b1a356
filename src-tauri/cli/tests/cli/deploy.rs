//! `keyward target`, `keyward deploy`, `keyward identity new` and `keyward
//! run --bundle` against a real OpenSSH server (Debian's `openssh-server`)
//! started on a loopback port as the current user, with a throwaway host
//! key and user key in a temporary directory. The "server" side of each
//! test is the same machine: `keyward run --bundle` reads the file sshd's
//! session wrote.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use keyward_core::mfa::TotpSeed;
pub(crate) use keyward_tests::sshd::{Sshd, free_port, user};

use crate::support::{Env, Run};

const CANARY: &str = "CANARY-DEPLOY-5d1f0c3a-never-print";
const CANARY_2: &str = "CANARY-DEPLOY-2-77e0b9-never-print";

fn no_canary(run: &Run, what: &str) -> String {
    for c in [CANARY, CANARY_2] {
        assert!(!run.stdout.contains(c), "{what}: canary on stdout");
        assert!(!run.stderr.contains(c), "{what}: canary on stderr");
    }
    run.stdout.clone()
}

/// Every file under `dir` that holds `needle`.
pub(crate) fn files_with(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries {
        let path = e.unwrap().path();
        if path.is_dir() {
            out.extend(files_with(&path, needle));
        } else if let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        {
            out.push(path);
        }
    }
    out
}

/// Every file under `dir` that holds a canary.
fn files_with_canary(dir: &Path) -> Vec<PathBuf> {
    let mut out = files_with(dir, CANARY);
    out.extend(files_with(dir, CANARY_2));
    out
}

/// A vault with MFA on and a key, a server identity, and the clock the
/// codes are computed for.
struct Setup {
    env: Env,
    seed: TotpSeed,
    recipient: String,
}

impl Setup {
    fn new() -> Setup {
        let env = Env::init();
        no_canary(&env.add_binance("bot", CANARY).ok(), "add");
        let seed = env.enrol_mfa();
        let id = env.run(&["identity", "new", "--out", &identity(&env)]).ok();
        let recipient = id.stdout.trim().to_owned();
        assert!(recipient.starts_with("age1"), "{recipient}");
        let mode = std::fs::metadata(identity(&env))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        Setup {
            env,
            seed,
            recipient,
        }
    }

    /// A fresh code (each gated command has its own: codes are single
    /// use).
    fn code(&self) -> String {
        self.env.fresh_code(&self.seed)
    }

    fn run(&self, args: &[&str]) -> Run {
        self.env.run(args)
    }

    fn add_target(&self, sshd: &Sshd, name: &str) {
        let code = self.code();
        no_canary(
            &self
                .run(&[
                    "target",
                    "add",
                    name,
                    "--ssh",
                    &sshd.ssh(),
                    "--path",
                    &sshd.remote().display().to_string(),
                    "--recipient",
                    &self.recipient,
                    "--totp",
                    &code,
                ])
                .ok(),
            "target add",
        );
    }

    fn grant(&self, target: &str, label: &str) -> Run {
        let code = self.code();
        self.run(&["target", "grant", target, label, "--totp", &code])
    }

    fn deploy(&self, sshd: &Sshd, label: &str, target: &str) -> Run {
        let code = self.code();
        let key = sshd.user_key().display().to_string();
        self.env.run_env(
            &[
                "deploy",
                label,
                "--to",
                target,
                "--ssh-identity",
                &key,
                "--totp",
                &code,
            ],
            &[("KEYWARD_SSH_OPTIONS", "-F /dev/null")],
        )
    }

    fn server_env(&self, bundle: &Path, identity: &str, var: &str) -> Run {
        server_env(bundle, identity, var)
    }
}

/// `keyward run --bundle` on the "server": the value of `$var` the child
/// sees.
pub(crate) fn server_env(bundle: &Path, identity: &str, var: &str) -> Run {
    let out = Command::new(crate::support::bin())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .arg("run")
        .arg("--bundle")
        .arg(bundle)
        .args(["--identity", identity, "--", "sh", "-c"])
        .arg(format!("printf %s \"${var}\""))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn identity(env: &Env) -> String {
    env.path("server/identity").display().to_string()
}

fn target_json(s: &Setup) -> serde_json::Value {
    let run = s.run(&["target", "list", "--json"]).ok();
    serde_json::from_str(run.stdout.trim()).unwrap()
}

#[test]
fn deploy_then_run_on_the_server_then_redeploy_atomically() {
    let mut sshd = Sshd::start();
    let s = Setup::new();
    s.add_target(&sshd, "box");
    // Nothing is granted yet: refused, nothing sent.
    let run = s.deploy(&sshd, "bot", "box").code(1);
    assert!(run.stderr.contains("not granted"), "{}", run.stderr);
    // Granting needs a code.
    let run = s.run(&["target", "grant", "box", "bot"]).code(4);
    assert!(run.stderr.contains("needs a code"), "{}", run.stderr);
    s.grant("box", "bot").ok();

    let run = s.deploy(&sshd, "bot", "box").ok();
    no_canary(&run, "deploy");
    assert!(run.stdout.contains("pinned the host key"), "{}", run.stdout);
    let bundle = sshd.remote().join("box.age");
    let mode = std::fs::metadata(&bundle).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let first = std::fs::read(&bundle).unwrap();

    let seen = s.server_env(&bundle, &identity(&s.env), "BINANCE_API_SECRET");
    assert_eq!(seen.code, 0, "{}", seen.stderr);
    assert!(
        seen.stdout == CANARY,
        "the child did not get the planted secret"
    );
    let seen = s
        .server_env(&bundle, &identity(&s.env), "BINANCE_API_KEY")
        .ok();
    assert_eq!(seen.stdout, crate::support::BINANCE_KEY);

    // The target lists its pin and the delivery.
    let list = target_json(&s);
    assert!(
        list[0]["host_key"]
            .as_str()
            .unwrap()
            .starts_with("ssh-ed25519 ")
    );
    assert!(list[0]["keys"][0]["deployed_at"].is_number(), "{list}");

    // A second key granted and deployed: the bundle is replaced in one
    // step, nothing temporary left beside it.
    s.env
        .run_stdin(
            &[
                "add",
                "--exchange",
                "other",
                "--label",
                "second",
                "--api-key",
                "id-2",
                "--secret-stdin",
            ],
            &format!("{CANARY_2}\n"),
        )
        .ok();
    s.grant("box", "second").ok();
    no_canary(&s.deploy(&sshd, "second", "box").ok(), "redeploy");
    let second = std::fs::read(&bundle).unwrap();
    assert_ne!(first, second);
    let names: Vec<String> = std::fs::read_dir(sshd.remote())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["box.age"]);
    let seen = s.server_env(&bundle, &identity(&s.env), "API_SECRET").ok();
    assert!(seen.stdout == CANARY_2);

    // The audit names the deliveries, never a secret; nothing in plaintext
    // anywhere: the vault, its directory, the server's directory.
    let log = s.run(&["log", "--json"]).ok();
    no_canary(&log, "log");
    assert!(log.stdout.contains("\"key_deployed\""));
    assert!(log.stdout.contains("\"deploy_target_added\""));
    assert!(
        log.stdout.contains("Deployed key bot to box"),
        "{}",
        log.stdout
    );
    assert!(files_with_canary(s.env.dir.path()).is_empty());
    assert!(files_with_canary(sshd.dir.path()).is_empty());

    // Unreachable: nothing changes, here or there.
    sshd.stop();
    let before = target_json(&s);
    let run = s.deploy(&sshd, "bot", "box").code(6);
    no_canary(&run, "unreachable");
    assert!(run.stderr.contains("cannot reach"), "{}", run.stderr);
    assert!(
        run.stderr.contains("nothing was sent there"),
        "{}",
        run.stderr
    );
    assert_eq!(target_json(&s), before);
    assert_eq!(std::fs::read(&bundle).unwrap(), second);
}

#[test]
fn a_changed_host_key_is_refused_and_nothing_is_sent() {
    let mut sshd = Sshd::start();
    let s = Setup::new();
    s.add_target(&sshd, "box");
    s.grant("box", "bot").ok();
    s.deploy(&sshd, "bot", "box").ok();
    let bundle = sshd.remote().join("box.age");
    let first = std::fs::read(&bundle).unwrap();
    let before = target_json(&s);

    sshd.new_host_key();
    let run = s.deploy(&sshd, "bot", "box").code(5);
    no_canary(&run, "changed host key");
    assert!(
        run.stderr.contains("is not the one pinned"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(&bundle).unwrap(), first);
    assert_eq!(target_json(&s), before);
}

#[test]
fn a_tampered_bundle_or_another_identity_is_refused() {
    let sshd = Sshd::start();
    let s = Setup::new();
    s.add_target(&sshd, "box");
    s.grant("box", "bot").ok();
    s.deploy(&sshd, "bot", "box").ok();
    let bundle = sshd.remote().join("box.age");

    let mut bytes = std::fs::read(&bundle).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    let tampered = s.env.path("tampered.age");
    std::fs::write(&tampered, &bytes).unwrap();
    let run = s
        .server_env(&tampered, &identity(&s.env), "BINANCE_API_SECRET")
        .code(5);
    no_canary(&run, "tampered");
    assert!(
        run.stderr.contains("was changed after it was sealed"),
        "{}",
        run.stderr
    );

    let other = s.env.path("other/identity").display().to_string();
    s.run(&["identity", "new", "--out", &other]).ok();
    let run = s.server_env(&bundle, &other, "BINANCE_API_SECRET").code(3);
    no_canary(&run, "wrong identity");
    assert!(
        run.stderr.contains("does not open this bundle"),
        "{}",
        run.stderr
    );
    // An existing identity is not overwritten without --force.
    s.run(&["identity", "new", "--out", &other]).code(1);

    // An incident about the key lists the server to clean.
    let run = s
        .run(&["incident", "open", "--situation", "leaked", "--key", "bot"])
        .ok();
    no_canary(&run, "incident");
    assert!(
        run.stdout
            .contains("to clean: bot was deployed to box (127.0.0.1)"),
        "{}",
        run.stdout
    );
}

#[test]
fn an_unreachable_host_is_a_clear_error_before_any_pin() {
    let s = Setup::new();
    let code = s.code();
    let port = free_port();
    s.run(&[
        "target",
        "add",
        "nowhere",
        "--ssh",
        &format!("{}@127.0.0.1:{port}", user()),
        "--path",
        "bots",
        "--recipient",
        &s.recipient,
        "--totp",
        &code,
    ])
    .ok();
    s.grant("nowhere", "bot").ok();
    let before = target_json(&s);
    let code = s.code();
    let run = s
        .run(&["deploy", "bot", "--to", "nowhere", "--totp", &code])
        .code(6);
    no_canary(&run, "unreachable");
    assert!(run.stderr.contains("cannot reach"), "{}", run.stderr);
    assert_eq!(target_json(&s), before);
    assert!(before[0]["host_key"].is_null());
}

#[test]
fn check_names_a_deployment_target_deleted_outside_keyward() {
    let sshd = Sshd::start();
    let s = Setup::new();
    s.add_target(&sshd, "box");
    s.grant("box", "bot").ok();
    let run = s.run(&["check"]).ok();
    assert!(run.stdout.contains("0 damaged"), "{}", run.stdout);
    let conn = rusqlite::Connection::open(s.env.vault()).unwrap();
    conn.execute("DELETE FROM deploy_grants", []).unwrap();
    conn.execute("DELETE FROM deploy_targets WHERE name = 'box'", [])
        .unwrap();
    drop(conn);
    let run = s.run(&["check"]).code(5);
    no_canary(&run, "check");
    assert!(
        run.stdout
            .contains("DAMAGED deployment target box (deploy_targets): deleted"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr
            .contains("integrity check failed for deployment target box"),
        "{}",
        run.stderr
    );
}
