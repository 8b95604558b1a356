use keyward_core::KindedError;
use keyward_core::vault::{
    Actor, Environment, KdfParams, KeyEdit, KeyStatus, MasterPassword, Scope, Settings,
    ValidationError, Vault, VaultError,
};

use crate::support::{TempVault, binance, grant, okx, password};
use keyward_core::mfa::GatedAction;

#[test]
fn create_add_lock_unlock_list() {
    let t = TempVault::new();
    let mut s = t.create();
    let mut key = binance("main");
    key.scopes = vec![Scope::Read, Scope::Trade];
    key.ip_whitelist = vec!["203.0.113.7".into(), "10.0.0.0/8".into()];
    key.linked_services = vec!["grid bot".into()];
    key.rotate_every_days = Some(30);
    let summary = s.add_key(Actor::Gui, key).unwrap();
    assert_eq!(summary.label, "main");
    assert!(summary.ip_restricted);
    assert_eq!(summary.rotate_every_days, 30);
    assert_eq!(summary.rotation_due_at, summary.created_at + 30 * 86_400);
    s.add_key(Actor::Cli, okx("desk")).unwrap();
    s.lock();

    let vault = Vault::open(&t.path()).unwrap();
    let info = vault.info();
    assert_eq!(info.kdf, KdfParams::MINIMUM);
    assert!(!info.device_unlock);
    let mut s = vault.unlock(&password()).unwrap();
    let keys = s.list_keys().unwrap();
    assert_eq!(
        keys.iter().map(|k| k.label.as_str()).collect::<Vec<_>>(),
        ["desk", "main"]
    );
    assert_eq!(keys[1].api_key_id_masked, "vmPU…Eh8A");
    let detail = s.key_detail("desk").unwrap();
    assert!(detail.has_passphrase);
    assert_eq!(detail.summary.status, KeyStatus::Active);
    let json = serde_json::to_string(&detail).unwrap();
    assert!(!json.contains("okx-secret") && !json.contains("okx-passphrase"));
    assert_eq!(s.search_keys("DES").unwrap().len(), 1);
    assert_eq!(s.search_keys("grid").unwrap().len(), 1);
    assert_eq!(s.search_keys("%").unwrap().len(), 0);
    // The id-only search finds exactly what the full one finds.
    for query in ["DES", "grid", "%", "_", "\\", "okx", "", "vmPU"] {
        let ids: Vec<String> = s
            .search_keys(query)
            .unwrap()
            .into_iter()
            .map(|k| k.id)
            .collect();
        assert_eq!(s.search_key_ids(query).unwrap(), ids, "query {query:?}");
    }
    assert_eq!(s.search_key_ids("").unwrap().len(), 2);
    assert_eq!(s.search_key_ids("grid").unwrap(), [keys[1].id.clone()]);
    assert!(s.check_integrity().unwrap().is_ok());
}

#[test]
fn wrong_password_is_distinct_and_kinded() {
    let t = TempVault::new();
    t.create().lock();
    let vault = Vault::open(&t.path()).unwrap();
    let err = vault.unlock(&MasterPassword::from("nope")).unwrap_err();
    assert!(matches!(err, VaultError::WrongPassword));
    assert_eq!(err.kind().exit_code(), 3);
    assert!(!err.to_string().contains("nope"));
}

#[test]
fn edit_changes_only_what_is_asked() {
    let t = TempVault::new();
    let mut s = t.create();
    s.add_key(Actor::Gui, binance("a")).unwrap();
    s.add_key(Actor::Gui, binance("b")).unwrap();
    let g = grant(&mut s, GatedAction::EditCredentials);
    let d = s
        .edit_key(
            Actor::Gui,
            "a",
            KeyEdit {
                label: Some("a2".into()),
                environment: Some(Environment::Custom("http://127.0.0.1:9000".into())),
                scopes: Some(vec![Scope::Read]),
                notes: Some("n".into()),
                status: Some(KeyStatus::Compromised),
                ..KeyEdit::default()
            },
            Some(g),
        )
        .unwrap();
    assert_eq!(d.summary.label, "a2");
    assert_eq!(d.summary.status, KeyStatus::Compromised);
    assert_eq!(
        d.summary.environment,
        Environment::Custom("http://127.0.0.1:9000".into())
    );
    assert!(matches!(
        s.key_detail("a"),
        Err(VaultError::KeyNotFound { .. })
    ));
    // Renaming onto an existing label fails and changes nothing.
    let err = s
        .edit_key(
            Actor::Gui,
            "a2",
            KeyEdit {
                label: Some("b".into()),
                notes: Some("changed".into()),
                ..KeyEdit::default()
            },
            None,
        )
        .unwrap_err();
    assert!(matches!(
        err,
        VaultError::Invalid(ValidationError::DuplicateLabel { .. })
    ));
    assert_eq!(s.key_detail("a2").unwrap().notes, "n");
    // Bad input is refused before anything is written.
    let g = grant(&mut s, GatedAction::EditCredentials);
    let err = s
        .edit_key(
            Actor::Gui,
            "a2",
            KeyEdit {
                environment: Some(Environment::Custom("http://10.1.1.1".into())),
                ..KeyEdit::default()
            },
            Some(g),
        )
        .unwrap_err();
    assert!(matches!(
        err,
        VaultError::Invalid(ValidationError::BadBaseUrl { .. })
    ));
    assert!(s.check_integrity().unwrap().is_ok());
}

