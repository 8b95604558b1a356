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
//! **The vault imports no feature; features import the vault and the model.**
//! Features keep their storage next to their logic (keys, checks, alerts,
//! health, incident, rotation) and read and write through [`Session`]'s
//! public methods and the crate-internal kernel surface re-exported below
//! (the write path, its sealing context and its audit entry, a key row's
//! stored form and validated insert, key-row updates under their MAC, the
//! credential digest, the unsealed access to a key, unsealing a field, the
//! MAC'd outbox). A write tells listening features what happened by raising
//! a kernel event (`hooks`: `raise` inside the write's transaction, heard by
//! the [`Hook`]s registered on [`VaultOptions`]), never by calling them.
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
//! Vault::open_with(path, VaultOptions { clock, throttle, actor, hooks }) -> Result<Vault>
//! Vault::info() -> VaultInfo                               // while locked
//! Vault::unlock(&MasterPassword) -> Result<Session>        // WrongPassword / Throttled / RolledBack; verifies the audit chain and the state seal
//! Vault::unlock_with_device() -> Result<Session>           // OS keyring
//! Vault::unlock_wait() -> Result<Duration>
//! Session::audit_problem() -> Option<&AuditProblem>        // broken chain found at unlock
//! Session::add_key(Actor, NewKey) -> Result<KeySummary>
//! Session::list_keys() / search_keys(&str) / key_detail(label)
//! Session::edit_key(Actor, label, KeyEdit, Option<grant /*EditCredentials*/>) -> Result<KeyDetail>
//! // key records (add, edit, delete, list, search) and linked services are
//! // the `keys` feature; linked services are not gated, one audit entry each
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
//! three_phase(&mut access, prepare, network, record)   // prepare → network without the session → record
//! three_phase_if_any(&mut access, prepare, network, record)   // the same, ends early when prepare finds nothing
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
//! Session::run_secrets(Actor, label) -> Result<Revealed>  // only with allow_run set, never a manager key
//! Session::export_backup(Actor, grant /*Export*/, out, &BackupPassphrase) -> Result<usize>
//! Session::export_backup_with(Actor, grant /*Export*/, out, &BackupPassphrase, Overwrite) -> Result<usize>
//! Session::change_password(Actor, grant /*ChangePassword*/, &current, &new)
//! Session::set_settings(Actor, grant /*SecuritySettings*/, Settings)
//! Session::enable_device_unlock(Actor, grant) / disable_device_unlock(Actor, grant)  // SecuritySettings
//! Session::quietly(|s| ...)                                           // background work, not activity
//! // the features' own calls (live checks, narrowing, rotation, incidents,
//! // alerts, health) are in their modules; they import the vault
//! VaultOptions::with_hook(Hook)                                       // a feature's listener for kernel events
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
mod backup;
mod clock;
mod device;
mod error;
mod findings;
mod gated;
mod hooks;
mod integrity;
mod journal;
mod kdf;
mod key_access;
pub mod material;
mod outbox;
mod policy;
mod records;
mod rekey;
mod rowmac;
mod seal;
mod secret;
mod session;
mod settings;
mod state_seal;
mod store;
mod unlock;
mod write;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use access::{Quiet, SessionAccess, three_phase, three_phase_if_any};
pub use backup::{ConflictPolicy, ImportReport};
pub use clock::{Clock, ManualClock, SystemClock, default_clock};
pub use device::{KeyringStatus, device_unlock_status, require_device_unlock};
pub use error::VaultError;
pub use gated::Revealed;
pub use hooks::Hook;
pub use integrity::{DamagedRecord, IntegrityReport};
pub use journal::{AuditProblem, AuditReport};
pub use kdf::KdfParams;
pub use policy::{Settings, UnlockThrottle};
pub use secret::{BackupPassphrase, MasterPassword, VaultKey};
pub use session::{Actor, Session};
pub use settings::SettingsChange;
pub use store::{FORMAT_VERSION, SCHEMA_VERSION};
pub use unlock::{Vault, VaultInfo, VaultOptions};

