//! Rewriting a configuration file without the imported values: a backup
//! copy (0600) next to it, the new content through a temporary file with
//! the original permissions, refused if the file changed since it was read
//! or no longer parses.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use zeroize::Zeroizing;

use super::parse::{malformed, parse};
use super::{Candidate, FileCandidates, Format};
use crate::scan::error::ImportError;

/// A completed rewrite.
#[derive(Debug, Clone, Serialize)]
pub struct Rewrite {
    /// The rewritten file.
    pub file: PathBuf,
    /// The copy of the original (mode 0600). It still holds the values:
    /// delete it once the bot runs with `keyward run`.
    pub backup: PathBuf,
    /// Number of values removed.
    pub removed: usize,
}

fn delimited(text: &[u8], start: usize, end: usize) -> Option<bool> {
    let before = if start == 0 { b'\n' } else { text[start - 1] };
    let after = text.get(end).copied().unwrap_or(b'\n');
    let quoted = matches!(before, b'"' | b'\'') && after == before;
    let bare = matches!(before, b' ' | b'\t' | b'=' | b':')
        && matches!(after, b'\n' | b'\r' | b' ' | b'\t' | b'#' | b',' | b'}');
    if quoted {
        Some(true)
    } else if bare {
        Some(false)
    } else {
        None
    }
}

fn remove_values(format: Format, text: &str, values: &[&str]) -> (String, usize) {
    let mut spans: Vec<(usize, usize, bool)> = Vec::new();
    for v in values {
        if v.is_empty() {
            continue;
        }
        for (i, _) in text.match_indices(v) {
            if let Some(quoted) = delimited(text.as_bytes(), i, i + v.len()) {
                spans.push((i, i + v.len(), quoted));
            }
        }
    }
    spans.sort();
    spans.dedup_by(|b, a| b.0 < a.1);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (s, e, quoted) in &spans {
        out.push_str(&text[at..*s]);
        if !quoted && format != Format::Env {
            out.push_str("\"\"");
        }
        at = *e;
    }
    out.push_str(&text[at..]);
    (out, spans.len())
}

fn free_path(base: &Path, suffix: &str) -> PathBuf {
    let mut p = base.as_os_str().to_owned();
    p.push(suffix);
    let first = PathBuf::from(&p);
    if !first.exists() {
        return first;
    }
    (2..)
        .map(|n| {
            let mut q = p.clone();
            q.push(format!(".{n}"));
            PathBuf::from(q)
        })
        .find(|q| !q.exists())
        .unwrap_or(first)
}

/// Rewrites `file` without the values of `chosen` (key id, secret and
/// passphrase of each), after keeping a backup copy next to it
/// (`<file>.keyward-backup`, mode 0600). The new content replaces the file
/// atomically (temporary file with the same permissions, synced, renamed);
/// the file must not have changed since [`read_file`], and the result must
/// still parse with none of the values left, or nothing is written.
pub fn rewrite_without_values(
    file: &FileCandidates,
    chosen: &[&Candidate],
) -> Result<Rewrite, ImportError> {
    let path = &file.path;
    let io = |source| ImportError::Io {
        path: path.clone(),
        source,
    };
    let now = Zeroizing::new(fs::read(path).map_err(io)?);
    if *now != *file.original {
        return Err(ImportError::Changed { path: path.clone() });
    }
    let text = std::str::from_utf8(&now)
        .map_err(|_| malformed(path, file.format, None, "not UTF-8 text"))?;
    let values: Vec<&str> = chosen.iter().flat_map(|c| c.values()).collect();
    let (new_text, removed) = remove_values(file.format, text, &values);
    let new_text = Zeroizing::new(new_text);
    let failed = |reason| ImportError::RewriteFailed {
        path: path.clone(),
        reason,
    };
    let entries =
        parse(path, file.format, &new_text).map_err(|_| failed("the result would not parse"))?;
    if entries.iter().any(|e| {
        values
            .iter()
            .any(|v| !v.is_empty() && e.value.as_str() == *v)
    }) {
        return Err(failed(
            "a value is used in a way that cannot be removed automatically",
        ));
    }
    let meta = fs::metadata(path).map_err(io)?;
    let backup = free_path(path, ".keyward-backup");
    {
        let mut b = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&backup)
            .map_err(io)?;
        b.write_all(&now).map_err(io)?;
        b.sync_all().map_err(io)?;
    }
    let tmp = free_path(path, ".keyward-tmp");
    let write_tmp = || -> std::io::Result<()> {
        let mut t = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        t.write_all(new_text.as_bytes())?;
        t.set_permissions(fs::Permissions::from_mode(meta.permissions().mode()))?;
        t.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    };
    if let Err(e) = write_tmp() {
        let _ = fs::remove_file(&tmp);
        return Err(io(e));
    }
    Ok(Rewrite {
        file: path.clone(),
        backup,
        removed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removal_is_delimited() {
        let (out, n) = remove_values(
            Format::Yaml,
            "a: abcdef123456\nb: xabcdef123456\n",
            &["abcdef123456"],
        );
        assert_eq!(n, 1);
        assert_eq!(out, "a: \"\"\nb: xabcdef123456\n");
        let (out, _) = remove_values(
            Format::Env,
            "S=\"abcdef123456\"\nT=abcdef123456\n",
            &["abcdef123456"],
        );
        assert_eq!(out, "S=\"\"\nT=\n");
    }
}
