//! The system OpenSSH client, as processes: `ssh-keyscan` to read a host
//! key on first use, `ssh` (against Keyward's own known-hosts file, strict
//! checking) to upload a sealed bundle under a temporary name, make it
//! mode 0600 and rename it over the old one in one step.
//!
//! Must never: speak SSH itself, pass anything secret in argv (the bundle
//! goes to `ssh`'s stdin, sealed), accept a host key other than the pinned
//! one, or hand Keyward's own unlocking variables to the client.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::error::DeployError;
use super::target::DeployTarget;
use crate::files::{self, Overwrite};

/// Variables that unlock Keyward itself: never inherited by the client.
const WITHHELD: &[&str] = &[
    "KEYWARD_PASSWORD",
    "KEYWARD_NEW_PASSWORD",
    "KEYWARD_BACKUP_PASSPHRASE",
];

/// How to run the SSH client.
#[derive(Debug, Clone, Default)]
pub struct SshOptions {
    /// The private key to log in with (`ssh -i`), instead of the client's
    /// defaults and agent.
    pub identity: Option<PathBuf>,
    /// Extra `ssh` arguments (options only), placed before the host.
    pub extra: Vec<String>,
    /// Where Keyward keeps the known-hosts files it writes from the vault's
    /// pinned keys (a 0700 directory beside the vault).
    pub known_hosts_dir: PathBuf,
    /// Connection timeout in seconds (10 when 0).
    pub connect_timeout: u32,
}

impl SshOptions {
    /// The options for the vault at `vault`: Keyward's known-hosts
    /// directory beside it (`ssh/`), `identity` to log in with (else the
    /// client's defaults and agent), a 10-second connection timeout and,
    /// in debug builds only, `$KEYWARD_SSH_OPTIONS` (whitespace-separated
    /// `ssh` options, for tests against a throwaway server).
    pub fn beside_vault(vault: &Path, identity: Option<&Path>) -> SshOptions {
        let dir = vault
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let extra = if cfg!(debug_assertions) {
            std::env::var("KEYWARD_SSH_OPTIONS")
                .map(|s| s.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        SshOptions {
            identity: identity.map(Path::to_path_buf),
            extra,
            known_hosts_dir: dir.join("ssh"),
            connect_timeout: 10,
        }
    }

    fn timeout(&self) -> u32 {
        if self.connect_timeout == 0 {
            10
        } else {
            self.connect_timeout
        }
    }
}

/// The `HostKeyAlgorithms` that make the server present exactly the pinned
/// key's type.
fn algorithms(key_type: &str) -> &str {
    match key_type {
        "ssh-rsa" => "rsa-sha2-512,rsa-sha2-256",
        other => other,
    }
}

/// The key types Keyward pins, most preferred first.
const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
];

fn last_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("no answer");
    crate::text::escape_terminal(&line.chars().take(200).collect::<String>()).into_owned()
}

/// Reads the server's host key with `ssh-keyscan`: `type base64`.
pub(super) fn keyscan(opts: &SshOptions, target: &DeployTarget) -> Result<String, DeployError> {
    let out = Command::new("ssh-keyscan")
        .args([
            "-T",
            &opts.timeout().to_string(),
            "-p",
            &target.port.to_string(),
        ])
        .args(["-t", "ed25519,ecdsa,rsa"])
        .arg(&target.host)
        .env_clear_withheld()
        .stdin(Stdio::null())
        .output()
        .map_err(|e| DeployError::Program {
            program: "ssh-keyscan",
            reason: e.to_string(),
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let found: Vec<(&str, &str)> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let _host = parts.next()?;
            Some((parts.next()?, parts.next()?))
        })
        .collect();
    for wanted in KEY_TYPES {
        if let Some((t, k)) = found.iter().find(|(t, _)| t == wanted) {
            return Ok(format!("{t} {k}"));
        }
    }
    Err(DeployError::Unreachable {
        target: target.name.clone(),
        host: target.address(),
        reason: if found.is_empty() {
            "no SSH server answered".to_owned()
        } else {
            "the server offers no host key type Keyward can pin".to_owned()
        },
    })
}

trait WithheldEnv {
    fn env_clear_withheld(&mut self) -> &mut Self;
}

impl WithheldEnv for Command {
    fn env_clear_withheld(&mut self) -> &mut Self {
        for name in WITHHELD {
            self.env_remove(name);
        }
        self
    }
}

