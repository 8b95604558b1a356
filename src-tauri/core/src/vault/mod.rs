//! The encrypted vault: file format, schema, key derivation, envelope
//! encryption, records, lock/unlock.
//!
//! Owns: everything that touches the vault file. Must never: hand plaintext
//! secrets to anything but the gated reveal path, or write a secret outside a
//! sealed field.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// What a front end may know about a vault before unlocking it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct VaultStatus {
    /// Where the vault is (or would be created).
    pub path: PathBuf,
    /// Whether a vault file exists there.
    pub exists: bool,
}

/// Looks at `path` without opening or modifying anything.
pub fn status(path: &Path) -> VaultStatus {
    VaultStatus {
        path: path.to_path_buf(),
        exists: path.is_file(),
    }
}
