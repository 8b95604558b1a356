//! Step-up on the command line, the gated commands (`reveal`, `delete`),
//! `keyward mfa …` and `keyward log` (with the gated `--acknowledge` of
//! integrity findings).
//!
//! Owns: turning `--totp` / `--recovery-code` (or, while MFA is not
//! enrolled, the master password this command was unlocked with) into a
//! proof for the core's gate, and printing. Must never: decide whether a
//! proof is good (the core does), keep a window between commands (every
//! gated command brings its own proof), or print a secret anywhere but
//! `reveal`'s stdout and the one-time enrolment output.

use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use keyward_core::ErrorKind;
use keyward_core::audit::{self, Entry, store::AuditFilter};
use keyward_core::mfa::actions::{self, Gated};
use keyward_core::mfa::{Enrolment, MfaSummary, OneTimeCode, Proof, StepUpGrant};
use keyward_core::vault::{Actor, AuditReport, MasterPassword, Session, VaultError};

use crate::app::{self, CliError, unlock_keep};
use crate::input;

/// `--totp CODE` or `--recovery-code CODE`. TOTP codes on argv are
/// acceptable: single use and valid for about a minute.
#[derive(Args, Clone, Default)]
pub struct ProofArgs {
    /// A 6-digit code from your authenticator app.
    #[arg(long, value_name = "CODE", conflicts_with = "recovery_code")]
    pub totp: Option<String>,
    /// One of your single-use recovery codes (instead of --totp).
    #[arg(long, value_name = "CODE")]
    pub recovery_code: Option<String>,
}

/// Passes the core's step-up gate for the action `A` with what the user
/// gave: `grant::<actions::DeleteKey>(…)` is what `delete_key` accepts.
pub fn grant<A: Gated>(
    session: &mut Session,
    proof: &ProofArgs,
    password: Option<&MasterPassword>,
) -> Result<StepUpGrant<A>, CliError> {
    grant_as(session, proof, password, false)
}

/// [`grant`]; `enrolling` is set by `mfa enroll` itself, which is not told
/// to run `mfa enroll`.
fn grant_as<A: Gated>(
    session: &mut Session,
    proof: &ProofArgs,
    password: Option<&MasterPassword>,
    enrolling: bool,
) -> Result<StepUpGrant<A>, CliError> {
    let offered = if let Some(code) = &proof.totp {
        Some(Proof::totp(code.as_str()))
    } else if let Some(code) = &proof.recovery_code {
        Some(Proof::recovery_code(code.as_str()))
    } else if !session.mfa_status()?.enrolled {
        if !enrolling {
            say_err!(
                "warning: MFA is not enrolled, so the master password is the only step-up; \
                 run `keyward mfa enroll`"
            );
        }
        let verified = match password {
            Some(pw) => session.verify_password(pw)?,
            None => session.verify_password(&input::master_password()?)?,
        };
        Some(Proof::MasterPassword(verified))
    } else {
        None
    };
    Ok(session.step_up::<A>(Actor::Cli, offered)?)
}

