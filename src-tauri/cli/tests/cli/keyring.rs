//! OS-keyring unlock. The tests that need a Secret Service run against a real
//! gnome-keyring started by the caller:
//!
//! ```text
//! dbus-run-session -- bash -c 'echo -n pw | gnome-keyring-daemon --unlock \
//!     --components=secrets >/dev/null; cargo test -p keyward-cli'
//! ```
//!
//! Without `DBUS_SESSION_BUS_ADDRESS` they are skipped loudly, unless
//! `KEYWARD_REQUIRE_KEYRING=1` (set by CI) turns the skip into a failure.

use crate::support::Env;

fn keyring_available() -> bool {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() {
        return true;
    }
    if std::env::var("KEYWARD_REQUIRE_KEYRING").as_deref() == Ok("1") {
        panic!(
            "KEYWARD_REQUIRE_KEYRING=1 but no DBUS_SESSION_BUS_ADDRESS: run under dbus-run-session with gnome-keyring"
        );
    }
    eprintln!(
        "\n*** SKIPPED: OS-keyring test needs a Secret Service (run under dbus-run-session with gnome-keyring-daemon) ***\n"
    );
    false
}

#[test]
fn enable_unlock_disable_with_a_real_keyring() {
    if !keyring_available() {
        return;
    }
    let env = Env::init();
    env.add_binance("main", "s").ok();
    let run = env.run(&["keyring", "status"]).ok();
    assert!(run.stdout.contains("available"), "{}", run.stdout);
    assert!(run.stdout.contains("keyring unlock off"));
    env.run(&["keyring", "enable"]).ok();
    assert!(
        env.run(&["keyring", "status"])
            .ok()
            .stdout
            .contains("keyring unlock on")
    );
    // No password at all: the keyring alone unlocks.
    let mut cmd = env.command();
    cmd.env_remove("KEYWARD_PASSWORD")
        .args(["--use-keyring", "list"]);
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("main"));
    env.run(&["keyring", "disable"]).ok();
    let mut cmd = env.command();
    cmd.env_remove("KEYWARD_PASSWORD")
        .args(["--use-keyring", "list"]);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not enabled"));
    // The password path always works.
    env.run(&["list"]).ok();
}

#[test]
fn without_a_secret_service_the_reason_is_given_and_password_still_works() {
    let env = Env::init();
    env.add_binance("main", "s").ok();
    let no_bus = [(
        "DBUS_SESSION_BUS_ADDRESS",
        "unix:path=/nonexistent/keyward-test-bus",
    )];
    let run = env.run_env(&["keyring", "status"], &no_bus).ok();
    assert!(run.stdout.contains("unavailable ("), "{}", run.stdout);
    let run = env.run_env(&["keyring", "enable"], &no_bus).code(1);
    assert!(
        run.stderr.contains("OS keyring is not available"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("master password"));
    let run = env.run_env(&["--use-keyring", "list"], &no_bus).ok();
    assert!(run.stdout.contains("main"));
}

#[test]
fn without_a_secret_service_enable_refuses_before_asking_for_a_code() {
    let env = Env::init();
    let run = env.run(&["mfa", "enroll", "--json"]).ok();
    let json: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    let seed = keyward_core::mfa::TotpSeed::from_base32(json["secret"].as_str().unwrap()).unwrap();
    env.run(&["mfa", "confirm", &env.code(&seed, -1)]).ok();
    let no_bus = [(
        "DBUS_SESSION_BUS_ADDRESS",
        "unix:path=/nonexistent/keyward-test-bus",
    )];
    // No code given: the keyring is named, not the missing code.
    let run = env.run_env(&["keyring", "enable"], &no_bus).code(1);
    assert!(
        run.stderr.contains("OS keyring is not available"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("authentication code"),
        "{}",
        run.stderr
    );
    // A code given is not spent on it: the same code still opens a gated
    // setting afterwards.
    let code = env.code(&seed, 0);
    env.run_env(&["keyring", "enable", "--totp", &code], &no_bus)
        .code(1);
    env.run(&["settings", "--auto-lock-minutes", "9", "--totp", &code])
        .ok();
}
