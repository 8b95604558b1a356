//! Webhook alerts through a real vault against a local HTTP receiver written
//! here (std `TcpListener` on 127.0.0.1:0) that records every request and
//! answers from a script: 429 with `Retry-After`, Discord's
//! `X-RateLimit-Remaining: 0` + `X-RateLimit-Reset-After`, 204, 500,
//! garbage. The sender's sleeper is injected and records the waits it was
//! asked for, so the retry plan is asserted without measuring time.
//! Also: the reminder pass (once a day per key, injected clock), critical
//! findings of live checks against the simulator (once per finding), the
//! webhook URL sealed (never in the file, WAL or audit log) and gated.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use keyward_core::alerts::webhook::{WebhookError, WebhookKind, WebhookSender, WebhookUrl};
use keyward_core::alerts::{self, AuditSchedule, EventSwitches, deliver_alerts, send_test_alert};
use keyward_core::audit::store::AuditFilter;
use keyward_core::checks::{self, CheckSelection, verify_session};
use keyward_core::exchange::{ExchangeClient, HttpConfig};
use keyward_core::incident::{self, Situation};
use keyward_core::mfa::actions::{self, Gated};
use keyward_core::mfa::{Proof, StepUpGrant};
use keyward_core::model::{Environment, Exchange, KeyEdit, NewKey, Scope};
use keyward_core::vault::{
    Actor, KdfParams, ManualClock, MasterPassword, Session, Vault, VaultError, VaultOptions,
};
use keyward_sim::{Accounts, KeyAccount, SimExchange, SimScope};

const PASSWORD: &str = "correct horse battery staple";
const KEY_ID: &str = "ALERTKEYID0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqr";
const SECRET: &str = "CANARYALERTSECRET0001";
const HOOK_TOKEN: &str = "CANARYHOOKTOKEN42";

/// One scripted answer.
#[derive(Clone)]
enum Reply {
    Status(u16, Vec<(&'static str, &'static str)>, &'static str),
    Garbage,
}

#[derive(Clone, Debug)]
struct Request {
    path: String,
    body: String,
}

struct Receiver {
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Receiver {
    /// Serves `script` in order, then 204 forever.
    fn start(script: Vec<Reply>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            let mut script = script.into_iter();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(req) = read_request(&mut stream) else {
                    continue;
                };
                seen.lock().unwrap().push(req);
                let reply = script.next().unwrap_or(Reply::Status(204, Vec::new(), ""));
                let bytes = match reply {
                    Reply::Garbage => b"this is not HTTP\r\n\r\n".to_vec(),
                    Reply::Status(code, headers, body) => {
                        let mut out = format!(
                            "HTTP/1.1 {code} X\r\nconnection: close\r\ncontent-length: {}\r\n",
                            body.len()
                        );
                        for (k, v) in headers {
                            out.push_str(&format!("{k}: {v}\r\n"));
                        }
                        out.push_str("\r\n");
                        out.push_str(body);
                        out.into_bytes()
                    }
                };
                let _ = stream.write_all(&bytes);
                let _ = stream.flush();
            }
        });
        Receiver { port, requests }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/api/webhooks/1/{HOOK_TOKEN}", self.port)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Request> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
    let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
    Some(Request { path, body })
}

/// A sleeper that records the waits instead of sleeping.
fn recording_sender() -> (WebhookSender, Arc<Mutex<Vec<Duration>>>) {
    let waits = Arc::new(Mutex::new(Vec::new()));
    let w = waits.clone();
    let sender = WebhookSender::with_sleeper(Arc::new(move |d| {
        w.lock().unwrap().push(d);
        Box::pin(async {})
    }))
    .unwrap();
    (sender, waits)
}

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    session: Session,
    clock: ManualClock,
}

