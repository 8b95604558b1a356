//! Scanning files and directories.
//!
//! Owns: the walk (the `ignore` crate's parallel walker: `.gitignore`,
//! `.ignore` and git excludes honoured unless asked not to; hidden files such
//! as `.env` always included; `.git` directories never descended into — the
//! history scan reads those) and the per-file rules (size limit, binary
//! sniff). Must never: follow symlinks out of the tree, load a file larger
//! than the limit, or put file content in a finding or error.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use ignore::{WalkBuilder, WalkState};

use super::error::ScanError;
use super::finding::{Finding, FindingKind, Progress, ScanOptions, ScanReport, sort_findings};
use super::matcher::{Hit, Matcher, looks_binary};

/// Findings of one buffer, turned into [`Finding`]s at `path`.
pub(crate) fn findings_in(matcher: &Matcher, buf: &[u8], path: &Path) -> Vec<Finding> {
    let mut out = Vec::new();
    matcher.scan(buf, |hit| match hit {
        Hit::Own { index, line } => {
            if let Some(n) = matcher.needle(index) {
                out.push(Finding {
                    kind: FindingKind::VaultKey,
                    path: path.to_path_buf(),
                    line,
                    repository: None,
                    commit: None,
                    git_ref: None,
                    label: Some(n.label().to_owned()),
                    part: n.part(),
                    exchange: None,
                    rule: None,
                    name: None,
                    location: String::new(),
                });
            }
        }
        Hit::Unknown { line, hit } => out.push(Finding {
            kind: FindingKind::UnknownCredential,
            path: path.to_path_buf(),
            line,
            repository: None,
            commit: None,
            git_ref: None,
            label: None,
            part: hit.class.part,
            exchange: hit.class.exchange,
            rule: Some(hit.rule),
            name: (!hit.name.is_empty()).then_some(hit.name),
            location: String::new(),
        }),
    });
    // A vault value that also fits a rule is reported once, as the vault's.
    let own_lines: Vec<u64> = out
        .iter()
        .filter(|f| f.kind == FindingKind::VaultKey)
        .map(|f| f.line)
        .collect();
    out.retain(|f| f.kind == FindingKind::VaultKey || !own_lines.contains(&f.line));
    out
}

#[derive(Default)]
struct Counters {
    scanned: AtomicU64,
    bytes: AtomicU64,
    binary: AtomicU64,
    large: AtomicU64,
    findings: AtomicU64,
}

impl Counters {
    fn progress(&self) -> Progress {
        Progress {
            scanned: self.scanned.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            findings: self.findings.load(Ordering::Relaxed),
        }
    }
}

enum FileOutcome {
    Scanned(Vec<Finding>),
    Binary,
    Large,
}

fn scan_file(
    matcher: &Matcher,
    path: &Path,
    options: &ScanOptions,
    buf: &mut Vec<u8>,
    counters: &Counters,
) -> std::io::Result<FileOutcome> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    if len > options.max_file_size {
        return Ok(FileOutcome::Large);
    }
    buf.clear();
    // The file may grow while we read it: never read past the limit.
    file.take(options.max_file_size + 1).read_to_end(buf)?;
    if buf.len() as u64 > options.max_file_size {
        return Ok(FileOutcome::Large);
    }
    if !options.include_binary && looks_binary(buf) {
        return Ok(FileOutcome::Binary);
    }
    counters
        .bytes
        .fetch_add(buf.len() as u64, Ordering::Relaxed);
    Ok(FileOutcome::Scanned(findings_in(matcher, buf, path)))
}

