//! `keyward-core` holds every rule that matters in Keyward: the encrypted
//! vault, MFA step-up, the audit log, exchange clients, rotation, incidents,
//! the leak scanner and health findings.
//!
//! The desktop shell and the CLI are thin front ends over this crate. They
//! translate requests into calls here and results into DTOs; they hold no
//! policy. This crate has no Tauri or GUI dependency, by design: everything a
//! front end can do has been checked here first.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod alerts;
pub mod audit;
pub mod checks;
pub mod deploy;
pub mod error;
pub mod exchange;
pub mod files;
#[doc(hidden)]
pub mod fuzzing;
pub mod health;
pub mod incident;
pub mod keys;
pub mod managed;
pub mod mfa;
pub mod model;
pub mod password;
pub mod paths;
pub mod rotation;
pub mod scan;
pub mod text;
pub mod vault;

pub use error::{ErrorKind, KindedError};

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    /// No source file of the Rust crates grows past 800 lines: a file that
    /// large holds more than one idea (unit tests sit in `tests.rs` files
    /// beside their module and are not counted).
    #[test]
    fn no_source_file_passes_800_lines() {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && path.file_name().is_some_and(|n| n != "tests.rs")
                {
                    out.push(path);
                }
            }
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = Vec::new();
        for dir in ["core/src", "cli/src", "sim/src", "src"] {
            walk(&root.join(dir), &mut files);
        }
        assert!(files.len() > 100, "the sources were not found");
        let long: Vec<_> = files
            .iter()
            .map(|f| (std::fs::read_to_string(f).unwrap().lines().count(), f))
            .filter(|(lines, _)| *lines >= 800)
            .collect();
        assert!(long.is_empty(), "files of 800 lines or more: {long:?}");
    }
}
