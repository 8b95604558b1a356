//! `keyward rotate auto | schedule | due | cancel`: the zero-touch rotation
//! of a sub-account key through the account's manager key, its schedule,
//! and cancelling a rotation (an automated one deletes its created key
//! first).
//!
//! Owns: these subcommands' arguments, output and exit codes. Must never:
//! print a secret, decide a rule (the core decides what is due, what the
//! grant covers and when a due key only notifies), or act on a schedule
//! without a step-up given on this command line.
//!
//! Exit codes: 0 done (or nothing due); 1 invalid state or a difference to
//! fix; 4 MFA (for `due --auto`: a due key was only notified about, a
//! step-up is needed); 6 the exchange refused, could not be reached, or
//! the old key still works; 7 no such key.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use keyward_core::deploy::SshOptions;
use keyward_core::mfa::actions;
use keyward_core::model::KeyEdit;
use keyward_core::rotation::{self, AutoOutcome, AutoSchedule, DueAuto};
use keyward_core::vault::{Actor, Session};
use keyward_core::{ErrorKind, KindedError};

use crate::app::{self, CliError, exit, json, network, when};
use crate::gated;
use crate::rotate::{outcome_code, print_verification, print_view, refused};

/// Arguments of `keyward rotate auto`.
#[derive(Args)]
pub struct AutoArgs {
    /// The key's label.
    label: String,
    #[command(flatten)]
    proof: gated::ProofArgs,
    /// The SSH private key to log in to the key's deployment targets with,
    /// when the new key is delivered to them (default: the SSH client's
    /// own configuration and agent).
    #[arg(long, value_name = "FILE")]
    ssh_identity: Option<std::path::PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Seconds to wait for each exchange answer (1–120).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
    timeout: u64,
}

/// Arguments of `keyward rotate cancel`.
#[derive(Args)]
pub struct CancelArgs {
    /// The key's label.
    label: String,
    #[command(flatten)]
    proof: gated::ProofArgs,
    /// Seconds to wait for each exchange answer (1–120).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
    timeout: u64,
}

