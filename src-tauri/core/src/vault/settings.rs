//! The sealed settings blob and the one settings rule.
//!
//! Owns: `vault_meta.settings`, sealed under the vault key with the
//! protection markers and the state seal beside the [`Settings`] values;
//! [`Session::settings_change`] / [`Session::apply_settings`], the rule
//! every front end follows (any change needs a
//! [`GatedAction::SecuritySettings`] grant). The values, their ranges and
//! the unlock throttle are `policy`. Must never: write a settings change
//! without its grant, or drop the markers or the state seal when the blob
//! is rewritten.

use rusqlite::{Connection, params};
use serde::Serialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::error::VaultError;
use super::policy::Settings;
use super::seal;
use super::secret::VaultKey;
use super::session::{Actor, META_RECORD, Session};
use super::state_seal::StateSeal;
use super::write::{Sealer, seal_internal};
use crate::audit::{self, Details, Event};
use crate::mfa::actions::SecuritySettings;
use crate::mfa::{GatedAction, ProofMethod, StepUpGrant};

pub(super) fn settings_aad(vault_id: &[u8; 16]) -> Vec<u8> {
    seal::aad(vault_id, &META_RECORD, "meta.settings")
}

/// Protection facts sealed together with the settings, so that removing
/// the thing they vouch for cannot pass for "never had it": the sealed
/// settings blob is required to unlock and cannot be edited without the
/// vault key. The blob put back to an older copy of itself no longer
/// matches the state seal it carries (see `state_seal`); the whole file put
/// back is not caught — a local file gives no defence against that.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Markers {
    /// The audit chain was started: a missing sealed head is tampering.
    pub audit_started: bool,
    /// MFA is enrolled: a missing or non-enrolled MFA record is tampering.
    pub mfa_enrolled: bool,
    /// Every key row carries a MAC (`vault::rowmac`): a missing one is
    /// tampering, never "a vault from before row MACs".
    pub rows_authenticated: bool,
}

/// What `vault_meta.settings` holds, sealed.
#[derive(Serialize, serde::Deserialize)]
pub(super) struct SealedSettings {
    #[serde(flatten)]
    settings: Settings,
    #[serde(default)]
    audit_started: bool,
    #[serde(default)]
    mfa_enrolled: bool,
    #[serde(default)]
    rows_authenticated: bool,
    /// Rollback detection (see `state_seal`); absent in vaults from before
    /// it until their first unlock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<StateSeal>,
}

pub(super) fn seal_settings(
    key: &VaultKey,
    vault_id: &[u8; 16],
    settings: &Settings,
    markers: Markers,
) -> Result<Vec<u8>, VaultError> {
    // The state seal is added by `state_seal::reseal` before the
    // transaction that writes this blob commits.
    seal_sealed(
        key,
        vault_id,
        &SealedSettings {
            settings: *settings,
            audit_started: markers.audit_started,
            mfa_enrolled: markers.mfa_enrolled,
            rows_authenticated: markers.rows_authenticated,
            state: None,
        },
    )
}

pub(super) fn seal_sealed(
    key: &VaultKey,
    vault_id: &[u8; 16],
    sealed: &SealedSettings,
) -> Result<Vec<u8>, VaultError> {
    let json = Zeroizing::new(
        serde_json::to_vec(sealed).map_err(|_| VaultError::Malformed {
            record: "vault_meta".into(),
            field: "settings",
        })?,
    );
    seal::seal(key.bytes(), &settings_aad(vault_id), &json).map_err(seal_internal)
}

pub(super) fn open_sealed(
    key: &VaultKey,
    vault_id: &[u8; 16],
    blob: &[u8],
) -> Result<SealedSettings, VaultError> {
    let json = seal::open(key.bytes(), &settings_aad(vault_id), blob).map_err(|_| {
        VaultError::HeaderCorrupt {
            what: "sealed settings",
        }
    })?;
    serde_json::from_slice(&json).map_err(|_| VaultError::HeaderCorrupt {
        what: "sealed settings",
    })
}

pub(super) fn open_settings(
    key: &VaultKey,
    vault_id: &[u8; 16],
    blob: &[u8],
) -> Result<(Settings, Markers), VaultError> {
    let sealed = open_sealed(key, vault_id, blob)?;
    Ok((
        sealed.settings,
        Markers {
            audit_started: sealed.audit_started,
            mfa_enrolled: sealed.mfa_enrolled,
            rows_authenticated: sealed.rows_authenticated,
        },
    ))
}

impl Sealer<'_> {
    /// Opens the sealed settings blob (markers dropped).
    pub(crate) fn open_settings(&self, blob: &[u8]) -> Result<Settings, VaultError> {
        open_settings(self.key, self.vault_id, blob).map(|(s, _)| s)
    }

    /// Seals the settings together with the protection markers.
    pub(crate) fn seal_settings(
        &self,
        settings: &Settings,
        markers: Markers,
    ) -> Result<Vec<u8>, VaultError> {
        seal_settings(self.key, self.vault_id, settings, markers)
    }

    fn stored_settings(&self, conn: &Connection) -> Result<SealedSettings, VaultError> {
        let blob: Vec<u8> =
            conn.query_row("SELECT settings FROM vault_meta WHERE id = 1", [], |r| {
                r.get(0)
            })?;
        open_sealed(self.key, self.vault_id, &blob)
    }

    /// The state seal in the stored settings blob (`None`: a vault from
    /// before it).
    pub(crate) fn read_state(&self, conn: &Connection) -> Result<Option<StateSeal>, VaultError> {
        Ok(self.stored_settings(conn)?.state)
    }

    /// Replaces the state seal in the stored settings blob; settings and
    /// markers stay as stored (a write may have changed them earlier in
    /// the same transaction).
    pub(crate) fn write_state(
        &self,
        conn: &Connection,
        state: &StateSeal,
    ) -> Result<(), VaultError> {
        let mut sealed = self.stored_settings(conn)?;
        sealed.state = Some(state.clone());
        let blob = seal_sealed(self.key, self.vault_id, &sealed)?;
        conn.execute(
            "UPDATE vault_meta SET settings = ?1 WHERE id = 1",
            params![blob],
        )?;
        Ok(())
    }
}

