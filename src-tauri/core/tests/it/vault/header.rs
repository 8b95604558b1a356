//! Header tampering through the public API: the damage check, the wrap's
//! associated data, and the KDF cost caps.

use keyward_core::KindedError;
use keyward_core::vault::{KdfParams, Vault, VaultError};
use sha2::{Digest, Sha256};

use crate::vault::support::{TempVault, password};

/// Rewrites the header and recomputes its damage check, as a deliberate
/// attacker would (the encoding is public in `store.rs`).
fn forge(t: &TempVault, m: u32, iterations: u32, p: u32) {
    let conn = rusqlite::Connection::open(t.path()).unwrap();
    let (version, vault_id, salt, wrap): (i64, Vec<u8>, Vec<u8>, Vec<u8>) = conn
        .query_row(
            "SELECT format_version, vault_id, kdf_salt, password_wrap FROM vault_meta",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    let mut header = b"KEYWARD-VAULT\0".to_vec();
    header.extend_from_slice(&version.to_be_bytes());
    header.extend_from_slice(&vault_id);
    header.extend_from_slice(&m.to_be_bytes());
    header.extend_from_slice(&iterations.to_be_bytes());
    header.extend_from_slice(&p.to_be_bytes());
    header.extend_from_slice(&salt);
    let mut h = Sha256::new();
    h.update(b"keyward header check v1\0");
    h.update(&header);
    h.update(&wrap);
    let check = h.finalize().to_vec();
    conn.execute(
        "UPDATE vault_meta SET kdf_memory_kib = ?1, kdf_iterations = ?2, kdf_parallelism = ?3,
            header_check = ?4",
        rusqlite::params![m, iterations, p, check],
    )
    .unwrap();
}

#[test]
fn naive_tampering_is_reported_as_corruption() {
    let t = TempVault::new();
    t.create().lock();
    rusqlite::Connection::open(t.path())
        .unwrap()
        .execute("UPDATE vault_meta SET kdf_iterations = 9", [])
        .unwrap();
    let err = Vault::open(&t.path()).unwrap_err();
    assert!(matches!(err, VaultError::HeaderCorrupt { .. }), "{err:?}");
    assert_eq!(err.kind().exit_code(), 5);
}

#[test]
fn forged_header_with_valid_check_still_fails_to_unwrap() {
    let t = TempVault::new();
    t.create().lock();
    let min = KdfParams::MINIMUM;
    forge(&t, min.memory_kib, min.iterations + 1, min.parallelism);
    let vault = Vault::open(&t.path()).unwrap();
    // The header is the wrap's associated data: never accepted.
    assert!(vault.unlock(&password()).is_err());
}

#[test]
fn excessive_kdf_cost_is_refused_before_deriving() {
    let t = TempVault::new();
    t.create().lock();
    forge(&t, u32::MAX, 3, 4);
    let err = Vault::open(&t.path()).unwrap_err();
    assert!(
        matches!(err, VaultError::ExcessiveKdfCost { .. }),
        "{err:?}"
    );
    let t = TempVault::new();
    t.create().lock();
    forge(&t, 64 * 1024, 1_000_000, 4);
    assert!(matches!(
        Vault::open(&t.path()),
        Err(VaultError::ExcessiveKdfCost { .. })
    ));
    let t = TempVault::new();
    t.create().lock();
    forge(&t, 1024, 1, 1);
    assert!(matches!(
        Vault::open(&t.path()),
        Err(VaultError::WeakKdfParams { .. })
    ));
}

/// Found by fuzzing: a file whose schema version was set back re-runs a
/// migration over existing tables, and SQLite's error quoted the whole
/// `CREATE TABLE` statement. The error stays short and quotes no SQL.
#[test]
fn a_rewound_schema_version_gives_a_short_error_without_sql() {
    let t = TempVault::new();
    t.create().lock();
    {
        let conn = rusqlite::Connection::open(t.path()).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
    }
    let shown = match Vault::open(&t.path()).and_then(|v| v.unlock(&password())) {
        Ok(_) => panic!("a rewound schema version must not open"),
        Err(e) => e.to_string(),
    };
    assert!(!shown.contains("CREATE"), "{shown}");
    assert!(shown.chars().count() <= 240, "{shown}");
}
