//! GUI end-to-end tests: the real desktop binary, driven through WebDriver
//! (`tauri-driver` + `WebKitWebDriver`) under Xvfb. One test binary; each
//! module covers one area:
//!
//! - `launch`: first start on an empty data dir, window title, CSP.
//! - `vault`: create, add, list, lock, unlock, edit; canary secret checks.

mod launch;
mod vault;