impl Fixture {
    fn new(key_env: Environment, scopes: Vec<Scope>) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.keyward");
        let clock = ManualClock::new(SystemTime::now());
        let options = VaultOptions::with_clock(clock.clone()).with_hook(alerts::hook());
        let mut session = Vault::create_with(
            &path,
            &MasterPassword::from(PASSWORD),
            KdfParams::MINIMUM,
            options,
        )
        .unwrap();
        session
            .add_key(
                Actor::Cli,
                NewKey {
                    environment: key_env,
                    scopes,
                    ip_whitelist: vec!["192.0.2.10".into()],
                    rotate_every_days: Some(1),
                    ..NewKey::new("grid-bot", Exchange::Binance, KEY_ID, SECRET.into())
                },
            )
            .unwrap();
        Fixture {
            _dir: dir,
            path,
            session,
            clock,
        }
    }

    fn grant<A: Gated>(&mut self) -> StepUpGrant<A> {
        let pw = self
            .session
            .verify_password(&MasterPassword::from(PASSWORD))
            .unwrap();
        self.session
            .step_up::<A>(Actor::Cli, Some(Proof::MasterPassword(pw)))
            .unwrap()
    }

    fn set_hook(&mut self, url: &str) {
        let g = self.grant::<actions::SecuritySettings>();
        let url = WebhookUrl::parse(url).unwrap();
        self.session
            .set_webhook(Actor::Cli, g, &url, Some(WebhookKind::Discord), None)
            .unwrap();
    }

    /// Moves the clock on and unlocks again (the idle timeout has passed).
    fn advance(&mut self, by: Duration) {
        self.clock.advance(by);
        let options = VaultOptions::with_clock(self.clock.clone()).with_hook(alerts::hook());
        let vault = Vault::open_with(&self.path, options).unwrap();
        self.session = vault.unlock(&MasterPassword::from(PASSWORD)).unwrap();
    }

    fn now(&self) -> i64 {
        self.clock.now_secs()
    }

    fn open_incident(&mut self) {
        incident::open(
            &mut self.session,
            Actor::Cli,
            Situation::Leaked,
            &["grid-bot".into()],
            None,
        )
        .unwrap();
    }

    fn audit_text(&mut self) -> String {
        let entries = self.session.audit_log(&AuditFilter::default()).unwrap();
        serde_json::to_string(&entries).unwrap()
    }
}

trait NowSecs {
    fn now_secs(&self) -> i64;
}

impl NowSecs for ManualClock {
    fn now_secs(&self) -> i64 {
        use keyward_core::vault::Clock;
        self.now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }
}

/// The webhook error a vault call failed with, if any.
fn webhook_error<T>(r: &Result<T, VaultError>) -> Option<&WebhookError> {
    r.as_ref()
        .err()
        .and_then(VaultError::feature::<WebhookError>)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn assert_no_canary(text: &str) {
    assert!(!text.contains(SECRET), "secret leaked: {text}");
    assert!(!text.contains(KEY_ID), "full key id leaked: {text}");
    assert!(!text.contains(HOOK_TOKEN), "webhook URL leaked: {text}");
}

#[test]
fn rate_limits_are_honoured_and_messages_hold_no_secret() {
    let receiver = Receiver::start(vec![
        Reply::Status(429, vec![("retry-after", "2")], r#"{"retry_after": 9}"#),
        Reply::Status(
            204,
            vec![
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset-after", "3.5"),
            ],
            "",
        ),
        Reply::Status(204, Vec::new(), ""),
    ]);
    let mut f = Fixture::new(Environment::Mainnet, vec![Scope::Read]);
    f.set_hook(&receiver.url());
    f.open_incident();
    f.open_incident();
    assert_eq!(f.session.alert_settings().unwrap().pending, 2);
    let (sender, waits) = recording_sender();
    let now = f.now();
    let report = rt()
        .block_on(deliver_alerts(&mut f.session, &sender, Actor::Cli, now))
        .unwrap();
    assert_eq!(report.delivered(), 2);
    let requests = receiver.requests();
    // 429 → retry → 204 (bucket exhausted) → wait → 204.
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|r| r.path.ends_with(HOOK_TOKEN)));
    let waits = waits.lock().unwrap().clone();
    assert_eq!(waits.len(), 2, "{waits:?}");
    // The header wins over the JSON body.
    assert_eq!(waits[0], Duration::from_secs(2));
    assert!(waits[1] > Duration::ZERO && waits[1] <= Duration::from_millis(3500));
    // Same message retried, then the second one.
    assert_eq!(requests[0].body, requests[1].body);
    for r in &requests {
        let json: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        let content = json["content"].as_str().unwrap();
        assert!(content.contains("Incident opened"));
        assert!(content.contains("grid-bot"));
        assert!(content.contains("ALER…"));
        assert!(json["embeds"].is_array());
        assert_no_canary(&r.body);
    }
    assert_eq!(f.session.alert_settings().unwrap().pending, 0);
    let audit = f.audit_text();
    assert!(audit.contains("alert_delivered"));
    assert!(audit.contains("alert_settings_changed"));
    assert_no_canary(&audit);
    // Sealed: the token is in neither the file nor its WAL.
    for suffix in ["", "-wal"] {
        let mut p = f.path.clone().into_os_string();
        p.push(suffix);
        if let Ok(bytes) = std::fs::read(&p) {
            assert!(
                !bytes
                    .windows(HOOK_TOKEN.len())
                    .any(|w| w == HOOK_TOKEN.as_bytes()),
                "webhook token in plaintext in {suffix:?}"
            );
        }
    }
    let view = serde_json::to_string(&f.session.alert_settings().unwrap()).unwrap();
    assert_no_canary(&view);
    assert!(view.contains("127.0.0.1"));
}

