use secrecy::{ExposeSecret, SecretString};

use super::bundle::decode_for_tests;
use super::flow::Delivered;
use super::target::parse_ssh_for_tests;
use super::*;
use crate::error::{ErrorKind, KindedError};
use crate::mfa::Proof;
use crate::mfa::actions::{Deploy, DeployTargets};
use crate::model::{ApiSecret, Exchange, NewKey};
use crate::vault::{Actor, KdfParams, MasterPassword, Session, Vault};

const PW: &str = "correct horse battery staple";
const CANARY: &str = "canary-secret-7f3a9c";

fn vault(dir: &tempfile::TempDir) -> Session {
    vault_with(dir, crate::vault::VaultOptions::default())
}

/// The test vault with one key, `bot`, on `options` (e.g. a stopped clock).
fn vault_with(dir: &tempfile::TempDir, options: crate::vault::VaultOptions) -> Session {
    let pw = MasterPassword::from(PW);
    let mut s =
        Vault::create_with(&dir.path().join("v"), &pw, KdfParams::MINIMUM, options).unwrap();
    s.add_key(
        Actor::Cli,
        NewKey::new(
            "bot",
            Exchange::Binance,
            "K".repeat(64),
            ApiSecret::from(CANARY),
        ),
    )
    .unwrap();
    s
}

fn grant<A: crate::mfa::actions::Gated>(s: &mut Session) -> crate::mfa::StepUpGrant<A> {
    let proof = Proof::MasterPassword(s.verify_password(&MasterPassword::from(PW)).unwrap());
    s.step_up::<A>(Actor::Cli, Some(proof)).unwrap()
}

fn add_target(s: &mut Session, recipient: &str) -> DeployTarget {
    let g = grant::<DeployTargets>(s);
    s.add_deploy_target(
        Actor::Cli,
        g,
        &NewTarget {
            name: "box".into(),
            ssh: "bot@127.0.0.1:2222".into(),
            remote_path: "/srv/bot/".into(),
            recipient: recipient.into(),
        },
    )
    .unwrap()
}

#[test]
fn ssh_specs_are_parsed_and_checked() {
    assert_eq!(
        parse_ssh_for_tests("bot@example.net").unwrap(),
        ("bot".into(), "example.net".into(), 22)
    );
    assert_eq!(
        parse_ssh_for_tests("bot@10.0.0.1:2200").unwrap(),
        ("bot".into(), "10.0.0.1".into(), 2200)
    );
    assert_eq!(
        parse_ssh_for_tests("bot@[::1]:2200").unwrap(),
        ("bot".into(), "::1".into(), 2200)
    );
    for bad in [
        "example.net",
        "bot@",
        "@host",
        "-oProxyCommand=x@host",
        "bot@-oProxyCommand=x",
        "bot@host:0",
        "bot@host:99999",
        "bot@ho st",
    ] {
        assert!(parse_ssh_for_tests(bad).is_err(), "{bad}");
    }
}

#[test]
fn names_and_recipients_are_checked() {
    let (_, recipient) = new_identity();
    let ok = NewTarget {
        name: "bots-1".into(),
        ssh: "u@h".into(),
        remote_path: "bots".into(),
        recipient: recipient.clone(),
    };
    assert!(ok.check().is_ok());
    for name in ["", "-x", ".x", "a/b", "a b"] {
        let t = NewTarget {
            name: name.into(),
            ..ok.clone()
        };
        assert_eq!(
            t.check().err().unwrap().kind(),
            ErrorKind::Invalid,
            "{name}"
        );
    }
    for r in ["age1nope", "ssh-rsa AAAA", "hello", ""] {
        let t = NewTarget {
            recipient: r.into(),
            ..ok.clone()
        };
        assert!(t.check().is_err(), "{r}");
    }
    let t = NewTarget {
        remote_path: "a\nb".into(),
        ..ok
    };
    assert!(t.check().is_err());
}

