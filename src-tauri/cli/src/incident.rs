//! `keyward incident …`: guided incident response from the terminal.
//!
//! Owns: the commands' arguments, output and exit codes. Must never: print
//! a secret (views and reports hold labels and masked key ids only) or
//! decide anything itself (the core checks states, grants and closing).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use keyward_core::KindedError;
use keyward_core::files;
use keyward_core::incident::{self, IncidentError, IncidentView, Situation, StepState, report};
use keyward_core::mfa::actions;
use keyward_core::model::Exchange;
use keyward_core::vault::Actor;

use crate::app::{self, CliError, exit, json, network};
use crate::gated;

/// Report formats.
#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// Markdown.
    Md,
    /// Self-contained printable HTML.
    Html,
}

/// `keyward incident` subcommands.
#[derive(Subcommand)]
pub enum IncidentCommand {
    /// List the playbooks (situations and their steps).
    Playbooks {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Open an incident: leaked, trades, withdrawal, device, third-party.
    Open {
        /// The situation.
        #[arg(long)]
        situation: String,
        /// Affected key labels.
        #[arg(long = "key")]
        keys: Vec<String>,
        /// The exchange concerned.
        #[arg(long)]
        exchange: Option<String>,
        /// Print JSON (the incident, with `id` and `steps`).
        #[arg(long)]
        json: bool,
    },
    /// List incidents.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show an incident's steps and timeline.
    #[command(alias = "show")]
    Status {
        /// Incident id (or a unique prefix).
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run an automated step (revoke needs --totp, and so does inventory when
    /// the account has a manager key).
    Run {
        /// Incident id.
        id: String,
        /// Step id.
        step: String,
        #[command(flatten)]
        proof: gated::ProofArgs,
        /// You deleted the key(s) on the exchange's website yourself.
        #[arg(long)]
        confirm_manual: bool,
        /// Seconds to wait for each exchange answer (1–120).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
        timeout: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Resolve a step by hand: `--done` (manual and evidence steps) or
    /// `--skip REASON` (any step), with an optional note.
    #[command(group = clap::ArgGroup::new("resolution").required(true).args(["done", "skip"]))]
    Step {
        /// Incident id.
        id: String,
        /// Step id.
        step: String,
        /// The step is done.
        #[arg(long)]
        done: bool,
        /// Skip the step, with the reason.
        #[arg(long, value_name = "REASON")]
        skip: Option<String>,
        /// A note (kept with the step when done, on the timeline when
        /// skipped).
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add a note (and an attachment by path) to the timeline.
    Note {
        /// Incident id.
        id: String,
        /// The note.
        text: String,
        /// A file to reference (its path, size and SHA-256 are recorded).
        #[arg(long)]
        attach: Option<PathBuf>,
    },
    /// Close an incident (every step done or skipped).
    Close {
        /// Incident id.
        id: String,
    },
    /// Write the report.
    Report {
        /// Incident id.
        id: String,
        /// md or html.
        #[arg(long, value_enum)]
        format: Format,
        /// The file to write (mode 0600; never through a symbolic link).
        #[arg(long)]
        out: PathBuf,
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
}

fn fail(e: IncidentError) -> Result<ExitCode, CliError> {
    match e {
        IncidentError::Vault(v) => Err(CliError::Vault(v)),
        IncidentError::Unresolved { ref steps } => {
            say_err!(
                "error: the incident cannot be closed yet, steps not done or skipped: {}",
                steps.join(", ")
            );
            say_err!(
                "hint: `keyward incident run ID STEP` for automated steps, \
                 `keyward incident step ID STEP --done` or `--skip REASON` for the others"
            );
            Ok(exit(e.kind()))
        }
        other => {
            say_err!("error: {other}");
            Ok(exit(other.kind()))
        }
    }
}

/// The command that resolves the first pending step, with the incident's
/// short id (a unique prefix is accepted wherever an id is asked for).
fn next_command(v: &IncidentView) -> Option<String> {
    let short = v.id.get(..8).unwrap_or(&v.id);
    let step = v.steps.iter().find(|s| s.state == StepState::Pending)?;
    Some(match step.kind {
        incident::StepKind::Automated => format!("keyward incident run {short} {}", step.id),
        _ => {
            format!("keyward incident step {short} {} --done", step.id)
        }
    })
}

/// The servers an affected key was deployed to: their bundles hold it
/// until they are deleted there or replaced after a rotation.
fn print_deployments(session: &mut keyward_core::vault::Session, view: &IncidentView) {
    for k in &view.keys {
        let Ok(targets) = session.deploy_targets_of(&k.label) else {
            continue;
        };
        for d in targets.iter().filter(|d| d.deployed_at.is_some()) {
            say!(
                "to clean: {} was deployed to {} ({}): delete {} there, or redeploy once the key is replaced",
                k.label,
                d.target,
                d.host,
                d.remote_file
            );
        }
    }
}

fn print_view(v: &IncidentView) {
    say!(
        "incident {} ({}) {}: {}/{} steps resolved",
        v.id,
        v.situation.as_str(),
        v.state,
        v.progress.resolved,
        v.progress.total
    );
    for k in &v.keys {
        say!(
            "  key {} ({}, {})",
            k.label,
            k.exchange.display_name(),
            k.masked_key_id
        );
    }
    for s in &v.steps {
        say!(
            "  [{}] {} ({:?}): {}",
            s.state.as_str(),
            s.id,
            s.kind,
            s.title
        );
        for i in &s.instructions {
            say!("      {}: {}", i.exchange.display_name(), i.text);
        }
        if let Some(e) = &s.error {
            say!("      error: {e}");
        }
    }
}

/// Runs the command.
pub fn run(path: &Path, use_keyring: bool, cmd: &IncidentCommand) -> Result<ExitCode, CliError> {
    if let IncidentCommand::Playbooks { json: as_json } = cmd {
        return match incident::playbooks() {
            Ok(list) => {
                if *as_json {
                    json(&list);
                } else {
                    for p in &list {
                        say!("{}: {}", p.situation.as_str(), p.title);
                        for s in &p.steps {
                            say!("  {} ({:?}): {}", s.id, s.kind, s.title);
                        }
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => fail(e),
        };
    }
    let (mut session, password) = app::unlock_keep(path, use_keyring)?;
    let result = match cmd {
        IncidentCommand::Playbooks { .. } => return Ok(ExitCode::SUCCESS),
        IncidentCommand::Open {
            situation,
            keys,
            exchange,
            json: as_json,
        } => {
            let Some(situation) = Situation::parse(situation) else {
                return Err(CliError::Input {
                    message:
                        "--situation is one of leaked, trades, withdrawal, device, third-party"
                            .into(),
                });
            };
            let exchange = exchange
                .as_deref()
                .map(str::parse::<Exchange>)
                .transpose()?;
            incident::open(&mut session, Actor::Cli, situation, keys, exchange)
                .map(|v| (v, *as_json))
        }
        IncidentCommand::List { json: as_json } => {
            return match incident::list(&mut session) {
                Ok(list) => {
                    if *as_json {
                        json(&list);
                    } else {
                        for i in &list {
                            say!(
                                "{} {} {} {}/{} {}",
                                i.id,
                                i.situation.as_str(),
                                i.state,
                                i.progress.resolved,
                                i.progress.total,
                                i.keys.join(",")
                            );
                        }
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => fail(e),
            };
        }
        IncidentCommand::Status { id, json: as_json } => {
            incident::view(&mut session, id).map(|v| (v, *as_json))
        }
        IncidentCommand::Run {
            id,
            step,
            proof,
            confirm_manual,
            timeout,
            json: as_json,
        } => {
            // The revoke step, and the inventory step when a manager key
            // exists: the core decides.
            let needs_grant = match incident::step_needs_grant(&mut session, id, step) {
                Ok(n) => n,
                Err(e) => return fail(e),
            };
            let grant = if needs_grant {
                Some(gated::grant::<actions::Revoke>(
                    &mut session,
                    proof,
                    password.as_ref(),
                )?)
            } else {
                None
            };
            let (client, runtime) = match network(*timeout) {
                Ok(n) => n,
                Err(code) => return Ok(code),
            };
            let run = match runtime.block_on(incident::run_step(
                &mut session,
                &client,
                Actor::Cli,
                id,
                step,
                grant,
                *confirm_manual,
            )) {
                Ok(r) => r,
                Err(e) => return fail(e),
            };
            if *as_json {
                json(&run);
            } else {
                say!("{step}: {}", run.state.as_str());
                for r in &run.results {
                    say!("  {r}");
                }
                for m in &run.manual_steps {
                    say!("  to do: {m}");
                }
                if run.state == StepState::Pending {
                    say!(
                        "  once done: keyward incident run {} {step} --confirm-manual",
                        run.incident.id
                    );
                }
            }
            if run.lock_requested {
                session.lock();
                say!("vault locked");
            }
            return Ok(match run.state {
                StepState::Done => ExitCode::SUCCESS,
                StepState::Failed => exit(keyward_core::ErrorKind::Exchange),
                _ => exit(keyward_core::ErrorKind::Invalid),
            });
        }
        IncidentCommand::Step {
            id,
            step,
            done,
            skip,
            note,
            json: as_json,
        } => match (done, skip) {
            (true, _) => incident::step_done(&mut session, Actor::Cli, id, step, note.as_deref())
                .map(|v| (v, *as_json)),
            (false, Some(reason)) => {
                incident::step_skip(&mut session, Actor::Cli, id, step, reason)
                    .and_then(|v| match note.as_deref().map(str::trim) {
                        Some(n) if !n.is_empty() => incident::note(
                            &mut session,
                            Actor::Cli,
                            &v.id,
                            &format!("{step}: {n}"),
                            None,
                        ),
                        _ => Ok(v),
                    })
                    .map(|v| (v, *as_json))
            }
            (false, None) => {
                return Err(CliError::Input {
                    message: "give --done or --skip REASON".into(),
                });
            }
        },
        IncidentCommand::Note { id, text, attach } => {
            incident::note(&mut session, Actor::Cli, id, text, attach.as_deref())
                .map(|v| (v, false))
        }
        IncidentCommand::Close { id } => {
            incident::close(&mut session, Actor::Cli, id).map(|v| (v, false))
        }
        IncidentCommand::Report {
            id,
            format,
            out,
            force,
        } => {
            let view = match incident::view(&mut session, id) {
                Ok(v) => v,
                Err(e) => return fail(e),
            };
            let text = match format {
                Format::Md => report::markdown(&view),
                Format::Html => report::html(&view),
            };
            files::write_private(out, text.as_bytes(), files::Overwrite::when(*force))
                .map_err(|e| CliError::Vault(e.into()))?;
            say!("report written to {}", out.display());
            return Ok(ExitCode::SUCCESS);
        }
    };
    if matches!(cmd, IncidentCommand::Open { .. }) && result.is_ok() {
        // After the commit; a failed delivery never changes the result.
        crate::alerts::deliver_pending(&mut session);
    }
    match result {
        Ok((view, true)) => {
            json(&view);
            Ok(ExitCode::SUCCESS)
        }
        Ok((view, false)) => {
            print_view(&view);
            print_deployments(&mut session, &view);
            if let Some(next) = next_command(&view) {
                say!("next: {next}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => fail(e),
    }
}
