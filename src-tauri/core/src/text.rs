//! Text that reaches a terminal: labels, notes, service names and every
//! string an exchange supplied (error messages, permission names, order
//! and transfer fields in incident snapshots).
//!
//! Owns: the list of invisible Unicode format characters that labels may
//! not contain ([`is_format_char`]) and the one escaping function every
//! CLI printer passes its output through ([`escape_terminal`]).
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

#[cfg(test)]
mod tests {
    use super::*;

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
