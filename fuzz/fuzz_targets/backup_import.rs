//! Arbitrary bytes as an encrypted backup, imported into a real small vault
//! with a fixed backup passphrase. Every outcome must be a typed
//! `VaultError` or an import report, never a panic or a hang; a refused
//! import leaves the vault unchanged.
#![no_main]

use std::cell::RefCell;

use keyward_core::vault::{
    Actor, BackupPassphrase, ConflictPolicy, KdfParams, MasterPassword, Session, Vault,
};
use libfuzzer_sys::fuzz_target;

/// The passphrase of the seed backups in `corpus/backup_import`.
const PASSPHRASE: &str = "fuzz-backup-passphrase-1";

struct Target {
    dir: tempfile::TempDir,
    session: Session,
}

thread_local! {
    static TARGET: RefCell<Option<Target>> = const { RefCell::new(None) };
}

fn target() -> Target {
    let dir = tempfile::tempdir().expect("temporary directory");
    let session = Vault::create(
        &dir.path().join("vault.keyward"),
        &MasterPassword::new("fuzz-master-password-1".to_string()),
        KdfParams::MINIMUM,
        Actor::Cli,
    )
    .expect("create the vault");
    Target { dir, session }
}

fuzz_target!(|data: &[u8]| {
    TARGET.with(|cell| {
        let mut slot = cell.borrow_mut();
        let t = slot.get_or_insert_with(target);
        let file = t.dir.path().join("input.kwbackup");
        std::fs::write(&file, data).expect("write the input");
        let before = t.session.list_keys().expect("list keys").len();
        // Replacing needs a step-up grant (a KDF run per input); the parser
        // and every check before the merge are the same for both policies.
        let policy = ConflictPolicy::Skip;
        let passphrase = BackupPassphrase::new(PASSPHRASE.to_string());
        match t
            .session
            .import_backup(Actor::Cli, &file, &passphrase, policy, None)
        {
            Ok(report) => {
                let after = t.session.list_keys().expect("list keys").len();
                assert_eq!(after, before + report.added.len(), "keys added != report");
            }
            Err(e) => {
                let after = t.session.list_keys().expect("list keys").len();
                assert_eq!(after, before, "a refused import changed the vault");
                let shown = e.to_string();
                assert!(!shown.contains(PASSPHRASE));
                assert!(shown.chars().count() <= 600, "error message too long");
            }
        }
    });
});
