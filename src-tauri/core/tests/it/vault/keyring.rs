//! OS-keyring unlock through the core API, against a real gnome-keyring:
//!
//! ```text
//! dbus-run-session -- bash -c 'echo -n pw | gnome-keyring-daemon --unlock \
//!     --components=secrets >/dev/null; cargo test -p keyward-core'
//! ```
//!
//! Skipped loudly without `DBUS_SESSION_BUS_ADDRESS`, unless
//! `KEYWARD_REQUIRE_KEYRING=1` makes that a failure.

use keyward_core::vault::{Actor, Vault, VaultError, device_unlock_status};

use crate::vault::support::{TempVault, binance, grant, password};
use keyward_core::mfa::actions;

fn keyring_available() -> bool {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() {
        return true;
    }
    if std::env::var("KEYWARD_REQUIRE_KEYRING").as_deref() == Ok("1") {
        panic!("KEYWARD_REQUIRE_KEYRING=1 but no DBUS_SESSION_BUS_ADDRESS");
    }
    eprintln!(
        "\n*** SKIPPED: OS-keyring test needs a Secret Service (dbus-run-session + gnome-keyring) ***\n"
    );
    false
}

#[test]
fn device_unlock_round_trip() {
    if !keyring_available() {
        return;
    }
    let status = device_unlock_status();
    assert!(status.available, "{status:?}");
    let t = TempVault::new();
    let mut s = t.create();
    s.add_key(Actor::Gui, binance("k")).unwrap();
    assert!(!s.device_unlock_enabled().unwrap());
    {
        let g = grant::<actions::SecuritySettings>(&mut s);
        s.enable_device_unlock(Actor::Gui, g)
    }
    .unwrap();
    assert!(s.device_unlock_enabled().unwrap());
    s.lock();

    let vault = Vault::open(&t.path()).unwrap();
    assert!(vault.info().device_unlock);
    let mut s = vault.unlock_with_device().unwrap();
    assert_eq!(s.list_keys().unwrap().len(), 1);
    let account = format!("vault-{}", s.vault_id());
    {
        let g = grant::<actions::SecuritySettings>(&mut s);
        s.disable_device_unlock(Actor::Gui, g)
    }
    .unwrap();
    s.lock();

    // The stored device key is gone, and so is the wrap.
    let entry = keyring::Entry::new("keyward", &account).unwrap();
    assert!(matches!(entry.get_secret(), Err(keyring::Error::NoEntry)));
    let vault = Vault::open(&t.path()).unwrap();
    assert!(matches!(
        vault.unlock_with_device(),
        Err(VaultError::DeviceUnlockNotEnabled)
    ));
    vault.unlock(&password()).unwrap();
}

#[test]
fn a_deleted_device_key_is_a_clear_error() {
    if !keyring_available() {
        return;
    }
    let t = TempVault::new();
    let mut s = t.create();
    {
        let g = grant::<actions::SecuritySettings>(&mut s);
        s.enable_device_unlock(Actor::Gui, g)
    }
    .unwrap();
    let account = format!("vault-{}", s.vault_id());
    s.lock();
    keyring::Entry::new("keyward", &account)
        .unwrap()
        .delete_credential()
        .unwrap();
    let vault = Vault::open(&t.path()).unwrap();
    assert!(matches!(
        vault.unlock_with_device(),
        Err(VaultError::DeviceKeyMismatch)
    ));
    vault.unlock(&password()).unwrap();
}

#[test]
fn password_change_turns_off_device_unlock_of_the_old_key() {
    if !keyring_available() {
        return;
    }
    let t = TempVault::new();
    let mut s = t.create();
    s.add_key(Actor::Gui, binance("k")).unwrap();
    {
        let g = grant::<actions::SecuritySettings>(&mut s);
        s.enable_device_unlock(Actor::Gui, g)
    }
    .unwrap();
    let account = format!("vault-{}", s.vault_id());
    let new = keyward_core::vault::MasterPassword::from("violet kettle orbit anchor");
    {
        let g = grant::<actions::ChangePassword>(&mut s);
        s.change_password(Actor::Gui, g, &password(), &new)
    }
    .unwrap();
    assert!(!s.device_unlock_enabled().unwrap());
    s.lock();
    let vault = Vault::open(&t.path()).unwrap();
    assert!(!vault.info().device_unlock);
    assert!(matches!(
        vault.unlock_with_device(),
        Err(VaultError::DeviceUnlockNotEnabled)
    ));
    // The keyring entry that wrapped the old key is gone too.
    let entry = keyring::Entry::new("keyward", &account).unwrap();
    assert!(matches!(entry.get_secret(), Err(keyring::Error::NoEntry)));
    assert!(vault.unlock(&new).is_ok());
}