#[test]
fn failed_deliveries_are_typed_audited_and_never_undo_the_action() {
    // Receiver down: a port nobody listens on.
    let down = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut f = Fixture::new(Environment::Mainnet, vec![Scope::Read]);
    f.set_hook(&format!("http://127.0.0.1:{down}/hook/{HOOK_TOKEN}"));
    f.open_incident();
    let (sender, waits) = recording_sender();
    let now = f.now();
    let report = rt()
        .block_on(deliver_alerts(&mut f.session, &sender, Actor::Cli, now))
        .unwrap();
    assert_eq!(report.delivered(), 0);
    assert!(matches!(
        report.first_error(),
        Some(WebhookError::Network { .. })
    ));
    // Retried with a bounded backoff plan, then queued for later.
    assert_eq!(waits.lock().unwrap().len(), 2);
    assert_eq!(incident::list(&mut f.session).unwrap().len(), 1);
    assert_eq!(f.session.alert_settings().unwrap().pending, 1);
    // Not due again right away.
    let again = rt()
        .block_on(deliver_alerts(&mut f.session, &sender, Actor::Cli, now))
        .unwrap();
    assert!(again.is_empty());

    // 500 three times: transient, retried, then an HTTP status error.
    let r500 = Receiver::start(vec![
        Reply::Status(500, Vec::new(), "oops"),
        Reply::Status(500, Vec::new(), "oops"),
        Reply::Status(500, Vec::new(), "oops"),
    ]);
    f.set_hook(&r500.url());
    let (sender, _) = recording_sender();
    let r = rt().block_on(send_test_alert(&mut f.session, &sender, Actor::Cli));
    assert!(matches!(
        webhook_error(&r),
        Some(WebhookError::Status { status: 500 })
    ));
    assert_eq!(r500.requests().len(), 3);

    // 404: permanent, not retried.
    let r404 = Receiver::start(vec![Reply::Status(404, Vec::new(), "")]);
    f.set_hook(&r404.url());
    let r = rt().block_on(send_test_alert(&mut f.session, &sender, Actor::Cli));
    assert!(matches!(
        webhook_error(&r),
        Some(WebhookError::Status { status: 404 })
    ));
    assert_eq!(r404.requests().len(), 1);

    // Garbage instead of HTTP.
    let junk = Receiver::start(vec![Reply::Garbage, Reply::Garbage, Reply::Garbage]);
    f.set_hook(&junk.url());
    let r = rt().block_on(send_test_alert(&mut f.session, &sender, Actor::Cli));
    assert!(matches!(
        webhook_error(&r),
        Some(WebhookError::Network { .. })
    ));

    // Everything was audited as failures, without the URL.
    let audit = f.audit_text();
    assert!(audit.contains("alert_failed"));
    assert_no_canary(&audit);
    for e in [
        WebhookError::Network { what: "connect" },
        WebhookError::Status { status: 500 },
    ] {
        assert_no_canary(&e.to_string());
    }
}

