//! `keyward target …` (deployment targets), `keyward deploy LABEL --to
//! TARGET` and, on the server, `keyward identity new`.
//!
//! Owns: the commands' arguments and output, and the SSH client options
//! (`--ssh-identity`; `$KEYWARD_SSH_OPTIONS` in debug builds only, for the
//! test suite). Must never: decide what the core decides (validation,
//! MACs, which keys go, the host-key pin), print a secret, or write a
//! bundle's plaintext anywhere.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use keyward_core::deploy::{self, DeployTarget, NewTarget, SshOptions};
use keyward_core::files::{self, Overwrite};
use keyward_core::mfa::actions;
use keyward_core::vault::Actor;
use secrecy::ExposeSecret;

use crate::app::{self, CliError};
use crate::gated::{ProofArgs, grant};

/// `keyward target …`
#[derive(Subcommand)]
pub enum TargetCommand {
    /// Add a server to deploy keys to (needs --totp). Its SSH host key is
    /// pinned by the first `keyward deploy`.
    Add(AddArgs),
    /// List the targets, their pinned host keys and keys (with the last
    /// delivery of each).
    List {
        /// Only targets the key with this label is granted to.
        #[arg(long, value_name = "LABEL")]
        key: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Give a target a key: `keyward deploy` then puts it in the target's
    /// bundle (needs --totp).
    Grant {
        /// The target.
        name: String,
        /// The key's label.
        label: String,
        #[command(flatten)]
        proof: ProofArgs,
    },
    /// Take a key out of a target's grants (the next deploy leaves it out;
    /// needs --totp).
    Withdraw {
        /// The target.
        name: String,
        /// The key's label.
        label: String,
        #[command(flatten)]
        proof: ProofArgs,
    },
    /// Forget a target (the bundle on the server stays; remove it there;
    /// needs --totp).
    Remove {
        /// The target.
        name: String,
        #[command(flatten)]
        proof: ProofArgs,
    },
}

/// `keyward target add` arguments.
#[derive(Args)]
pub struct AddArgs {
    /// The target's name (letters, digits, '.', '_', '-'); the bundle on
    /// the server is PATH/NAME.age.
    name: String,
    /// user@host or user@host:port.
    #[arg(long, value_name = "USER@HOST[:PORT]")]
    ssh: String,
    /// The directory on the server (relative paths are under the user's
    /// home).
    #[arg(long, value_name = "DIR")]
    path: String,
    /// The server's recipient: the age1… key `keyward identity new` printed
    /// there, or the server's ssh-ed25519 public key.
    #[arg(long, value_name = "KEY")]
    recipient: String,
    #[command(flatten)]
    proof: ProofArgs,
}

/// `keyward deploy` arguments.
#[derive(Args)]
pub struct DeployArgs {
    /// A key granted to the target; the bundle holds every key granted to
    /// it, under `keyward run`'s variable names.
    label: String,
    /// The target.
    #[arg(
        long = "to",
        value_name = "TARGET",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    target: Option<String>,
    /// Every target the key is granted to (after a rotation: before
    /// `keyward rotate revoke-old`).
    #[arg(long)]
    all: bool,
    /// The SSH private key to log in with (default: the SSH client's own
    /// configuration and agent).
    #[arg(long, value_name = "FILE")]
    ssh_identity: Option<PathBuf>,
    #[command(flatten)]
    proof: ProofArgs,
}

/// `keyward identity …`
#[derive(Subcommand)]
pub enum IdentityCommand {
    /// Create this server's identity (mode 0600) and print its recipient,
    /// for `keyward target add … --recipient`.
    New {
        /// Where to write it (default: ~/.config/keyward/identity).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Replace an existing file (bundles sealed to the old one can no
        /// longer be opened).
        #[arg(long)]
        force: bool,
    },
}

fn print_target(t: &DeployTarget) {
    say!(
        "{}  {}@{}:{}  {}",
        t.name,
        t.user,
        t.host,
        t.port,
        t.remote_file()
    );
    say!("  recipient: {}", t.recipient);
    match &t.host_key {
        Some(k) => say!("  host key:  {k}"),
        None => say!("  host key:  not pinned yet (the first deploy pins it)"),
    }
    if t.keys.is_empty() {
        say!("  keys:      none granted");
    }
    for k in &t.keys {
        match k.deployed_at {
            Some(at) => say!(
                "  key {}: deployed {}",
                k.label,
                keyward_core::alerts::format_time(at)
            ),
            None => say!("  key {}: not deployed yet", k.label),
        }
    }
}

/// Runs `keyward target …`.
pub fn target(path: &Path, use_keyring: bool, cmd: &TargetCommand) -> Result<ExitCode, CliError> {
    let (mut session, password) = app::unlock_keep(path, use_keyring)?;
    match cmd {
        TargetCommand::Add(a) => {
            let new = NewTarget {
                name: a.name.clone(),
                ssh: a.ssh.clone(),
                remote_path: a.path.clone(),
                recipient: a.recipient.clone(),
            };
            let g = grant::<actions::DeployTargets>(&mut session, &a.proof, password.as_ref())?;
            let t = session.add_deploy_target(Actor::Cli, g, &new)?;
            say!("added deployment target {}", t.name);
            say!(
                "next: `keyward target grant {} LABEL --totp CODE`, then `keyward deploy LABEL --to {}`",
                t.name,
                t.name
            );
        }
        TargetCommand::List { key, json } => {
            let mut targets = session.deploy_targets()?;
            if let Some(label) = key {
                session.key_detail(label)?;
                targets.retain(|t| t.keys.iter().any(|k| &k.label == label));
            }
            if *json {
                say!(
                    "{}",
                    serde_json::to_string(&targets).unwrap_or_else(|_| "[]".into())
                );
            } else if targets.is_empty() {
                say!("no deployment targets");
            } else {
                for t in &targets {
                    print_target(t);
                }
            }
        }
        TargetCommand::Grant { name, label, proof } => {
            let g = grant::<actions::DeployTargets>(&mut session, proof, password.as_ref())?;
            session.grant_deploy_target(Actor::Cli, g, name, label, true)?;
            say!("granted {label} to {name}; deliver it with `keyward deploy {label} --to {name}`");
        }
        TargetCommand::Withdraw { name, label, proof } => {
            let g = grant::<actions::DeployTargets>(&mut session, proof, password.as_ref())?;
            session.grant_deploy_target(Actor::Cli, g, name, label, false)?;
            say!("withdrew {label} from {name}; the next deploy to {name} leaves it out");
        }
        TargetCommand::Remove { name, proof } => {
            let g = grant::<actions::DeployTargets>(&mut session, proof, password.as_ref())?;
            session.remove_deploy_target(Actor::Cli, g, name)?;
            say!("removed {name}; the bundle on the server is still there: delete it there");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `keyward deploy LABEL --to TARGET` (or `--all`): every bundle is
/// sealed first, then each is copied and recorded; a target that fails
/// does not stop the others, and the first failure decides the exit code.
pub fn deploy(path: &Path, use_keyring: bool, args: &DeployArgs) -> Result<ExitCode, CliError> {
    let (mut session, password) = app::unlock_keep(path, use_keyring)?;
    let g = grant::<actions::Deploy>(&mut session, &args.proof, password.as_ref())?;
    let prepared = match &args.target {
        Some(target) => vec![session.prepare_deploy(g, &args.label, target)?],
        None => session.prepare_deploy_all(g, &args.label)?,
    };
    let opts = SshOptions::beside_vault(path, args.ssh_identity.as_deref());
    let mut first_error: Option<CliError> = None;
    for p in prepared {
        let name = p.target().name.clone();
        let labels = p.labels();
        // The network step holds no transaction; the bundle is sealed already.
        let delivered = match deploy::deliver(p, &opts) {
            Ok(d) => d,
            Err(e) => {
                let e = CliError::from(e);
                if args.all {
                    say_err!("error: {}", e.message());
                }
                first_error.get_or_insert(e);
                continue;
            }
        };
        if let Some(pin) = delivered.newly_pinned() {
            say!("pinned the host key of {name}: {pin}");
        }
        let target = session.record_deploy(Actor::Cli, delivered)?;
        say!(
            "deployed {} to {} ({}@{}:{})",
            labels.join(", "),
            target.remote_file(),
            target.user,
            target.host,
            target.port
        );
    }
    match first_error {
        Some(e) if args.all => Ok(app::exit(e.kind())),
        Some(e) => Err(e),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// `~/.config/keyward/identity` ($XDG_CONFIG_HOME first).
fn default_identity() -> Result<PathBuf, CliError> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .ok_or_else(|| CliError::Input {
            message: "no home directory: pass --out FILE".into(),
        })?;
    Ok(base.join("keyward").join("identity"))
}

/// Runs `keyward identity …` (no vault).
pub fn identity(cmd: &IdentityCommand) -> Result<ExitCode, CliError> {
    match cmd {
        IdentityCommand::New { out, force } => {
            let out = match out {
                Some(p) => p.clone(),
                None => default_identity()?,
            };
            if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
                files::create_private_dir(parent).map_err(CliError::from_kinded)?;
            }
            let (text, recipient) = deploy::new_identity();
            files::write_private(
                &out,
                text.expose_secret().as_bytes(),
                Overwrite::when(*force),
            )
            .map_err(CliError::from_kinded)?;
            say_err!("wrote the identity to {} (keep it private)", out.display());
            say!("{recipient}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
