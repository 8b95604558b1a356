//! Text that reaches a terminal: labels, notes, service names and every
//! string an exchange supplied (error messages, permission names, order
//! and transfer fields in incident snapshots).
//!
//! Owns: the list of invisible Unicode format characters that labels may
//! not contain ([`is_format_char`]), the one escaping function every
//! CLI printer passes its output through ([`escape_terminal`]), the words
//! for counts a person reads ([`count`], [`grouped`]) and the quoting of
//! a word in a command line that is printed to be pasted ([`shell_quote`]).
//!
//! Must never: let a control character (ESC starts terminal control
//! sequences that can rewrite the screen, set the window title or the
//! clipboard; C1 controls such as CSI U+009B do the same on some
//! terminals), a bidirectional override or a zero-width character through
//! to the terminal unescaped.
//!
//! Escapes use JSON's `\uXXXX` form (with a surrogate pair above U+FFFF),
//! plus `\n`, `\r` and `\t`, so compact JSON output stays valid JSON that
//! decodes to the same strings, and plain text shows the character's code.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Unicode general category Cf ("format"), Unicode 15.1: characters that
/// are invisible but change how text around them is shown. Bidirectional
/// overrides and isolates (U+202A–U+202E, U+2066–U+2069) can make a label
/// read as another; zero-width characters (U+200B–U+200F, U+2060–U+2064,
/// U+FEFF) make two labels that look the same differ.
///
/// An explicit list rather than a Unicode-tables crate: the category
/// changes rarely, and this list is checked against the standard's
/// `DerivedGeneralCategory.txt` by hand when Unicode adds to it.
const FORMAT_RANGES: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),   // soft hyphen
    (0x0600, 0x0605),   // Arabic number signs
    (0x061C, 0x061C),   // Arabic letter mark
    (0x06DD, 0x06DD),   // Arabic end of ayah
    (0x070F, 0x070F),   // Syriac abbreviation mark
    (0x0890, 0x0891),   // Arabic pound/piastre mark above
    (0x08E2, 0x08E2),   // Arabic disputed end of ayah
    (0x180E, 0x180E),   // Mongolian vowel separator
    (0x200B, 0x200F),   // zero-width space, (non-)joiner, LRM, RLM
    (0x202A, 0x202E),   // bidi embeddings and overrides
    (0x2060, 0x2064),   // word joiner, invisible operators
    (0x2066, 0x206F),   // bidi isolates, deprecated format characters
    (0xFEFF, 0xFEFF),   // zero-width no-break space (BOM)
    (0xFFF9, 0xFFFB),   // interlinear annotation
    (0x110BD, 0x110BD), // Kaithi number sign
    (0x110CD, 0x110CD), // Kaithi number sign above
    (0x13430, 0x1343F), // Egyptian hieroglyph format controls
    (0x1BCA0, 0x1BCA3), // shorthand format controls
    (0x1D173, 0x1D17A), // musical symbol format controls
    (0xE0001, 0xE0001), // language tag
    (0xE0020, 0xE007F), // tag characters
];

/// Whether `c` is a Unicode format character (general category Cf).
pub fn is_format_char(c: char) -> bool {
    let c = u32::from(c);
    FORMAT_RANGES.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// Characters shown as an escape on a terminal: controls (C0, DEL, C1),
/// format characters, and the line and paragraph separators.
fn needs_escape(c: char) -> bool {
    c.is_control() || is_format_char(c) || c == '\u{2028}' || c == '\u{2029}'
}

fn push_escape(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c => {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
}

fn escape(s: &str, keep_newlines: bool) -> Cow<'_, str> {
    let skip = |c: char| keep_newlines && c == '\n';
    if !s.chars().any(|c| needs_escape(c) && !skip(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if needs_escape(c) && !skip(c) {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `s` with every control, format and separator character replaced by a
/// visible escape (`\u001b`, `\u202e`, `\n`…): one line of terminal output.
pub fn escape_terminal(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// Like [`escape_terminal`] but keeps line feeds: for multi-line output
/// whose line breaks are structure, such as pretty-printed JSON (where
/// `serde_json` has already escaped every line break inside a string).
pub fn escape_terminal_lines(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

/// A number with thousands separators: `21429` → `"21,429"`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A count and the noun that goes with it: `count(1, "warning",
/// "warnings")` → `"1 warning"`, `count(21429, …)` → `"21,429 warnings"`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", grouped(n), if n == 1 { one } else { many })
}

/// `s` as one word of a POSIX shell command line: unchanged when it is
/// made of characters no shell treats specially, else in single quotes
/// (a single quote inside becomes `'\''`). For commands printed to be
/// copied and pasted (`keyward import-env 'my bots/.env'`).
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/'))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_as_words() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(21429), "21,429");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(count(0, "warning", "warnings"), "0 warnings");
        assert_eq!(count(1, "warning", "warnings"), "1 warning");
        assert_eq!(count(2, "warning", "warnings"), "2 warnings");
        assert_eq!(count(21429, "file", "files"), "21,429 files");
    }

    #[test]
    fn shell_quoting_survives_spaces_and_quotes() {
        assert_eq!(shell_quote("bots/a/.env"), "bots/a/.env");
        assert_eq!(shell_quote("my bots/.env"), "'my bots/.env'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
    }

    #[test]
    fn format_characters_are_recognised() {
        for c in [
            '\u{202E}',
            '\u{202A}',
            '\u{2066}',
            '\u{2069}',
            '\u{200B}',
            '\u{200D}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{E0041}',
        ] {
            assert!(is_format_char(c), "{:04x}", u32::from(c));
        }
        for c in ['a', 'é', '中', ' ', '\u{2028}', '-', '😀'] {
            assert!(!is_format_char(c), "{:04x}", u32::from(c));
        }
    }

    #[test]
    fn escapes_are_visible_and_json_compatible() {
        assert_eq!(escape_terminal("plain"), Cow::Borrowed("plain"));
        assert_eq!(
            escape_terminal("a\u{1b}]52;c;x\u{7}b\u{9b}2Jc"),
            "a\\u001b]52;c;x\\u0007b\\u009b2Jc"
        );
        assert_eq!(escape_terminal("evil\u{202E}gpj.exe"), "evil\\u202egpj.exe");
        assert_eq!(escape_terminal("x\n\ty\r"), "x\\n\\ty\\r");
        assert_eq!(escape_terminal("tag\u{E0041}"), "tag\\udb40\\udc41");
        assert_eq!(
            escape_terminal_lines("{\n \"a\u{202E}\"\n}"),
            "{\n \"a\\u202e\"\n}"
        );
        // The escaped text of a JSON string decodes back to the original.
        let original = "x\u{202E}\u{9b}\u{E0041}y";
        let json = serde_json::to_string(original).unwrap();
        let escaped = escape_terminal(&json);
        assert!(escaped.is_ascii());
        let back: String = serde_json::from_str(&escaped).unwrap();
        assert_eq!(back, original);
    }
}
