//! Files Keyward writes and secret input it reads: the data directory, the
//! permissions of the vault's own files, the one writer for reports and
//! exports, and the size-limited reader for secret input.
//!
//! Owns: [`write_private`], used by every front end for a file the user
//! names or the app exports (`keyward incident report --out`, `keyward
//! export --out`, the desktop's report export, the encrypted backup), the
//! modes of the data directory (0700) and of the vault, its write-ahead log
//! and shared-memory file (0600), and [`read_limited`] for secrets from
//! stdin or a file.
//!
//! Must never: write through a symbolic link at the destination, replace
//! an existing file unless the caller passes [`Overwrite::Replace`] (the
//! CLI's `--force`), leave a half-written file under the final name, create
//! a file or directory that group or others can read whatever the umask,
//! or read an unbounded amount of secret input into memory.
//!
//! How the writer stays safe: the bytes go to a new temporary file in the
//! destination's directory, created exclusively (`O_CREAT|O_EXCL`, which
//! never follows a link) with mode 0600, and synced. Without `Replace` it
//! is then hard-linked to the final name, which fails atomically if
//! anything, a dangling link included, already has that name; with
//! `Replace` it is renamed over it, and a rename replaces a link itself
//! instead of writing to its target. A destination that is a link is
//! refused either way. On file systems without hard links (FAT on a USB
//! stick) the no-overwrite case falls back to "check, then rename", which
//! is the only step with a (tiny) race.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;
use zeroize::Zeroizing;

use crate::error::{ErrorKind, KindedError};

/// The most secret input read from stdin or a file (`--secret-stdin`,
/// `--secret-file`, `--passphrase-file`): 64 KiB, far more than a PEM
/// private key (an RSA-4096 key is about 3.3 KiB).
pub const MAX_SECRET_INPUT: usize = 64 * 1024;

/// Mode of the data directory.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file Keyward creates.
pub const FILE_MODE: u32 = 0o600;

/// Whether [`write_private`] may replace an existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// Refuse if anything already has the name (the default).
    Refuse,
    /// Replace an existing regular file (the CLI's `--force`). A symbolic
    /// link is still refused.
    Replace,
}

impl Overwrite {
    /// `Replace` when `force`, else `Refuse`.
    pub fn when(force: bool) -> Self {
        if force {
            Overwrite::Replace
        } else {
            Overwrite::Refuse
        }
    }
}

/// Why a file could not be written or secret input not read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FileError {
    /// Something already has the name and overwriting was not asked for.
    #[error("{} already exists; refusing to overwrite it (pass --force to replace it)", path.display())]
    Exists {
        /// The destination.
        path: PathBuf,
    },
    /// The destination is a symbolic link.
    #[error("{} is a symbolic link; refusing to write through it", path.display())]
    Symlink {
        /// The destination.
        path: PathBuf,
    },
    /// The destination is a directory, device or other non-regular file.
    #[error("{} is not a regular file; refusing to replace it", path.display())]
    NotAFile {
        /// The destination.
        path: PathBuf,
    },
    /// Secret input over [`MAX_SECRET_INPUT`].
    #[error("the {what} is larger than {} KiB; refusing to read more", limit / 1024)]
    TooLarge {
        /// What was being read (`secret from stdin`, `secret file`…).
        what: &'static str,
        /// The limit in bytes.
        limit: usize,
    },
    /// The file system refused.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl KindedError for FileError {
    fn kind(&self) -> ErrorKind {
        match self {
            FileError::Io { .. } => ErrorKind::Internal,
            _ => ErrorKind::Invalid,
        }
    }
}

fn io_at(path: &Path) -> impl Fn(io::Error) -> FileError + '_ {
    move |source| FileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Refuses a destination that is a link or not a regular file, and an
/// existing one unless `overwrite` is `Replace`. [`write_private`] checks
/// this itself; callers use it to fail early, before expensive work.
pub fn check_destination(path: &Path, overwrite: Overwrite) -> Result<(), FileError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(FileError::Symlink {
            path: path.to_path_buf(),
        }),
        Ok(m) if !m.is_file() => Err(FileError::NotAFile {
            path: path.to_path_buf(),
        }),
        Ok(_) if overwrite == Overwrite::Refuse => Err(FileError::Exists {
            path: path.to_path_buf(),
        }),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_at(path)(e)),
    }
}

/// Opens a new file that nothing else has the name of (`O_CREAT|O_EXCL`:
/// a link at `path`, even a dangling one, makes this fail), mode 0600.
pub fn create_new_private(path: &Path) -> io::Result<fs::File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, FILE_MODE);
    opts.open(path)
}

