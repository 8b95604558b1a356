//! `keyward run`: starts a command with keys from the vault as environment
//! variables, so a bot needs no plaintext `.env` file.
//!
//! Only keys with the "allow run" grant are handed out (else exit 4); each
//! use is audited by the vault. On a server, `--bundle FILE --identity
//! FILE` takes the same variables from a bundle `keyward deploy` sealed,
//! opened in memory, without a vault (a tampered bundle exits 5, an
//! identity it was not sealed to exits 3). The vault is locked before the command
//! starts. SIGTERM, SIGINT and SIGHUP are forwarded to the child; its exit
//! code is passed through (128 + signal when it was killed by one). Must
//! never: put a secret in argv or a file, or pass the master password's
//! variables on to the child.

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::Args;
use keyward_core::KindedError;
use keyward_core::vault::Actor;
use keyward_core::vault::material::EnvOverride;
use secrecy::{ExposeSecret, SecretString};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::app::{self, CliError, fail};

/// Arguments of `keyward run`.
///
/// Default variables per exchange (key id, secret, passphrase):
/// BINANCE_API_KEY, BINANCE_API_SECRET; COINBASE_API_KEY, COINBASE_API_SECRET;
/// KRAKEN_API_KEY, KRAKEN_API_SECRET; OKX_API_KEY, OKX_API_SECRET,
/// OKX_API_PASSPHRASE; BYBIT_API_KEY, BYBIT_API_SECRET; KUCOIN_API_KEY,
/// KUCOIN_API_SECRET, KUCOIN_API_PASSPHRASE; BITGET_API_KEY, BITGET_API_SECRET,
/// BITGET_API_PASSPHRASE; other exchanges: API_KEY, API_SECRET, API_PASSPHRASE.
#[derive(Args)]
#[command(after_help = "Default variables (key id, secret, passphrase):
  binance   BINANCE_API_KEY, BINANCE_API_SECRET
  coinbase  COINBASE_API_KEY, COINBASE_API_SECRET
  kraken    KRAKEN_API_KEY, KRAKEN_API_SECRET
  okx       OKX_API_KEY, OKX_API_SECRET, OKX_API_PASSPHRASE
  bybit     BYBIT_API_KEY, BYBIT_API_SECRET
  kucoin    KUCOIN_API_KEY, KUCOIN_API_SECRET, KUCOIN_API_PASSPHRASE
  bitget    BITGET_API_KEY, BITGET_API_SECRET, BITGET_API_PASSPHRASE
  other     API_KEY, API_SECRET, API_PASSPHRASE
Override with --env (e.g. ccxt's test harness: --env BINANCE_APIKEY=key_id --env BINANCE_SECRET=secret).
The vault is locked before CMD starts; SIGTERM, SIGINT and SIGHUP are forwarded; the exit code is CMD's (128 + signal if it was killed). Each run is audited.")]
pub struct RunArgs {
    /// A key to hand to the command (repeatable). It needs the "allow run"
    /// grant: keyward edit LABEL --allow-run --totp CODE.
    #[arg(
        long = "key",
        required_unless_present = "bundle",
        conflicts_with = "bundle",
        value_name = "LABEL"
    )]
    keys: Vec<String>,
    /// Put a field in a variable of your choosing instead of the default:
    /// NAME=field, or NAME=LABEL:field with several keys (field: key_id,
    /// secret, passphrase). Repeatable. Example: --env BINANCE_SECRET=secret.
    #[arg(long = "env", value_name = "NAME=field", conflicts_with = "bundle")]
    env: Vec<String>,
    /// On a server: take the variables from a bundle `keyward deploy`
    /// wrote (no vault, no master password), opened in memory with
    /// --identity.
    #[arg(long, value_name = "FILE", requires = "identity")]
    pub bundle: Option<PathBuf>,
    /// The server's identity for --bundle (`keyward identity new`), or an
    /// unencrypted OpenSSH ed25519 private key.
    #[arg(long, value_name = "FILE", requires = "bundle")]
    identity: Option<PathBuf>,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<OsString>,
}

/// Variables that unlock Keyward itself: never inherited by the child.
const WITHHELD: &[&str] = &[
    "KEYWARD_PASSWORD",
    "KEYWARD_NEW_PASSWORD",
    "KEYWARD_BACKUP_PASSPHRASE",
];

