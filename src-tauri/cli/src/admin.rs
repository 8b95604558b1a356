//! Vault administration: `keyward init`, `passwd`, `kdf`, `settings`,
//! `export`, `import`, `check` and `keyring …`.
//!
//! Owns: these commands' arguments and output. Must never: take a password
//! or a backup passphrase from argv (environment variable or prompt), or
//! decide a rule (the core validates parameters and gates every security
//! setting).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use keyward_core::ErrorKind;
use keyward_core::mfa::actions;
use keyward_core::vault::{self, Actor, ConflictPolicy, KdfParams, Settings, Vault, VaultError};

use crate::app::{self, CliError};
use crate::{gated, input, output};

/// Arguments of `keyward init`.
#[derive(Args)]
pub struct InitArgs {
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

/// Arguments of `keyward kdf`.
#[derive(Args)]
pub struct KdfArgs {
    /// New memory in MiB.
    #[arg(long)]
    pub memory_mib: Option<u32>,
    /// New number of passes.
    #[arg(long)]
    pub iterations: Option<u32>,
    /// New parallelism.
    #[arg(long)]
    pub parallelism: Option<u32>,
}

/// Arguments of `keyward settings`.
#[derive(Args)]
pub struct SettingsArgs {
    #[command(flatten)]
    pub proof: gated::ProofArgs,
    /// Lock after this many idle minutes.
    #[arg(long)]
    pub auto_lock_minutes: Option<u32>,
    /// Clear the clipboard after this many seconds.
    #[arg(long)]
    pub clipboard_clear_seconds: Option<u32>,
    /// Default rotation period in days.
    #[arg(long)]
    pub default_rotation_days: Option<u32>,
    /// MFA step-up window in seconds.
    #[arg(long)]
    pub step_up_window_seconds: Option<u32>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `keyward export`.
#[derive(Args)]
pub struct ExportArgs {
    /// The backup file to create (mode 0600; must not exist unless
    /// --force; never through a symbolic link).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub proof: gated::ProofArgs,
}

/// Arguments of `keyward import`.
#[derive(Args)]
pub struct ImportArgs {
    /// The backup file.
    pub file: PathBuf,
    /// Replace keys whose label already exists instead of skipping them
    /// (needs --totp once MFA is enrolled: it deletes the existing keys).
    #[arg(long)]
    pub replace: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub proof: gated::ProofArgs,
}

/// `keyward keyring …`.
#[derive(Subcommand, Clone)]
pub enum KeyringAction {
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

/// `keyward init`.
pub fn init(path: &Path, args: &InitArgs) -> Result<ExitCode, CliError> {
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
    let session = Vault::create_with(path, &password, kdf, app::vault_options())?;
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

/// `keyward passwd`.
pub fn passwd(path: &Path, proof: &gated::ProofArgs) -> Result<ExitCode, CliError> {
    let vault = Vault::open_with(path, app::vault_options())?;
    let current = input::master_password()?;
    let mut session = vault.unlock(&current)?;
    let grant = gated::grant::<actions::ChangePassword>(&mut session, proof, Some(&current))?;
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

/// `keyward kdf`.
pub fn kdf(path: &Path, args: &KdfArgs) -> Result<ExitCode, CliError> {
    let KdfArgs {
        memory_mib,
        iterations,
        parallelism,
    } = args;
    let vault = Vault::open_with(path, app::vault_options())?;
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

/// `keyward settings`.
pub fn settings(path: &Path, use_keyring: bool, args: &SettingsArgs) -> Result<ExitCode, CliError> {
    let SettingsArgs {
        proof,
        auto_lock_minutes,
        clipboard_clear_seconds,
        default_rotation_days,
        step_up_window_seconds,
        json,
    } = args;
    let (mut session, password) = app::unlock_keep(path, use_keyring)?;
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
    // The core checks the values and decides whether the change needs a
    // step-up (any change does); a refused value spends no code.
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

/// `keyward export`.
pub fn export(path: &Path, use_keyring: bool, args: &ExportArgs) -> Result<ExitCode, CliError> {
    let ExportArgs { out, force, proof } = args;
    let overwrite = keyward_core::files::Overwrite::when(*force);
    // Before the step-up: a refused destination spends no code.
    keyward_core::files::check_destination(out, overwrite).map_err(VaultError::from)?;
    let (mut session, password) = app::unlock_keep(path, use_keyring)?;
    let grant = gated::grant::<actions::Export>(&mut session, proof, password.as_ref())?;
    let passphrase = input::backup_passphrase(true)?;
    let n = session.export_backup_with(Actor::Cli, grant, out, &passphrase, overwrite)?;
    say!("exported {n} keys to {}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// `keyward import`.
pub fn import(path: &Path, use_keyring: bool, args: &ImportArgs) -> Result<ExitCode, CliError> {
    let ImportArgs {
        file,
        replace,
        json,
        proof,
    } = args;
    let (mut session, password) = app::unlock_keep(path, use_keyring)?;
    // Step up first: a refused code reads and changes nothing.
    let (policy, grant) = if *replace {
        let grant =
            gated::grant::<actions::EditCredentials>(&mut session, proof, password.as_ref())?;
        (ConflictPolicy::Replace, Some(grant))
    } else {
        (ConflictPolicy::Skip, None)
    };
    let passphrase = input::backup_passphrase(false)?;
    let report = session.import_backup(Actor::Cli, file, &passphrase, policy, grant)?;
    output::import(&report, *json);
    Ok(ExitCode::SUCCESS)
}

/// `keyward check`: opens every sealed field, verifies every row's MAC
/// (keys, deployment targets and grants) and that no deployment row the
/// audit log records was deleted.
pub fn check(path: &Path, use_keyring: bool, json: bool) -> Result<ExitCode, CliError> {
    let mut session = app::unlock(path, use_keyring)?;
    let mut report = session.check_integrity()?;
    report.damaged.extend(session.check_deploy_integrity()?);
    output::check(&report, json);
    if report.is_ok() {
        Ok(ExitCode::SUCCESS)
    } else {
        let names: Vec<&str> = report.damaged.iter().map(|d| d.label.as_str()).collect();
        say_err!("error: integrity check failed for {}", names.join(", "));
        Ok(app::exit(ErrorKind::Integrity))
    }
}

/// `keyward keyring …`.
pub fn keyring(
    path: &Path,
    use_keyring: bool,
    action: &KeyringAction,
) -> Result<ExitCode, CliError> {
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
            let (mut session, password) = app::unlock_keep(path, use_keyring)?;
            let grant =
                gated::grant::<actions::SecuritySettings>(&mut session, proof, password.as_ref())?;
            session.enable_device_unlock(Actor::Cli, grant)?;
            say!("this device will unlock the vault with --use-keyring");
            Ok(ExitCode::SUCCESS)
        }
        KeyringAction::Disable { proof } => {
            let (mut session, password) = app::unlock_keep(path, use_keyring)?;
            let grant =
                gated::grant::<actions::SecuritySettings>(&mut session, proof, password.as_ref())?;
            session.disable_device_unlock(Actor::Cli, grant)?;
            say!("device unlock disabled; the device key was deleted");
            Ok(ExitCode::SUCCESS)
        }
    }
}
