use std::time::{Duration, SystemTime};

use keyward_core::vault::{
    Actor, ManualClock, MasterPassword, Settings, Vault, VaultError, VaultOptions,
};

use crate::vault::support::{TempVault, binance, password};

fn options(clock: &ManualClock) -> VaultOptions {
    VaultOptions::with_clock(clock.clone())
}

#[test]
fn failed_unlocks_slow_down_and_the_counter_persists() {
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let t = TempVault::new();
    t.create_with(options(&clock)).lock();
    let wrong = MasterPassword::from("wrong");
    let vault = Vault::open_with(&t.path(), options(&clock)).unwrap();
    for _ in 0..3 {
        assert!(matches!(
            vault.unlock(&wrong),
            Err(VaultError::WrongPassword)
        ));
    }
    // After three failures even the right password must wait...
    let err = vault.unlock(&password()).unwrap_err();
    assert!(
        matches!(
            err,
            VaultError::Throttled {
                retry_after_secs: 2
            }
        ),
        "{err:?}"
    );
    // ...also from a fresh process (the counter is in the file).
    let reopened = Vault::open_with(&t.path(), options(&clock)).unwrap();
    assert_eq!(reopened.info().failed_unlocks, 3);
    assert!(matches!(
        reopened.unlock(&password()),
        Err(VaultError::Throttled { .. })
    ));
    clock.advance(Duration::from_secs(2));
    assert!(matches!(
        reopened.unlock(&wrong),
        Err(VaultError::WrongPassword)
    ));
    // The fourth failure doubles the wait.
    clock.advance(Duration::from_secs(3));
    assert!(matches!(
        reopened.unlock(&password()),
        Err(VaultError::Throttled {
            retry_after_secs: 1
        })
    ));
    clock.advance(Duration::from_secs(1));
    let s = reopened.unlock(&password()).unwrap();
    s.lock();
    // Success resets the counter.
    let again = Vault::open_with(&t.path(), options(&clock)).unwrap();
    assert_eq!(again.info().failed_unlocks, 0);
    assert_eq!(again.unlock_wait().unwrap(), Duration::ZERO);
}

#[test]
fn idle_sessions_lock_themselves() {
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let t = TempVault::new();
    let mut s = t.create_with(options(&clock));
    s.add_key(Actor::Gui, binance("k")).unwrap();
    assert_eq!(Settings::default().auto_lock_minutes, 5);
    clock.advance(Duration::from_secs(4 * 60));
    assert!(!s.is_idle_expired());
    s.list_keys().unwrap(); // activity resets the timer
    clock.advance(Duration::from_secs(4 * 60));
    assert!(!s.is_idle_expired());
    clock.advance(Duration::from_secs(61));
    assert!(s.is_idle_expired());
    assert!(matches!(s.list_keys(), Err(VaultError::Locked)));
    assert!(!s.is_unlocked(), "the vault key was dropped");
    // Stays locked even if time went backwards.
    assert!(matches!(s.key_detail("k"), Err(VaultError::Locked)));
}

#[test]
fn explicit_lock_then_unlock_again() {
    let t = TempVault::new();
    let mut s = t.create();
    s.add_key(Actor::Cli, binance("k")).unwrap();
    s.lock();
    let vault = Vault::open(&t.path()).unwrap();
    let mut s = vault.unlock(&password()).unwrap();
    assert_eq!(s.list_keys().unwrap().len(), 1);
}