/// The walk over `first` and `rest`, as every scan does it: ignore files
/// honoured when asked, hidden files included, symlinks not followed, `.git`
/// directories never descended into.
pub(crate) fn walker(first: &Path, rest: &[PathBuf], options: &ScanOptions) -> WalkBuilder {
    let mut builder = WalkBuilder::new(first);
    for p in rest {
        builder.add(p);
    }
    builder
        .hidden(false)
        .follow_links(false)
        .git_ignore(options.honour_ignore)
        .git_global(options.honour_ignore)
        .git_exclude(options.honour_ignore)
        .ignore(options.honour_ignore)
        .parents(options.honour_ignore)
        .threads(options.threads)
        .filter_entry(|e| !(e.file_name() == ".git" && e.file_type().is_some_and(|t| t.is_dir())));
    builder
}

/// Scans every file under `paths` (files or directories) for the matcher's
/// needles and, if enabled, unknown credentials. Calls `progress` every 256
/// files and once at the end, from any worker thread.
pub fn scan_paths(
    matcher: &Matcher,
    paths: &[PathBuf],
    options: &ScanOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<ScanReport, ScanError> {
    let Some((first, rest)) = paths.split_first() else {
        return Ok(ScanReport::default());
    };
    for p in paths {
        if std::fs::symlink_metadata(p).is_err() {
            return Err(ScanError::NotFound { path: p.clone() });
        }
    }
    let builder = walker(first, rest, options);

    let counters = Counters::default();
    let findings: Mutex<Vec<Finding>> = Mutex::new(Vec::new());
    let unreadable: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    builder.build_parallel().run(|| {
        let mut buf: Vec<u8> = Vec::with_capacity(256 * 1024);
        let counters = &counters;
        let findings = &findings;
        let unreadable = &unreadable;
        Box::new(move |entry| {
            if options.cancel.load(Ordering::Relaxed) {
                return WalkState::Quit;
            }
            let entry = match entry {
                Ok(e) => e,
                Err(err) => {
                    if let Some(p) = io_path(&err) {
                        push(unreadable, p);
                    }
                    return WalkState::Continue;
                }
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                return WalkState::Continue;
            }
            match scan_file(matcher, entry.path(), options, &mut buf, counters) {
                Ok(FileOutcome::Scanned(found)) => {
                    let n = counters.scanned.fetch_add(1, Ordering::Relaxed) + 1;
                    if !found.is_empty() {
                        counters
                            .findings
                            .fetch_add(found.len() as u64, Ordering::Relaxed);
                        if let Ok(mut all) = findings.lock() {
                            all.extend(found);
                        }
                    }
                    if n.is_multiple_of(256) {
                        progress(counters.progress());
                    }
                }
                Ok(FileOutcome::Binary) => {
                    counters.binary.fetch_add(1, Ordering::Relaxed);
                }
                Ok(FileOutcome::Large) => {
                    counters.large.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => push(unreadable, entry.path().to_path_buf()),
            }
            // A large buffer from one big file is not kept for the rest of
            // the walk: memory stays flat in corpus size.
            if buf.capacity() > 4 * 1024 * 1024 {
                buf = Vec::with_capacity(256 * 1024);
            }
            WalkState::Continue
        })
    });
    if options.cancel.load(Ordering::Relaxed) {
        return Err(ScanError::Cancelled);
    }
    progress(counters.progress());
    let mut findings = findings.into_inner().unwrap_or_else(|e| e.into_inner());
    sort_findings(&mut findings);
    let mut unreadable = unreadable.into_inner().unwrap_or_else(|e| e.into_inner());
    unreadable.sort();
    Ok(ScanReport {
        findings,
        scanned: counters.scanned.load(Ordering::Relaxed),
        bytes: counters.bytes.load(Ordering::Relaxed),
        skipped_binary: counters.binary.load(Ordering::Relaxed),
        skipped_large: counters.large.load(Ordering::Relaxed),
        unreadable,
        short_needles: matcher.short_needles().to_vec(),
        repositories: Vec::new(),
    })
}

fn push(list: &Mutex<Vec<PathBuf>>, p: PathBuf) {
    if let Ok(mut l) = list.lock() {
        l.push(p);
    }
}

fn io_path(err: &ignore::Error) -> Option<PathBuf> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            io_path(err)
        }
        _ => None,
    }
}
