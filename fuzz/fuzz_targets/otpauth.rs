//! MFA input parsing: base32 seeds, the account name that goes into the
//! otpauth URI, typed TOTP codes, recovery codes, and the stored MFA state.
//!
//! The first byte picks the parser, the rest is its input (as text).
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use keyward_core::mfa::actions;
use keyward_core::mfa::{MfaKey, MfaKeys, MfaState, OneTimeCode, Proof, TotpSeed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let key = MfaKey::derive(&[7u8; 32]);
    let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    match which % 5 {
        // A seed in base32, as an authenticator app would take it.
        0 => {
            if let Ok(seed) = TotpSeed::from_base32(&text) {
                let again = TotpSeed::from_base32(seed.to_base32().expose_secret_str())
                    .expect("a seed's own base32 parses");
                assert_eq!(seed.expose_secret(), again.expose_secret());
                let code = seed.code_at(t0);
                assert_eq!(code.expose_secret().len(), 6);
                assert!(code.expose_secret().bytes().all(|b| b.is_ascii_digit()));
            }
        }
        // The account name of the otpauth URI.
        1 => {
            let mut state = MfaState::new();
            if let Ok(enrolment) = state.enrol(&text, &key, t0) {
                let uri = enrolment.expose_otpauth_uri();
                let parsed = url::Url::parse(uri).expect("the otpauth URI parses");
                assert_eq!(parsed.scheme(), "otpauth");
                assert_eq!(parsed.host_str(), Some("totp"));
                let secret: Vec<_> = parsed
                    .query_pairs()
                    .filter(|(k, _)| k == "secret")
                    .map(|(_, v)| v.into_owned())
                    .collect();
                assert_eq!(secret, vec![enrolment.expose_secret_base32().to_string()]);
                let issuers = parsed.query_pairs().filter(|(k, _)| k == "issuer").count();
                assert_eq!(issuers, 1, "the account name injected a parameter");
            }
        }
        // A typed TOTP code against an enrolled state.
        2 => {
            let (mut state, seed) = enrolled(&key, t0);
            let keys = MfaKeys {
                seed: Some(&seed),
                key: &key,
            };
            let t1 = t0 + Duration::from_secs(60);
            let expected = seed.code_at(t1);
            let typed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            let result = state.require_step_up::<actions::RevealSecret>(
                &keys,
                Some(Proof::totp(text.to_string())),
                t1,
            );
            if result.is_ok() {
                let near: Vec<String> = [
                    t1 - Duration::from_secs(30),
                    t1,
                    t1 + Duration::from_secs(30),
                ]
                .iter()
                .map(|t| seed.code_at(*t).expose_secret().to_string())
                .collect();
                assert!(
                    near.contains(&typed),
                    "a code that is not the current one was accepted"
                );
            } else {
                assert_ne!(
                    typed,
                    expected.expose_secret(),
                    "the current code was refused"
                );
            }
        }
        // A recovery code against an enrolled state.
        3 => {
            let mut state = MfaState::new();
            let enrolment = state.enrol("fuzz", &key, t0).expect("enrol");
            let codes: Vec<String> = enrolment
                .recovery_codes()
                .iter()
                .map(|c| c.expose_secret().to_string())
                .collect();
            let seed = enrolment.seed();
            let code: OneTimeCode = seed.code_at(t0);
            state.confirm(seed, &code, t0).expect("confirm");
            let keys = MfaKeys {
                seed: Some(seed),
                key: &key,
            };
            let t1 = t0 + Duration::from_secs(90);
            let result = state.require_step_up::<actions::RevealSecret>(
                &keys,
                Some(Proof::recovery_code(text.to_string())),
                t1,
            );
            let canon = |s: &str| -> String {
                s.chars()
                    .filter(|c| *c != '-' && !c.is_whitespace())
                    .map(|c| match c.to_ascii_uppercase() {
                        '0' => 'O',
                        '1' => 'I',
                        '8' => 'B',
                        c => c,
                    })
                    .collect()
            };
            if result.is_ok() {
                assert!(
                    codes.iter().any(|c| canon(c) == canon(&text)),
                    "a recovery code that was never issued was accepted"
                );
            }
        }
        // The stored MFA state, as JSON.
        _ => {
            if let Ok(mut state) = serde_json::from_str::<MfaState>(&text) {
                let _ = state.summary(t0);
                let _ = state.is_throttled(t0);
                let keys = MfaKeys {
                    seed: None,
                    key: &key,
                };
                let _ = state.require_step_up::<actions::RevealSecret>(
                    &keys,
                    Some(Proof::totp("123456")),
                    t0,
                );
                let _ = state.require_step_up::<actions::RevealSecret>(
                    &keys,
                    Some(Proof::recovery_code("AAAA-BBBB-CCCC-DDDD")),
                    t0,
                );
            }
        }
    }
});

fn enrolled(key: &MfaKey, t0: std::time::SystemTime) -> (MfaState, TotpSeed) {
    let mut state = MfaState::new();
    let enrolment = state.enrol("fuzz", key, t0).expect("enrol");
    let seed = TotpSeed::from_bytes(enrolment.seed().expose_secret().to_vec()).expect("seed");
    let code = seed.code_at(t0);
    state.confirm(&seed, &code, t0).expect("confirm");
    (state, seed)
}

trait ExposeStr {
    fn expose_secret_str(&self) -> &str;
}

impl ExposeStr for secrecy::SecretString {
    fn expose_secret_str(&self) -> &str {
        use secrecy::ExposeSecret;
        self.expose_secret()
    }
}