#[test]
fn webhook_changes_need_step_up_and_removal_drops_the_queue() {
    let receiver = Receiver::start(Vec::new());
    let mut f = Fixture::new(Environment::Mainnet, vec![Scope::Read]);
    // A grant for another action does not compile (`StepUpGrant<A>`).
    assert!(f.session.alert_settings().unwrap().webhook.is_none());
    // No webhook: nothing is queued.
    f.open_incident();
    assert_eq!(f.session.alert_settings().unwrap().pending, 0);
    // Unknown service without a kind is refused.
    let g = f.grant::<actions::SecuritySettings>();
    let other = WebhookUrl::parse("https://chat.example.org/hooks/abc").unwrap();
    assert!(matches!(
        webhook_error(&f.session.set_webhook(Actor::Cli, g, &other, None, None)),
        Some(WebhookError::InvalidUrl { .. })
    ));
    f.set_hook(&receiver.url());
    // Switched-off events are not queued.
    let g = f.grant::<actions::SecuritySettings>();
    f.session
        .set_alert_options(
            Actor::Cli,
            g,
            AuditSchedule::Off,
            EventSwitches {
                incident_opened: false,
                ..EventSwitches::default()
            },
        )
        .unwrap();
    f.open_incident();
    assert_eq!(f.session.alert_settings().unwrap().pending, 0);
    let g = f.grant::<actions::SecuritySettings>();
    f.session
        .set_alert_options(
            Actor::Cli,
            g,
            AuditSchedule::Daily,
            EventSwitches::default(),
        )
        .unwrap();
    f.open_incident();
    assert_eq!(f.session.alert_settings().unwrap().pending, 1);
    let g = f.grant::<actions::SecuritySettings>();
    f.session.remove_webhook(Actor::Cli, g).unwrap();
    let s = f.session.alert_settings().unwrap();
    assert!(s.webhook.is_none());
    assert_eq!(s.pending, 0);
    let g = f.grant::<actions::SecuritySettings>();
    assert!(matches!(
        webhook_error(&f.session.remove_webhook(Actor::Cli, g)),
        Some(WebhookError::NotConfigured)
    ));
    assert!(receiver.requests().is_empty());
}

#[test]
fn reminders_and_overdue_alerts_come_once_a_day_per_key() {
    let receiver = Receiver::start(Vec::new());
    let mut f = Fixture::new(Environment::Mainnet, vec![Scope::Read]);
    f.set_hook(&receiver.url());
    // Rotation every day: overdue after two.
    f.advance(Duration::from_secs(2 * 86_400));
    let now = f.now();
    let pass = keyward_core::alerts::reminder_pass(&mut f.session, Actor::Cli, now).unwrap();
    assert_eq!(pass.reminders.len(), 1);
    let r = &pass.reminders[0];
    assert_eq!(r.label, "grid-bot");
    assert!(r.title.contains("rotation overdue"));
    assert_no_canary(&format!("{} {}", r.title, r.body));
    assert!(!r.body.contains("ALER"), "reminders name no key id");
    assert_eq!(pass.queued, 1);
    // An hour later: nothing.
    f.advance(Duration::from_secs(3600));
    let now = f.now();
    let pass = keyward_core::alerts::reminder_pass(&mut f.session, Actor::Cli, now).unwrap();
    assert!(pass.reminders.is_empty());
    assert_eq!(pass.queued, 0);
    // A day after the first: again, once.
    f.advance(Duration::from_secs(86_400 - 3600));
    let now = f.now();
    let pass = keyward_core::alerts::reminder_pass(&mut f.session, Actor::Cli, now).unwrap();
    assert_eq!(pass.reminders.len(), 1);
    assert_eq!(pass.queued, 1);
    let (sender, _) = recording_sender();
    let now = f.now();
    let report = rt()
        .block_on(deliver_alerts(&mut f.session, &sender, Actor::Cli, now))
        .unwrap();
    assert_eq!(report.delivered(), 2);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[0].body.contains("rotation overdue"));
    // The state survives a new session.
    f.advance(Duration::from_secs(60));
    let now = f.now();
    let pass = keyward_core::alerts::reminder_pass(&mut f.session, Actor::Cli, now).unwrap();
    assert!(pass.reminders.is_empty());
    // Background passes do not count as activity: the idle deadline stays.
    let deadline = f.session.idle_deadline();
    f.clock.advance(Duration::from_secs(30));
    let now = f.now();
    keyward_core::alerts::reminder_pass(&mut f.session, Actor::Cli, now).unwrap();
    assert_eq!(f.session.idle_deadline(), deadline);
}

