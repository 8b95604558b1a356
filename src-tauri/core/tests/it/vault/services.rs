use std::time::{Duration, SystemTime};

use keyward_core::ErrorKind;
use keyward_core::KindedError;
use keyward_core::audit::{Action, store::AuditFilter};
use keyward_core::mfa::actions;
use keyward_core::model::{
    ChecklistItem, KeyEdit, LinkedService, NewService, ServiceKind, ServiceUpdate, ValidationError,
};
use keyward_core::vault::{
    Actor, BackupPassphrase, ConflictPolicy, ManualClock, VaultError, VaultOptions,
};

use crate::vault::support::{TempVault, binance, grant};

const T0: i64 = 1_700_000_000;

fn clocked(t: &TempVault) -> (keyward_core::vault::Session, ManualClock) {
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(T0 as u64));
    let s = t.create_with(VaultOptions::with_clock(clock.clone()));
    (s, clock)
}

fn platform(name: &str, host: &str) -> NewService {
    NewService {
        name: name.into(),
        kind: ServiceKind::ThirdPartyPlatform,
        host: Some(host.into()),
        notes: "DCA bots".into(),
    }
}

fn service_entries(s: &mut keyward_core::vault::Session) -> Vec<serde_json::Value> {
    s.audit_log(&AuditFilter::all().with_actions([Action::ServiceChanged]))
        .unwrap()
        .into_iter()
        .map(|e| serde_json::from_str(&e.details).unwrap())
        .collect()
}

