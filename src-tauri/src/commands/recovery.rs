//! Recovery codes leaving the enrolment screen: copied (and cleared from the
//! clipboard like a secret) or saved to a file the user names.
//!
//! Owns: checking that what arrives looks like recovery codes, so neither
//! command can put arbitrary text on the clipboard or on disk. Must never:
//! log the codes or keep them after the call.

use std::path::PathBuf;
use std::time::Duration;

use keyward_core::ErrorKind;
use keyward_core::files::{self, FileError, Overwrite};
use tauri::State;
use zeroize::Zeroizing;

use crate::error::{IpcError, IpcResult};
use crate::state::AppState;

/// At most this many codes (enrolment makes 10).
const MAX_CODES: usize = 16;

/// The codes as one text, one per line, after checking each is a short run
/// of letters, digits and dashes.
fn codes_text(codes: Vec<String>) -> IpcResult<Zeroizing<String>> {
    let codes: Vec<Zeroizing<String>> = codes.into_iter().map(Zeroizing::new).collect();
    let plausible = |c: &str| {
        (4..=64).contains(&c.len()) && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
    };
    if codes.is_empty() || codes.len() > MAX_CODES || !codes.iter().all(|c| plausible(c)) {
        return Err(IpcError::new(
            ErrorKind::Invalid,
            "these are not recovery codes",
        ));
    }
    let mut text = Zeroizing::new(String::new());
    for c in &codes {
        text.push_str(c);
        text.push('\n');
    }
    Ok(text)
}

/// Copies the codes; the clipboard is cleared after the vault's
/// clipboard-clear time, as for a copied secret.
#[tauri::command]
pub fn recovery_codes_copy(state: State<'_, AppState>, codes: Vec<String>) -> IpcResult<()> {
    let text = codes_text(codes)?;
    let clear_after = state
        .with_session(|s| s.settings())?
        .clipboard_clear_seconds;
    state
        .clipboard
        .copy_for(&text, Duration::from_secs(u64::from(clear_after)))
        .map_err(|m| IpcError::new(ErrorKind::Internal, m))
}

/// Saves the codes to `path` (a full path; 0600, never through a link,
/// never over an existing file). Returns the path written.
#[tauri::command]
pub fn recovery_codes_save(
    state: State<'_, AppState>,
    codes: Vec<String>,
    path: String,
) -> IpcResult<String> {
    // Only while unlocked: the codes were just shown by this session.
    state.with_session(|s| s.settings())?;
    let text = codes_text(codes)?;
    let path = PathBuf::from(path.trim());
    if !path.is_absolute() {
        return Err(IpcError::new(
            ErrorKind::Invalid,
            "give the file as a full path (starting with /)",
        ));
    }
    let body = Zeroizing::new(format!(
        "Keyward recovery codes. Each works once, in place of an authenticator code.\n\n{}",
        text.as_str()
    ));
    files::write_private(&path, body.as_bytes(), Overwrite::Refuse).map_err(|e| match e {
        FileError::Exists { path } => IpcError::new(
            ErrorKind::Invalid,
            format!("{} already exists; choose another name", path.display()),
        ),
        other => other.into(),
    })?;
    Ok(path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::codes_text;

    fn codes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn only_text_shaped_like_recovery_codes_is_accepted() {
        let ok = codes_text(codes(&["IITD-OU4C-CN6N-KL3I", "FXCL-NOY2-QEVC-6JHH"])).unwrap();
        assert_eq!(ok.as_str(), "IITD-OU4C-CN6N-KL3I\nFXCL-NOY2-QEVC-6JHH\n");
        for bad in [
            codes(&[]),
            codes(&["hello world"]),
            codes(&["ABCD-EFGH\nrm -rf /"]),
            codes(&["abc"]),
            codes(&[&"A".repeat(65)]),
            vec!["ABCD-EFGH-IJKL-MNOP".to_owned(); 17],
        ] {
            assert!(codes_text(bad).is_err());
        }
    }
}