#[test]
fn a_bundle_opens_only_with_its_identity_and_only_untouched() {
    let (identity, recipient) = new_identity();
    let bundle = Bundle {
        vars: vec![BundleVar {
            name: "BINANCE_API_SECRET".into(),
            value: SecretString::from(CANARY.to_owned()),
        }],
    };
    let sealed = bundle.seal(&recipient).unwrap();
    assert!(!sealed.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()));
    let id = identity.expose_secret().as_bytes();
    let opened = open_bundle(&sealed, id, "b", "i").unwrap();
    assert_eq!(opened.vars.len(), 1);
    assert_eq!(opened.vars[0].name, "BINANCE_API_SECRET");
    assert_eq!(opened.vars[0].value.expose_secret(), CANARY);

    let (other, _) = new_identity();
    let err = open_bundle(&sealed, other.expose_secret().as_bytes(), "b", "i").unwrap_err();
    assert!(matches!(err, DeployError::WrongIdentity { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Locked);

    let mut tampered = sealed.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let err = open_bundle(&tampered, id, "b", "i").unwrap_err();
    assert!(matches!(err, DeployError::TamperedBundle { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Integrity);
    let err = open_bundle(b"not an age file", id, "b", "i").unwrap_err();
    assert!(matches!(err, DeployError::TamperedBundle { .. }), "{err:?}");
    let err = open_bundle(&sealed, b"garbage", "b", "i").unwrap_err();
    assert!(matches!(err, DeployError::BadIdentity { .. }), "{err:?}");
    // Trailing or missing bytes in the plaintext are refused too.
    assert!(decode_for_tests(b"keyward-bundle v1\n\0\0\0\x01").is_none());
    assert!(decode_for_tests(b"keyward-bundle v1\n\0\0\0\0x").is_none());
    assert!(decode_for_tests(b"keyward-bundle v1\n\0\0\0\0").is_some());
}

#[test]
fn targets_are_stored_granted_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = vault(&dir);
    let (_, recipient) = new_identity();
    let t = add_target(&mut s, &recipient);
    assert_eq!((t.port, t.remote_path.as_str()), (2222, "/srv/bot"));
    assert_eq!(t.remote_file(), "/srv/bot/box.age");
    let g = grant::<DeployTargets>(&mut s);
    let t = s
        .grant_deploy_target(Actor::Cli, g, "box", "bot", true)
        .unwrap();
    assert_eq!(t.keys.len(), 1);
    assert_eq!(s.deploy_targets_of("bot").unwrap().len(), 1);
    assert_eq!(s.deploy_targets_of("bot").unwrap()[0].deployed_at, None);
    // Adding the same name again is refused.
    let g = grant::<DeployTargets>(&mut s);
    let err = s
        .add_deploy_target(
            Actor::Cli,
            g,
            &NewTarget {
                name: "box".into(),
                ssh: "u@h".into(),
                remote_path: "/x".into(),
                recipient: recipient.clone(),
            },
        )
        .unwrap_err();
    assert!(matches!(err, DeployError::TargetExists { .. }), "{err:?}");
    let g = grant::<DeployTargets>(&mut s);
    s.grant_deploy_target(Actor::Cli, g, "box", "bot", false)
        .unwrap();
    assert!(s.deploy_targets_of("bot").unwrap().is_empty());
    let g = grant::<DeployTargets>(&mut s);
    s.remove_deploy_target(Actor::Cli, g, "box").unwrap();
    assert!(s.deploy_targets().unwrap().is_empty());
    let names: Vec<&str> = s
        .audit_log(&crate::audit::store::AuditFilter::all())
        .unwrap()
        .iter()
        .map(|e| e.action.as_str())
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    assert!(names.contains(&"deploy_target_added"), "{names:?}");
    assert!(names.contains(&"deploy_target_changed"), "{names:?}");
}

#[test]
fn a_changed_host_or_recipient_or_a_forged_grant_is_refused() {
    for (column, value) in [
        ("host", "evil.example"),
        ("port", "22"),
        ("remote_path", "/tmp"),
        (
            "recipient",
            "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq",
        ),
        ("host_key", "ssh-ed25519 AAAA"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut s = vault(&dir);
        let (_, recipient) = new_identity();
        add_target(&mut s, &recipient);
        let g = grant::<DeployTargets>(&mut s);
        s.grant_deploy_target(Actor::Cli, g, "box", "bot", true)
            .unwrap();
        s.conn()
            .execute(&format!("UPDATE deploy_targets SET {column} = ?1"), [value])
            .unwrap();
        let err = s.deploy_targets().unwrap_err();
        assert!(
            matches!(err, DeployError::Tampered { .. }),
            "{column}: {err:?}"
        );
        assert_eq!(err.kind(), ErrorKind::Integrity);
        let g = grant::<Deploy>(&mut s);
        let err = s.prepare_deploy(g, "bot", "box").unwrap_err();
        assert!(
            matches!(err, DeployError::Tampered { .. }),
            "{column}: {err:?}"
        );
    }

    // A grant row written by hand.
    let dir = tempfile::tempdir().unwrap();
    let mut s = vault(&dir);
    let (_, recipient) = new_identity();
    add_target(&mut s, &recipient);
    s.conn()
        .execute(
            "INSERT INTO deploy_grants (target_id, key_id, granted_at, mac)
             SELECT t.id, k.id, 0, x'00' FROM deploy_targets t, keys k",
            [],
        )
        .unwrap();
    let g = grant::<Deploy>(&mut s);
    let err = s.prepare_deploy(g, "bot", "box").unwrap_err();
    assert!(matches!(err, DeployError::Tampered { .. }), "{err:?}");
}

#[test]
fn only_granted_keys_are_sealed_and_only_to_the_recipient() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = vault(&dir);
    s.add_key(
        Actor::Cli,
        NewKey::new(
            "other",
            Exchange::Other,
            "id2",
            ApiSecret::from("not-granted-secret"),
        ),
    )
    .unwrap();
    let (identity, recipient) = new_identity();
    add_target(&mut s, &recipient);
    let g = grant::<Deploy>(&mut s);
    let err = s.prepare_deploy(g, "bot", "box").unwrap_err();
    assert!(matches!(err, DeployError::NotGranted { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Invalid);

    let g = grant::<DeployTargets>(&mut s);
    s.grant_deploy_target(Actor::Cli, g, "box", "bot", true)
        .unwrap();
    let g = grant::<Deploy>(&mut s);
    let err = s.prepare_deploy(g, "other", "box").unwrap_err();
    assert!(matches!(err, DeployError::NotGranted { .. }), "{err:?}");
    let g = grant::<Deploy>(&mut s);
    let prepared = s.prepare_deploy(g, "bot", "box").unwrap();
    assert_eq!(prepared.labels(), ["bot"]);
    let opened = open_bundle(
        &prepared.sealed_for_tests(),
        identity.expose_secret().as_bytes(),
        "b",
        "i",
    )
    .unwrap();
    let names: Vec<&str> = opened.vars.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["BINANCE_API_KEY", "BINANCE_API_SECRET"]);
    assert_eq!(opened.vars[1].value.expose_secret(), CANARY);

    let unpinned_mac: Vec<u8> = s
        .conn()
        .query_row("SELECT mac FROM deploy_targets", [], |r| r.get(0))
        .unwrap();
    // Recording pins the host key and the delivery time, audited.
    let target = s
        .record_deploy(
            Actor::Cli,
            Delivered {
                prepared,
                newly_pinned: Some("ssh-ed25519 AAAAtest".into()),
            },
        )
        .unwrap();
    assert_eq!(target.host_key.as_deref(), Some("ssh-ed25519 AAAAtest"));
    assert!(target.keys[0].deployed_at.is_some());
    let entries = s
        .audit_log(&crate::audit::store::AuditFilter::all())
        .unwrap();
    let deployed: Vec<_> = entries
        .iter()
        .filter(|e| e.action == crate::audit::Action::KeyDeployed)
        .collect();
    assert_eq!(deployed.len(), 1);
    assert_eq!(deployed[0].key_label.as_deref(), Some("bot"));
    for e in &entries {
        assert!(!e.details.contains(CANARY));
    }

    // Putting the row back to its unpinned state (a valid older MAC) does
    // not pin again blindly: the chain remembers the pin.
    s.conn()
        .execute(
            "UPDATE deploy_targets SET host_key = NULL, mac = ?1",
            [&unpinned_mac],
        )
        .unwrap();
    assert_eq!(s.deploy_targets().unwrap()[0].host_key, None);
    let g = grant::<Deploy>(&mut s);
    assert!(matches!(
        s.prepare_deploy(g, "bot", "box").unwrap_err(),
        DeployError::Tampered { .. }
    ));
}

#[test]
fn the_remote_command_quotes_paths_and_renames_atomically() {
    let t = DeployTarget {
        name: "box".into(),
        user: "u".into(),
        host: "h".into(),
        port: 22,
        remote_path: "/srv/my bots".into(),
        recipient: String::new(),
        host_key: None,
        created_at: 0,
        keys: Vec::new(),
    };
    let cmd = super::ssh::remote_command_for_tests(&t);
    assert!(cmd.contains("umask 077"), "{cmd}");
    assert!(
        cmd.contains("cat > '/srv/my bots/.box.age.n0nce.tmp'"),
        "{cmd}"
    );
    assert!(
        cmd.contains("chmod 600 -- '/srv/my bots/.box.age.n0nce.tmp'"),
        "{cmd}"
    );
    assert!(
        cmd.contains("mv -f -- '/srv/my bots/.box.age.n0nce.tmp' '/srv/my bots/box.age'"),
        "{cmd}"
    );
}

#[test]
fn the_vault_does_not_import_deploy() {
    let naming = crate::vault::sources_naming(&["crate::deploy", "super::super::deploy"]);
    assert!(naming.is_empty(), "{naming:?}");
}

#[test]
fn targets_survive_a_master_password_change_and_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = vault(&dir);
    let (_, recipient) = new_identity();
    add_target(&mut s, &recipient);
    let g = grant::<DeployTargets>(&mut s);
    s.grant_deploy_target(Actor::Cli, g, "box", "bot", true)
        .unwrap();
    let g = grant::<crate::mfa::actions::ChangePassword>(&mut s);
    let new = MasterPassword::from("a completely different passphrase 42");
    s.change_password(Actor::Cli, g, &MasterPassword::from(PW), &new)
        .unwrap();
    assert_eq!(s.deploy_targets().unwrap()[0].keys.len(), 1);
    s.lock();
    let mut s = Vault::open(&dir.path().join("v"))
        .unwrap()
        .unlock(&new)
        .unwrap();
    let t = s.deploy_targets().unwrap();
    assert_eq!(t[0].name, "box");
    assert_eq!(t[0].keys[0].label, "bot");
}

/// A closed loopback port: bound, then released.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn a_rotated_key_follows_only_to_the_targets_that_hold_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = vault(&dir);
    let (identity, recipient) = new_identity();
    let port = closed_port();
    for name in ["box", "spare"] {
        let g = grant::<DeployTargets>(&mut s);
        s.add_deploy_target(
            Actor::Cli,
            g,
            &NewTarget {
                name: name.into(),
                ssh: format!("bot@127.0.0.1:{port}"),
                remote_path: "/srv/bot".into(),
                recipient: recipient.clone(),
            },
        )
        .unwrap();
        let g = grant::<DeployTargets>(&mut s);
        s.grant_deploy_target(Actor::Cli, g, name, "bot", true)
            .unwrap();
    }
    // Granted to both, delivered to "box" only: only "box" holds the key.
    assert!(s.deployments_holding("bot").unwrap().is_empty());
    let g = grant::<Deploy>(&mut s);
    let prepared = s.prepare_deploy(g, "bot", "box").unwrap();
    s.record_deploy(
        Actor::Cli,
        Delivered {
            prepared,
            newly_pinned: Some("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE".into()),
        },
    )
    .unwrap();
    assert_eq!(s.deployments_holding("bot").unwrap(), ["box"]);
    let before = s.deploy_targets().unwrap();

    // The bundle for a holder carries the key; a target not granted it is
    // reported, named, and nothing is sealed for it.
    let proof = grant::<Deploy>(&mut s).method();
    let mut follow = s.prepare_follow(proof, "bot", &["box".into()]);
    assert_eq!(follow.len(), 1);
    let FollowDeploy(Ok(p)) = &follow[0] else {
        panic!("not prepared: {:?}", follow[0]);
    };
    let opened = open_bundle(
        &p.sealed_for_tests(),
        identity.expose_secret().as_bytes(),
        "b",
        "i",
    )
    .unwrap();
    assert_eq!(opened.vars[1].value.expose_secret(), CANARY);
    let g = grant::<DeployTargets>(&mut s);
    s.grant_deploy_target(Actor::Cli, g, "spare", "bot", false)
        .unwrap();
    let refused = s.prepare_follow(proof, "bot", &["spare".into()]);
    let FollowDeploy(Err(d)) = &refused[0] else {
        panic!("sealed for a target not granted the key");
    };
    assert_eq!(d.target, "spare");
    assert!(!d.delivered);
    assert!(d.error.as_deref().unwrap().contains("not granted"));

    // Unreachable: the outcome names the target and the cause, nothing is
    // recorded, and the rest of the list is still tried.
    follow.extend(refused);
    let opts = SshOptions {
        known_hosts_dir: dir.path().join("ssh"),
        connect_timeout: 2,
        extra: vec!["-F".into(), "/dev/null".into()],
        ..SshOptions::default()
    };
    let out = deliver_followed(&mut &mut s, Actor::Cli, follow, &opts).await;
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].target, "box");
    assert!(!out[0].delivered);
    let err = out[0].error.as_deref().unwrap();
    assert!(err.contains("box") && err.contains("cannot reach"), "{err}");
    assert_eq!(out[0].address, format!("127.0.0.1:{port}"));
    assert_eq!(out[0].remote_file, "/srv/bot/box.age");
    let after = s.deploy_targets().unwrap();
    assert_eq!(after[0], before[0]);
    assert!(!serde_json::to_string(&out).unwrap().contains(CANARY));
}