/// Writes the known-hosts file for `target` from its pinned key (the
/// vault's record is the authority; the file is derived from it each
/// time).
fn known_hosts(
    opts: &SshOptions,
    target: &DeployTarget,
    pinned: &str,
) -> Result<PathBuf, DeployError> {
    files::create_private_dir(&opts.known_hosts_dir)?;
    let host = if target.port == 22 {
        target.host.clone()
    } else {
        format!("[{}]:{}", target.host, target.port)
    };
    let path = opts
        .known_hosts_dir
        .join(format!("known_hosts-{}", target.name));
    files::write_private(
        &path,
        format!("{host} {pinned}\n").as_bytes(),
        Overwrite::Replace,
    )?;
    Ok(path)
}

/// A remote path word for the shell: a leading `~/` becomes relative (the
/// remote shell starts in the home directory).
fn remote_word(path: &str) -> String {
    let path = path.strip_prefix("~/").unwrap_or(path);
    crate::text::shell_quote(path)
}

/// The remote command: write stdin to a temporary file beside the bundle,
/// 0600, then rename it over the bundle (atomic on one file system).
fn remote_command(target: &DeployTarget, nonce: &str) -> String {
    let dir = target.remote_path.trim_end_matches('/');
    let dir = if dir.is_empty() { "/" } else { dir };
    let tmp = format!("{dir}/.{}.age.{nonce}.tmp", target.name);
    let dst = target.remote_file();
    let (dir, tmp, dst) = (remote_word(dir), remote_word(&tmp), remote_word(&dst));
    format!(
        "umask 077 && mkdir -p -- {dir} && \
         {{ cat > {tmp} && chmod 600 -- {tmp} && mv -f -- {tmp} {dst}; }} || \
         {{ rm -f -- {tmp}; exit 1; }}"
    )
}

/// Uploads `sealed` to `target`, checking the server against `pinned`.
pub(super) fn upload(
    opts: &SshOptions,
    target: &DeployTarget,
    pinned: &str,
    sealed: &[u8],
) -> Result<(), DeployError> {
    let known = known_hosts(opts, target, pinned)?;
    let key_type = pinned.split_whitespace().next().unwrap_or("ssh-ed25519");
    let nonce = hex::encode(uuid::Uuid::new_v4().as_bytes());
    let mut cmd = Command::new("ssh");
    cmd.args(ssh_args(opts, target, &known, key_type))
        .arg("--")
        .arg(&target.host)
        .arg(remote_command(target, &nonce[..12]))
        .env_clear_withheld()
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| DeployError::Program {
        program: "ssh",
        reason: e.to_string(),
    })?;
    let written = child
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(sealed))
        .unwrap_or(Ok(()));
    let out = child.wait_with_output().map_err(|e| DeployError::Program {
        program: "ssh",
        reason: e.to_string(),
    })?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() && written.is_ok() {
        return Ok(());
    }
    if stderr.contains("Host key verification failed")
        || stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
    {
        return Err(DeployError::HostKeyChanged {
            target: target.name.clone(),
            host: target.address(),
        });
    }
    if out.status.code() == Some(255) {
        return Err(DeployError::Unreachable {
            target: target.name.clone(),
            host: target.address(),
            reason: last_line(&out.stderr),
        });
    }
    Err(DeployError::Upload {
        host: target.address(),
        reason: last_line(&out.stderr),
    })
}

fn ssh_args(opts: &SshOptions, target: &DeployTarget, known: &Path, key_type: &str) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "-o".into(),
        "BatchMode=yes".into(),
        "-o".into(),
        format!("ConnectTimeout={}", opts.timeout()),
        "-o".into(),
        "StrictHostKeyChecking=yes".into(),
        "-o".into(),
        format!("UserKnownHostsFile=\"{}\"", known.display()),
        "-o".into(),
        "GlobalKnownHostsFile=/dev/null".into(),
        "-o".into(),
        "UpdateHostKeys=no".into(),
        "-o".into(),
        format!("HostKeyAlgorithms={}", algorithms(key_type)),
        "-o".into(),
        "ClearAllForwardings=yes".into(),
        "-p".into(),
        target.port.to_string(),
        "-l".into(),
        target.user.clone(),
    ];
    if let Some(id) = &opts.identity {
        args.extend([
            "-i".into(),
            id.display().to_string(),
            "-o".into(),
            "IdentitiesOnly=yes".into(),
        ]);
    }
    args.extend(opts.extra.iter().cloned());
    args
}

#[cfg(test)]
pub(super) fn remote_command_for_tests(target: &DeployTarget) -> String {
    remote_command(target, "n0nce")
}
