//! Key rotation and revocation (DESIGN §5, modelled on AWS Secrets
//! Manager's staged rotation: create, set, test, finish): the state
//! machine, its storage and the networked steps, all in this module.
//!
//! Owns: the states and which transitions are legal ([`RotationState`]),
//! what a live check of a new key must show before it may become current
//! ([`verify::compare`]), the rotation policy ([`policy`]), the DTOs front
//! ends show ([`RotationView`], [`VerifyOutcome`], [`RevokeOutcome`]), the
//! errors ([`RotationError`]), and its side of the vault:
//! - `store`: the `rotations` rows, the view, the one guarded transition
//!   (one transaction with its audit entry) and the sealed pending and
//!   previous keys (AAD = vault id ‖ rotation id ‖ field name, so neither
//!   can be moved to another rotation, record or vault);
//! - `steps`: begin, status, enter the new key, promote (gated), finish,
//!   cancel, fail, the services checklist — no network;
//! - `flow`: the verify step's three phases;
//! - `revoke`: revocation's three phases, for a rotation's old key, a key
//!   on its own or a whole exchange;
//! - `baseline`: the live success recorded in the vault right before a
//!   delete call, which lets a retry from another process prove a deletion
//!   whose answer was lost.
//!
//! ```text
//! rotation::begin(&mut Session, Actor, label) / status(.., label) / open_rotations(..)
//! rotation::enter_new_key(&mut Session, Actor, label, NewRotationKey) -> Result<RotationView>
//! rotation::verify_new_key(access, &client, Actor, label, &VerifyOptions) -> Result<VerifyOutcome>   // 3 phases
//! rotation::promote(&mut Session, Actor, grant /*RotationPromote*/, label) -> Result<RotationView>
//! rotation::revoke_old(access, &client, Actor, grant /*Revoke*/, label, confirm_manual) -> Result<RevokeOutcome>
//! rotation::finish / cancel / fail / mark_service(&mut Session, Actor, label, ..)
//! rotation::revoke_key(access, &client, Actor, grant /*Revoke*/, label, confirm_manual) -> Result<RevokeOutcome>
//! rotation::revoke_exchange(access, &client, Actor, grant /*Revoke*/, Exchange, confirm_manual) -> Result<Vec<RevokeOutcome>>
//! ```
//! `access` is anything that implements [`SessionAccess`](crate::vault::SessionAccess):
//! `&mut Session` (the CLI) or `&Mutex<Option<Session>>` (the desktop,
//! whose lock is free while the exchange is asked). The vault does not know
//! this module: rotation imports the vault, never the other way round
//! (checked by `store::tests::the_vault_does_not_import_rotation`).
//!
//! Must never: hold a secret in a DTO, an error or an audit detail (new and
//! previous keys exist only sealed in the vault and, for the length of one
//! network call, inside an opaque pending value), hold a transaction or the
//! session across a network call, let a key become current without a
//! passed (or explicitly, audited, overridden "unknown") check, offer an
//! override for permissions beyond the declared scope, or record a key as
//! revoked before a live call with it was rejected.
//!
//! ```text
//! planned → new_key_entered → new_key_verified → promoted → old_key_revoked → done
//!    └──────────┴──────────────────┴─→ cancelled (only before promotion)
//!    any open state ─→ failed (with the reason)
//! ```

mod auto;
mod baseline;
mod error;
mod flow;
mod follow;
pub mod policy;
mod revoke;
mod steps;
mod store;
pub mod verify;

use serde::{Deserialize, Serialize};

pub use auto::{
    AutoCancel, AutoOutcome, AutoSchedule, AutoStage, DeletedKey, DueAuto, auto_schedule,
    cancel_auto, due_auto, notify_due_auto, rotate_auto, rotate_due_auto, set_auto_schedule,
    turn_auto_off,
};
pub use error::RotationError;
pub use flow::{
    CheckedNewKey, PendingVerification, VerifyOptions, prepare_verify, record_verify,
    verify_new_key,
};
pub use follow::{PromoteOutcome, promote_and_deploy};
pub use revoke::{
    PendingRevocation, RevocationResult, RevokeTarget, prepare_exchange_revoke, prepare_key_revoke,
    prepare_revoke_old, record_revocation, revoke_exchange, revoke_key, revoke_old, revoke_waiting,
    revoke_with, run_revocation,
};
pub use steps::{
    NewRotationKey, begin, cancel, enter_new_key, fail, finish, mark_service, open_rotations,
    promote, status,
};
pub use verify::{Difference, DifferenceCode, Severity, VerifyOutcome};

