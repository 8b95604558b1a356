//! `keyward alerts …`: the webhook, the background-audit schedule, a test
//! message, and `remind` (the reminder and delivery pass, for cron).
//!
//! The webhook URL is a bearer secret, so it is never taken from argv
//! (argv is visible to every user through `ps` and lands in shell
//! history): `set-webhook` reads it from `$KEYWARD_WEBHOOK_URL` or, when
//! that is unset, from the first line of stdin. Nothing here prints it;
//! `status` shows the kind, the host and a masked form.
//!
//! Owns: the commands' arguments, output and exit codes. Must never:
//! decide anything itself (the core validates, gates and audits), print
//! the URL, or let a failed delivery change the exit code of the command
//! that raised the alert (see [`deliver_pending`]).

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;
use keyward_core::alerts::webhook::{WebhookKind, WebhookSender, WebhookUrl};
use keyward_core::alerts::{self, AuditSchedule, EventSwitches};
use keyward_core::mfa::actions;
use keyward_core::vault::{Actor, Session};
use keyward_core::{ErrorKind, KindedError};
use zeroize::Zeroizing;

use crate::app::{self, CliError, exit, json, runtime};
use crate::gated;

/// The variable `set-webhook` reads the URL from (else stdin).
pub const URL_VAR: &str = "KEYWARD_WEBHOOK_URL";

