//! What every subcommand shares: terminal-safe printing, unlocking, the
//! CLI's error type with its exit codes (DESIGN §6), JSON output and the
//! network setup of the live commands.
//!
//! Owns: the mapping of an error to its message and exit code (always
//! through `ErrorKind::exit_code`), and the one unlock path (keyring first
//! when asked, then the master password, then the audit banner). Must never:
//! print a secret, or decide a rule (the core does).

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use keyward_core::alerts;
use keyward_core::exchange::{ExchangeClient, HttpConfig};
use keyward_core::mfa::MfaError;
use keyward_core::model;
use keyward_core::model::Scope;
use keyward_core::vault::{Actor, MasterPassword, Session, Vault, VaultError, VaultOptions};
use keyward_core::{ErrorKind, KindedError};
use serde::Serialize;

use crate::input;

/// Prints a line to stdout with every control, format and separator
/// character shown as an escape (`\u001b`, `\u202e`, `\n`; see
/// `keyward_core::text`), so a label, a note or a string an exchange sent
/// can never drive the terminal or fake another line. A closed pipe
/// (`keyward list | head`) is not an error worth a panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let line = format!($($arg)*);
        let _ = writeln!(
            std::io::stdout(),
            "{}",
            keyward_core::text::escape_terminal(&line)
        );
    }};
}

/// [`say!`] for multi-line output whose line breaks are structure
/// (pretty-printed JSON, where every break inside a string is already
/// escaped): everything else is escaped the same way.
macro_rules! say_lines {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let text = format!($($arg)*);
        let _ = writeln!(
            std::io::stdout(),
            "{}",
            keyward_core::text::escape_terminal_lines(&text)
        );
    }};
}

/// [`say!`] for stderr: warnings and errors quote labels, file names and
/// exchange answers too.
macro_rules! say_err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let line = format!($($arg)*);
        let _ = writeln!(
            std::io::stderr(),
            "{}",
            keyward_core::text::escape_terminal(&line)
        );
    }};
}

/// The exit code of a usage error: the one clap uses for bad arguments, and
/// ours when no vault path can be found (DESIGN §6). Every other failure
/// exits with its kind's [`ErrorKind::exit_code`].
pub const USAGE_EXIT_CODE: u8 = 2;

/// Why a command failed.
#[derive(Debug)]
pub enum CliError {
    /// The core refused.
    Vault(VaultError),
    /// Bad input that clap could not catch.
    Input {
        /// What was wrong.
        message: String,
    },
    /// No master password source.
    NoPassword {
        /// The variable that would have supplied it.
        var: String,
    },
    /// Another core error, with its kind and message (never a secret).
    Core {
        /// Its kind.
        kind: ErrorKind,
        /// Its message.
        message: String,
    },
}

