//! `keyward scan`: the leak scanner over files and git history.
//!
//! Exit 0 when nothing is found, 8 when something is (like a linter); errors
//! keep their own codes. Must never: print a matched value — findings name the
//! key's label and the part, or the rule and variable name.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use keyward_core::scan::import::Format;
use keyward_core::scan::{self, Finding, FindingKind, Matcher, Progress, ScanOptions, ScanReport};
use keyward_core::text::{count, grouped, shell_quote};

use crate::app::{self, CliError, fail};

/// Arguments of `keyward scan`.
#[derive(Args)]
pub struct ScanArgs {
    /// Files or directories to scan (with --history: git repositories, or
    /// folders holding them).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Also scan every blob reachable from every ref (branches, tags,
    /// stashes, reflogs) of the git repository at each path, or of every
    /// repository below a folder that is not one.
    #[arg(long)]
    history: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Do not honour .gitignore / .ignore files (scan ignored files too).
    #[arg(long)]
    no_ignore: bool,
    /// Skip files (and blobs) larger than this many bytes.
    #[arg(long, default_value_t = 16 * 1024 * 1024, value_name = "BYTES")]
    max_file_size: u64,
    /// Scan files that look binary too.
    #[arg(long)]
    include_binary: bool,
    /// Only look for the vault's own keys, not for unknown credentials.
    #[arg(long)]
    no_unknown: bool,
}

fn describe(f: &Finding) -> String {
    let place = &f.location;
    match f.kind {
        FindingKind::VaultKey => format!(
            "{place}: vault key {:?} ({})",
            f.label.as_deref().unwrap_or(""),
            f.part.as_str().replace('_', " ")
        ),
        FindingKind::UnknownCredential => {
            let mut what = Vec::new();
            if let Some(e) = f.exchange {
                what.push(e.display_name().to_owned());
            }
            what.push(f.part.as_str().replace('_', " "));
            if let Some(n) = &f.name {
                what.push(format!("in {n}"));
            }
            format!(
                "{place}: unknown credential ({}; rule {})",
                what.join(" "),
                f.rule.unwrap_or("")
            )
        }
    }
}

/// The `keyward import-env` line that moves the unknown credentials found
/// in configuration files into the vault, ready to paste: each file once,
/// as a path valid from the current directory, quoted for the shell.
/// History findings are left out (the file may be gone from the working
/// tree), and so are files `import-env` cannot read.
pub fn import_hint(findings: &[Finding]) -> Option<String> {
    let mut files: Vec<&Path> = Vec::new();
    for f in findings {
        if f.kind == FindingKind::UnknownCredential
            && f.repository.is_none()
            && Format::of(&f.path).is_some()
            && !files.contains(&f.path.as_path())
        {
            files.push(&f.path);
        }
    }
    if files.is_empty() {
        return None;
    }
    let mut line = String::from("keyward import-env");
    for file in files {
        line.push(' ');
        line.push_str(&shell_quote(&file.to_string_lossy()));
    }
    Some(line)
}

/// Runs `keyward scan`.
pub fn run(vault: &Path, use_keyring: bool, args: &ScanArgs) -> Result<ExitCode, CliError> {
    let needles = {
        let mut session = app::unlock(vault, use_keyring)?;
        let needles = session.scan_needles()?;
        session.lock();
        needles
    };
    let options = ScanOptions {
        honour_ignore: !args.no_ignore,
        max_file_size: args.max_file_size,
        include_binary: args.include_binary,
        unknown_rules: !args.no_unknown,
        history: args.history,
        ..ScanOptions::default()
    };
    let matcher = match Matcher::new(needles, options.unknown_rules) {
        Ok(m) => m,
        Err(e) => return Ok(fail(&e)),
    };
    let quiet = |_: Progress| {};
    let report = match scan::scan(&matcher, &args.paths, &options, &quiet) {
        Ok(r) => r,
        Err(e) => return Ok(fail(&e)),
    };
    // The automaton and the needles go as soon as the scan is done.
    drop(matcher);
    print(&report, args.json);
    Ok(if report.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        app::exit(keyward_core::ErrorKind::Findings)
    })
}

fn print(report: &ScanReport, json: bool) {
    if json {
        match serde_json::to_string_pretty(report) {
            Ok(s) => say_lines!("{s}"),
            Err(e) => say_err!("error: could not format JSON: {e}"),
        }
        return;
    }
    for f in &report.findings {
        say!("{}", describe(f));
    }
    for (label, part) in &report.short_needles {
        say_err!(
            "note: the {} of {label:?} is too short to search for",
            part.as_str()
        );
    }
    for r in &report.repositories {
        say_err!("history scanned: {}", r.display());
    }
    for p in &report.unreadable {
        say_err!("note: could not read {}", p.display());
    }
    say_err!(
        "{}; scanned {}, {:.1} MB; skipped {} binary, {} too large",
        count(report.findings.len() as u64, "finding", "findings"),
        count(report.scanned, "file or blob", "files and blobs"),
        report.bytes as f64 / 1e6,
        grouped(report.skipped_binary),
        grouped(report.skipped_large)
    );
    if let Some(line) = import_hint(&report.findings) {
        say_err!("to move the unknown credentials into the vault, run:");
        say_err!("  {line}");
    }
}