/// `keyward alerts` subcommands.
#[derive(Subcommand)]
pub enum AlertsCommand {
    /// Show the alert settings (never the webhook URL).
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set the webhook. The URL comes from $KEYWARD_WEBHOOK_URL or the
    /// first line of stdin, never from argv. Needs --totp once MFA is on.
    SetWebhook {
        /// discord or slack (default: what the URL's host says).
        #[arg(long)]
        kind: Option<String>,
        #[command(flatten)]
        proof: gated::ProofArgs,
    },
    /// Remove the webhook (undelivered events are dropped). Needs --totp.
    RemoveWebhook {
        #[command(flatten)]
        proof: gated::ProofArgs,
    },
    /// Background audit schedule and which events go to the webhook.
    /// Needs --totp.
    Options {
        /// off, daily or weekly.
        #[arg(long)]
        background_audit: Option<String>,
        /// Comma-separated events to send: incident_opened,
        /// critical_finding, rotation_overdue (empty: none).
        #[arg(long)]
        events: Option<String>,
        #[command(flatten)]
        proof: gated::ProofArgs,
    },
    /// Send a test message to the webhook.
    Test,
    /// Run the reminder pass once (rotation due or overdue, failed checks;
    /// each key at most once a day) and deliver queued webhook events.
    Remind {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Delivers queued webhook events after a command committed its change.
/// Best effort: a failure is reported on stderr (and audited by the core)
/// but never changes the command's result. Returns how many were sent.
pub fn deliver_pending(session: &mut Session) -> usize {
    let Ok(rt) = runtime() else { return 0 };
    let sender = match WebhookSender::new() {
        Ok(s) => s,
        Err(e) => {
            say_err!("warning: alerts not sent: {e}");
            return 0;
        }
    };
    match rt.block_on(alerts::deliver_alerts(
        &mut *session,
        &sender,
        Actor::Cli,
        now_secs(),
    )) {
        Ok(report) => {
            if let Some(e) = report.first_error() {
                say_err!("warning: webhook alert not delivered: {e} (it will be retried)");
            }
            report.delivered()
        }
        Err(e) => {
            say_err!("warning: webhook alerts not delivered: {e}");
            0
        }
    }
}

fn read_url() -> Result<WebhookUrl, CliError> {
    let raw = match std::env::var(URL_VAR) {
        Ok(v) => Zeroizing::new(v),
        Err(_) => {
            // One line, at most the secret-input limit (allocated once, so
            // growth leaves no copy behind).
            use keyward_core::files::{FileError, MAX_SECRET_INPUT};
            use std::io::{BufRead as _, Read as _};
            let mut line = Zeroizing::new(String::with_capacity(MAX_SECRET_INPUT + 64));
            std::io::stdin()
                .lock()
                .take(MAX_SECRET_INPUT as u64 + 1)
                .read_line(&mut line)
                .map_err(|_| CliError::Input {
                    message: format!(
                        "could not read the webhook URL from stdin (or set ${URL_VAR})"
                    ),
                })?;
            if line.len() > MAX_SECRET_INPUT {
                return Err(CliError::Vault(
                    FileError::TooLarge {
                        what: "webhook URL from stdin",
                        limit: MAX_SECRET_INPUT,
                    }
                    .into(),
                ));
            }
            line
        }
    };
    WebhookUrl::parse(raw.trim()).map_err(|e| CliError::Vault(e.into()))
}

fn parse_events(list: &str) -> Result<EventSwitches, CliError> {
    let mut e = EventSwitches {
        incident_opened: false,
        critical_finding: false,
        rotation_overdue: false,
    };
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match name {
            "incident_opened" => e.incident_opened = true,
            "critical_finding" => e.critical_finding = true,
            "rotation_overdue" => e.rotation_overdue = true,
            other => {
                return Err(CliError::Input {
                    message: format!(
                        "unknown event {other:?}: incident_opened, critical_finding, rotation_overdue"
                    ),
                });
            }
        }
    }
    Ok(e)
}

fn print_status(s: &alerts::AlertSettings) {
    match &s.webhook {
        Some(w) => say!("webhook: {} ({}, {})", w.masked, w.kind.as_str(), w.host),
        None => say!("webhook: not configured"),
    }
    let on = |b: bool| if b { "on" } else { "off" };
    say!(
        "events: incident_opened {}, critical_finding {}, rotation_overdue {}",
        on(s.events.incident_opened),
        on(s.events.critical_finding),
        on(s.events.rotation_overdue)
    );
    say!("background audit: {}", s.background_audit.as_str());
    if let Some(run) = &s.last_background_audit {
        say!(
            "last background audit: {} — {} checked, {} failed, {} critical",
            keyward_core::alerts::format_time(run.at),
            run.checked,
            run.failed,
            run.critical
        );
    }
    say!("queued events: {}", s.pending);
}

/// Runs the command.
pub fn run(path: &Path, use_keyring: bool, cmd: &AlertsCommand) -> Result<ExitCode, CliError> {
    // Read the URL before the password prompt takes the terminal.
    let url = match cmd {
        AlertsCommand::SetWebhook { .. } => Some(read_url()?),
        _ => None,
    };
    let (mut session, password) = app::unlock_keep(path, use_keyring)?;
    match cmd {
        AlertsCommand::Status { json: as_json } => {
            let s = session.alert_settings()?;
            if *as_json {
                json(&s);
            } else {
                print_status(&s);
            }
        }
        AlertsCommand::SetWebhook { kind, proof } => {
            let kind = kind
                .as_deref()
                .map(str::parse::<WebhookKind>)
                .transpose()
                .map_err(|e| CliError::Vault(e.into()))?;
            let Some(url) = url else {
                return Ok(exit(ErrorKind::Internal));
            };
            let g =
                gated::grant::<actions::SecuritySettings>(&mut session, proof, password.as_ref())?;
            let s = session.set_webhook(Actor::Cli, g, &url, kind, None)?;
            print_status(&s);
        }
        AlertsCommand::RemoveWebhook { proof } => {
            let g =
                gated::grant::<actions::SecuritySettings>(&mut session, proof, password.as_ref())?;
            session.remove_webhook(Actor::Cli, g)?;
            say!("webhook removed");
        }
        AlertsCommand::Options {
            background_audit,
            events,
            proof,
        } => {
            let current = session.alert_settings()?;
            let schedule = match background_audit {
                Some(s) => s.parse::<AuditSchedule>()?,
                None => current.background_audit,
            };
            let events = match events {
                Some(list) => parse_events(list)?,
                None => current.events,
            };
            let g =
                gated::grant::<actions::SecuritySettings>(&mut session, proof, password.as_ref())?;
            let s = session.set_alert_options(Actor::Cli, g, schedule, events)?;
            print_status(&s);
        }
        AlertsCommand::Test => {
            let rt = match runtime() {
                Ok(rt) => rt,
                Err(code) => return Ok(code),
            };
            let sender = WebhookSender::new().map_err(|e| CliError::Vault(e.into()))?;
            match rt.block_on(alerts::send_test_alert(&mut session, &sender, Actor::Cli)) {
                Ok(()) => say!("test message delivered"),
                Err(e) => {
                    say_err!("error: {e}");
                    return Ok(exit(e.kind()));
                }
            }
        }
        AlertsCommand::Remind { json: as_json } => {
            let pass = keyward_core::alerts::reminder_pass(&mut session, Actor::Cli, now_secs())?;
            if *as_json {
                json(&pass);
            } else {
                for r in &pass.reminders {
                    say!("{}: {}", r.title, r.body);
                }
            }
            let sent = deliver_pending(&mut session);
            if !*as_json && sent > 0 {
                say!("webhook messages delivered: {sent}");
            }
        }
    }
    session.lock();
    Ok(ExitCode::SUCCESS)
}
