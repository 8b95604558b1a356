//! `keyward verify LABEL | --all [--json]`: checks keys live against their
//! exchanges, prints what each exchange reports, and stores the last check
//! on each key (see `keyward show`).
//!
//! Owns: the command's arguments, its output and its exit code. Must never:
//! print anything but the core's [`KeyVerification`] DTOs (which hold no
//! secret), or decide a finding itself.
//!
//! Exit codes: 6 if any key was rejected by its exchange or the exchange
//! could not be reached; else 1 if a key's stored credentials could not be
//! used at all (nothing was sent); else 0. Keys of exchanges without a live
//! adapter (KuCoin, Bitget, other) are reported as `not_supported` and do
//! not change the exit code.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use keyward_core::checks::{self, CheckSelection, KeyVerification};
use keyward_core::exchange::{ExchangeClient, HttpConfig, KeyCheckError, Severity};
use keyward_core::model::CheckStatus;
use keyward_core::vault::Actor;
use keyward_core::{ErrorKind, KindedError};

use crate::app::{self, CliError, exit};
use crate::output::{count, grouped};

/// Arguments of `keyward verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// The key's label.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    label: Option<String>,
    /// Check every key except revoked ones.
    #[arg(long)]
    all: bool,
    /// Print JSON: an object for LABEL, an array for --all.
    #[arg(long)]
    json: bool,
    /// Seconds to wait for each exchange answer (1–120).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
    timeout: u64,
}

/// Runs the command.
pub fn run(path: &Path, use_keyring: bool, args: &VerifyArgs) -> Result<ExitCode, CliError> {
    let selection = match &args.label {
        Some(label) if !args.all => CheckSelection::Labels(vec![label.clone()]),
        _ => CheckSelection::All,
    };
    let mut session = app::unlock(path, use_keyring)?;
    let config = HttpConfig {
        connect_timeout: Duration::from_secs(args.timeout),
        request_timeout: Duration::from_secs(args.timeout),
        ..HttpConfig::default()
    };
    let client = match ExchangeClient::new(config) {
        Ok(c) => c,
        Err(e) => {
            say_err!("error: {e}");
            return Ok(exit(e.kind()));
        }
    };
    // Only this command needs async I/O, so only it builds a runtime.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            say_err!("error: cannot start the network runtime: {e}");
            return Ok(exit(ErrorKind::Internal));
        }
    };
    let results = runtime.block_on(checks::verify_session(
        &mut session,
        &client,
        &selection,
        Actor::Cli,
    ))?;
    crate::alerts::deliver_pending(&mut session);
    session.lock();
    if args.json {
        let printed = if args.all {
            serde_json::to_string_pretty(&results)
        } else {
            match results.first() {
                Some(r) => serde_json::to_string_pretty(r),
                None => serde_json::to_string_pretty(&results),
            }
        };
        match printed {
            Ok(s) => say_lines!("{s}"),
            Err(e) => say_err!("error: could not format JSON: {e}"),
        }
    } else {
        table(&results);
    }
    Ok(exit_code(&results))
}

fn exit_code(results: &[KeyVerification]) -> ExitCode {
    if results.iter().any(KeyVerification::failed) {
        exit(ErrorKind::Exchange)
    } else if results.iter().any(|r| r.status == CheckStatus::Unusable) {
        exit(ErrorKind::Invalid)
    } else {
        ExitCode::SUCCESS
    }
}

fn permissions(r: &KeyVerification) -> String {
    if !r.authenticated {
        return "-".into();
    }
    let granted = r.granted();
    let unknown: Vec<&str> = keyward_core::exchange::Permissions::SCOPES
        .into_iter()
        .filter(|s| r.permissions.get(*s).is_none())
        .map(|s| s.as_str())
        .collect();
    let mut out = if granted.is_empty() {
        "none".to_owned()
    } else {
        granted.join(",")
    };
    if !unknown.is_empty() && unknown.len() < keyward_core::exchange::Permissions::SCOPES.len() {
        out.push_str(&format!(" (unknown: {})", unknown.join(",")));
    }
    out
}

fn ip(r: &KeyVerification) -> String {
    match (r.ip_restricted, &r.ip_whitelist) {
        (Some(true), Some(list)) if !list.is_empty() => list.join(","),
        (Some(true), _) => "restricted".into(),
        (Some(false), _) => "none".into(),
        (None, _) => "unknown".into(),
    }
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::Warning => "warning",
        _ => "info",
    }
}

fn table(results: &[KeyVerification]) {
    if results.is_empty() {
        say!("no keys to check");
        return;
    }
    let w = results
        .iter()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    say!(
        "{:<w$}  {:<8}  {:<13}  {:<36}  IP",
        "LABEL",
        "EXCHANGE",
        "RESULT",
        "LIVE PERMISSIONS"
    );
    for r in results {
        say!(
            "{:<w$}  {:<8}  {:<13}  {:<36}  {}",
            r.label,
            r.exchange.display_name(),
            r.status.as_str(),
            permissions(r),
            ip(r)
        );
        for f in &r.findings {
            say!("  {}: {} ({})", severity(f.severity), f.message, f.code);
        }
        match &r.error {
            // The rejection is already the "rejected" finding above.
            Some(KeyCheckError::Rejected { .. }) | None => {}
            Some(KeyCheckError::Failed(e)) => say!("  error: {} ({})", e.message, e.code),
        }
    }
    let failed = results.iter().filter(|r| r.failed()).count();
    let critical = results
        .iter()
        .filter(|r| r.status == CheckStatus::Critical)
        .count();
    say!(
        "{} checked, {} rejected or unreachable, {} with critical findings",
        count(results.len(), "key", "keys"),
        grouped(failed),
        grouped(critical)
    );
}