// The kernel's surface for features that keep their storage next to their
// logic (keys, checks, alerts, rotation, incident): kernel events and
// their hooks, the write path's sealing context and audit entry, a key
// row's stored form and validated insert, key-row updates under their MAC,
// the credential digest, the unsealed access to a key, the stored form of a
// live check, the MAC'd outbox, and the frozen sealed-field names. Together
// with `Session::write_events`, `write_gated`, `read_sealed`, `quietly`,
// `touch`, `now_secs`, `vault_key`, `conn`, `default_rotation_days`,
// `find_id`, `key_detail`, `open_field` and `exchange_access`.
pub(crate) use hooks::{IncidentOpened, KernelEvent, KeyChecked, Listener, OpenedKey, raise};
pub(crate) use journal::append as append_event;
pub(crate) use key_access::{AccessError, ExchangeAccess, StoredCheck, key_fingerprint};
pub(crate) use outbox::{push as push_outbox, remac as remac_outbox_row};
pub(crate) use records::{
    KEY_COLUMNS, KeyRow, insert_key, join_scopes, label_taken, normalize_ips, services_json,
};
pub(crate) use rowmac::{
    execute as update_key_row, seal as seal_key_row, verify as verify_key_row,
};
pub(crate) use session::META_RECORD;
pub(crate) use store::{
    ALERT_CONFIG_FIELD, ROTATION_NEW_PASSPHRASE, ROTATION_NEW_SECRET, ROTATION_PREVIOUS_PASSPHRASE,
    ROTATION_PREVIOUS_SECRET,
};
pub(crate) use write::Sealer;

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

#[cfg(test)]
mod tests {
    /// **The vault imports no feature**: none of its sources (migrations
    /// included) names a feature module. Each feature also checks this for
    /// itself (e.g. `checks::store::tests::the_vault_does_not_import_checks`).
    #[test]
    fn the_vault_imports_no_feature() {
        const FEATURES: &[&str] = &[
            "alerts", "checks", "deploy", "health", "incident", "keys", "managed", "rotation",
            "scan",
        ];
        for feature in FEATURES {
            let by_crate = format!("crate::{feature}");
            let by_super = format!("super::super::{feature}");
            let naming = super::sources_naming(&[&by_crate, &by_super]);
            assert!(naming.is_empty(), "the vault imports {feature}: {naming:?}");
        }
        // Grouped imports (a `crate` path with braces) name a feature
        // without the `crate::feature` text the search above looks for.
        for path in super::sources_naming(&["crate::{"]) {
            let text = std::fs::read_to_string(&path).unwrap();
            for group in crate_groups(&text) {
                assert!(
                    !FEATURES.contains(&group.as_str()),
                    "the vault imports {group} in {path:?}"
                );
            }
        }
    }

    /// The first path segment of each item of every `crate::{…}` group.
    fn crate_groups(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (at, _) in text.match_indices("crate::{") {
            let mut depth = 0;
            let mut item = String::new();
            let mut at_segment_start = true;
            for c in text[at + "crate::".len()..].chars() {
                match c {
                    '{' => {
                        depth += 1;
                        at_segment_start = depth == 1;
                    }
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => {
                        out.push(std::mem::take(&mut item));
                        at_segment_start = true;
                    }
                    c if depth == 1 && at_segment_start => {
                        if c.is_alphanumeric() || c == '_' {
                            item.push(c);
                        } else if !item.is_empty() {
                            at_segment_start = false;
                        }
                    }
                    _ => {}
                }
            }
            out.push(item);
        }
        out.retain(|i| !i.is_empty());
        out
    }

    #[test]
    fn grouped_imports_are_read_item_by_item() {
        // Split so that this file's own text holds no such group.
        let sample = concat!("use crate", "::{audit, checks::Thing, mfa::{A, B}};");
        let groups = crate_groups(sample);
        assert_eq!(groups, ["audit", "checks", "mfa"]);
    }
}
