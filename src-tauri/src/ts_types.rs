//! The TypeScript declarations of the DTOs the webview receives, generated
//! from the Rust types with ts-rs and committed in
//! `ui/src/lib/api/generated/` (one file per type, dependencies imported).
//! The UI's API modules import them instead of restating the shapes.
//!
//! The test fails when the committed files differ from what the DTOs
//! generate; `KEYWARD_UPDATE_TS=1 cargo test -p keyward-desktop --lib
//! ts_types` writes them again. Core types derive `ts_rs::TS` behind
//! keyward-core's `ts` feature, which only this crate's tests enable.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ts_rs::{Config, TS};

/// Where the declarations are committed.
fn committed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/src/lib/api/generated")
}

/// Writes every declaration, dependencies included, into `dir`.
fn export_all(dir: &Path) {
    // Unix seconds and counters fit a JavaScript number; serde_json writes
    // them as numbers, not as strings or bigints.
    let cfg = Config::new().with_large_int("number").with_out_dir(dir);
    macro_rules! export {
        ($($ty:ty),* $(,)?) => {
            $(
                <$ty as TS>::export_all(&cfg)
                    .unwrap_or_else(|e| panic!("export {}: {e}", stringify!($ty)));
            )*
        };
    }
    export!(
        // vault
        crate::commands::vault::VaultState,
        crate::commands::vault::KeyringState,
        keyward_core::password::Assessment,
        keyward_core::vault::Settings,
        // keys
        keyward_core::model::KeySummary,
        keyward_core::model::KeyDetail,
        crate::commands::keys::RevealedDto,
        // mfa
        crate::commands::mfa::MfaStatus,
        crate::commands::mfa::EnrolmentDto,
        // backup
        crate::commands::backup::ExportResult,
        keyward_core::vault::ImportReport,
        // alerts
        keyward_core::alerts::AlertSettings,
        // deployment targets of a key
        keyward_core::deploy::KeyDeployment,
        crate::commands::deploy::DeliveryDto,
    );
}

/// The `.ts` files of `dir` by name.
fn read_dir(dir: &Path) -> BTreeMap<String, String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .map(|e| e.expect("read the directory").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ts"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (
                name,
                std::fs::read_to_string(&p).expect("read a declaration"),
            )
        })
        .collect()
}

#[test]
fn generated_typescript_matches_the_dtos() {
    let fresh_dir = tempfile::tempdir().expect("temporary directory");
    export_all(fresh_dir.path());
    let fresh = read_dir(fresh_dir.path());
    assert!(fresh.len() >= 10, "generated: {:?}", fresh.keys());
    let committed_dir = committed_dir();
    if std::env::var("KEYWARD_UPDATE_TS").as_deref() == Ok("1") {
        std::fs::create_dir_all(&committed_dir).unwrap();
        for name in read_dir(&committed_dir).keys() {
            std::fs::remove_file(committed_dir.join(name)).unwrap();
        }
        for (name, text) in &fresh {
            std::fs::write(committed_dir.join(name), text).unwrap();
        }
        return;
    }
    let committed = read_dir(&committed_dir);
    let hint = "the DTOs changed: run `KEYWARD_UPDATE_TS=1 cargo test -p keyward-desktop --lib \
                ts_types` and commit ui/src/lib/api/generated/";
    assert_eq!(
        committed.keys().collect::<Vec<_>>(),
        fresh.keys().collect::<Vec<_>>(),
        "{hint}"
    );
    for (name, text) in &fresh {
        assert_eq!(&committed[name], text, "{name}: {hint}");
    }
}