/// A settings change checked against the settings in force
/// ([`Session::settings_change`]); applied by [`Session::apply_settings`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsChange {
    new: Settings,
    changed: Vec<&'static str>,
}

impl SettingsChange {
    fn between(before: &Settings, new: Settings) -> SettingsChange {
        let old = before.values();
        let changed = new
            .values()
            .into_iter()
            .filter(|v| !old.contains(v))
            .map(|(name, _)| name)
            .collect();
        SettingsChange { new, changed }
    }

    /// The settings after the change.
    pub fn settings(&self) -> &Settings {
        &self.new
    }

    /// The names of the settings that change (wire names, as audited).
    pub fn changed(&self) -> &[&'static str] {
        &self.changed
    }

    /// Whether applying it needs a [`GatedAction::SecuritySettings`] grant:
    /// whenever anything changes (see [`Session::apply_settings`]).
    pub fn needs_step_up(&self) -> bool {
        !self.changed.is_empty()
    }
}

impl Session {
    /// The vault's settings.
    pub fn settings(&mut self) -> Result<Settings, VaultError> {
        self.key()?;
        Ok(self.settings)
    }

    /// Replaces the settings after checking their ranges. Gated
    /// ([`GatedAction::SecuritySettings`]): see [`Session::apply_settings`]
    /// for the rule, which this follows.
    pub fn set_settings(
        &mut self,
        actor: Actor,
        grant: StepUpGrant<SecuritySettings>,
        settings: Settings,
    ) -> Result<(), VaultError> {
        let change = self.settings_change(settings)?;
        self.apply_settings(actor, change, Some(grant)).map(|_| ())
    }

    /// Checks `new` (every range, before any step-up, so a refused value
    /// spends no code) and compares it with the settings in force: what a
    /// front end then passes to [`Session::apply_settings`], asking for a
    /// [`GatedAction::SecuritySettings`] step-up first when
    /// [`SettingsChange::needs_step_up`] says so.
    pub fn settings_change(&mut self, new: Settings) -> Result<SettingsChange, VaultError> {
        self.key()?;
        new.validate()?;
        Ok(SettingsChange::between(&self.settings, new))
    }

    /// Applies a settings change; returns the settings now in force.
    ///
    /// The one rule for every front end: **any change of a setting needs a
    /// [`GatedAction::SecuritySettings`] grant** — auto-lock, clipboard
    /// clearing and the step-up window decide how exposed the vault is, and
    /// the default rotation period decides when rotation reminders and
    /// overdue alerts fire, so raising it silences them (the same reason
    /// alert settings are gated). A change that changes nothing needs no
    /// grant and writes nothing. Without a needed grant the change is
    /// refused with [`crate::mfa::MfaError::StepUpRequired`] before
    /// anything is written.
    pub fn apply_settings(
        &mut self,
        actor: Actor,
        change: SettingsChange,
        grant: Option<StepUpGrant<SecuritySettings>>,
    ) -> Result<Settings, VaultError> {
        self.key()?;
        // Compared again with what is in force now: a change planned
        // earlier cannot carry a stale "nothing to do".
        let change = SettingsChange::between(&self.settings, change.new);
        if !change.needs_step_up() {
            return Ok(self.settings);
        }
        let Some(grant) = grant else {
            return Err(crate::mfa::MfaError::StepUpRequired {
                action: GatedAction::SecuritySettings,
            }
            .into());
        };
        self.store_settings(actor, Some(grant.method()), change.new)?;
        Ok(self.settings)
    }

    fn store_settings(
        &mut self,
        actor: Actor,
        proof: Option<ProofMethod>,
        settings: Settings,
    ) -> Result<(), VaultError> {
        settings.validate()?;
        let before = self.settings.values();
        let changed: Vec<(&'static str, u32)> = settings
            .values()
            .into_iter()
            .filter(|v| !before.contains(v))
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        let markers = self.markers;
        self.write_events(
            actor,
            proof,
            |_| {
                let mut map = serde_json::Map::new();
                for (name, value) in changed {
                    map.insert(name.to_owned(), json!(value));
                }
                vec![
                    Event::new(audit::Action::SettingsChanged)
                        .with_details(Details::new().with("changed", map)),
                ]
            },
            |tx, sealer| {
                let blob = sealer.seal_settings(&settings, markers)?;
                tx.execute(
                    "UPDATE vault_meta SET settings = ?1 WHERE id = 1",
                    params![blob],
                )?;
                Ok(())
            },
        )?;
        self.settings = settings;
        Ok(())
    }
}