#[test]
fn validation_errors_are_specific() {
    let t = TempVault::new();
    let mut s = t.create();
    let mut k = okx("x");
    k.passphrase = None;
    assert!(matches!(
        s.add_key(Actor::Cli, k),
        Err(VaultError::Invalid(
            ValidationError::PassphraseRequired { .. }
        ))
    ));
    let mut k = binance("x");
    k.ip_whitelist = vec!["999.1.1.1".into()];
    assert!(matches!(
        s.add_key(Actor::Cli, k),
        Err(VaultError::Invalid(ValidationError::BadIp { .. }))
    ));
    let k = binance(&"l".repeat(65));
    assert!(matches!(
        s.add_key(Actor::Cli, k),
        Err(VaultError::Invalid(ValidationError::LabelTooLong))
    ));
    s.add_key(Actor::Cli, binance("dup")).unwrap();
    assert!(matches!(
        s.add_key(Actor::Cli, binance("dup")),
        Err(VaultError::Invalid(ValidationError::DuplicateLabel { .. }))
    ));
    assert_eq!(s.list_keys().unwrap().len(), 1);
}

#[test]
fn password_change_rewraps_only_the_key() {
    let t = TempVault::new();
    let mut s = t.create();
    s.add_key(Actor::Gui, okx("desk")).unwrap();
    let blob_before: Vec<u8> = rusqlite::Connection::open(t.path())
        .unwrap()
        .query_row("SELECT secret FROM keys", [], |r| r.get(0))
        .unwrap();
    let new = MasterPassword::from("a new password");
    assert!(matches!(
        {
            let g = grant(&mut s, GatedAction::ChangePassword);
            s.change_password(Actor::Gui, g, &MasterPassword::from("wrong"), &new)
        },
        Err(VaultError::WrongPassword)
    ));
    let g = grant(&mut s, GatedAction::ChangePassword);
    s.change_password(Actor::Gui, g, &password(), &new).unwrap();
    s.lock();
    let blob_after: Vec<u8> = rusqlite::Connection::open(t.path())
        .unwrap()
        .query_row("SELECT secret FROM keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(blob_before, blob_after, "records are not re-encrypted");
    let vault = Vault::open(&t.path()).unwrap();
    assert!(matches!(
        vault.unlock(&password()),
        Err(VaultError::WrongPassword)
    ));
    let mut s = vault.unlock(&new).unwrap();
    assert!(s.check_integrity().unwrap().is_ok());
}

#[test]
fn kdf_params_only_rise() {
    let t = TempVault::new();
    let mut s = t.create();
    s.add_key(Actor::Gui, binance("k")).unwrap();
    let lower = KdfParams {
        iterations: 1,
        ..KdfParams::MINIMUM
    };
    assert!(matches!(
        s.raise_kdf_params(Actor::Gui, &password(), lower),
        Err(VaultError::KdfDowngrade)
    ));
    let higher = KdfParams {
        iterations: 3,
        ..KdfParams::MINIMUM
    };
    s.raise_kdf_params(Actor::Gui, &password(), higher).unwrap();
    s.lock();
    let vault = Vault::open(&t.path()).unwrap();
    assert_eq!(vault.info().kdf, higher);
    let mut s = vault.unlock(&password()).unwrap();
    assert_eq!(s.list_keys().unwrap().len(), 1);
}

#[test]
fn settings_are_sealed_and_persist() {
    let t = TempVault::new();
    let mut s = t.create();
    assert_eq!(s.settings().unwrap(), Settings::default());
    let new = Settings {
        auto_lock_minutes: 10,
        clipboard_clear_seconds: 30,
        default_rotation_days: 60,
        step_up_window_seconds: 120,
    };
    let g = grant(&mut s, GatedAction::SecuritySettings);
    s.set_settings(Actor::Gui, g, new).unwrap();
    let g = grant(&mut s, GatedAction::SecuritySettings);
    assert!(matches!(
        s.set_settings(
            Actor::Gui,
            g,
            Settings {
                clipboard_clear_seconds: 0,
                ..new
            }
        ),
        Err(VaultError::Invalid(_))
    ));
    s.add_key(Actor::Gui, binance("k")).unwrap();
    assert_eq!(s.list_keys().unwrap()[0].rotate_every_days, 60);
    s.lock();
    let mut s = Vault::open(&t.path()).unwrap().unlock(&password()).unwrap();
    assert_eq!(s.settings().unwrap(), new);
}

#[test]
fn creating_over_an_existing_file_is_refused() {
    let t = TempVault::new();
    std::fs::write(t.path(), b"something").unwrap();
    assert!(matches!(
        Vault::create(&t.path(), &password(), KdfParams::MINIMUM, Actor::Cli),
        Err(VaultError::AlreadyExists { .. })
    ));
    assert_eq!(std::fs::read(t.path()).unwrap(), b"something");
    let t = TempVault::new();
    assert!(matches!(
        Vault::create(
            &t.path(),
            &password(),
            KdfParams::from_mib(8, 1, 1),
            Actor::Cli
        ),
        Err(VaultError::WeakKdfParams { .. })
    ));
    assert!(!t.path().exists());
}
