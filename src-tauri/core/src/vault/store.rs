//! The vault file: SQLite connection settings, schema migrations, and the
//! authenticated header.
//!
//! Owns: the on-disk layout. A vault is a SQLite database whose
//! `application_id` is [`APPLICATION_ID`], whose `user_version` is the schema
//! version, and whose single `vault_meta` row is the header:
//! format version, vault id, Argon2id parameters and salt, the password wrap of
//! the vault key, an optional device wrap, sealed settings, and the failed
//! unlock counter.
//!
//! The header is authenticated twice. Its canonical encoding
//! ([`Header::encode`]) is the associated data of the password wrap, so a
//! changed vault id, version or KDF parameter makes unwrapping fail and can
//! never be silently accepted. A SHA-256 check over the same encoding plus the
//! wrap tells accidental or naive damage ("corrupt") apart from a wrong
//! password before the KDF runs.
//!
//! Must never: open a file it did not check (magic, application id, version,
//! KDF caps) before deriving anything, or leave the database in any mode other
//! than WAL with `synchronous=FULL` and foreign keys on, or create the data
//! directory, the database or its `-wal`/`-shm` files readable by anyone but
//! the owner (0700 and 0600 whatever the umask: see [`crate::files`]).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use sha2::{Digest, Sha256};

use super::error::VaultError;
use super::kdf::{KdfParams, SALT_LEN};

/// SQLite `application_id` of a Keyward vault ("KWVD").
pub const APPLICATION_ID: i32 = 0x4B57_5644;
/// Envelope format version written by this build.
pub const FORMAT_VERSION: i64 = 1;
/// Schema version after all migrations of this build.
pub const SCHEMA_VERSION: i64 = 12;

const HEADER_MAGIC: &[u8] = b"KEYWARD-VAULT\0";
const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";

/// AAD field names of the sealed columns of `rotations` (created by
/// `migrations/05_rotations.sql`), frozen with the table: the rotation
/// feature seals with them, a change of vault key reseals them (`rekey`).
pub(crate) const ROTATION_NEW_SECRET: &str = "rotation.new_secret";
/// See [`ROTATION_NEW_SECRET`].
pub(crate) const ROTATION_NEW_PASSPHRASE: &str = "rotation.new_passphrase";
/// See [`ROTATION_NEW_SECRET`].
pub(crate) const ROTATION_PREVIOUS_SECRET: &str = "rotation.previous_secret";
/// See [`ROTATION_NEW_SECRET`].
pub(crate) const ROTATION_PREVIOUS_PASSPHRASE: &str = "rotation.previous_passphrase";

/// AAD field name of the sealed alert configuration (`alert_config.config`,
/// created by `migrations/07_alerts.sql`, record = the header record),
/// frozen with the table: alerts seal with it, a change of vault key
/// reseals it (`rekey`).
pub(crate) const ALERT_CONFIG_FIELD: &str = "alerts.config";

/// Forward migrations, each a frozen SQL file: `migrations/NN_name.sql`
/// takes the schema from version `NN - 1` to `NN` (index `i` of this list,
/// from `i` to `i + 1`). Never edit a released file: add the next number
/// (`tests::migrations_are_the_numbered_files_in_order` checks the list
/// against the directory). Features own the records of their tables; the
/// vault only creates them.
const MIGRATIONS: &[(&str, &str)] = &[
    // 0 -> 1: the header row and the keys.
    ("01_vault.sql", include_str!("migrations/01_vault.sql")),
    // 1 -> 2: the hash-chained audit log (`audit::store`).
    ("02_audit.sql", include_str!("migrations/02_audit.sql")),
    // 2 -> 3: MFA state, sealed seeds and recovery-code hashes
    // (`mfa::store`).
    ("03_mfa.sql", include_str!("migrations/03_mfa.sql")),
    // 3 -> 4: the per-key "allow `keyward run`" grant (off for every existing
    // key: a migration never grants anything).
    (
        "04_allow_run.sql",
        include_str!("migrations/04_allow_run.sql"),
    ),
    // 4 -> 5: staged rotations (the rows are the rotation feature's). The
    // partial unique index enforces "at most one open rotation per key" in
    // the file itself.
    (
        "05_rotations.sql",
        include_str!("migrations/05_rotations.sql"),
    ),
    // 5 -> 6: incidents, their steps, timeline and activity snapshots (the
    // records are `incident::store`'s).
    (
        "06_incidents.sql",
        include_str!("migrations/06_incidents.sql"),
    ),
    // 6 -> 7: alert configuration (sealed), per-key alert state, the
    // webhook outbox and the last background audit (the records are
    // `alerts::store`'s; the outbox MACs the kernel's, `outbox`).
    ("07_alerts.sql", include_str!("migrations/07_alerts.sql")),
    // 7 -> 8: the MAC over every column of a key row (see `vault::rowmac`;
    // rows of older vaults are MAC'd at their first unlock, recorded in the
    // sealed settings), and whether a custom host was confirmed with a
    // step-up (never, for existing keys).
    ("08_row_mac.sql", include_str!("migrations/08_row_mac.sql")),
    // 8 -> 9: a MAC on each queued webhook event (see `vault::outbox`; the
    // state seal that notices rolled-back rows lives in the sealed settings
    // and needs no table).
    (
        "09_outbox_mac.sql",
        include_str!("migrations/09_outbox_mac.sql"),
    ),
    // 9 -> 10: the root of the audit, MFA and outbox MAC subkeys, sealed
    // under the vault key, once the vault key has been rotated (absent
    // until then: the root is the vault key itself).
    (
        "10_mac_root.sql",
        include_str!("migrations/10_mac_root.sql"),
    ),
    // 10 -> 11: managed keys: whether a key is its account's manager key,
    // the exchange's sub-account that holds a key (what a manager key
    // rotates it through), and whether a due rotation runs by itself. Off
    // and empty for every existing key; MAC'd as `rowmac::LATER` columns,
    // so rows MAC'd before this version stay valid.
    (
        "11_managed_keys.sql",
        include_str!("migrations/11_managed_keys.sql"),
    ),
    // 11 -> 12: deployment targets (an SSH host, its pinned host key and
    // the recipient a bundle is sealed to) and which keys each is given,
    // each row MAC'd (the records are the deploy feature's).
    (
        "12_deploy_targets.sql",
        include_str!("migrations/12_deploy_targets.sql"),
    ),
];