/// Writes `bytes` to `path` atomically with mode 0600: a reader sees the old
/// file or the whole new one, never a part. See the module docs for how
/// links and existing files are refused.
pub fn write_private(path: &Path, bytes: &[u8], overwrite: Overwrite) -> Result<(), FileError> {
    check_destination(path, overwrite)?;
    let name = path.file_name().ok_or_else(|| FileError::NotAFile {
        path: path.to_path_buf(),
    })?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        uuid::Uuid::new_v4().simple()
    ));
    let result = (|| {
        let mut f = create_new_private(&tmp).map_err(io_at(&tmp))?;
        f.write_all(bytes).map_err(io_at(&tmp))?;
        f.sync_all().map_err(io_at(&tmp))?;
        drop(f);
        match overwrite {
            Overwrite::Replace => {
                // Checked again just before: the window for swapping in a
                // link is tiny, and a rename replaces a link rather than
                // writing through it anyway.
                check_destination(path, overwrite)?;
                fs::rename(&tmp, path).map_err(io_at(path))
            }
            Overwrite::Refuse => match fs::hard_link(&tmp, path) {
                Ok(()) => fs::remove_file(&tmp).map_err(io_at(&tmp)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    // Name the reason: a link, or any other existing entry.
                    check_destination(path, overwrite)?;
                    Err(FileError::Exists {
                        path: path.to_path_buf(),
                    })
                }
                Err(_) => {
                    // No hard links on this file system.
                    check_destination(path, overwrite)?;
                    fs::rename(&tmp, path).map_err(io_at(path))
                }
            },
        }
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // Make the new name durable; not every platform can sync a directory.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Creates `dir` (and missing parents) for Keyward's own data with mode
/// 0700 whatever the umask. An existing directory is left as it is: it may
/// be one the user chose for other files too.
pub fn create_private_dir(dir: &Path) -> Result<(), FileError> {
    if dir.exists() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir).map_err(io_at(dir))?;
    set_mode(dir, DIR_MODE).map_err(io_at(dir))
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> io::Result<()> {
    Ok(())
}

/// The files SQLite keeps beside a vault: the database itself, its
/// write-ahead log, its shared-memory index and a rollback journal.
pub fn vault_files(vault: &Path) -> [PathBuf; 4] {
    let with = |suffix: &str| {
        let mut s = vault.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    };
    [
        vault.to_path_buf(),
        with("-wal"),
        with("-shm"),
        with("-journal"),
    ]
}

/// Sets the vault's files that exist to mode 0600 when group or others
/// have any access, or the owner cannot read and write them (a vault made
/// by an older build or under an unusual umask). SQLite creates its
/// `-wal` and `-shm` files with the database's own mode, so a 0600 database
/// keeps them 0600; this also repairs ones left from before.
pub fn restrict_vault_files(vault: &Path) -> Result<(), FileError> {
    #[cfg(unix)]
    for file in vault_files(vault) {
        use std::os::unix::fs::PermissionsExt;
        match fs::symlink_metadata(&file) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o777 != FILE_MODE => {
                set_mode(&file, FILE_MODE).map_err(io_at(&file))?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_at(&file)(e)),
        }
    }
    #[cfg(not(unix))]
    let _ = vault;
    Ok(())
}

/// Reads at most [`MAX_SECRET_INPUT`] bytes of secret input into a zeroizing
/// buffer; more is [`FileError::TooLarge`] naming `what` and the limit. The
/// buffer is allocated once, so no partial copy is left behind by growth.
pub fn read_limited(
    reader: impl Read,
    what: &'static str,
    path: &Path,
) -> Result<Zeroizing<Vec<u8>>, FileError> {
    read_limited_to(reader, MAX_SECRET_INPUT, what, path)
}

fn read_limited_to(
    reader: impl Read,
    limit: usize,
    what: &'static str,
    path: &Path,
) -> Result<Zeroizing<Vec<u8>>, FileError> {
    // Room for one byte over the limit and the standard library's probe.
    let mut buf = Zeroizing::new(Vec::with_capacity(limit + 64));
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(io_at(path))?;
    if buf.len() > limit {
        return Err(FileError::TooLarge { what, limit });
    }
    Ok(buf)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn writes_0600_and_refuses_to_overwrite_without_replace() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("report.md");
        write_private(&out, b"one", Overwrite::Refuse).unwrap();
        assert_eq!(fs::read(&out).unwrap(), b"one");
        assert_eq!(mode(&out), 0o600);
        let err = write_private(&out, b"two", Overwrite::Refuse).unwrap_err();
        assert!(matches!(err, FileError::Exists { .. }), "{err}");
        assert_eq!(fs::read(&out).unwrap(), b"one");
        write_private(&out, b"two", Overwrite::Replace).unwrap();
        assert_eq!(fs::read(&out).unwrap(), b"two");
        // Nothing but the file is left in the directory.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_symlink_destination_is_refused_even_with_replace() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, b"keep").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        for overwrite in [Overwrite::Refuse, Overwrite::Replace] {
            for l in [&link, &dangling] {
                let err = write_private(l, b"x", overwrite).unwrap_err();
                assert!(matches!(err, FileError::Symlink { .. }), "{err}");
            }
        }
        assert_eq!(fs::read(&target).unwrap(), b"keep");
        assert!(!dir.path().join("nowhere").exists());
    }

    #[test]
    fn a_directory_destination_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_private(dir.path(), b"x", Overwrite::Replace).unwrap_err();
        assert!(matches!(err, FileError::NotAFile { .. }), "{err}");
    }

    #[test]
    fn private_dirs_are_0700() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("a/b/keyward");
        create_private_dir(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
    }

    #[test]
    fn input_over_the_limit_is_refused() {
        let p = Path::new("stdin");
        let ok = read_limited_to(&[7u8; 10][..], 10, "secret", p).unwrap();
        assert_eq!(ok.len(), 10);
        let err = read_limited_to(&[7u8; 11][..], 10, "secret", p).unwrap_err();
        assert!(
            matches!(err, FileError::TooLarge { limit: 10, .. }),
            "{err}"
        );
        // An endless source stops at the limit.
        let err = read_limited(io::repeat(b'a'), "secret from stdin", p).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the secret from stdin is larger than 64 KiB; refusing to read more"
        );
    }
}
