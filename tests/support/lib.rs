//! Support for Keyward's cross-crate and end-to-end tests.
//!
//! [`App`] drives the REAL desktop binary through WebDriver: it starts
//! `tauri-driver` (which launches the app and proxies to `WebKitWebDriver`)
//! with a fresh, private data directory, so a test never touches the user's
//! real vault. Tests need an X display; the README test command provides one
//! with `xvfb-run`.

pub mod sshd;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// The repository root (the workspace).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The desktop binary under test: `$KEYWARD_APP_BIN`, else the debug build.
pub fn app_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("KEYWARD_APP_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("debug").join("keyward-desktop")
}

/// Where e2e screenshots go: `target/e2e-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let dir = workspace_root().join("target").join("e2e-screenshots");
    std::fs::create_dir_all(&dir).expect("create screenshot dir");
    dir
}

/// Where e2e figures (timings) are collected: `target/e2e-figures.txt`,
/// which the test command prints after the run (the test harness captures a
/// passing test's output).
pub fn figures_file() -> PathBuf {
    workspace_root().join("target").join("e2e-figures.txt")
}

/// Prints a figure and appends it to [`figures_file`].
pub fn report_figure(line: &str) {
    use std::io::Write as _;
    println!("{line}");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(figures_file())
    {
        let _ = writeln!(f, "{line}");
    }
}