use crate::model::{Exchange, KeyStatus, Scope};

/// Where a rotation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RotationState {
    /// Started; no new key yet.
    Planned,
    /// A new key is stored (sealed) but not checked.
    NewKeyEntered,
    /// The new key passed the live check.
    NewKeyVerified,
    /// The new key is current; the old one is kept sealed as `previous`.
    Promoted,
    /// A live call with the old key was rejected by the exchange.
    OldKeyRevoked,
    /// Finished.
    Done,
    /// Stopped for a reason that a retry cannot fix.
    Failed,
    /// Abandoned before promotion.
    Cancelled,
}

impl RotationState {
    /// The happy path, in order (what a progress list shows).
    pub const PATH: [RotationState; 6] = [
        RotationState::Planned,
        RotationState::NewKeyEntered,
        RotationState::NewKeyVerified,
        RotationState::Promoted,
        RotationState::OldKeyRevoked,
        RotationState::Done,
    ];

    /// Every state.
    pub const ALL: [RotationState; 8] = [
        RotationState::Planned,
        RotationState::NewKeyEntered,
        RotationState::NewKeyVerified,
        RotationState::Promoted,
        RotationState::OldKeyRevoked,
        RotationState::Done,
        RotationState::Failed,
        RotationState::Cancelled,
    ];

    /// The stable name (database, JSON, audit).
    pub fn as_str(self) -> &'static str {
        match self {
            RotationState::Planned => "planned",
            RotationState::NewKeyEntered => "new_key_entered",
            RotationState::NewKeyVerified => "new_key_verified",
            RotationState::Promoted => "promoted",
            RotationState::OldKeyRevoked => "old_key_revoked",
            RotationState::Done => "done",
            RotationState::Failed => "failed",
            RotationState::Cancelled => "cancelled",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<RotationState> {
        RotationState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether the rotation is still open (at most one per key).
    pub fn is_open(self) -> bool {
        !matches!(
            self,
            RotationState::Done | RotationState::Failed | RotationState::Cancelled
        )
    }

    /// Whether the new key is already current (no cancelling any more).
    pub fn is_promoted(self) -> bool {
        matches!(
            self,
            RotationState::Promoted | RotationState::OldKeyRevoked | RotationState::Done
        )
    }

    /// Whether `self → to` is a legal transition.
    ///
    /// Re-entering a new key, or a failed re-check of a verified one, goes
    /// back to `new_key_entered`. Cancelling is refused once the new key is
    /// current: the old key may already be gone from the bots that held it,
    /// so the only way forward is revoking it.
    pub fn can_go_to(self, to: RotationState) -> bool {
        use RotationState::*;
        match (self, to) {
            (Planned | NewKeyEntered | NewKeyVerified, NewKeyEntered) => true,
            (NewKeyEntered | NewKeyVerified, NewKeyVerified) => true,
            (NewKeyVerified, Promoted) => true,
            (Promoted, OldKeyRevoked) => true,
            (OldKeyRevoked, Done) => true,
            (Planned | NewKeyEntered | NewKeyVerified, Cancelled) => true,
            (from, Failed) => from.is_open(),
            _ => false,
        }
    }

    /// What the user does next in this state.
    pub fn next_action(self) -> Option<NextAction> {
        match self {
            RotationState::Planned => Some(NextAction::EnterNewKey),
            RotationState::NewKeyEntered => Some(NextAction::Verify),
            RotationState::NewKeyVerified => Some(NextAction::Promote),
            RotationState::Promoted => Some(NextAction::RevokeOld),
            RotationState::OldKeyRevoked => Some(NextAction::Finish),
            RotationState::Done | RotationState::Failed | RotationState::Cancelled => None,
        }
    }
}

impl std::fmt::Display for RotationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The next step of an open rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum NextAction {
    /// Create a key on the exchange and enter it.
    EnterNewKey,
    /// Check the new key live.
    Verify,
    /// Make the new key current (step-up: `rotation_promote`).
    Promote,
    /// Revoke the old key (step-up: `revoke`), by API or by hand.
    RevokeOld,
    /// Record the end of the rotation.
    Finish,
}

/// One state on the progress list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepView {
    /// The state.
    pub state: RotationState,
    /// When it was reached (unix seconds); `None` if not (yet).
    pub at: Option<i64>,
    /// `done`, `current` or `pending`.
    pub status: StepStatus,
}

/// A progress-list entry's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StepStatus {
    /// Reached and left behind.
    Done,
    /// The rotation is here.
    Current,
    /// Not reached.
    Pending,
}

