//! One Aho–Corasick automaton over the vault's values and the rule triggers.
//!
//! Owns: exact matching of the needles and the line bookkeeping. Must never:
//! report the bytes it matched, or keep a needle beyond the [`Matcher`]'s
//! life (needles are zeroized on drop; the automaton's own tables are freed
//! with it — best effort, as for every in-memory secret).

use std::fmt;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use zeroize::Zeroizing;

use super::error::ScanError;
use super::finding::Part;
use super::rules;

/// Values shorter than this are not searched for: they would match
/// everywhere. They are listed in the report instead.
pub const MIN_NEEDLE_LEN: usize = 6;

/// One value from the vault to look for: the label and part it belongs to
/// and the value itself, zeroized on drop. No `Serialize`, and `Debug`
/// shows only the label and part.
pub struct Needle {
    label: String,
    part: Part,
    value: Zeroizing<Vec<u8>>,
}

impl Needle {
    /// A needle for `label`'s `part`.
    pub fn new(label: impl Into<String>, part: Part, value: Zeroizing<Vec<u8>>) -> Needle {
        Needle {
            label: label.into(),
            part,
            value,
        }
    }

    /// The key's label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Which part of the key this is.
    pub fn part(&self) -> Part {
        self.part
    }
}

impl fmt::Debug for Needle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Needle({:?}, {}, [redacted])",
            self.label,
            self.part.as_str()
        )
    }
}

/// What one pattern of the automaton stands for.
#[derive(Debug, Clone, Copy)]
enum Pattern {
    /// Index into the needles.
    Needle(usize),
    /// A rule trigger: look at the line.
    Trigger,
}

/// A hit inside one buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Hit {
    /// Needle `index` on `line`.
    Own { index: usize, line: u64 },
    /// An unknown credential on `line`.
    Unknown { line: u64, hit: rules::LineHit },
}

/// The compiled search: build once per scan, share between threads, drop
/// when done.
pub struct Matcher {
    ac: AhoCorasick,
    patterns: Vec<Pattern>,
    needles: Vec<Needle>,
    short: Vec<(String, Part)>,
    rules: bool,
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Matcher({} needles, [redacted])", self.needles.len())
    }
}

