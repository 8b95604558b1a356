//! The leak scanner and the credential import.
//!
//! Owns: finding the vault's own keys (every stored secret, passphrase and
//! API key id) by exact match in files ([`scan_paths`]) and in git history
//! ([`scan_history`]), over every repository a folder holds ([`scan`]); the "unknown credential" rules that flag exchange
//! credentials that are not in the vault ([`rules`]); and recognising
//! exchange credentials in `.env`, JSON, YAML and TOML bot configurations so
//! they can be moved into the vault ([`import`]).
//!
//! Must never:
//! - put matched text in a [`Finding`], an error, a log line or a DTO: a
//!   finding names the key's label and the part that matched (secret,
//!   passphrase or key id), or the rule and variable name for an unknown
//!   credential, with its location — never the value;
//! - keep the needles after a scan: they come from the unlocked vault as
//!   zeroizing values ([`Needle`]), the automaton is built from them in
//!   memory, and both are dropped when the scan returns;
//! - modify a scanned file or repository (the import's rewrite is a separate,
//!   explicit step, [`import::rewrite_without_values`]);
//! - trust the input: files and git objects are untrusted bytes; nothing here
//!   panics on them, and oversized or binary files are skipped, not loaded.
//!
//! # API for front ends
//! ```text
//! Session::scan_needles() -> Result<Vec<Needle>>            // needles.rs
//! Matcher::new(needles) -> Result<Matcher>                  // one automaton
//! scan(&matcher, &[PathBuf], &ScanOptions, &dyn Fn(Progress)) -> Result<ScanReport>
//!     // = plan + run: files, then with `ScanOptions::history` every
//!     // repository in or below the paths; `ScanReport::repositories` lists them
//! plan(&[PathBuf], &ScanOptions) -> Result<ScanPlan>   // refusals before reading anything
//! run(&matcher, &ScanPlan, &ScanOptions, &dyn Fn(Progress)) -> Result<ScanReport>
//! scan_paths(&matcher, &[PathBuf], &ScanOptions, &dyn Fn(Progress)) -> Result<ScanReport>
//! scan_history(&matcher, repo, &ScanOptions, &dyn Fn(Progress)) -> Result<ScanReport>
//! import::read_file(path) -> Result<FileCandidates>        // preview, values masked
//! import::import(session, actor, candidates) -> Vec<ImportOutcome>
//! import::rewrite_without_values(path, &candidates) -> Result<Rewrite>
//! ```
//! [`ScanOptions::cancel`] stops a running scan at the next file or blob.

mod error;
mod files;
mod finding;
mod history;
pub mod import;
mod matcher;
mod needles;
pub mod rules;
mod run;

pub use error::{ImportError, ScanError};
pub use files::scan_paths;
pub use finding::{Finding, FindingKind, Part, Progress, ScanOptions, ScanReport};
pub use history::scan_history;
pub use matcher::{Matcher, Needle};
pub use run::{ScanPlan, plan, repositories, run, scan};
