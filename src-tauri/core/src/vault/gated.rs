//! Step-up and everything behind it: the gate, the gated operations on keys,
//! MFA enrolment, and the audit-log views.
//!
//! Owns: running [`crate::mfa`]'s gate against the vault's stored MFA record
//! (its own committed transaction, so failure counters and lockouts survive
//! a refused action and a restart), sealing the TOTP seed, and the
//! operations that need a [`StepUpGrant`]: reveal/copy, the "allow run"
//! grant, MFA disable and re-enrolment. Every gated operation takes a
//! grant typed by its action (`StepUpGrant<DeleteKey>`, …) by value, so it
//! cannot be called without passing the gate first, nor with a grant for
//! another action — compile-time rules, not conventions of the front ends.
//! The session's step-up window ([`Session::step_up_in_window`]) lives here
//! too, on the vault's clock.
//!
//! Must never: accept a proof anywhere but [`Session::step_up`] /
//! [`Session::step_up_in_window`], return a secret except from
//! [`Session::reveal`] and [`Session::run_secrets`], or put a code, a seed or
//! a recovery code in an error, a log entry or an audit detail (the audit
//! records the gated action's name and the refusal's reason only).
//!
//! The seed is sealed with AAD = vault id ‖ header record id ‖ `mfa.seed`
//! in both the pending and the active slot, so confirming an enrolment
//! moves the sealed blob without unsealing and resealing it.

use std::time::SystemTime;

use rusqlite::{Transaction, params};

use super::error::VaultError;
use super::journal::{self, AuditReport};
use super::session::{Actor, META_RECORD, Sealer, Session};
use super::settings::Markers;
use crate::audit::{self, Details, Entry, Event, store::AuditFilter};
use crate::mfa::actions::{AllowRun, DisableMfa, Gated, ReenrolMfa, Reveal, SecuritySettings};
use crate::mfa::store::MfaRecord;
use crate::mfa::{
    Enrolment, GatedAction, MfaError, MfaKeys, MfaState, MfaSummary, OneTimeCode, Proof,
    ProofMethod, RecoveryCode, StepUpGrant, StepUpWindow, TotpSeed,
};
use crate::model::{ApiSecret, Passphrase};

/// Field name (and AAD) of the sealed TOTP seed, pending or active.
pub(super) const SEED_FIELD: &str = "mfa.seed";

/// A key's secret and passphrase, from the gated reveal path only.
///
/// Neither field is `Serialize` or has a revealing `Debug`: a front end
/// builds its one reveal DTO from them on purpose.
#[derive(Debug)]
pub struct Revealed {
    /// The API secret (or private key).
    pub secret: ApiSecret,
    /// The passphrase, for exchanges that have one.
    pub passphrase: Option<Passphrase>,
}

fn open_seed(sealer: &Sealer<'_>, sealed: &[u8]) -> Result<TotpSeed, VaultError> {
    let bytes =
        sealer
            .open(&META_RECORD, SEED_FIELD, sealed)
            .map_err(|_| VaultError::HeaderCorrupt {
                what: "sealed TOTP seed",
            })?;
    Ok(TotpSeed::from_bytes(bytes.to_vec())?)
}

/// Loads the MFA record and checks it against the sealed marker: a vault
/// that says MFA is enrolled must have an enrolled record (deleting the row
/// must not switch MFA off).
fn load_record(
    tx: &Transaction<'_>,
    sealer: &Sealer<'_>,
    markers: Markers,
) -> Result<MfaRecord, VaultError> {
    let record = MfaRecord::load(tx, &sealer.mfa_key())?;
    if markers.mfa_enrolled && !record.state.is_enrolled() {
        return Err(VaultError::MfaRecordMissing);
    }
    Ok(record)
}

/// What one pass through the gate produced: how the proof passed or why
/// not, and what to audit.
struct GateOutcome {
    result: Result<ProofMethod, MfaError>,
    actions: Vec<Event>,
}

