//! State shared by the command adapters.

use std::path::PathBuf;

/// Process-wide state of the desktop app.
pub struct AppState {
    /// The vault file this window works on (None if no data dir exists on
    /// this platform, which the UI reports).
    pub vault_path: Option<PathBuf>,
}

impl AppState {
    /// Resolves the vault path from the environment (`KEYWARD_VAULT`,
    /// `KEYWARD_DATA_DIR`, platform data dir).
    pub fn from_env() -> Self {
        AppState {
            vault_path: keyward_core::paths::vault_path(None),
        }
    }
}
