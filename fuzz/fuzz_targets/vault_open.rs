//! Arbitrary bytes as a vault file: open, then unlock with a fixed password.
//! Every outcome must be a typed `VaultError` (or a session when the bytes
//! are an intact vault made with that password), never a panic or a hang.
//! The seed vaults use the cheapest parameters the core accepts
//! (`KdfParams::MINIMUM`); a file asking for more than the cap is refused
//! before deriving.
#![no_main]

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use keyward_core::vault::{
    Actor, ManualClock, MasterPassword, UnlockThrottle, Vault, VaultError, VaultOptions,
};
use libfuzzer_sys::fuzz_target;

/// The password of the seed vaults in `corpus/vault_open`.
const PASSWORD: &str = "fuzz-master-password-1";

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("vault.keyward");
    std::fs::write(&path, data).expect("write the input");
    let options = VaultOptions {
        clock: Arc::new(ManualClock::new(
            UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        )),
        throttle: UnlockThrottle::default(),
        actor: Actor::Cli,
        ..VaultOptions::default()
    };
    let vault = match Vault::open_with(&path, options) {
        Ok(v) => v,
        Err(e) => return check(&e),
    };
    let _ = vault.info();
    match vault.unlock(&MasterPassword::new(PASSWORD.to_string())) {
        Ok(mut session) => {
            // An unlocked vault can be read and checked without a panic.
            let _ = session.list_keys();
            let _ = session.settings();
            let _ = session.check_integrity();
            let _ = session.verify_audit();
        }
        Err(e) => check(&e),
    }
});

fn check(e: &VaultError) {
    let shown = e.to_string();
    assert!(!shown.contains(PASSWORD), "an error shows the password");
    assert!(shown.chars().count() <= 600, "error message too long");
}