fn audit_outcome(
    action: GatedAction,
    result: &Result<ProofMethod, MfaError>,
    codes_left: usize,
) -> Vec<Event> {
    match result {
        Ok(ProofMethod::RecoveryCode) => {
            vec![
                Event::new(audit::Action::MfaRecoveryCodeUsed).with_details(
                    Details::new()
                        .with("action", action.as_str())
                        .with("codes_left", codes_left),
                ),
            ]
        }
        // The gated operation records itself, with the proof method.
        Ok(_) => Vec::new(),
        Err(MfaError::Throttled { until }) => vec![
            Event::new(audit::Action::StepUpThrottled).with_details(
                Details::new().with("action", action.as_str()).with(
                    "until",
                    until
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0),
                ),
            ),
        ],
        Err(e) => vec![step_up_failed(action.as_str(), e.reason())],
    }
}

/// The audit event of a refused step-up (or MFA confirmation, or password
/// re-check): `gated` is the gated action's wire name (or `mfa_confirm`,
/// `master_password`), `reason` as [`MfaError::reason`] (never the code).
pub(super) fn step_up_failed(gated: &'static str, reason: &'static str) -> Event {
    Event::new(audit::Action::StepUpFailed)
        .with_details(Details::new().with("action", gated).with("reason", reason))
}

impl Session {
    /// The step-up gate for the gated action `A` (the CLI: no window, every
    /// command brings its own proof): `session.step_up::<RevealSecret>(actor,
    /// proof)` returns a [`StepUpGrant<RevealSecret>`], which only the
    /// operations of that action accept.
    ///
    /// Runs in its own committed transaction whatever the outcome, so a
    /// wrong code counts towards the lockout even though the action is
    /// refused, and the counters survive reopening the vault. Refusals are
    /// audited (`step_up_failed` / `step_up_throttled`), as is a spent
    /// recovery code.
    ///
    /// Until MFA is enrolled the only accepted proof is
    /// [`Proof::MasterPassword`] from [`Session::verify_password`].
    pub fn step_up<A: Gated>(
        &mut self,
        actor: Actor,
        proof: Option<Proof>,
    ) -> Result<StepUpGrant<A>, VaultError> {
        self.gate::<A>(actor, |state, keys, now| {
            state.check_proof(keys, A::ACTION, proof, now)
        })
    }

    /// The gate with this session's step-up window (the desktop): an open
    /// window grants [window-eligible](GatedAction::window_eligible)
    /// actions without a new proof, and every proof that passes (re)opens
    /// it. Its length follows [`super::Settings::step_up_window_seconds`]
    /// (a changed setting resets it, closed); it lives in memory only and
    /// closes on lock, on a failed proof and after an MFA change; its
    /// "now" is the vault's clock.
    ///
    /// A request without a proof that the window does not cover (closed,
    /// expired, an action it never covers, step-up locked) is answered
    /// [`MfaError::StepUpRequired`] at once, without running the gate: no
    /// `step_up_failed` entry, no counter touched, the window left as it
    /// is. A front end may therefore always ask without a proof first.
    pub fn step_up_in_window<A: Gated>(
        &mut self,
        actor: Actor,
        proof: Option<Proof>,
    ) -> Result<StepUpGrant<A>, VaultError> {
        let seconds = u64::from(self.settings()?.step_up_window_seconds);
        if self.step_up_window.seconds() != seconds {
            self.step_up_window = StepUpWindow::new(seconds.min(StepUpWindow::MAX_SECONDS))?;
        }
        if proof.is_none() && !self.window_covers(A::ACTION)? {
            return Err(MfaError::StepUpRequired { action: A::ACTION }.into());
        }
        let mut window = std::mem::take(&mut self.step_up_window);
        let result = self.gate::<A>(actor, |state, keys, now| {
            window.check_proof(state, keys, A::ACTION, proof, now)
        });
        self.step_up_window = window;
        result
    }

