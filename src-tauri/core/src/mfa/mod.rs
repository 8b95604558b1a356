//! TOTP step-up: enrolment, verification, recovery codes, throttling and the
//! one gate every sensitive action passes through.
//!
//! Owns: the rules of step-up — which proofs are acceptable for which
//! action, the ±1 time-step window, replay rejection (RFC 6238 §5.2), the
//! lockout after five wrong codes (5 minutes, doubling on each repeat), the
//! single use of recovery codes and the optional step-up window's logic
//! ([`StepUpWindow`], held by the vault session for the desktop) — as plain
//! state ([`MfaState`]) that the vault persists, plus the `mfa` table that
//! holds it ([`store`]); and the grants the gate issues, typed by their
//! action ([`StepUpGrant`], [`actions`]).
//!
//! Must never:
//! - decide policy per front end: the CLI and the GUI call the same gate,
//!   [`MfaState::require_step_up`] (the GUI through [`StepUpWindow`], which
//!   only adds the optional grace period), through the vault session;
//! - issue a grant for one action that another action's operation accepts:
//!   [`StepUpGrant<A>`] is typed by the action, so that does not compile;
//! - put a seed, a code or a recovery code in an error, a log line, a
//!   `Debug` string, an audit detail or a DTO: those types are redacted and
//!   have no `Serialize`;
//! - read the clock itself: time is always passed in, so the logic is
//!   testable without sleeping and the caller decides what "now" is;
//! - seal or unseal anything: the seed reaches this module already unsealed
//!   ([`TotpSeed::from_bytes`]) and leaves it for the vault to seal
//!   ([`TotpSeed::expose_secret`]).
//!
//! A local TOTP gate protects actions in a running app. It does not protect
//! the vault file at rest: whoever has the file and the master password can
//! decrypt it without Keyward. At rest, the defence is the master password
//! and Argon2id.
//!
//! # Flow
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use keyward_core::mfa::actions::RevealSecret;
//! use keyward_core::mfa::{GatedAction, MfaKey, MfaKeys, MfaState, OneTimeCode, Proof};
//!
//! let vault_key = [7u8; 32]; // the unwrapped vault key, in reality
//! let mfa_key = MfaKey::derive(&vault_key);
//! let mut state = MfaState::new();
//! let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//!
//! // Enrol: show the URI / base32 secret and the recovery codes once, seal
//! // the seed as the pending seed.
//! let enrolment = state.enrol("my vault", &mfa_key, t0)?;
//! let seed = enrolment.seed();
//!
//! // Confirm with a code from the authenticator app: MFA is now active.
//! let code: OneTimeCode = seed.code_at(t0); // typed by the user, in reality
//! state.confirm(seed, &code, t0)?;
//!
//! // Every gated action: one gate, one proof, a grant typed by the action.
//! let keys = MfaKeys { seed: Some(seed), key: &mfa_key };
//! let t1 = t0 + Duration::from_secs(30);
//! let proof = Proof::Totp(seed.code_at(t1));
//! let grant = state.require_step_up::<RevealSecret>(&keys, Some(proof), t1)?;
//! assert_eq!(grant.action(), GatedAction::RevealSecret);
//! # Ok::<(), keyward_core::mfa::MfaError>(())
//! ```

mod error;
mod key;
mod recovery;
mod seed;
mod state;
pub mod store;
mod time;
mod window;

use std::fmt;
use std::marker::PhantomData;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

pub use error::MfaError;
pub use key::MfaKey;
pub use recovery::{RECOVERY_CODE_COUNT, RecoveryCode};
pub use seed::{CODE_DIGITS, ISSUER, OneTimeCode, TotpSeed};
pub use state::{
    BASE_LOCKOUT_SECS, Enrolment, MAX_FAILURES, MAX_LOCKOUT_SECS, MfaKeys, MfaState, MfaSummary,
};
pub use window::StepUpWindow;

