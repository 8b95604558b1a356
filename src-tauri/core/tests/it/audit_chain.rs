//! The audit chain through the public API: each of the four kinds of
//! tampering (modified, deleted, reordered, truncated) is reported as
//! itself, with the entry concerned.

use std::time::{Duration, UNIX_EPOCH};

use keyward_core::audit::{
    Action, Actor, AuditError, AuditKey, ChainHead, Details, Entry, Mac, NewEvent, next_entry,
    verify_chain,
};
use keyward_core::{ErrorKind, KindedError};

fn key() -> AuditKey {
    AuditKey::derive(&[0x5a; 32])
}

/// A log of `n` entries and the head the vault would have sealed.
fn log(n: u64) -> (Vec<Entry>, ChainHead) {
    let key = key();
    let mut head = ChainHead::GENESIS;
    let mut entries = Vec::new();
    let actions = [
        Action::Unlock,
        Action::KeyAdded,
        Action::SecretRevealed,
        Action::SecretCopied,
        Action::KeyDeleted,
        Action::Lock,
    ];
    for i in 1..=n {
        let action = actions[(i as usize - 1) % actions.len()];
        let mut event = NewEvent::new(
            if i % 2 == 0 { Actor::Gui } else { Actor::Cli },
            action,
            UNIX_EPOCH + Duration::from_millis(1_750_000_000_000 + i * 1_000),
        )
        .with_details(Details::new().with("n", i));
        if action != Action::Unlock && action != Action::Lock {
            event = event.with_key(format!("key-{i}"), format!("Binance main {i}"));
        }
        let entry = next_entry(&head, &key, event).unwrap();
        head = entry.head();
        entries.push(entry);
    }
    (entries, head)
}

#[test]
fn an_intact_log_verifies() {
    let (entries, head) = log(8);
    verify_chain(&entries, &key(), &head).unwrap();
    assert_eq!(head.seq, 8);
    assert_eq!(entries.first().unwrap().prev_mac, Mac::ZERO);
}

#[test]
fn an_empty_log_verifies_only_against_the_genesis_head() {
    verify_chain(&[], &key(), &ChainHead::GENESIS).unwrap();
    let (_, head) = log(1);
    assert!(matches!(
        verify_chain(&[], &key(), &head),
        Err(AuditError::Truncated {
            sealed_seq: 1,
            last_seq: 0
        })
    ));
}

#[test]
fn modified_entry_is_reported_with_its_seq() {
    let (mut entries, head) = log(8);
    entries[4].details = r#"{"n":5,"note":"edited"}"#.into();
    let err = verify_chain(&entries, &key(), &head).unwrap_err();
    assert!(matches!(err, AuditError::Modified { seq: 5 }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Integrity);

    // Editing the entry and recomputing nothing else cannot be hidden by
    // also changing its MAC: the next entry's prev_mac no longer matches,
    // and without the key no valid MAC can be made anyway.
    let (mut entries, head) = log(8);
    entries[2].key_label = Some("someone else".into());
    entries[2].mac = Mac::from([0x11; 32]);
    assert!(matches!(
        verify_chain(&entries, &key(), &head),
        Err(AuditError::Modified { seq: 3 })
    ));
}

#[test]
fn deleted_entry_is_reported_as_a_gap() {
    let (mut entries, head) = log(8);
    entries.remove(3); // seq 4
    let err = verify_chain(&entries, &key(), &head).unwrap_err();
    assert!(
        matches!(
            err,
            AuditError::Deleted {
                first_missing: 4,
                last_missing: 4
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Integrity);

    let (mut entries, head) = log(8);
    entries.drain(1..4); // seq 2..=4
    assert!(matches!(
        verify_chain(&entries, &key(), &head),
        Err(AuditError::Deleted {
            first_missing: 2,
            last_missing: 4
        })
    ));

    // Deleting the very first entry is a gap too.
    let (mut entries, head) = log(3);
    entries.remove(0);
    assert!(matches!(
        verify_chain(&entries, &key(), &head),
        Err(AuditError::Deleted {
            first_missing: 1,
            last_missing: 1
        })
    ));
}

#[test]
fn reordered_entries_are_reported_as_such() {
    let (mut entries, head) = log(8);
    entries.swap(3, 4); // stored order: ..., 3, 5, 4, 6, ...
    let err = verify_chain(&entries, &key(), &head).unwrap_err();
    assert!(matches!(err, AuditError::Reordered { seq: 4 }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Integrity);

    // Moving the first entry to the end.
    let (mut entries, head) = log(5);
    let first = entries.remove(0);
    entries.push(first);
    assert!(matches!(
        verify_chain(&entries, &key(), &head),
        Err(AuditError::Reordered { seq: 1 })
    ));
}

#[test]
fn truncated_log_is_caught_by_the_sealed_head() {
    let (mut entries, head) = log(8);
    entries.truncate(6);
    // The remaining chain is internally perfect...
    verify_chain(&entries, &key(), &entries.last().unwrap().head()).unwrap();
    // ...but not against the head the vault sealed.
    let err = verify_chain(&entries, &key(), &head).unwrap_err();
    assert!(
        matches!(
            err,
            AuditError::Truncated {
                sealed_seq: 8,
                last_seq: 6
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Integrity);
}

#[test]
fn a_log_longer_than_its_head_or_from_elsewhere_mismatches() {
    // The head was rolled back (older vault metadata restored).
    let (entries, _) = log(6);
    let old_head = entries[3].head();
    assert!(matches!(
        verify_chain(&entries, &key(), &old_head),
        Err(AuditError::HeadMismatch {
            sealed_seq: 4,
            last_seq: 6
        })
    ));
    // Same length, different chain (another vault with the same key).
    let other_key = AuditKey::derive(&[0x5a; 32]);
    let mut other_head = ChainHead::GENESIS;
    let mut other = Vec::new();
    for i in 1..=6 {
        let e = next_entry(
            &other_head,
            &other_key,
            NewEvent::new(
                Actor::Cli,
                Action::Verify,
                UNIX_EPOCH + Duration::from_secs(i),
            ),
        )
        .unwrap();
        other_head = e.head();
        other.push(e);
    }
    let (_, head) = log(6);
    assert!(matches!(
        verify_chain(&other, &key(), &head),
        Err(AuditError::HeadMismatch {
            sealed_seq: 6,
            last_seq: 6
        })
    ));
}

#[test]
fn an_entry_spliced_from_another_chain_breaks_the_link() {
    let (mut entries, head) = log(5);
    // A valid entry with seq 3 from a different chain under the same key.
    let foreign_prev = ChainHead {
        seq: 2,
        mac: Mac::from([0x99; 32]),
    };
    let foreign = next_entry(
        &foreign_prev,
        &key(),
        NewEvent::new(
            Actor::Gui,
            Action::Export,
            UNIX_EPOCH + Duration::from_secs(9),
        ),
    )
    .unwrap();
    entries[2] = foreign;
    assert!(matches!(
        verify_chain(&entries, &key(), &head),
        Err(AuditError::BrokenLink { seq: 3 })
    ));
}

#[test]
fn head_survives_sealing_as_bytes() {
    let (entries, head) = log(4);
    let sealed = head.to_bytes();
    let unsealed = ChainHead::from_bytes(&sealed).unwrap();
    verify_chain(&entries, &key(), &unsealed).unwrap();
}
