//! Files written by format version 1. Never regenerate them: a failure here
//! means this build no longer reads vaults its users already have.

use std::path::Path;

use keyward_core::model::{
    ChecklistItem, Environment, Exchange, KeyType, LinkedService, Scope, ServiceKind,
};
use keyward_core::vault::{Actor, BackupPassphrase, ConflictPolicy, MasterPassword, Vault};

use crate::vault::support::TempVault;

const GOLDEN_PASSWORD: &str = "golden vault password v1";
const GOLDEN_BACKUP_PASSPHRASE: &str = "golden backup passphrase v1";

fn data(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[test]
fn golden_v1_vault_opens_and_reads() {
    // Work on a copy: opening creates -wal/-shm files next to the vault.
    let t = TempVault::new();
    std::fs::copy(data("golden-v1.keyward"), t.path()).unwrap();
    let vault = Vault::open(&t.path()).unwrap();
    assert_eq!(vault.info().format_version, 1);
    let mut s = vault
        .unlock(&MasterPassword::from(GOLDEN_PASSWORD))
        .unwrap();
    let keys = s.list_keys().unwrap();
    let labels: Vec<&str> = keys.iter().map(|k| k.label.as_str()).collect();
    assert_eq!(labels, ["binance main", "cdp", "okx desk"]);
    let b = s.key_detail("binance main").unwrap();
    assert_eq!(b.summary.exchange, Exchange::Binance);
    assert_eq!(b.summary.scopes, [Scope::Read, Scope::Trade]);
    assert_eq!(b.ip_whitelist, ["203.0.113.7"]);
    // Version 1 stored services as bare names: each reads as a service of
    // kind unspecified, with nothing checked.
    assert_eq!(b.linked_services, [LinkedService::named("grid bot")]);
    assert_eq!(b.linked_services[0].kind, ServiceKind::Unspecified);
    assert_eq!(s.search_keys("grid").unwrap().len(), 1);
    assert_eq!(b.summary.rotate_every_days, 30);
    let o = s.key_detail("okx desk").unwrap();
    assert!(o.has_passphrase);
    assert_eq!(o.summary.environment, Environment::Testnet);
    assert_eq!(o.notes, "golden notes");
    let c = s.key_detail("cdp").unwrap();
    assert_eq!(c.summary.key_type, KeyType::EcdsaJwt);
    assert_eq!(
        c.summary.environment,
        Environment::Custom("https://api.coinbase.com".into())
    );
    assert_eq!(s.settings().unwrap().auto_lock_minutes, 7);
    let report = s.check_integrity().unwrap();
    assert!(report.is_ok());
    assert_eq!(report.fields_ok, 1 + 3 + 1);

    // The first change rewrites the old name as a record and keeps it.
    let after = s
        .set_service_check(
            Actor::Cli,
            "binance main",
            "grid bot",
            ChecklistItem::Reputation,
            true,
        )
        .unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].name, "grid bot");
    assert!(
        after[0]
            .checklist
            .checked_at(ChecklistItem::Reputation)
            .is_some()
    );
    assert_eq!(s.key_detail("binance main").unwrap().linked_services, after);
    assert_eq!(s.search_keys("grid").unwrap().len(), 1);
}

#[test]
fn golden_v1_backup_imports() {
    let t = TempVault::new();
    let mut s = t.create();
    let report = s
        .import_backup(
            Actor::Cli,
            &data("golden-v1.kwbackup"),
            &BackupPassphrase::from(GOLDEN_BACKUP_PASSPHRASE),
            ConflictPolicy::Skip,
            None,
        )
        .unwrap();
    assert_eq!(report.added, ["binance main", "cdp", "okx desk"]);
    assert_eq!(
        s.key_detail("binance main").unwrap().linked_services,
        [LinkedService::named("grid bot")]
    );
    assert!(s.check_integrity().unwrap().is_ok());
}
