//! Cancelling an automated rotation stopped after its new key was stored:
//! the plain cancel is refused (it would leave the created key live with
//! nobody holding its secret); the step-up cancel deletes that key through
//! the manager key and proves it dead before recording the cancel; an
//! exchange that cannot be reached changes nothing and the rotation goes
//! on.

use keyward_core::model::mask_key_id;

use super::*;

/// Runs the automated rotation of `c` until its new key is stored (the
/// next call fails), and returns the created key's id.
async fn stop_after_stored(f: &mut Fixture, c: &Case) -> String {
    if c.lists_keys {
        let g = f.grant::<actions::UseManager>();
        let env = Environment::Custom(f.sim.url(c.sim));
        managed::inventory(&mut f.session, &f.client, Actor::Cli, g, c.exchange, &env)
            .await
            .unwrap();
    }
    let before = f.sim.live_keys(c.sim);
    let mut fault = Fault::new(FaultKind::ServerError).on(c.sim);
    fault.path_contains = Some(c.stop_path.into());
    fault.count = 0;
    f.sim.add_fault(fault);
    let _ = f.rotate(c.label).await;
    f.sim.clear_faults();
    let view = rotation::status(&mut f.session, c.label).unwrap();
    assert_eq!(view.state, RotationState::NewKeyEntered, "{}", c.label);
    assert!(view.cancel_deletes_key, "{}", c.label);
    let created: Vec<String> = f
        .sim
        .live_keys(c.sim)
        .into_iter()
        .filter(|k| !before.contains(k))
        .collect();
    assert_eq!(created.len(), 1, "{}: {created:?}", c.label);
    created.into_iter().next().unwrap()
}