    /// Whether this session's step-up window grants `action` now without a
    /// proof (read only: nothing is written or audited).
    pub fn window_covers(&mut self, action: GatedAction) -> Result<bool, VaultError> {
        let now = self.now();
        if !action.window_eligible() || !self.step_up_window.is_open(now) {
            return Ok(false);
        }
        let mfa_key = self.mfa_key()?;
        let record = MfaRecord::load(&self.conn, &mfa_key)?;
        Ok(self.step_up_window.covers(&record.state, action, now))
    }

    /// Closes this session's step-up window (it also closes by itself on
    /// lock, on a failed proof and after an MFA change).
    pub fn close_step_up_window(&mut self) {
        self.step_up_window.close();
    }

    fn gate<A: Gated>(
        &mut self,
        actor: Actor,
        check: impl FnOnce(&mut MfaState, &MfaKeys<'_>, SystemTime) -> Result<ProofMethod, MfaError>,
    ) -> Result<StepUpGrant<A>, VaultError> {
        let action = A::ACTION;
        let now = self.now();
        let markers = self.markers();
        let outcome = self.write_events(
            actor,
            None,
            |o: &GateOutcome| o.actions.clone(),
            |tx, sealer| {
                let mfa_key = sealer.mfa_key();
                let mut record = load_record(tx, sealer, markers)?;
                let seed = record
                    .active_sealed_seed()
                    .map(|blob| open_seed(sealer, blob))
                    .transpose()?;
                let keys = MfaKeys {
                    seed: seed.as_ref(),
                    key: &mfa_key,
                };
                let result = check(&mut record.state, &keys, now);
                record.store(tx, &mfa_key)?;
                let actions = audit_outcome(action, &result, record.state.recovery_codes_left());
                Ok(GateOutcome { result, actions })
            },
        )?;
        Ok(StepUpGrant::new(outcome.result?, now))
    }

    /// What may be shown about MFA (enrolled, pending, codes left, lockout).
    pub fn mfa_status(&mut self) -> Result<MfaSummary, VaultError> {
        self.key()?;
        let now = self.now();
        let mfa_key = self.mfa_key()?;
        let record = MfaRecord::load(&self.conn, &mfa_key)?;
        if self.markers().mfa_enrolled && !record.state.is_enrolled() {
            return Err(VaultError::MfaRecordMissing);
        }
        Ok(record.state.summary(now))
    }

    fn mfa_key(&mut self) -> Result<crate::mfa::MfaKey, VaultError> {
        Ok(crate::mfa::MfaKey::derive(self.key()?.mac_root()))
    }

    /// The name the authenticator app shows next to "Keyward": the vault
    /// file's name.
    fn account_name(&self) -> String {
        let stem = self
            .path()
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("vault")
            .replace(':', "-");
        if stem.trim().is_empty() {
            "vault".into()
        } else {
            stem
        }
    }

    /// Starts the first MFA enrolment, which stays pending until
    /// [`Session::mfa_confirm`]. Gated ([`GatedAction::SecuritySettings`],
    /// in practice the master password, since MFA is not on yet): someone
    /// at an unlocked laptop must not be able to put their own
    /// authenticator in front of the owner's keys.
    ///
    /// The returned [`Enrolment`] holds the seed, its otpauth URI and the
    /// ten recovery codes in plaintext, to be shown once.
    pub fn mfa_enrol(
        &mut self,
        actor: Actor,
        grant: StepUpGrant<SecuritySettings>,
    ) -> Result<Enrolment, VaultError> {
        self.start_enrolment(actor, grant.method(), None)
    }

    /// Starts replacing the active MFA seed and recovery codes (gated:
    /// [`GatedAction::ReenrolMfa`]). The old seed stays in force until the
    /// new one is confirmed.
    pub fn mfa_reenrol(
        &mut self,
        actor: Actor,
        grant: StepUpGrant<ReenrolMfa>,
    ) -> Result<Enrolment, VaultError> {
        self.start_enrolment(actor, grant.method(), Some(grant))
    }

    /// A first enrolment without `reenrolment`, a re-enrolment with its
    /// grant.
    fn start_enrolment(
        &mut self,
        actor: Actor,
        proof: ProofMethod,
        reenrolment: Option<StepUpGrant<ReenrolMfa>>,
    ) -> Result<Enrolment, VaultError> {
        let now = self.now();
        let markers = self.markers();
        let account = self.account_name();
        let is_reenrolment = reenrolment.is_some();
        self.write_gated(
            actor,
            proof,
            |_| {
                Event::new(audit::Action::MfaEnrolled)
                    .with_details(Details::new().with("reenrolment", is_reenrolment))
            },
            |tx, sealer| {
                let mfa_key = sealer.mfa_key();
                let mut record = load_record(tx, sealer, markers)?;
                let enrolment = match reenrolment {
                    Some(grant) => record.reenrol(grant, &account, &mfa_key, now)?,
                    None => record.enrol(&account, &mfa_key, now)?,
                };
                let sealed =
                    sealer.seal(&META_RECORD, SEED_FIELD, enrolment.seed().expose_secret())?;
                record.set_pending_sealed_seed(sealed)?;
                record.store(tx, &mfa_key)?;
                Ok(enrolment)
            },
        )
    }

    /// Confirms the pending enrolment with a code from the authenticator
    /// app: MFA is active from now on. Runs in its own committed
    /// transaction: a wrong code counts towards the lockout and is audited.
    pub fn mfa_confirm(&mut self, actor: Actor, code: &OneTimeCode) -> Result<(), VaultError> {
        let now = self.now();
        let markers = self.markers();
        let outcome: Result<(), MfaError> = self.write_events(
            actor,
            None,
            |r: &Result<(), MfaError>| match r {
                Ok(()) => vec![Event::new(audit::Action::MfaConfirmed)],
                Err(e) => vec![step_up_failed("mfa_confirm", e.reason())],
            },
            |tx, sealer| {
                let mfa_key = sealer.mfa_key();
                let mut record = load_record(tx, sealer, markers)?;
                let Some(blob) = record.pending_sealed_seed() else {
                    return Ok(Err(MfaError::NoPendingEnrolment));
                };
                let seed = open_seed(sealer, blob)?;
                let result = record.confirm(&seed, code, now);
                record.store(tx, &mfa_key)?;
                if result.is_ok() {
                    let mut enrolled = markers;
                    enrolled.mfa_enrolled = true;
                    self_markers_in(tx, sealer, enrolled)?;
                }
                Ok(result)
            },
        )?;
        outcome?;
        let mut enrolled = markers;
        enrolled.mfa_enrolled = true;
        self.set_markers(enrolled);
        self.step_up_window.close();
        Ok(())
    }

    /// Abandons a pending enrolment (not gated: the pending seed never took
    /// effect). Returns whether there was one.
    pub fn mfa_cancel_pending(&mut self, actor: Actor) -> Result<bool, VaultError> {
        let markers = self.markers();
        self.write_events(
            actor,
            None,
            |had: &bool| {
                if *had {
                    vec![Event::new(audit::Action::MfaEnrolmentCancelled)]
                } else {
                    Vec::new()
                }
            },
            |tx, sealer| {
                let mfa_key = sealer.mfa_key();
                let mut record = load_record(tx, sealer, markers)?;
                let had = record.cancel_pending();
                if had {
                    record.store(tx, &mfa_key)?;
                }
                Ok(had)
            },
        )
    }

    /// Turns MFA off (gated: [`GatedAction::DisableMfa`]). Gated actions go
    /// back to asking for the master password. Closes the step-up window.
    pub fn mfa_disable(
        &mut self,
        actor: Actor,
        grant: StepUpGrant<DisableMfa>,
    ) -> Result<(), VaultError> {
        let markers = self.markers();
        let proof = grant.method();
        self.write_gated(
            actor,
            proof,
            |_| Event::new(audit::Action::MfaDisabled),
            |tx, sealer| {
                let mfa_key = sealer.mfa_key();
                let mut record = load_record(tx, sealer, markers)?;
                record.disable(grant)?;
                record.store(tx, &mfa_key)?;
                let mut off = markers;
                off.mfa_enrolled = false;
                self_markers_in(tx, sealer, off)?;
                Ok(())
            },
        )?;
        let mut off = markers;
        off.mfa_enrolled = false;
        self.set_markers(off);
        self.step_up_window.close();
        Ok(())
    }

    /// Replaces the recovery codes with ten new ones (gated:
    /// [`GatedAction::SecuritySettings`]); the old ones stop working.
    pub fn mfa_regenerate_recovery_codes(
        &mut self,
        actor: Actor,
        grant: StepUpGrant<SecuritySettings>,
    ) -> Result<Vec<RecoveryCode>, VaultError> {
        let markers = self.markers();
        let proof = grant.method();
        self.write_gated(
            actor,
            proof,
            |_| Event::new(audit::Action::MfaRecoveryCodesRegenerated),
            |tx, sealer| {
                let mfa_key = sealer.mfa_key();
                let mut record = load_record(tx, sealer, markers)?;
                let codes = record.state.regenerate_recovery_codes(grant, &mfa_key)?;
                record.store(tx, &mfa_key)?;
                Ok(codes)
            },
        )
    }

    /// Reveals a key's secret and passphrase (gated:
    /// [`GatedAction::RevealSecret`], or [`GatedAction::CopySecret`] when the
    /// desktop puts it on the clipboard — audited as `secret_revealed` or
    /// `secret_copied`). The audit entry is committed before the secret is
    /// returned: no reveal without its record.
    pub fn reveal<A: Reveal>(
        &mut self,
        actor: Actor,
        grant: StepUpGrant<A>,
        label: &str,
    ) -> Result<Revealed, VaultError> {
        let copy = A::ACTION == GatedAction::CopySecret;
        self.key()?;
        let key_id = uuid::Uuid::from_bytes(self.find_id(label)?).to_string();
        let (secret, passphrase) = self.open_secrets(label)?;
        let label = label.to_owned();
        self.write_gated(
            actor,
            grant.method(),
            |_| {
                let action = if copy {
                    audit::Action::SecretCopied
                } else {
                    audit::Action::SecretRevealed
                };
                Event::new(action).with_key(key_id, label)
            },
            |_, _| Ok(()),
        )?;
        Ok(Revealed { secret, passphrase })
    }

    /// Allows or withdraws `keyward run` for a key (gated:
    /// [`GatedAction::AllowRun`]). Withdrawing alone needs no step-up:
    /// [`Session::deny_run`].
    pub fn set_allow_run(
        &mut self,
        actor: Actor,
        grant: StepUpGrant<AllowRun>,
        label: &str,
        allowed: bool,
    ) -> Result<(), VaultError> {
        self.store_allow_run(actor, Some(grant.method()), label, allowed)
    }

    /// Withdraws the "allow run" grant of a key (never needs step-up: it
    /// only reduces exposure).
    pub fn deny_run(&mut self, actor: Actor, label: &str) -> Result<(), VaultError> {
        self.store_allow_run(actor, None, label, false)
    }

    fn store_allow_run(
        &mut self,
        actor: Actor,
        proof: Option<ProofMethod>,
        label: &str,
        allowed: bool,
    ) -> Result<(), VaultError> {
        self.key()?;
        let id = self.find_id(label)?;
        if allowed && self.key_detail(label)?.summary.manager {
            return Err(VaultError::ManagerKeyNotForRun {
                label: label.to_owned(),
            });
        }
        let key_id = uuid::Uuid::from_bytes(id).to_string();
        let label = label.to_owned();
        self.write_events(
            actor,
            proof,
            |_| {
                vec![
                    Event::new(audit::Action::RunGrantChanged)
                        .with_key(key_id, label)
                        .with_details(Details::new().with("allowed", allowed)),
                ]
            },
            |tx, sealer| {
                super::rowmac::update(tx, sealer, &id, || {
                    tx.execute(
                        "UPDATE keys SET allow_run = ?1 WHERE id = ?2",
                        params![allowed, &id[..]],
                    )?;
                    Ok(())
                })
            },
        )
    }

    /// The secrets of a key whose "allow run" grant is set, for `keyward
    /// run` to inject into a child process. Refused with
    /// [`MfaError::StepUpRequired`] for [`GatedAction::AllowRun`] when the
    /// grant is not set, and with [`VaultError::ManagerKeyNotForRun`] for a
    /// manager key, even one whose grant was set before it was marked
    /// (its row MAC is verified first, so a manager flag cleared by hand is
    /// refused as tampering). Each use is audited (`run_allowed`).
    pub fn run_secrets(&mut self, actor: Actor, label: &str) -> Result<Revealed, VaultError> {
        let detail = self.key_detail(label)?;
        let id = self.find_id(label)?;
        self.verify_row(&id)?;
        if detail.summary.manager {
            return Err(VaultError::ManagerKeyNotForRun {
                label: label.to_owned(),
            });
        }
        if !detail.allow_run {
            return Err(MfaError::StepUpRequired {
                action: GatedAction::AllowRun,
            }
            .into());
        }
        let (secret, passphrase) = self.open_secrets(label)?;
        let key_id = detail.summary.id.clone();
        let label = label.to_owned();
        self.write(
            actor,
            |_| Event::new(audit::Action::RunAllowed).with_key(key_id, label),
            |_, _| Ok(()),
        )?;
        Ok(Revealed { secret, passphrase })
    }

    /// Audit entries matching `filter`, oldest first. Reading does not
    /// verify: see [`Session::verify_audit`].
    pub fn audit_log(&mut self, filter: &AuditFilter) -> Result<Vec<Entry>, VaultError> {
        self.key()?;
        Ok(crate::audit::store::read(&self.conn, filter)?)
    }

    /// Verifies the whole audit chain against the sealed head now, and
    /// reports what this session's unlock found as well.
    pub fn verify_audit(&mut self) -> Result<AuditReport, VaultError> {
        let markers = self.markers();
        self.key()?;
        let key = self.key.as_ref().ok_or(VaultError::Locked)?;
        let sealer = Sealer {
            key,
            vault_id: &self.header.vault_id,
            hooks: &[],
        };
        let problem = journal::check_chain(&self.conn, &sealer, markers.audit_started)?;
        Ok(AuditReport {
            entries: journal::entries(&self.conn)?,
            problem,
            found_at_unlock: self.audit_problem.clone(),
            recorded_findings: journal::recorded_findings(&self.conn)?,
            unacknowledged_findings: journal::unacknowledged_findings(&self.conn)?,
        })
    }
}

/// Rewrites the sealed settings blob with new markers, inside `tx` (the
/// settings themselves are re-read from the blob, so nothing else changes).
fn self_markers_in(
    tx: &Transaction<'_>,
    sealer: &Sealer<'_>,
    markers: Markers,
) -> Result<(), VaultError> {
    let blob: Vec<u8> = tx.query_row("SELECT settings FROM vault_meta WHERE id = 1", [], |r| {
        r.get(0)
    })?;
    let settings = sealer.open_settings(&blob)?;
    let sealed = sealer.seal_settings(&settings, markers)?;
    tx.execute(
        "UPDATE vault_meta SET settings = ?1 WHERE id = 1",
        params![sealed],
    )?;
    Ok(())
}