/// Whether a linked service already uses the new key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ServiceState {
    /// Still to be updated with the new key.
    Pending,
    /// Updated (marked by the user).
    Updated,
}

/// One item of the post-promotion checklist ("update grid bot on VPS").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceItem {
    /// The linked service, as stored on the key.
    pub name: String,
    /// Its state.
    pub state: ServiceState,
    /// When it was last marked (unix seconds).
    pub marked_at: Option<i64>,
}

/// Everything a front end shows about one rotation. Metadata only: key ids
/// are masked, and no secret exists in any field.
#[derive(Debug, Clone, Serialize)]
pub struct RotationView {
    /// Rotation id (uuid).
    pub id: String,
    /// The key's record id.
    pub key_id: String,
    /// The key's label.
    pub label: String,
    /// The key's exchange.
    pub exchange: Exchange,
    /// The current state.
    pub state: RotationState,
    /// Whether the rotation is still open.
    pub open: bool,
    /// The happy path with a timestamp per reached state, then `failed` or
    /// `cancelled` if that is where it ended.
    pub steps: Vec<StepView>,
    /// What to do next (`None` once closed).
    pub next_action: Option<NextAction>,
    /// Whether cancelling is still allowed.
    pub can_cancel: bool,
    /// Whether cancelling deletes a key Keyward created on the exchange
    /// through the manager key (an automated rotation's new key, or one an
    /// interrupted creation may have left): the cancel then needs the
    /// `AutoRotate` step-up and the exchange.
    pub cancel_deletes_key: bool,
    /// The new key's id, masked.
    pub new_api_key_id_masked: Option<String>,
    /// The old key's id, masked (after promotion: the `previous` key).
    pub old_api_key_id_masked: Option<String>,
    /// The scopes the key is declared for once promoted (possibly narrowed
    /// at verification).
    pub declared_scopes: Vec<Scope>,
    /// The last live check of the new key.
    pub verification: Option<VerifyOutcome>,
    /// Whether "unknown" permissions were accepted by an explicit,
    /// audited override.
    pub unknown_override: bool,
    /// Whether the exchange can revoke the old key through its API.
    pub revoke_via_api: bool,
    /// The exchange's manual revocation steps, once shown.
    pub manual_steps: Vec<String>,
    /// The linked services to update (after promotion), with their states.
    pub services: Vec<ServiceItem>,
    /// The last error of a step (revocation refused, old key still active,
    /// exchange unreachable…) or the reason of `failed`.
    pub error: Option<String>,
    /// Status the key returns to if the rotation is cancelled.
    pub prior_status: KeyStatus,
}

/// How an old or standalone key was revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RevokeMethod {
    /// Through the exchange's API.
    Api,
    /// By the user, following the exchange's steps, then confirmed.
    Manual,
}

impl RevokeMethod {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            RevokeMethod::Api => "api",
            RevokeMethod::Manual => "manual",
        }
    }
}

