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
use keyward_core::health::{HealthReport, Severity};

use crate::CliError;

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
    let mut session = crate::unlock(path, use_keyring)?;
    let report = session.health_report(now, &[])?;
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
        "Health score: {}/100 ({} key{})",
        report.score.score,
        report.keys,
        if report.keys == 1 { "" } else { "s" }
    );
    say!(
        "Findings: {} critical, {} warning, {} info",
        c.critical,
        c.warning,
        c.info
    );
    if report.findings.is_empty() {
        say!("No findings.");
        return;
    }
    say!("");
    for f in &report.findings {
        say!("{:<8}  {}  {}", severity(f.severity), f.label, f.title);
        say!("          {}", f.why);
        say!("          fix: {}", f.fix.as_str());
    }
    if !report.score.lost.is_empty() {
        say!("");
        say!("Points lost:");
        for l in &report.score.lost {
            say!("  -{:<3} {}  {}", l.points, l.label, l.why);
        }
    }
}
