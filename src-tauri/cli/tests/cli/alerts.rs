//! `keyward alerts …` with a local HTTP receiver (std `TcpListener` on
//! 127.0.0.1:0) standing in for a Discord webhook: the URL is set from an
//! environment variable (never argv) with a TOTP code; opening an incident
//! sends exactly one message, with the label and a masked key id and no
//! secret; the URL never appears in `keyward log --json`, `alerts status`,
//! any stdout or stderr, the vault file or its WAL. A receiver that is down
//! leaves the incident committed and the command successful (exit 0, a
//! warning on stderr).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyward_core::mfa::TotpSeed;
use serde_json::Value;

use crate::support::{BINANCE_KEY, Env, Run};

const SECRET: &str = "CANARYCLIalertSECRET";
const TOKEN: &str = "CANARYCLIhookTOKEN77";

/// Records request bodies; answers 204 (after one 429 when `limit_first`).
fn receiver(limit_first: bool) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    std::thread::spawn(move || {
        let mut first = limit_first;
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head_end, len) = loop {
                let Ok(n) = s.read(&mut chunk) else {
                    break (0, 0);
                };
                if n == 0 {
                    break (0, 0);
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0usize);
                    break (i + 4, len);
                }
            };
            if head_end == 0 {
                continue;
            }
            while buf.len() < head_end + len {
                let Ok(n) = s.read(&mut chunk) else { break };
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            seen.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf[head_end..]).to_string());
            let answer = if first {
                first = false;
                "HTTP/1.1 429 Too Many Requests\r\nretry-after: 0\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            } else {
                "HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n"
            };
            let _ = s.write_all(answer.as_bytes());
        }
    });
    (port, bodies)
}

fn clean(run: Run) -> Run {
    for text in [&run.stdout, &run.stderr] {
        assert!(!text.contains(TOKEN), "webhook URL printed: {text}");
        assert!(!text.contains(SECRET), "secret printed: {text}");
    }
    run
}

fn file_clean(env: &Env) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = env.vault().into_os_string();
        p.push(suffix);
        if let Ok(bytes) = std::fs::read(&p) {
            for needle in [TOKEN, SECRET] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                    "{needle} in plaintext in the vault file{suffix}"
                );
            }
        }
    }
}

