//! The closed set of error kinds every front end understands.
//!
//! Operations in the core return their own precise `thiserror` enums. Each of
//! them maps onto one [`ErrorKind`]: the desktop IPC layer serializes it as
//! `{ kind, message }`, the CLI turns it into an exit code (DESIGN §6). The
//! message must never contain a secret, a passphrase or a master password.

use serde::Serialize;

/// What went wrong, in terms a front end can act on.
///
/// The serialized names are part of the IPC contract and mirrored in
/// `ui/src/lib/api/errors.ts`; a test pins them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// Something failed that fits no more specific kind (I/O, database).
    Internal,
    /// The request itself is malformed: bad arguments, failed validation.
    Invalid,
    /// The vault is locked, or the master password was wrong.
    Locked,
    /// MFA step-up is required, or the code was invalid, replayed or throttled.
    Mfa,
    /// The vault or the audit log failed an integrity check.
    Integrity,
    /// An exchange rejected the request or could not be reached.
    Exchange,
    /// The named record does not exist.
    NotFound,
    /// A scan reported findings (not an error for the GUI; used by the CLI).
    Findings,
}

impl ErrorKind {
    /// Every kind, in a fixed order (used by tests and docs).
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::Internal,
        ErrorKind::Invalid,
        ErrorKind::Locked,
        ErrorKind::Mfa,
        ErrorKind::Integrity,
        ErrorKind::Exchange,
        ErrorKind::NotFound,
        ErrorKind::Findings,
    ];

    /// The CLI exit code for this kind (DESIGN §6). Usage errors (exit 2)
    /// are produced by the argument parser before the core is reached.
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::Internal | ErrorKind::Invalid => 1,
            ErrorKind::Locked => 3,
            ErrorKind::Mfa => 4,
            ErrorKind::Integrity => 5,
            ErrorKind::Exchange => 6,
            ErrorKind::NotFound => 7,
            ErrorKind::Findings => 8,
        }
    }

    /// The wire name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Internal => "internal",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Locked => "locked",
            ErrorKind::Mfa => "mfa",
            ErrorKind::Integrity => "integrity",
            ErrorKind::Exchange => "exchange",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Findings => "findings",
        }
    }
}

/// Implemented by every error type of the core so front ends can classify it
/// without matching on message text.
pub trait KindedError: std::error::Error {
    /// The front-end-facing kind of this error.
    fn kind(&self) -> ErrorKind;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_match_serde() {
        for kind in ErrorKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
    }

    #[test]
    fn exit_codes_follow_design() {
        let codes: Vec<i32> = ErrorKind::ALL.iter().map(|k| k.exit_code()).collect();
        assert_eq!(codes, [1, 1, 3, 4, 5, 6, 7, 8]);
    }
}
