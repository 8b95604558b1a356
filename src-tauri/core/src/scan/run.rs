//! What one scan covers.
//!
//! Owns: the one entry point front ends call ([`scan`] = [`plan`], then
//! [`run`]): deciding, before anything is read, what a scan covers — the
//! files under the given paths and, when asked, the git history of every
//! repository the paths name or hold — a path inside a repository stands for that
//! repository, and every repository found below a path by the same walk as
//! the file scan (ignore rules honoured, `.git` never descended into) is
//! scanned too, so a folder of bot repositories is covered whole. The
//! repositories whose history was scanned are listed in the report. Must
//! never: report a folder's history as scanned when no repository was found
//! in or below it (that is [`ScanError::NotARepository`], not a clean
//! result), or scan one repository's history twice in a scan.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use super::error::ScanError;
use super::files::{scan_paths, walker};
use super::finding::{Progress, ScanOptions, ScanReport};
use super::history::{common_dir, scan_history};
use super::matcher::Matcher;

/// What one scan covers, decided before anything is read ([`plan`]): the
/// paths whose files are scanned and, with [`ScanOptions::history`], the
/// repositories whose history is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanPlan {
    paths: Vec<PathBuf>,
    repositories: Vec<PathBuf>,
}

impl ScanPlan {
    /// The files and folders whose files are scanned.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// The repositories whose history is scanned (empty without
    /// [`ScanOptions::history`]), each once, in path order.
    pub fn repositories(&self) -> &[PathBuf] {
        &self.repositories
    }
}

/// Decides what a scan of `paths` covers, for every front end the same way:
/// at least one path ([`ScanError::NothingToScan`]), each one existing
/// ([`ScanError::NotFound`]), and with [`ScanOptions::history`] the
/// repositories of [`repositories`] — a path with no repository in or below
/// it is [`ScanError::NotARepository`]. Refusals come before any file is
/// read, so a wrong path does not cost a full file scan first.
pub fn plan(paths: &[PathBuf], options: &ScanOptions) -> Result<ScanPlan, ScanError> {
    if paths.is_empty() {
        return Err(ScanError::NothingToScan);
    }
    for path in paths {
        if std::fs::symlink_metadata(path).is_err() {
            return Err(ScanError::NotFound { path: path.clone() });
        }
    }
    let repositories = if options.history {
        repositories(paths, options)?
    } else {
        Vec::new()
    };
    Ok(ScanPlan {
        paths: paths.to_vec(),
        repositories,
    })
}

/// Runs a [`plan`]: the files under its paths, then the history of its
/// repositories. Progress counts run on across the parts.
pub fn run(
    matcher: &Matcher,
    plan: &ScanPlan,
    options: &ScanOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<ScanReport, ScanError> {
    let mut report = scan_paths(matcher, &plan.paths, options, progress)?;
    if !plan.repositories.is_empty() {
        report.merge(scan_histories(
            matcher,
            &plan.repositories,
            options,
            progress,
            &report,
        )?);
    }
    for f in &mut report.findings {
        f.location = f.location(&plan.paths);
    }
    Ok(report)
}

/// [`plan`], then [`run`]: the one call the CLI (`keyward scan`) and the
/// desktop's scan command make.
pub fn scan(
    matcher: &Matcher,
    paths: &[PathBuf],
    options: &ScanOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<ScanReport, ScanError> {
    let plan = plan(paths, options)?;
    run(matcher, &plan, options, progress)
}

/// Scans the history of each repository in `repos`, one after the other.
fn scan_histories(
    matcher: &Matcher,
    repos: &[PathBuf],
    options: &ScanOptions,
    progress: &(dyn Fn(Progress) + Sync),
    before: &ScanReport,
) -> Result<ScanReport, ScanError> {
    let mut all = ScanReport::default();
    for repo in repos {
        let base = Progress {
            scanned: before.scanned + all.scanned,
            bytes: before.bytes + all.bytes,
            findings: (before.findings.len() + all.findings.len()) as u64,
        };
        let offset = move |p: Progress| {
            progress(Progress {
                scanned: base.scanned + p.scanned,
                bytes: base.bytes + p.bytes,
                findings: base.findings + p.findings,
            });
        };
        all.merge(scan_history(matcher, repo, options, &offset)?);
    }
    Ok(all)
}

/// The git repositories `paths` name or hold, each once: a directory inside
/// a repository stands for it, and every directory below with a `.git`
/// entry (a repository, a work tree or a submodule) that git recognises is
/// added, found by the file scan's walk, in path order. A path with no repository in or
/// below it is an error.
pub fn repositories(paths: &[PathBuf], options: &ScanOptions) -> Result<Vec<PathBuf>, ScanError> {
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut repos: Vec<PathBuf> = Vec::new();
    for path in paths {
        let meta =
            std::fs::metadata(path).map_err(|_| ScanError::NotFound { path: path.clone() })?;
        let before = repos.len();
        if meta.is_dir() {
            let mut add = |dir: &Path| -> Result<(), ScanError> {
                if let Some(id) = common_dir(dir)?
                    && !seen.contains(&id)
                {
                    seen.push(id);
                    repos.push(dir.to_path_buf());
                }
                Ok(())
            };
            add(path)?;
            for entry in walker(path, &[], options)
                .sort_by_file_name(|a, b| a.cmp(b))
                .build()
            {
                if options.cancel.load(Ordering::Relaxed) {
                    return Err(ScanError::Cancelled);
                }
                // Unreadable directories are reported by the file scan.
                let Ok(entry) = entry else { continue };
                if entry.depth() == 0 || !entry.file_type().is_some_and(|t| t.is_dir()) {
                    continue;
                }
                if std::fs::symlink_metadata(entry.path().join(".git")).is_ok() {
                    add(entry.path())?;
                }
            }
        }
        if repos.len() == before && !seen_covers(&seen, path) {
            return Err(ScanError::NotARepository { path: path.clone() });
        }
    }
    Ok(repos)
}

/// Whether `path` is inside a repository already listed (the same
/// repository named twice is not an error, only scanned once).
fn seen_covers(seen: &[PathBuf], path: &Path) -> bool {
    matches!(common_dir(path), Ok(Some(id)) if seen.contains(&id))
}
