//! Where a key runs, on its page: a server (deployment target) the key is
//! granted to shows "never delivered"; "Deliver now…" asks for the step-up,
//! seals the key and copies it over a real OpenSSH server on loopback; the
//! row then shows the delivery and the pinned host key, and the file on the
//! server opens with the server's identity to exactly this key. A server
//! whose host key changed is refused with the reason on its row, and the
//! file there is left as it was. No secret reaches the page.

use keyward_core::audit::Actor;
use keyward_core::deploy::{self, NewTarget};
use keyward_core::mfa::Proof;
use keyward_core::mfa::actions::DeployTargets;
use keyward_core::model::{ApiSecret, Exchange, NewKey, Scope};
use keyward_core::vault::{KdfParams, MasterPassword, Session, Vault};
use keyward_tests::App;
use keyward_tests::sshd::Sshd;
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
fn vault_with_target(sshd: &Sshd, recipient: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp data dir");
    let path = dir.path().join(keyward_core::paths::VAULT_FILE_NAME);
    let mut session = Vault::create(
        &path,
        &MasterPassword::from(PASSWORD),
        KdfParams::DEFAULT,
        Actor::Cli,
    )
    .expect("create vault");
    let mut key = NewKey::new(
        LABEL,
        Exchange::Bybit,
        KEY_ID,
        ApiSecret::new(CANARY.to_owned()),
    );
    key.scopes = vec![Scope::Read, Scope::Trade];
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

/// Brings the section into view for a screenshot.
fn show_section(app: &App) {
    app.execute(
        "document.querySelector('[data-testid=deployments]').scrollIntoView(); return true",
        json!([]),
    );
}

fn deliver(app: &App) {
    app.click("[data-testid=deliver-key]");
    app.wait_for("[data-testid=step-up]");
    app.fill("#stepup-code", PASSWORD);
    app.click("[data-testid=step-up-confirm]");
}

#[test]
fn the_key_page_delivers_to_its_server_and_names_a_changed_host_key() {
    let mut sshd = Sshd::start();
    let (identity, recipient) = deploy::new_identity();
    let ssh_options = format!("-F /dev/null -i {}", sshd.user_key().display());
    let app = App::launch_with(
        vault_with_target(&sshd, &recipient),
        &[("KEYWARD_SSH_OPTIONS", ssh_options.as_str())],
    );
    app.wait_for_text("h1", "Unlock");
    app.fill("#pw", PASSWORD);
    app.click("[data-testid=unlock]");
    app.click(&format!(
        "[data-testid=key-row][data-label={LABEL}] button.link"
    ));
    app.wait_for("[data-testid=deployments]");
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
    let bundle = deploy::open_bundle(
        &sealed,
        identity.expose_secret().as_bytes(),
        "vps.age",
        "identity",
    )
    .expect("the server's identity opens the bundle");
    let vars: Vec<(String, String)> = bundle
        .vars
        .iter()
        .map(|v| (v.name.clone(), v.value.expose_secret().to_owned()))
        .collect();
    assert_eq!(
        vars,
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
