use keyward_core::KindedError;
use keyward_core::model::{Environment, KeyEdit, KeyStatus, Scope, ValidationError};
use keyward_core::vault::{Actor, KdfParams, MasterPassword, Settings, Vault, VaultError};

use crate::vault::support::{TempVault, binance, grant, okx, password};
use keyward_core::mfa::actions;

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
    let g = grant::<actions::EditCredentials>(&mut s);
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
    let g = grant::<actions::EditCredentials>(&mut s);
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
fn password_change_rotates_the_vault_key() {
    let t = TempVault::new();
    let mut s = t.create();
    s.add_key(Actor::Gui, okx("desk")).unwrap();
    let secret_of = |label: &str| -> Vec<u8> {
        rusqlite::Connection::open(t.path())
            .unwrap()
            .query_row("SELECT secret FROM keys WHERE label = ?1", [label], |r| {
                r.get(0)
            })
            .unwrap()
    };
    let blob_before = secret_of("desk");
    let new = MasterPassword::from("violet kettle orbit anchor");
    assert!(matches!(
        {
            let g = grant::<actions::ChangePassword>(&mut s);
            s.change_password(Actor::Gui, g, &MasterPassword::from("wrong"), &new)
        },
        Err(VaultError::WrongPassword)
    ));
    assert_eq!(
        secret_of("desk"),
        blob_before,
        "a refused change writes nothing"
    );
    let g = grant::<actions::ChangePassword>(&mut s);
    s.change_password(Actor::Gui, g, &password(), &new).unwrap();
    assert_ne!(
        secret_of("desk"),
        blob_before,
        "sealed again under a new key"
    );
    // The session goes on with the new key: old and new keys both work.
    s.add_key(Actor::Gui, binance("later")).unwrap();
    let verified = s.verify_password(&new).unwrap();
    let g = s
        .step_up::<actions::RevealSecret>(
            Actor::Cli,
            Some(keyward_core::mfa::Proof::MasterPassword(verified)),
        )
        .unwrap();
    assert_eq!(
        s.reveal(Actor::Cli, g, "desk").unwrap().secret.expose(),
        "okx-secret"
    );
    s.lock();
    let vault = Vault::open(&t.path()).unwrap();
    assert!(matches!(
        vault.unlock(&password()),
        Err(VaultError::WrongPassword)
    ));
    let mut s = vault.unlock(&new).unwrap();
    assert!(s.check_integrity().unwrap().is_ok());
    assert!(s.audit_problem().is_none());
    assert!(s.verify_audit().unwrap().is_ok());
    assert_eq!(s.list_keys().unwrap().len(), 2);
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
    let g = grant::<actions::SecuritySettings>(&mut s);
    s.set_settings(Actor::Gui, g, new).unwrap();
    let g = grant::<actions::SecuritySettings>(&mut s);
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

/// The one settings rule every front end follows (`keyward settings` and
/// the desktop's settings page both go through `settings_change` and
/// `apply_settings`): any change, the default rotation period included,
/// needs a security-settings step-up; nothing changed needs none; values
/// are checked before any step-up.
#[test]
fn every_settings_change_needs_the_security_settings_step_up() {
    let t = TempVault::new();
    let mut s = t.create();
    let entries = |s: &mut keyward_core::vault::Session| {
        s.audit_log(&keyward_core::audit::store::AuditFilter::all())
            .unwrap()
            .len()
    };
    let before = entries(&mut s);

    // Nothing changes: no step-up, nothing written.
    let same = s.settings_change(Settings::default()).unwrap();
    assert!(!same.needs_step_up());
    assert!(same.changed().is_empty());
    assert_eq!(
        s.apply_settings(Actor::Cli, same, None).unwrap(),
        Settings::default()
    );
    assert_eq!(entries(&mut s), before);

    // Each setting alone needs the grant; without it nothing is written.
    let changes = [
        Settings {
            auto_lock_minutes: 10,
            ..Settings::default()
        },
        Settings {
            clipboard_clear_seconds: 30,
            ..Settings::default()
        },
        Settings {
            step_up_window_seconds: 60,
            ..Settings::default()
        },
        // Raising the default rotation period silences rotation reminders
        // and overdue alerts: as gated as the alert settings.
        Settings {
            default_rotation_days: 3650,
            ..Settings::default()
        },
    ];
    for new in changes {
        let change = s.settings_change(new).unwrap();
        assert!(change.needs_step_up(), "{:?}", change.changed());
        assert_eq!(change.changed().len(), 1);
        assert!(matches!(
            s.apply_settings(Actor::Cli, change, None),
            Err(VaultError::Mfa(
                keyward_core::mfa::MfaError::StepUpRequired {
                    action: keyward_core::mfa::GatedAction::SecuritySettings
                }
            ))
        ));
        assert_eq!(s.settings().unwrap(), Settings::default());
    }
    assert_eq!(entries(&mut s), before);

    // An out-of-range value is refused before any step-up.
    assert!(matches!(
        s.settings_change(Settings {
            step_up_window_seconds: 301,
            ..Settings::default()
        }),
        Err(VaultError::Invalid(_))
    ));

    // With the grant the change is applied and audited with its proof.
    let change = s
        .settings_change(Settings {
            default_rotation_days: 45,
            ..Settings::default()
        })
        .unwrap();
    assert_eq!(change.changed(), ["default_rotation_days"]);
    let g = grant::<actions::SecuritySettings>(&mut s);
    let now = s.apply_settings(Actor::Cli, change, Some(g)).unwrap();
    assert_eq!(now.default_rotation_days, 45);
    let log = s
        .audit_log(&keyward_core::audit::store::AuditFilter::all())
        .unwrap();
    let last = log.last().unwrap();
    assert_eq!(last.action.as_str(), "settings_changed");
    assert_eq!(last.details_value()["proof"], "master_password");
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

#[test]
fn password_change_reseals_rotation_secrets_alerts_and_the_outbox() {
    use keyward_core::alerts::webhook::{WebhookKind, WebhookUrl};
    use keyward_core::incident::{self, Situation};
    use keyward_core::rotation::{self, NewRotationKey};
    let t = TempVault::new();
    // With the alerts hook, as the front ends open a vault: it queues the
    // incident's alert.
    let mut s = t.create_with(
        keyward_core::vault::VaultOptions::for_actor(Actor::Cli)
            .with_hook(keyward_core::alerts::hook()),
    );
    s.add_key(Actor::Gui, okx("desk")).unwrap();
    // A rotation holding a new secret, a sealed webhook and a queued alert.
    rotation::begin(&mut s, Actor::Cli, "desk").unwrap();
    rotation::enter_new_key(
        &mut s,
        Actor::Cli,
        "desk",
        NewRotationKey {
            api_key_id: "7d5c3b9f-4e2a-4f6b-8c8d-1e2f3a4b5c6d".into(),
            secret: "the next okx secret".into(),
            passphrase: Some("the next passphrase".into()),
            key_type: None,
        },
    )
    .unwrap();
    let g = grant::<actions::SecuritySettings>(&mut s);
    let url = WebhookUrl::parse("https://discord.com/api/webhooks/1/abc").unwrap();
    s.set_webhook(Actor::Cli, g, &url, Some(WebhookKind::Discord), None)
        .unwrap();
    incident::open(
        &mut s,
        Actor::Cli,
        Situation::Leaked,
        &["desk".into()],
        None,
    )
    .unwrap();
    assert_eq!(s.alert_settings().unwrap().pending, 1);
    let new = MasterPassword::from("violet kettle orbit anchor");
    let g = grant::<actions::ChangePassword>(&mut s);
    s.change_password(Actor::Cli, g, &password(), &new).unwrap();
    s.lock();
    let mut s = Vault::open(&t.path()).unwrap().unlock(&new).unwrap();
    assert!(s.audit_problem().is_none());
    assert!(s.check_integrity().unwrap().is_ok());
    let alerts = s.alert_settings().unwrap();
    assert_eq!(alerts.pending, 1, "the queued alert survives, MAC intact");
    assert!(alerts.webhook.is_some(), "the sealed webhook still opens");
    // The rotation's new secret opens under the new key (phase 1 of its
    // verify step unseals it).
    let pending = rotation::prepare_verify(&mut s, "desk", &Default::default());
    assert!(pending.is_ok(), "{:?}", pending.err());
}

/// Every front end gets the same master-password minimum: the core refuses
/// a weak one at creation and at a change, before writing anything.
#[test]
fn a_weak_master_password_is_refused_at_create_and_change() {
    let t = TempVault::new();
    for weak in ["a", "password", "123456"] {
        let err = Vault::create(
            &t.path(),
            &MasterPassword::from(weak),
            KdfParams::MINIMUM,
            Actor::Cli,
        )
        .unwrap_err();
        assert!(
            matches!(err, VaultError::WeakPassword(_)),
            "{weak:?}: {err}"
        );
        assert_eq!(err.kind(), keyward_core::ErrorKind::Invalid);
        assert!(
            err.to_string()
                .starts_with("the master password is too weak")
        );
        assert!(!t.path().exists(), "{weak:?}: nothing written");
    }
    let mut s = t.create();
    let g = grant::<actions::ChangePassword>(&mut s);
    let err = s
        .change_password(
            Actor::Gui,
            g,
            &password(),
            &MasterPassword::from("password"),
        )
        .unwrap_err();
    assert!(matches!(err, VaultError::WeakPassword(_)), "{err}");
    s.lock();
    Vault::open(&t.path()).unwrap().unlock(&password()).unwrap();
}