/// Every action that needs step-up. The list is closed on purpose: a new
/// gated action is a deliberate change here, not a string somewhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GatedAction {
    /// Show a key's secret (and passphrase).
    RevealSecret,
    /// Put a key's secret on the clipboard.
    CopySecret,
    /// Write a backup or export of the vault.
    Export,
    /// Make the new key of a rotation the current one.
    RotationPromote,
    /// Revoke a key at the exchange (or record its guided revocation).
    Revoke,
    /// Delete a key from the vault.
    DeleteKey,
    /// Turn MFA off.
    DisableMfa,
    /// Replace the TOTP seed with a new one.
    ReenrolMfa,
    /// Change the master password.
    ChangePassword,
    /// Change security settings (auto-lock, clipboard timeout, step-up
    /// window, default rotation period, OS-keyring unlock, recovery codes,
    /// alerts).
    SecuritySettings,
    /// Allow `keyward run` to inject a key into a process.
    AllowRun,
    /// Change what a stored credential is or where it is sent: endpoint
    /// (base URL, environment), key id, secret, passphrase, key type,
    /// status; or replace keys from a backup.
    EditCredentials,
    /// Mark a key as its account's manager key, or unmark it (it changes
    /// what the key may do).
    MarkManager,
    /// Use a manager key's credentials: list the account's keys, delete an
    /// unknown one.
    UseManager,
    /// Rotate one key end to end through its account's manager key
    /// (create the new sub-account key, promote it, delete the old one), or
    /// let the schedule do so unattended.
    AutoRotate,
    /// Add, change or remove a deployment target, or which keys it is
    /// given: where a key's secret is sent.
    DeployTargets,
    /// Seal keys to a deployment target and copy them there.
    Deploy,
}

impl GatedAction {
    /// Every gated action, in a fixed order.
    pub const ALL: [GatedAction; 17] = [
        GatedAction::RevealSecret,
        GatedAction::CopySecret,
        GatedAction::Export,
        GatedAction::RotationPromote,
        GatedAction::Revoke,
        GatedAction::DeleteKey,
        GatedAction::DisableMfa,
        GatedAction::ReenrolMfa,
        GatedAction::ChangePassword,
        GatedAction::SecuritySettings,
        GatedAction::AllowRun,
        GatedAction::EditCredentials,
        GatedAction::MarkManager,
        GatedAction::UseManager,
        GatedAction::AutoRotate,
        GatedAction::DeployTargets,
        GatedAction::Deploy,
    ];

    /// The wire name (as serialized, and as written to the audit log).
    pub fn as_str(self) -> &'static str {
        match self {
            GatedAction::RevealSecret => "reveal_secret",
            GatedAction::CopySecret => "copy_secret",
            GatedAction::Export => "export",
            GatedAction::RotationPromote => "rotation_promote",
            GatedAction::Revoke => "revoke",
            GatedAction::DeleteKey => "delete_key",
            GatedAction::DisableMfa => "disable_mfa",
            GatedAction::ReenrolMfa => "reenrol_mfa",
            GatedAction::ChangePassword => "change_password",
            GatedAction::SecuritySettings => "security_settings",
            GatedAction::AllowRun => "allow_run",
            GatedAction::EditCredentials => "edit_credentials",
            GatedAction::MarkManager => "mark_manager",
            GatedAction::UseManager => "use_manager",
            GatedAction::AutoRotate => "auto_rotate",
            GatedAction::DeployTargets => "deploy_targets",
            GatedAction::Deploy => "deploy",
        }
    }

    /// What the action does, in words a person reads in a message
    /// ("revealing a secret needs …"); never the wire name.
    pub fn phrase(self) -> &'static str {
        match self {
            GatedAction::RevealSecret => "revealing a secret",
            GatedAction::CopySecret => "copying a secret",
            GatedAction::Export => "exporting the vault",
            GatedAction::RotationPromote => "making a rotated key the current one",
            GatedAction::Revoke => "revoking a key",
            GatedAction::DeleteKey => "deleting a key",
            GatedAction::DisableMfa => "turning MFA off",
            GatedAction::ReenrolMfa => "replacing the MFA seed",
            GatedAction::ChangePassword => "changing the master password",
            GatedAction::SecuritySettings => "changing security settings",
            GatedAction::AllowRun => "allowing a key for `keyward run`",
            GatedAction::EditCredentials => "changing a key's credentials",
            GatedAction::MarkManager => "marking or unmarking a manager key",
            GatedAction::UseManager => "using the manager key",
            GatedAction::AutoRotate => "rotating a key through the manager key",
            GatedAction::DeployTargets => "changing where keys are deployed",
            GatedAction::Deploy => "deploying keys to a server",
        }
    }

    /// Whether a GUI step-up window may cover this action.
    ///
    /// Actions that change the protection itself (MFA, the master password,
    /// security settings — which include the window's own length) and the
    /// bulk export always need a fresh proof: a window opened for a reveal
    /// must not be enough to switch MFA off or walk away with everything.
    pub fn window_eligible(self) -> bool {
        match self {
            GatedAction::RevealSecret
            | GatedAction::CopySecret
            | GatedAction::RotationPromote
            | GatedAction::Revoke
            | GatedAction::DeleteKey
            | GatedAction::AllowRun
            | GatedAction::EditCredentials
            | GatedAction::UseManager
            | GatedAction::Deploy => true,
            GatedAction::Export
            | GatedAction::MarkManager
            | GatedAction::DisableMfa
            | GatedAction::ReenrolMfa
            | GatedAction::ChangePassword
            | GatedAction::SecuritySettings
            | GatedAction::AutoRotate
            | GatedAction::DeployTargets => false,
        }
    }
}

