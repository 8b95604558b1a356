//! `keyward rotate …`: the staged, verified, MFA-confirmed rotation of one
//! key (DESIGN §5). Every subcommand resumes from the state stored in the
//! vault, so a killed command, a closed terminal or a lost network is
//! finished by running the next (or the same) step again.
//!
//! Owns: the subcommands' arguments, their output and exit codes. Must
//! never: read a secret from argv (the new key's secret comes from stdin or
//! a file), print a secret, or decide a rule (state, verification, MFA and
//! revocation checks are the core's).
//!
//! Exit codes: 0 done; 1 invalid state or a difference to fix; 4 MFA; 6
//! the exchange rejected the key, could not be reached, or the old key
//! still works; 7 no such key.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use keyward_core::deploy::SshOptions;
use keyward_core::mfa::actions;
use keyward_core::model::KeyType;
use keyward_core::rotation::{
    self, NewRotationKey, RevokeOutcome, RotationError, RotationState, RotationView, ServiceState,
    Severity, StepStatus, VerifyOptions, VerifyOutcome,
};
use keyward_core::vault::{Actor, Session};
use keyward_core::{ErrorKind, KindedError};

use crate::app::{self, CliError, exit, json, network, when};
use crate::{gated, input};

/// `keyward rotate …`.
#[derive(Subcommand)]
pub enum RotateCommand {
    /// Start a rotation of LABEL (the key's status becomes `rotating`).
    Begin {
        /// The key's label.
        label: String,
        /// Print the rotation as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Enter the new key (secret from stdin or a file, never argv).
    NewKey(NewKeyArgs),
    /// Check the new key live; exit 1 with what differs and how to fix it.
    Verify {
        /// The key's label.
        label: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Accept permissions or IP restrictions the exchange does not
        /// report (recorded in the audit log). Never accepts more than the
        /// declared scope.
        #[arg(long)]
        allow_unknown: bool,
        /// Narrow the declared scopes to these (comma-separated).
        #[arg(long, value_delimiter = ',')]
        scopes: Option<Vec<String>>,
        /// Seconds to wait for each exchange answer (1–120).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
        timeout: u64,
    },
    /// Make the verified new key current and deploy it to every target that
    /// held the old one (same step-up); needs --totp.
    Promote {
        /// The key's label.
        label: String,
        #[command(flatten)]
        proof: gated::ProofArgs,
        /// The SSH private key to log in to the key's deployment targets
        /// with (default: the SSH client's own configuration and agent).
        #[arg(long, value_name = "FILE")]
        ssh_identity: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke the old key (by API, or after you deleted it by hand with
    /// --confirm-manual) and check live that it is rejected; needs --totp.
    RevokeOld {
        /// The key's label.
        label: String,
        #[command(flatten)]
        proof: gated::ProofArgs,
        /// You deleted the old key on the exchange's website yourself.
        #[arg(long)]
        confirm_manual: bool,
        /// Revoke although a deployment target still holds a bundle with
        /// the old key (audited; the bot there stops working).
        #[arg(long)]
        force: bool,
        /// Check the old key live, show the steps, wait while you delete it
        /// on the website (Enter when done), then check it is rejected: the
        /// only way a manual deletion can be proven (the exchanges' "invalid
        /// key" answers are ambiguous without a success just before).
        #[arg(long, conflicts_with = "confirm_manual")]
        wait: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Seconds to wait for each exchange answer (1–120).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
        timeout: u64,
    },
    /// Show the rotation: each step with its time, the verification, the
    /// manual steps and the services checklist.
    Status {
        /// The key's label.
        label: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Abandon the rotation (only before promotion). An automated rotation
    /// whose created key may be live on the exchange needs --totp: that key
    /// is deleted through the manager key and proven dead first.
    Cancel(crate::rotate_auto::CancelArgs),
    /// Rotate a sub-account key end to end through the account's manager
    /// key (create, store, verify, promote, delete the old key, prove it
    /// dead), or continue an interrupted run; needs --totp.
    Auto(crate::rotate_auto::AutoArgs),
    /// Show or set a key's rotation period and automatic rotation
    /// (`--every 30d`, `--auto --totp CODE`, `--off`).
    Schedule(crate::rotate_auto::ScheduleArgs),
    /// List the keys of the automated schedule that are due; with --auto
    /// and --totp rotate them, without a step-up only notify (for cron).
    Due(crate::rotate_auto::DueArgs),
    /// Mark a linked service as updated with the new key (or --pending).
    Service {
        /// The key's label.
        label: String,
        /// The linked service, as listed by `rotate status`.
        service: String,
        /// Mark it as still to do.
        #[arg(long)]
        pending: bool,
    },
}

/// Arguments of `keyward rotate new-key`.
#[derive(Args)]
pub struct NewKeyArgs {
    /// The key's label.
    label: String,
    /// The new public API key id.
    #[arg(long)]
    api_key: String,
    /// Read the secret from stdin: line 1 the secret, line 2 the passphrase.
    #[arg(long, conflicts_with = "secret_file")]
    secret_stdin: bool,
    /// Read the secret from a file (e.g. a multi-line PEM private key).
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
    /// Read the passphrase from a file (with --secret-file).
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// The new key's type, if it differs: hmac, ed25519, rsa, ecdsa_jwt.
    #[arg(long)]
    key_type: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// A refused step: vault errors go through the CLI's usual mapping (MFA
/// messages, exit codes), the rest are printed here.
pub(crate) fn refused(e: RotationError) -> Result<ExitCode, CliError> {
    match e {
        RotationError::Vault(v) => Err(CliError::Vault(v)),
        other => {
            say_err!("error: {other}");
            Ok(exit(other.kind()))
        }
    }
}

pub(crate) fn print_view(v: &RotationView) {
    say!(
        "rotation of {} ({}): {}",
        v.label,
        v.exchange.display_name(),
        v.state
    );
    for s in &v.steps {
        let mark = match s.status {
            StepStatus::Done => "[x]",
            StepStatus::Current => "[>]",
            _ => "[ ]",
        };
        say!("  {mark} {:<17} {}", s.state.as_str(), when(s.at));
    }
    if let Some(k) = &v.new_api_key_id_masked {
        say!("new key: {k}");
    }
    if let Some(k) = &v.old_api_key_id_masked {
        say!("old key: {k}");
    }
    if let Some(out) = &v.verification {
        print_verification(out);
    }
    if !v.manual_steps.is_empty() && v.state == RotationState::Promoted {
        say!(
            "revoke the old key by hand on {}:",
            v.exchange.display_name()
        );
        for (i, step) in v.manual_steps.iter().enumerate() {
            say!("  {}. {step}", i + 1);
        }
    }
    if !v.services.is_empty() {
        say!("update these services with the new key:");
        for s in &v.services {
            let mark = if s.state == ServiceState::Updated {
                "[x]"
            } else {
                "[ ]"
            };
            say!("  {mark} {}", s.name);
        }
    }
    if let Some(e) = &v.error {
        say!("last error: {e}");
    }
    if let Some(next) = v.next_action {
        let hint = match next {
            keyward_core::rotation::NextAction::EnterNewKey => {
                format!(
                    "keyward rotate new-key {} --api-key ID --secret-stdin",
                    v.label
                )
            }
            keyward_core::rotation::NextAction::Verify => {
                format!("keyward rotate verify {}", v.label)
            }
            keyward_core::rotation::NextAction::Promote => {
                format!("keyward rotate promote {} --totp CODE", v.label)
            }
            _ => format!("keyward rotate revoke-old {} --totp CODE", v.label),
        };
        say!("next: {hint}");
    }
}

pub(crate) fn print_verification(out: &VerifyOutcome) {
    say!(
        "verification: {} (authenticated: {}, granted: {}, declared: {})",
        if out.passed { "passed" } else { "NOT passed" },
        out.authenticated,
        if out.granted.is_empty() {
            "-".to_owned()
        } else {
            out.granted.join(",")
        },
        out.declared.join(",")
    );
    if out.unknown_override {
        say!("  unknown permissions accepted by explicit override");
    }
    for d in &out.differences {
        let sev = match d.severity {
            Severity::Blocking => "blocking",
            Severity::Overridable => "unknown",
            _ => "note",
        };
        say!(
            "  {sev}: {} — declared: {}; exchange: {}",
            d.code.as_str(),
            d.declared,
            d.live
        );
        say!("    fix: {}", d.fix);
    }
}

/// `--wait`: shows the manual steps and waits until the user pressed
/// Enter (done) or closed stdin / typed `q` (stop). Reads stdin on a
/// blocking thread.
pub(crate) async fn wait_for_deletion(reason: String, steps: Vec<String>) -> bool {
    say!("{reason}. The key works from here now; revoke it by hand:");
    for (i, s) in steps.iter().enumerate() {
        say!("  {}. {s}", i + 1);
    }
    say!("Press Enter once it is deleted (q to stop).");
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        match std::io::stdin().read_line(&mut line) {
            Ok(0) | Err(_) => false,
            Ok(_) => line.trim() != "q",
        }
    })
    .await
    .unwrap_or(false)
}

pub(crate) fn print_outcome(o: &RevokeOutcome) {
    match o {
        RevokeOutcome::Revoked {
            label,
            method,
            confirmation,
            left_live,
        } => {
            say!(
                "{label}: revoked ({}); the exchange now rejects it: {confirmation}",
                method.as_str()
            );
            if let Some(note) = left_live {
                say_err!("warning: {note}");
            }
        }
        RevokeOutcome::ManualStepsRequired {
            label,
            reason,
            steps,
        } => {
            say!("{label}: {reason}. Revoke it by hand:");
            for (i, s) in steps.iter().enumerate() {
                say!("  {}. {s}", i + 1);
            }
            say!(
                "then run the command again with --wait (Keyward checks the key, waits while you delete it, and proves it) or --confirm-manual"
            );
        }
        RevokeOutcome::StillActive { message, .. } => {
            say_err!("error: !!! {message} !!!");
        }
        RevokeOutcome::Failed { message, label, .. } => say_err!("error: {label}: {message}"),
        RevokeOutcome::Inconclusive {
            label,
            message,
            check_by_hand,
        } => {
            say_err!("error: {label}: {message}");
            say_err!("check by hand:");
            for (i, s) in check_by_hand.iter().enumerate() {
                say_err!("  {}. {s}", i + 1);
            }
        }
        _ => {}
    }
}

pub(crate) fn outcome_code(o: &RevokeOutcome) -> ExitCode {
    match o {
        RevokeOutcome::Revoked { .. } => ExitCode::SUCCESS,
        RevokeOutcome::ManualStepsRequired { .. } => exit(ErrorKind::Invalid),
        RevokeOutcome::StillActive { .. } | RevokeOutcome::Inconclusive { .. } => {
            exit(ErrorKind::Exchange)
        }
        RevokeOutcome::Failed { kind, .. } => exit(*kind),
        _ => exit(ErrorKind::Internal),
    }
}

fn show(session: &mut Session, label: &str, as_json: bool) -> Result<ExitCode, CliError> {
    match rotation::status(session, label) {
        Ok(v) => {
            if as_json {
                json(&v);
            } else {
                print_view(&v);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => refused(e),
    }
}

/// Runs `keyward rotate …`.
pub fn run(path: &Path, use_keyring: bool, command: &RotateCommand) -> Result<ExitCode, CliError> {
    match command {
        RotateCommand::Begin { label, json } => {
            let mut session = app::unlock(path, use_keyring)?;
            if let Err(e) = rotation::begin(&mut session, Actor::Cli, label) {
                return refused(e);
            }
            show(&mut session, label, *json)
        }
        RotateCommand::NewKey(args) => {
            let mut session = app::unlock(path, use_keyring)?;
            let (secret, mut passphrase) = if let Some(file) = &args.secret_file {
                (input::secret_from_file(file)?, None)
            } else if args.secret_stdin {
                let s = input::secrets_from_stdin()?;
                (s.secret, s.passphrase)
            } else {
                return Err(CliError::Input {
                    message: "give the new secret with --secret-stdin or --secret-file (never on the command line)".into(),
                });
            };
            if let Some(file) = &args.passphrase_file {
                passphrase = Some(input::passphrase_from_file(file)?);
            }
            let key_type = args
                .key_type
                .as_deref()
                .map(str::parse::<KeyType>)
                .transpose()?;
            let new = NewRotationKey {
                api_key_id: args.api_key.clone(),
                secret,
                passphrase,
                key_type,
            };
            if let Err(e) = rotation::enter_new_key(&mut session, Actor::Cli, &args.label, new) {
                return refused(e);
            }
            show(&mut session, &args.label, args.json)
        }
        RotateCommand::Verify {
            label,
            json: as_json,
            allow_unknown,
            scopes,
            timeout,
        } => {
            let scopes = scopes.as_ref().map(|s| app::parse_scopes(s)).transpose()?;
            let mut session = app::unlock(path, use_keyring)?;
            let (client, runtime) = match network(*timeout) {
                Ok(n) => n,
                Err(code) => return Ok(code),
            };
            let options = VerifyOptions {
                scopes,
                allow_unknown: *allow_unknown,
            };
            let outcome = match runtime.block_on(rotation::verify_new_key(
                &mut session,
                &client,
                Actor::Cli,
                label,
                &options,
            )) {
                Ok(o) => o,
                Err(e) => return refused(e),
            };
            if *as_json {
                json(&outcome);
            } else {
                print_verification(&outcome);
                if outcome.passed {
                    say!("next: keyward rotate promote {label} --totp CODE");
                }
            }
            Ok(if outcome.passed {
                ExitCode::SUCCESS
            } else if outcome.unreachable || !outcome.authenticated {
                say_err!("error: the exchange did not accept the new key of {label}");
                exit(ErrorKind::Exchange)
            } else {
                say_err!(
                    "error: the new key of {label} differs from what was declared; see the fixes above"
                );
                exit(ErrorKind::Invalid)
            })
        }
        RotateCommand::Promote {
            label,
            proof,
            ssh_identity,
            json: as_json,
        } => {
            let (mut session, password) = app::unlock_keep(path, use_keyring)?;
            // Refuse a step that cannot happen before spending a code on it.
            if let Err(e) = rotation::status(&mut session, label) {
                return refused(e);
            }
            let grant =
                gated::grant::<actions::RotationPromote>(&mut session, proof, password.as_ref())?;
            let runtime = match app::runtime() {
                Ok(r) => r,
                Err(code) => return Ok(code),
            };
            let ssh = SshOptions::beside_vault(path, ssh_identity.as_deref());
            let outcome = match runtime.block_on(rotation::promote_and_deploy(
                &mut session,
                Actor::Cli,
                grant,
                label,
                &ssh,
            )) {
                Ok(o) => o,
                Err(e) => return refused(e),
            };
            if *as_json {
                json(&outcome);
            } else {
                print_view(&outcome.rotation);
            }
            for d in &outcome.deployments {
                if d.delivered {
                    say_err!("deployed the new key to {} ({})", d.target, d.remote_file);
                } else {
                    let why = d.error.as_deref().unwrap_or("the delivery failed");
                    // The core's messages mostly name the target already.
                    if why.contains(&format!("{:?}", d.target)) {
                        say_err!("error: {why}");
                    } else {
                        say_err!("error: {}: {why}", d.target);
                    }
                }
            }
            let failed: Vec<&str> = outcome.failed().map(|d| d.target.as_str()).collect();
            if !failed.is_empty() {
                say_err!(
                    "{} still {} the old key: run `keyward deploy {label} --all --totp CODE` \
                     before `keyward rotate revoke-old {label}`",
                    failed.join(", "),
                    if failed.len() == 1 { "holds" } else { "hold" }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        RotateCommand::RevokeOld {
            label,
            proof,
            confirm_manual,
            force,
            wait,
            json: as_json,
            timeout,
        } => {
            let (mut session, password) = app::unlock_keep(path, use_keyring)?;
            let view = match rotation::status(&mut session, label) {
                Ok(v) => v,
                Err(e) => return refused(e),
            };
            // A server still holding the old key would stop working:
            // refused before a code is spent, unless forced (audited).
            let promoted = view.state == RotationState::Promoted;
            if promoted && !*force {
                session.check_revoke_old_deployments(Actor::Cli, label, false)?;
            }
            // Resume after a crash between the two last transitions: the
            // old key is already confirmed revoked, only `done` is missing.
            if view.state == RotationState::OldKeyRevoked {
                if let Err(e) = rotation::finish(&mut session, Actor::Cli, label) {
                    return refused(e);
                }
                return show(&mut session, label, *as_json);
            }
            let grant = gated::grant::<actions::Revoke>(&mut session, proof, password.as_ref())?;
            if promoted && *force {
                let left = session.check_revoke_old_deployments(Actor::Cli, label, true)?;
                if !left.is_empty() {
                    say_err!(
                        "warning: {} still {} the old key of {label}; revoking it anyway (--force)",
                        left.join(", "),
                        if left.len() == 1 { "holds" } else { "hold" }
                    );
                }
            }
            let (client, runtime) = match network(*timeout) {
                Ok(n) => n,
                Err(code) => return Ok(code),
            };
            let run = if *wait {
                runtime.block_on(rotation::revoke_waiting(
                    &mut session,
                    &client,
                    Actor::Cli,
                    |s| rotation::prepare_revoke_old(s, grant, label, false),
                    wait_for_deletion,
                ))
            } else {
                runtime.block_on(rotation::revoke_old(
                    &mut session,
                    &client,
                    Actor::Cli,
                    grant,
                    label,
                    *confirm_manual,
                ))
            };
            let outcome = match run {
                Ok(o) => o,
                Err(e) => return refused(e),
            };
            if *as_json {
                json(&outcome);
            }
            print_outcome(&outcome);
            if outcome.is_revoked() && !*as_json {
                show(&mut session, label, false)?;
            }
            Ok(outcome_code(&outcome))
        }
        RotateCommand::Auto(args) => crate::rotate_auto::auto(path, use_keyring, args),
        RotateCommand::Schedule(args) => crate::rotate_auto::schedule(path, use_keyring, args),
        RotateCommand::Due(args) => crate::rotate_auto::due(path, use_keyring, args),
        RotateCommand::Status { label, json } => {
            let mut session = app::unlock(path, use_keyring)?;
            show(&mut session, label, *json)
        }
        RotateCommand::Cancel(args) => crate::rotate_auto::cancel(path, use_keyring, args),
        RotateCommand::Service {
            label,
            service,
            pending,
        } => {
            let mut session = app::unlock(path, use_keyring)?;
            let state = if *pending {
                ServiceState::Pending
            } else {
                ServiceState::Updated
            };
            match rotation::mark_service(&mut session, Actor::Cli, label, service, state) {
                Ok(v) => {
                    print_view(&v);
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => refused(e),
            }
        }
    }
}
