//! Where the CLI gets secret material: the master password from
//! `$KEYWARD_PASSWORD` or the terminal, API secrets from stdin or a file.
//!
//! Must never: accept a secret from argv, echo one, or keep one in a buffer
//! that is not zeroized.

use std::path::Path;

use keyward_core::files;
use keyward_core::model::{ApiSecret, Passphrase};
use keyward_core::vault::{BackupPassphrase, MasterPassword};
use zeroize::Zeroizing;

use crate::app::CliError;

/// Reads a secret from an environment variable if set, else from the
/// terminal (`/dev/tty`, not stdin, so stdin stays free for key material).
fn env_or_prompt(var: &str, prompt: &str) -> Result<Zeroizing<String>, CliError> {
    if let Some(value) = std::env::var_os(var) {
        let value = value.into_string().map_err(|_| CliError::Input {
            message: format!("${var} is not valid UTF-8"),
        })?;
        return Ok(Zeroizing::new(value));
    }
    rpassword::prompt_password(prompt)
        .map(Zeroizing::new)
        .map_err(|_| CliError::NoPassword { var: var.into() })
}

fn prompt_twice(var: &str, what: &str) -> Result<Zeroizing<String>, CliError> {
    if std::env::var_os(var).is_some() {
        return env_or_prompt(var, "");
    }
    let first = env_or_prompt(var, &format!("{what}: "))?;
    let second = env_or_prompt(var, &format!("Repeat {what}: "))?;
    if *first != *second {
        return Err(CliError::Input {
            message: format!("the two {what} entries differ"),
        });
    }
    Ok(first)
}

fn non_empty(value: Zeroizing<String>, what: &str) -> Result<Zeroizing<String>, CliError> {
    if value.is_empty() {
        return Err(CliError::Input {
            message: format!("the {what} must not be empty"),
        });
    }
    Ok(value)
}

/// The master password of an existing vault.
pub fn master_password() -> Result<MasterPassword, CliError> {
    let pw = env_or_prompt("KEYWARD_PASSWORD", "Master password: ")?;
    Ok(MasterPassword::new(pw.as_str().to_owned()))
}

/// A master password being chosen (`init`: `$KEYWARD_PASSWORD`; `passwd`:
/// `$KEYWARD_NEW_PASSWORD`), asked twice on a terminal.
pub fn new_master_password(var: &str) -> Result<MasterPassword, CliError> {
    let pw = non_empty(prompt_twice(var, "new master password")?, "master password")?;
    Ok(MasterPassword::new(pw.as_str().to_owned()))
}

/// A backup passphrase (`$KEYWARD_BACKUP_PASSPHRASE`, or the terminal; asked
/// twice when `confirm`).
pub fn backup_passphrase(confirm: bool) -> Result<BackupPassphrase, CliError> {
    let var = "KEYWARD_BACKUP_PASSPHRASE";
    let pp = if confirm {
        prompt_twice(var, "backup passphrase")?
    } else {
        env_or_prompt(var, "Backup passphrase: ")?
    };
    let pp = non_empty(pp, "backup passphrase")?;
    Ok(BackupPassphrase::new(pp.as_str().to_owned()))
}

/// Secret material read from stdin: line 1 the secret, line 2 the passphrase.
pub struct StdinSecrets {
    /// The secret.
    pub secret: ApiSecret,
    /// The passphrase, when a non-empty second line was given.
    pub passphrase: Option<Passphrase>,
}

/// Reads stdin to its end, at most [`files::MAX_SECRET_INPUT`] bytes: line
/// 1 is the secret, line 2 (optional) the passphrase.
pub fn secrets_from_stdin() -> Result<StdinSecrets, CliError> {
    let bytes = files::read_limited(
        std::io::stdin().lock(),
        "secret from stdin",
        Path::new("stdin"),
    )
    .map_err(|e| CliError::Vault(e.into()))?;
    let all = std::str::from_utf8(&bytes).map_err(|_| CliError::Input {
        message: "could not read the secret from stdin (is it UTF-8?)".into(),
    })?;
    let mut lines = all.lines();
    let secret = lines.next().unwrap_or_default().trim_end_matches('\r');
    let passphrase = lines.next().unwrap_or_default().trim_end_matches('\r');
    Ok(StdinSecrets {
        secret: ApiSecret::new(secret.to_owned()),
        passphrase: (!passphrase.is_empty()).then(|| Passphrase::new(passphrase.to_owned())),
    })
}

/// A whole file, at most [`files::MAX_SECRET_INPUT`] bytes (a FIFO or
/// `/dev/zero` stops there too).
fn read_file(path: &Path, what: &'static str) -> Result<Zeroizing<String>, CliError> {
    let file = std::fs::File::open(path).map_err(|e| CliError::Input {
        message: format!("{}: {e}", path.display()),
    })?;
    let bytes = files::read_limited(file, what, path).map_err(|e| CliError::Vault(e.into()))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| CliError::Input {
        message: format!("{}: not UTF-8 text", path.display()),
    })?;
    Ok(Zeroizing::new(
        text.trim_end_matches(['\n', '\r']).to_owned(),
    ))
}

/// The whole file is the secret (multi-line PEM keys), minus trailing newlines.
pub fn secret_from_file(path: &Path) -> Result<ApiSecret, CliError> {
    Ok(ApiSecret::new(
        read_file(path, "secret file")?.as_str().to_owned(),
    ))
}

/// The whole file is the passphrase, minus trailing newlines.
pub fn passphrase_from_file(path: &Path) -> Result<Passphrase, CliError> {
    Ok(Passphrase::new(
        read_file(path, "passphrase file")?.as_str().to_owned(),
    ))
}
