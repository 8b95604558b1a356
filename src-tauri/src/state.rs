//! State shared by the command adapters: the vault path and, while unlocked,
//! the core's [`Session`]. The desktop keeps no copy of any secret; the
//! session (and its vault key) lives in the core type and is dropped on lock.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use keyward_core::exchange::{ExchangeClient, HttpConfig};

use keyward_core::ErrorKind;
use keyward_core::vault::{Session, VaultError};

use crate::error::{IpcError, IpcResult};

/// Name of the event sent to the webview when the session locks by itself
/// (idle timeout) so it can drop every piece of key metadata it shows.
pub const SESSION_LOCKED_EVENT: &str = "session-locked";

/// Process-wide state of the desktop app.
pub struct AppState {
    /// The vault file this window works on (None if no data dir exists on
    /// this platform, which the UI reports).
    pub vault_path: Option<PathBuf>,
    /// The unlocked session, if any.
    pub session: Arc<Mutex<Option<Session>>>,
    /// The clipboard guard for copied secrets.
    pub clipboard: crate::clipboard::SecretClipboard,
    /// The one exchange client of the process (its rate limiters and clock
    /// offsets only work if every call goes through it), made on first use.
    exchange: std::sync::OnceLock<ExchangeClient>,
    /// The one webhook sender (it keeps the receiver's rate-limit state
    /// between messages), made on first use.
    webhook: std::sync::OnceLock<keyward_core::alerts::webhook::WebhookSender>,
    /// How many times the vault was locked: the alerts thread treats a
    /// change as a new unlock even if it never saw the vault locked.
    pub locks: std::sync::atomic::AtomicU64,
    /// The cancel flag of the running leak scan, if any.
    scan_cancel: Mutex<Option<Arc<std::sync::atomic::AtomicBool>>>,
    /// Findings of the last leak scan (locations and labels, never values),
    /// for the health dashboard's "found by the leak scanner".
    pub last_scan: Mutex<Vec<keyward_core::scan::Finding>>,
}

impl AppState {
    /// Resolves the vault path from the environment (`KEYWARD_VAULT`,
    /// `KEYWARD_DATA_DIR`, platform data dir).
    pub fn from_env() -> Self {
        AppState {
            vault_path: keyward_core::paths::vault_path(None),
            session: Arc::new(Mutex::new(None)),
            clipboard: crate::clipboard::SecretClipboard::system(),
            exchange: std::sync::OnceLock::new(),
            webhook: std::sync::OnceLock::new(),
            locks: std::sync::atomic::AtomicU64::new(0),
            scan_cancel: Mutex::new(None),
            last_scan: Mutex::new(Vec::new()),
        }
    }

    /// The running scan's cancel flag.
    pub fn scan_cancel(&self) -> MutexGuard<'_, Option<Arc<std::sync::atomic::AtomicBool>>> {
        self.scan_cancel.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The process's exchange client.
    pub fn exchange_client(&self) -> IpcResult<ExchangeClient> {
        if let Some(client) = self.exchange.get() {
            return Ok(client.clone());
        }
        let client = ExchangeClient::new(HttpConfig::default())?;
        Ok(self.exchange.get_or_init(|| client).clone())
    }

    /// The process's webhook sender (`None` if the HTTP client cannot be
    /// built).
    pub fn webhook_sender(&self) -> Option<keyward_core::alerts::webhook::WebhookSender> {
        if let Some(s) = self.webhook.get() {
            return Some(s.clone());
        }
        let sender = keyward_core::alerts::webhook::WebhookSender::new().ok()?;
        Some(self.webhook.get_or_init(|| sender).clone())
    }

    /// Locks the vault: drops the session (zeroizing the vault key and
    /// closing its step-up window) and takes back a copied secret.
    pub fn lock(&self) {
        if let Some(session) = lock_slot(&self.session).take() {
            session.lock();
        }
        self.locks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.clipboard.clear_now();
    }

    /// The vault path or a clear error.
    pub fn path(&self) -> IpcResult<PathBuf> {
        self.vault_path.clone().ok_or_else(|| {
            IpcError::new(
                ErrorKind::Invalid,
                "no data directory on this system; set KEYWARD_DATA_DIR",
            )
        })
    }

    /// Runs `f` on the unlocked session. A session the core reports as
    /// locked (idle timeout passed) is dropped here, so the vault key does
    /// not outlive the lock.
    pub fn with_session<T>(
        &self,
        f: impl FnOnce(&mut Session) -> Result<T, VaultError>,
    ) -> IpcResult<T> {
        with_session(&self.session, f)
    }

    /// Like [`AppState::with_session`] for adapters whose steps produce
    /// front-end errors themselves (step-up, then the gated operation).
    pub fn with_unlocked<T>(&self, f: impl FnOnce(&mut Session) -> IpcResult<T>) -> IpcResult<T> {
        let mut guard = lock_slot(&self.session);
        let session = guard
            .as_mut()
            .ok_or_else(|| IpcError::from(VaultError::Locked))?;
        let result = f(session);
        if matches!(&result, Err(e) if e.kind == ErrorKind::Locked)
            && !session.is_unlocked()
            && let Some(s) = guard.take()
        {
            s.lock();
        }
        result
    }
}

/// Locks the mutex even if a previous holder panicked: the guarded value is
/// an `Option<Session>` whose invariants do not depend on the panicking code.
pub fn lock_slot(slot: &Mutex<Option<Session>>) -> MutexGuard<'_, Option<Session>> {
    slot.lock().unwrap_or_else(|e| e.into_inner())
}

/// See [`AppState::with_session`].
pub fn with_session<T>(
    slot: &Mutex<Option<Session>>,
    f: impl FnOnce(&mut Session) -> Result<T, VaultError>,
) -> IpcResult<T> {
    let mut guard = lock_slot(slot);
    let session = guard
        .as_mut()
        .ok_or_else(|| IpcError::from(VaultError::Locked))?;
    match f(session) {
        Ok(v) => Ok(v),
        Err(e) => {
            if matches!(e, VaultError::Locked)
                && let Some(s) = guard.take()
            {
                s.lock();
            }
            Err(e.into())
        }
    }
}