/// What a revocation (of a rotation's old key, or of a key on its own)
/// ended with. Only [`RevokeOutcome::Revoked`] changed a state.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RevokeOutcome {
    /// A live call with the key was rejected as unknown or expired; the
    /// revocation is recorded.
    Revoked {
        /// The key's label.
        label: String,
        /// How it was revoked.
        method: RevokeMethod,
        /// The exchange's rejection of the live check (code and message).
        confirmation: String,
        /// A key Keyward had created on the exchange for an automated
        /// rotation of this key, still live there: the revocation cancelled
        /// that rotation (an emergency revocation is never held up), so it
        /// says which key is left and how to delete it.
        #[serde(skip_serializing_if = "Option::is_none")]
        left_live: Option<String>,
    },
    /// The exchange has no API for this: do these steps, then confirm
    /// (`--confirm-manual`). Nothing changed.
    ManualStepsRequired {
        /// The key's label.
        label: String,
        /// Why the exchange cannot do it.
        reason: String,
        /// What to do on the exchange's website.
        steps: Vec<String>,
    },
    /// The key still authenticates. Nothing changed.
    StillActive {
        /// The key's label.
        label: String,
        /// Said plainly.
        message: String,
    },
    /// The key was rejected, but by an answer that does not prove it is
    /// gone (see `Endpoint::confirm_revoked`): an IP allowlist, a signature
    /// or environment problem, or an ambiguous "invalid key" code without a
    /// successful call from here shortly before. Nothing changed.
    Inconclusive {
        /// The key's label.
        label: String,
        /// The exchange's answer and why it proves nothing, said plainly.
        message: String,
        /// What to check by hand on the exchange.
        check_by_hand: Vec<String>,
    },
    /// The revocation or its check failed (timeout, 5xx). Nothing changed;
    /// retry later.
    Failed {
        /// The key's label.
        label: String,
        /// The error kind (`exchange`, `invalid`…).
        kind: crate::ErrorKind,
        /// What went wrong, safe to show.
        message: String,
    },
}

impl RevokeOutcome {
    /// Whether the key is now recorded as revoked.
    pub fn is_revoked(&self) -> bool {
        matches!(self, RevokeOutcome::Revoked { .. })
    }

    /// The label the outcome is about.
    pub fn label(&self) -> &str {
        match self {
            RevokeOutcome::Revoked { label, .. }
            | RevokeOutcome::ManualStepsRequired { label, .. }
            | RevokeOutcome::StillActive { label, .. }
            | RevokeOutcome::Inconclusive { label, .. }
            | RevokeOutcome::Failed { label, .. } => label,
        }
    }
}

/// What happened in a rotation, as recorded in the audit log (the vault's
/// `Action::Rotation`). Metadata only: states, masked key ids, scope names,
/// reason codes — never a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RotationEvent {
    /// `planned`.
    Planned,
    /// `new_key_entered` (masked new key id).
    NewKeyEntered {
        /// The new key id, masked.
        new_key: String,
        /// Whether Keyward created it through the account's manager key.
        created: bool,
    },
    /// `new_key_verified`.
    NewKeyVerified {
        /// The scopes declared from promotion on.
        scopes: Vec<&'static str>,
        /// The "unknown" differences accepted by override (empty: none).
        overridden: Vec<&'static str>,
    },
    /// `promoted` (gated).
    Promoted {
        /// The new current key id, masked.
        new_key: String,
        /// The old key id (now `previous`), masked.
        old_key: String,
    },
    /// `old_key_revoked` (gated).
    OldKeyRevoked {
        /// `api` or `manual`.
        method: &'static str,
    },
    /// `done`.
    Done,
    /// `cancelled`.
    Cancelled {
        /// The keys deleted on the exchange through the manager key before
        /// (masked; empty for a manual rotation).
        deleted: Vec<String>,
    },
    /// `failed` (the state).
    Failed {
        /// Why, in words safe to log.
        reason: String,
    },
    /// A step did not go through; the state is unchanged.
    StepRefused {
        /// Which step (`verify`, `revoke_old`).
        step: &'static str,
        /// A reason code (`differences`, `still_active`,
        /// `manual_revocation_required`, `exchange_error`, …).
        reason: &'static str,
    },
    /// A linked service was marked on the checklist.
    ServiceMarked {
        /// The service.
        service: String,
        /// Its new state.
        state: ServiceState,
    },
}