/// Polls `ok` every 100 ms for up to 10 s; panics naming `what` if it never
/// holds.
pub fn wait_until(mut ok: impl FnMut() -> bool, what: &str) {
    for _ in 0..100 {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out: {what}");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Everything a process printed, kept so tests can grep it for canaries.
#[derive(Clone, Default)]
pub struct CapturedOutput(Arc<Mutex<String>>);

impl CapturedOutput {
    fn pump(&self, stream: impl std::io::Read + Send + 'static) {
        let sink = self.0.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap_or_else(|e| e.into_inner());
                s.push_str(&line);
                s.push('\n');
            }
        });
    }

    /// All output so far.
    pub fn text(&self) -> String {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A running desktop app under WebDriver, with its own data directory.
pub struct App {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    /// The app's private data directory (`KEYWARD_DATA_DIR`).
    pub data_dir: tempfile::TempDir,
    /// stdout and stderr of tauri-driver and the app it launched.
    pub output: CapturedOutput,
}

impl App {
    /// Launches the app with an empty data directory.
    pub fn launch() -> App {
        let data_dir = tempfile::tempdir().expect("temp data dir");
        App::launch_in(data_dir)
    }

    /// Launches the app on an existing data directory.
    pub fn launch_in(data_dir: tempfile::TempDir) -> App {
        App::launch_with(data_dir, &[])
    }

    /// Launches the app on `data_dir` with extra environment variables
    /// (for example `GTK_THEME` to pick the dark variant).
    pub fn launch_with(data_dir: tempfile::TempDir, env: &[(&str, &str)]) -> App {
        assert!(
            std::env::var_os("DISPLAY").is_some(),
            "e2e tests need an X display: run them through the README test command (xvfb-run)"
        );
        let binary = app_binary();
        assert!(
            binary.is_file(),
            "desktop binary {} not found: build it first (make build-app)",
            binary.display()
        );
        // Under heavy load WebKitWebDriver has been seen to accept a
        // new-session request and never answer it (the app never starts).
        // Such a launch is abandoned after a bounded wait and retried with
        // a fresh driver; anything else wrong fails the test.
        let mut failures = Vec::new();
        for _ in 0..3 {
            match start_driver(&binary, data_dir.path(), env) {
                Ok((driver, output, base, session)) => {
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .build()
                        .into();
                    return App {
                        driver,
                        base,
                        session,
                        agent,
                        data_dir,
                        output,
                    };
                }
                Err(why) => {
                    eprintln!("WebDriver launch failed, retrying: {why}");
                    failures.push(why);
                }
            }
        }
        panic!("no WebDriver session after 3 launches: {failures:?}");
    }

    fn url(&self, path: &str) -> String {
        format!("{}/session/{}{}", self.base, self.session, path)
    }

    fn post(&self, path: &str, body: &Value) -> Value {
        post(&self.agent, &self.url(path), body)
    }

    fn get(&self, path: &str) -> Value {
        let mut resp = self
            .agent
            .get(&self.url(path))
            .call()
            .expect("webdriver GET");
        resp.body_mut().read_json().expect("webdriver JSON")
    }

    /// Runs synchronous JavaScript in the page and returns its value. A
    /// returned Promise is awaited by WebKitWebDriver.
    pub fn execute(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", &json!({ "script": script, "args": args }))["value"].clone()
    }

    /// Waits until `css` matches an element and returns its id.
    pub fn wait_for(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found = self.post(
                "/element",
                &json!({ "using": "css selector", "value": css }),
            );
            if let Some(obj) = found["value"].as_object()
                && let Some(id) = obj.values().next().and_then(Value::as_str)
                && obj.keys().any(|k| k.starts_with("element-"))
            {
                return id.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no element matches {css:?}; page text: {:?}",
                self.page_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The visible text of the element matching `css` (waits for it).
    pub fn text_of(&self, css: &str) -> String {
        let id = self.wait_for(css);
        self.get(&format!("/element/{id}/text"))["value"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits until the element matching `css` has text containing `needle`.
    pub fn wait_for_text(&self, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = self.text_of(css);
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{css:?} never contained {needle:?}; last text: {text:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clicks the element matching `css`.
    /// Clicks the element matching `css`. An element the page re-rendered
    /// between finding and clicking (WebDriver's "stale element
    /// reference") is found again and clicked, never silently missed.
    pub fn click(&self, css: &str) {
        for _ in 0..5 {
            let id = self.wait_for(css);
            let answer = self.post(&format!("/element/{id}/click"), &json!({}));
            match answer["value"]["error"].as_str() {
                None => return,
                Some("stale element reference") => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Some(other) => panic!("click {css:?}: {other}: {answer}"),
            }
        }
        panic!("click {css:?}: the element kept being replaced");
    }

    /// Types `text` into the element matching `css` (after clearing it).
    pub fn fill(&self, css: &str, text: &str) {
        let id = self.wait_for(css);
        self.post(&format!("/element/{id}/clear"), &json!({}));
        self.post(&format!("/element/{id}/value"), &json!({ "text": text }));
    }

    /// Sends keystrokes to the element matching `css` without clearing it;
    /// WebDriver key codes such as `"\u{E015}"` (arrow down) are keys.
    pub fn send_keys(&self, css: &str, keys: &str) {
        let id = self.wait_for(css);
        self.post(&format!("/element/{id}/value"), &json!({ "text": keys }));
    }

    /// Ends the session the way closing the window does: the app goes
    /// through its normal shutdown (locking the vault) and WebKit writes out
    /// its storage and caches. Returns the data directory, which holds
    /// WebKit's own data under `xdg/`, for inspection.
    pub fn quit(mut self) -> tempfile::TempDir {
        let _ = self.agent.delete(&self.url("")).call();
        let group = self.driver.id().to_string();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Command::new("pgrep")
            .args(["-g", &group, "-x", "keyward-desktop"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            assert!(
                Instant::now() < deadline,
                "the app did not exit after its window closed"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let empty = tempfile::tempdir().expect("temp dir");
        std::mem::replace(&mut self.data_dir, empty)
    }

    /// The TOTP code for a base32 enrolment secret, `steps` time steps from
    /// the app's pinned "now" (±1 step is accepted by the core; later steps
    /// avoid replays). The first call pins the app's vault clock in the
    /// middle of the next TOTP step, through the file named by
    /// `KEYWARD_TEST_CLOCK` (read by debug builds only; before the file
    /// exists the app uses the wall clock), so a code never crosses a step
    /// boundary between being computed here and checked by the app.
    pub fn totp_code(&self, secret_base32: &str, steps: i64) -> String {
        use std::time::{Duration, SystemTime, UNIX_EPOCH};
        const STEP: u64 = 30;
        let file = self.data_dir.path().join("clock");
        let now = match std::fs::read_to_string(&file) {
            Ok(text) => text.trim().parse::<u64>().expect("pinned clock"),
            Err(_) => {
                let wall = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .expect("after 1970")
                    .as_secs();
                let pinned = (wall / STEP + 1) * STEP + STEP / 2;
                std::fs::write(&file, pinned.to_string()).expect("pin the clock");
                pinned
            }
        };
        let at = now
            .checked_add_signed(steps * STEP as i64)
            .expect("after 1970");
        let seed = keyward_core::mfa::TotpSeed::from_base32(secret_base32).expect("valid secret");
        seed.code_at(UNIX_EPOCH + Duration::from_secs(at))
            .expose_secret()
            .to_string()
    }

    /// Gives this app's window the X keyboard focus (`xdotool`). Under a
    /// bare Xvfb, keyboard focus follows the pointer to whichever window is
    /// on top; with tests running side by side that may be another app's,
    /// and WebKit draws no focus ring in an unfocused window.
    pub fn focus_window(&self) {
        let group = self.driver.id().to_string();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let pids = Command::new("pgrep")
                .args(["-g", &group, "-x", "keyward-desktop"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            for pid in pids.split_whitespace() {
                let windows = Command::new("xdotool")
                    .args(["search", "--onlyvisible", "--pid", pid])
                    .output()
                    .expect("xdotool (apt install xdotool)");
                for window in String::from_utf8_lossy(&windows.stdout).split_whitespace() {
                    let _ = Command::new("xdotool")
                        .args(["windowfocus", "--sync", window])
                        .status();
                }
            }
            if self.execute("return document.hasFocus()", json!([])) == json!(true) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "could not give the app's window the keyboard focus"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Presses one key (a WebDriver key code such as `"\u{E004}"` for Tab)
    /// on whatever has focus, as a user would.
    pub fn press(&self, key: &str) {
        self.post(
            "/actions",
            &json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": [
                { "type": "keyDown", "value": key }, { "type": "keyUp", "value": key }
            ] }] }),
        );
    }

    /// Runs axe-core (WCAG 2.1 A/AA and best-practice rules) on the page and
    /// returns its violations as `{id, impact, help, nodes}` objects.
    pub fn axe(&self) -> Vec<Value> {
        let loaded = self.execute("return typeof window.axe === 'object'", json!([]));
        if loaded != json!(true) {
            let path = workspace_root().join("ui/node_modules/axe-core/axe.min.js");
            let source = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (npm --prefix ui ci installs axe-core)",
                    path.display()
                )
            });
            self.execute(&format!("{source}\n;return true"), json!([]));
        }
        let result = self.execute(
            "return axe.run(document, {
               runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
               resultTypes: ['violations'],
             }).then(r => r.violations.map(v => ({
               id: v.id, impact: v.impact, help: v.help,
               nodes: v.nodes.slice(0, 4).map(n => n.target.join(' ') + ' :: ' + (n.failureSummary || '').split('\\n').slice(1, 2).join('')),
             })), e => ({ axeError: String(e) }))",
            json!([]),
        );
        match result {
            Value::Array(violations) => violations,
            other => panic!("axe-core did not run: {other}"),
        }
    }

    /// Prints axe-core's findings on the current screen and returns the
    /// serious and critical ones, each as one line naming `screen`.
    pub fn axe_serious(&self, screen: &str) -> Vec<String> {
        let violations = self.axe();
        println!("axe {screen}: {} violation(s)", violations.len());
        let mut serious = Vec::new();
        for v in &violations {
            let impact = v["impact"].as_str().unwrap_or("?");
            println!(
                "  {} ({impact}): {} — {}",
                v["id"].as_str().unwrap_or("?"),
                v["help"].as_str().unwrap_or(""),
                v["nodes"]
            );
            if matches!(impact, "serious" | "critical") {
                serious.push(format!("{screen}: {} {}", v["id"], v["nodes"]));
            }
        }
        serious
    }

    /// Fails on any serious or critical axe-core violation on the current
    /// screen, then saves its screenshot as `name`.
    pub fn assert_accessible(&self, name: &str) -> PathBuf {
        let serious = self.axe_serious(name);
        assert!(
            serious.is_empty(),
            "serious or critical accessibility violations:\n{}",
            serious.join("\n")
        );
        self.screenshot(name)
    }

    /// The whole page's text content.
    pub fn page_text(&self) -> String {
        self.execute(
            "return document.body ? document.body.innerText : ''",
            json!([]),
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// The whole DOM serialized (for canary checks).
    pub fn page_html(&self) -> String {
        self.execute("return document.documentElement.outerHTML", json!([]))
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The window title.
    pub fn title(&self) -> String {
        self.get("/title")["value"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Calls a Tauri command straight through IPC, bypassing the UI, and
    /// returns `{"ok": value}` or `{"err": error}`.
    pub fn invoke(&self, command: &str, args: Value) -> Value {
        self.execute(
            "return window.__TAURI_INTERNALS__.invoke(arguments[0], arguments[1])\
               .then(v => ({ ok: v === undefined ? null : v }), e => ({ err: e }))",
            json!([command, args]),
        )
    }

    /// Saves a PNG of the window to `target/e2e-screenshots/<name>.png`,
    /// after two animation frames so the picture is not stale.
    ///
    /// The app renders without GPU compositing, and WebKitGTK then answers
    /// a screenshot request only after the page paints again; a page at
    /// rest never does. So while the request is pending, an invisible
    /// style change (a transparent outline on `<body>`, toggled) is made
    /// every 100 ms until the picture arrives, then undone.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        self.execute(
            "return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))",
            json!([]),
        );
        let shot = std::thread::scope(|scope| {
            let pending = scope.spawn(|| self.get("/screenshot"));
            let mut toggles = 0u32;
            while !pending.is_finished() {
                std::thread::sleep(Duration::from_millis(100));
                toggles += 1;
                assert!(toggles < 300, "no screenshot after 30 s of repaints");
                self.execute(
                    "const s = document.body.style;
                     s.outline = s.outline ? '' : '1px solid transparent';",
                    json!([]),
                );
            }
            pending.join().expect("screenshot thread")
        });
        self.execute("document.body.style.outline = '';", json!([]));
        let b64 = shot["value"].as_str().expect("screenshot data").to_string();
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("screenshot base64");
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.agent.delete(&self.url("")).call();
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Every file under `dir` (recursively) whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if std::fs::read(&path)
            .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
        {
            found.push(path);
        }
    }
    found
}

/// Starts tauri-driver (which starts WebKitWebDriver, which starts the app)
/// and opens a WebDriver session; on failure, ends the whole process group.
fn start_driver(
    binary: &Path,
    data_dir: &Path,
    env: &[(&str, &str)],
) -> Result<(Child, CapturedOutput, String, String), String> {
    let port = free_port();
    let native_port = free_port();
    let xdg = data_dir.join("xdg");
    let mut driver = Command::new("tauri-driver");
    // Its own process group, so dropping the App ends tauri-driver, the
    // WebKitWebDriver it starts and the app, not just tauri-driver.
    std::os::unix::process::CommandExt::process_group(&mut driver, 0);
    let mut driver = driver
        .args(["--port", &port.to_string()])
        .args(["--native-port", &native_port.to_string()])
        .env("KEYWARD_DATA_DIR", data_dir)
        .env("KEYWARD_TEST_CLOCK", data_dir.join("clock"))
        .env("XDG_DATA_HOME", xdg.join("data"))
        .env("XDG_CACHE_HOME", xdg.join("cache"))
        .env("XDG_CONFIG_HOME", xdg.join("config"))
        .env_remove("KEYWARD_VAULT")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tauri-driver (cargo install tauri-driver --version ^2)");
    let output = CapturedOutput::default();
    output.pump(driver.stdout.take().expect("piped stdout"));
    output.pump(driver.stderr.take().expect("piped stderr"));
    let fail = |mut driver: Child, why: String| {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", driver.id())])
            .stderr(Stdio::null())
            .status();
        let _ = driver.kill();
        let _ = driver.wait();
        Err(why)
    };

    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if Instant::now() > deadline {
            return fail(driver, "tauri-driver did not listen".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(90)))
        .build()
        .into();
    let base = format!("http://127.0.0.1:{port}");
    let caps = json!({
        "capabilities": {
            "alwaysMatch": {
                "tauri:options": { "application": binary.to_string_lossy() }
            }
        }
    });
    // tauri-driver accepts connections slightly before its native driver
    // is ready; retry session creation briefly.
    for _ in 0..20 {
        match try_post(&agent, &format!("{base}/session"), &caps) {
            Ok(resp) if resp["value"]["sessionId"].is_string() => {
                let session = resp["value"]["sessionId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                return Ok((driver, output, base, session));
            }
            Err(ureq::Error::Timeout(_)) => {
                return fail(driver, "new-session request never answered".into());
            }
            _ => std::thread::sleep(Duration::from_millis(250)),
        }
    }
    fail(driver, "no WebDriver session after 20 requests".into())
}

fn try_post(agent: &ureq::Agent, url: &str, body: &Value) -> Result<Value, ureq::Error> {
    agent.post(url).send_json(body)?.body_mut().read_json()
}

fn post(agent: &ureq::Agent, url: &str, body: &Value) -> Value {
    try_post(agent, url, body).unwrap_or_else(|e| panic!("webdriver POST {url}: {e}"))
}

/// The strict exchange simulator, running on its own runtime for as long as
/// this value lives.
pub struct Simulator {
    _runtime: tokio::runtime::Runtime,
    handle: keyward_sim::SimHandle,
    /// `http://127.0.0.1:PORT`; exchanges live under `/binance`, `/bybit`…
    pub base: String,
}

impl Simulator {
    /// Starts the simulator with `accounts` (the accounts-file JSON).
    pub fn start(accounts: Value) -> Simulator {
        let accounts =
            keyward_sim::Accounts::from_json(&accounts.to_string()).expect("accounts JSON");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let (addr, handle) = runtime
            .block_on(keyward_sim::spawn(accounts))
            .expect("simulator");
        Simulator {
            _runtime: runtime,
            handle,
            base: format!("http://{addr}"),
        }
    }

    /// The base URL of one exchange, e.g. `http://127.0.0.1:PORT/bybit`.
    pub fn url(&self, exchange: &str) -> String {
        format!("{}/{exchange}", self.base)
    }

    /// Injects a fault (the exchange answers as the fault says).
    pub fn add_fault(&self, fault: keyward_sim::Fault) {
        self.handle.add_fault(fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.handle.clear_faults();
    }

    /// The ids of one exchange's keys that still work.
    pub fn live_keys(&self, exchange: keyward_sim::SimExchange) -> Vec<String> {
        self.handle.live_keys(exchange)
    }
}

impl App {
    /// Creates the vault straight through IPC (the create form is covered
    /// by the vault tests).
    pub fn create_vault(&self, password: &str) {
        self.wait_for_text("h1", "Create your vault");
        let created = self.invoke("vault_create", json!({ "password": password }));
        assert!(created.get("ok").is_some(), "vault_create: {created}");
    }

    /// Adds a key straight through IPC: `fields` override defaults for a
    /// read-only mainnet HMAC key.
    pub fn add_key(&self, fields: Value) {
        let mut key = json!({
            "environment": { "kind": "mainnet" }, "passphrase": null, "key_type": "hmac",
            "scopes": ["read"], "ip_whitelist": [], "linked_services": [], "notes": "",
            "rotate_every_days": null
        });
        if let (Some(key), Some(fields)) = (key.as_object_mut(), fields.as_object()) {
            for (k, v) in fields {
                key.insert(k.clone(), v.clone());
            }
        }
        let added = self.invoke("key_add", json!({ "key": key }));
        assert!(added.get("ok").is_some(), "key_add: {added}");
    }

    /// Reloads the page (after IPC-only setup) and waits for the key list.
    pub fn reload_to_keys(&self) {
        self.execute("location.reload(); return true", json!([]));
        self.wait_for("[data-testid=key-row]");
    }
}
