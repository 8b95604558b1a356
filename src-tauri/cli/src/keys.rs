//! `keyward add` and `keyward edit`: a key's fields from the command line.
//!
//! Owns: the arguments of the two commands and turning them into the core's
//! `NewKey` / `KeyEdit`. Must never: read a secret from argv (secrets come
//! from stdin or a file), or decide what needs a step-up (the core refuses a
//! credential change without its grant; this module only asks for one).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use keyward_core::mfa::actions;
use keyward_core::model::{self, Environment, Exchange, KeyEdit, KeyStatus, KeyType, NewKey};
use keyward_core::vault::Actor;

use crate::app::{self, CliError, parse_scopes};
use crate::{gated, input};

/// `--exchange`: the model's exchange names, offered as the possible
/// values (no list of its own).
fn exchange_parser() -> impl TypedValueParser<Value = Exchange> {
    PossibleValuesParser::new(Exchange::ALL.iter().map(|e| e.as_str()))
        .map(|name| name.parse::<Exchange>().unwrap_or(Exchange::Other))
}

#[derive(Args)]
#[group(multiple = false)]
pub struct SecretSource {
    /// Read the secret from stdin: line 1 the secret, line 2 the passphrase.
    #[arg(long)]
    secret_stdin: bool,
    /// Read the secret from a file (e.g. a multi-line PEM private key).
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
}

#[derive(Args)]
pub struct AddArgs {
    /// Exchange.
    #[arg(long, value_parser = exchange_parser())]
    exchange: Exchange,
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
pub struct EditArgs {
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

/// `keyward add`.
pub fn add(path: &Path, use_keyring: bool, args: &AddArgs) -> Result<ExitCode, CliError> {
    let mut session = app::unlock(path, use_keyring)?;
    let exchange = args.exchange;
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
            let found = model::validate::recognise_secret(exchange, secret.expose())?;
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
        linked_services: model::keep_by_name(&[], &args.used_by),
        notes: args.notes.clone(),
        rotate_every_days: args.rotate_every,
    };
    let summary = session.add_key(Actor::Cli, key)?;
    // Printed only after the transaction committed: scripts may rely on it.
    say!("added {}", summary.label);
    Ok(ExitCode::SUCCESS)
}

/// `keyward edit`.
pub fn edit(path: &Path, use_keyring: bool, args: &EditArgs) -> Result<ExitCode, CliError> {
    let (mut session, password) = app::unlock_keep(path, use_keyring)?;
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
            &mut session,
            &args.proof,
            password.as_ref(),
        )?)
    };
    let run_grant = if args.allow_run {
        Some(gated::grant::<actions::AllowRun>(
            &mut session,
            &args.proof,
            password.as_ref(),
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
