//! GUI end-to-end tests: the real desktop binary, driven through WebDriver
//! (`tauri-driver` + `WebKitWebDriver`) under Xvfb. One test binary; each
//! module covers one area:
//!
//! - `a11y`: axe-core on every screen in both themes; keyboard and focus.
//! - `backup`: encrypted backup export and import from Settings, the merge
//!   report, the master-password change, errors next to their button.
//! - `alerts`: a due rotation reminded once by desktop notification (seen on
//!   the D-Bus session through `dbus-monitor`), the alert settings section,
//!   the webhook URL never returned to the page.
//! - `checks`: live key checks against the exchange simulator.
//! - `deploy`: where a key runs on its page, delivery to a real OpenSSH
//!   server on loopback, a changed host key refused.
//! - `incident`: the incident checklist against the simulator, report export.
//! - `managed`: the manager key marked on its key page, the Accounts
//!   screen's inventory with an unknown key deleted, automatic rotation of
//!   a sub-account key and its schedule, against the simulator.
//! - `ipc`: every command with hostile arguments; typed errors, no change.
//! - `launch`: first start on an empty data dir, window title, CSP.
//! - `vault`: create, add, list, lock, unlock, edit; canary secret checks.
//! - `mfa`: enrolment, step-up for reveal/copy/delete, direct-IPC refusals,
//!   audit-log view, clipboard clearing.
//! - `rotation`: the rotation wizard against the simulator.
//! - `scale`: 10,000 keys: virtualized list, keyboard, filter figures.
//! - `services`: linked services on the key's page, the dated vendor
//!   checklist, reload, removal.
//! - `scan`: leak scan of files and git history, import from .env, allow run.
//! - `trial`: the README's trial path: the simulator's sample accounts added
//!   through the form and checked live.

mod a11y;
mod alerts;
mod backup;
mod checks;
mod deploy;
mod incident;
mod ipc;
mod launch;
mod managed;
mod mfa;
mod rotation;
mod scale;
mod scan;
mod services;
mod trial;
mod vault;
