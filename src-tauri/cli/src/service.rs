//! `keyward service`: the bots, platforms and scripts that hold a key, and
//! the vendor checklist of each (list, add, edit, remove, check).
//!
//! Owns: the command's arguments and output. Must never: decide anything
//! the core decides (names, hosts, notes and checklist items are validated
//! by `keyward_core::model::service`), or print a secret (service records
//! hold none).

use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use keyward_core::model::{ChecklistItem, LinkedService, NewService, ServiceKind, ServiceUpdate};
use keyward_core::vault::Actor;

use crate::app::{self, CliError};

/// `keyward service …`
#[derive(Subcommand)]
pub enum ServiceCommand {
    /// List a key's linked services with their vendor checklist.
    List {
        /// The key's label.
        label: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Record a service that holds the key.
    Add(AddArgs),
    /// Change a service's name, kind, host or notes (the checklist is kept).
    Edit(EditArgs),
    /// Remove a service from the key.
    Remove {
        /// The key's label.
        label: String,
        /// The service's name (case-insensitive).
        name: String,
    },
    /// Check (today) or uncheck one vendor-checklist item: key_storage_docs,
    /// reputation, incident_history, compliance, open_source.
    Check {
        /// The key's label.
        label: String,
        /// The service's name (case-insensitive).
        name: String,
        /// The checklist item.
        item: String,
        /// Clear the item instead of checking it.
        #[arg(long)]
        uncheck: bool,
    },
}

/// What holds the key.
#[derive(Clone, Copy, ValueEnum)]
pub enum KindArg {
    /// A bot you run yourself.
    OwnBot,
    /// Someone else's platform (gets the vendor checklist health finding).
    Platform,
    /// A script.
    Script,
    /// Not specified.
    Unspecified,
}

impl From<KindArg> for ServiceKind {
    fn from(k: KindArg) -> ServiceKind {
        match k {
            KindArg::OwnBot => ServiceKind::OwnBot,
            KindArg::Platform => ServiceKind::ThirdPartyPlatform,
            KindArg::Script => ServiceKind::Script,
            KindArg::Unspecified => ServiceKind::Unspecified,
        }
    }
}

/// `keyward service add`
#[derive(Args)]
pub struct AddArgs {
    /// The key's label.
    label: String,
    /// The service's name (unique on this key, 1–64 characters).
    name: String,
    /// What it is.
    #[arg(long, value_enum)]
    kind: KindArg,
    /// Where it runs: a hostname or IP address.
    #[arg(long)]
    host: Option<String>,
    /// Notes (not secret; at most 1000 characters).
    #[arg(long, default_value = "")]
    notes: String,
}

/// `keyward service edit`
#[derive(Args)]
pub struct EditArgs {
    /// The key's label.
    label: String,
    /// The service's current name (case-insensitive).
    name: String,
    /// New name.
    #[arg(long)]
    new_name: Option<String>,
    /// New kind.
    #[arg(long, value_enum)]
    kind: Option<KindArg>,
    /// New hostname or IP address.
    #[arg(long, conflicts_with = "clear_host")]
    host: Option<String>,
    /// Remove the host.
    #[arg(long)]
    clear_host: bool,
    /// Replace the notes.
    #[arg(long)]
    notes: Option<String>,
}

/// Runs the command.
pub fn run(path: &Path, use_keyring: bool, command: &ServiceCommand) -> Result<ExitCode, CliError> {
    let mut session = app::unlock(path, use_keyring)?;
    match command {
        ServiceCommand::List { label, json } => {
            let services = session.services(label)?;
            if *json {
                match serde_json::to_string_pretty(&services) {
                    Ok(s) => say_lines!("{s}"),
                    Err(e) => say_err!("error: could not format JSON: {e}"),
                }
            } else if services.is_empty() {
                say!("{label}: no linked services");
            } else {
                for s in &services {
                    print(s);
                }
            }
        }
        ServiceCommand::Add(a) => {
            session.add_service(
                Actor::Cli,
                &a.label,
                NewService {
                    name: a.name.clone(),
                    kind: a.kind.into(),
                    host: a.host.clone(),
                    notes: a.notes.clone(),
                },
            )?;
            say!("added service {} to {}", a.name.trim(), a.label);
        }
        ServiceCommand::Edit(a) => {
            let update = ServiceUpdate {
                name: a.new_name.clone(),
                kind: a.kind.map(Into::into),
                host: if a.clear_host {
                    Some(None)
                } else {
                    a.host.clone().map(Some)
                },
                notes: a.notes.clone(),
            };
            if update == ServiceUpdate::default() {
                return Err(CliError::Input {
                    message: "nothing to change: give --new-name, --kind, --host, --clear-host \
                              or --notes"
                        .into(),
                });
            }
            session.update_service(Actor::Cli, &a.label, &a.name, update)?;
            say!("updated service {} of {}", a.name, a.label);
        }
        ServiceCommand::Remove { label, name } => {
            session.remove_service(Actor::Cli, label, name)?;
            say!("removed service {name} from {label}");
        }
        ServiceCommand::Check {
            label,
            name,
            item,
            uncheck,
        } => {
            let item: ChecklistItem = item.parse()?;
            let services = session.set_service_check(Actor::Cli, label, name, item, !uncheck)?;
            if let Some(s) = services
                .iter()
                .find(|s| s.name.to_lowercase() == name.trim().to_lowercase())
            {
                print(s);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One service and its checklist, for `service list` and `service check`.
fn print(s: &LinkedService) {
    say!(
        "{} ({}{})",
        s.name,
        s.kind.title(),
        s.host
            .as_deref()
            .map(|h| format!(", host {h}"))
            .unwrap_or_default()
    );
    if !s.notes.is_empty() {
        say!("  notes: {}", s.notes);
    }
    say!(
        "  vendor checklist: {}/{}{}",
        s.checklist.done(),
        ChecklistItem::ALL.len(),
        if s.kind.needs_vetting() {
            ""
        } else {
            " (optional for this kind)"
        }
    );
    for e in s.checklist.entries() {
        match e.checked_at {
            Some(at) => say!(
                "  [x] {:<17} {} ({})",
                e.item.as_str(),
                e.title,
                app::when(Some(at))
            ),
            None => say!("  [ ] {:<17} {}", e.item.as_str(), e.title),
        }
    }
}

/// One line per service, for `keyward show`.
pub fn summary_line(s: &LinkedService) -> String {
    let mut out = format!("{} ({}", s.name, s.kind.title());
    if let Some(h) = &s.host {
        out.push_str(&format!(", {h}"));
    }
    out.push_str(&format!(
        ", checklist {}/{})",
        s.checklist.done(),
        ChecklistItem::ALL.len()
    ));
    out
}
