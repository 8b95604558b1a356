//! What a scan reports, and how it is configured.
//!
//! Owns: the finding DTO. Must never: hold matched text — only where it was
//! found and what it is.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde::Serialize;

use crate::model::Exchange;

/// Which part of a credential matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// The API secret (or private key).
    Secret,
    /// The passphrase (OKX, KuCoin, Bitget; ccxt's `password`).
    Passphrase,
    /// The public API key id.
    KeyId,
}

impl Part {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Secret => "secret",
            Part::Passphrase => "passphrase",
            Part::KeyId => "key_id",
        }
    }
}

/// What was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// One of the vault's own keys, matched exactly.
    VaultKey,
    /// Something shaped and named like an exchange credential that is not
    /// in the vault.
    UnknownCredential,
}

/// One finding. Never holds the matched text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Vault key or unknown credential.
    pub kind: FindingKind,
    /// The file (for history: the path inside the repository).
    pub path: PathBuf,
    /// 1-based line.
    pub line: u64,
    /// The repository, for history findings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<PathBuf>,
    /// The first commit (oldest) that contains the blob, for history findings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// A ref from which that commit is reachable (`refs/heads/…`,
    /// `refs/tags/…`, `refs/stash`), for history findings.
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    /// The vault key's label ([`FindingKind::VaultKey`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Which part matched.
    pub part: Part,
    /// The exchange the unknown credential seems to belong to, when named.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchange: Option<Exchange>,
    /// The unknown-credential rule that fired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'static str>,
    /// The variable or field name that held the unknown credential (a name,
    /// never the value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where, as a person reads it, the same way for files and history:
    /// the path relative to the scanned folder, `:line`, and for history
    /// ` in commit <short> (<ref>)` (see [`Finding::location`]). Filled in
    /// by [`super::scan`].
    pub location: String,
}

impl Finding {
    /// Where the finding is, for people: the file's path relative to the
    /// scanned folder among `roots` that holds it (for history, the
    /// repository's folder joined with the path inside it), then `:line`,
    /// then for history ` in commit <first 10 hex digits> (<ref>)`:
    /// `bot-a/config.env:3` and `bot-a/config.env:3 in commit 1a2b3c4d5e
    /// (main)`.
    pub fn location(&self, roots: &[PathBuf]) -> String {
        let full = match &self.repository {
            Some(repo) => repo.join(&self.path),
            None => self.path.clone(),
        };
        let mut out = format!("{}:{}", relative(&full, roots).display(), self.line);
        if self.repository.is_some() {
            let commit = self
                .commit
                .as_deref()
                .map_or("?", |c| &c[..c.len().min(10)]);
            out.push_str(&format!(" in commit {commit}"));
            if let Some(r) = &self.git_ref {
                out.push_str(&format!(" ({})", short_ref(r)));
            }
        }
        out
    }
}

/// `path` relative to the first root (a scanned folder) that holds it; as
/// given when a root is the file itself or none holds it.
fn relative<'a>(path: &'a Path, roots: &[PathBuf]) -> &'a Path {
    roots
        .iter()
        .filter_map(|root| path.strip_prefix(root).ok())
        .find(|rel| !rel.as_os_str().is_empty())
        .unwrap_or(path)
}

/// A ref as people say it: `refs/heads/main` → `main`, `refs/tags/v1` →
/// `tag v1`, `refs/stash` → `stash`.
fn short_ref(r: &str) -> String {
    if let Some(branch) = r.strip_prefix("refs/heads/") {
        branch.to_owned()
    } else if let Some(tag) = r.strip_prefix("refs/tags/") {
        format!("tag {tag}")
    } else {
        r.strip_prefix("refs/").unwrap_or(r).to_owned()
    }
}

