//! The optional step-up window (its logic; the vault session holds the one
//! in use).

use std::time::SystemTime;

use super::actions::Gated;
use super::time::unix_secs;
use super::{GatedAction, MfaError, MfaKeys, MfaState, Proof, ProofMethod, StepUpGrant};

/// A grace period after a successful step-up during which the desktop
/// session may perform further window-eligible actions without a new code.
///
/// Held by the vault session (`Session::step_up_in_window`), in memory
/// only, never persisted. Only the desktop asks through it; the CLI never
/// does: every gated command there needs its own proof. The length is a
/// security setting, `0..=300` seconds, default 0 (every action needs a
/// code).
///
/// The window never covers actions that change the protection itself (see
/// [`GatedAction::window_eligible`]), is ignored while step-up is locked,
/// and closes on any failed proof. The session also [`close`]s it when the
/// vault locks and after any MFA change (disable, re-enrolment).
///
/// [`close`]: StepUpWindow::close
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepUpWindow {
    seconds: u64,
    open_until: Option<u64>,
}

impl StepUpWindow {
    /// The longest window a user may choose.
    pub const MAX_SECONDS: u64 = 300;
    /// The default: no window.
    pub const DEFAULT_SECONDS: u64 = 0;

    /// A closed window of `seconds` (0..=300).
    pub fn new(seconds: u64) -> Result<Self, MfaError> {
        if seconds > Self::MAX_SECONDS {
            return Err(MfaError::InvalidWindow { seconds });
        }
        Ok(StepUpWindow {
            seconds,
            open_until: None,
        })
    }

    /// The configured length in seconds.
    pub fn seconds(&self) -> u64 {
        self.seconds
    }

    /// Whether a grant from the window is possible at `now`.
    pub fn is_open(&self, now: SystemTime) -> bool {
        self.open_until.is_some_and(|until| unix_secs(now) < until)
    }

    /// Closes the window (on lock, on MFA changes, on demand).
    pub fn close(&mut self) {
        self.open_until = None;
    }

    /// Whether the window grants `action` at `now` without a proof: it is
    /// open, the action is [window-eligible](GatedAction::window_eligible)
    /// and step-up is not locked.
    pub fn covers(&self, state: &MfaState, action: GatedAction, now: SystemTime) -> bool {
        action.window_eligible() && self.is_open(now) && !state.is_throttled(now)
    }

    /// The gate, with the window: the window grants eligible actions while
    /// open; everything else goes to [`MfaState::require_step_up`], and a
    /// success there (re)opens the window.
    pub fn require_step_up<A: Gated>(
        &mut self,
        state: &mut MfaState,
        keys: &MfaKeys<'_>,
        proof: Option<Proof>,
        now: SystemTime,
    ) -> Result<StepUpGrant<A>, MfaError> {
        self.check_proof(state, keys, A::ACTION, proof, now)
            .map(|method| StepUpGrant::new(method, now))
    }

    /// [`StepUpWindow::require_step_up`] with the action known at run time.
    pub(crate) fn check_proof(
        &mut self,
        state: &mut MfaState,
        keys: &MfaKeys<'_>,
        action: GatedAction,
        proof: Option<Proof>,
        now: SystemTime,
    ) -> Result<ProofMethod, MfaError> {
        if self.covers(state, action, now) {
            // An offered code is left unused rather than burnt.
            return Ok(ProofMethod::Window);
        }
        match state.check_proof(keys, action, proof, now) {
            Ok(method) => {
                if self.seconds > 0 {
                    self.open_until = Some(unix_secs(now).saturating_add(self.seconds));
                }
                Ok(method)
            }
            Err(err) => {
                self.close();
                Err(err)
            }
        }
    }
}

impl Default for StepUpWindow {
    fn default() -> Self {
        StepUpWindow {
            seconds: Self::DEFAULT_SECONDS,
            open_until: None,
        }
    }
}