/// Nothing changed: the rotation still open with its new key stored, the
/// created key and the old key live, the old key still the vault's.
async fn unchanged(f: &mut Fixture, c: &Case, new_id: &str) {
    let view = rotation::status(&mut f.session, c.label).unwrap();
    assert_eq!(view.state, RotationState::NewKeyEntered, "{}", c.label);
    assert!(f.sim.live_keys(c.sim).contains(&new_id.to_owned()));
    assert!(f.old_live(c).await, "{}", c.label);
    assert_eq!(f.session.key_detail(c.label).unwrap().api_key_id, c.old_id);
    assert_eq!(f.entries(c.label, Action::RotationCancelled), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_an_automated_rotation_deletes_its_created_key_first() {
    let mut f = Fixture::new().await;
    f.mark_managers().await;
    for c in cases() {
        let new_id = stop_after_stored(&mut f, &c).await;
        // The plain cancel is refused, naming the step-up command.
        let e = rotation::cancel(&mut f.session, Actor::Cli, c.label).unwrap_err();
        assert!(matches!(e, RotationError::CreatedKeyLive { .. }), "{e}");
        assert_eq!(e.kind(), ErrorKind::Mfa);
        assert!(e.to_string().contains("--totp"), "{e}");
        // Closing it as failed would erase the secret the same way.
        let e = rotation::fail(&mut f.session, Actor::Cli, c.label, "given up").unwrap_err();
        assert!(matches!(e, RotationError::CreatedKeyLive { .. }), "{e}");
        // No grant without a proof.
        let e = f
            .session
            .step_up::<actions::AutoRotate>(Actor::Cli, None)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Mfa);
        unchanged(&mut f, &c, &new_id).await;
        // The exchange cannot be reached: nothing changes.
        let mut down = Fault::new(FaultKind::ServerError).on(c.sim);
        down.count = 0;
        f.sim.add_fault(down);
        let g = f.grant::<actions::AutoRotate>();
        let e = rotation::cancel_auto(&mut f.session, &f.client, Actor::Cli, g, c.label)
            .await
            .unwrap_err();
        f.sim.clear_faults();
        assert_eq!(e.kind(), ErrorKind::Exchange, "{}: {e}", c.label);
        assert!(e.to_string().contains("nothing changed"), "{e}");
        unchanged(&mut f, &c, &new_id).await;
        // With the grant: the created key deleted and proven dead, then
        // the rotation cancelled.
        let g = f.grant::<actions::AutoRotate>();
        let out = rotation::cancel_auto(&mut f.session, &f.client, Actor::Cli, g, c.label)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", c.label));
        assert_eq!(out.rotation.state, RotationState::Cancelled);
        assert!(!out.rotation.cancel_deletes_key);
        let deleted = out.deleted.as_ref().unwrap();
        assert_eq!(deleted.key, mask_key_id(&new_id));
        assert!(!deleted.confirmation.is_empty());
        assert!(out.check_by_hand.is_none());
        assert!(
            !f.sim.live_keys(c.sim).contains(&new_id),
            "{}: the created key still works",
            c.label
        );
        let found = f
            .endpoint(&c)
            .locate_sub_key(&Fixture::master(&c), &new_id)
            .await
            .unwrap();
        assert!(found.is_none(), "{}: the created key is listed", c.label);
        if c.lists_keys {
            assert_eq!(f.sub_keys(&c).await, vec![c.old_id.clone()], "{}", c.label);
        }
        // The old key still works and is still the vault's key.
        assert!(f.old_live(&c).await, "{}", c.label);
        assert_eq!(f.session.key_detail(c.label).unwrap().api_key_id, c.old_id);
        assert!(f.stored_works(c.label).await.authenticated, "{}", c.label);
        // Audited: the cancel names the deleted key, after its baseline.
        assert_eq!(f.entries(c.label, Action::RotationCancelled), 1);
        assert!(f.entries(c.label, Action::RevocationBaseline) >= 1);
        let cancelled = f
            .session
            .audit_log(&AuditFilter::all().with_actions([Action::RotationCancelled]))
            .unwrap()
            .into_iter()
            .rfind(|e| e.key_label.as_deref() == Some(c.label))
            .unwrap();
        let details = cancelled.details_value();
        assert_eq!(
            details["deleted"],
            serde_json::json!([mask_key_id(&new_id)]),
            "{}",
            c.label
        );
        assert_eq!(details["deleted_by"], "manager_key");
        let said = keyward_core::audit::describe(&cancelled);
        assert!(
            said.contains("after deleting") && said.contains(&mask_key_id(&new_id)),
            "{said}"
        );
        // A manual rotation of the same key is cancelled as before.
        rotation::begin(&mut f.session, Actor::Cli, c.label).unwrap();
        assert!(
            !rotation::status(&mut f.session, c.label)
                .unwrap()
                .cancel_deletes_key
        );
        rotation::cancel(&mut f.session, Actor::Cli, c.label).unwrap();
    }
    f.no_secret_anywhere(&[]);
    assert!(f.session.verify_audit().unwrap().is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_unreachable_cancel_the_rotation_goes_on() {
    let mut f = Fixture::new().await;
    f.mark_managers().await;
    let c = case(Exchange::Okx);
    let new_id = stop_after_stored(&mut f, &c).await;
    let mut down = Fault::new(FaultKind::ServerError).on(c.sim);
    down.count = 0;
    f.sim.add_fault(down);
    let g = f.grant::<actions::AutoRotate>();
    assert!(
        rotation::cancel_auto(&mut f.session, &f.client, Actor::Cli, g, c.label)
            .await
            .is_err()
    );
    f.sim.clear_faults();
    f.restart();
    let out = f.rotate(c.label).await.unwrap();
    assert!(out.finished, "{:?}", out.stages);
    let d = f.session.key_detail(c.label).unwrap();
    assert_eq!(d.api_key_id, new_id);
    assert_eq!(f.sub_keys(&c).await, vec![new_id]);
    assert!(!f.old_live(&c).await);
}

/// An emergency revocation of the key is never held up by an automated
/// rotation that created a new key: the key is revoked, the rotation
/// cancelled, and the created key, still live and now held by nobody, is
/// named in the outcome and the audit entry with how to delete it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_the_key_names_the_created_key_it_leaves_live() {
    let mut f = Fixture::new().await;
    f.mark_managers().await;
    let c = case(Exchange::Bybit);
    let new_id = stop_after_stored(&mut f, &c).await;
    // A Bybit sub-account key without a transfer permission cannot delete
    // itself: deleted on the "website" (here through the master key),
    // then confirmed by the live check (which a success of the same
    // credentials just before makes proof).
    assert!(f.old_live(&c).await);
    f.endpoint(&c)
        .delete_sub_key(&Fixture::master(&c), c.sub, &c.old_id)
        .await
        .unwrap();
    let g = f.grant::<actions::Revoke>();
    let out = rotation::revoke_key(&mut f.session, &f.client, Actor::Cli, g, c.label, true)
        .await
        .unwrap();
    let rotation::RevokeOutcome::Revoked { left_live, .. } = &out else {
        panic!("not revoked: {out:?}");
    };
    let note = left_live.as_deref().expect("the created key is named");
    let masked = mask_key_id(&new_id);
    assert!(note.contains(&masked), "{note}");
    assert!(note.contains("keyward inventory revoke bybit"), "{note}");
    assert!(!note.contains(&new_id), "{note}");
    assert!(!f.old_live(&c).await, "the old key still works");
    assert!(f.sim.live_keys(c.sim).contains(&new_id));
    let view = rotation::status(&mut f.session, c.label).unwrap();
    assert_eq!(view.state, RotationState::Cancelled);
    let revoked = f
        .session
        .audit_log(&AuditFilter::all().with_actions([Action::KeyRevoked]))
        .unwrap()
        .into_iter()
        .rfind(|e| e.key_label.as_deref() == Some(c.label))
        .unwrap();
    assert_eq!(revoked.details_value()["rotation_key_left_live"], masked);

    // The inventory flags it, and the manager key deletes it.
    let g = f.grant::<actions::UseManager>();
    let env = Environment::Custom(f.sim.url(c.sim));
    managed::revoke_unknown(
        &mut f.session,
        &f.client,
        Actor::Cli,
        g,
        c.exchange,
        &env,
        &masked,
    )
    .await
    .unwrap();
    assert!(!f.sim.live_keys(c.sim).contains(&new_id));
    f.no_secret_anywhere(&[]);
}