#[test]
fn the_integrity_check_finds_changed_and_deleted_deployment_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = vault(&dir);
    let (_, recipient) = new_identity();
    for name in ["box", "spare", "gone"] {
        let g = grant::<DeployTargets>(&mut s);
        s.add_deploy_target(
            Actor::Cli,
            g,
            &NewTarget {
                name: name.into(),
                ssh: "bot@127.0.0.1:2222".into(),
                remote_path: "/srv/bot".into(),
                recipient: recipient.clone(),
            },
        )
        .unwrap();
        let g = grant::<DeployTargets>(&mut s);
        s.grant_deploy_target(Actor::Cli, g, name, "bot", true)
            .unwrap();
    }
    // Removed and withdrawn through Keyward: nothing to report.
    let g = grant::<DeployTargets>(&mut s);
    s.remove_deploy_target(Actor::Cli, g, "gone").unwrap();
    let g = grant::<DeployTargets>(&mut s);
    s.grant_deploy_target(Actor::Cli, g, "spare", "bot", false)
        .unwrap();
    assert_eq!(s.check_deploy_integrity().unwrap(), []);

    // A grant row deleted by hand: a rotation would skip that server.
    s.conn()
        .execute(
            "DELETE FROM deploy_grants WHERE target_id =
             (SELECT id FROM deploy_targets WHERE name = 'box')",
            [],
        )
        .unwrap();
    let found = s.check_deploy_integrity().unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].label, "grant of bot to deployment target box");
    assert_eq!(found[0].fields, ["deleted"]);

    // A target row deleted by hand, and one changed: both named.
    s.conn()
        .execute("DELETE FROM deploy_targets WHERE name = 'spare'", [])
        .unwrap();
    s.conn()
        .execute(
            "UPDATE deploy_targets SET host = '203.0.113.66' WHERE name = 'box'",
            [],
        )
        .unwrap();
    let found = s.check_deploy_integrity().unwrap();
    let named: Vec<(&str, &str)> = found
        .iter()
        .map(|d| (d.label.as_str(), d.fields[0]))
        .collect();
    assert!(
        named.contains(&("deployment target box", "row")),
        "{named:?}"
    );
    assert!(
        named.contains(&("deployment target spare", "deleted")),
        "{named:?}"
    );
    assert!(
        named.contains(&("grant of bot to deployment target box", "deleted")),
        "{named:?}"
    );
}