impl fmt::Display for GatedAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Evidence that the vault re-checked the master password just now.
///
/// Only the core can make one (the vault, after a successful password
/// check), so a front end cannot claim a password proof it did not pass.
/// Accepted by the gate only while MFA is not enrolled.
#[derive(Debug)]
pub struct PasswordVerified {
    _private: (),
}

impl PasswordVerified {
    /// To be called by the vault, and only right after the master password
    /// was verified against the vault's key-encryption key.
    pub(crate) fn attest() -> Self {
        PasswordVerified { _private: () }
    }
}

/// What the user offers to pass the step-up gate.
#[derive(Debug)]
#[non_exhaustive]
pub enum Proof {
    /// A 6-digit code from the authenticator app.
    Totp(OneTimeCode),
    /// One of the single-use recovery codes.
    RecoveryCode(RecoveryCode),
    /// The master password, re-entered and verified by the vault. Only
    /// accepted until MFA is enrolled.
    MasterPassword(PasswordVerified),
}

impl Proof {
    /// A TOTP proof from what the user typed.
    pub fn totp(code: impl Into<String>) -> Self {
        Proof::Totp(OneTimeCode::new(code))
    }

    /// A recovery-code proof from what the user typed.
    pub fn recovery_code(code: impl Into<String>) -> Self {
        Proof::RecoveryCode(RecoveryCode::new(code))
    }
}

/// How a step-up grant was obtained (safe to audit and to show).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProofMethod {
    /// A fresh TOTP code.
    Totp,
    /// A recovery code (now spent).
    RecoveryCode,
    /// The master password, because MFA is not enrolled.
    MasterPassword,
    /// A still-open GUI step-up window.
    Window,
}

impl ProofMethod {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProofMethod::Totp => "totp",
            ProofMethod::RecoveryCode => "recovery_code",
            ProofMethod::MasterPassword => "master_password",
            ProofMethod::Window => "window",
        }
    }
}

/// One marker type per gated action, for [`StepUpGrant`]'s type parameter.
///
/// The markers are uninhabited types that exist only at compile time; the
/// [`Gated`](actions::Gated) trait they implement is sealed, so the list
/// matches [`GatedAction`] one to one and cannot grow outside this module.
/// [`GatedAction`] stays the runtime and wire name (audit entries, IPC
/// errors): `<A as Gated>::ACTION`.
pub mod actions {
    use super::GatedAction;

    mod sealed {
        pub trait Sealed {}
    }

    /// A gated action, as a type. Sealed: implemented only by the markers
    /// of this module.
    pub trait Gated: sealed::Sealed + 'static {
        /// The action's runtime name.
        const ACTION: GatedAction;
    }

    /// The two actions that hand a secret out: [`RevealSecret`] (shown)
    /// and [`CopySecret`] (put on the clipboard).
    pub trait Reveal: Gated {}

    macro_rules! markers {
        ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
            $(
                $(#[$doc])*
                #[derive(Debug, Clone, Copy, PartialEq, Eq)]
                pub enum $name {}
                impl sealed::Sealed for $name {}
                impl Gated for $name {
                    const ACTION: GatedAction = GatedAction::$name;
                }
            )*
            #[cfg(test)]
            pub(super) const MARKED: &[GatedAction] = &[$(GatedAction::$name),*];
        };
    }

    markers! {
        /// [`GatedAction::RevealSecret`].
        RevealSecret,
        /// [`GatedAction::CopySecret`].
        CopySecret,
        /// [`GatedAction::Export`].
        Export,
        /// [`GatedAction::RotationPromote`].
        RotationPromote,
        /// [`GatedAction::Revoke`].
        Revoke,
        /// [`GatedAction::DeleteKey`].
        DeleteKey,
        /// [`GatedAction::DisableMfa`].
        DisableMfa,
        /// [`GatedAction::ReenrolMfa`].
        ReenrolMfa,
        /// [`GatedAction::ChangePassword`].
        ChangePassword,
        /// [`GatedAction::SecuritySettings`].
        SecuritySettings,
        /// [`GatedAction::AllowRun`].
        AllowRun,
        /// [`GatedAction::EditCredentials`].
        EditCredentials,
        /// [`GatedAction::MarkManager`].
        MarkManager,
        /// [`GatedAction::UseManager`].
        UseManager,
        /// [`GatedAction::AutoRotate`].
        AutoRotate,
        /// [`GatedAction::DeployTargets`].
        DeployTargets,
        /// [`GatedAction::Deploy`].
        Deploy,
    }

    impl Reveal for RevealSecret {}
    impl Reveal for CopySecret {}

    /// The actions that may delete a key the vault does not hold through
    /// the manager key: [`UseManager`] (any use of the manager key) and
    /// [`Revoke`] (revoking a key).
    pub trait ManagerUse: Gated {}

    impl ManagerUse for UseManager {}
    impl ManagerUse for Revoke {}
}