#[test]
fn add_check_uncheck_update_remove_each_one_audit_entry() {
    let t = TempVault::new();
    let (mut s, clock) = clocked(&t);
    s.add_key(Actor::Cli, binance("main")).unwrap();

    let list = s
        .add_service(Actor::Gui, "main", platform(" 3Commas ", "API.3commas.io"))
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].name, "3Commas", "trimmed");
    assert_eq!(
        list[0].host.as_deref(),
        Some("api.3commas.io"),
        "normalized"
    );
    assert_eq!(list[0].checklist.done(), 0);

    clock.advance(Duration::from_secs(60));
    s.set_service_check(
        Actor::Gui,
        "main",
        "3commas",
        ChecklistItem::Reputation,
        true,
    )
    .unwrap();
    clock.advance(Duration::from_secs(60));
    let list = s
        .set_service_check(
            Actor::Gui,
            "main",
            "3commas",
            ChecklistItem::Compliance,
            true,
        )
        .unwrap();
    let c = &list[0].checklist;
    assert_eq!(c.checked_at(ChecklistItem::Reputation), Some(T0 + 60));
    assert_eq!(c.checked_at(ChecklistItem::Compliance), Some(T0 + 120));
    assert_eq!(c.checked_at(ChecklistItem::OpenSource), None);

    // Checking again keeps the first date and writes nothing.
    clock.advance(Duration::from_secs(60));
    let again = s
        .set_service_check(
            Actor::Gui,
            "main",
            "3commas",
            ChecklistItem::Reputation,
            true,
        )
        .unwrap();
    assert_eq!(
        again[0].checklist.checked_at(ChecklistItem::Reputation),
        Some(T0 + 60)
    );
    let list = s
        .set_service_check(
            Actor::Gui,
            "main",
            "3commas",
            ChecklistItem::Reputation,
            false,
        )
        .unwrap();
    assert_eq!(
        list[0].checklist.checked_at(ChecklistItem::Reputation),
        None
    );

    // Update keeps the checklist.
    let list = s
        .update_service(
            Actor::Cli,
            "main",
            "3COMMAS",
            ServiceUpdate {
                name: Some("3commas.io".into()),
                host: Some(None),
                ..ServiceUpdate::default()
            },
        )
        .unwrap();
    assert_eq!(list[0].name, "3commas.io");
    assert_eq!(list[0].host, None);
    assert_eq!(list[0].kind, ServiceKind::ThirdPartyPlatform);
    assert_eq!(
        list[0].checklist.checked_at(ChecklistItem::Compliance),
        Some(T0 + 120)
    );
    // An update that changes nothing writes nothing.
    s.update_service(
        Actor::Cli,
        "main",
        "3commas.io",
        ServiceUpdate {
            kind: Some(ServiceKind::ThirdPartyPlatform),
            ..ServiceUpdate::default()
        },
    )
    .unwrap();

    let detail = s.key_detail("main").unwrap();
    assert_eq!(detail.linked_services, list, "what was returned is stored");

    let list = s.remove_service(Actor::Cli, "main", "3commas.io").unwrap();
    assert!(list.is_empty());
    assert!(s.key_detail("main").unwrap().linked_services.is_empty());

    let entries = service_entries(&mut s);
    let changes: Vec<(&str, &str)> = entries
        .iter()
        .map(|d| {
            (
                d["change"].as_str().unwrap(),
                d["service"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("added", "3Commas"),
            ("checked", "3Commas"),
            ("checked", "3Commas"),
            ("unchecked", "3Commas"),
            ("updated", "3commas.io"),
            ("removed", "3commas.io"),
        ]
    );
    assert_eq!(entries[1]["item"], "reputation");
    assert_eq!(entries[4]["fields"], serde_json::json!(["name", "host"]));
    // Neither the host nor the notes reach the log.
    let log = serde_json::to_string(&entries).unwrap();
    assert!(!log.contains("api.3commas.io") && !log.contains("DCA bots"));
    assert!(s.verify_audit().unwrap().is_ok());
}

#[test]
fn bad_input_is_a_specific_error_and_writes_nothing() {
    let t = TempVault::new();
    let mut s = t.create();
    s.add_key(Actor::Cli, binance("main")).unwrap();
    s.add_service(Actor::Cli, "main", platform("bot", "10.0.0.5"))
        .unwrap();
    let before = s.key_detail("main").unwrap().linked_services;
    let entries_before = service_entries(&mut s).len();

    let add = |s: &mut keyward_core::vault::Session, svc: NewService| {
        s.add_service(Actor::Cli, "main", svc).unwrap_err()
    };
    let invalid = |e: VaultError| match e {
        VaultError::Invalid(v) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        invalid(add(&mut s, platform("  ", "x.io"))),
        ValidationError::EmptyServiceName
    );
    assert_eq!(
        invalid(add(&mut s, platform(&"n".repeat(65), "x.io"))),
        ValidationError::ServiceNameTooLong
    );
    assert_eq!(
        invalid(add(&mut s, platform("BOT", "x.io"))),
        ValidationError::DuplicateService { name: "BOT".into() }
    );
    assert!(matches!(
        invalid(add(&mut s, platform("web", "https://x.io/"))),
        ValidationError::BadServiceHost { .. }
    ));
    let mut long_notes = platform("web", "x.io");
    long_notes.notes = "n".repeat(1001);
    assert_eq!(
        invalid(add(&mut s, long_notes)),
        ValidationError::BadServiceNotes
    );
    // Renaming onto another service's name.
    s.add_service(Actor::Cli, "main", platform("other", "x.io"))
        .unwrap();
    let err = s
        .update_service(
            Actor::Cli,
            "main",
            "other",
            ServiceUpdate {
                name: Some("Bot".into()),
                ..ServiceUpdate::default()
            },
        )
        .unwrap_err();
    assert!(matches!(
        err,
        VaultError::Invalid(ValidationError::DuplicateService { .. })
    ));
    s.remove_service(Actor::Cli, "main", "other").unwrap();

    // Unknown service and unknown key are not-found errors.
    let err = s
        .set_service_check(Actor::Cli, "main", "nope", ChecklistItem::Reputation, true)
        .unwrap_err();
    assert!(matches!(err, VaultError::ServiceNotFound { .. }));
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = s.remove_service(Actor::Cli, "ghost", "bot").unwrap_err();
    assert!(matches!(err, VaultError::KeyNotFound { .. }));
    // Unknown checklist items and kinds are refused when parsed.
    assert!(matches!(
        "vibes".parse::<ChecklistItem>(),
        Err(ValidationError::UnknownChecklistItem { .. })
    ));

    assert_eq!(s.key_detail("main").unwrap().linked_services, before);
    // The two successful writes around the rename test only.
    assert_eq!(service_entries(&mut s).len(), entries_before + 2);
}

#[test]
fn locked_vault_is_a_typed_error() {
    let t = TempVault::new();
    let (mut s, clock) = clocked(&t);
    s.add_key(Actor::Cli, binance("main")).unwrap();
    clock.advance(Duration::from_secs(3600));
    let err = s
        .add_service(Actor::Cli, "main", platform("bot", "x.io"))
        .unwrap_err();
    assert!(matches!(err, VaultError::Locked), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Locked);
}

#[test]
fn search_matches_service_names_and_hosts_not_other_fields() {
    let t = TempVault::new();
    let mut s = t.create();
    s.add_key(Actor::Cli, binance("main")).unwrap();
    let mut k = binance("second");
    k.api_key_id = "zZPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A".into();
    k.linked_services = vec!["tax export".into()];
    s.add_key(Actor::Cli, k).unwrap();
    s.add_service(
        Actor::Cli,
        "main",
        platform("Grid Runner", "vps7.example.net"),
    )
    .unwrap();
    let labels = |s: &mut keyward_core::vault::Session, q: &str| -> Vec<String> {
        s.search_keys(q)
            .unwrap()
            .into_iter()
            .map(|k| k.label)
            .collect()
    };
    assert_eq!(labels(&mut s, "grid run"), ["main"]);
    assert_eq!(labels(&mut s, "vps7"), ["main"]);
    assert_eq!(labels(&mut s, "tax"), ["second"]);
    // The stored JSON's own words are not matched.
    assert!(labels(&mut s, "third_party").is_empty());
    assert!(labels(&mut s, "checklist").is_empty());
    assert!(
        labels(&mut s, "DCA").is_empty(),
        "service notes are not searched"
    );
    // Characters JSON escapes in the stored text still match.
    s.add_service(
        Actor::Cli,
        "second",
        NewService {
            name: r#"the "quoted" \ bot"#.into(),
            kind: ServiceKind::Script,
            host: None,
            notes: String::new(),
        },
    )
    .unwrap();
    assert_eq!(labels(&mut s, r#""quoted" \"#), ["second"]);
}

#[test]
fn edit_by_names_keeps_records_and_health_counts_services() {
    let t = TempVault::new();
    let mut s = t.create();
    s.add_key(Actor::Cli, binance("main")).unwrap();
    s.add_service(Actor::Cli, "main", platform("3commas", "api.3commas.io"))
        .unwrap();
    s.set_service_check(
        Actor::Cli,
        "main",
        "3commas",
        ChecklistItem::OpenSource,
        true,
    )
    .unwrap();
    let edit = KeyEdit {
        linked_services: Some(vec!["3Commas".into(), "tax script".into()]),
        ..KeyEdit::default()
    };
    let d = s.edit_key(Actor::Cli, "main", edit, None).unwrap();
    assert_eq!(d.linked_services.len(), 2);
    assert_eq!(d.linked_services[0].kind, ServiceKind::ThirdPartyPlatform);
    assert!(
        d.linked_services[0]
            .checklist
            .checked_at(ChecklistItem::OpenSource)
            .is_some()
    );
    assert_eq!(d.linked_services[1], LinkedService::named("tax script"));

    let report = keyward_core::health::report_for(&mut s, T0, &[]).unwrap();
    let rules: Vec<String> = report
        .findings
        .iter()
        .map(|f| {
            serde_json::to_value(f.rule)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        rules.contains(&"shared_across_services".to_owned()),
        "{rules:?}"
    );
    assert!(
        rules.contains(&"vendor_checklist_incomplete".to_owned()),
        "{rules:?}"
    );
}

#[test]
fn backups_carry_structured_services() {
    let t = TempVault::new();
    let mut s = t.create();
    s.add_key(Actor::Cli, binance("main")).unwrap();
    s.add_service(Actor::Cli, "main", platform("3commas", "api.3commas.io"))
        .unwrap();
    let services = s
        .set_service_check(
            Actor::Cli,
            "main",
            "3commas",
            ChecklistItem::Compliance,
            true,
        )
        .unwrap();
    let out = t.dir.path().join("b.kwbackup");
    let pass = BackupPassphrase::from("backup passphrase for services");
    let g = grant::<actions::Export>(&mut s);
    s.export_backup(Actor::Cli, g, &out, &pass).unwrap();

    let t2 = TempVault::new();
    let mut s2 = t2.create();
    s2.import_backup(Actor::Cli, &out, &pass, ConflictPolicy::Skip, None)
        .unwrap();
    assert_eq!(s2.key_detail("main").unwrap().linked_services, services);
}
