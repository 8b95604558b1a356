//! Where a key runs, on its page: a server (deployment target) the key is
//! granted to shows "never delivered"; "Deliver now…" asks for the step-up,
//! seals the key and copies it over a real OpenSSH server on loopback; the
//! row then shows the delivery and the pinned host key, and the file on the
//! server opens with the server's identity to exactly this key. A server
//! whose host key changed is refused with the reason on its row, and the
//! file there is left as it was. A rotation follows the key: the promotion
//! delivers the new key, a server that cannot be reached is named and holds
//! the old key's revocation until the new key reaches it. No secret reaches
//! the page.

use keyward_core::audit::Actor;
use keyward_core::deploy::{self, NewTarget};
use keyward_core::mfa::Proof;
use keyward_core::mfa::actions::DeployTargets;
use keyward_core::model::{ApiSecret, Environment, Exchange, NewKey, Scope};
use keyward_core::vault::{KdfParams, MasterPassword, Session, Vault};
use keyward_tests::sshd::Sshd;
use keyward_tests::{App, Simulator, wait_until};
use secrecy::ExposeSecret;
use serde_json::json;

const PASSWORD: &str = "harbor-quill-saffron-meadow-64";
const LABEL: &str = "bybit-bot";
const KEY_ID: &str = "aB3dE5fG7hJ9kL1mN2";
const CANARY: &str = "CANARYdeployGUIsecret0123456789abcde";

fn password_proof(session: &mut Session) -> Option<Proof> {
    let verified = session
        .verify_password(&MasterPassword::from(PASSWORD))
        .expect("the master password");
    Some(Proof::MasterPassword(verified))
}

/// A vault with one Bybit key granted to the server `vps` (built with the
/// core: adding servers is on the command line). Before MFA is enrolled the
/// step-up takes the master password.
fn vault_with_target(sshd: &Sshd, recipient: &str, key: NewKey) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp data dir");
    let path = dir.path().join(keyward_core::paths::VAULT_FILE_NAME);
    let mut session = Vault::create(
        &path,
        &MasterPassword::from(PASSWORD),
        KdfParams::DEFAULT,
        Actor::Cli,
    )
    .expect("create vault");
    session.add_key(Actor::Cli, key).expect("add key");
    let proof = password_proof(&mut session);
    let grant = session
        .step_up::<DeployTargets>(Actor::Cli, proof)
        .expect("step-up");
    session
        .add_deploy_target(
            Actor::Cli,
            grant,
            &NewTarget {
                name: "vps".into(),
                ssh: sshd.ssh(),
                remote_path: sshd.remote().display().to_string(),
                recipient: recipient.into(),
            },
        )
        .expect("add the target");
    let proof = password_proof(&mut session);
    let grant = session
        .step_up::<DeployTargets>(Actor::Cli, proof)
        .expect("step-up");
    session
        .grant_deploy_target(Actor::Cli, grant, "vps", LABEL, true)
        .expect("grant the key");
    session.lock();
    dir
}

/// Launches the app on `dir` (its SSH client logging in with the test
/// server's user key), unlocks, and opens the key's page.
fn open_key_page(sshd: &Sshd, dir: tempfile::TempDir) -> App {
    let ssh_options = format!("-F /dev/null -i {}", sshd.user_key().display());
    let app = App::launch_with(dir, &[("KEYWARD_SSH_OPTIONS", ssh_options.as_str())]);
    app.wait_for_text("h1", "Unlock");
    app.fill("#pw", PASSWORD);
    app.click("[data-testid=unlock]");
    app.click(&format!(
        "[data-testid=key-row][data-label={LABEL}] button.link"
    ));
    app.wait_for("[data-testid=deployments]");
    app
}

/// The variables the server's bundle holds, opened with its identity.
fn bundle_vars(sshd: &Sshd, identity: &str) -> Vec<(String, String)> {
    let sealed = std::fs::read(sshd.remote().join("vps.age")).expect("the bundle on the server");
    deploy::open_bundle(&sealed, identity.as_bytes(), "vps.age", "identity")
        .expect("the server's identity opens the bundle")
        .vars
        .iter()
        .map(|v| (v.name.clone(), v.value.expose_secret().to_owned()))
        .collect()
}