/// How to scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Honour `.gitignore`, `.ignore` and git excludes (default true).
    pub honour_ignore: bool,
    /// Skip files larger than this many bytes (default 16 MiB). In history,
    /// blobs larger than this are skipped too.
    pub max_file_size: u64,
    /// Scan files that look binary (a NUL byte in the first 8 KiB).
    pub include_binary: bool,
    /// Look for unknown credentials as well as the vault's own keys.
    pub unknown_rules: bool,
    /// Worker threads for the file walk (0 = one per core).
    pub threads: usize,
    /// Also scan the git history of the repository at each path, or, for a
    /// folder that is not itself in a repository, of every repository below
    /// it ([`super::scan`]; default false).
    pub history: bool,
    /// Set to stop the scan at the next file or blob.
    pub cancel: Arc<AtomicBool>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            honour_ignore: true,
            max_file_size: 16 * 1024 * 1024,
            include_binary: false,
            unknown_rules: true,
            threads: 0,
            history: false,
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// Progress, reported every few hundred files or blobs and at the end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// Files (or blobs) scanned so far.
    pub scanned: u64,
    /// Bytes scanned so far.
    pub bytes: u64,
    /// Findings so far.
    pub findings: u64,
}

/// The result of a scan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScanReport {
    /// Findings, sorted by path and line.
    pub findings: Vec<Finding>,
    /// Files (or blobs) scanned.
    pub scanned: u64,
    /// Bytes scanned.
    pub bytes: u64,
    /// Files (or blobs) skipped as binary.
    pub skipped_binary: u64,
    /// Files (or blobs) skipped as too large.
    pub skipped_large: u64,
    /// Files that could not be read (permissions, races), by path.
    pub unreadable: Vec<PathBuf>,
    /// Vault values too short to search for without false alarms (fewer
    /// than [`super::matcher::MIN_NEEDLE_LEN`] bytes), as label and part.
    pub short_needles: Vec<(String, Part)>,
    /// The git repositories whose history was scanned, in the order they
    /// were scanned (empty when history was not asked for).
    pub repositories: Vec<PathBuf>,
}

impl ScanReport {
    /// Merges `other` into `self` and re-sorts the findings.
    pub fn merge(&mut self, other: ScanReport) {
        self.findings.extend(other.findings);
        sort_findings(&mut self.findings);
        self.scanned += other.scanned;
        self.bytes += other.bytes;
        self.skipped_binary += other.skipped_binary;
        self.skipped_large += other.skipped_large;
        self.unreadable.extend(other.unreadable);
        for n in other.short_needles {
            if !self.short_needles.contains(&n) {
                self.short_needles.push(n);
            }
        }
        for r in other.repositories {
            if !self.repositories.contains(&r) {
                self.repositories.push(r);
            }
        }
    }
}

/// Sorts by repository, path, line, kind, label and part, and drops
/// duplicates.
pub(crate) fn sort_findings(findings: &mut Vec<Finding>) {
    findings.sort_by(|a, b| {
        (
            &a.repository,
            &a.path,
            a.line,
            &a.commit,
            a.kind,
            &a.label,
            a.part,
            a.rule,
        )
            .cmp(&(
                &b.repository,
                &b.path,
                b.line,
                &b.commit,
                b.kind,
                &b.label,
                b.part,
                b.rule,
            ))
    });
    findings.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(path: &str, repository: Option<&str>) -> Finding {
        Finding {
            kind: FindingKind::UnknownCredential,
            path: PathBuf::from(path),
            line: 3,
            repository: repository.map(PathBuf::from),
            commit: repository.map(|_| "0123456789abcdef0123".to_owned()),
            git_ref: repository.map(|_| "refs/heads/main".to_owned()),
            label: None,
            part: Part::Secret,
            exchange: None,
            rule: None,
            name: None,
            location: String::new(),
        }
    }

    #[test]
    fn files_and_history_are_located_the_same_way() {
        let roots = [PathBuf::from("/home/me/bots")];
        assert_eq!(
            finding("/home/me/bots/a/config.env", None).location(&roots),
            "a/config.env:3"
        );
        assert_eq!(
            finding("config.env", Some("/home/me/bots/a")).location(&roots),
            "a/config.env:3 in commit 0123456789 (main)"
        );
        // A file named directly, or outside every root, keeps its path.
        let file = [PathBuf::from("/tmp/x.env")];
        assert_eq!(finding("/tmp/x.env", None).location(&file), "/tmp/x.env:3");
        assert_eq!(short_ref("refs/tags/v1"), "tag v1");
        assert_eq!(short_ref("refs/stash"), "stash");
    }
}