/// `keyward mfa …`.
#[derive(Subcommand, Clone)]
pub enum MfaCommand {
    /// Start enrolment: prints the secret, the otpauth URI and ten recovery
    /// codes once. MFA stays off until `keyward mfa confirm CODE`.
    Enroll {
        /// Print JSON: {"secret", "otpauth_uri", "recovery_codes"}.
        #[arg(long)]
        json: bool,
    },
    /// Confirm the pending enrolment with a code from the authenticator app.
    Confirm {
        /// The 6-digit code.
        code: String,
    },
    /// Abandon a pending enrolment.
    Cancel,
    /// Whether MFA is on, pending, locked, and how many recovery codes are left.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Turn MFA off (needs --totp or --recovery-code).
    Disable {
        #[command(flatten)]
        proof: ProofArgs,
    },
    /// Replace the TOTP secret and recovery codes (needs --totp or
    /// --recovery-code); confirm with `keyward mfa confirm CODE`.
    Reenroll {
        #[command(flatten)]
        proof: ProofArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Replace the recovery codes with ten new ones (needs --totp).
    RecoveryCodes {
        #[command(flatten)]
        proof: ProofArgs,
    },
}

fn print_enrolment(enrolment: &Enrolment, json: bool) {
    let codes: Vec<&str> = enrolment
        .recovery_codes()
        .iter()
        .map(|c| c.expose_secret())
        .collect();
    let secret = enrolment.expose_secret_base32();
    let uri = enrolment.expose_otpauth_uri();
    if json {
        say!(
            "{}",
            serde_json::json!({
                "secret": secret,
                "otpauth_uri": uri,
                "recovery_codes": codes,
            })
        );
    } else {
        say!("secret: {secret}");
        say!("otpauth_uri: {uri}");
        say!("recovery codes (each works once; store them offline):");
        for code in codes {
            say!("  {code}");
        }
        say!("MFA is pending: run `keyward mfa confirm CODE` with a code from your app");
    }
}

fn print_status(s: &MfaSummary, json: bool) {
    if json {
        say!(
            "{}",
            serde_json::to_string(s).unwrap_or_else(|_| "{}".into())
        );
        return;
    }
    let state = if s.enrolled {
        "enrolled"
    } else if s.pending {
        "pending confirmation"
    } else {
        "not enrolled"
    };
    say!("mfa: {state}");
    if s.pending && s.enrolled {
        say!("re-enrolment: pending confirmation");
    }
    if s.enrolled {
        say!("recovery codes left: {}", s.recovery_codes_left);
    }
    if let Some(until) = s.locked_until {
        say!("step-up locked until unix time {until}");
    }
}

/// Runs `keyward mfa …`.
pub fn mfa(path: &Path, use_keyring: bool, cmd: &MfaCommand) -> Result<ExitCode, CliError> {
    let (mut session, password) = unlock_keep(path, use_keyring)?;
    match cmd {
        MfaCommand::Enroll { json } => {
            if session.mfa_status()?.enrolled {
                return Err(CliError::Vault(VaultError::Mfa(
                    keyward_core::mfa::MfaError::AlreadyEnrolled,
                )));
            }
            let g = grant_as::<actions::SecuritySettings>(
                &mut session,
                &ProofArgs::default(),
                password.as_ref(),
                true,
            )?;
            let enrolment = session.mfa_enrol(Actor::Cli, g)?;
            print_enrolment(&enrolment, *json);
        }
        MfaCommand::Reenroll { proof, json } => {
            let g = grant::<actions::ReenrolMfa>(&mut session, proof, password.as_ref())?;
            let enrolment = session.mfa_reenrol(Actor::Cli, g)?;
            print_enrolment(&enrolment, *json);
        }
        MfaCommand::Confirm { code } => {
            session.mfa_confirm(Actor::Cli, &OneTimeCode::new(code.as_str()))?;
            say!("MFA is on: gated commands now need --totp CODE");
        }
        MfaCommand::Cancel => {
            if session.mfa_cancel_pending(Actor::Cli)? {
                say!("pending enrolment abandoned");
            } else {
                say!("no enrolment was pending");
            }
        }
        MfaCommand::Status { json } => print_status(&session.mfa_status()?, *json),
        MfaCommand::Disable { proof } => {
            let g = grant::<actions::DisableMfa>(&mut session, proof, password.as_ref())?;
            session.mfa_disable(Actor::Cli, g)?;
            say!("MFA is off: gated commands now ask for the master password");
        }
        MfaCommand::RecoveryCodes { proof } => {
            let g = grant::<actions::SecuritySettings>(&mut session, proof, password.as_ref())?;
            let codes = session.mfa_regenerate_recovery_codes(Actor::Cli, g)?;
            say!("new recovery codes (the old ones no longer work):");
            for code in &codes {
                say!("  {}", code.expose_secret());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `keyward reveal LABEL --totp CODE`: the secret on stdout, the passphrase
/// on a second line when there is one. The only command that prints a
/// secret.
pub fn reveal(
    path: &Path,
    use_keyring: bool,
    label: &str,
    proof: &ProofArgs,
) -> Result<ExitCode, CliError> {
    let (mut session, password) = unlock_keep(path, use_keyring)?;
    let g = grant::<actions::RevealSecret>(&mut session, proof, password.as_ref())?;
    let revealed = session.reveal(Actor::Cli, g, label)?;
    // Verbatim, not through `say!`: the user asked for these exact bytes
    // (a PEM key has line breaks), and they are theirs, not an exchange's.
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", revealed.secret.expose());
    if let Some(p) = &revealed.passphrase {
        let _ = writeln!(out, "{}", p.expose());
    }
    Ok(ExitCode::SUCCESS)
}

/// `keyward delete LABEL --totp CODE`.
pub fn delete(
    path: &Path,
    use_keyring: bool,
    label: &str,
    proof: &ProofArgs,
) -> Result<ExitCode, CliError> {
    let (mut session, password) = unlock_keep(path, use_keyring)?;
    let g = grant::<actions::DeleteKey>(&mut session, proof, password.as_ref())?;
    session.delete_key(Actor::Cli, g, label)?;
    say!("deleted {label}");
    Ok(ExitCode::SUCCESS)
}

/// `keyward log` arguments.
#[derive(Args, Clone)]
pub struct LogArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Verify the whole chain; exit 5 if it is broken.
    #[arg(long)]
    verify: bool,
    /// Only entries about the key with this label.
    #[arg(long, value_name = "LABEL")]
    key: Option<String>,
    /// Only entries of this stored action (e.g. secret_revealed,
    /// step_up_failed; the names `--json` prints).
    #[arg(long, value_name = "ACTION")]
    action: Option<String>,
    /// Only entries of this kind: vault, keys, secrets, mfa, backups,
    /// rotation, incidents, services, alerts, integrity.
    #[arg(long, value_name = "CATEGORY", conflicts_with = "action")]
    category: Option<String>,
    /// Acknowledge every integrity finding recorded so far (read them first
    /// with `--action audit_integrity_failed`); needs --totp once MFA is
    /// enrolled. Until then `--verify` exits 5, even once the chain
    /// verifies again.
    #[arg(long, conflicts_with_all = ["verify", "key", "action", "category", "json"])]
    acknowledge: bool,
    #[command(flatten)]
    proof: ProofArgs,
}

/// An entry as `keyward log --json` prints it: the stored entry, plus its
/// sentence ([`audit::describe`]).
#[derive(serde::Serialize)]
struct EntryJson<'a> {
    #[serde(flatten)]
    entry: &'a Entry,
    sentence: String,
}

/// Who did it, in words.
fn by(actor: Actor) -> &'static str {
    match actor {
        Actor::Gui => "app",
        Actor::Cli => "CLI",
        _ => "Keyward",
    }
}

fn print_entries(entries: &[Entry], json: bool) {
    if json {
        let out: Vec<EntryJson<'_>> = entries
            .iter()
            .map(|entry| EntryJson {
                entry,
                sentence: audit::describe(entry),
            })
            .collect();
        say!(
            "{}",
            serde_json::to_string(&out).unwrap_or_else(|_| "[]".into())
        );
        return;
    }
    for e in entries {
        say!(
            "{:>5}  {}  {:<7}  {}",
            e.seq,
            keyward_core::alerts::format_time(e.time_ms.div_euclid(1000)),
            by(e.actor),
            audit::describe(e)
        );
    }
}

fn print_report(r: &AuditReport, json: bool) {
    if json {
        say!(
            "{}",
            serde_json::to_string(r).unwrap_or_else(|_| "{}".into())
        );
        return;
    }
    if let Some(p) = &r.found_at_unlock {
        say!(
            "BROKEN at unlock: {} (recorded as entry {})",
            p.finding,
            p.recorded_as
        );
    }
    match &r.problem {
        Some(problem) => say!("BROKEN: {problem}"),
        None => say!(
            "chain intact: {}",
            keyward_core::text::count(r.entries, "entry", "entries")
        ),
    }
    if r.recorded_findings > 0 {
        say!("the log records {}", findings(r.recorded_findings));
    }
    if r.unacknowledged_findings > 0 {
        say!(
            "NOT ACKNOWLEDGED: {}; review them with \
             `keyward log --action audit_integrity_failed`, then run `keyward log --acknowledge`",
            findings(r.unacknowledged_findings)
        );
    }
}

fn findings(n: usize) -> String {
    keyward_core::text::count(n as u64, "integrity finding", "integrity findings")
}

/// Runs `keyward log`.
pub fn log(path: &Path, use_keyring: bool, args: &LogArgs) -> Result<ExitCode, CliError> {
    let (mut session, password) = unlock_keep(path, use_keyring)?;
    if args.acknowledge {
        let report = session.verify_audit()?;
        if report.unacknowledged_findings == 0 {
            say!("no unacknowledged integrity findings");
            return Ok(ExitCode::SUCCESS);
        }
        let g = grant::<actions::SecuritySettings>(&mut session, &args.proof, password.as_ref())?;
        let n = session.acknowledge_audit_findings(Actor::Cli, g)?;
        say!("acknowledged {}", findings(n));
        if let Some(problem) = &report.problem {
            say_err!(
                "warning: the audit log is still broken ({problem}); `keyward log --verify` \
                 keeps exiting 5"
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.verify {
        let report = session.verify_audit()?;
        print_report(&report, args.json);
        if report.is_ok() {
            return Ok(ExitCode::SUCCESS);
        }
        let finding = report
            .problem
            .as_deref()
            .or(report.found_at_unlock.as_ref().map(|p| p.finding.as_str()))
            .unwrap_or("an integrity finding is not acknowledged");
        say_err!("error: the audit log failed verification: {finding}");
        return Ok(app::exit(ErrorKind::Integrity));
    }
    let mut filter = match &args.key {
        Some(label) => AuditFilter::for_label(label.as_str()),
        None => AuditFilter::all(),
    };
    if let Some(name) = &args.action {
        let action = audit::Action::from_name(name).ok_or_else(|| CliError::Input {
            message: format!("unknown audit action {name:?}"),
        })?;
        filter = filter.with_actions([action]);
    }
    if let Some(name) = &args.category {
        let category = audit::Category::from_name(name).ok_or_else(|| CliError::Input {
            message: format!(
                "unknown category {name:?}: use one of {}",
                audit::Category::ALL
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
        filter = filter.with_actions(category.actions());
    }
    let entries = session.audit_log(&filter)?;
    print_entries(&entries, args.json);
    Ok(ExitCode::SUCCESS)
}
