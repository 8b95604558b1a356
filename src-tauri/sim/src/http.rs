//! Request/response plumbing shared by the exchange handlers: the parsed
//! request, response builders, form/query parsing and UTC time helpers.

use std::net::IpAddr;

use bytes::Bytes;
use hyper::HeaderMap;
use serde_json::Value;

/// A request as a handler sees it: the exchange prefix is stripped from
/// `path`, `query` is the raw query string (no `?`).
pub(crate) struct Req {
    pub method: hyper::Method,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub host: String,
    pub peer: IpAddr,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn body_str(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or("")
    }

    /// Decoded query parameters.
    pub fn params(&self) -> Vec<(String, String)> {
        parse_form(&self.query)
    }

    pub fn param(&self, name: &str) -> Option<String> {
        self.params()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// A response; `drop_connection` closes the socket without an answer.
pub(crate) struct Resp {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

impl Resp {
    pub fn json(status: u16, v: Value) -> Resp {
        Resp {
            status,
            content_type: "application/json",
            body: v.to_string().into_bytes(),
            headers: Vec::new(),
        }
    }

    pub fn text(status: u16, content_type: &'static str, body: &str) -> Resp {
        Resp {
            status,
            content_type,
            body: body.as_bytes().to_vec(),
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Resp {
        self.headers.push((name, value));
        self
    }

    pub fn not_found() -> Resp {
        Resp::text(
            404,
            "text/html",
            "<html><body><h1>404 Not Found</h1></body></html>",
        )
    }
}

fn hexval(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `application/x-www-form-urlencoded` decoding.
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                match (
                    b.get(i + 1).copied().and_then(hexval),
                    b.get(i + 2).copied().and_then(hexval),
                ) {
                    (Some(h), Some(l)) => {
                        out.push(h * 16 + l);
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// The raw string with the `signature=…` parameter removed, bytes otherwise
/// kept exactly as sent.
pub(crate) fn without_param(raw: &str, name: &str) -> (String, Option<String>) {
    let mut found = None;
    let prefix = format!("{name}=");
    let kept: Vec<&str> = raw
        .split('&')
        .filter(|p| {
            if let Some(v) = p.strip_prefix(&prefix) {
                found = Some(v.to_string());
                false
            } else {
                true
            }
        })
        .collect();
    (kept.join("&"), found)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` (OKX's format; also Coinbase's).
pub(crate) fn iso_ms(ms: i64) -> String {
    let (secs, milli) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// `YYYY-MM-DD HH:MM:SS` (Binance withdraw history).
pub(crate) fn binance_datetime(ms: i64) -> String {
    let iso = iso_ms(ms);
    format!("{} {}", &iso[..10], &iso[11..19])
}

/// Parses exactly `YYYY-MM-DDTHH:MM:SS.mmmZ`, as OKX requires.
pub(crate) fn parse_iso_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 24
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[23] != b'Z'
    {
        return None;
    }
    let n = |a: usize, z: usize| -> Option<i64> {
        let t = &s[a..z];
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())
            .flatten()
    };
    let (y, mo, d, h, mi, se, ms) = (
        n(0, 4)?,
        n(5, 7)?,
        n(8, 10)?,
        n(11, 13)?,
        n(14, 16)?,
        n(17, 19)?,
        n(20, 23)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 59 {
        return None;
    }
    Some((days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se) * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trip() {
        assert_eq!(iso_ms(1_607_418_537_715), "2020-12-08T09:08:57.715Z");
        assert_eq!(
            parse_iso_ms("2020-12-08T09:08:57.715Z"),
            Some(1_607_418_537_715)
        );
        assert_eq!(parse_iso_ms("2020-12-08T09:08:57Z"), None);
        assert_eq!(binance_datetime(1_570_878_722_000), "2019-10-12 11:12:02");
    }

    #[test]
    fn form_and_signature_param() {
        assert_eq!(percent_decode("a%2Bb+c%"), "a+b c%");
        let (rest, sig) = without_param("a=1&signature=xyz&b=2", "signature");
        assert_eq!(rest, "a=1&b=2");
        assert_eq!(sig.as_deref(), Some("xyz"));
    }
}