/// The authenticated part of `vault_meta`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub format_version: i64,
    pub vault_id: [u8; 16],
    pub kdf: KdfParams,
    pub salt: [u8; SALT_LEN],
}

impl Header {
    /// Canonical bytes: magic ‖ version ‖ vault id ‖ m ‖ t ‖ p ‖ salt, all
    /// fixed-width big-endian.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_MAGIC.len() + 8 + 16 + 12 + SALT_LEN);
        out.extend_from_slice(HEADER_MAGIC);
        out.extend_from_slice(&self.format_version.to_be_bytes());
        out.extend_from_slice(&self.vault_id);
        out.extend_from_slice(&self.kdf.memory_kib.to_be_bytes());
        out.extend_from_slice(&self.kdf.iterations.to_be_bytes());
        out.extend_from_slice(&self.kdf.parallelism.to_be_bytes());
        out.extend_from_slice(&self.salt);
        out
    }

    /// Associated data of the password wrap.
    pub fn password_wrap_aad(&self) -> Vec<u8> {
        let mut aad = self.encode();
        aad.extend_from_slice(b"password-wrap");
        aad
    }

    /// The unkeyed damage check stored beside the header.
    pub fn check(&self, password_wrap: &[u8]) -> Vec<u8> {
        let mut h = Sha256::new();
        h.update(b"keyward header check v1\0");
        h.update(self.encode());
        h.update(password_wrap);
        h.finalize().to_vec()
    }
}

/// Everything read from `vault_meta` before unlocking.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    pub header: Header,
    pub password_wrap: Vec<u8>,
    pub device_wrap: Option<Vec<u8>>,
    pub device_account: Option<String>,
    pub settings: Vec<u8>,
    pub failed_unlocks: u32,
    pub last_failed_ms: i64,
}

fn map_open_error(path: &Path, err: rusqlite::Error) -> VaultError {
    match err.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => VaultError::NotAVault {
            path: path.to_path_buf(),
        },
        Some(rusqlite::ErrorCode::DatabaseCorrupt) => VaultError::HeaderCorrupt {
            what: "database structure",
        },
        _ => VaultError::Database(err),
    }
}

/// Applies the connection settings every vault connection must have.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Freed pages are overwritten, so old sealed blobs do not linger.
    conn.pragma_update(None, "secure_delete", "ON")?;
    Ok(())
}

/// Creates a new, empty vault file and returns its connection with the schema
/// in place (no `vault_meta` row yet).
pub(crate) fn create(path: &Path) -> Result<Connection, VaultError> {
    if path.exists() {
        return Err(VaultError::AlreadyExists {
            path: path.to_path_buf(),
        });
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::files::create_private_dir(dir)?;
    }
    // The file exists, empty and 0600, before SQLite opens it: SQLite takes
    // an empty file as a new database and gives its `-wal` and `-shm` files
    // the database's own mode, so none of them is ever readable by others,
    // whatever the umask. `create_new` also refuses a link at `path`.
    match crate::files::create_new_private(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(VaultError::AlreadyExists {
                path: path.to_path_buf(),
            });
        }
        Err(source) => {
            return Err(VaultError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    }
    crate::files::restrict_vault_files(path)?;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&conn)?;
    conn.pragma_update(None, "application_id", APPLICATION_ID)?;
    let mut conn = conn;
    migrate(&mut conn)?;
    crate::files::restrict_vault_files(path)?;
    Ok(conn)
}