/// Arguments of `keyward rotate schedule`.
#[derive(Args)]
pub struct ScheduleArgs {
    /// The key's label.
    label: String,
    /// The key's rotation period: days, e.g. `30d` or `30`.
    #[arg(long, value_parser = parse_days)]
    every: Option<u32>,
    /// Rotate it automatically when due, through the manager key (needs
    /// --totp: it lets Keyward use the manager key for this key).
    #[arg(long, conflicts_with = "off")]
    auto: bool,
    /// Stop rotating it automatically (the period and reminders stay).
    #[arg(long)]
    off: bool,
    #[command(flatten)]
    proof: gated::ProofArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `keyward rotate due`.
#[derive(Args)]
pub struct DueArgs {
    /// Rotate every due key of the automated schedule (needs --totp; without
    /// it, or when the step-up fails, each due key is only notified about).
    #[arg(long)]
    auto: bool,
    #[command(flatten)]
    proof: gated::ProofArgs,
    /// The SSH private key to log in to the key's deployment targets with,
    /// when the new key is delivered to them (default: the SSH client's
    /// own configuration and agent).
    #[arg(long, value_name = "FILE")]
    ssh_identity: Option<std::path::PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Seconds to wait for each exchange answer (1–120).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
    timeout: u64,
}

fn parse_days(s: &str) -> Result<u32, String> {
    let digits = s.strip_suffix('d').unwrap_or(s);
    digits
        .parse::<u32>()
        .map_err(|_| format!("{s:?} is not a number of days (e.g. 30d)"))
}

fn print_auto(o: &AutoOutcome) {
    for stage in &o.stages {
        say!("[{}] {}", stage.state.as_str(), stage.message);
    }
    if let Some(v) = &o.verification
        && !v.passed
    {
        print_verification(v);
    }
    if o.finished {
        say!(
            "{}: rotated automatically; the old key is proven dead",
            o.label
        );
    } else {
        print_view(&o.rotation);
        say!(
            "run `keyward rotate auto {} --totp CODE` again to continue",
            o.label
        );
    }
}

fn auto_code(o: &AutoOutcome) -> ExitCode {
    if o.finished {
        return ExitCode::SUCCESS;
    }
    if o.deployments.iter().any(|d| !d.delivered) {
        return exit(ErrorKind::Exchange);
    }
    if let Some(r) = &o.revocation {
        return outcome_code(r);
    }
    match &o.verification {
        Some(v) if v.unreachable || !v.authenticated => exit(ErrorKind::Exchange),
        _ => exit(ErrorKind::Invalid),
    }
}

fn has_proof(proof: &gated::ProofArgs) -> bool {
    proof.totp.is_some() || proof.recovery_code.is_some()
}

/// `keyward rotate auto LABEL --totp CODE`.
pub fn auto(path: &Path, use_keyring: bool, args: &AutoArgs) -> Result<ExitCode, CliError> {
    let (mut session, password) = app::unlock_keep(path, use_keyring)?;
    let grant = gated::grant::<actions::AutoRotate>(&mut session, &args.proof, password.as_ref())?;
    let (client, runtime) = match network(args.timeout) {
        Ok(n) => n,
        Err(code) => return Ok(code),
    };
    let ssh = SshOptions::beside_vault(path, args.ssh_identity.as_deref());
    let outcome = match runtime.block_on(rotation::rotate_auto(
        &mut session,
        &client,
        &ssh,
        Actor::Cli,
        grant,
        &args.label,
    )) {
        Ok(o) => o,
        Err(e) => return refused(e),
    };
    if args.json {
        json(&outcome);
    } else {
        print_auto(&outcome);
    }
    Ok(auto_code(&outcome))
}

/// `keyward rotate cancel LABEL [--totp CODE]`: a manual rotation is
/// cancelled at once; an automated one whose created key may be live needs
/// the step-up (without it the core refuses, exit 4) and the exchange.
pub fn cancel(path: &Path, use_keyring: bool, args: &CancelArgs) -> Result<ExitCode, CliError> {
    let (mut session, password) = app::unlock_keep(path, use_keyring)?;
    let label = args.label.as_str();
    let deletes = match rotation::status(&mut session, label) {
        Ok(v) => v.open && v.cancel_deletes_key,
        Err(e) => return refused(e),
    };
    // Without a code (MFA enrolled) the core refuses, naming --totp; without
    // MFA the master password is the step-up, asked by `grant`.
    let ask = has_proof(&args.proof) || !session.mfa_status()?.enrolled;
    if !deletes || !ask {
        return match rotation::cancel(&mut session, Actor::Cli, label) {
            Ok(_) => {
                say!("cancelled the rotation of {label}");
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => refused(e),
        };
    }
    let grant = gated::grant::<actions::AutoRotate>(&mut session, &args.proof, password.as_ref())?;
    let (client, runtime) = match network(args.timeout) {
        Ok(n) => n,
        Err(code) => return Ok(code),
    };
    let out = match runtime.block_on(rotation::cancel_auto(
        &mut session,
        &client,
        Actor::Cli,
        grant,
        label,
    )) {
        Ok(o) => o,
        Err(e) => return refused(e),
    };
    if let Some(d) = &out.deleted {
        say!(
            "deleted the created key {} through the manager key; a live call with it was rejected ({})",
            d.key,
            d.confirmation
        );
    }
    if out.leftovers_deleted > 0 {
        say!(
            "deleted {} left by an interrupted creation",
            keyward_core::text::count(out.leftovers_deleted as u64, "other key", "other keys")
        );
    }
    if let Some(note) = &out.check_by_hand {
        say!("check by hand: {note}");
    }
    say!("cancelled the rotation of {label}");
    Ok(ExitCode::SUCCESS)
}

fn print_schedule(s: &AutoSchedule) {
    say!(
        "{}: automatic rotation {}; every {}; due {}",
        s.label,
        if s.auto_rotate { "on" } else { "off" },
        s.rotate_every_days.map_or_else(
            || "(vault default) days".to_owned(),
            |d| format!("{d} days")
        ),
        when(Some(s.due_at))
    );
    match &s.manager {
        Some(m) => say!("manager key: {m}"),
        None => say!("manager key: none in the vault for this exchange and environment"),
    }
}

/// `keyward rotate schedule LABEL [--every 30d] [--auto --totp CODE | --off]`.
pub fn schedule(path: &Path, use_keyring: bool, args: &ScheduleArgs) -> Result<ExitCode, CliError> {
    let (mut session, password) = app::unlock_keep(path, use_keyring)?;
    let label = args.label.as_str();
    let result = if args.auto {
        // Refuse what cannot happen before spending a code on it.
        if let Err(e) = rotation::auto_schedule(&mut session, label) {
            return refused(e);
        }
        let grant =
            gated::grant::<actions::AutoRotate>(&mut session, &args.proof, password.as_ref())?;
        rotation::set_auto_schedule(&mut session, Actor::Cli, grant, label, args.every)
    } else {
        if let Some(days) = args.every {
            let edit = KeyEdit {
                rotate_every_days: Some(Some(days)),
                ..KeyEdit::default()
            };
            session.edit_key(Actor::Cli, label, edit, None)?;
        }
        if args.off {
            rotation::turn_auto_off(&mut session, Actor::Cli, label)
        } else {
            rotation::auto_schedule(&mut session, label)
        }
    };
    match result {
        Ok(s) => {
            if args.json {
                json(&s);
            } else {
                print_schedule(&s);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => refused(e),
    }
}

fn print_due(due: &[DueAuto], notified: bool) {
    for d in due {
        say!(
            "{}: due {}{}{}",
            d.label,
            when(Some(d.due_at)),
            if d.open { " (rotation open)" } else { "" },
            if notified {
                " — needs a step-up: run `keyward rotate due --auto --totp CODE`"
            } else {
                ""
            }
        );
    }
}

fn notify(session: &mut Session, as_json: bool) -> Result<ExitCode, CliError> {
    let due = match rotation::due_auto(session) {
        Ok(d) => d,
        Err(e) => return refused(e),
    };
    if let Err(e) = rotation::notify_due_auto(session, Actor::Cli) {
        return refused(e);
    }
    if as_json {
        json(&due);
    } else if due.is_empty() {
        say!("no automated rotation is due");
    } else {
        print_due(&due, true);
    }
    Ok(if due.is_empty() {
        ExitCode::SUCCESS
    } else {
        exit(ErrorKind::Mfa)
    })
}

/// `keyward rotate due [--auto [--totp CODE]]`.
pub fn due(path: &Path, use_keyring: bool, args: &DueArgs) -> Result<ExitCode, CliError> {
    let (mut session, password) = app::unlock_keep(path, use_keyring)?;
    if !args.auto {
        return match rotation::due_auto(&mut session) {
            Ok(d) => {
                if args.json {
                    json(&d);
                } else if d.is_empty() {
                    say!("no automated rotation is due");
                } else {
                    print_due(&d, false);
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => refused(e),
        };
    }
    let due = match rotation::due_auto(&mut session) {
        Ok(d) => d,
        Err(e) => return refused(e),
    };
    if due.is_empty() {
        if args.json {
            json(&due);
        } else {
            say!("no automated rotation is due");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !has_proof(&args.proof) {
        return notify(&mut session, args.json);
    }
    let grant =
        match gated::grant::<actions::AutoRotate>(&mut session, &args.proof, password.as_ref()) {
            Ok(g) => g,
            Err(e) => {
                let _ = rotation::notify_due_auto(&mut session, Actor::Cli);
                return Err(e);
            }
        };
    let (client, runtime) = match network(args.timeout) {
        Ok(n) => n,
        Err(code) => return Ok(code),
    };
    let ssh = SshOptions::beside_vault(path, args.ssh_identity.as_deref());
    let results = match runtime.block_on(rotation::rotate_due_auto(
        &mut session,
        &client,
        &ssh,
        Actor::Cli,
        grant,
    )) {
        Ok(r) => r,
        Err(e) => return refused(e),
    };
    let mut worst = ExitCode::SUCCESS;
    let mut failed = false;
    let mut report = Vec::new();
    for (label, result) in &results {
        match result {
            Ok(o) => {
                if !args.json {
                    print_auto(o);
                }
                if !o.finished && !failed {
                    worst = auto_code(o);
                    failed = true;
                }
                report.push(serde_json::json!({ "label": label, "outcome": o }));
            }
            Err(e) => {
                say_err!("error: {label}: {e}");
                if !failed {
                    worst = exit(e.kind());
                    failed = true;
                }
                report.push(serde_json::json!({
                    "label": label,
                    "error": { "kind": e.kind(), "message": e.to_string() },
                }));
            }
        }
    }
    if args.json {
        json(&report);
    }
    Ok(worst)
}