impl Matcher {
    /// Builds the automaton over `needles` (and the unknown-credential
    /// triggers when `unknown_rules`). Needles shorter than
    /// [`MIN_NEEDLE_LEN`] bytes are left out and reported. PEM private keys
    /// also match by each long base64 line, so a key pasted with `\n`
    /// escapes or other line endings is still found.
    pub fn new(needles: Vec<Needle>, unknown_rules: bool) -> Result<Matcher, ScanError> {
        let mut kept: Vec<Needle> = Vec::new();
        let mut short = Vec::new();
        for n in needles {
            if n.value.len() < MIN_NEEDLE_LEN {
                short.push((n.label.clone(), n.part));
                continue;
            }
            if n.value.windows(10).any(|w| w == b"-----BEGIN") {
                let lines: Vec<Zeroizing<Vec<u8>>> = n
                    .value
                    .split(|b| *b == b'\n' || *b == b'\r')
                    .filter(|l| l.len() >= 40 && !l.starts_with(b"-----"))
                    .map(|l| Zeroizing::new(l.to_vec()))
                    .collect();
                for l in lines {
                    kept.push(Needle::new(n.label.clone(), n.part, l));
                }
            }
            kept.push(n);
        }
        let mut pats: Vec<&[u8]> = Vec::new();
        let mut patterns = Vec::new();
        for (i, n) in kept.iter().enumerate() {
            pats.push(n.value.as_slice());
            patterns.push(Pattern::Needle(i));
        }
        let triggers = if unknown_rules {
            rules::trigger_variants()
        } else {
            Vec::new()
        };
        for t in &triggers {
            pats.push(t.as_bytes());
            patterns.push(Pattern::Trigger);
        }
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&pats)
            .or_else(|_| {
                // Very large vaults can exceed the DFA's size limit; the
                // contiguous NFA is slower but has no such limit.
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&pats)
            })
            .map_err(|e| ScanError::Automaton {
                reason: e.to_string(),
            })?;
        Ok(Matcher {
            ac,
            patterns,
            needles: kept,
            short,
            rules: unknown_rules,
        })
    }

    /// The needle behind a hit.
    pub(crate) fn needle(&self, index: usize) -> Option<&Needle> {
        self.needles.get(index)
    }

    /// Values that were too short to search for.
    pub fn short_needles(&self) -> &[(String, Part)] {
        &self.short
    }

    /// Number of values searched for.
    pub fn len(&self) -> usize {
        self.needles.len()
    }

    /// Whether no value is searched for.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// Scans one buffer, calling `hit` for each own-key match (once per
    /// needle and line) and each line with an unknown credential.
    pub(crate) fn scan(&self, buf: &[u8], mut hit: impl FnMut(Hit)) {
        let mut line: u64 = 1;
        let mut counted_to = 0usize;
        let mut last_rule_line: Option<usize> = None;
        let mut last_own: Option<(usize, u64)> = None;
        let mut ccxt_context = false;
        for m in self.ac.find_iter(buf) {
            let start = m.start();
            line += memchr::memchr_iter(b'\n', &buf[counted_to..start]).count() as u64;
            counted_to = start;
            match self.patterns.get(m.pattern().as_usize()) {
                // Other hits of the same needle on the same line add nothing.
                Some(Pattern::Needle(i)) if last_own != Some((*i, line)) => {
                    last_own = Some((*i, line));
                    hit(Hit::Own { index: *i, line });
                }
                Some(Pattern::Trigger) if self.rules => {
                    let line_start = memchr::memrchr(b'\n', &buf[..start]).map_or(0, |p| p + 1);
                    if last_rule_line == Some(line_start) {
                        continue;
                    }
                    last_rule_line = Some(line_start);
                    let line_end =
                        memchr::memchr(b'\n', &buf[start..]).map_or(buf.len(), |p| start + p);
                    if let Some(h) = rules::check_line(&buf[line_start..line_end], ccxt_context) {
                        if matches!(h.class.part, super::Part::KeyId | super::Part::Secret) {
                            ccxt_context = true;
                        }
                        hit(Hit::Unknown { line, hit: h });
                    }
                }
                _ => {}
            }
        }
    }
}

/// Whether `buf` (the start of a file) looks binary: a NUL byte in its
/// first 8 KiB, as git and ripgrep decide.
pub(crate) fn looks_binary(buf: &[u8]) -> bool {
    memchr::memchr(0, &buf[..buf.len().min(8192)]).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needle(label: &str, part: Part, v: &str) -> Needle {
        Needle::new(label, part, Zeroizing::new(v.as_bytes().to_vec()))
    }

    #[test]
    fn finds_needles_with_lines_once_per_line() {
        let m = Matcher::new(
            vec![
                needle("a", Part::Secret, "S3cretValue123"),
                needle("a", Part::KeyId, "KEYID-0001-xyz"),
                needle("b", Part::Passphrase, "abc"),
            ],
            false,
        )
        .unwrap();
        assert_eq!(m.short_needles(), &[("b".to_string(), Part::Passphrase)]);
        let text = b"x\nS3cretValue123 S3cretValue123\n\nfoo KEYID-0001-xyz\n";
        let mut hits = Vec::new();
        m.scan(text, |h| hits.push(h));
        assert_eq!(
            hits,
            vec![
                Hit::Own { index: 0, line: 2 },
                Hit::Own { index: 1, line: 4 }
            ]
        );
    }

    #[test]
    fn pem_lines_are_needles_too() {
        let pem = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5FHKJ9kn7nBT7oAoGCCqGSM49\nAwEHoUQDQgAE\n-----END EC PRIVATE KEY-----";
        let m = Matcher::new(vec![needle("cb", Part::Secret, pem)], false).unwrap();
        let mut n = 0;
        m.scan(
            b"KEY=\"-----BEGIN EC PRIVATE KEY-----\\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5FHKJ9kn7nBT7oAoGCCqGSM49\\n...\"",
            |_| n += 1,
        );
        assert_eq!(n, 1);
        assert!(!format!("{m:?}").contains("MHcC"));
    }

    #[test]
    fn binary_sniff() {
        assert!(looks_binary(b"ab\0cd"));
        assert!(!looks_binary(b"abcd"));
        assert!(!looks_binary(b""));
    }
}