/// Opens an existing vault file after checking its magic, application id and
/// schema version; runs pending forward migrations.
pub(crate) fn open(path: &Path) -> Result<Connection, VaultError> {
    let mut head = [0u8; 100];
    match std::fs::File::open(path) {
        Ok(mut f) => {
            use std::io::Read;
            let mut read = 0;
            while read < head.len() {
                match f.read(&mut head[read..]) {
                    Ok(0) => break,
                    Ok(n) => read += n,
                    Err(source) => {
                        return Err(VaultError::Io {
                            path: path.to_path_buf(),
                            source,
                        });
                    }
                }
            }
            if read < head.len() || &head[..16] != SQLITE_MAGIC {
                return Err(VaultError::NotAVault {
                    path: path.to_path_buf(),
                });
            }
            let len = f
                .metadata()
                .map_err(|source| VaultError::Io {
                    path: path.to_path_buf(),
                    source,
                })?
                .len();
            check_length(path, &head, len)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(VaultError::NotFound {
                path: path.to_path_buf(),
            });
        }
        Err(source) => {
            return Err(VaultError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    }
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| map_open_error(path, e))?;
    let app_id: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(|e| map_open_error(path, e))?;
    if app_id != APPLICATION_ID {
        return Err(VaultError::NotAVault {
            path: path.to_path_buf(),
        });
    }
    configure(&conn).map_err(|e| map_open_error(path, e))?;
    migrate(&mut conn).map_err(|e| match e {
        VaultError::Database(inner) => map_open_error(path, inner),
        other => other,
    })?;
    // A vault (or its `-wal`/`-shm`) from an older build or made under a
    // loose umask is made 0600 here. Best effort: a file someone else owns
    // cannot be changed, and that must not stop `status` or an unlock.
    let _ = crate::files::restrict_vault_files(path);
    Ok(conn)
}

/// Detects a truncated main file. SQLite records the database size in pages
/// in its header (valid when the "version-valid-for" field equals the change
/// counter). Only checked when there is no write-ahead log with content: pages
/// still in the WAL may legitimately lie beyond the main file's end.
fn check_length(path: &Path, head: &[u8; 100], len: u64) -> Result<(), VaultError> {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal_len = std::fs::metadata(std::path::PathBuf::from(wal))
        .map(|m| m.len())
        .unwrap_or(0);
    if wal_len > 0 {
        return Ok(());
    }
    let be32 = |i: usize| u32::from_be_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
    let page_size = match u16::from_be_bytes([head[16], head[17]]) {
        1 => 65_536u64,
        n if n >= 512 && n.is_power_of_two() => u64::from(n),
        _ => {
            return Err(VaultError::NotAVault {
                path: path.to_path_buf(),
            });
        }
    };
    let pages = u64::from(be32(28));
    let size_valid = be32(24) == be32(92) && pages > 0;
    if !len.is_multiple_of(page_size) || (size_valid && len < pages * page_size) {
        return Err(VaultError::HeaderCorrupt {
            what: "file truncated",
        });
    }
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<(), VaultError> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(VaultError::UnsupportedVersion {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    if current < 0 {
        return Err(VaultError::HeaderCorrupt {
            what: "schema version",
        });
    }
    for (from, (_, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Re-check under the write lock: another process may have migrated.
        let now: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if now > from as i64 {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", from as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

fn blob_array<const N: usize>(blob: Vec<u8>, what: &'static str) -> Result<[u8; N], VaultError> {
    blob.try_into()
        .map_err(|_| VaultError::HeaderCorrupt { what })
}

fn param(value: i64, what: &'static str) -> Result<u32, VaultError> {
    u32::try_from(value).map_err(|_| VaultError::HeaderCorrupt { what })
}

/// Reads and checks the header row: format version, KDF caps, damage check.
pub(crate) fn read_meta(conn: &Connection, path: &Path) -> Result<Meta, VaultError> {
    let row = conn
        .query_row(
            "SELECT format_version, vault_id, kdf_memory_kib, kdf_iterations, kdf_parallelism,
                    kdf_salt, password_wrap, header_check, device_wrap, device_account,
                    settings, failed_unlocks, last_failed_ms
             FROM vault_meta WHERE id = 1",
            [],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Vec<u8>>(5)?,
                    r.get::<_, Vec<u8>>(6)?,
                    r.get::<_, Vec<u8>>(7)?,
                    r.get::<_, Option<Vec<u8>>>(8)?,
                    r.get::<_, Option<String>>(9)?,
                    r.get::<_, Vec<u8>>(10)?,
                    r.get::<_, i64>(11)?,
                    r.get::<_, i64>(12)?,
                ))
            },
        )
        .optional()
        .map_err(|e| match e {
            rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::FromSqlConversionFailure(..) => {
                VaultError::HeaderCorrupt { what: "header row" }
            }
            other => map_open_error(path, other),
        })?;
    let Some((
        version,
        vault_id,
        m,
        t,
        p,
        salt,
        pw_wrap,
        check,
        dev_wrap,
        dev_account,
        settings,
        failed,
        last_failed,
    )) = row
    else {
        return Err(VaultError::NotAVault {
            path: path.to_path_buf(),
        });
    };
    if version > FORMAT_VERSION {
        return Err(VaultError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if version < 1 {
        return Err(VaultError::HeaderCorrupt {
            what: "format version",
        });
    }
    let kdf = KdfParams {
        memory_kib: param(m, "kdf parameters")?,
        iterations: param(t, "kdf parameters")?,
        parallelism: param(p, "kdf parameters")?,
    };
    let header = Header {
        format_version: version,
        vault_id: blob_array(vault_id, "vault id")?,
        kdf,
        salt: blob_array(salt, "kdf salt")?,
    };
    // Damage check first: a mangled parameter is reported as such, not as a
    // refused cost or a wrong password.
    if header.check(&pw_wrap) != check {
        return Err(VaultError::HeaderCorrupt {
            what: "header check",
        });
    }
    // Never trust costs read from a file, even with a matching check.
    kdf.check()?;
    Ok(Meta {
        header,
        password_wrap: pw_wrap,
        device_wrap: dev_wrap,
        device_account: dev_account,
        settings,
        failed_unlocks: u32::try_from(failed.max(0)).unwrap_or(u32::MAX),
        last_failed_ms: last_failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            format_version: 1,
            vault_id: [3; 16],
            kdf: KdfParams::MINIMUM,
            salt: [4; SALT_LEN],
        }
    }

    #[test]
    fn header_encoding_covers_every_field() {
        let base = header();
        let mut other = base.clone();
        other.kdf.iterations += 1;
        assert_ne!(base.encode(), other.encode());
        let mut other = base.clone();
        other.vault_id[0] ^= 1;
        assert_ne!(base.encode(), other.encode());
        let mut other = base.clone();
        other.salt[15] ^= 1;
        assert_ne!(base.encode(), other.encode());
        assert_ne!(base.check(b"a"), base.check(b"b"));
    }

    #[test]
    fn garbage_and_truncated_files_are_not_vaults() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage");
        std::fs::write(&garbage, vec![0xA5; 8192]).unwrap();
        assert!(matches!(open(&garbage), Err(VaultError::NotAVault { .. })));
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        assert!(matches!(open(&empty), Err(VaultError::NotAVault { .. })));
        let fake = dir.path().join("fake");
        let mut bytes = SQLITE_MAGIC.to_vec();
        bytes.extend_from_slice(&[0xFF; 200]);
        std::fs::write(&fake, bytes).unwrap();
        assert!(matches!(
            open(&fake),
            Err(VaultError::NotAVault { .. } | VaultError::HeaderCorrupt { .. })
        ));
        assert!(matches!(
            open(&dir.path().join("missing")),
            Err(VaultError::NotFound { .. })
        ));
    }

    #[test]
    fn other_sqlite_databases_are_not_vaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (x)").unwrap();
        drop(conn);
        assert!(matches!(open(&path), Err(VaultError::NotAVault { .. })));
    }

    #[test]
    fn migrations_are_the_numbered_files_in_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/vault/migrations");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        let listed: Vec<&str> = MIGRATIONS.iter().map(|(name, _)| *name).collect();
        assert_eq!(files, listed, "every file listed once, in order");
        assert_eq!(MIGRATIONS.len() as i64, SCHEMA_VERSION);
        for (i, (name, sql)) in MIGRATIONS.iter().enumerate() {
            let (number, rest) = name.split_once('_').unwrap();
            assert_eq!(number, format!("{:02}", i + 1), "{name}: no gap, no repeat");
            assert!(rest.ends_with(".sql") && rest.len() > 4, "{name}");
            assert_eq!(
                std::fs::read_to_string(dir.join(name)).unwrap(),
                *sql,
                "{name} is the text that runs"
            );
        }
    }

    #[test]
    fn a_new_vault_has_every_migration() {
        let dir = tempfile::tempdir().unwrap();
        let conn = create(&dir.path().join("v.keyward")).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }
}