impl CliError {
    /// Any core error that is not a vault error.
    pub fn from_kinded(e: impl keyward_core::KindedError + std::fmt::Display) -> Self {
        CliError::Core {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

impl From<keyward_core::deploy::DeployError> for CliError {
    fn from(e: keyward_core::deploy::DeployError) -> Self {
        match e {
            keyward_core::deploy::DeployError::Vault(v) => CliError::Vault(v),
            e => CliError::from_kinded(e),
        }
    }
}

impl From<VaultError> for CliError {
    fn from(e: VaultError) -> Self {
        CliError::Vault(e)
    }
}

impl From<model::ValidationError> for CliError {
    fn from(e: model::ValidationError) -> Self {
        CliError::Vault(VaultError::Invalid(e))
    }
}

impl CliError {
    /// The kind that decides the exit code.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CliError::Vault(e) => e.kind(),
            CliError::Input { .. } => ErrorKind::Invalid,
            CliError::NoPassword { .. } => ErrorKind::Locked,
            CliError::Core { kind, .. } => *kind,
        }
    }

    /// The one-line message printed after `error: `.
    pub fn message(&self) -> String {
        match self {
            CliError::Vault(e) => mfa_message(e).unwrap_or_else(|| e.to_string()),
            CliError::Input { message } => message.clone(),
            CliError::NoPassword { var } => {
                format!("no password: set ${var} or run in a terminal")
            }
            CliError::Core { message, .. } => message.clone(),
        }
    }

    /// Prints the error and gives its exit code.
    pub fn report(&self) -> ExitCode {
        say_err!("error: {}", self.message());
        exit(self.kind())
    }
}

/// A one-line, secret-free message for an MFA refusal on the command line,
/// distinct for each way a step-up fails.
fn mfa_message(err: &VaultError) -> Option<String> {
    match err {
        VaultError::Mfa(MfaError::StepUpRequired { action }) => Some(format!(
            "{} needs a code: pass --totp CODE from your authenticator app \
             (or --recovery-code CODE)",
            action.phrase()
        )),
        VaultError::Mfa(MfaError::NotEnrolled) => Some(
            "MFA is not enrolled: leave out --totp (the master password is the step-up) \
             or run `keyward mfa enroll`"
                .into(),
        ),
        VaultError::Mfa(MfaError::AlreadyEnrolled) => Some(
            "MFA is already enrolled: use `keyward mfa reenroll --totp CODE` to replace it".into(),
        ),
        _ => None,
    }
}

/// The process exit code of `kind` (DESIGN §6).
pub fn exit(kind: ErrorKind) -> ExitCode {
    ExitCode::from(u8::try_from(kind.exit_code()).unwrap_or(1))
}

/// Prints a core error that needs no CLI-specific wording and gives its
/// exit code.
pub fn fail(e: &dyn KindedError) -> ExitCode {
    say_err!("error: {e}");
    exit(e.kind())
}

/// Unlocks the vault at `path`: with the device key from the OS keyring
/// when asked (falling back to the master password if that fails), else
/// with the master password. A broken audit chain found at unlock is
/// reported on stderr.
pub fn unlock(path: &Path, use_keyring: bool) -> Result<Session, CliError> {
    unlock_keep(path, use_keyring).map(|(session, _)| session)
}

/// How the command line opens a vault: actor `cli`, with the features'
/// hooks registered (alerts queues a stored check's critical findings).
pub fn vault_options() -> VaultOptions {
    VaultOptions::for_actor(Actor::Cli).with_hook(alerts::hook())
}

/// [`unlock`], keeping the master password when one was entered, so gated
/// commands can re-check it while MFA is not enrolled.
pub fn unlock_keep(
    path: &Path,
    use_keyring: bool,
) -> Result<(Session, Option<MasterPassword>), CliError> {
    let vault = Vault::open_with(path, vault_options())?;
    if use_keyring {
        match vault.unlock_with_device() {
            Ok(session) => return Ok((session, None)),
            Err(e) => say_err!("warning: {e}; falling back to the master password"),
        }
    }
    let password = input::master_password()?;
    let session = vault.unlock(&password)?;
    warn_audit_problem(&session);
    Ok((session, Some(password)))
}

/// The command line's banner: a broken audit chain found at unlock is
/// reported on stderr by every command (and `log --verify` exits 5).
pub fn warn_audit_problem(session: &Session) {
    if let Some(problem) = session.audit_problem() {
        say_err!(
            "warning: the audit log failed verification at unlock: {}; run `keyward log --verify`",
            problem.finding
        );
    }
}

/// Declared scopes from a comma-separated list (empty items ignored).
pub fn parse_scopes(names: &[String]) -> Result<Vec<Scope>, CliError> {
    names
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.parse::<Scope>().map_err(CliError::from))
        .collect()
}

/// Prints `value` as pretty JSON on stdout.
pub fn json<T: Serialize + ?Sized>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => say_lines!("{s}"),
        Err(e) => say_err!("error: could not format JSON: {e}"),
    }
}

/// A stored time (Unix seconds) as the CLI prints it; empty when unset.
pub fn when(at: Option<i64>) -> String {
    at.map(keyward_core::alerts::format_time_seconds)
        .unwrap_or_default()
}

/// The exchange client and a runtime for one networked step.
pub fn network(timeout: u64) -> Result<(ExchangeClient, tokio::runtime::Runtime), ExitCode> {
    let config = HttpConfig {
        connect_timeout: Duration::from_secs(timeout),
        request_timeout: Duration::from_secs(timeout),
        ..HttpConfig::default()
    };
    let client = ExchangeClient::new(config).map_err(|e| fail(&e))?;
    Ok((client, runtime()?))
}

/// A single-threaded runtime for the network calls of one command.
pub fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            say_err!("error: cannot start the network runtime: {e}");
            exit(ErrorKind::Internal)
        })
}
