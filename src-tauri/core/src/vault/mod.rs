//! The encrypted vault: file format, schema and migrations, key derivation,
//! envelope encryption, records, lock/unlock, OS-keyring unlock and backups.
//!
//! Owns: everything that touches the vault file. It speaks
//! [`crate::model`]'s vocabulary (exchanges, key records, services,
//! validation) and defines none of its own. Must never: hand plaintext
//! secrets to anything but the gated reveal path, write a secret outside a
//! sealed field, or write anything outside [`Session`]'s single transactional
//! write path.
//!
//! Features that keep their storage next to their logic (health, incident,
//! rotation) import the vault, never the other way round: they read and
//! write through [`Session`]'s public methods and the crate-internal kernel
//! surface re-exported below (the write path and its sealing context,
//! key-row updates under their MAC, the credential digest, unsealing a
//! field, queueing an alert).
//!
//! # Crypto (DESIGN §2)
//! master password → Argon2id ([`KdfParams`], per-vault salt) → key-encryption
//! key → AES-256-GCM wrap of a random 256-bit [`VaultKey`]. Every secret and
//! passphrase is sealed separately with AES-256-GCM, a fresh 96-bit nonce and
//! AAD = vault id ‖ record id ‖ field name. The header (format version, vault
//! id, KDF parameters, salt) is the AAD of the key wrap and carries a SHA-256
//! damage check, so tampering is detected and "corrupt" is told apart from
//! "wrong password".
//!
//! # API for front ends
//! ```text
//! vault::status(path) -> VaultStatus                       // no I/O beyond stat
//! Vault::create(path, &MasterPassword, KdfParams, Actor) -> Result<Session>
//! Vault::open(path) -> Result<Vault>                       // checks, decrypts nothing; actor Cli
//! Vault::open_with(path, VaultOptions { clock, throttle, actor }) -> Result<Vault>
//! Vault::info() -> VaultInfo                               // while locked
//! Vault::unlock(&MasterPassword) -> Result<Session>        // WrongPassword / Throttled / RolledBack; verifies the audit chain and the state seal
//! Vault::unlock_with_device() -> Result<Session>           // OS keyring
//! Vault::unlock_wait() -> Result<Duration>
//! Session::audit_problem() -> Option<&AuditProblem>        // broken chain found at unlock
//! Session::add_key(Actor, NewKey) -> Result<KeySummary>
//! Session::list_keys() / search_keys(&str) / key_detail(label)
//! Session::edit_key(Actor, label, KeyEdit) -> Result<KeyDetail>
//! // linked services (see `service`): not gated, one audit entry each
//! Session::services(label) -> Result<Vec<LinkedService>>
//! Session::add_service(Actor, label, NewService) -> Result<Vec<LinkedService>>
//! Session::update_service(Actor, label, name, ServiceUpdate) -> Result<Vec<LinkedService>>
//! Session::remove_service(Actor, label, name) -> Result<Vec<LinkedService>>
//! Session::set_service_check(Actor, label, name, ChecklistItem, checked) -> Result<Vec<LinkedService>>
//! Session::settings()
//! Session::settings_change(Settings) -> Result<SettingsChange>   // validated; needs_step_up()
//! Session::apply_settings(Actor, SettingsChange, Option<grant /*SecuritySettings*/>) -> Result<Settings>
//! Session::raise_kdf_params(Actor, &password, KdfParams)
//! Session::check_integrity() -> Result<IntegrityReport>
//! device_unlock_status() -> KeyringStatus
//! Session::import_backup(Actor, file, &BackupPassphrase, ConflictPolicy) -> Result<ImportReport>
//! Session::is_idle_expired() / idle_deadline() / touch() / lock()
//!
//! // step-up (see `gated`)
//! Session::verify_password(&MasterPassword) -> Result<PasswordVerified>   // proof until MFA is on
//! Session::step_up::<A: Gated>(Actor, Option<Proof>) -> Result<StepUpGrant<A>>   // CLI: no window
//! Session::step_up_in_window::<A: Gated>(Actor, Option<Proof>) -> Result<StepUpGrant<A>>  // desktop
//! Session::window_covers(GatedAction) -> Result<bool> / close_step_up_window()
//! Session::mfa_status() -> Result<MfaSummary>
//! Session::mfa_enrol(Actor, grant /*SecuritySettings*/) -> Result<Enrolment>
//! Session::mfa_confirm(Actor, &OneTimeCode) / mfa_cancel_pending(Actor)
//! Session::mfa_reenrol(Actor, grant /*ReenrolMfa*/) -> Result<Enrolment>
//! Session::mfa_disable(Actor, grant /*DisableMfa*/)
//! Session::mfa_regenerate_recovery_codes(Actor, grant /*SecuritySettings*/) -> Result<Vec<RecoveryCode>>
//! // gated operations: each takes the grant, typed by its action, by value
//! Session::reveal(Actor, grant /*RevealSecret|CopySecret*/, label) -> Result<Revealed>
//! Session::delete_key(Actor, grant /*DeleteKey*/, label)
//! Session::set_allow_run(Actor, grant /*AllowRun*/, label, bool) / deny_run(Actor, label)
//! Session::run_secrets(Actor, label) -> Result<Revealed>  // only with allow_run set
//! Session::export_backup(Actor, grant /*Export*/, out, &BackupPassphrase) -> Result<usize>
//! Session::export_backup_with(Actor, grant /*Export*/, out, &BackupPassphrase, Overwrite) -> Result<usize>
//! Session::change_password(Actor, grant /*ChangePassword*/, &current, &new)
//! Session::set_settings(Actor, grant /*SecuritySettings*/, Settings)
//! Session::enable_device_unlock(Actor, grant) / disable_device_unlock(Actor, grant)  // SecuritySettings
//! // alerts (see `alerts` and `crate::alerts`): webhook URL sealed, never returned
//! Session::alert_settings() -> Result<AlertSettings>                  // kind, host, masked form
//! Session::set_webhook(Actor, grant /*SecuritySettings*/, &WebhookUrl, Option<WebhookKind>, Option<EventSwitches>)
//! Session::remove_webhook(Actor, grant /*SecuritySettings*/)
//! Session::set_alert_options(Actor, grant /*SecuritySettings*/, AuditSchedule, EventSwitches)
//! crate::alerts::reminder_pass(&mut Session, Actor, now) -> Result<ReminderPass>   // not activity
//! Session::quietly(|s| ...)                                           // background work, not activity
//! deliver_alerts(access, &WebhookSender, Actor, now) -> Result<DeliveryReport>   // 3 phases
//! send_test_alert(access, &WebhookSender, Actor) / background_audit(&Mutex<Option<Session>>, &client, now)
//! // audit log
//! Session::audit_log(&AuditFilter) -> Result<Vec<audit::Entry>>
//! Session::verify_audit() -> Result<AuditReport>     // not ok while a finding is unacknowledged
//! Session::acknowledge_audit_findings(Actor, grant /*SecuritySettings*/) -> Result<usize>
//! ```
//! Every write names its audit entry as a [`crate::audit::Event`] (the
//! audit module's closed vocabulary; the vault has none of its own),
//! appends it in the same transaction (`journal`) and re-seals the state seal (`state_seal`: rollback of the
//! MFA record, recovery codes, settings, audit head or outbox is noticed);
//! step-up runs in its own committed transaction so failure counters
//! survive a refused action.
//! Every method of [`Session`] counts as activity; after
//! [`Settings::auto_lock_minutes`] without one, the next call zeroizes the
//! vault key and fails with [`VaultError::Locked`].

