//! A locked vault ([`Vault`]) and an unlocked one ([`Session`]).
//!
//! Owns: unlocking (password, throttle), the vault key's lifetime, the single
//! write path, and the key records. Must never: keep the vault key after
//! [`Session::lock`] or an idle timeout, write outside [`Session::write`], or
//! return a secret in a DTO.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::clock::{Clock, default_clock, unix_millis, unix_secs};
use super::error::VaultError;
use super::hooks::Hook;
use super::journal;
use super::kdf::{KdfParams, new_salt};
use super::policy::{Settings, UnlockThrottle};
use super::seal::{self, SealError};
use super::secret::{MasterPassword, VaultKey};
use super::state_seal::{self, StateSeal};
use super::store::{self, FORMAT_VERSION, Header, Meta};
use crate::audit::{self, Details, Event, NewEvent};
use crate::mfa::actions::{ChangePassword, EditCredentials, SecuritySettings};
use crate::mfa::{GatedAction, PasswordVerified, ProofMethod, StepUpGrant, StepUpWindow};
use crate::model::service;
use crate::model::validate::{self, ValidationError};
use crate::model::{ApiSecret, Passphrase};
use crate::model::{
    Environment, Exchange, KeyDetail, KeyEdit, KeyStatus, KeySummary, KeyType, NewKey, Scope,
    mask_key_id,
};

pub use crate::audit::Actor;

/// Injectable time and throttle policy, and which front end is asking.
#[derive(Debug, Clone)]
pub struct VaultOptions {
    /// Source of "now".
    pub clock: Arc<dyn Clock>,
    /// Failed-unlock slowdown (also applies to password re-checks for
    /// step-up).
    pub throttle: UnlockThrottle,
    /// The front end, recorded in the audit log for events that have no
    /// per-call actor: create, unlock, failed unlock, lock.
    pub actor: Actor,
    /// The features' listeners for kernel events (see [`Hook`]): every
    /// session of this vault hands each write's events to them.
    pub hooks: Vec<Hook>,
}

impl Default for VaultOptions {
    fn default() -> Self {
        VaultOptions {
            clock: default_clock(),
            throttle: UnlockThrottle::default(),
            actor: Actor::Cli,
            hooks: Vec::new(),
        }
    }
}

impl VaultOptions {
    /// The default options for one front end (the desktop passes
    /// [`Actor::Gui`]).
    pub fn for_actor(actor: Actor) -> Self {
        VaultOptions {
            actor,
            ..VaultOptions::default()
        }
    }

    /// These options with `hook` listening to every session's writes.
    pub fn with_hook(mut self, hook: Hook) -> Self {
        self.hooks.push(hook);
        self
    }

    /// The default options with another source of "now" (tests pass a
    /// `ManualClock`).
    pub fn with_clock(clock: impl Clock + 'static) -> Self {
        VaultOptions {
            clock: Arc::new(clock),
            ..VaultOptions::default()
        }
    }
}

/// What is known about a vault without unlocking it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VaultInfo {
    /// File path.
    pub path: PathBuf,
    /// Envelope format version.
    pub format_version: i64,
    /// Vault id (hex).
    pub vault_id: String,
    /// Argon2id parameters.
    pub kdf: KdfParams,
    /// Whether OS-keyring unlock is set up.
    pub device_unlock: bool,
    /// Consecutive failed unlocks.
    pub failed_unlocks: u32,
}

/// Integrity of one damaged record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DamagedRecord {
    /// Record id, or `vault_meta`.
    pub id: String,
    /// Label.
    pub label: String,
    /// Fields that failed to open.
    pub fields: Vec<&'static str>,
}

/// Result of opening every sealed field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntegrityReport {
    /// Records examined.
    pub records_checked: usize,
    /// Sealed fields opened successfully.
    pub fields_ok: usize,
    /// Records with at least one damaged field.
    pub damaged: Vec<DamagedRecord>,
}

impl IntegrityReport {
    /// Whether nothing was damaged.
    pub fn is_ok(&self) -> bool {
        self.damaged.is_empty()
    }

    /// The report as an error if anything was damaged.
    pub fn into_result(self) -> Result<IntegrityReport, VaultError> {
        if self.is_ok() {
            Ok(self)
        } else {
            Err(VaultError::IntegrityFailed {
                damaged: self.damaged.iter().map(|d| d.label.clone()).collect(),
            })
        }
    }
}

/// A vault file, checked but still locked.
#[derive(Debug)]
pub struct Vault {
    path: PathBuf,
    conn: Connection,
    meta: Meta,
    options: VaultOptions,
}

/// The all-zero record id used for fields of the vault header itself.
pub(crate) const META_RECORD: [u8; 16] = [0; 16];

