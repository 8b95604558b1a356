//! `keyward import-env`: moves exchange credentials from `.env`, JSON, YAML
//! and TOML bot configurations into the vault.
//!
//! Shows what it found (labels, exchanges, field names, masked key ids —
//! never a value), imports the chosen ones (one transaction per key), and
//! only with `--rewrite` or an interactive "yes" rewrites the file without
//! the values (backup kept next to it). Prints the `keyward run` line to use
//! instead. Must never: print a value, or touch a file silently.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use keyward_core::scan::import::{self, Candidate, FileCandidates};
use keyward_core::vault::Actor;
use serde::Serialize;

use crate::app::{self, CliError, fail};

/// Arguments of `keyward import-env`.
#[derive(Args)]
pub struct ImportEnvArgs {
    /// Configuration files (.env, .json, .yaml/.yml, .toml).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print JSON (implies no questions: use --yes to import).
    #[arg(long)]
    json: bool,
    /// Import every credential found without asking.
    #[arg(long)]
    yes: bool,
    /// Prefix for the labels (label = PREFIX + exchange).
    #[arg(long, default_value = "", value_name = "P")]
    label_prefix: String,
    /// Rewrite each file without the imported values (a backup copy is kept
    /// next to it as FILE.keyward-backup, mode 0600).
    #[arg(long)]
    rewrite: bool,
}

fn ask(question: &str) -> bool {
    eprint!("{} [y/N] ", keyward_core::text::escape_terminal(question));
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim(), "y" | "Y" | "yes" | "Yes")
}

#[derive(Serialize)]
struct Report<'a> {
    candidates: Vec<&'a import::CandidatePreview>,
    imported: Vec<import::ImportOutcome>,
    rewritten: Vec<import::Rewrite>,
    #[serde(skip_serializing_if = "Option::is_none")]
    run: Option<String>,
}

/// Runs `keyward import-env`.
pub fn run(
    vault: &std::path::Path,
    use_keyring: bool,
    args: &ImportEnvArgs,
) -> Result<ExitCode, CliError> {
    let mut files: Vec<FileCandidates> = Vec::new();
    for f in &args.files {
        match import::read_file(f, &args.label_prefix) {
            Ok(fc) => files.push(fc),
            Err(e) => return Ok(fail(&e)),
        }
    }
    let all: Vec<&Candidate> = files.iter().flat_map(|f| f.candidates.iter()).collect();
    if !args.json {
        if all.is_empty() {
            say!("no exchange credentials found");
        } else {
            say!(
                "{} found:",
                keyward_core::text::count(all.len() as u64, "credential", "credentials")
            );
        }
        for (i, c) in all.iter().enumerate() {
            let p = &c.preview;
            let fields: Vec<&str> = p.fields.iter().map(|f| f.name.as_str()).collect();
            say!(
                "[{}] {}: {} → label {:?} ({}, key id {}{})",
                i + 1,
                p.file.display(),
                fields.join(", "),
                p.label,
                p.exchange.display_name(),
                p.key_id_masked,
                if p.has_passphrase {
                    ", with passphrase"
                } else {
                    ""
                }
            );
        }
    }
    let interactive = !args.json && std::io::stdin().is_terminal();
    let chosen: Vec<&Candidate> = if args.yes {
        all.clone()
    } else if interactive {
        all.iter()
            .copied()
            .filter(|c| ask(&format!("import {:?}?", c.preview.label)))
            .collect()
    } else {
        if !all.is_empty() && !args.json {
            say_err!("nothing imported: pass --yes to import these (or run in a terminal)");
        }
        Vec::new()
    };
    let mut report = Report {
        candidates: all.iter().map(|c| &c.preview).collect(),
        imported: Vec::new(),
        rewritten: Vec::new(),
        run: None,
    };
    if !chosen.is_empty() {
        let mut session = app::unlock(vault, use_keyring)?;
        report.imported = match import::import(&mut session, Actor::Cli, &chosen) {
            Ok(o) => o,
            Err(e) => return Ok(fail(&e)),
        };
        session.lock();
    }
    let added: Vec<&Candidate> = chosen
        .iter()
        .copied()
        .filter(|c| {
            report
                .imported
                .iter()
                .any(|o| o.added && o.label == c.preview.label)
        })
        .collect();
    if !args.json {
        for o in &report.imported {
            match &o.error {
                None => say!("imported {}", o.label),
                Some(e) => say!("not imported {}: {e}", o.label),
            }
        }
    }
    if !added.is_empty() {
        for f in &files {
            let mine: Vec<&Candidate> = added
                .iter()
                .copied()
                .filter(|c| c.preview.file == f.path)
                .collect();
            if mine.is_empty() {
                continue;
            }
            let rewrite = args.rewrite
                || (interactive
                    && ask(&format!(
                        "rewrite {} without these values (a backup copy is kept)?",
                        f.path.display()
                    )));
            if !rewrite {
                if !args.json {
                    say!(
                        "{} still holds the values; remove them, or run with --rewrite",
                        f.path.display()
                    );
                }
                continue;
            }
            match import::rewrite_without_values(f, &mine) {
                Ok(r) => {
                    if !args.json {
                        say!(
                            "rewrote {} ({} removed); backup with the values: {} — delete it once the bot runs with keyward run",
                            r.file.display(),
                            keyward_core::text::count(r.removed as u64, "value", "values"),
                            r.backup.display()
                        );
                    }
                    report.rewritten.push(r);
                }
                Err(e) => return Ok(fail(&e)),
            }
        }
        let labelled: Vec<(&Candidate, &str)> = added
            .iter()
            .map(|c| (*c, c.preview.label.as_str()))
            .collect();
        let line = import::run_line(&labelled);
        if !args.json {
            say!(
                "allow the keys to be used by keyward run (keyward edit LABEL --allow-run --totp CODE), then start the bot with:"
            );
            say!("  {line}");
        }
        report.run = Some(line);
    }
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(s) => say_lines!("{s}"),
            Err(e) => say_err!("error: could not format JSON: {e}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}
