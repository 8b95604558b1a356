//! Master-password strength: one assessment (zxcvbn) shared by every front
//! end, and the minimum a new master password must meet.
//!
//! Owns: the strength rule. Must never: keep, log or echo the password; the
//! assessment holds only a score and generic advice.

use serde::Serialize;

use crate::error::{ErrorKind, KindedError};

/// The lowest zxcvbn score (0–4) accepted for a new master password:
/// 3 = "safely unguessable: moderate protection from offline slow-hash
/// attacks", which is the attack Argon2id is there to slow down.
pub const MIN_SCORE: u8 = 3;

/// How many leading characters of a candidate are assessed.
pub const MAX_ASSESSED: usize = 256;

/// How strong a candidate master password is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Assessment {
    /// zxcvbn score, 0 (too guessable) to 4 (very unguessable).
    pub score: u8,
    /// Whether the score reaches [`MIN_SCORE`].
    pub acceptable: bool,
    /// Why it is weak, if zxcvbn can say (never contains the password).
    pub warning: Option<String>,
    /// How to make it stronger.
    pub suggestions: Vec<String>,
}

/// A master password below [`MIN_SCORE`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the master password is too weak (strength {score} of 4, needs {MIN_SCORE}){}",
    warning.as_deref().map(|w| format!(": {w}")).unwrap_or_default())]
pub struct WeakPassword {
    /// The score reached.
    pub score: u8,
    /// zxcvbn's warning, if any.
    pub warning: Option<String>,
}

impl KindedError for WeakPassword {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Invalid
    }
}

/// Assesses `password`. `context` lists words a guesser would try first
/// (the vault's name, "keyward").
pub fn assess(password: &str, context: &[&str]) -> Assessment {
    if password.is_empty() {
        return Assessment {
            score: 0,
            acceptable: false,
            warning: None,
            suggestions: vec!["Choose a long passphrase of several unrelated words.".into()],
        };
    }
    let mut inputs = vec!["keyward"];
    inputs.extend_from_slice(context);
    // zxcvbn's matching grows faster than linearly with the length; judging
    // the first MAX_ASSESSED characters keeps a pasted megabyte from
    // stalling the app, and no real weakness hides past that point.
    let assessed = match password.char_indices().nth(MAX_ASSESSED) {
        Some((cut, _)) => &password[..cut],
        None => password,
    };
    let entropy = zxcvbn::zxcvbn(assessed, &inputs);
    let score = u8::from(entropy.score());
    let feedback = entropy.feedback();
    Assessment {
        score,
        acceptable: score >= MIN_SCORE,
        warning: feedback.and_then(|f| f.warning()).map(|w| w.to_string()),
        suggestions: feedback
            .map(|f| f.suggestions().iter().map(|s| s.to_string()).collect())
            .unwrap_or_default(),
    }
}

/// Refuses a new master password below [`MIN_SCORE`].
pub fn require_strong(password: &str, context: &[&str]) -> Result<(), WeakPassword> {
    let a = assess(password, context);
    if a.acceptable {
        Ok(())
    } else {
        Err(WeakPassword {
            score: a.score,
            warning: a.warning,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused() {
        for pw in ["", "password", "keyward123", "qwerty12"] {
            assert!(require_strong(pw, &[]).is_err(), "{pw:?} accepted");
        }
    }

    #[test]
    fn long_passphrases_pass() {
        let a = assess("correct horse battery staple lantern", &[]);
        assert!(a.acceptable, "{a:?}");
        assert_eq!(a.score, 4);
    }

    #[test]
    fn very_long_input_is_assessed_quickly_and_passes() {
        let long = "correct horse battery staple ".repeat(40_000);
        assert!(assess(&long, &[]).acceptable);
    }

    #[test]
    fn assessment_never_echoes_the_password() {
        let pw = "Zebra-canary-7781";
        let a = assess(pw, &[]);
        let json = serde_json::to_string(&a).unwrap();
        assert!(!json.contains(pw));
        let err = require_strong("canary1", &[]).unwrap_err().to_string();
        assert!(!err.contains("canary1"));
    }
}
