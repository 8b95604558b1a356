//! Scanning git history.
//!
//! Owns: reading every blob reachable from every ref — branches, tags,
//! remote-tracking refs, `refs/stash` and the reflogs (older stashes,
//! amended or reset-away commits still in the repository) — each exactly
//! once, loose or packed, and mapping a blob with findings back to a path,
//! the oldest commit that introduced it and a ref that reaches that commit.
//!
//! It drives the `git` program: `git rev-list --all --reflog --objects
//! --filter=object:type=blob` names the blobs (once each, with the first path
//! seen), `git cat-file --batch` streams their content, and only for the rare
//! blob with a finding `git log --find-object` and `git for-each-ref
//! --contains` locate it. Must never: write to the repository, pass a value
//! to git (only object ids), or load a blob larger than the size limit.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::mpsc;

use super::error::ScanError;
use super::files::findings_in;
use super::finding::{Finding, Progress, ScanOptions, ScanReport, sort_findings};
use super::matcher::{Matcher, looks_binary};

fn git(repo: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("-C")
        .arg(repo)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// The repository's common git directory (shared by its work trees),
/// canonical, or `None` when `dir` is not in a repository.
pub(crate) fn common_dir(dir: &Path) -> Result<Option<PathBuf>, ScanError> {
    let out = git(dir)
        .args(["rev-parse", "--git-common-dir"])
        .output()
        .map_err(|source| ScanError::GitUnavailable { source })?;
    if !out.status.success() {
        return Ok(None);
    }
    let named = String::from_utf8_lossy(&out.stdout).trim_end().to_owned();
    if named.is_empty() {
        return Ok(None);
    }
    let joined = dir.join(named);
    Ok(Some(std::fs::canonicalize(&joined).unwrap_or(joined)))
}

fn output(repo: &Path, command: &'static str, args: &[&str]) -> Result<String, ScanError> {
    let out = git(repo)
        .arg(command)
        .args(args)
        .output()
        .map_err(|source| ScanError::GitUnavailable { source })?;
    if !out.status.success() {
        return Err(ScanError::Git {
            path: repo.to_path_buf(),
            command,
            status: out.status.code().unwrap_or(-1),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Scans every blob reachable from every ref of the repository at `repo`
/// (a work tree or a bare repository).
pub fn scan_history(
    matcher: &Matcher,
    repo: &Path,
    options: &ScanOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<ScanReport, ScanError> {
    if !repo.exists() {
        return Err(ScanError::NotFound {
            path: repo.to_path_buf(),
        });
    }
    let status = git(repo)
        .args(["rev-parse", "--git-dir"])
        .stdout(Stdio::null())
        .status()
        .map_err(|source| ScanError::GitUnavailable { source })?;
    if !status.success() {
        return Err(ScanError::NotARepository {
            path: repo.to_path_buf(),
        });
    }

    let mut rev_list = git(repo)
        .args([
            "rev-list",
            "--all",
            "--reflog",
            "--objects",
            "--filter=object:type=blob",
            "--filter-provided-objects",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|source| ScanError::GitUnavailable { source })?;
    let mut cat_file = git(repo)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|source| ScanError::GitUnavailable { source })?;
    let (Some(names), Some(batch_in), Some(batch_out)) = (
        rev_list.stdout.take(),
        cat_file.stdin.take(),
        cat_file.stdout.take(),
    ) else {
        let _ = rev_list.kill();
        let _ = cat_file.kill();
        return Err(ScanError::GitProtocol {
            path: repo.to_path_buf(),
        });
    };

    // Feeds blob ids to cat-file and their paths to the reader, in order.
    let (paths_tx, paths_rx) = mpsc::sync_channel::<PathBuf>(4096);
    let cancel = options.cancel.clone();
    let feeder = std::thread::spawn(move || {
        let mut to_git = BufWriter::new(batch_in);
        for line in BufReader::new(names).split(b'\n') {
            let Ok(line) = line else { break };
            if cancel.load(Ordering::Relaxed) {
                break;
            }
            // Commits come without a path; blobs as "<id> <path>".
            let Some(space) = line.iter().position(|b| *b == b' ') else {
                continue;
            };
            let path = PathBuf::from(String::from_utf8_lossy(&line[space + 1..]).into_owned());
            if paths_tx.send(path).is_err() {
                break;
            }
            if to_git.write_all(&line[..space]).is_err() || to_git.write_all(b"\n").is_err() {
                break;
            }
        }
        let _ = to_git.flush();
    });

    let mut report = ScanReport {
        short_needles: matcher.short_needles().to_vec(),
        repositories: vec![repo.to_path_buf()],
        ..ScanReport::default()
    };
    let mut hits: Vec<(String, Vec<Finding>)> = Vec::new();
    let mut reader = BufReader::with_capacity(256 * 1024, batch_out);
    let mut header = Vec::new();
    let mut buf: Vec<u8> = Vec::with_capacity(256 * 1024);
    let protocol = || ScanError::GitProtocol {
        path: repo.to_path_buf(),
    };
    let result = (|| -> Result<(), ScanError> {
        for path in paths_rx.iter() {
            if options.cancel.load(Ordering::Relaxed) {
                return Err(ScanError::Cancelled);
            }
            header.clear();
            if reader
                .read_until(b'\n', &mut header)
                .map_err(|_| protocol())?
                == 0
            {
                return Err(protocol());
            }
            let text = std::str::from_utf8(&header).map_err(|_| protocol())?;
            let mut fields = text.trim_end().split(' ');
            let (Some(id), Some(kind), Some(size)) = (fields.next(), fields.next(), fields.next())
            else {
                // "<id> missing" (a partial clone): nothing to read.
                continue;
            };
            let size: u64 = size.parse().map_err(|_| protocol())?;
            let id = id.to_owned();
            let scan_it = kind == "blob" && size <= options.max_file_size;
            if !scan_it {
                std::io::copy(&mut (&mut reader).take(size + 1), &mut std::io::sink())
                    .map_err(|_| protocol())?;
                if kind == "blob" {
                    report.skipped_large += 1;
                }
                continue;
            }
            buf.clear();
            (&mut reader)
                .take(size + 1)
                .read_to_end(&mut buf)
                .map_err(|_| protocol())?;
            if buf.pop() != Some(b'\n') || buf.len() as u64 != size {
                return Err(protocol());
            }
            if !options.include_binary && looks_binary(&buf) {
                report.skipped_binary += 1;
                continue;
            }
            report.scanned += 1;
            report.bytes += size;
            let found = findings_in(matcher, &buf, &path);
            if !found.is_empty() {
                hits.push((id, found));
            }
            if buf.capacity() > 4 * 1024 * 1024 {
                buf = Vec::with_capacity(256 * 1024);
            }
            if report.scanned.is_multiple_of(256) {
                progress(Progress {
                    scanned: report.scanned,
                    bytes: report.bytes,
                    findings: hits.iter().map(|(_, f)| f.len() as u64).sum(),
                });
            }
        }
        Ok(())
    })();
    drop(reader);
    let _ = feeder.join();
    if result.is_err() {
        let _ = rev_list.kill();
        let _ = cat_file.kill();
    }
    let rl = rev_list.wait();
    let cf = cat_file.wait();
    result?;
    for (status, command) in [(rl, "rev-list"), (cf, "cat-file")] {
        let status = status.map_err(|source| ScanError::GitUnavailable { source })?;
        if !status.success() {
            return Err(ScanError::Git {
                path: repo.to_path_buf(),
                command,
                status: status.code().unwrap_or(-1),
            });
        }
    }

    for (blob, found) in hits {
        let (commit, git_ref) = locate(repo, &blob)?;
        for mut f in found {
            f.repository = Some(repo.to_path_buf());
            f.commit = commit.clone();
            f.git_ref = git_ref.clone();
            report.findings.push(f);
        }
    }
    sort_findings(&mut report.findings);
    progress(Progress {
        scanned: report.scanned,
        bytes: report.bytes,
        findings: report.findings.len() as u64,
    });
    Ok(report)
}

/// The oldest commit that introduced `blob` and a ref that reaches it.
fn locate(repo: &Path, blob: &str) -> Result<(Option<String>, Option<String>), ScanError> {
    let find = format!("--find-object={blob}");
    let commits = output(
        repo,
        "log",
        &[
            "--all",
            "--reflog",
            "--diff-merges=first-parent",
            "--no-patch",
            "--format=%H",
            &find,
        ],
    )?;
    // `git log` lists newest first; the last line is the oldest. Only
    // object ids are taken from the output (never a diff line).
    let Some(commit) = commits
        .lines()
        .map(str::trim)
        .rfind(|l| (40..=64).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_hexdigit()))
    else {
        return Ok((None, None));
    };
    let refs = output(
        repo,
        "for-each-ref",
        &["--format=%(refname)", "--contains", commit],
    )?;
    let mut refs: Vec<&str> = refs.lines().filter(|l| !l.is_empty()).collect();
    // Prefer branches, then tags, then anything else (stash, remotes).
    refs.sort_by_key(|r| {
        if r.starts_with("refs/heads/") {
            0
        } else if r.starts_with("refs/tags/") {
            1
        } else {
            2
        }
    });
    let git_ref = refs
        .first()
        .map(|r| (*r).to_owned())
        .or_else(|| Some("reflog".to_owned()));
    Ok((Some(commit.to_owned()), git_ref))
}
