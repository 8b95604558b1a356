//! A deployment target as the user describes it and as front ends see it,
//! and the checks on every value before it is stored.

use std::str::FromStr;

use serde::Serialize;

use super::error::DeployError;

/// A target to add: `keyward target add NAME --ssh user@host[:port] --path
/// DIR --recipient age1…|ssh-ed25519 …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTarget {
    /// The target's name (letters, digits, `.`, `_`, `-`).
    pub name: String,
    /// `user@host` or `user@host:port` (port 22 by default).
    pub ssh: String,
    /// The directory on the server the bundle is written to.
    pub remote_path: String,
    /// The server's recipient: an age X25519 public key (`age1…`) or the
    /// server's `ssh-ed25519` public key.
    pub recipient: String,
}

/// A stored target (no secret in it: the recipient is a public key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeployTarget {
    /// The name.
    pub name: String,
    /// The SSH user.
    pub user: String,
    /// The host name or address.
    pub host: String,
    /// The SSH port.
    pub port: u16,
    /// The directory on the server.
    pub remote_path: String,
    /// The recipient the bundle is sealed to.
    pub recipient: String,
    /// The pinned host key (`ssh-ed25519 AAAA…`), once the first delivery
    /// recorded it.
    pub host_key: Option<String>,
    /// When the target was added (unix seconds).
    pub created_at: i64,
    /// The keys granted to it, by label.
    pub keys: Vec<TargetKey>,
}

impl DeployTarget {
    /// The bundle's file on the server: `<remote_path>/<name>.age`.
    pub fn remote_file(&self) -> String {
        format!(
            "{}/{}.age",
            self.remote_path.trim_end_matches('/'),
            self.name
        )
    }

    /// `host:port`, for messages.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// A key granted to a target, and when it was last delivered there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetKey {
    /// The key's label.
    pub label: String,
    /// Last delivery (unix seconds), if any.
    pub deployed_at: Option<i64>,
}

/// Where one key is deployed: for the key's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KeyDeployment {
    /// The target's name.
    pub target: String,
    /// The target's host.
    pub host: String,
    /// The file on the server.
    pub remote_file: String,
    /// Last delivery (unix seconds), if any.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub deployed_at: Option<i64>,
    /// Whether that delivery came before the key's last promotion: the
    /// server still holds the old key (revoking it would stop the bot).
    pub holds_old_key: bool,
}

/// A new target's values, checked.
pub(super) struct Checked {
    pub name: String,
    pub user: String,
    pub host: String,
    pub port: u16,
    pub remote_path: String,
    pub recipient: String,
}

fn bad(message: impl Into<String>) -> DeployError {
    DeployError::Invalid(message.into())
}

/// Target names: 1–64 of letters, digits, `.`, `_`, `-`, not starting with
/// `-` or `.` (they become a file name on the server).
pub(super) fn check_name(name: &str) -> Result<(), DeployError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['-', '.'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(bad(format!(
            "target name {:?} is not usable: use 1 to 64 letters, digits, '.', '_' or '-', \
             not starting with '-' or '.'",
            crate::text::escape_terminal(&name.chars().take(80).collect::<String>())
        )))
    }
}

/// Splits `user@host[:port]` (IPv6 as `user@[::1]:port`).
fn parse_ssh(spec: &str) -> Result<(String, String, u16), DeployError> {
    let usage = || bad("--ssh expects user@host or user@host:port");
    let (user, rest) = spec.split_once('@').ok_or_else(usage)?;
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let (host, after) = inner.split_once(']').ok_or_else(usage)?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(usage()),
        };
        (host, port)
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| bad("the SSH port must be a number from 1 to 65535"))?,
        None => 22,
    };
    let user_ok = !user.is_empty()
        && user.len() <= 64
        && !user.starts_with('-')
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !user_ok {
        return Err(bad(
            "the SSH user may hold letters, digits, '.', '_' and '-' only",
        ));
    }
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && !host.starts_with('-')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    if !host_ok {
        return Err(bad("the SSH host must be a host name or an IP address"));
    }
    Ok((user.to_owned(), host.to_owned(), port))
}

/// The remote directory: printable, no line breaks, not starting with `-`.
fn check_path(path: &str) -> Result<String, DeployError> {
    let ok = !path.is_empty()
        && path.len() <= 1024
        && !path.starts_with('-')
        && !path.chars().any(|c| c.is_control());
    if !ok {
        return Err(bad(
            "--path must be a directory on the server, without control characters",
        ));
    }
    let trimmed = path.trim_end_matches('/');
    Ok(if trimmed.is_empty() { "/" } else { trimmed }.to_owned())
}

/// An age recipient, either kind.
pub(super) enum Recipient {
    X25519(age::x25519::Recipient),
    Ssh(age::ssh::Recipient),
}

impl Recipient {
    /// Parses the stored or given form. Only `age1…` and `ssh-ed25519`.
    pub(super) fn parse(text: &str) -> Result<Recipient, DeployError> {
        let text = text.trim();
        if text.starts_with("age1") {
            return age::x25519::Recipient::from_str(text)
                .map(Recipient::X25519)
                .map_err(|_| bad("the recipient is not a valid age1… public key"));
        }
        if text.starts_with("ssh-ed25519 ") {
            // Type and key only: a comment is not part of the recipient.
            let canonical: Vec<&str> = text.split_whitespace().take(2).collect();
            return age::ssh::Recipient::from_str(&canonical.join(" "))
                .map(Recipient::Ssh)
                .map_err(|_| bad("the recipient is not a valid ssh-ed25519 public key"));
        }
        Err(bad(
            "the recipient must be an age public key (age1…, from `keyward identity new` on the \
             server) or the server's ssh-ed25519 public key",
        ))
    }

    /// The form stored and shown.
    pub(super) fn canonical(text: &str) -> String {
        let text = text.trim();
        if text.starts_with("ssh-ed25519 ") {
            text.split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            text.to_owned()
        }
    }

    pub(super) fn as_dyn(&self) -> &dyn age::Recipient {
        match self {
            Recipient::X25519(r) => r,
            Recipient::Ssh(r) => r,
        }
    }
}

impl NewTarget {
    pub(super) fn check(&self) -> Result<Checked, DeployError> {
        check_name(&self.name)?;
        let (user, host, port) = parse_ssh(&self.ssh)?;
        let remote_path = check_path(&self.remote_path)?;
        Recipient::parse(&self.recipient)?;
        Ok(Checked {
            name: self.name.clone(),
            user,
            host,
            port,
            remote_path,
            recipient: Recipient::canonical(&self.recipient),
        })
    }
}

#[cfg(test)]
pub(super) fn parse_ssh_for_tests(spec: &str) -> Result<(String, String, u16), DeployError> {
    parse_ssh(spec)
}
