//! The `keyward-sim` binary: startup line, the sample accounts file, the
//! exchanges' own errors on raw requests, and the admin endpoint.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

struct Sim(Child);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sample() -> String {
    format!("{}/accounts.sample.json", env!("CARGO_MANIFEST_DIR"))
}

fn start(args: &[&str]) -> (Sim, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyward-sim"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("no startup line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (Sim(child), url)
}

/// A minimal HTTP/1.1 exchange: returns (status, body).
fn request(
    url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let addr = url.strip_prefix("http://").unwrap();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn prints_listening_line_and_serves_exchange_errors() {
    let (_sim, url) = start(&["--port", "0", "--accounts", &sample()]);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let (status, body) = request(&url, "GET", "/okx/api/v5/account/config", &[], "");
    assert_eq!(status, 401);
    assert!(body.contains("\"50103\""), "{body}");

    let (status, body) = request(
        &url,
        "GET",
        "/binance/sapi/v1/account/apiRestrictions?timestamp=1",
        &[("X-MBX-APIKEY", "nope")],
        "",
    );
    assert_eq!(status, 401);
    assert!(body.contains("-2015"), "{body}");

    let (status, body) = request(
        &url,
        "POST",
        "/kraken/0/private/GetApiKeyInfo",
        &[("API-Key", "demo-kraken")],
        "nonce=1",
    );
    assert_eq!(status, 200);
    assert!(body.contains("EAPI:Invalid signature"), "{body}");

    let (status, body) = request(&url, "GET", "/bybit/v5/market/time", &[], "");
    assert_eq!(status, 200);
    assert!(body.contains("\"retCode\":0"), "{body}");

    let (status, _) = request(
        &url,
        "GET",
        "/coinbase/api/v3/brokerage/key_permissions",
        &[],
        "",
    );
    assert_eq!(status, 401);

    // Admin: inject a fault, see it applied, read the counters.
    let (status, _) = request(
        &url,
        "POST",
        "/_admin/faults",
        &[("Content-Type", "application/json")],
        r#"{"kind":"server_error","exchange":"bybit","status":502}"#,
    );
    assert_eq!(status, 200);
    let (status, _) = request(&url, "GET", "/bybit/v5/market/time", &[], "");
    assert_eq!(status, 502);
    let (status, body) = request(&url, "GET", "/_admin/stats", &[], "");
    assert_eq!(status, 200);
    assert!(body.contains("\"faults_applied\":1"), "{body}");
    let (status, _) = request(
        &url,
        "POST",
        "/_admin/revoke",
        &[],
        r#"{"exchange":"okx","api_key":"0de00000-0000-4000-8000-00000000006b"}"#,
    );
    assert_eq!(status, 200);
    let (status, _) = request(
        &url,
        "POST",
        "/_admin/revoke",
        &[],
        r#"{"exchange":"okx","api_key":"unknown"}"#,
    );
    assert_eq!(status, 404);
    let (status, _) = request(&url, "POST", "/_admin/faults", &[], "not json");
    assert_eq!(status, 400);
}

#[test]
fn fault_flag_and_dropped_connections() {
    let (_sim, url) = start(&[
        "--port",
        "0",
        "--fault",
        r#"{"kind":"drop","exchange":"okx"}"#,
    ]);
    let (status, body) = request(&url, "GET", "/okx/api/v5/public/time", &[], "");
    assert_eq!(
        (status, body.as_str()),
        (0, ""),
        "dropped without an answer"
    );
    let (status, _) = request(&url, "GET", "/okx/api/v5/public/time", &[], "");
    assert_eq!(status, 200);
}

#[test]
fn bad_accounts_file_is_refused() {
    let dir = std::env::temp_dir().join(format!("keyward-sim-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.json");
    std::fs::write(
        &path,
        r#"{"keys":[{"exchange":"okx","api_key":"k","secret":"s"}]}"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_keyward-sim"))
        .args(["--accounts", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("passphrase"));
    std::fs::write(&path, "{ not json").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_keyward-sim"))
        .args(["--accounts", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let out = Command::new(env!("CARGO_BIN_EXE_keyward-sim"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn sample_accounts_parse() {
    let text = std::fs::read_to_string(sample()).unwrap();
    let acc = keyward_sim::Accounts::from_json(&text).unwrap();
    assert_eq!(acc.keys.len(), 7);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (addr, handle) = keyward_sim::spawn(acc).await.unwrap();
        assert!(addr.ip().is_loopback());
        assert_eq!(
            handle.url(keyward_sim::SimExchange::Okx),
            format!("http://{addr}/okx")
        );
    });
}
