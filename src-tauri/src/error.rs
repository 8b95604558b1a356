//! The one error shape that crosses IPC: `{ "kind": ..., "message": ... }`.
//!
//! `kind` is the core's closed [`ErrorKind`]; the UI branches on it, never on
//! the message. Messages come from the core's error types, which never carry
//! secrets.

use keyward_core::{ErrorKind, KindedError};
use serde::Serialize;

/// An error as the webview sees it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct IpcError {
    /// Machine-readable kind.
    pub kind: ErrorKind,
    /// Human-readable message, safe to display.
    pub message: String,
}

impl IpcError {
    /// Builds an error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        IpcError {
            kind,
            message: message.into(),
        }
    }
}

/// Every core error crosses IPC as its own kind and message, so adapters use
/// `?`. An adapter that maps an error differently (a wrong master password
/// given as step-up proof is an MFA failure, see `commands::stepup`) says so
/// explicitly with [`IpcError::new`].
impl<E: KindedError> From<E> for IpcError {
    fn from(err: E) -> Self {
        IpcError::new(err.kind(), err.to_string())
    }
}

/// Result type of every command.
pub type IpcResult<T> = Result<T, IpcError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_is_pinned() {
        let err = IpcError::new(ErrorKind::NotFound, "no key labelled \"x\"");
        let json = serde_json::to_value(&err).unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "kind": "not_found", "message": "no key labelled \"x\"" })
        );
    }

    /// `?` on a core error keeps its kind and its message.
    #[test]
    fn core_errors_convert_with_their_kind_and_message() {
        let core = keyward_core::vault::VaultError::Locked;
        let (kind, message) = (core.kind(), core.to_string());
        let err: IpcError = core.into();
        assert_eq!(err, IpcError::new(kind, message));
        assert_eq!(err.kind, ErrorKind::Locked);
    }

    /// The TypeScript mirror of `ErrorKind` must list exactly the same kinds,
    /// in the same order.
    #[test]
    fn typescript_error_kinds_do_not_drift() {
        let ts_path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/src/lib/api/errors.ts");
        let ts = std::fs::read_to_string(&ts_path).expect("read errors.ts");
        let start = ts
            .find("ERROR_KINDS = [")
            .expect("ERROR_KINDS in errors.ts");
        let end = start + ts[start..].find(']').expect("end of ERROR_KINDS");
        let ts_kinds: Vec<&str> = ts[start..end].split('\'').skip(1).step_by(2).collect();
        let rust_kinds: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(ts_kinds, rust_kinds);
    }
}
