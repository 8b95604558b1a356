//! Errors of the scanner and the import.
//!
//! Owns: every way a scan or an import can fail. Must never: carry file
//! content. Parser messages of the underlying crates are not passed on, as
//! some quote the offending line (which may hold a secret); only the line
//! number and a fixed description are.

use std::path::PathBuf;

use thiserror::Error;

use crate::error::{ErrorKind, KindedError};
use crate::vault::VaultError;

/// Something a scan could not do.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ScanError {
    /// A path given to scan does not exist.
    #[error("{path}: no such file or directory")]
    NotFound {
        /// The path.
        path: PathBuf,
    },
    /// Reading a path failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// History was asked for a path that is not in a git repository and
    /// holds none.
    #[error("{path} is not a git repository and holds none")]
    NotARepository {
        /// The path.
        path: PathBuf,
    },
    /// The `git` program could not be started.
    #[error("could not run git: {source}")]
    GitUnavailable {
        /// The cause.
        source: std::io::Error,
    },
    /// A git command failed.
    #[error("git {command} failed in {path} (exit status {status})")]
    Git {
        /// The repository.
        path: PathBuf,
        /// Which git subcommand.
        command: &'static str,
        /// Its exit status, or -1 when killed.
        status: i32,
    },
    /// The git object stream did not have the expected shape.
    #[error("unexpected output from git cat-file in {path}")]
    GitProtocol {
        /// The repository.
        path: PathBuf,
    },
    /// The search automaton could not be built (too many needles).
    #[error("could not build the search automaton: {reason}")]
    Automaton {
        /// Why (from the automaton builder; it names sizes, never patterns).
        reason: String,
    },
    /// The scan was cancelled through [`super::ScanOptions::cancel`].
    #[error("scan cancelled")]
    Cancelled,
    /// No path was given.
    #[error("choose at least one file or folder to scan")]
    NothingToScan,
}

impl KindedError for ScanError {
    fn kind(&self) -> ErrorKind {
        match self {
            ScanError::NotFound { .. } => ErrorKind::NotFound,
            ScanError::NotARepository { .. } | ScanError::Cancelled | ScanError::NothingToScan => {
                ErrorKind::Invalid
            }
            ScanError::Io { .. }
            | ScanError::GitUnavailable { .. }
            | ScanError::Git { .. }
            | ScanError::GitProtocol { .. }
            | ScanError::Automaton { .. } => ErrorKind::Internal,
        }
    }
}

/// Something an import could not do.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ImportError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file's format could not be told from its name or content.
    #[error("{path}: unsupported format (expected .env, .json, .yaml/.yml or .toml)")]
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
    },
    /// The file is not valid in its format. It was not modified.
    #[error("{path}: malformed {format}{}: {reason}; the file was not modified",
        line.map(|l| format!(" at line {l}")).unwrap_or_default())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// `.env`, `JSON`, `YAML` or `TOML`.
        format: &'static str,
        /// 1-based line of the problem, when known.
        line: Option<usize>,
        /// What is wrong, in fixed words (never the file's text).
        reason: &'static str,
    },
    /// The file is larger than any configuration file should be.
    #[error("{path}: larger than {limit} bytes; not a configuration file")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit.
        limit: u64,
    },
    /// The file changed between reading and rewriting; nothing was written.
    #[error("{path} changed since it was read; not rewritten")]
    Changed {
        /// The file.
        path: PathBuf,
    },
    /// After removing the values the file no longer parsed, or a value was
    /// still present; nothing was written.
    #[error("{path}: could not remove the values cleanly ({reason}); the file was not modified")]
    RewriteFailed {
        /// The file.
        path: PathBuf,
        /// Why, in fixed words.
        reason: &'static str,
    },
    /// The vault refused.
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl KindedError for ImportError {
    fn kind(&self) -> ErrorKind {
        match self {
            ImportError::Io { .. } => ErrorKind::Internal,
            ImportError::UnsupportedFormat { .. }
            | ImportError::Malformed { .. }
            | ImportError::TooLarge { .. }
            | ImportError::Changed { .. }
            | ImportError::RewriteFailed { .. } => ErrorKind::Invalid,
            ImportError::Vault(e) => e.kind(),
        }
    }
}