/// A key marked as its account's manager key after it was granted: the
/// whole bundle is refused (the target keeps what it had).
#[test]
fn a_key_marked_manager_after_its_grant_is_never_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = vault(&dir);
    let (_identity, recipient) = new_identity();
    add_target(&mut s, &recipient);
    let g = grant::<DeployTargets>(&mut s);
    s.grant_deploy_target(Actor::Cli, g, "box", "bot", true)
        .unwrap();
    crate::managed::store::write_manager(
        &mut s,
        Actor::Cli,
        crate::mfa::ProofMethod::MasterPassword,
        "bot",
        true,
    )
    .unwrap();
    let g = grant::<Deploy>(&mut s);
    let err = s.prepare_deploy(g, "bot", "box").unwrap_err();
    assert!(matches!(err, DeployError::ManagerKey { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(!err.to_string().contains(CANARY));
}

/// Which servers still hold the old key follows the order of the audit
/// chain, not the clock: on a stopped clock, a delivery before the
/// promotion is behind, the next delivery is not.
#[test]
fn behind_is_decided_by_the_audit_order_not_the_clock() {
    use crate::vault::{ManualClock, VaultOptions};
    let dir = tempfile::tempdir().unwrap();
    let clock =
        ManualClock::new(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000));
    let mut s = vault_with(&dir, VaultOptions::with_clock(clock));
    let (_, recipient) = new_identity();
    add_target(&mut s, &recipient);
    let g = grant::<DeployTargets>(&mut s);
    s.grant_deploy_target(Actor::Cli, g, "box", "bot", true)
        .unwrap();
    let deliver = |s: &mut Session| {
        let g = grant::<Deploy>(s);
        let prepared = s.prepare_deploy(g, "bot", "box").unwrap();
        s.record_deploy(
            Actor::Cli,
            Delivered {
                prepared,
                newly_pinned: None,
            },
        )
        .unwrap();
    };
    deliver(&mut s);
    assert!(s.deployments_behind("bot").unwrap().is_empty());
    // The promotion's entry, in the same second as the delivery.
    let id = s.key_detail("bot").unwrap().summary.id;
    s.write(
        Actor::Cli,
        |_| {
            crate::audit::Event::new(crate::audit::Action::RotationPromoted)
                .with_key(id, "bot".to_owned())
        },
        |_, _| Ok(()),
    )
    .unwrap();
    assert_eq!(s.deployments_behind("bot").unwrap(), ["box"]);
    assert!(s.deploy_targets_of("bot").unwrap()[0].holds_old_key);
    deliver(&mut s);
    assert!(s.deployments_behind("bot").unwrap().is_empty());
    assert!(!s.deploy_targets_of("bot").unwrap()[0].holds_old_key);
}