mod access;
mod alerts;
mod backup;
mod clock;
mod device;
mod error;
mod findings;
mod gated;
mod hooks;
mod journal;
mod kdf;
mod key_access;
pub mod material;
mod policy;
mod rekey;
mod rowmac;
mod seal;
mod secret;
mod service;
mod session;
mod state_seal;
mod store;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use access::SessionAccess;
/// Queues an alert event inside a write's transaction (sent after commit)
/// for features outside the vault, e.g. `incident::open`.
pub(crate) use alerts::enqueue as enqueue_alert;
pub use alerts::{
    AlertSettings, AuditSchedule, BackgroundAuditRun, DeliveryReport, EventSwitches,
    MAX_DELIVERY_ATTEMPTS, PendingDelivery, QueuedEvent, Quiet, ReminderPass, WebhookInfo,
    deliver_alerts, send_test_alert,
};
pub use backup::{ConflictPolicy, ImportReport};
pub use clock::{Clock, ManualClock, SystemClock, default_clock};
pub use device::{KeyringStatus, device_unlock_status, require_device_unlock};
pub use error::VaultError;
pub use gated::Revealed;
pub use journal::{AuditProblem, AuditReport};
pub use kdf::KdfParams;
pub use policy::{Settings, UnlockThrottle};
pub use secret::{BackupPassphrase, MasterPassword, VaultKey};
pub use session::{
    Actor, DamagedRecord, IntegrityReport, Session, SettingsChange, Vault, VaultInfo, VaultOptions,
};
pub use store::{FORMAT_VERSION, SCHEMA_VERSION};

// The kernel's surface for features that keep their storage next to their
// logic (rotation, incident): the write path's sealing context, a key-row
// update under its MAC, the credential digest, the unsealed access to a
// key, the stored form of a live check, and the frozen sealed-field names.
// Together with `Session::write_events`, `vault_key`, `conn`, `find_id`,
// `open_field` and `exchange_access`.
pub(crate) use hooks::{KernelEvent, KeyChecked, raise};
pub(crate) use journal::append as append_event;
pub(crate) use key_access::{AccessError, ExchangeAccess, StoredCheck, key_fingerprint};
pub(crate) use rowmac::execute as update_key_row;
pub(crate) use session::Sealer;
pub(crate) use store::{
    ROTATION_NEW_PASSPHRASE, ROTATION_NEW_SECRET, ROTATION_PREVIOUS_PASSPHRASE,
    ROTATION_PREVIOUS_SECRET,
};

/// What a front end may know about a vault before unlocking it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct VaultStatus {
    /// Where the vault is (or would be created).
    pub path: PathBuf,
    /// Whether a vault file exists there.
    pub exists: bool,
}

/// Looks at `path` without opening or modifying anything.
pub fn status(path: &Path) -> VaultStatus {
    VaultStatus {
        path: path.to_path_buf(),
        exists: path.is_file(),
    }
}

/// The files under `src/vault/` (migrations included) whose text contains
/// any of `needles`: the tests that keep features out of the vault
/// (`vault` imports no feature) call it with a feature's module paths.
#[cfg(test)]
pub(crate) fn sources_naming(needles: &[&str]) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/vault"),
        &mut files,
    );
    assert!(files.len() > 20, "the vault's sources not found: {files:?}");
    files
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            needles.iter().any(|n| text.contains(n))
        })
        .collect()
}
