//! The vault's files and the audit findings' acknowledgement, on real
//! files: the data directory is made 0700 and the vault, its WAL and SHM
//! 0600 (and an old vault with looser modes is tightened on open); a
//! backup never overwrites a file or writes through a link unless asked; a
//! truncated log stays "not ok" in every later session until a gated
//! acknowledgement, which is itself in the chain; a label with a
//! bidirectional override is refused.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use keyward_core::audit::{Action, store::AuditFilter};
use keyward_core::files::Overwrite;
use keyward_core::mfa::actions;
use keyward_core::model::ValidationError;
use keyward_core::vault::{Actor, BackupPassphrase, KdfParams, Session, Vault, VaultError};
use rusqlite::Connection;

use crate::vault::support::{TempVault, binance, grant, password};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn sidecars(vault: &Path) -> [std::path::PathBuf; 3] {
    keyward_core::files::vault_files(vault)[..3]
        .to_vec()
        .try_into()
        .unwrap()
}

fn unlock(path: &Path) -> Session {
    Vault::open(path).unwrap().unlock(&password()).unwrap()
}

#[test]
fn the_data_directory_is_0700_and_the_vault_files_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new/data/vault.keyward");
    let mut s = Vault::create(&path, &password(), KdfParams::MINIMUM, Actor::Cli).unwrap();
    s.add_key(Actor::Cli, binance("a")).unwrap();
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    // While open, SQLite keeps its write-ahead log and shared memory beside
    // the database: all three exist and are private.
    for f in sidecars(&path) {
        assert!(f.exists(), "{} missing", f.display());
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
}

#[test]
fn an_old_vault_with_loose_modes_is_made_0600_on_open() {
    let t = TempVault::new();
    t.create().lock();
    for f in sidecars(&t.path()) {
        if f.exists() {
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let mut s = unlock(&t.path());
    s.add_key(Actor::Cli, binance("a")).unwrap();
    for f in sidecars(&t.path()) {
        if f.exists() {
            assert_eq!(mode(&f), 0o600, "{}", f.display());
        }
    }
    assert_eq!(mode(&t.path()), 0o600);
}

#[test]
fn a_vault_is_never_created_through_a_symlink() {
    let t = TempVault::new();
    let target = t.dir.path().join("elsewhere");
    std::os::unix::fs::symlink(&target, t.path()).unwrap();
    let err = Vault::create(&t.path(), &password(), KdfParams::MINIMUM, Actor::Cli).unwrap_err();
    assert!(matches!(err, VaultError::AlreadyExists { .. }), "{err}");
    assert!(!target.exists());
}

#[test]
fn backup_export_refuses_symlink_and_overwrite_without_replace() {
    let t = TempVault::new();
    let mut s = t.create();
    s.add_key(Actor::Cli, binance("a")).unwrap();
    let pp = BackupPassphrase::from("backup passphrase");
    let victim = t.dir.path().join("victim");
    std::fs::write(&victim, b"keep me").unwrap();
    let link = t.dir.path().join("backup.link");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    for overwrite in [Overwrite::Refuse, Overwrite::Replace] {
        let g = grant::<actions::Export>(&mut s);
        let err = s
            .export_backup_with(Actor::Cli, g, &link, &pp, overwrite)
            .unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
    }
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");

    let out = t.dir.path().join("backup.kwb");
    let g = grant::<actions::Export>(&mut s);
    assert_eq!(s.export_backup(Actor::Cli, g, &out, &pp).unwrap(), 1);
    assert_eq!(mode(&out), 0o600);
    let first = std::fs::read(&out).unwrap();
    let g = grant::<actions::Export>(&mut s);
    let err = s.export_backup(Actor::Cli, g, &out, &pp).unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), first);
    let g = grant::<actions::Export>(&mut s);
    s.export_backup_with(Actor::Cli, g, &out, &pp, Overwrite::Replace)
        .unwrap();
    assert_ne!(std::fs::read(&out).unwrap(), first);
    // No temporary file is left beside it.
    let names: Vec<_> = std::fs::read_dir(t.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn a_truncated_log_stays_reported_until_acknowledged() {
    let t = TempVault::new();
    let mut s = t.create();
    s.add_key(Actor::Cli, binance("a")).unwrap();
    s.add_key(Actor::Cli, binance("b")).unwrap();
    s.lock();
    Connection::open(t.path())
        .unwrap()
        .execute(
            "DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)",
            [],
        )
        .unwrap();
    let mut s = unlock(&t.path());
    assert!(s.audit_problem().is_some());
    assert!(!s.verify_audit().unwrap().is_ok());
    s.lock();

    // The next session sees an intact chain (the finding's entry sealed over
    // the truncation), but the finding is not forgotten.
    let mut s = unlock(&t.path());
    assert!(s.audit_problem().is_none());
    let report = s.verify_audit().unwrap();
    assert_eq!(report.problem, None);
    assert_eq!(report.unacknowledged_findings, 1);
    assert!(!report.is_ok());

    // Only a grant for security settings acknowledges (another grant does
    // not compile).
    assert!(!s.verify_audit().unwrap().is_ok());
    let g = grant::<actions::SecuritySettings>(&mut s);
    assert_eq!(s.acknowledge_audit_findings(Actor::Cli, g).unwrap(), 1);
    assert!(s.verify_audit().unwrap().is_ok());
    let acks = s
        .audit_log(&AuditFilter::all().with_actions([Action::AuditFindingsAcknowledged]))
        .unwrap();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].details_value()["findings"], 1);
    assert_eq!(acks[0].details_value()["proof"], "master_password");
    s.lock();
    let mut s = unlock(&t.path());
    let report = s.verify_audit().unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.recorded_findings, 1);

    // A new finding after the acknowledgement is unacknowledged again.
    s.lock();
    Connection::open(t.path())
        .unwrap()
        .execute(
            "DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)",
            [],
        )
        .unwrap();
    let s = unlock(&t.path());
    s.lock();
    let mut s = unlock(&t.path());
    let report = s.verify_audit().unwrap();
    assert_eq!(report.unacknowledged_findings, 1);
    assert_eq!(report.recorded_findings, 2);
    assert!(!report.is_ok());
}

#[test]
fn label_with_bidi_override_is_refused_by_the_core() {
    let t = TempVault::new();
    let mut s = t.create();
    for label in ["invoice\u{202E}gpj.exe", "hot\u{200B}wallet"] {
        let err = s.add_key(Actor::Cli, binance(label)).unwrap_err();
        assert!(
            matches!(err, VaultError::Invalid(ValidationError::LabelFormatChars)),
            "{err}"
        );
    }
    assert!(s.list_keys().unwrap().is_empty());
}
