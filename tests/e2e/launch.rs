//! First start of the app.

use keyward_tests::App;
use serde_json::json;

#[test]
fn empty_data_dir_shows_create_your_vault() {
    let app = App::launch();
    let heading = app.wait_for_text("h1", "Create your vault");
    assert_eq!(heading, "Create your vault");
    assert_eq!(app.title(), "Keyward");
    // The status comes from the core: the path shown is inside the test's
    // private data dir, not the user's.
    let shown = app.text_of("[data-testid=vault-path]");
    assert!(
        shown.starts_with(&app.data_dir.path().to_string_lossy().to_string()),
        "vault path {shown:?} is not in the test data dir"
    );
    app.screenshot("launch-create-vault");
}

#[test]
fn existing_vault_file_shows_unlock() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("vault.keyward"), b"placeholder").unwrap();
    let app = App::launch_in(dir);
    app.wait_for_text("h1", "Unlock");
}

#[test]
fn csp_blocks_inline_script_and_eval() {
    let app = App::launch();
    app.wait_for("h1");
    let eval_blocked = app.execute(
        "try { eval('1+1'); return false; } catch (e) { return true; }",
        json!([]),
    );
    assert_eq!(eval_blocked, json!(true), "eval must be blocked by the CSP");
    let inline_ran = app.execute(
        "window.__inlineRan = false;\
         const s = document.createElement('script');\
         s.textContent = 'window.__inlineRan = true';\
         document.head.appendChild(s);\
         return new Promise(r => setTimeout(() => r(window.__inlineRan), 200));",
        json!([]),
    );
    assert_eq!(
        inline_ran,
        json!(false),
        "inline scripts must be blocked by the CSP"
    );
}

#[test]
fn the_page_gets_no_webgl_context() {
    // The shell turns WebGL (and GPU compositing) off: the UI needs neither.
    let app = App::launch();
    app.wait_for("h1");
    let contexts = app.execute(
        "const c = () => document.createElement('canvas');\
         return { webgl: c().getContext('webgl') !== null,\
                  webgl2: c().getContext('webgl2') !== null,\
                  canvas2d: c().getContext('2d') !== null };",
        json!([]),
    );
    assert_eq!(
        contexts,
        json!({ "webgl": false, "webgl2": false, "canvas2d": true }),
        "WebGL must be off (a 2D canvas still works)"
    );
}

#[test]
fn commands_outside_the_allow_list_are_denied() {
    let app = App::launch();
    app.wait_for("h1");
    let allowed = app.invoke("vault_status", json!({}));
    assert!(
        allowed.get("ok").is_some(),
        "vault_status should be allowed: {allowed}"
    );
    // A core plugin command nobody granted.
    let denied = app.invoke("plugin:window|title", json!({ "label": "main" }));
    assert!(denied.to_string().contains("not allowed"), "{denied}");
    assert!(
        denied.get("err").is_some(),
        "ungranted plugin command succeeded: {denied}"
    );
    let unknown = app.invoke("no_such_command", json!({}));
    assert!(
        unknown.get("err").is_some(),
        "unknown command must fail: {unknown}"
    );
}