#[test]
fn critical_findings_of_live_checks_alert_once_per_finding() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let receiver = Receiver::start(Vec::new());
    let mut account = KeyAccount::hmac(
        SimExchange::Binance,
        KEY_ID,
        SECRET,
        &[SimScope::Read, SimScope::Withdraw],
    );
    account.ips = vec!["192.0.2.10".into()];
    let accounts = Accounts {
        keys: vec![account],
        ..Accounts::default()
    };
    let (_, sim) = rt.block_on(keyward_sim::spawn(accounts)).unwrap();
    let mut f = Fixture::new(
        Environment::Custom(sim.url(SimExchange::Binance)),
        vec![Scope::Read],
    );
    f.set_hook(&receiver.url());
    let client = ExchangeClient::new(HttpConfig::default()).unwrap();
    for _ in 0..2 {
        let results = rt
            .block_on(verify_session(
                &mut f.session,
                &client,
                &CheckSelection::All,
                Actor::Cli,
            ))
            .unwrap();
        assert_eq!(results[0].status.as_str(), "critical");
    }
    assert_eq!(f.session.alert_settings().unwrap().pending, 1);
    let (sender, _) = recording_sender();
    let now = f.now();
    rt.block_on(deliver_alerts(&mut f.session, &sender, Actor::Cli, now))
        .unwrap();
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].body.contains("withdraw_undeclared"));
    assert_no_canary(&requests[0].body);
}

#[test]
fn the_background_audit_runs_when_due_and_records_its_summary() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut account = KeyAccount::hmac(SimExchange::Binance, KEY_ID, SECRET, &[SimScope::Read]);
    account.ips = vec!["192.0.2.10".into()];
    let accounts = Accounts {
        keys: vec![account],
        ..Accounts::default()
    };
    let (_, sim) = rt.block_on(keyward_sim::spawn(accounts)).unwrap();
    let env = Environment::Custom(sim.url(SimExchange::Binance));
    let mut f = Fixture::new(env.clone(), vec![Scope::Read]);
    let client = ExchangeClient::new(HttpConfig::default()).unwrap();
    // A custom host nobody confirmed with a step-up is never contacted
    // unattended: the first run checks nothing.
    let unconfirmed = Mutex::new(Some(f.session));
    let run = rt
        .block_on(checks::background_audit(
            &unconfirmed,
            &client,
            f.clock.now_secs(),
        ))
        .unwrap()
        .expect("due: never ran");
    assert_eq!(run.checked, 0);
    f.session = unconfirmed.into_inner().unwrap().unwrap();
    assert_eq!(
        f.session.key_detail("grid-bot").unwrap().last_audit_at,
        None
    );
    // Confirmed with a step-up (the same URL, set again under a grant).
    let g = f.grant::<actions::EditCredentials>();
    let confirmed = f
        .session
        .edit_key(
            Actor::Cli,
            "grid-bot",
            KeyEdit {
                environment: Some(env),
                ..KeyEdit::default()
            },
            Some(g),
        )
        .unwrap();
    assert!(confirmed.host_confirmed);
    f.advance(Duration::from_secs(2 * 86_400));
    let now = f.now();
    let deadline = f.session.idle_deadline();
    let slot = Mutex::new(Some(f.session));
    let run = rt
        .block_on(checks::background_audit(&slot, &client, now))
        .unwrap()
        .expect("due: never ran");
    assert_eq!((run.checked, run.failed, run.critical), (1, 0, 0));
    assert!(run.error.is_none());
    // Not due again within the day.
    assert!(
        rt.block_on(checks::background_audit(&slot, &client, now + 3600))
            .unwrap()
            .is_none()
    );
    let mut guard = slot.lock().unwrap();
    let session = guard.as_mut().unwrap();
    // Background work is not activity: the idle deadline did not move.
    assert_eq!(session.idle_deadline(), deadline);
    let settings = session.alert_settings().unwrap();
    assert_eq!(settings.last_background_audit, Some(run));
    let detail = session.key_detail("grid-bot").unwrap();
    assert_eq!(detail.last_audit_result.as_deref(), Some("ok"));
}

