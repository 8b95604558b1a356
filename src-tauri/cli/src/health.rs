//! `keyward health`: the vault's key-health findings and score.
//!
//! Owns: the command's arguments and output. Must never: print a secret
//! (only the core's [`HealthReport`], which holds labels, rule ids and
//! explanations) or call an exchange — findings use each key's stored last
//! check; run `keyward verify` to refresh them.
//!
//! Exit 0 whatever the findings (it is a report; `keyward verify` and
//! `keyward scan` are the commands that fail on findings).

use std::path::Path;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;
use keyward_core::health::{Fix, HealthReport, Severity};

use crate::app::{self, CliError};
use crate::output::{count, grouped};

/// Arguments of `keyward health`.
#[derive(Args)]
pub struct HealthArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(path: &Path, use_keyring: bool, args: &HealthArgs) -> Result<ExitCode, CliError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let mut session = app::unlock(path, use_keyring)?;
    let report = keyward_core::health::report_for(&mut session, now, &[])?;
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(s) => say_lines!("{s}"),
            Err(e) => say_err!("error: could not format JSON: {e}"),
        }
    } else {
        print(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "CRITICAL",
        Severity::Warning => "warning",
        _ => "info",
    }
}

fn print(report: &HealthReport) {
    let c = &report.counts;
    say!(
        "Health score: {}/100 ({})",
        report.score.score,
        count(report.keys, "key", "keys")
    );
    say!(
        "Findings: {} critical, {}, {} info",
        grouped(c.critical),
        count(c.warning, "warning", "warnings"),
        grouped(c.info)
    );
    if report.findings.is_empty() {
        say!("No findings.");
        return;
    }
    say!("");
    for f in &report.findings {
        say!("{:<8}  {}  {}", severity(f.severity), f.label, f.title);
        say!("          {}", f.why);
        say!("          fix: {}", fix_text(f.fix, &f.label));
    }
    if !report.score.lost.is_empty() {
        say!("");
        say!("Points lost:");
        for l in &report.score.lost {
            say!("  -{:<3} {}  {}", l.points, l.label, l.why);
        }
    }
}

/// A label as one shell word (single-quoted unless it is plainly safe).
fn shell_word(label: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_.@+:/".contains(c);
    if !label.is_empty() && label.chars().all(safe) {
        label.to_owned()
    } else {
        format!("'{}'", label.replace('\'', "'\\''"))
    }
}

/// What to do about a finding, as a command to run or a step to take.
fn fix_text(fix: Fix, label: &str) -> String {
    let l = shell_word(label);
    match fix {
        Fix::Rotate => format!("keyward rotate begin {l}"),
        Fix::NarrowScope => format!(
            "remove the extra permission at the exchange (or on the key's page in the app), \
             then `keyward verify {l}`"
        ),
        Fix::AddIpWhitelist => format!(
            "restrict the key to your server's IP at the exchange, then \
             `keyward edit {l} --ip YOUR.SERVER.IP`"
        ),
        Fix::RunCheck => format!("keyward verify {l}"),
        Fix::OpenIncident => format!("keyward incident open --situation leaked --key {l}"),
        Fix::ReviewServices => format!("keyward service list {l}"),
        _ => format!("see `keyward show {l}`"),
    }
}
