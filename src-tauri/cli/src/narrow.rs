//! `keyward narrow LABEL [--drop GROUP.ITEM]... [--remove-withdraw]
//! [--read-only]`: narrows a key at its exchange where the exchange lets a
//! key narrow itself through its API (Bybit), then checks it live. Without
//! a change it lists the permissions the key holds that can be dropped, as
//! the core names and labels them.
//!
//! Owns: the command's arguments, output and exit code. Must never: print a
//! secret, spell an exchange's permission names itself (they come from the
//! core's live check), or narrow without the core's step-up gate.
//!
//! Exit codes: 0 narrowed (or listed); 1 a name the key cannot drop, or the
//! exchange cannot narrow through its API (nothing sent, no code spent);
//! 4 MFA; 6 the exchange refused or could not be reached; 7 no such key.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use keyward_core::checks::{self, CheckSelection, KeyVerification, NarrowError};
use keyward_core::exchange::Narrowing;
use keyward_core::mfa::actions;
use keyward_core::vault::Actor;
use keyward_core::{ErrorKind, KindedError};

use crate::app::{self, CliError, exit, json, network};
use crate::gated;

/// Arguments of `keyward narrow`.
#[derive(Args)]
pub struct NarrowArgs {
    /// The key's label.
    label: String,
    /// Drop this permission (repeatable), named as `keyward narrow LABEL`
    /// lists them, e.g. `Wallet.AccountTransfer`. Only permissions the key
    /// holds and the exchange lets it drop through the API are accepted.
    #[arg(long = "drop", value_name = "GROUP.ITEM")]
    drop: Vec<String>,
    /// Drop the withdrawal permission if the key holds it.
    #[arg(long)]
    remove_withdraw: bool,
    /// Make the key read-only.
    #[arg(long)]
    read_only: bool,
    #[command(flatten)]
    proof: gated::ProofArgs,
    /// Print JSON (the live check after narrowing, or the one listing).
    #[arg(long)]
    json: bool,
    /// Seconds to wait for each exchange answer (1–120).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
    timeout: u64,
}

/// Runs the command.
pub fn run(path: &Path, use_keyring: bool, args: &NarrowArgs) -> Result<ExitCode, CliError> {
    let (mut session, password) = app::unlock_keep(path, use_keyring)?;
    session.key_detail(&args.label)?;
    let (client, runtime) = match network(args.timeout) {
        Ok(n) => n,
        Err(code) => return Ok(code),
    };
    // A live check first: it says what the key can drop, so a wrong name
    // fails here, before a code is spent or anything is sent.
    let selection = CheckSelection::Labels(vec![args.label.clone()]);
    let checked = runtime.block_on(checks::verify_session(
        &mut session,
        &client,
        &selection,
        Actor::Cli,
    ))?;
    let Some(check) = checked.into_iter().next() else {
        say_err!("error: {}: no such key", args.label);
        return Ok(exit(ErrorKind::NotFound));
    };
    if let Some(code) = unusable(&check) {
        return Ok(code);
    }
    let changes = !args.drop.is_empty() || args.remove_withdraw || args.read_only;
    if !changes {
        if args.json {
            json(&check);
        } else {
            list(&check);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !check.narrow_via_api {
        say_err!(
            "error: {} cannot narrow a key through its API: narrow {} on the exchange's website, then run `keyward verify {}`",
            check.exchange.display_name(),
            args.label,
            args.label
        );
        return Ok(exit(ErrorKind::Invalid));
    }
    let unknown: Vec<&String> = args
        .drop
        .iter()
        .filter(|d| !check.removable.iter().any(|r| &r.name == *d))
        .collect();
    if !unknown.is_empty() {
        let names: Vec<String> = unknown.iter().map(|u| format!("{u:?}")).collect();
        say_err!(
            "error: {} cannot drop {}: it is not a permission the key holds and can drop through the API",
            args.label,
            names.join(", ")
        );
        list_to_stderr(&check);
        return Ok(exit(ErrorKind::Invalid));
    }
    let grant =
        gated::grant::<actions::SecuritySettings>(&mut session, &args.proof, password.as_ref())?;
    let narrowing = Narrowing {
        remove_withdraw: args.remove_withdraw,
        read_only: args.read_only,
        ips: None,
        drop: args.drop.clone(),
    };
    let after = match runtime.block_on(checks::narrow_key(
        &mut session,
        &client,
        Actor::Cli,
        grant,
        &args.label,
        &narrowing,
    )) {
        Ok(v) => v,
        Err(NarrowError::Vault(v)) => return Err(CliError::Vault(v)),
        Err(e) => {
            say_err!("error: {e}");
            return Ok(exit(e.kind()));
        }
    };
    session.lock();
    if args.json {
        json(&after);
        return Ok(ExitCode::SUCCESS);
    }
    for name in &args.drop {
        let label = check
            .removable
            .iter()
            .find(|r| &r.name == name)
            .map(|r| r.label.as_str())
            .unwrap_or(name);
        let gone = !after.removable.iter().any(|r| &r.name == name);
        say!(
            "{}: {} ({name}) {}",
            args.label,
            label,
            if gone {
                "dropped at the exchange"
            } else {
                "is STILL held per the live check"
            }
        );
    }
    if args.remove_withdraw {
        say!(
            "{}: withdrawal {}",
            args.label,
            if after.permissions.withdraw == Some(false) {
                "off at the exchange"
            } else {
                "NOT confirmed off by the live check"
            }
        );
    }
    if args.read_only {
        say!("{}: made read-only at the exchange", args.label);
    }
    list(&after);
    Ok(ExitCode::SUCCESS)
}

/// A check that did not authenticate: said, with its exit code.
fn unusable(check: &KeyVerification) -> Option<ExitCode> {
    if check.authenticated {
        return None;
    }
    let why = match &check.error {
        Some(keyward_core::exchange::KeyCheckError::Failed(e)) => e.message.clone(),
        Some(keyward_core::exchange::KeyCheckError::Rejected { message, .. }) => message.clone(),
        None => "the exchange did not accept the key".to_owned(),
    };
    say_err!(
        "error: {}: the live check failed ({}): {why}",
        check.label,
        check.status.as_str()
    );
    Some(if check.failed() {
        exit(ErrorKind::Exchange)
    } else {
        exit(ErrorKind::Invalid)
    })
}

fn lines(check: &KeyVerification) -> Vec<String> {
    if !check.narrow_via_api {
        return vec![format!(
            "{} cannot narrow a key through its API: narrow {} on the exchange's website, then run `keyward verify {}`.",
            check.exchange.display_name(),
            check.label,
            check.label
        )];
    }
    if check.removable.is_empty() {
        return vec![format!(
            "{} holds no permission it can drop through the API.",
            check.label
        )];
    }
    let w = check
        .removable
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = vec![format!(
        "{} can drop (keyward narrow {} --drop NAME):",
        check.label, check.label
    )];
    for r in &check.removable {
        out.push(format!("  {:<w$}  {}", r.name, r.label));
        if let Some(warning) = &r.warning {
            out.push(format!("  {:<w$}  note: {warning}", ""));
        }
    }
    out
}

fn list(check: &KeyVerification) {
    for line in lines(check) {
        say!("{line}");
    }
}

fn list_to_stderr(check: &KeyVerification) {
    for line in lines(check) {
        say_err!("{line}");
    }
}