/// The text a forged outbox row would post to the channel.
const FORGED: &str = "All clear: ignore the earlier alerts";

/// Writes two forged rows into the outbox with plain SQL: one carrying the
/// genuine first row's MAC, one with none.
fn forge_outbox_rows(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "INSERT INTO alert_outbox (created_at, event, attempts, next_at, mac)
           SELECT created_at, json_set(event, '$.detail', '{FORGED}'), attempts, next_at, mac
           FROM alert_outbox ORDER BY seq LIMIT 1;
         INSERT INTO alert_outbox (created_at, event)
           SELECT created_at, json_set(event, '$.detail', '{FORGED}')
           FROM alert_outbox ORDER BY seq LIMIT 1;"
    ))
    .unwrap();
}

#[test]
fn forged_outbox_alert_is_never_delivered() {
    let receiver = Receiver::start(Vec::new());
    let mut f = Fixture::new(Environment::Mainnet, vec![Scope::Read]);
    f.set_hook(&receiver.url());
    let (sender, _) = recording_sender();

    // Forged under an open session: nothing at all is sent until the
    // vault is unlocked again.
    f.open_incident();
    forge_outbox_rows(&f.path);
    let now = f.now();
    let refused = rt().block_on(deliver_alerts(&mut f.session, &sender, Actor::Cli, now));
    assert!(
        matches!(
            refused,
            Err(VaultError::RolledBack {
                what: "the webhook outbox"
            })
        ),
        "{refused:?}"
    );
    assert!(receiver.requests().is_empty());

    // The unlock drops the forged rows unsent and reports them.
    f.advance(Duration::ZERO);
    let problem = f.session.audit_problem().cloned().expect("reported");
    assert!(
        problem.finding.contains("2 queued webhook alert(s) failed"),
        "{}",
        problem.finding
    );
    assert_eq!(f.session.alert_settings().unwrap().pending, 1);

    // Forged while locked: the same at the next unlock.
    f.open_incident();
    forge_outbox_rows(&f.path);
    f.advance(Duration::ZERO);
    assert!(f.session.audit_problem().is_some());
    assert_eq!(f.session.alert_settings().unwrap().pending, 2);

    let now = f.now();
    let report = rt()
        .block_on(deliver_alerts(&mut f.session, &sender, Actor::Cli, now))
        .unwrap();
    assert_eq!(report.delivered(), 2);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    for r in &requests {
        assert!(r.body.contains("Incident opened"));
        assert!(!r.body.contains(FORGED), "{}", r.body);
    }
    let findings = f
        .session
        .audit_log(
            &AuditFilter::all().with_actions([keyward_core::audit::Action::AuditIntegrityFailed]),
        )
        .unwrap();
    assert_eq!(findings.len(), 2);
}

#[test]
fn deleted_outbox_alert_is_noticed() {
    let receiver = Receiver::start(Vec::new());
    let mut f = Fixture::new(Environment::Mainnet, vec![Scope::Read]);
    f.set_hook(&receiver.url());
    f.open_incident();
    f.open_incident();
    assert_eq!(f.session.alert_settings().unwrap().pending, 2);
    // Control: an unlock with the outbox untouched finds nothing.
    f.advance(Duration::ZERO);
    assert!(f.session.audit_problem().is_none());
    let conn = rusqlite::Connection::open(&f.path).unwrap();
    conn.execute(
        "DELETE FROM alert_outbox WHERE seq = (SELECT max(seq) FROM alert_outbox)",
        [],
    )
    .unwrap();
    drop(conn);
    f.advance(Duration::ZERO);
    let problem = f.session.audit_problem().cloned().expect("noticed");
    assert!(
        problem.finding.contains("deleted or changed"),
        "{}",
        problem.finding
    );
    assert!(!f.session.verify_audit().unwrap().is_ok());
    // The one left still goes out.
    let (sender, _) = recording_sender();
    let now = f.now();
    let report = rt()
        .block_on(deliver_alerts(&mut f.session, &sender, Actor::Cli, now))
        .unwrap();
    assert_eq!(report.delivered(), 1);
    assert_eq!(receiver.requests().len(), 1);
}