impl RotationEvent {
    /// The audit action this event is recorded as.
    pub fn audit_action(&self) -> crate::audit::Action {
        use crate::audit::Action as A;
        match self {
            RotationEvent::Planned => A::RotationPlanned,
            RotationEvent::NewKeyEntered { .. } => A::RotationNewKeyEntered,
            RotationEvent::NewKeyVerified { .. } => A::RotationNewKeyVerified,
            RotationEvent::Promoted { .. } => A::RotationPromoted,
            RotationEvent::OldKeyRevoked { .. } => A::RotationOldKeyRevoked,
            RotationEvent::Done => A::RotationDone,
            RotationEvent::Cancelled { .. } => A::RotationCancelled,
            RotationEvent::Failed { .. } | RotationEvent::StepRefused { .. } => A::RotationFailed,
            RotationEvent::ServiceMarked { .. } => A::KeyEdited,
        }
    }

    /// A short stable name.
    pub fn name(&self) -> &'static str {
        match self {
            RotationEvent::Planned => "rotation_planned",
            RotationEvent::NewKeyEntered { .. } => "rotation_new_key_entered",
            RotationEvent::NewKeyVerified { .. } => "rotation_new_key_verified",
            RotationEvent::Promoted { .. } => "rotation_promoted",
            RotationEvent::OldKeyRevoked { .. } => "rotation_old_key_revoked",
            RotationEvent::Done => "rotation_done",
            RotationEvent::Cancelled { .. } => "rotation_cancelled",
            RotationEvent::Failed { .. } => "rotation_failed",
            RotationEvent::StepRefused { .. } => "rotation_step_refused",
            RotationEvent::ServiceMarked { .. } => "rotation_service_marked",
        }
    }

    /// The audit details (never secret).
    pub fn details(&self, rotation_id: &str) -> crate::audit::Details {
        use crate::audit::Details;
        let d = Details::new().with("rotation_id", rotation_id);
        match self {
            RotationEvent::Planned | RotationEvent::Done => d,
            RotationEvent::Cancelled { deleted } => {
                if deleted.is_empty() {
                    d
                } else {
                    d.with("deleted", deleted.clone())
                        .with("deleted_by", "manager_key")
                }
            }
            RotationEvent::NewKeyEntered { new_key, created } => {
                let d = d.with("new_key", new_key.as_str());
                if *created {
                    d.with("created_by", "manager_key")
                } else {
                    d
                }
            }
            RotationEvent::NewKeyVerified { scopes, overridden } => {
                let d = d.with("scopes", scopes.clone());
                if overridden.is_empty() {
                    d
                } else {
                    d.with("override", "unknown_permissions")
                        .with("overridden", overridden.clone())
                }
            }
            RotationEvent::Promoted { new_key, old_key } => d
                .with("new_key", new_key.as_str())
                .with("old_key", old_key.as_str()),
            RotationEvent::OldKeyRevoked { method } => d.with("method", *method),
            RotationEvent::Failed { reason } => {
                d.with("state", "failed").with("reason", reason.as_str())
            }
            RotationEvent::StepRefused { step, reason } => {
                d.with("step", *step).with("reason", *reason)
            }
            RotationEvent::ServiceMarked { service, state } => d
                .with("fields", vec!["rotation_checklist"])
                .with("service", service.as_str())
                .with(
                    "state",
                    match state {
                        ServiceState::Pending => "pending",
                        ServiceState::Updated => "updated",
                    },
                ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for s in RotationState::ALL {
            assert_eq!(RotationState::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert_eq!(RotationState::parse("nonsense"), None);
    }

    #[test]
    fn the_happy_path_is_legal_step_by_step() {
        for pair in RotationState::PATH.windows(2) {
            assert!(pair[0].can_go_to(pair[1]), "{} -> {}", pair[0], pair[1]);
        }
    }

    #[test]
    fn no_skipping_and_no_cancel_after_promotion() {
        use RotationState::*;
        assert!(!Planned.can_go_to(NewKeyVerified));
        assert!(!NewKeyEntered.can_go_to(Promoted));
        assert!(!Promoted.can_go_to(Done));
        assert!(!Promoted.can_go_to(Cancelled));
        assert!(!OldKeyRevoked.can_go_to(Cancelled));
        assert!(NewKeyVerified.can_go_to(Cancelled));
        assert!(Promoted.can_go_to(Failed));
        for closed in [Done, Failed, Cancelled] {
            for to in RotationState::ALL {
                assert!(!closed.can_go_to(to), "{closed} -> {to}");
            }
        }
    }
}
