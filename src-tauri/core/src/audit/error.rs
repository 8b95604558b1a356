//! Errors of the audit log: chain verification and storage.

use crate::error::{ErrorKind, KindedError};

/// Why appending to, reading or verifying the audit log failed.
///
/// The chain variants say precisely what is wrong, so the GUI banner and
/// `keyward log --verify` can tell the user which entry to look at.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The entry's MAC does not match its content: it was edited (or its MAC
    /// was).
    #[error("audit entry {seq} was modified")]
    Modified {
        /// Sequence number as stored in the modified entry.
        seq: u64,
    },
    /// Entries are missing between `after` and `next`: they were deleted.
    #[error("audit entries {first_missing}..={last_missing} were deleted")]
    Deleted {
        /// The first missing sequence number.
        first_missing: u64,
        /// The last missing sequence number.
        last_missing: u64,
    },
    /// Entries appear out of order: `seq` comes after a later entry.
    #[error("audit entry {seq} is out of order")]
    Reordered {
        /// The entry found after a higher sequence number.
        seq: u64,
    },
    /// Entries at the end of the log are gone: the sealed head says the log
    /// reached `sealed_seq`, but it stops at `last_seq`.
    #[error(
        "the audit log was truncated: it ends at entry {last_seq}, the sealed head says {sealed_seq}"
    )]
    Truncated {
        /// Last sequence number according to the sealed head.
        sealed_seq: u64,
        /// Last sequence number actually present (0 if the log is empty).
        last_seq: u64,
    },
    /// The log is intact on its own, but it does not end where the sealed
    /// head says: it was replaced by another log or the head was rolled
    /// back.
    #[error(
        "the audit log does not match its sealed head (log ends at {last_seq}, head says {sealed_seq})"
    )]
    HeadMismatch {
        /// Last sequence number according to the sealed head.
        sealed_seq: u64,
        /// Last sequence number actually present.
        last_seq: u64,
    },
    /// An entry is intact on its own but does not follow the previous one:
    /// it was spliced in from another chain.
    #[error("audit entry {seq} does not follow the previous entry")]
    BrokenLink {
        /// The entry whose `prev_mac` is not its predecessor's MAC.
        seq: u64,
    },
    /// A stored row cannot be read as an entry at all (unknown action, bad
    /// MAC length, negative number…).
    #[error("audit entry {seq} is unreadable: {what}")]
    Corrupt {
        /// The row's sequence number, as far as it could be read.
        seq: u64,
        /// What was wrong (never a secret).
        what: &'static str,
    },
    /// The sealed chain head is not 40 bytes.
    #[error("the sealed audit head is malformed")]
    MalformedHead,
    /// Details must be a JSON object.
    #[error("audit details must be a JSON object")]
    DetailsNotObject,
    /// Details are limited in size: they are a few non-secret facts, not a
    /// payload.
    #[error("audit details are {len} bytes, more than the {max} allowed")]
    DetailsTooLarge {
        /// Serialized size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A detail's name says it holds a secret (`secret`, `password`,
    /// `totp`…): refused, since details are stored in clear.
    #[error("audit detail {name:?} looks like a secret and is not recorded")]
    SecretLikeDetail {
        /// The offending name (a name, never its value).
        name: String,
    },
    /// The log has reached the largest sequence number (not reachable in
    /// practice, but never wraps).
    #[error("the audit log is full")]
    SequenceExhausted,
    /// Reading or writing the audit tables failed.
    #[error("audit log storage failed")]
    Storage(#[source] rusqlite::Error),
}

impl KindedError for AuditError {
    fn kind(&self) -> ErrorKind {
        match self {
            AuditError::Modified { .. }
            | AuditError::Deleted { .. }
            | AuditError::Reordered { .. }
            | AuditError::Truncated { .. }
            | AuditError::HeadMismatch { .. }
            | AuditError::BrokenLink { .. }
            | AuditError::Corrupt { .. }
            | AuditError::MalformedHead => ErrorKind::Integrity,
            AuditError::DetailsNotObject
            | AuditError::DetailsTooLarge { .. }
            | AuditError::SecretLikeDetail { .. } => ErrorKind::Invalid,
            AuditError::SequenceExhausted | AuditError::Storage(_) => ErrorKind::Internal,
        }
    }
}

impl From<rusqlite::Error> for AuditError {
    fn from(err: rusqlite::Error) -> Self {
        AuditError::Storage(err)
    }
}
