//! RFC 6238 Appendix B conformance, driven by `tests/data/totp/`.
//!
//! Each row declares its expected outcome. The 8-digit values are checked
//! against `totp-rs` directly (the library Keyward builds on), and their
//! last six digits against Keyward's own 6-digit code path, which must
//! agree: an HOTP value truncated to 6 digits is the 8-digit value mod 10^6.

use std::time::{Duration, UNIX_EPOCH};

use keyward_core::mfa::TotpSeed;
use totp_rs::{Algorithm, Builder, Secret};

const SEED: &[u8] = b"12345678901234567890";

#[derive(Debug)]
struct Vector {
    line: usize,
    time: u64,
    step: u64,
    digits: u8,
    code: String,
    matches: bool,
}

fn vectors() -> Vec<Vector> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/totp/rfc6238-sha1.tsv"
    );
    let text = std::fs::read_to_string(path).expect("vector file");
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols.len(), 5, "line {line_no}: five columns expected");
        out.push(Vector {
            line: line_no,
            time: cols[0].parse().expect("time"),
            step: u64::from_str_radix(cols[1], 16).expect("step"),
            digits: cols[2].parse().expect("digits"),
            code: cols[3].to_owned(),
            matches: match cols[4] {
                "match" => true,
                "mismatch" => false,
                other => panic!("line {line_no}: unknown outcome {other}"),
            },
        });
    }
    out
}

#[test]
fn vector_file_has_all_six_sha1_rows() {
    let positives = vectors().iter().filter(|v| v.matches).count();
    assert_eq!(positives, 6);
}

#[test]
fn totp_rs_gives_the_rfc_values() {
    for v in vectors() {
        assert_eq!(v.time / 30, v.step, "line {}: step column", v.line);
        let totp = Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(v.digits)
            .with_step_duration(30)
            .with_secret(Secret::from(SEED))
            .build()
            .expect("RFC parameters are valid");
        let code = totp.generate(v.time).to_string();
        assert_eq!(code == v.code, v.matches, "line {}: {v:?}", v.line);
    }
}

#[test]
fn keyward_six_digit_codes_are_the_rfc_values_truncated() {
    let seed = TotpSeed::from_bytes(SEED.to_vec()).unwrap();
    for v in vectors() {
        let at = UNIX_EPOCH + Duration::from_secs(v.time);
        let ours = seed.code_at(at);
        let tail = &v.code[v.code.len() - 6..];
        assert_eq!(
            ours.expose_secret() == tail,
            v.matches,
            "line {}: {v:?}",
            v.line
        );
    }
}
