//! The leak scan page: scan folders (and their git history) for the vault's
//! own keys and for credentials that are not in the vault.
//!
//! The needles are taken from the unlocked session under its lock, the lock
//! is released, and the scan runs on a blocking thread; the automaton and the
//! needles are dropped when it returns. Findings name the key and the part
//! that matched, never the matched text.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use keyward_core::ErrorKind;
use keyward_core::scan::import::{self, Candidate, CandidatePreview, ImportOutcome, Rewrite};
use keyward_core::scan::{Matcher, ScanOptions, ScanReport, scan};
use keyward_core::vault::Actor;
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Emitter, Runtime, State};

use super::brand::Branded;
use crate::error::{IpcError, IpcResult};
use crate::state::AppState;

/// Event carrying scan progress (`{scanned, bytes, findings}`).
pub const SCAN_PROGRESS_EVENT: &str = "scan-progress";

/// What to scan.
#[derive(Debug, Deserialize)]
pub struct ScanRequest {
    /// Folders or files.
    paths: Vec<String>,
    /// Also scan every blob reachable from every ref of the git
    /// repositories in or below `paths` (the report lists them).
    history: bool,
    /// Honour `.gitignore` and similar files.
    honour_ignore: bool,
}

/// Runs a leak scan (what it covers is decided by the core's `scan::plan`,
/// as for `keyward scan`); progress arrives as `scan-progress` events.
#[tauri::command]
pub async fn scan_run<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    request: ScanRequest,
) -> IpcResult<Branded<ScanReport>> {
    let paths: Vec<PathBuf> = request
        .paths
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .collect();
    // No path, a missing one, a history without a repository: refused by
    // the core's `scan::plan`, the same as `keyward scan`. A relative path
    // means nothing to the webview, which has no working directory.
    if let Some(relative) = paths.iter().find(|p| !p.is_absolute()) {
        return Err(IpcError::new(
            ErrorKind::Invalid,
            format!("use an absolute path: {}", relative.display()),
        ));
    }
    let needles = state.with_session(|s| s.scan_needles())?;
    let options = ScanOptions {
        honour_ignore: request.honour_ignore,
        history: request.history,
        ..ScanOptions::default()
    };
    *state.scan_cancel() = Some(options.cancel.clone());
    let result = tauri::async_runtime::spawn_blocking(move || -> IpcResult<ScanReport> {
        let matcher = Matcher::new(needles, true)?;
        let progress = |p| {
            let _ = app.emit(SCAN_PROGRESS_EVENT, p);
        };
        Ok(scan(&matcher, &paths, &options, &progress)?)
    })
    .await
    .map_err(|_| IpcError::new(ErrorKind::Internal, "the scan stopped unexpectedly"))?;
    *state.scan_cancel() = None;
    if let Ok(report) = &result {
        *state.last_scan.lock().unwrap_or_else(|e| e.into_inner()) = report.findings.clone();
    }
    result.map(Branded)
}

/// Stops a running scan at the next file or blob.
#[tauri::command]
pub fn scan_cancel(state: State<'_, AppState>) {
    if let Some(flag) = state.scan_cancel().as_ref() {
        flag.store(true, Ordering::Relaxed);
    }
}

/// What `import_preview` shows for one file: credentials found, values
/// masked.
#[tauri::command]
pub fn import_preview(path: String) -> IpcResult<Branded<Vec<CandidatePreview>>> {
    let file = import::read_file(std::path::Path::new(path.trim()), "")?;
    Ok(Branded(
        file.candidates.into_iter().map(|c| c.preview).collect(),
    ))
}

/// One credential the user chose to import, with the label to use.
#[derive(Debug, Deserialize)]
pub struct ImportChoice {
    index: usize,
    label: String,
}

/// The result of an import: per-key outcomes, the rewrite if asked for, and
/// the `keyward run` line to use instead of the file.
#[derive(Debug, Serialize)]
pub struct ImportResult {
    outcomes: Vec<ImportOutcome>,
    rewrite: Option<Rewrite>,
    run_line: String,
}

/// Imports the chosen credentials of `path` into the vault; with `rewrite`,
/// then removes their values from the file (backup kept, permissions
/// preserved, refused if the file changed since it was read).
#[tauri::command]
pub fn import_apply(
    state: State<'_, AppState>,
    path: String,
    choices: Vec<ImportChoice>,
    rewrite: bool,
) -> IpcResult<ImportResult> {
    let mut file = import::read_file(std::path::Path::new(path.trim()), "")?;
    for choice in &choices {
        let candidate = file.candidates.get_mut(choice.index).ok_or_else(|| {
            IpcError::new(
                ErrorKind::Invalid,
                "the file changed since the preview; look again",
            )
        })?;
        candidate.preview.label = choice.label.trim().to_string();
    }
    let chosen: Vec<&Candidate> = choices
        .iter()
        .filter_map(|c| file.candidates.get(c.index))
        .collect();
    let outcomes = state.with_unlocked(|s| Ok(import::import(s, Actor::Gui, &chosen)?))?;
    let imported: Vec<&Candidate> = chosen
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| o.added)
        .map(|(c, _)| *c)
        .collect();
    let rewrite = if rewrite && !imported.is_empty() {
        Some(import::rewrite_without_values(&file, &imported)?)
    } else {
        None
    };
    let labelled: Vec<(&Candidate, &str)> = imported
        .iter()
        .map(|c| (*c, c.preview.label.as_str()))
        .collect();
    Ok(ImportResult {
        outcomes,
        rewrite,
        run_line: import::run_line(&labelled),
    })
}

/// Opens the folder holding finding number `index` of the last scan in the
/// system's file manager. Only folders of the last scan's own findings can
/// be opened: the webview cannot name an arbitrary path.
#[tauri::command]
pub fn scan_open_folder(state: State<'_, AppState>, index: usize) -> IpcResult<()> {
    let finding = state
        .last_scan
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(index)
        .cloned()
        .ok_or_else(|| IpcError::new(ErrorKind::NotFound, "no such finding in the last scan"))?;
    let base = finding.repository.clone().unwrap_or_default();
    let full = if finding.path.is_absolute() {
        finding.path.clone()
    } else {
        base.join(&finding.path)
    };
    let folder = if full.is_dir() {
        full
    } else {
        full.parent().map(PathBuf::from).unwrap_or(base)
    };
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    std::process::Command::new(opener)
        .arg(&folder)
        .spawn()
        .map(|_| ())
        .map_err(|e| {
            IpcError::new(
                ErrorKind::Internal,
                format!("could not open the folder: {e}"),
            )
        })
}