/// Runs `keyward run`.
pub fn run(vault: &Path, use_keyring: bool, args: &RunArgs) -> Result<ExitCode, CliError> {
    let mut overrides = Vec::new();
    for spec in &args.env {
        match EnvOverride::parse(spec) {
            Ok(o) => overrides.push(o),
            Err(e) => return Ok(fail(&e)),
        }
    }
    let Some((program, rest)) = args.command.split_first() else {
        return Err(CliError::Input {
            message: "give the command after --".into(),
        });
    };
    let vars: Vec<(String, SecretString)> = {
        let mut session = app::unlock(vault, use_keyring)?;
        let vars = match session.run_env(Actor::Cli, &args.keys, &overrides) {
            Ok(v) => v,
            Err(e) => {
                if e.kind() == keyward_core::ErrorKind::Mfa {
                    say_err!(
                        "error: a key lacks the \"allow run\" grant; allow it with \
                         `keyward edit LABEL --allow-run --totp CODE`"
                    );
                    return Ok(app::exit(keyward_core::ErrorKind::Mfa));
                }
                return Ok(fail(&e));
            }
        };
        // The vault key is gone before the command starts.
        session.lock();
        vars.into_iter().map(|v| (v.name, v.value)).collect()
    };
    exec(program, rest, vars)
}

/// Runs `keyward run --bundle FILE --identity FILE -- CMD` (no vault).
pub fn run_bundle(args: &RunArgs) -> Result<ExitCode, CliError> {
    let (Some(bundle), Some(identity)) = (&args.bundle, &args.identity) else {
        return Err(CliError::Input {
            message: "--bundle needs --identity".into(),
        });
    };
    let Some((program, rest)) = args.command.split_first() else {
        return Err(CliError::Input {
            message: "give the command after --".into(),
        });
    };
    let read_err = |what: &str, path: &Path, e: std::io::Error| CliError::Input {
        message: format!("cannot read the {what} {}: {e}", path.display()),
    };
    let sealed = read_sealed(bundle).map_err(|e| read_err("bundle", bundle, e))?;
    let id_file = std::fs::File::open(identity).map_err(|e| read_err("identity", identity, e))?;
    let id_bytes = keyward_core::files::read_limited(id_file, "identity", identity)
        .map_err(CliError::from_kinded)?;
    let opened = keyward_core::deploy::open_bundle(
        &sealed,
        &id_bytes,
        &bundle.display().to_string(),
        &identity.display().to_string(),
    )?;
    drop(id_bytes);
    let vars = opened.vars.into_iter().map(|v| (v.name, v.value)).collect();
    exec(program, rest, vars)
}

/// The sealed bundle's bytes (ciphertext), at most 8 MiB.
fn read_sealed(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut out = Vec::new();
    std::fs::File::open(path)?
        .take(8 * 1024 * 1024)
        .read_to_end(&mut out)?;
    Ok(out)
}

/// Starts `program` with `vars` added to the environment (Keyward's own
/// unlocking variables removed), forwards signals, passes its status on.
fn exec(
    program: &OsString,
    rest: &[OsString],
    vars: Vec<(String, SecretString)>,
) -> Result<ExitCode, CliError> {
    // Registered before the child exists, so a signal in between is not
    // lost and does not kill us first.
    let mut signals = match Signals::new([SIGTERM, SIGINT, SIGHUP]) {
        Ok(s) => s,
        Err(e) => {
            return Err(CliError::Input {
                message: format!("cannot install signal handlers: {e}"),
            });
        }
    };
    let mut cmd = Command::new(program);
    cmd.args(rest);
    for name in WITHHELD {
        cmd.env_remove(name);
    }
    for (name, value) in &vars {
        cmd.env(name, value.expose_secret());
    }
    let spawned = cmd.spawn();
    // The command holds its own copy now.
    drop(cmd);
    drop(vars);
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            signals.handle().close();
            say_err!("error: cannot start {}: {e}", program.to_string_lossy());
            return Ok(ExitCode::from(
                if e.kind() == std::io::ErrorKind::NotFound {
                    127
                } else {
                    126
                },
            ));
        }
    };
    let pid = i32::try_from(child.id())
        .ok()
        .and_then(rustix::process::Pid::from_raw);
    let handle = signals.handle();
    let forwarder = std::thread::spawn(move || {
        for sig in signals.forever() {
            let signal = match sig {
                SIGTERM => rustix::process::Signal::TERM,
                SIGINT => rustix::process::Signal::INT,
                SIGHUP => rustix::process::Signal::HUP,
                _ => continue,
            };
            if let Some(pid) = pid {
                let _ = rustix::process::kill_process(pid, signal);
            }
        }
    });
    let status = child.wait();
    handle.close();
    let _ = forwarder.join();
    let status = status.map_err(|e| CliError::Input {
        message: format!("waiting for the command failed: {e}"),
    })?;
    let code = match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        (None, None) => 1,
    };
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}
