//! Shared harness code for the fuzz targets: input framing and the
//! invariants checked on every result.

use keyward_core::exchange::{ExchangeError, KeyReport};
use keyward_core::model::Exchange;
use keyward_core::fuzzing;
use keyward_core::scan::ImportError;
use keyward_core::scan::import::Format;

/// Longest text an error or a rejection may echo from the input: the core's
/// excerpts are 160 characters plus an ellipsis.
pub const MAX_ECHO_CHARS: usize = 161;

/// Longest `Display` of an error, whatever the input.
pub const MAX_ERROR_CHARS: usize = 600;

/// Feeds `data` to one exchange's introspection-answer parser.
///
/// Framing: the first line is `STATUS [Retry-After value] [testnet]`, the
/// rest is the body; a first line that does not start with a number means
/// status 200 and the whole input is the body.
pub fn exchange(exchange: Exchange, data: &[u8]) {
    let (head, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&data[..0], data),
    };
    let head = String::from_utf8_lossy(head);
    let mut words = head.split_ascii_whitespace();
    let (status, body) = match words.next().and_then(|w| w.parse::<u16>().ok()) {
        Some(s) => (s, body),
        None => (200, data),
    };
    let mut retry_after = None;
    let mut testnet = false;
    for w in words {
        if w == "testnet" {
            testnet = true;
        } else {
            retry_after = Some(w.to_string());
        }
    }
    let result =
        fuzzing::exchange_response(exchange, testnet, status, retry_after.as_deref(), body);
    check_exchange(exchange, status, body, result);
}

fn check_exchange(
    exchange: Exchange,
    status: u16,
    body: &[u8],
    result: Result<KeyReport, ExchangeError>,
) {
    match result {
        Ok(report) => {
            assert_eq!(report.exchange, exchange);
            // What the desktop sends to the UI must serialize.
            serde_json::to_string(&report).expect("report serializes");
            if report.authenticated {
                assert!(report.rejection.is_none(), "authenticated with a rejection");
            } else {
                let r = report
                    .rejection
                    .as_ref()
                    .expect("unauthenticated without a rejection");
                for text in [&r.code, &r.message] {
                    assert!(
                        text.chars().count() <= MAX_ECHO_CHARS,
                        "a rejection echoes {} characters of the answer",
                        text.chars().count()
                    );
                    assert!(
                        !text.chars().any(char::is_control),
                        "a rejection echoes control characters"
                    );
                }
            }
            // An accepted answer is valid JSON from the body: no IP address
            // the exchange did not send.
            if let Some(ips) = &report.ip_whitelist {
                let text = String::from_utf8_lossy(body);
                for ip in ips {
                    assert!(text.contains(ip.as_str()) || ip.is_empty() || body_has_escapes(body));
                }
            }
        }
        Err(e) => {
            let shown = e.to_string();
            assert!(
                shown.chars().count() <= MAX_ERROR_CHARS,
                "error message of {} characters (status {status})",
                shown.chars().count()
            );
            if let ExchangeError::Malformed { excerpt, .. }
            | ExchangeError::ServerError { excerpt, .. } = &e
            {
                assert!(excerpt.chars().count() <= MAX_ECHO_CHARS);
                assert!(!excerpt.chars().any(char::is_control));
            }
            // The wire form a front end shows must serialize.
            serde_json::to_string(&e.to_dto()).expect("error DTO serializes");
        }
    }
}

fn body_has_escapes(body: &[u8]) -> bool {
    body.contains(&b'\\')
}

/// Feeds `data` to the import parser for `format` and checks that every
/// recognised value occurs in the input and that no preview shows one.
pub fn import(format: Format, data: &[u8]) {
    let result = fuzzing::import_config(format, data);
    match result {
        Ok(found) => {
            assert_eq!(found.format, format);
            let text = String::from_utf8_lossy(data);
            // Decoded escapes (JSON `\u0041`, YAML/TOML escapes, YAML
            // block scalars) may legitimately differ from the raw text.
            let verbatim = !data
                .iter()
                .any(|b| matches!(b, b'\\' | b'|' | b'>' | b'&' | b'*' | b'!'));
            for c in &found.candidates {
                let key = c.new_key(&c.preview.label);
                let secret = key.secret.expose();
                assert!(!key.api_key_id.is_empty());
                assert!(!secret.is_empty());
                if verbatim && format == Format::Env {
                    assert!(
                        text.contains(key.api_key_id.as_str()),
                        "key id not in the input"
                    );
                    assert!(text.contains(secret), "secret not in the input");
                }
                let preview = serde_json::to_string(&c.preview).expect("preview serializes");
                // The preview shows names (location, label, fields); a secret
                // that happens to be part of a name is no leak.
                let names = format!(
                    "{} {} {:?}",
                    c.preview.location, c.preview.label, c.preview.fields
                );
                if secret.chars().count() >= 8 && !names.contains(secret) {
                    assert!(!preview.contains(secret), "a preview shows the secret");
                    assert!(!format!("{c:?}").contains(secret), "Debug shows the secret");
                }
            }
        }
        Err(e) => {
            let shown = e.to_string();
            assert!(
                shown.chars().count() <= MAX_ERROR_CHARS,
                "error message too long"
            );
            // Bytes can only be malformed: the reason is a fixed text (a
            // parser's own message may quote the input and is never passed
            // on), and the line it names is in the file.
            match e {
                ImportError::Malformed { line, .. } => {
                    let lines = data.iter().filter(|b| **b == b'\n').count() + 1;
                    if let Some(line) = line {
                        assert!((1..=lines).contains(&line), "line {line} of {lines}");
                    }
                }
                other => panic!("unexpected import error: {other}"),
            }
        }
    }
}