use actions::Gated;

/// Permission to perform one gated action `A`, issued by the gate.
///
/// It cannot be built outside the core, cloned or serialized: a function
/// that takes a `StepUpGrant<A>` by value can only run after the gate said
/// yes, only once per grant, and only for the action `A` — a grant for
/// another action is a type error, not a refusal at run time:
///
/// ```compile_fail,E0308
/// use keyward_core::mfa::StepUpGrant;
/// use keyward_core::mfa::actions::RevealSecret;
/// use keyward_core::vault::{Actor, Session};
///
/// // A grant to reveal a secret cannot delete the key.
/// fn delete(session: &mut Session, grant: StepUpGrant<RevealSecret>) {
///     let _ = session.delete_key(Actor::Cli, grant, "binance-main");
/// }
/// ```
///
/// The same function with the right grant compiles:
///
/// ```
/// use keyward_core::mfa::StepUpGrant;
/// use keyward_core::mfa::actions::DeleteKey;
/// use keyward_core::vault::{Actor, Session};
///
/// fn delete(session: &mut Session, grant: StepUpGrant<DeleteKey>) {
///     let _ = session.delete_key(Actor::Cli, grant, "binance-main");
/// }
/// ```
#[must_use = "a step-up grant authorizes an action; pass it to that action"]
pub struct StepUpGrant<A: Gated> {
    method: ProofMethod,
    issued_at: SystemTime,
    action: PhantomData<fn() -> A>,
}

impl<A: Gated> StepUpGrant<A> {
    pub(crate) fn new(method: ProofMethod, issued_at: SystemTime) -> Self {
        StepUpGrant {
            method,
            issued_at,
            action: PhantomData,
        }
    }

    /// The action this grant authorizes (its runtime name).
    pub fn action(&self) -> GatedAction {
        A::ACTION
    }

    /// How the user proved presence.
    pub fn method(&self) -> ProofMethod {
        self.method
    }

    /// When the gate issued it.
    pub fn issued_at(&self) -> SystemTime {
        self.issued_at
    }
}

impl<A: Gated> fmt::Debug for StepUpGrant<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepUpGrant")
            .field("action", &A::ACTION)
            .field("method", &self.method)
            .field("issued_at", &self.issued_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_match_serde() {
        for action in GatedAction::ALL {
            let json = serde_json::to_string(&action).unwrap();
            assert_eq!(json, format!("\"{}\"", action.as_str()));
        }
        for method in [
            ProofMethod::Totp,
            ProofMethod::RecoveryCode,
            ProofMethod::MasterPassword,
            ProofMethod::Window,
        ] {
            let json = serde_json::to_string(&method).unwrap();
            assert_eq!(json, format!("\"{}\"", method.as_str()));
        }
    }

    #[test]
    fn protection_changes_are_never_covered_by_a_window() {
        for action in [
            GatedAction::DisableMfa,
            GatedAction::ReenrolMfa,
            GatedAction::ChangePassword,
            GatedAction::SecuritySettings,
            GatedAction::Export,
            GatedAction::MarkManager,
        ] {
            assert!(!action.window_eligible(), "{action}");
        }
    }

    #[test]
    fn every_gated_action_has_its_marker() {
        assert_eq!(actions::MARKED, &GatedAction::ALL[..]);
        let grant =
            StepUpGrant::<actions::RevealSecret>::new(ProofMethod::Totp, SystemTime::UNIX_EPOCH);
        assert_eq!(grant.action(), GatedAction::RevealSecret);
        assert!(format!("{grant:?}").contains("RevealSecret"));
    }

    #[test]
    fn proof_debug_does_not_leak() {
        let p = Proof::totp("654321");
        assert!(!format!("{p:?}").contains("654321"));
        let p = Proof::recovery_code("ABCD-EFGH-IJKL-MNOP");
        assert!(!format!("{p:?}").contains("ABCD"));
    }
}
