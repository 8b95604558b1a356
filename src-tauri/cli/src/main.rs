//! `keyward`: the command-line front end. It parses arguments, asks the core,
//! and maps the core's error kinds to the exit codes of DESIGN §6. It holds no
//! policy of its own.
//!
//! Secret material never comes from argv: the master password comes from
//! `$KEYWARD_PASSWORD` (meant for automation) or a terminal prompt; API
//! secrets from stdin (`--secret-stdin`: line 1 the secret, line 2 the
//! passphrase) or a file (`--secret-file`, `--passphrase-file`).

#[macro_use]
mod app;

mod admin;
mod alerts;
mod deploy;
mod gated;
mod health;
mod import_env;
mod incident;
mod input;
mod keys;
mod managed;
mod narrow;
mod output;
mod revoke;
mod rotate;
mod rotate_auto;
mod run;
mod scan;
mod service;
mod verify;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use app::CliError;

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
    Init(admin::InitArgs),
    /// Add a key. The secret comes from stdin or a file, never from argv.
    Add(keys::AddArgs),
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
    Edit(keys::EditArgs),
    /// Change the master password ($KEYWARD_NEW_PASSWORD or a prompt); needs
    /// --totp once MFA is enrolled.
    Passwd {
        #[command(flatten)]
        proof: gated::ProofArgs,
    },
    /// Show or raise the key-derivation (Argon2id) parameters.
    Kdf(admin::KdfArgs),
    /// Show or change the vault settings (any change needs --totp once MFA
    /// is enrolled, the master password before).
    Settings(admin::SettingsArgs),
    /// Write an encrypted backup ($KEYWARD_BACKUP_PASSPHRASE or a prompt).
    Export(admin::ExportArgs),
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
    Import(admin::ImportArgs),
    /// Open every sealed field; exit 5 naming damaged records.
    Check {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Unlock through the OS keyring ("remember on this device").
    Keyring {
        #[command(subcommand)]
        action: admin::KeyringAction,
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
    /// Servers to deploy keys to, sealed: add, list, grant, withdraw,
    /// remove (see `keyward target --help`).
    Target {
        #[command(subcommand)]
        command: deploy::TargetCommand,
    },
    /// Seal the keys granted to a target to its recipient and copy them
    /// there over SSH (atomically, mode 0600); needs --totp. On the server:
    /// `keyward run --bundle FILE --identity FILE -- CMD`.
    Deploy(deploy::DeployArgs),
    /// On a server: create the identity bundles are sealed to (`identity
    /// new`), and print its recipient.
    Identity {
        #[command(subcommand)]
        command: deploy::IdentityCommand,
    },
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
    /// The account's manager key: mark, unmark, list.
    Manager {
        #[command(subcommand)]
        command: managed::ManagerCommand,
    },
    /// List every API key of an exchange account through its manager key,
    /// next to the vault (known, unknown, missing); `inventory revoke`
    /// deletes an unknown one.
    Inventory(managed::InventoryArgs),
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The server side needs no vault.
    let serverside = match &cli.command {
        Command::Identity { command } => Some(deploy::identity(command)),
        Command::Run(args) if args.bundle.is_some() => Some(run::run_bundle(args)),
        _ => None,
    };
    if let Some(result) = serverside {
        return result.unwrap_or_else(|err| err.report());
    }
    let Some(path) = keyward_core::paths::vault_path(cli.vault.as_deref()) else {
        say_err!("error: no vault path: pass --vault or set KEYWARD_VAULT");
        return ExitCode::from(app::USAGE_EXIT_CODE);
    };
    match run(&cli, &path) {
        Ok(code) => code,
        Err(err) => err.report(),
    }
}

fn run(cli: &Cli, path: &Path) -> Result<ExitCode, CliError> {
    match &cli.command {
        Command::Status { json } => {
            output::status(path, *json);
            Ok(ExitCode::SUCCESS)
        }
        Command::Init(args) => admin::init(path, args),
        Command::Add(args) => keys::add(path, cli.use_keyring, args),
        Command::List { search, json } => {
            let mut session = app::unlock(path, cli.use_keyring)?;
            let keys = match search {
                Some(q) => session.search_keys(q)?,
                None => session.list_keys()?,
            };
            output::list(&keys, *json);
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { label, json } => {
            let mut session = app::unlock(path, cli.use_keyring)?;
            let detail = session.key_detail(label)?;
            output::show(&detail, *json);
            Ok(ExitCode::SUCCESS)
        }
        Command::Edit(args) => keys::edit(path, cli.use_keyring, args),
        Command::Passwd { proof } => admin::passwd(path, proof),
        Command::Kdf(args) => admin::kdf(path, args),
        Command::Settings(args) => admin::settings(path, cli.use_keyring, args),
        Command::Export(args) => admin::export(path, cli.use_keyring, args),
        Command::Import(args) => admin::import(path, cli.use_keyring, args),
        Command::Check { json } => admin::check(path, cli.use_keyring, *json),
        Command::Keyring { action } => admin::keyring(path, cli.use_keyring, action),
        Command::Reveal { label, proof } => gated::reveal(path, cli.use_keyring, label, proof),
        Command::Delete { label, proof } => gated::delete(path, cli.use_keyring, label, proof),
        Command::Mfa { action } => gated::mfa(path, cli.use_keyring, action),
        Command::Log(args) => gated::log(path, cli.use_keyring, args),
        Command::Verify(args) => verify::run(path, cli.use_keyring, args),
        Command::Scan(args) => scan::run(path, cli.use_keyring, args),
        Command::Health(args) => health::run(path, cli.use_keyring, args),
        Command::ImportEnv(args) => import_env::run(path, cli.use_keyring, args),
        Command::Run(args) => run::run(path, cli.use_keyring, args),
        Command::Target { command } => deploy::target(path, cli.use_keyring, command),
        Command::Deploy(args) => deploy::deploy(path, cli.use_keyring, args),
        Command::Identity { command } => deploy::identity(command),
        Command::Rotate { command } => rotate::run(path, cli.use_keyring, command),
        Command::Revoke(args) => revoke::run(path, cli.use_keyring, args),
        Command::Narrow(args) => narrow::run(path, cli.use_keyring, args),
        Command::Manager { command } => managed::manager(path, cli.use_keyring, command),
        Command::Inventory(args) => managed::inventory(path, cli.use_keyring, args),
        Command::Incident { command } => incident::run(path, cli.use_keyring, command),
        Command::Service { command } => service::run(path, cli.use_keyring, command),
        Command::Alerts { command } => alerts::run(path, cli.use_keyring, command),
    }
}