#[test]
fn incident_alert_reaches_the_webhook_and_the_url_stays_sealed() {
    let (port, bodies) = receiver(true);
    let url = format!("http://127.0.0.1:{port}/api/webhooks/42/{TOKEN}");
    let env = Env::init();
    clean(env.add_binance("grid-bot", SECRET)).ok();
    let run = clean(env.run(&["mfa", "enroll", "--json"])).ok();
    let enrolment: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    let seed = TotpSeed::from_base32(enrolment["secret"].as_str().unwrap()).unwrap();
    let recovery: Vec<String> = enrolment["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    clean(env.run(&["mfa", "confirm", &env.code(&seed, -1)])).ok();

    // Without a code: refused (exit 4), nothing stored.
    clean(env.run_env(
        &["alerts", "set-webhook", "--kind", "discord"],
        &[("KEYWARD_WEBHOOK_URL", &url)],
    ))
    .code(4);
    let status = clean(env.run(&["alerts", "status", "--json"])).ok();
    let v: Value = serde_json::from_str(&status.stdout).unwrap();
    assert!(v["webhook"].is_null());
    // A plain-http URL to another host is refused before any prompt.
    clean(env.run_env(
        &["alerts", "set-webhook", "--totp", &env.code(&seed, 0)],
        &[("KEYWARD_WEBHOOK_URL", "http://example.org/hook")],
    ))
    .code(1);
    // Set with a code.
    let set = clean(env.run_env(
        &[
            "alerts",
            "set-webhook",
            "--kind",
            "discord",
            "--totp",
            &env.code(&seed, 0),
        ],
        &[("KEYWARD_WEBHOOK_URL", &url)],
    ))
    .ok();
    assert!(set.stdout.contains("127.0.0.1"));
    let status = clean(env.run(&["alerts", "status", "--json"])).ok();
    let v: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(v["webhook"]["kind"], "discord");
    assert_eq!(v["webhook"]["host"], "127.0.0.1");

    // Opening an incident sends one message (after one 429 and a retry).
    clean(env.run(&[
        "incident",
        "open",
        "--situation",
        "leaked",
        "--key",
        "grid-bot",
    ]))
    .ok();
    let got = bodies.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "one 429, then the delivery");
    assert_eq!(got[0], got[1]);
    let msg: Value = serde_json::from_str(&got[1]).unwrap();
    let content = msg["content"].as_str().unwrap();
    assert!(content.contains("Incident opened"));
    assert!(content.contains("grid-bot"));
    assert!(content.contains(&format!("{}…", &BINANCE_KEY[..4])));
    assert!(!got[1].contains(BINANCE_KEY));
    assert!(!got[1].contains(SECRET));
    let status = clean(env.run(&["alerts", "status", "--json"])).ok();
    let v: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(v["pending"], 0);

    let log = clean(env.run(&["log", "--json"])).ok();
    assert!(log.stdout.contains("alert_settings_changed"));
    assert!(log.stdout.contains("alert_delivered"));
    assert!(!log.stdout.contains(TOKEN));
    file_clean(&env);

    // The receiver goes away: the incident still opens (exit 0), the
    // failure is a warning and stays queued.
    let (dead_port, _) = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        (l.local_addr().unwrap().port(), ())
    };
    let dead = format!("http://127.0.0.1:{dead_port}/api/webhooks/42/{TOKEN}");
    clean(env.run_env(
        &[
            "alerts",
            "set-webhook",
            "--kind",
            "slack",
            "--totp",
            &env.code(&seed, 1),
        ],
        &[("KEYWARD_WEBHOOK_URL", &dead)],
    ))
    .ok();
    let run = clean(env.run(&[
        "incident",
        "open",
        "--situation",
        "leaked",
        "--key",
        "grid-bot",
    ]))
    .ok();
    assert!(run.stderr.contains("not delivered"), "{}", run.stderr);
    let list = clean(env.run(&["incident", "list", "--json"])).ok();
    let v: Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    let test = clean(env.run(&["alerts", "test"]));
    assert_eq!(test.code, 6, "an unreachable receiver is exit 6");
    let log = clean(env.run(&["log", "--json"])).ok();
    assert!(log.stdout.contains("alert_failed"));
    clean(env.run(&["alerts", "remove-webhook", "--recovery-code", &recovery[0]])).ok();
    let status = clean(env.run(&["alerts", "status", "--json"])).ok();
    let v: Value = serde_json::from_str(&status.stdout).unwrap();
    assert!(v["webhook"].is_null());
    assert_eq!(v["pending"], 0);
    file_clean(&env);
}

#[test]
fn remind_names_a_due_key_once_a_day_for_cron() {
    let env = Env::init();
    clean(env.run_stdin(
        &[
            "add",
            "--exchange",
            "binance",
            "--label",
            "daily-bot",
            "--api-key",
            BINANCE_KEY,
            "--secret-stdin",
            "--rotate-every",
            "1",
        ],
        &format!("{SECRET}\n"),
    ))
    .ok();
    clean(env.add_binance("calm-bot", SECRET)).ok();
    let first = clean(env.run(&["alerts", "remind", "--json"])).ok();
    let v: Value = serde_json::from_str(&first.stdout).unwrap();
    let reminders = v["reminders"].as_array().unwrap();
    assert_eq!(reminders.len(), 1, "{v}");
    assert_eq!(reminders[0]["label"], "daily-bot");
    assert!(
        !first.stdout.contains(&BINANCE_KEY[..8]),
        "a key id in a reminder"
    );
    // Run again (cron every few minutes): quiet until a day has passed.
    let again = clean(env.run(&["alerts", "remind", "--json"])).ok();
    let v: Value = serde_json::from_str(&again.stdout).unwrap();
    assert!(v["reminders"].as_array().unwrap().is_empty(), "{v}");
    let log = clean(env.run(&["log", "--json"])).ok();
    assert_eq!(log.stdout.matches("alert_reminded").count(), 1);
}