fn settings_aad(vault_id: &[u8; 16]) -> Vec<u8> {
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

impl Vault {
    /// Creates a vault at `path` (which must not exist) and returns it
    /// unlocked; `actor` is recorded as its creator. Parameters below
    /// [`KdfParams::MINIMUM`] are refused, and so is a master password below
    /// the strength minimum ([`VaultError::WeakPassword`]).
    pub fn create(
        path: &Path,
        password: &MasterPassword,
        kdf: KdfParams,
        actor: Actor,
    ) -> Result<Session, VaultError> {
        Self::create_with(path, password, kdf, VaultOptions::for_actor(actor))
    }

    /// [`Vault::create`] with an injected clock and throttle; the creator is
    /// `options.actor`.
    pub fn create_with(
        path: &Path,
        password: &MasterPassword,
        kdf: KdfParams,
        options: VaultOptions,
    ) -> Result<Session, VaultError> {
        kdf.check()?;
        crate::password::require_strong(password.expose(), &[])?;
        let mut vault_id = [0u8; 16];
        getrandom::fill(&mut vault_id).map_err(|_| VaultError::Random)?;
        let header = Header {
            format_version: FORMAT_VERSION,
            vault_id,
            kdf,
            salt: new_salt()?,
        };
        let key = VaultKey::generate().map_err(|_| VaultError::Random)?;
        let kek = kdf.derive(password.expose().as_bytes(), &header.salt)?;
        let wrap = seal::seal(kek.bytes(), &header.password_wrap_aad(), key.bytes())
            .map_err(seal_internal)?;
        let settings = Settings::default();
        // The chain starts with this vault: a missing head is never legitimate.
        let markers = Markers {
            audit_started: true,
            mfa_enrolled: false,
            rows_authenticated: true,
        };
        let settings_blob = seal_settings(&key, &vault_id, &settings, markers)?;
        let mut conn = store::create(path)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO vault_meta (id, format_version, vault_id, kdf_memory_kib, kdf_iterations,
                kdf_parallelism, kdf_salt, password_wrap, header_check, settings)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                header.format_version,
                &header.vault_id[..],
                kdf.memory_kib,
                kdf.iterations,
                kdf.parallelism,
                &header.salt[..],
                &wrap,
                header.check(&wrap),
                &settings_blob,
            ],
        )?;
        journal::after_write(
            &tx,
            &Sealer {
                key: &key,
                vault_id: &vault_id,
                hooks: &[],
            },
            NewEvent::new(
                options.actor,
                audit::Action::VaultCreated,
                options.clock.now(),
            ),
            None,
        )?;
        state_seal::reseal(
            &tx,
            &Sealer {
                key: &key,
                vault_id: &vault_id,
                hooks: &[],
            },
            None,
        )?;
        tx.commit()?;
        let now = options.clock.now();
        Ok(Session {
            path: path.to_path_buf(),
            conn,
            key: Some(key),
            header,
            settings,
            markers,
            clock: options.clock,
            throttle: options.throttle,
            actor: options.actor,
            last_activity: now,
            audit_problem: None,
            step_up_window: StepUpWindow::default(),
            hooks: options.hooks,
        })
    }

    /// Opens the vault at `path`: checks the magic, application id, versions,
    /// header damage check and KDF caps. Decrypts nothing. Events are
    /// recorded as coming from the CLI; front ends other than the CLI use
    /// [`Vault::open_with`] with [`VaultOptions::for_actor`].
    pub fn open(path: &Path) -> Result<Vault, VaultError> {
        Self::open_with(path, VaultOptions::default())
    }

    /// [`Vault::open`] with an injected clock, throttle and actor.
    pub fn open_with(path: &Path, options: VaultOptions) -> Result<Vault, VaultError> {
        let conn = store::open(path)?;
        let meta = store::read_meta(&conn, path)?;
        Ok(Vault {
            path: path.to_path_buf(),
            conn,
            meta,
            options,
        })
    }

    /// Metadata readable while locked.
    pub fn info(&self) -> VaultInfo {
        VaultInfo {
            path: self.path.clone(),
            format_version: self.meta.header.format_version,
            vault_id: hex::encode(self.meta.header.vault_id),
            kdf: self.meta.header.kdf,
            device_unlock: self.meta.device_wrap.is_some(),
            failed_unlocks: self.meta.failed_unlocks,
        }
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Seconds until another unlock attempt is accepted (0 = now).
    pub fn unlock_wait(&self) -> Result<Duration, VaultError> {
        let meta = store::read_meta(&self.conn, &self.path)?;
        Ok(wait_for(
            &self.options.throttle,
            &*self.options.clock,
            &meta,
        ))
    }

    /// Unlocks with the master password.
    ///
    /// After [`UnlockThrottle::free_attempts`] consecutive failures each
    /// attempt must wait; the counter is stored in the vault file, so it
    /// survives restarts. A throttled attempt is refused before the KDF runs.
    /// A wrong password is recorded for the audit log (chained at the next
    /// successful unlock).
    ///
    /// On success the audit chain is verified; a broken chain does not stop
    /// the unlock but is recorded and exposed by [`Session::audit_problem`].
    pub fn unlock(&self, password: &MasterPassword) -> Result<Session, VaultError> {
        let meta = store::read_meta(&self.conn, &self.path)?;
        match check_password(
            &self.conn,
            &meta,
            password,
            &self.options.throttle,
            &*self.options.clock,
        ) {
            Ok(key) => self.session(key, &meta, "password"),
            Err(VaultError::WrongPassword) => {
                self.record_failed_unlock("password")?;
                Err(VaultError::WrongPassword)
            }
            Err(e) => Err(e),
        }
    }

    /// Leaves an `unlock_failed` event for the next unlock to chain.
    pub(crate) fn record_failed_unlock(&self, method: &'static str) -> Result<(), VaultError> {
        crate::audit::store::record_failed_unlock(
            &self.conn,
            self.options.actor,
            method,
            self.options.clock.now(),
        )?;
        Ok(())
    }

    pub(crate) fn reread_meta(&self) -> Result<Meta, VaultError> {
        store::read_meta(&self.conn, &self.path)
    }

    /// Builds a session around an unwrapped vault key and runs the unlock's
    /// audit transaction (see [`journal::on_unlock`]).
    pub(crate) fn session(
        &self,
        key: VaultKey,
        meta: &Meta,
        method: &'static str,
    ) -> Result<Session, VaultError> {
        let (settings, markers) = open_settings(&key, &meta.header.vault_id, &meta.settings)?;
        let conn = store::open(&self.path)?;
        let key = with_stored_mac_root(&conn, key, &meta.header.vault_id)?;
        let now = self.options.clock.now();
        let mut session = Session {
            path: self.path.clone(),
            conn,
            key: Some(key),
            header: meta.header.clone(),
            settings,
            markers,
            clock: self.options.clock.clone(),
            throttle: self.options.throttle,
            actor: self.options.actor,
            last_activity: now,
            audit_problem: None,
            step_up_window: StepUpWindow::default(),
            hooks: self.options.hooks.clone(),
        };
        session.start(method)?;
        Ok(session)
    }
}

/// How long the throttle makes the next password attempt wait.
fn wait_for(throttle: &UnlockThrottle, clock: &dyn Clock, meta: &Meta) -> Duration {
    let delay = throttle.delay_after(meta.failed_unlocks);
    if delay.is_zero() {
        return Duration::ZERO;
    }
    let now = unix_millis(clock.now());
    let until = meta
        .last_failed_ms
        .saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
    Duration::from_millis(u64::try_from(until.saturating_sub(now)).unwrap_or(0))
}

/// Checks a master password against the header under the unlock throttle
/// and returns the vault key. Counts failures in the file (they survive
/// restarts); resets the count on success.
fn check_password(
    conn: &Connection,
    meta: &Meta,
    password: &MasterPassword,
    throttle: &UnlockThrottle,
    clock: &dyn Clock,
) -> Result<VaultKey, VaultError> {
    let wait = wait_for(throttle, clock, meta);
    if !wait.is_zero() {
        return Err(VaultError::Throttled {
            retry_after_secs: wait.as_secs().max(1),
        });
    }
    let kek = meta
        .header
        .kdf
        .derive(password.expose().as_bytes(), &meta.header.salt)?;
    match seal::open(
        kek.bytes(),
        &meta.header.password_wrap_aad(),
        &meta.password_wrap,
    ) {
        Ok(bytes) => {
            let key = VaultKey::from_slice(&bytes).ok_or(VaultError::HeaderCorrupt {
                what: "vault key wrap",
            })?;
            if meta.failed_unlocks > 0 {
                conn.execute(
                    "UPDATE vault_meta SET failed_unlocks = 0, last_failed_ms = 0 WHERE id = 1",
                    [],
                )?;
            }
            Ok(key)
        }
        Err(SealError::BadTag) => {
            // The header check passed, so the wrap is intact: the password
            // (or a deliberately forged header) is wrong.
            conn.execute(
                "UPDATE vault_meta SET failed_unlocks = failed_unlocks + 1, last_failed_ms = ?1
                 WHERE id = 1",
                params![unix_millis(clock.now())],
            )?;
            Err(VaultError::WrongPassword)
        }
        Err(_) => Err(VaultError::HeaderCorrupt {
            what: "vault key wrap",
        }),
    }
}

