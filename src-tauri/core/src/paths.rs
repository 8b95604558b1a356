//! Where the vault lives.
//!
//! Resolution order: an explicit path from the front end (`--vault`), then
//! `$KEYWARD_VAULT` (a file), then `$KEYWARD_DATA_DIR` (a directory, used by
//! tests so they never touch the user's real data), then the platform data
//! directory. This module only computes paths; it never creates or reads files.

use std::path::{Path, PathBuf};

/// File name of the vault inside a data directory.
pub const VAULT_FILE_NAME: &str = "vault.keyward";

/// The data directory: `$KEYWARD_DATA_DIR` if set and non-empty, else the
/// platform's per-user data directory for Keyward.
pub fn data_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("KEYWARD_DATA_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "Keyward").map(|d| d.data_dir().to_path_buf())
}

/// The vault path: `explicit` if given, else `$KEYWARD_VAULT`, else
/// `data_dir()/vault.keyward`.
pub fn vault_path(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("KEYWARD_VAULT").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    data_dir().map(|d| d.join(VAULT_FILE_NAME))
}
