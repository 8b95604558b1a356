//! A locked vault ([`Vault`]) and how it becomes a [`Session`]: creating a
//! vault, opening and checking the file, unlocking with the master password
//! under the throttle, and re-checking the password for step-up.
//!
//! Owns: the failed-unlock counter in the file (it survives restarts), the
//! unlock's audit transaction (chain verification, state seal check). Must
//! never: run the KDF for a throttled attempt, or decrypt anything before
//! the header checks pass.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use super::clock::{Clock, default_clock, unix_millis};
use super::error::VaultError;
use super::hooks::Hook;
use super::journal;
use super::kdf::{KdfParams, new_salt};
use super::policy::{Settings, UnlockThrottle};
use super::seal::{self, SealError};
use super::secret::{MasterPassword, VaultKey};
use super::session::{Actor, META_RECORD, Session};
use super::settings::{Markers, open_settings, seal_settings};
use super::state_seal;
use super::store::{self, FORMAT_VERSION, Header, Meta};
use super::write::{Sealer, seal_internal};
use crate::audit::{self, NewEvent};
use crate::mfa::{PasswordVerified, StepUpWindow};

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

/// A vault file, checked but still locked.
#[derive(Debug)]
pub struct Vault {
    path: PathBuf,
    conn: Connection,
    meta: Meta,
    options: VaultOptions,
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

impl Session {
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

    pub(super) fn recheck_password(&mut self, password: &MasterPassword) -> Result<(), VaultError> {
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
}