/// Attaches the MAC root stored beside a rotated vault key. A root that
/// does not open is a damaged header; a missing one means the key was never
/// rotated (were it removed, every MAC would fail to verify).
fn with_stored_mac_root(
    conn: &Connection,
    key: VaultKey,
    vault_id: &[u8; 16],
) -> Result<VaultKey, VaultError> {
    let sealed: Option<Vec<u8>> = conn
        .query_row("SELECT mac_root FROM vault_meta WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?
        .flatten();
    let Some(sealed) = sealed else {
        return Ok(key);
    };
    let damaged = || VaultError::HeaderCorrupt {
        what: "sealed MAC root",
    };
    let root = seal::open(
        key.bytes(),
        &seal::aad(vault_id, &META_RECORD, super::rekey::MAC_ROOT_FIELD),
        &sealed,
    )
    .map_err(|_| damaged())?;
    key.with_mac_root(&root).ok_or_else(damaged)
}

fn seal_internal(_: SealError) -> VaultError {
    VaultError::Random
}

fn seal_settings(
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

fn open_settings(
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

/// An unlocked vault. Holds the vault key until [`Session::lock`], drop, or
/// the idle timeout of [`Settings::auto_lock_minutes`].
///
/// Every method counts as activity. Once the session has been idle longer
/// than the timeout, the next call zeroizes the key and returns
/// [`VaultError::Locked`]; the desktop also polls [`Session::is_idle_expired`]
/// to lock without waiting for a call.
#[derive(Debug)]
pub struct Session {
    pub(super) path: PathBuf,
    pub(super) conn: Connection,
    pub(super) key: Option<VaultKey>,
    pub(super) header: Header,
    pub(super) settings: Settings,
    pub(super) markers: Markers,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) throttle: UnlockThrottle,
    pub(super) actor: Actor,
    pub(super) last_activity: SystemTime,
    pub(super) audit_problem: Option<journal::AuditProblem>,
    /// The step-up window of [`Session::step_up_in_window`] (memory only;
    /// closed on lock).
    pub(super) step_up_window: StepUpWindow,
    /// The hooks of [`VaultOptions::hooks`].
    pub(super) hooks: Vec<Hook>,
}

/// The sealing context handed to write closures.
pub(crate) struct Sealer<'a> {
    pub(super) key: &'a VaultKey,
    pub(super) vault_id: &'a [u8; 16],
    /// Who hears what a write raises (`vault::raise`); none outside writes.
    pub(super) hooks: &'a [Hook],
}

impl Sealer<'_> {
    pub(crate) fn seal(
        &self,
        record: &[u8; 16],
        field: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, VaultError> {
        seal::seal(
            self.key.bytes(),
            &seal::aad(self.vault_id, record, field),
            plaintext,
        )
        .map_err(seal_internal)
    }

    /// Opens a blob sealed by [`Sealer::seal`] with the same record and
    /// field.
    pub(crate) fn open(
        &self,
        record: &[u8; 16],
        field: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, SealError> {
        seal::open(
            self.key.bytes(),
            &seal::aad(self.vault_id, record, field),
            sealed,
        )
    }

    /// The audit chain's MAC key.
    pub(crate) fn audit_key(&self) -> crate::audit::AuditKey {
        crate::audit::AuditKey::derive(self.key.mac_root())
    }

    /// The key-row MAC key (see `vault::rowmac`).
    pub(crate) fn row_key(&self) -> super::rowmac::RowKey {
        super::rowmac::RowKey::derive(self.key.bytes())
    }

    /// The MFA state's MAC and recovery-hash key.
    pub(crate) fn mfa_key(&self) -> crate::mfa::MfaKey {
        crate::mfa::MfaKey::derive(self.key.mac_root())
    }

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

const KEY_COLUMNS: &str =
    "id, label, exchange, environment, base_url, api_key_id, key_type, scopes,
    ip_whitelist, status, created_at, last_rotated_at, rotate_every_days, last_audit_at,
    last_audit_result";
/// The condition [`Session::search_keys`] selects with: `?1` (a LIKE
/// pattern of `query`) against label, exchange, key id, notes and linked
/// services. Services match by name and host only, never by the JSON's own
/// words or a service's notes. The plain LIKE over the stored text is a
/// cheap superset that spares most rows the JSON walk; it is skipped when
/// the query holds characters JSON escapes.
fn search_filter(query: &str) -> String {
    let prefilter = if query.contains(['"', '\\']) || query.chars().any(char::is_control) {
        ""
    } else {
        "linked_services LIKE ?1 ESCAPE '\\' AND "
    };
    format!(
        "label LIKE ?1 ESCAPE '\\' OR exchange LIKE ?1 ESCAPE '\\'
           OR api_key_id LIKE ?1 ESCAPE '\\' OR notes LIKE ?1 ESCAPE '\\'
           OR ({prefilter}EXISTS (SELECT 1 FROM json_each(
                  CASE WHEN json_valid(linked_services) THEN linked_services ELSE '[]' END) AS s
                WHERE (CASE s.type WHEN 'text' THEN s.value
                       ELSE json_extract(s.value, '$.name') END) LIKE ?1 ESCAPE '\\'
                   OR (s.type = 'object'
                       AND json_extract(s.value, '$.host') LIKE ?1 ESCAPE '\\')))"
    )
}

/// A LIKE pattern matching `query` anywhere, with `%`, `_` and `\` escaped.
fn like_pattern(query: &str) -> String {
    let mut pattern = String::with_capacity(query.len() + 2);
    pattern.push('%');
    for c in query.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

const DETAIL_COLUMNS: &str = "passphrase IS NOT NULL, linked_services, notes, last_audit_at,
    last_audit_result, last_audit_permissions, allow_run, host_confirmed";

struct Row {
    id: [u8; 16],
    label: String,
    exchange: String,
    environment: String,
    base_url: Option<String>,
    api_key_id: String,
    key_type: String,
    scopes: String,
    ip_whitelist: String,
    status: String,
    created_at: i64,
    last_rotated_at: Option<i64>,
    rotate_every_days: Option<i64>,
    last_audit_at: Option<i64>,
    last_audit_result: Option<String>,
}

impl Row {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
        let id: Vec<u8> = r.get(0)?;
        Ok(Row {
            id: id.try_into().unwrap_or([0xFF; 16]),
            label: r.get(1)?,
            exchange: r.get(2)?,
            environment: r.get(3)?,
            base_url: r.get(4)?,
            api_key_id: r.get(5)?,
            key_type: r.get(6)?,
            scopes: r.get(7)?,
            ip_whitelist: r.get(8)?,
            status: r.get(9)?,
            created_at: r.get(10)?,
            last_rotated_at: r.get(11)?,
            rotate_every_days: r.get(12)?,
            last_audit_at: r.get(13)?,
            last_audit_result: r.get(14)?,
        })
    }

    fn malformed(&self, field: &'static str) -> VaultError {
        VaultError::Malformed {
            record: self.label.clone(),
            field,
        }
    }

    fn summary(&self, default_days: u32) -> Result<KeySummary, VaultError> {
        let environment = match (self.environment.as_str(), &self.base_url) {
            ("mainnet", _) => Environment::Mainnet,
            ("testnet", _) => Environment::Testnet,
            ("custom", Some(url)) => Environment::Custom(url.clone()),
            _ => return Err(self.malformed("environment")),
        };
        let scopes = split_list(&self.scopes)
            .map(|s| s.parse::<Scope>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| self.malformed("scopes"))?;
        let own_days = self
            .rotate_every_days
            .map(u32::try_from)
            .transpose()
            .map_err(|_| self.malformed("rotate_every_days"))?;
        let days = own_days.unwrap_or(default_days);
        let since = self.last_rotated_at.unwrap_or(self.created_at);
        Ok(KeySummary {
            id: uuid::Uuid::from_bytes(self.id).to_string(),
            label: self.label.clone(),
            exchange: self
                .exchange
                .parse::<Exchange>()
                .map_err(|_| self.malformed("exchange"))?,
            environment,
            api_key_id_masked: mask_key_id(&self.api_key_id),
            key_type: self
                .key_type
                .parse::<KeyType>()
                .map_err(|_| self.malformed("key_type"))?,
            scopes,
            ip_restricted: !self.ip_whitelist.is_empty(),
            status: self
                .status
                .parse::<KeyStatus>()
                .map_err(|_| self.malformed("status"))?,
            created_at: self.created_at,
            last_rotated_at: self.last_rotated_at,
            rotate_every_days: days,
            rotation_due_at: since.saturating_add(i64::from(days) * 86_400),
            last_audit_at: self.last_audit_at,
            last_audit_result: self.last_audit_result.clone(),
        })
    }
}

fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').filter(|p| !p.is_empty())
}

fn join_scopes(scopes: &[Scope]) -> String {
    let mut names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names.join(",")
}

fn normalize_ips(ips: &[String]) -> Result<String, ValidationError> {
    let mut out = Vec::with_capacity(ips.len());
    for ip in ips {
        let n = validate::ip_entry(ip)?;
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out.join(","))
}

fn services_json(services: &[service::LinkedService]) -> Result<String, ValidationError> {
    service::to_json(&service::validate_list(services)?)
}

fn label_taken(
    tx: &Connection,
    label: &str,
    except: Option<&[u8; 16]>,
) -> Result<bool, VaultError> {
    let found: Option<Vec<u8>> = tx
        .query_row(
            "SELECT id FROM keys WHERE label = ?1",
            params![label],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match (found, except) {
        (Some(id), Some(except)) => id.as_slice() != except,
        (Some(_), None) => true,
        (None, _) => false,
    })
}

/// Stores a validated key inside `tx`. Shared by add and backup import.
pub(crate) fn insert_key(
    tx: &Transaction<'_>,
    sealer: &Sealer<'_>,
    id: [u8; 16],
    key: &NewKey,
    created_at: i64,
    last_rotated_at: Option<i64>,
    status: KeyStatus,
) -> Result<(), VaultError> {
    validate_new(key)?;
    if label_taken(tx, &key.label, None)? {
        return Err(ValidationError::DuplicateLabel {
            label: key.label.clone(),
        }
        .into());
    }
    let secret = sealer.seal(&id, "secret", key.secret.expose().as_bytes())?;
    let passphrase = match &key.passphrase {
        Some(p) if !p.is_empty() => Some(sealer.seal(&id, "passphrase", p.expose().as_bytes())?),
        _ => None,
    };
    let base_url = match &key.environment {
        Environment::Custom(url) => Some(url.as_str()),
        _ => None,
    };
    tx.execute(
        "INSERT INTO keys (id, label, exchange, environment, base_url, api_key_id, secret,
            passphrase, key_type, scopes, ip_whitelist, linked_services, notes, created_at,
            last_rotated_at, rotate_every_days, status, host_confirmed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
        params![
            &id[..],
            key.label,
            key.exchange.as_str(),
            key.environment.kind_str(),
            base_url,
            key.api_key_id,
            secret,
            passphrase,
            key.key_type.as_str(),
            join_scopes(&key.scopes),
            normalize_ips(&key.ip_whitelist)?,
            services_json(&key.linked_services)?,
            key.notes,
            created_at,
            last_rotated_at,
            key.rotate_every_days,
            status.as_str(),
            // A custom host is confirmed only by a gated edit, never at add.
            false,
        ],
    )?;
    super::rowmac::seal(tx, sealer, &id)
}

fn validate_new(key: &NewKey) -> Result<(), ValidationError> {
    validate::label(&key.label)?;
    validate::api_key_id(key.exchange, &key.api_key_id)?;
    validate::secret(key.secret.expose())?;
    validate::passphrase(key.exchange, key.passphrase.as_ref().map(|p| p.expose()))?;
    validate::environment(&key.environment)?;
    validate::free_text("notes", &key.notes, true)?;
    if let Some(days) = key.rotate_every_days {
        validate::rotation_days(days)?;
    }
    normalize_ips(&key.ip_whitelist)?;
    services_json(&key.linked_services)?;
    Ok(())
}

impl Session {
    pub(super) fn key(&mut self) -> Result<&VaultKey, VaultError> {
        let now = self.clock.now();
        if self.idle_expired_at(now) {
            self.lock_in_place("idle");
            return Err(VaultError::Locked);
        }
        self.last_activity = now;
        self.key.as_ref().ok_or(VaultError::Locked)
    }

    fn idle_expired_at(&self, now: SystemTime) -> bool {
        now.duration_since(self.last_activity)
            .is_ok_and(|idle| idle >= self.settings.idle_timeout())
    }

    /// Whether the idle timeout has passed (the desktop polls this and then
    /// calls [`Session::lock`]). Does not count as activity.
    pub fn is_idle_expired(&self) -> bool {
        self.key.is_none() || self.idle_expired_at(self.clock.now())
    }

    /// When the session will lock if nothing happens before.
    pub fn idle_deadline(&self) -> SystemTime {
        self.last_activity + self.settings.idle_timeout()
    }

    /// Records user activity (e.g. UI interaction without a vault call).
    pub fn touch(&mut self) -> Result<(), VaultError> {
        self.key().map(|_| ())
    }

    /// Whether the vault key is still held.
    pub fn is_unlocked(&self) -> bool {
        self.key.is_some()
    }

    /// Appends the lock to the audit log (best effort: locking must never
    /// fail) and drops the vault key.
    fn lock_in_place(&mut self, reason: &'static str) {
        if let Some(key) = self.key.as_ref() {
            let sealer = Sealer {
                key,
                vault_id: &self.header.vault_id,
                hooks: &[],
            };
            let event = crate::audit::NewEvent::new(
                self.actor,
                crate::audit::Action::Lock,
                self.clock.now(),
            )
            .with_details(crate::audit::Details::new().with("reason", reason));
            let _ = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(VaultError::from)
                .and_then(|tx| {
                    // A vault whose rows no longer match the seal gets no
                    // lock entry: resealing would hide the rollback.
                    let prev = state_seal::before_write(&tx, &sealer)?;
                    journal::append(&tx, &sealer, event)?;
                    state_seal::reseal(&tx, &sealer, Some(&prev))?;
                    tx.commit()?;
                    Ok(())
                });
        }
        // Dropping the VaultKey zeroizes its buffer (secrecy's SecretBox).
        self.key = None;
        self.step_up_window.close();
    }

    /// Locks: records the lock in the audit log, then drops and zeroizes the
    /// vault key.
    pub fn lock(mut self) {
        self.lock_in_place("lock");
    }

    /// The vault file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The vault id (hex).
    pub fn vault_id(&self) -> String {
        hex::encode(self.header.vault_id)
    }

    /// The KDF parameters in force.
    pub fn kdf_params(&self) -> KdfParams {
        self.header.kdf
    }

    /// The front end this session records as the actor of its own events.
    pub fn actor(&self) -> Actor {
        self.actor
    }

    /// A broken audit chain found when this session was unlocked (the GUI
    /// shows a banner; `keyward log --verify` exits 5).
    pub fn audit_problem(&self) -> Option<&journal::AuditProblem> {
        self.audit_problem.as_ref()
    }

    pub(crate) fn now_secs(&self) -> i64 {
        unix_secs(self.clock.now())
    }

    pub(super) fn now(&self) -> SystemTime {
        self.clock.now()
    }

    pub(super) fn markers(&self) -> Markers {
        self.markers
    }

    /// The unlock's audit transaction: verify the chain, record a finding,
    /// chain events recorded while locked, append the unlock, seal the
    /// head, and start the chain of a vault from before the audit log.
    fn start(&mut self, method: &'static str) -> Result<(), VaultError> {
        let at = self.clock.now();
        let actor = self.actor;
        let markers = self.markers;
        let settings = self.settings;
        let Session {
            conn, key, header, ..
        } = self;
        let key = key.as_ref().ok_or(VaultError::Locked)?;
        let sealer = Sealer {
            key,
            vault_id: &header.vault_id,
            hooks: &[],
        };
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Rolled-back MFA or settings rows stop the unlock here, before
        // anything is written.
        let check = state_seal::at_unlock(&tx, &sealer)?;
        let problem = journal::on_unlock(
            &tx,
            &sealer,
            actor,
            method,
            at,
            markers.audit_started,
            &check.findings,
        )?;
        if check.prev.is_none() {
            journal::append(
                &tx,
                &sealer,
                crate::audit::NewEvent::new(Actor::System, crate::audit::Action::StateSealed, at),
            )?;
        }
        let mut markers = markers;
        if !markers.rows_authenticated {
            // A vault from before row MACs: authenticate its rows as they
            // are now, once; from here on a missing MAC is tampering.
            super::rowmac::seal_all(&tx, &sealer)?;
        }
        if !markers.audit_started || !markers.rows_authenticated {
            markers.audit_started = true;
            markers.rows_authenticated = true;
            let blob = sealer.seal_settings(&settings, markers)?;
            tx.execute(
                "UPDATE vault_meta SET settings = ?1 WHERE id = 1",
                params![blob],
            )?;
        }
        state_seal::reseal(&tx, &sealer, check.prev.as_ref())?;
        tx.commit()?;
        self.markers = markers;
        self.audit_problem = problem;
        Ok(())
    }

    /// The one write path: runs `f` inside a single immediate transaction,
    /// records `event` through [`journal::after_write`] in that same
    /// transaction, and commits. Nothing else in the vault writes records.
    pub(crate) fn write<T>(
        &mut self,
        actor: Actor,
        event: impl FnOnce(&T) -> Event,
        f: impl FnOnce(&Transaction<'_>, &Sealer<'_>) -> Result<T, VaultError>,
    ) -> Result<T, VaultError> {
        self.write_events(actor, None, |out| vec![event(out)], f)
    }

    /// [`Session::write`] for a gated action: the audit entry also says how
    /// step-up was passed.
    pub(crate) fn write_gated<T>(
        &mut self,
        actor: Actor,
        proof: ProofMethod,
        event: impl FnOnce(&T) -> Event,
        f: impl FnOnce(&Transaction<'_>, &Sealer<'_>) -> Result<T, VaultError>,
    ) -> Result<T, VaultError> {
        self.write_events(actor, Some(proof), |out| vec![event(out)], f)
    }

    /// The general form: `f`'s result decides which events (possibly none,
    /// e.g. an accepted step-up whose action audits itself) are recorded,
    /// each stamped with `actor` and the write's time. If `f` fails,
    /// nothing is written.
    pub(crate) fn write_events<T>(
        &mut self,
        actor: Actor,
        proof: Option<ProofMethod>,
        events: impl FnOnce(&T) -> Vec<Event>,
        f: impl FnOnce(&Transaction<'_>, &Sealer<'_>) -> Result<T, VaultError>,
    ) -> Result<T, VaultError> {
        self.key()?;
        let at = self.clock.now();
        let Session {
            conn,
            key,
            header,
            hooks,
            ..
        } = self;
        let key = key.as_ref().ok_or(VaultError::Locked)?;
        let sealer = Sealer {
            key,
            vault_id: &header.vault_id,
            hooks: &hooks[..],
        };
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Rows put back to an older copy since the last write are refused,
        // not sealed over (see `state_seal`).
        let prev = state_seal::before_write(&tx, &sealer)?;
        let out = f(&tx, &sealer)?;
        for event in events(&out) {
            journal::after_write(&tx, &sealer, event.stamped(actor, at), proof)?;
        }
        state_seal::reseal(&tx, &sealer, Some(&prev))?;
        tx.commit()?;
        Ok(out)
    }

    /// Adds a key after validating every field.
    pub fn add_key(&mut self, actor: Actor, key: NewKey) -> Result<KeySummary, VaultError> {
        // A secret that cannot be the declared key type is refused here, not
        // at its first check (backups restore what was stored as it was).
        validate::secret_for(key.exchange, key.key_type, key.secret.expose())?;
        let id = *uuid::Uuid::new_v4().as_bytes();
        let now = self.now_secs();
        let label = key.label.clone();
        let exchange = key.exchange;
        self.write(
            actor,
            |_| {
                Event::new(audit::Action::KeyAdded)
                    .with_key(uuid::Uuid::from_bytes(id).to_string(), label.clone())
                    .with_details(Details::new().with("exchange", exchange.as_str()))
            },
            |tx, sealer| insert_key(tx, sealer, id, &key, now, None, KeyStatus::Active),
        )?;
        self.key_summary_by_id(&id)
    }

    fn key_summary_by_id(&mut self, id: &[u8; 16]) -> Result<KeySummary, VaultError> {
        let days = self.settings.default_rotation_days;
        let row = self.conn.query_row(
            &format!("SELECT {KEY_COLUMNS} FROM keys WHERE id = ?1"),
            params![&id[..]],
            Row::read,
        )?;
        row.summary(days)
    }

    /// Every key, sorted by label. Metadata only.
    pub fn list_keys(&mut self) -> Result<Vec<KeySummary>, VaultError> {
        self.key()?;
        self.query_summaries("", &[])
    }

    /// Keys whose label, exchange, API key id, linked services or notes
    /// contain `query` (case-insensitive for ASCII).
    pub fn search_keys(&mut self, query: &str) -> Result<Vec<KeySummary>, VaultError> {
        self.key()?;
        let pattern = like_pattern(query);
        self.query_summaries(&format!("WHERE {}", search_filter(query)), &[&pattern])
    }

    /// The record ids of the keys [`Session::search_keys`] finds, in the
    /// same order: a front end that already holds the summaries filters
    /// them by id instead of receiving them all again.
    pub fn search_key_ids(&mut self, query: &str) -> Result<Vec<String>, VaultError> {
        self.key()?;
        let pattern = like_pattern(query);
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT id FROM keys WHERE {} ORDER BY label COLLATE NOCASE, label",
            search_filter(query)
        ))?;
        let ids = stmt.query_map(params![pattern], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = Vec::new();
        for id in ids {
            let id: [u8; 16] = id?.try_into().map_err(|_| VaultError::Malformed {
                record: "key".to_owned(),
                field: "id",
            })?;
            out.push(uuid::Uuid::from_bytes(id).to_string());
        }
        Ok(out)
    }

    fn query_summaries(
        &self,
        filter: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<KeySummary>, VaultError> {
        let days = self.settings.default_rotation_days;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {KEY_COLUMNS} FROM keys {filter} ORDER BY label COLLATE NOCASE, label"
        ))?;
        let rows = stmt.query_map(args, Row::read)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row?.summary(days)?);
        }
        Ok(out)
    }

    pub(crate) fn find_id(&self, label: &str) -> Result<[u8; 16], VaultError> {
        let id: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT id FROM keys WHERE label = ?1",
                params![label],
                |r| r.get(0),
            )
            .optional()?;
        let id = id.ok_or_else(|| VaultError::KeyNotFound {
            label: label.to_owned(),
        })?;
        id.try_into().map_err(|_| VaultError::Malformed {
            record: label.to_owned(),
            field: "id",
        })
    }

    /// One key's metadata (never its secret or passphrase).
    pub fn key_detail(&mut self, label: &str) -> Result<KeyDetail, VaultError> {
        self.key()?;
        let days = self.settings.default_rotation_days;
        let found = self
            .conn
            .query_row(
                &format!("SELECT {KEY_COLUMNS}, {DETAIL_COLUMNS} FROM keys WHERE label = ?1"),
                params![label],
                |r| {
                    Ok((
                        Row::read(r)?,
                        r.get::<_, bool>(15)?,
                        r.get::<_, String>(16)?,
                        r.get::<_, String>(17)?,
                        r.get::<_, Option<i64>>(18)?,
                        r.get::<_, Option<String>>(19)?,
                        r.get::<_, Option<String>>(20)?,
                        r.get::<_, bool>(21)?,
                        r.get::<_, bool>(22)?,
                    ))
                },
            )
            .optional()?;
        let Some((
            row,
            has_passphrase,
            services,
            notes,
            audit_at,
            audit_result,
            audit_perms,
            allow_run,
            host_confirmed,
        )) = found
        else {
            return Err(VaultError::KeyNotFound {
                label: label.to_owned(),
            });
        };
        let summary = row.summary(days)?;
        let stored = audit_perms
            .map(|p| {
                super::key_access::StoredCheck::from_column(&p)
                    .ok_or_else(|| row.malformed("last_audit_permissions"))
            })
            .transpose()?;
        let full_id = self.conn.query_row(
            "SELECT api_key_id FROM keys WHERE id = ?1",
            params![&row.id[..]],
            |r| r.get::<_, String>(0),
        )?;
        Ok(KeyDetail {
            api_key_id: full_id,
            has_passphrase,
            ip_whitelist: split_list(&row.ip_whitelist).map(str::to_owned).collect(),
            linked_services: service::from_json(&services)
                .ok_or_else(|| row.malformed("linked_services"))?,
            notes,
            rotate_every_days_override: row.rotate_every_days.and_then(|d| u32::try_from(d).ok()),
            last_audit_at: audit_at,
            last_audit_result: audit_result,
            last_audit_permissions: stored.as_ref().map(|c| c.granted.clone()),
            last_audit_ip_restricted: stored.as_ref().and_then(|c| {
                c.ip_restricted
                    .or(c.ip_whitelist.as_ref().map(|ips| !ips.is_empty()))
            }),
            last_audit_ip_whitelist: stored.and_then(|c| c.ip_whitelist),
            allow_run,
            custom_host: crate::model::custom_host(summary.exchange, &summary.environment),
            host_confirmed,
            summary,
        })
    }

    /// Opens the secret and passphrase of `label`. Crate-internal: front
    /// ends reach secrets only through the MFA-gated reveal path.
    pub(crate) fn open_secrets(
        &mut self,
        label: &str,
    ) -> Result<(ApiSecret, Option<Passphrase>), VaultError> {
        let id = self.find_id(label)?;
        self.verify_row(&id)?;
        let (secret, passphrase): (Vec<u8>, Option<Vec<u8>>) = self.conn.query_row(
            "SELECT secret, passphrase FROM keys WHERE id = ?1",
            params![&id[..]],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let secret = self.open_field(label, &id, "secret", &secret)?;
        let passphrase = passphrase
            .map(|p| self.open_field(label, &id, "passphrase", &p))
            .transpose()?;
        Ok((
            ApiSecret::new(into_string(secret, label, "secret")?),
            passphrase
                .map(|p| into_string(p, label, "passphrase"))
                .transpose()?
                .map(Passphrase::new),
        ))
    }

    /// Opens the blob sealed under record `id` and `field`; a blob that
    /// does not open is [`VaultError::Corrupt`] naming `label`.
    pub(crate) fn open_field(
        &mut self,
        label: &str,
        id: &[u8; 16],
        field: &'static str,
        blob: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let vault_id = self.header.vault_id;
        let key = self.key()?;
        seal::open(key.bytes(), &seal::aad(&vault_id, id, field), blob).map_err(|_| {
            VaultError::Corrupt {
                record: label.to_owned(),
                field,
            }
        })
    }

    /// Edits a key. Only fields set in `edit` change; a new secret or
    /// passphrase is sealed afresh.
    ///
    /// Fields that decide where the secret is sent or what the credential
    /// is ([`KeyEdit::credential_fields`]: endpoint, key id, secret,
    /// passphrase, key type, status) need a grant for
    /// [`GatedAction::EditCredentials`]; without one the edit is refused
    /// before anything is read or written. A custom endpoint set under a
    /// grant counts as a confirmed host. Labels, scopes, IP whitelist,
    /// services, notes and the rotation period need no grant. A row that
    /// fails its integrity check is refused either way.
    pub fn edit_key(
        &mut self,
        actor: Actor,
        label: &str,
        edit: KeyEdit,
        grant: Option<StepUpGrant<EditCredentials>>,
    ) -> Result<KeyDetail, VaultError> {
        let gated = edit.credential_fields();
        let proof = match (&grant, gated.is_empty()) {
            (Some(g), _) => Some(g.method()),
            (None, true) => None,
            (None, false) => {
                return Err(crate::mfa::MfaError::StepUpRequired {
                    action: GatedAction::EditCredentials,
                }
                .into());
            }
        };
        self.key()?;
        let id = self.find_id(label)?;
        let current = self.key_detail(label)?;
        let exchange = current.summary.exchange;
        let mut fields: Vec<&'static str> = Vec::new();
        let mut sets: Vec<(&'static str, Box<dyn rusqlite::ToSql>)> = Vec::new();
        if let Some(new_label) = &edit.label {
            validate::label(new_label)?;
            fields.push("label");
            sets.push(("label", Box::new(new_label.clone())));
        }
        if let Some(env) = &edit.environment {
            validate::environment(env)?;
            fields.push("environment");
            sets.push(("environment", Box::new(env.kind_str())));
            let url = match env {
                Environment::Custom(u) => Some(u.clone()),
                _ => None,
            };
            sets.push(("base_url", Box::new(url)));
            sets.push(("host_confirmed", Box::new(proof.is_some())));
        }
        if let Some(kid) = &edit.api_key_id {
            validate::api_key_id(exchange, kid)?;
            fields.push("api_key_id");
            sets.push(("api_key_id", Box::new(kid.clone())));
        }
        if let Some(secret) = &edit.secret {
            validate::secret(secret.expose())?;
            fields.push("secret");
        }
        if let Some(p) = &edit.passphrase {
            validate::passphrase(exchange, Some(p.expose()))?;
            fields.push("passphrase");
        }
        if let Some(kt) = edit.key_type {
            fields.push("key_type");
            sets.push(("key_type", Box::new(kt.as_str())));
        }
        if let Some(scopes) = &edit.scopes {
            fields.push("scopes");
            sets.push(("scopes", Box::new(join_scopes(scopes))));
        }
        if let Some(ips) = &edit.ip_whitelist {
            fields.push("ip_whitelist");
            sets.push(("ip_whitelist", Box::new(normalize_ips(ips)?)));
        }
        if let Some(names) = &edit.linked_services {
            let kept = service::keep_by_name(&current.linked_services, names);
            fields.push("linked_services");
            sets.push(("linked_services", Box::new(services_json(&kept)?)));
        }
        if let Some(notes) = &edit.notes {
            validate::free_text("notes", notes, true)?;
            fields.push("notes");
            sets.push(("notes", Box::new(notes.clone())));
        }
        if let Some(days) = edit.rotate_every_days {
            if let Some(d) = days {
                validate::rotation_days(d)?;
            }
            fields.push("rotate_every_days");
            sets.push(("rotate_every_days", Box::new(days)));
        }
        if let Some(status) = edit.status {
            fields.push("status");
            sets.push(("status", Box::new(status.as_str())));
        }
        let new_label = edit.label.clone().unwrap_or_else(|| label.to_owned());
        let key_id = current.summary.id.clone();
        let fields_for_action = fields.clone();
        self.write_events(
            actor,
            proof,
            |_| {
                vec![
                    Event::new(audit::Action::KeyEdited)
                        .with_key(key_id, new_label.clone())
                        .with_details(Details::new().with("fields", json!(fields_for_action))),
                ]
            },
            |tx, sealer| {
                if let Some(l) = &edit.label
                    && label_taken(tx, l, Some(&id))?
                {
                    return Err(ValidationError::DuplicateLabel { label: l.clone() }.into());
                }
                if let Some(secret) = &edit.secret {
                    let blob = sealer.seal(&id, "secret", secret.expose().as_bytes())?;
                    sets.push(("secret", Box::new(blob)));
                }
                if let Some(p) = &edit.passphrase {
                    let blob = if p.is_empty() {
                        None
                    } else {
                        Some(sealer.seal(&id, "passphrase", p.expose().as_bytes())?)
                    };
                    sets.push(("passphrase", Box::new(blob)));
                }
                if sets.is_empty() {
                    return Ok(());
                }
                let assignments: Vec<String> = sets
                    .iter()
                    .enumerate()
                    .map(|(i, (col, _))| format!("{col} = ?{}", i + 2))
                    .collect();
                let sql = format!("UPDATE keys SET {} WHERE id = ?1", assignments.join(", "));
                let id_vec = id.to_vec();
                let mut args: Vec<&dyn rusqlite::ToSql> = vec![&id_vec];
                for (_, v) in &sets {
                    args.push(v.as_ref());
                }
                super::rowmac::update(tx, sealer, &id, || {
                    tx.execute(&sql, args.as_slice())?;
                    Ok(())
                })
            },
        )?;
        let label = edit.label.as_deref().unwrap_or(label);
        self.key_detail(label)
    }

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

    pub(super) fn set_markers(&mut self, markers: Markers) {
        self.markers = markers;
    }

    /// Re-checks the master password, under the same throttle (and the
    /// same failure counter in the file) as unlocking.
    ///
    /// The returned proof is what gated actions accept until MFA is
    /// enrolled ([`crate::mfa::Proof::MasterPassword`]); once it is, the
    /// gate refuses it. A wrong password is audited as a failed step-up.
    pub fn verify_password(
        &mut self,
        password: &MasterPassword,
    ) -> Result<PasswordVerified, VaultError> {
        self.recheck_password(password)?;
        Ok(PasswordVerified::attest())
    }

    fn recheck_password(&mut self, password: &MasterPassword) -> Result<(), VaultError> {
        self.key()?;
        let meta = store::read_meta(&self.conn, &self.path)?;
        match check_password(&self.conn, &meta, password, &self.throttle, &*self.clock) {
            Ok(_) => Ok(()),
            Err(VaultError::WrongPassword) => {
                let actor = self.actor;
                self.write(
                    actor,
                    |_| super::gated::step_up_failed("master_password", "wrong_password"),
                    |_, _| Ok(()),
                )?;
                Err(VaultError::WrongPassword)
            }
            Err(e) => Err(e),
        }
    }

    fn rewrap(
        &mut self,
        actor: Actor,
        event: Event,
        password: &MasterPassword,
        kdf: KdfParams,
    ) -> Result<(), VaultError> {
        kdf.check()?;
        let header = Header {
            salt: new_salt()?,
            kdf,
            ..self.header.clone()
        };
        let kek = kdf.derive(password.expose().as_bytes(), &header.salt)?;
        let h = header.clone();
        self.write(
            actor,
            |_| event,
            |tx, sealer| {
                let wrap = seal::seal(kek.bytes(), &h.password_wrap_aad(), sealer.key.bytes())
                    .map_err(seal_internal)?;
                tx.execute(
                    "UPDATE vault_meta SET kdf_memory_kib = ?1, kdf_iterations = ?2,
                        kdf_parallelism = ?3, kdf_salt = ?4, password_wrap = ?5, header_check = ?6
                     WHERE id = 1",
                    params![
                        kdf.memory_kib,
                        kdf.iterations,
                        kdf.parallelism,
                        &h.salt[..],
                        &wrap,
                        h.check(&wrap)
                    ],
                )?;
                Ok(())
            },
        )?;
        self.header = header;
        Ok(())
    }

    /// Changes the master password (gated: [`GatedAction::ChangePassword`]);
    /// the current one is re-checked under the unlock throttle.
    ///
    /// The vault key changes with it (see `vault::rekey`): every sealed
    /// field is sealed again under a fresh key in one transaction, so an old
    /// copy of the header and the old password open nothing added after
    /// this. OS-keyring unlock, which wrapped the old key, is turned off.
    /// A new password below the strength minimum is refused
    /// ([`VaultError::WeakPassword`]) before anything is written.
    pub fn change_password(
        &mut self,
        actor: Actor,
        grant: StepUpGrant<ChangePassword>,
        current: &MasterPassword,
        new: &MasterPassword,
    ) -> Result<(), VaultError> {
        self.key()?;
        self.recheck_password(current)?;
        crate::password::require_strong(new.expose(), &[])?;
        self.rekey(actor, grant.method(), new)
    }

    /// Raises the Argon2id parameters and re-wraps the vault key. Lowering
    /// any parameter is refused ([`VaultError::KdfDowngrade`]).
    pub fn raise_kdf_params(
        &mut self,
        actor: Actor,
        password: &MasterPassword,
        kdf: KdfParams,
    ) -> Result<(), VaultError> {
        self.key()?;
        if !kdf.at_least(&self.header.kdf) {
            return Err(VaultError::KdfDowngrade);
        }
        self.recheck_password(password)?;
        self.rewrap(
            actor,
            Event::new(audit::Action::SettingsChanged)
                .with_details(Details::new().with("changed", json!({ "kdf": "raised" }))),
            password,
            kdf,
        )
    }

    /// Opens every sealed field and reports which records are damaged.
    pub fn check_integrity(&mut self) -> Result<IntegrityReport, VaultError> {
        self.key()?;
        let vault_id = self.header.vault_id;
        let key = self.key.as_ref().ok_or(VaultError::Locked)?;
        let mut report = IntegrityReport {
            records_checked: 0,
            fields_ok: 0,
            damaged: Vec::new(),
        };
        let settings: Vec<u8> =
            self.conn
                .query_row("SELECT settings FROM vault_meta WHERE id = 1", [], |r| {
                    r.get(0)
                })?;
        report.records_checked += 1;
        match seal::open(key.bytes(), &settings_aad(&vault_id), &settings) {
            Ok(_) => report.fields_ok += 1,
            Err(_) => report.damaged.push(DamagedRecord {
                id: "vault_meta".into(),
                label: "vault settings".into(),
                fields: vec!["settings"],
            }),
        }
        let mut stmt = self
            .conn
            .prepare("SELECT id, label, secret, passphrase FROM keys ORDER BY label")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let id: Vec<u8> = r.get(0)?;
            let label: String = r.get(1)?;
            let secret: Vec<u8> = r.get(2)?;
            let passphrase: Option<Vec<u8>> = r.get(3)?;
            report.records_checked += 1;
            let Ok(id16) = <[u8; 16]>::try_from(id.as_slice()) else {
                report.damaged.push(DamagedRecord {
                    id: hex::encode(&id),
                    label,
                    fields: vec!["id"],
                });
                continue;
            };
            let mut bad = Vec::new();
            let mut fields = vec![("secret", Some(secret))];
            fields.push(("passphrase", passphrase));
            for (field, blob) in fields {
                let Some(blob) = blob else { continue };
                match seal::open(key.bytes(), &seal::aad(&vault_id, &id16, field), &blob) {
                    Ok(_) => report.fields_ok += 1,
                    Err(_) => bad.push(field),
                }
            }
            if !bad.is_empty() {
                report.damaged.push(DamagedRecord {
                    id: uuid::Uuid::from_bytes(id16).to_string(),
                    label,
                    fields: bad,
                });
            }
        }
        drop(rows);
        drop(stmt);
        let sealer = Sealer {
            key,
            vault_id: &vault_id,
            hooks: &[],
        };
        for (id, label) in super::rowmac::damaged(&self.conn, &sealer)? {
            match report.damaged.iter_mut().find(|d| d.id == id) {
                Some(d) => d.fields.push("row"),
                None => report.damaged.push(DamagedRecord {
                    id,
                    label,
                    fields: vec!["row"],
                }),
            }
        }
        Ok(report)
    }

    /// Checks the integrity of the key row `id` (see `vault::rowmac`).
    pub(crate) fn verify_row(&mut self, id: &[u8; 16]) -> Result<(), VaultError> {
        self.key()?;
        let key = self.key.as_ref().ok_or(VaultError::Locked)?;
        let sealer = Sealer {
            key,
            vault_id: &self.header.vault_id,
            hooks: &[],
        };
        super::rowmac::verify(&self.conn, &sealer, id)
    }

    pub(crate) fn vault_key(&mut self) -> Result<&VaultKey, VaultError> {
        self.key()
    }

    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Labels of every key (internal: backup).
    pub(crate) fn labels(&mut self) -> Result<Vec<String>, VaultError> {
        self.key()?;
        let mut stmt = self.conn.prepare("SELECT label FROM keys ORDER BY label")?;
        let labels = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(labels)
    }
}

fn into_string(
    bytes: Zeroizing<Vec<u8>>,
    label: &str,
    field: &'static str,
) -> Result<String, VaultError> {
    // Move the bytes out without leaving an unzeroized copy behind.
    let mut bytes = bytes;
    let owned = std::mem::take(&mut *bytes);
    String::from_utf8(owned).map_err(|e| {
        let mut raw = e.into_bytes();
        zeroize::Zeroize::zeroize(&mut raw);
        VaultError::Malformed {
            record: label.to_owned(),
            field,
        }
    })
}