fn step_up(app: &App) {
    app.wait_for("[data-testid=step-up]");
    app.fill("#stepup-code", PASSWORD);
    app.click("[data-testid=step-up-confirm]");
}

/// Brings the section into view for a screenshot.
fn show_section(app: &App) {
    app.execute(
        "document.querySelector('[data-testid=deployments]').scrollIntoView(); return true",
        json!([]),
    );
}

fn deliver(app: &App) {
    app.click("[data-testid=deliver-key]");
    step_up(app);
}

#[test]
fn the_key_page_delivers_to_its_server_and_names_a_changed_host_key() {
    let mut sshd = Sshd::start();
    let (identity, recipient) = deploy::new_identity();
    let mut key = NewKey::new(
        LABEL,
        Exchange::Bybit,
        KEY_ID,
        ApiSecret::new(CANARY.to_owned()),
    );
    key.scopes = vec![Scope::Read, Scope::Trade];
    let app = open_key_page(&sshd, vault_with_target(&sshd, &recipient, key));
    let row = "[data-testid=deployment][data-target=vps]";
    app.wait_for_text(row, "never delivered");
    let state = app.execute(
        "return document.querySelector(arguments[0]).dataset.state",
        json!([row]),
    );
    assert_eq!(state, "never");
    show_section(&app);
    app.screenshot("deploy-1-never-delivered");

    // Deliver: the step-up, then the copy over SSH; the host key is pinned.
    deliver(&app);
    app.wait_for(&format!("{row}[data-state=current]"));
    let pinned = app.wait_for_text(
        "[data-testid=delivery-pinned]",
        "pinned host key ssh-ed25519",
    );
    assert!(!pinned.contains(CANARY));
    show_section(&app);
    app.screenshot("deploy-2-delivered");

    // On the server: one sealed file, mode 0600, that opens with the
    // server's identity to exactly this key.
    let bundle_path = sshd.remote().join("vps.age");
    let sealed = std::fs::read(&bundle_path).expect("the bundle on the server");
    assert!(
        !sealed.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()),
        "the bundle holds the secret in plaintext"
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&bundle_path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "bundle mode {mode:o}");
    }
    assert_eq!(
        bundle_vars(&sshd, identity.expose_secret()),
        vec![
            ("BYBIT_API_KEY".to_owned(), KEY_ID.to_owned()),
            ("BYBIT_API_SECRET".to_owned(), CANARY.to_owned()),
        ]
    );

    // A reinstalled server (or someone in between): refused, the reason on
    // the server's row, the file there untouched.
    sshd.new_host_key();
    deliver(&app);
    let error = app.wait_for_text("[data-testid=delivery-error]", "host key");
    assert!(error.contains("nothing was sent"), "{error}");
    assert_eq!(
        std::fs::read(&bundle_path).unwrap(),
        sealed,
        "the file on the server changed"
    );
    show_section(&app);
    app.screenshot("deploy-3-host-key-changed");

    let page = app.page_html();
    assert!(!page.contains(CANARY), "the secret reached the page");
    let output = app.output.text();
    assert!(!output.contains(CANARY), "the secret in the app's output");
    assert!(!output.contains("panicked"), "the app panicked:\n{output}");
}

const OLD_KEY: &str = "BYBITOLDKEY000001";
const OLD_SECRET: &str = "CANARYfollowOldSecret4d8f2a9c1e";
const NEW_KEY: &str = "BYBITNEWKEY000002";
const NEW_SECRET: &str = "CANARYfollowNewSecret7c3e9b1f5a";

fn revoke_disabled(app: &App) -> bool {
    app.execute(
        "return document.querySelector('[data-testid=rotation-revoke]').disabled",
        json!([]),
    ) == json!(true)
}

