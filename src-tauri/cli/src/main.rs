//! `keyward`: the command-line front end. It parses arguments, asks the core,
//! and maps the core's error kinds to the exit codes of DESIGN §6. It holds no
//! policy of its own.
//!
//! Secret material never comes from argv: the master password comes from
//! `$KEYWARD_PASSWORD` (meant for automation) or a terminal prompt; API
//! secrets from stdin (`--secret-stdin`: line 1 the secret, line 2 the
//! passphrase) or a file (`--secret-file`, `--passphrase-file`).

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

mod alerts;
mod gated;
mod health;
mod import_env;
mod incident;
mod input;
mod narrow;
mod output;
mod revoke;
mod rotate;
mod run;
mod scan;
mod service;
mod verify;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use keyward_core::mfa::actions;
use keyward_core::vault::{
    self, Actor, ConflictPolicy, Environment, Exchange, KdfParams, KeyEdit, KeyStatus, KeyType,
    NewKey, Scope, Session, Settings, Vault, VaultError,
};
use keyward_core::{ErrorKind, KindedError};

/// Keyward: an encrypted vault for crypto-exchange API keys.
///
/// Exit codes: 0 ok, 1 error, 2 usage, 3 locked or wrong password, 4 MFA,
/// 5 integrity failure, 6 exchange, 7 not found, 8 findings.
#[derive(Parser)]
#[command(name = "keyward", version)]
struct Cli {
    /// Vault file (default: $KEYWARD_VAULT, else $KEYWARD_DATA_DIR/vault.keyward,
    /// else the platform data dir).
    #[arg(long, global = true)]
    vault: Option<PathBuf>,
    /// Unlock with the key remembered in the OS keyring (see `keyring enable`);
    /// falls back to the master password if that fails.
    #[arg(long, global = true, env = "KEYWARD_USE_KEYRING")]
    use_keyring: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a new vault. Master password: $KEYWARD_PASSWORD or a prompt.
    Init(InitArgs),
    /// Add a key. The secret comes from stdin or a file, never from argv.
    Add(AddArgs),
    /// List keys (no secrets; API key ids masked).
    List {
        /// Only keys whose label, exchange, key id, services or notes match.
        #[arg(long)]
        search: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one key's metadata (never its secret or passphrase).
    Show {
        /// The key's label.
        label: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change a key's fields. Changing where its requests go or what the
    /// credential is (--base-url/--mainnet/--testnet, --api-key, a new
    /// secret or passphrase, --key-type, --status) needs --totp once MFA is
    /// enrolled (the master password before).
    Edit(EditArgs),
    /// Change the master password ($KEYWARD_NEW_PASSWORD or a prompt); needs
    /// --totp once MFA is enrolled.
    Passwd {
        #[command(flatten)]
        proof: gated::ProofArgs,
    },
    /// Show or raise the key-derivation (Argon2id) parameters.
    Kdf {
        /// New memory in MiB.
        #[arg(long)]
        memory_mib: Option<u32>,
        /// New number of passes.
        #[arg(long)]
        iterations: Option<u32>,
        /// New parallelism.
        #[arg(long)]
        parallelism: Option<u32>,
    },
    /// Show or change the vault settings (any change needs --totp once MFA
    /// is enrolled, the master password before).
    Settings {
        #[command(flatten)]
        proof: gated::ProofArgs,
        /// Lock after this many idle minutes.
        #[arg(long)]
        auto_lock_minutes: Option<u32>,
        /// Clear the clipboard after this many seconds.
        #[arg(long)]
        clipboard_clear_seconds: Option<u32>,
        /// Default rotation period in days.
        #[arg(long)]
        default_rotation_days: Option<u32>,
        /// MFA step-up window in seconds.
        #[arg(long)]
        step_up_window_seconds: Option<u32>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write an encrypted backup ($KEYWARD_BACKUP_PASSPHRASE or a prompt).
    Export {
        /// The backup file to create (mode 0600; must not exist unless
        /// --force; never through a symbolic link).
        #[arg(long)]
        out: PathBuf,
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        proof: gated::ProofArgs,
    },
    /// Print a key's secret (and passphrase on a second line); needs --totp
    /// or --recovery-code once MFA is enrolled.
    Reveal {
        /// The key's label.
        label: String,
        #[command(flatten)]
        proof: gated::ProofArgs,
    },
    /// Delete a key; needs --totp or --recovery-code once MFA is enrolled.
    Delete {
        /// The key's label.
        label: String,
        #[command(flatten)]
        proof: gated::ProofArgs,
    },
    /// TOTP step-up: enroll, confirm, status, disable.
    Mfa {
        #[command(subcommand)]
        action: gated::MfaCommand,
    },
    /// Show the audit log, or verify it (--verify: exit 5 if it is broken).
    Log(gated::LogArgs),
    /// Merge a backup into the vault; existing labels are reported as conflicts.
    Import {
        /// The backup file.
        file: PathBuf,
        /// Replace keys whose label already exists instead of skipping them
        /// (needs --totp once MFA is enrolled: it deletes the existing keys).
        #[arg(long)]
        replace: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        proof: gated::ProofArgs,
    },
    /// Open every sealed field; exit 5 naming damaged records.
    Check {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Unlock through the OS keyring ("remember on this device").
    Keyring {
        #[command(subcommand)]
        action: KeyringAction,
    },
    /// Check keys live against their exchanges; exit 6 if any is rejected or unreachable.
    Verify(verify::VerifyArgs),
    /// Scan files and git history for the vault's keys and unknown exchange
    /// credentials; exit 8 when something is found.
    Scan(scan::ScanArgs),
    /// Key health: findings per key and a vault score (0–100) with every
    /// point lost explained; uses each key's stored last check.
    Health(health::HealthArgs),
    /// Import exchange credentials from .env, JSON, YAML or TOML bot configs.
    ImportEnv(import_env::ImportEnvArgs),
    /// Start a command with keys as environment variables (keys need the
    /// "allow run" grant). See `keyward run --help` for the variable names.
    Run(run::RunArgs),
    /// Rotate a key in verified, resumable steps: begin, new-key, verify,
    /// promote, revoke-old (see `keyward rotate --help`).
    Rotate {
        #[command(subcommand)]
        command: rotate::RotateCommand,
    },
    /// Revoke a key (or --exchange EX --all) and check live that it is
    /// rejected; needs --totp.
    Revoke(revoke::RevokeArgs),
    /// Drop permissions from a key at its exchange (--drop GROUP.ITEM,
    /// repeatable; --remove-withdraw; --read-only) where the exchange allows
    /// it through its API, then check it live; needs --totp. Without a
    /// change, lists the permissions the key can drop.
    Narrow(narrow::NarrowArgs),
    /// The bots, platforms and scripts that hold a key, with the dated
    /// vendor checklist (see `keyward service --help`).
    Service {
        #[command(subcommand)]
        command: service::ServiceCommand,
    },
    /// Guided incident response: playbooks, automated steps, a timestamped
    /// record and a report (see `keyward incident --help`).
    Incident {
        #[command(subcommand)]
        command: incident::IncidentCommand,
    },
    /// Reminders and webhook alerts: status, set-webhook, remove-webhook,
    /// options, test, remind.
    Alerts {
        #[command(subcommand)]
        command: alerts::AlertsCommand,
    },
    /// Show where the vault is and whether it exists.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Clone)]
enum KeyringAction {
    /// Store a device key in the OS keyring and allow `--use-keyring`.
    Enable {
        #[command(flatten)]
        proof: gated::ProofArgs,
    },
    /// Delete the device key from the OS keyring and the vault.
    Disable {
        #[command(flatten)]
        proof: gated::ProofArgs,
    },
    /// Whether the OS keyring is usable and enabled for this vault.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct InitArgs {
    /// Argon2id memory in MiB (default: 64, calibrated; minimum 19).
    #[arg(long)]
    kdf_memory_mib: Option<u32>,
    /// Argon2id passes (default: calibrated to about 1 s, at least 3; minimum 2).
    #[arg(long)]
    kdf_iterations: Option<u32>,
    /// Argon2id lanes (default 4; minimum 1).
    #[arg(long)]
    kdf_parallelism: Option<u32>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ExchangeArg {
    Binance,
    Coinbase,
    Kraken,
    Okx,
    Bybit,
    Kucoin,
    Bitget,
    Other,
}

impl From<ExchangeArg> for Exchange {
    fn from(e: ExchangeArg) -> Exchange {
        match e {
            ExchangeArg::Binance => Exchange::Binance,
            ExchangeArg::Coinbase => Exchange::Coinbase,
            ExchangeArg::Kraken => Exchange::Kraken,
            ExchangeArg::Okx => Exchange::Okx,
            ExchangeArg::Bybit => Exchange::Bybit,
            ExchangeArg::Kucoin => Exchange::Kucoin,
            ExchangeArg::Bitget => Exchange::Bitget,
            ExchangeArg::Other => Exchange::Other,
        }
    }
}

#[derive(Args)]
#[group(multiple = false)]
struct SecretSource {
    /// Read the secret from stdin: line 1 the secret, line 2 the passphrase.
    #[arg(long)]
    secret_stdin: bool,
    /// Read the secret from a file (e.g. a multi-line PEM private key).
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
}

#[derive(Args)]
struct AddArgs {
    /// Exchange.
    #[arg(long, value_enum)]
    exchange: ExchangeArg,
    /// Unique label (1–64 characters).
    #[arg(long)]
    label: String,
    /// The public API key id (a Coinbase CDP key file carries it: then it
    /// may be left out).
    #[arg(long)]
    api_key: Option<String>,
    #[command(flatten)]
    secret: SecretSource,
    /// Read the passphrase from a file (with --secret-file).
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// Key type: hmac, ed25519, rsa, ecdsa_jwt. Without it, the type is
    /// recognised from the secret as the exchange hands it over (a Coinbase
    /// CDP key file, an EC or PKCS#8 PEM, a base64 Ed25519 secret).
    #[arg(long)]
    key_type: Option<String>,
    /// Declared scopes, comma-separated: read,trade,withdraw,transfer,futures,margin,options.
    #[arg(long, value_delimiter = ',', default_value = "read")]
    scopes: Vec<String>,
    /// Whitelisted IP or CIDR (repeatable).
    #[arg(long = "ip")]
    ips: Vec<String>,
    /// Use the exchange's testnet.
    #[arg(long, conflicts_with = "base_url")]
    testnet: bool,
    /// Custom base URL (https, or http to loopback).
    #[arg(long)]
    base_url: Option<String>,
    /// Rotation period in days (default: the vault setting).
    #[arg(long)]
    rotate_every: Option<u32>,
    /// A bot or tool that holds this key (repeatable; kind unspecified, see
    /// `keyward service`).
    #[arg(long = "used-by")]
    used_by: Vec<String>,
    /// Notes (not secret).
    #[arg(long, default_value = "")]
    notes: String,
}

#[derive(Args)]
struct EditArgs {
    /// The key's current label.
    label: String,
    /// New label.
    #[arg(long)]
    new_label: Option<String>,
    /// New public API key id.
    #[arg(long)]
    api_key: Option<String>,
    #[command(flatten)]
    secret: SecretSource,
    /// New passphrase from a file.
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// New key type.
    #[arg(long)]
    key_type: Option<String>,
    /// Replace the declared scopes (comma-separated).
    #[arg(long, value_delimiter = ',')]
    scopes: Option<Vec<String>>,
    /// Replace the IP whitelist (repeatable).
    #[arg(long = "ip")]
    ips: Vec<String>,
    /// Remove every whitelisted IP.
    #[arg(long, conflicts_with = "ips")]
    clear_ips: bool,
    /// Switch to mainnet.
    #[arg(long, conflicts_with_all = ["testnet", "base_url"])]
    mainnet: bool,
    /// Switch to the testnet.
    #[arg(long, conflicts_with = "base_url")]
    testnet: bool,
    /// Switch to a custom base URL.
    #[arg(long)]
    base_url: Option<String>,
    /// New rotation period in days.
    #[arg(long, conflicts_with = "rotate_default")]
    rotate_every: Option<u32>,
    /// Use the vault's default rotation period.
    #[arg(long)]
    rotate_default: bool,
    /// The services that hold the key (repeatable): names already recorded
    /// keep their kind, host and checklist; new names get kind unspecified;
    /// services not named are removed.
    #[arg(long = "used-by")]
    used_by: Vec<String>,
    /// Remove every linked service.
    #[arg(long, conflicts_with = "used_by")]
    clear_used_by: bool,
    /// Replace the notes.
    #[arg(long)]
    notes: Option<String>,
    /// New status: active, rotating, revoked, compromised.
    #[arg(long)]
    status: Option<String>,
    /// Allow `keyward run` to inject this key (needs --totp once MFA is
    /// enrolled).
    #[arg(long, conflicts_with = "deny_run")]
    allow_run: bool,
    /// Withdraw the `keyward run` grant.
    #[arg(long)]
    deny_run: bool,
    #[command(flatten)]
    proof: gated::ProofArgs,
}

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
}

impl From<VaultError> for CliError {
    fn from(e: VaultError) -> Self {
        CliError::Vault(e)
    }
}

impl From<vault::ValidationError> for CliError {
    fn from(e: vault::ValidationError) -> Self {
        CliError::Vault(VaultError::Invalid(e))
    }
}

impl CliError {
    fn kind(&self) -> ErrorKind {
        match self {
            CliError::Vault(e) => e.kind(),
            CliError::Input { .. } => ErrorKind::Invalid,
            CliError::NoPassword { .. } => ErrorKind::Locked,
        }
    }

    fn message(&self) -> String {
        match self {
            CliError::Vault(e) => gated::mfa_message(e).unwrap_or_else(|| e.to_string()),
            CliError::Input { message } => message.clone(),
            CliError::NoPassword { var } => {
                format!("no password: set ${var} or run in a terminal")
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(path) = keyward_core::paths::vault_path(cli.vault.as_deref()) else {
        say_err!("error: no vault path: pass --vault or set KEYWARD_VAULT");
        return ExitCode::from(2);
    };
    match run(&cli, &path) {
        Ok(code) => code,
        Err(err) => {
            say_err!("error: {}", err.message());
            ExitCode::from(u8::try_from(err.kind().exit_code()).unwrap_or(1))
        }
    }
}

fn unlock(path: &Path, use_keyring: bool) -> Result<Session, CliError> {
    let vault = Vault::open(path)?;
    if use_keyring {
        match vault.unlock_with_device() {
            Ok(session) => return Ok(session),
            Err(e) => say_err!("warning: {e}; falling back to the master password"),
        }
    }
    let password = input::master_password()?;
    let session = vault.unlock(&password)?;
    warn_audit_problem(&session);
    Ok(session)
}

/// The command line's banner: a broken audit chain found at unlock is
/// reported on stderr by every command (and `log --verify` exits 5).
pub(crate) fn warn_audit_problem(session: &Session) {
    if let Some(problem) = session.audit_problem() {
        say_err!(
            "warning: the audit log failed verification at unlock: {};              run `keyward log --verify`",
            problem.finding
        );
    }
}

fn parse_scopes(names: &[String]) -> Result<Vec<Scope>, CliError> {
    names
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.parse::<Scope>().map_err(CliError::from))
        .collect()
}

fn run(cli: &Cli, path: &Path) -> Result<ExitCode, CliError> {
    match &cli.command {
        Command::Status { json } => {
            output::status(path, *json);
            Ok(ExitCode::SUCCESS)
        }
        Command::Init(args) => init(path, args),
        Command::Add(args) => {
            let mut session = unlock(path, cli.use_keyring)?;
            add(&mut session, args)
        }
        Command::List { search, json } => {
            let mut session = unlock(path, cli.use_keyring)?;
            let keys = match search {
                Some(q) => session.search_keys(q)?,
                None => session.list_keys()?,
            };
            output::list(&keys, *json);
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { label, json } => {
            let mut session = unlock(path, cli.use_keyring)?;
            let detail = session.key_detail(label)?;
            output::show(&detail, *json);
            Ok(ExitCode::SUCCESS)
        }
        Command::Edit(args) => {
            let (mut session, password) = gated::unlock_keep(path, cli.use_keyring)?;
            edit(&mut session, args, password.as_ref())
        }
        Command::Passwd { proof } => {
            let vault = Vault::open(path)?;
            let current = input::master_password()?;
            let mut session = vault.unlock(&current)?;
            let grant =
                gated::grant::<actions::ChangePassword>(&mut session, proof, Some(&current))?;
            let new = input::new_master_password("KEYWARD_NEW_PASSWORD")?;
            let device = vault.info().device_unlock;
            session.change_password(Actor::Cli, grant, &current, &new)?;
            say!("master password changed; every secret is now sealed under a new vault key");
            if device {
                say!(
                    "OS-keyring unlock was turned off (it held the old key); \
                     `keyward keyring enable` sets it up again"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Kdf {
            memory_mib,
            iterations,
            parallelism,
        } => {
            let vault = Vault::open(path)?;
            let password = input::master_password()?;
            let mut session = vault.unlock(&password)?;
            let current = session.kdf_params();
            if memory_mib.is_none() && iterations.is_none() && parallelism.is_none() {
                output::kdf(&current);
                return Ok(ExitCode::SUCCESS);
            }
            let wanted = KdfParams {
                memory_kib: memory_mib.map_or(current.memory_kib, |m| m.saturating_mul(1024)),
                iterations: iterations.unwrap_or(current.iterations),
                parallelism: parallelism.unwrap_or(current.parallelism),
            };
            session.raise_kdf_params(Actor::Cli, &password, wanted)?;
            output::kdf(&wanted);
            Ok(ExitCode::SUCCESS)
        }
        Command::Settings {
            proof,
            auto_lock_minutes,
            clipboard_clear_seconds,
            default_rotation_days,
            step_up_window_seconds,
            json,
        } => {
            let (mut session, password) = gated::unlock_keep(path, cli.use_keyring)?;
            let mut s: Settings = session.settings()?;
            if let Some(v) = auto_lock_minutes {
                s.auto_lock_minutes = *v;
            }
            if let Some(v) = clipboard_clear_seconds {
                s.clipboard_clear_seconds = *v;
            }
            if let Some(v) = default_rotation_days {
                s.default_rotation_days = *v;
            }
            if let Some(v) = step_up_window_seconds {
                s.step_up_window_seconds = *v;
            }
            // The core checks the values and decides whether the change
            // needs a step-up (any change does); a refused value spends no
            // code.
            let change = session.settings_change(s)?;
            let grant = if change.needs_step_up() {
                Some(gated::grant::<actions::SecuritySettings>(
                    &mut session,
                    proof,
                    password.as_ref(),
                )?)
            } else {
                None
            };
            let s = session.apply_settings(Actor::Cli, change, grant)?;
            output::settings(&s, *json);
            Ok(ExitCode::SUCCESS)
        }
        Command::Export { out, force, proof } => {
            let overwrite = keyward_core::files::Overwrite::when(*force);
            // Before the step-up: a refused destination spends no code.
            keyward_core::files::check_destination(out, overwrite).map_err(VaultError::from)?;
            let (mut session, password) = gated::unlock_keep(path, cli.use_keyring)?;
            let grant = gated::grant::<actions::Export>(&mut session, proof, password.as_ref())?;
            let passphrase = input::backup_passphrase(true)?;
            let n = session.export_backup_with(Actor::Cli, grant, out, &passphrase, overwrite)?;
            say!("exported {n} keys to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            file,
            replace,
            json,
            proof,
        } => {
            let (mut session, password) = gated::unlock_keep(path, cli.use_keyring)?;
            // Step up first: a refused code reads and changes nothing.
            let (policy, grant) = if *replace {
                let grant = gated::grant::<actions::EditCredentials>(
                    &mut session,
                    proof,
                    password.as_ref(),
                )?;
                (ConflictPolicy::Replace, Some(grant))
            } else {
                (ConflictPolicy::Skip, None)
            };
            let passphrase = input::backup_passphrase(false)?;
            let report = session.import_backup(Actor::Cli, file, &passphrase, policy, grant)?;
            output::import(&report, *json);
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { json } => {
            let mut session = unlock(path, cli.use_keyring)?;
            let report = session.check_integrity()?;
            output::check(&report, *json);
            if report.is_ok() {
                Ok(ExitCode::SUCCESS)
            } else {
                let names: Vec<&str> = report.damaged.iter().map(|d| d.label.as_str()).collect();
                say_err!("error: integrity check failed for {}", names.join(", "));
                Ok(ExitCode::from(
                    u8::try_from(ErrorKind::Integrity.exit_code()).unwrap_or(5),
                ))
            }
        }
        Command::Keyring { action } => keyring(path, cli.use_keyring, action),
        Command::Reveal { label, proof } => gated::reveal(path, cli.use_keyring, label, proof),
        Command::Delete { label, proof } => gated::delete(path, cli.use_keyring, label, proof),
        Command::Mfa { action } => gated::mfa(path, cli.use_keyring, action),
        Command::Log(args) => gated::log(path, cli.use_keyring, args),
        Command::Verify(args) => verify::run(path, cli.use_keyring, args),
        Command::Scan(args) => scan::run(path, cli.use_keyring, args),
        Command::Health(args) => health::run(path, cli.use_keyring, args),
        Command::ImportEnv(args) => import_env::run(path, cli.use_keyring, args),
        Command::Run(args) => run::run(path, cli.use_keyring, args),
        Command::Rotate { command } => rotate::run(path, cli.use_keyring, command),
        Command::Revoke(args) => revoke::run(path, cli.use_keyring, args),
        Command::Narrow(args) => narrow::run(path, cli.use_keyring, args),
        Command::Incident { command } => incident::run(path, cli.use_keyring, command),
        Command::Service { command } => service::run(path, cli.use_keyring, command),
        Command::Alerts { command } => alerts::run(path, cli.use_keyring, command),
    }
}

fn init(path: &Path, args: &InitArgs) -> Result<ExitCode, CliError> {
    if path.exists() {
        return Err(VaultError::AlreadyExists {
            path: path.to_path_buf(),
        }
        .into());
    }
    let custom = args.kdf_memory_mib.is_some()
        || args.kdf_iterations.is_some()
        || args.kdf_parallelism.is_some();
    let kdf = if custom {
        let d = KdfParams::DEFAULT;
        KdfParams {
            memory_kib: args
                .kdf_memory_mib
                .map_or(d.memory_kib, |m| m.saturating_mul(1024)),
            iterations: args.kdf_iterations.unwrap_or(d.iterations),
            parallelism: args.kdf_parallelism.unwrap_or(d.parallelism),
        }
    } else {
        KdfParams::calibrate(Duration::from_secs(1))?
    };
    kdf.check()?;
    if !kdf.meets_default() {
        say_err!(
            "warning: key-derivation parameters ({} MiB, {} passes, {} lanes) are below the \
             default (64 MiB, 3 passes, 4 lanes); a stolen vault file is cheaper to attack",
            kdf.memory_kib / 1024,
            kdf.iterations,
            kdf.parallelism
        );
    }
    let password = input::new_master_password("KEYWARD_PASSWORD")?;
    let session = Vault::create(path, &password, kdf, Actor::Cli)?;
    say!(
        "created vault {} (Argon2id {} MiB, {} passes, {} lanes)",
        path.display(),
        kdf.memory_kib / 1024,
        kdf.iterations,
        kdf.parallelism
    );
    session.lock();
    Ok(ExitCode::SUCCESS)
}

fn add(session: &mut Session, args: &AddArgs) -> Result<ExitCode, CliError> {
    let exchange: Exchange = args.exchange.into();
    let (secret, mut passphrase) = if let Some(file) = &args.secret.secret_file {
        (input::secret_from_file(file)?, None)
    } else if args.secret.secret_stdin {
        let s = input::secrets_from_stdin()?;
        (s.secret, s.passphrase)
    } else {
        return Err(CliError::Input {
            message:
                "give the secret with --secret-stdin or --secret-file (never on the command line)"
                    .into(),
        });
    };
    if let Some(file) = &args.passphrase_file {
        passphrase = Some(input::passphrase_from_file(file)?);
    }
    let environment = if args.testnet {
        Environment::Testnet
    } else if let Some(url) = &args.base_url {
        Environment::Custom(url.clone())
    } else {
        Environment::Mainnet
    };
    // Declared, or recognised from the secret as the exchange hands it over.
    let (key_type, secret, key_name) = match &args.key_type {
        Some(kt) => (kt.parse::<KeyType>()?, secret, None),
        None => {
            let found = vault::validate::recognise_secret(exchange, secret.expose())?;
            (found.key_type, found.secret, found.key_name)
        }
    };
    let api_key_id = match (&args.api_key, key_name) {
        (Some(id), Some(name)) if *id != name => {
            return Err(CliError::Input {
                message: "--api-key differs from the key name in the key file".into(),
            });
        }
        (Some(id), _) => id.clone(),
        (None, Some(name)) => name,
        (None, None) => {
            return Err(CliError::Input {
                message: "give the key id with --api-key".into(),
            });
        }
    };
    let key = NewKey {
        label: args.label.clone(),
        exchange,
        environment,
        api_key_id,
        secret,
        passphrase,
        key_type,
        scopes: parse_scopes(&args.scopes)?,
        ip_whitelist: args.ips.clone(),
        linked_services: vault::keep_by_name(&[], &args.used_by),
        notes: args.notes.clone(),
        rotate_every_days: args.rotate_every,
    };
    let summary = session.add_key(Actor::Cli, key)?;
    // Printed only after the transaction committed: scripts may rely on it.
    say!("added {}", summary.label);
    Ok(ExitCode::SUCCESS)
}

fn edit(
    session: &mut Session,
    args: &EditArgs,
    password: Option<&vault::MasterPassword>,
) -> Result<ExitCode, CliError> {
    let mut edit = KeyEdit {
        label: args.new_label.clone(),
        api_key_id: args.api_key.clone(),
        ..KeyEdit::default()
    };
    if let Some(file) = &args.secret.secret_file {
        edit.secret = Some(input::secret_from_file(file)?);
    } else if args.secret.secret_stdin {
        let s = input::secrets_from_stdin()?;
        edit.secret = Some(s.secret);
        edit.passphrase = s.passphrase;
    }
    if let Some(file) = &args.passphrase_file {
        edit.passphrase = Some(input::passphrase_from_file(file)?);
    }
    if let Some(kt) = &args.key_type {
        edit.key_type = Some(kt.parse::<KeyType>()?);
    }
    if let Some(scopes) = &args.scopes {
        edit.scopes = Some(parse_scopes(scopes)?);
    }
    if args.clear_ips {
        edit.ip_whitelist = Some(Vec::new());
    } else if !args.ips.is_empty() {
        edit.ip_whitelist = Some(args.ips.clone());
    }
    if args.mainnet {
        edit.environment = Some(Environment::Mainnet);
    } else if args.testnet {
        edit.environment = Some(Environment::Testnet);
    } else if let Some(url) = &args.base_url {
        edit.environment = Some(Environment::Custom(url.clone()));
    }
    if args.rotate_default {
        edit.rotate_every_days = Some(None);
    } else if let Some(days) = args.rotate_every {
        edit.rotate_every_days = Some(Some(days));
    }
    if args.clear_used_by {
        edit.linked_services = Some(Vec::new());
    } else if !args.used_by.is_empty() {
        edit.linked_services = Some(args.used_by.clone());
    }
    edit.notes = args.notes.clone();
    if let Some(status) = &args.status {
        edit.status = Some(status.parse::<KeyStatus>()?);
    }
    // One step-up per command: a code is single use, so a credential change
    // and the run grant cannot share one.
    let credential_fields = edit.credential_fields();
    if !credential_fields.is_empty() && args.allow_run {
        return Err(CliError::Input {
            message: format!(
                "changing {} and --allow-run each need their own code: run them as two commands",
                credential_fields.join(", ")
            ),
        });
    }
    // Step up before the change: a refused code changes nothing.
    let credentials_grant = if credential_fields.is_empty() {
        None
    } else {
        Some(gated::grant::<actions::EditCredentials>(
            session,
            &args.proof,
            password,
        )?)
    };
    let run_grant = if args.allow_run {
        Some(gated::grant::<actions::AllowRun>(
            session,
            &args.proof,
            password,
        )?)
    } else {
        None
    };
    let changes_fields = !edit.is_empty();
    let mut label = args.label.clone();
    if changes_fields {
        label = session
            .edit_key(Actor::Cli, &args.label, edit, credentials_grant)?
            .summary
            .label;
    }
    if let Some(grant) = run_grant {
        session.set_allow_run(Actor::Cli, grant, &label, true)?;
    } else if args.deny_run {
        session.deny_run(Actor::Cli, &label)?;
    }
    say!("updated {label}");
    Ok(ExitCode::SUCCESS)
}

fn keyring(path: &Path, use_keyring: bool, action: &KeyringAction) -> Result<ExitCode, CliError> {
    match action {
        KeyringAction::Status { json } => {
            let store = vault::device_unlock_status();
            let enabled = if path.exists() {
                Some(Vault::open(path)?.info().device_unlock)
            } else {
                None
            };
            output::keyring_status(&store, enabled, *json);
            Ok(ExitCode::SUCCESS)
        }
        KeyringAction::Enable { proof } => {
            vault::require_device_unlock()?;
            let (mut session, password) = gated::unlock_keep(path, use_keyring)?;
            let grant =
                gated::grant::<actions::SecuritySettings>(&mut session, proof, password.as_ref())?;
            session.enable_device_unlock(Actor::Cli, grant)?;
            say!("this device will unlock the vault with --use-keyring");
            Ok(ExitCode::SUCCESS)
        }
        KeyringAction::Disable { proof } => {
            let (mut session, password) = gated::unlock_keep(path, use_keyring)?;
            let grant =
                gated::grant::<actions::SecuritySettings>(&mut session, proof, password.as_ref())?;
            session.disable_device_unlock(Actor::Cli, grant)?;
            say!("device unlock disabled; the device key was deleted");
            Ok(ExitCode::SUCCESS)
        }
    }
}