#[test]
fn a_promotion_delivers_the_new_key_and_a_server_behind_holds_the_revocation() {
    let sim = Simulator::start(json!({
        "rate_limits": false,
        "keys": [
            // Bybit lets a key delete itself only with a transfer or
            // withdrawal permission.
            { "exchange": "bybit", "api_key": OLD_KEY, "secret": OLD_SECRET,
              "scopes": ["read", "trade", "transfer"], "ips": ["203.0.113.7"] },
            { "exchange": "bybit", "api_key": NEW_KEY, "secret": NEW_SECRET,
              "scopes": ["read", "trade"], "ips": ["203.0.113.7"] }
        ]
    }));
    let mut sshd = Sshd::start();
    let (identity, recipient) = deploy::new_identity();
    let mut key = NewKey::new(
        LABEL,
        Exchange::Bybit,
        OLD_KEY,
        ApiSecret::new(OLD_SECRET.to_owned()),
    );
    key.environment = Environment::Custom(sim.url("bybit"));
    key.scopes = vec![Scope::Read, Scope::Trade];
    key.ip_whitelist = vec!["203.0.113.7".into()];
    let app = open_key_page(&sshd, vault_with_target(&sshd, &recipient, key));
    let row = "[data-testid=deployment][data-target=vps]";
    deliver(&app);
    app.wait_for(&format!("{row}[data-state=current]"));
    assert_eq!(bundle_vars(&sshd, identity.expose_secret())[0].1, OLD_KEY);

    // The server goes away; the rotation goes on to the promotion.
    sshd.stop();
    app.click("[data-testid=rotation-begin]");
    app.fill("#rot-key", NEW_KEY);
    app.fill("#rot-secret", NEW_SECRET);
    app.click("[data-testid=rotation-save-key]");
    // Bybit does not report every scope: the audited override.
    app.click("[data-testid=rotation-allow-unknown]");
    app.click("[data-testid=rotation-verify]");
    app.wait_for_text("[data-testid=rotation-verification]", "passed");
    app.click("[data-testid=rotation-promote]");
    step_up(&app);
    let failed = app.wait_for_text(
        "[data-testid=rotation-deliveries] [data-target=vps]",
        "did not get the new key",
    );
    assert!(failed.contains("cannot reach"), "{failed}");
    app.wait_for("[data-testid=rotation-still-deployed]");
    app.wait_for(&format!("{row}[data-state=old_key]"));
    assert!(revoke_disabled(&app), "revoking the old key is offered");
    app.execute(
        "document.querySelector('[data-testid=rotation]').scrollIntoView(); return true",
        json!([]),
    );
    app.screenshot("deploy-4-server-behind");
    // Straight through IPC, without the override: refused by the core.
    let out = app.invoke(
        "rotation_revoke_old_key",
        json!({ "label": LABEL, "proof": { "kind": "password", "password": PASSWORD },
                "confirmManual": false }),
    );
    assert!(
        out["err"]["message"].as_str().unwrap_or("").contains("vps"),
        "{out}"
    );

    // The server is back: deliver, then the old key can go.
    sshd.launch();
    deliver(&app);
    app.wait_for(&format!("{row}[data-state=current]"));
    wait_until(
        || {
            app.execute(
                "return document.querySelector('[data-testid=rotation-still-deployed]') === null",
                json!([]),
            ) == json!(true)
        },
        "the rotation sees the server up to date",
    );
    assert_eq!(
        bundle_vars(&sshd, identity.expose_secret()),
        vec![
            ("BYBIT_API_KEY".to_owned(), NEW_KEY.to_owned()),
            ("BYBIT_API_SECRET".to_owned(), NEW_SECRET.to_owned()),
        ]
    );
    assert!(!revoke_disabled(&app));
    app.click("[data-testid=rotation-revoke]");
    step_up(&app);
    app.wait_for_text("[data-testid=revoke-outcome]", "Old key revoked");

    let page = app.page_html();
    let output = app.output.text();
    for canary in [OLD_SECRET, NEW_SECRET] {
        assert!(!page.contains(canary), "a secret reached the page");
        assert!(!output.contains(canary), "a secret in the app's output");
    }
}
