//! Unknown-credential rules: exchange credentials that are not in the vault,
//! recognised by variable or field name and by the shape of the value.
//!
//! Owns: the vocabulary of credential names (EXCHANGES.md §9: `BINANCE_API_KEY`,
//! `OKX_API_PASSPHRASE`, ccxt's `apiKey` / `secret` / `password`, freqtrade's
//! `FREQTRADE__EXCHANGE__KEY`, the KuCoin SDK's `API_PASSPHRASE`, …), the
//! value shapes of the exchanges' keys, and the placeholder filter. Shared by
//! the scanner (one line at a time) and the import (one parsed field at a
//! time). Must never: return or store a value — only names, parts and
//! exchanges.
//!
//! A rule fires only on an assignment of a literal: `NAME=value`,
//! `"name": "value"`, `name: value`, `name = "value"`, `'name' => 'value'`.
//! Values read from elsewhere (`os.environ[…]`, `process.env.X`, `${VAR}`)
//! and placeholders (`your_api_key`, `xxxx`, `<secret>`, `changeme`) do not
//! fire.

use crate::model::Exchange;

use super::finding::Part;

/// Exchange names as they appear in variable names, with their exchange.
const EXCHANGE_NAMES: &[(&str, Exchange)] = &[
    ("binance", Exchange::Binance),
    ("coinbase", Exchange::Coinbase),
    ("kraken", Exchange::Kraken),
    ("okex", Exchange::Okx),
    ("okx", Exchange::Okx),
    ("bybit", Exchange::Bybit),
    ("kucoin", Exchange::Kucoin),
    ("bitget", Exchange::Bitget),
];

/// Part suffixes of a normalised name (lower case, letters and digits
/// only), longest first within each part. Secrets are tried before key ids
/// because `secretkey` and `privatekey` end in `key`.
const SUFFIXES: &[(&str, Part)] = &[
    ("apipassphrase", Part::Passphrase),
    ("passphrase", Part::Passphrase),
    ("apipassword", Part::Passphrase),
    ("password", Part::Passphrase),
    ("apisecretkey", Part::Secret),
    ("apisecret", Part::Secret),
    ("secretkey", Part::Secret),
    ("keysecret", Part::Secret),
    ("privatekey", Part::Secret),
    ("secret", Part::Secret),
    ("apikeyid", Part::KeyId),
    ("apikey", Part::KeyId),
    ("accesskey", Part::KeyId),
    ("keyname", Part::KeyId),
    ("keyid", Part::KeyId),
    ("key", Part::KeyId),
];

/// Words whose presence on a line makes the scanner look at it closely.
/// Every name a rule can fire on contains one of them (in some letter case),
/// except a bare `key` (freqtrade's `key:`), which is far too common to look
/// at every time: such a section is still found by its `secret`.
pub(crate) const TRIGGERS: &[&str] = &[
    "binance",
    "coinbase",
    "kraken",
    "okex",
    "okx",
    "bybit",
    "kucoin",
    "bitget",
    "secret",
    "passphrase",
    "password",
    "apikey",
    "api_key",
    "api-key",
    "keyname",
    "key_name",
    "bg_",
];

/// Letter-case variants of every trigger: as written, UPPER, Capitalised,
/// and camelCase for the two-word ones.
pub(crate) fn trigger_variants() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in TRIGGERS {
        let lower = t.to_string();
        let upper = t.to_ascii_uppercase();
        let mut cap = lower.clone();
        if let Some(first) = cap.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        out.extend([lower, upper, cap]);
    }
    out.extend(
        [
            "apiKey", "ApiKey", "keyName", "KeyName", "Api_Key", "API-KEY",
        ]
        .map(String::from),
    );
    out.sort();
    out.dedup();
    out
}

/// What a credential name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameClass {
    /// The part the name holds.
    pub part: Part,
    /// The exchange named in it, if any.
    pub exchange: Option<Exchange>,
    /// The normalised name without the part suffix, an exchange name or
    /// `api` at its end: `BINANCE_API_SECRET` → `binance`, `apiKey` → ``.
    /// Names of one credential share their stem.
    pub stem: String,
    /// Whether this is a generic name (no exchange in it) that exchange
    /// tooling uses: ccxt's `apiKey`/`secret`/`password`, the SDKs'
    /// `API_KEY`/`API_SECRET`/`API_PASSPHRASE`, freqtrade's `key`/`secret`.
    pub generic: bool,
}

/// Lower case, ASCII letters and digits only.
pub fn normalise(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The exchange named anywhere in `text` (a name, a path segment, a value
/// like `"binance"`).
pub fn exchange_in(text: &str) -> Option<Exchange> {
    let n = normalise(text);
    EXCHANGE_NAMES
        .iter()
        .find(|(name, _)| n.contains(name))
        .map(|(_, e)| *e)
}

/// Classifies a variable or field name. `None` when it names no credential.
pub fn classify(name: &str) -> Option<NameClass> {
    let n = normalise(name);
    if n.is_empty() || n.len() > 80 {
        return None;
    }
    let (suffix, part) = SUFFIXES.iter().find(|(s, _)| n.ends_with(s))?;
    let mut stem = n[..n.len() - suffix.len()].to_string();
    if stem.ends_with("api") {
        stem.truncate(stem.len() - 3);
    }
    let exchange = exchange_in(&stem);
    // A bare `key` only counts with an exchange or freqtrade's section in
    // front of it (`BINANCE_KEY`, `FREQTRADE__EXCHANGE__KEY`); `key` alone is
    // everywhere.
    let generic = exchange.is_none();
    if *suffix == "key" && generic && !(stem.is_empty() || stem.ends_with("exchange")) {
        return None;
    }
    // Generic names: only the short, conventional ones.
    if generic && !(stem.is_empty() || stem == "freqtradeexchange" || stem == "exchange") {
        return None;
    }
    Some(NameClass {
        part: *part,
        exchange,
        stem,
        generic,
    })
}

/// Whether `value` looks like a placeholder or a reference rather than a
/// real credential.
pub fn is_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    const WORDS: &[&str] = &[
        "your",
        "xxxx",
        "example",
        "changeme",
        "change_me",
        "placeholder",
        "dummy",
        "redacted",
        "insert",
        "replace",
        "sample",
        "todo",
        "secret_here",
        "key_here",
        "<",
        ">",
        "${",
        "{{",
        "$(",
        "...",
        "****",
        "null",
        "none",
        "true",
        "false",
        "undefined",
    ];
    if WORDS.iter().any(|w| lower.contains(w)) {
        return true;
    }
    let mut chars = value.chars();
    match chars.next() {
        Some(first) => chars.all(|c| c == first),
        None => true,
    }
}

fn is_key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-')
}

/// Whether `v` has the shape of one of the exchanges' API key ids: 64
/// alphanumerics (Binance), a UUID (OKX, KuCoin secrets), 24 hex (KuCoin),
/// `bg_` + 32 hex (Bitget), 17–20 alphanumerics (Bybit), 56 base64
/// (Kraken), or a CDP key name `organizations/{uuid}/apiKeys/{uuid}`.
pub fn looks_like_key_id(v: &str) -> bool {
    let b = v.as_bytes();
    let alnum = b.iter().all(u8::is_ascii_alphanumeric);
    let hex = b.iter().all(u8::is_ascii_hexdigit);
    (alnum && b.len() == 64)
        || is_uuid(v)
        || (hex && b.len() == 24)
        || (v.len() == 35 && v.starts_with("bg_") && v[3..].bytes().all(|c| c.is_ascii_hexdigit()))
        || (alnum && (17..=20).contains(&b.len()) && has_letter_and_digit(v))
        || (b.len() == 56 && b.iter().all(|c| is_key_char(*c)) && has_letter_and_digit(v))
        || is_cdp_key_name(v)
}

fn is_uuid(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn is_cdp_key_name(v: &str) -> bool {
    let mut parts = v.split('/');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next()),
        (Some("organizations"), Some(org), Some("apiKeys"), Some(key), None)
            if is_uuid(org) && is_uuid(key)
    )
}

fn has_letter_and_digit(v: &str) -> bool {
    v.bytes().any(|c| c.is_ascii_alphabetic()) && v.bytes().any(|c| c.is_ascii_digit())
}

/// Whether `value`, held by a name classified as `class`, looks like a real
/// credential. `ccxt_context`: an API key or secret was already seen nearby
/// (a bare `password` counts only then).
pub fn value_fits(class: &NameClass, value: &str, ccxt_context: bool) -> bool {
    if value.len() > 8192 || is_placeholder(value) {
        return false;
    }
    let pem = value.contains("-----BEGIN") || value.contains("PRIVATE KEY");
    match class.part {
        Part::Passphrase => {
            let ok = value.len() >= 6 && !value.chars().any(char::is_whitespace);
            ok && (!class.generic || ccxt_context)
        }
        Part::Secret => {
            pem || (value.len() >= 16
                && value.bytes().all(is_key_char)
                && has_letter_and_digit(value))
        }
        Part::KeyId => {
            if class.generic {
                looks_like_key_id(value)
            } else {
                looks_like_key_id(value)
                    || (value.len() >= 16
                        && value.bytes().all(|c| is_key_char(c) || c == b':')
                        && has_letter_and_digit(value))
            }
        }
    }
}

/// An unknown credential found on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineHit {
    /// The rule that fired.
    pub rule: &'static str,
    /// The variable or field name.
    pub name: String,
    /// Its classification.
    pub class: NameClass,
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// A literal value starting at `rest` (after the separator and spaces):
/// quoted (`"…"`, `'…'`, `` `…` ``) or bare. A bare value that continues
/// like code (`os.environ[…]`, `process.env.X`, `getenv(…)`) is no literal.
fn literal(rest: &[u8]) -> Option<&str> {
    let first = *rest.first()?;
    if matches!(first, b'"' | b'\'' | b'`') {
        let end = memchr::memchr(first, &rest[1..])?;
        return std::str::from_utf8(&rest[1..=end]).ok();
    }
    let end = rest
        .iter()
        .position(|b| b.is_ascii_whitespace() || matches!(b, b',' | b';' | b'#' | b'}' | b')'))
        .unwrap_or(rest.len());
    let v = &rest[..end];
    if v.iter()
        .any(|b| matches!(b, b'.' | b'(' | b'[' | b'$' | b'{'))
    {
        return None;
    }
    std::str::from_utf8(v).ok()
}

/// Looks at one line for an assignment of a credential literal to a
/// credential name. `ccxt_context` as for [`value_fits`].
pub fn check_line(line: &[u8], ccxt_context: bool) -> Option<LineHit> {
    if line.len() > 16 * 1024 {
        return None;
    }
    for (i, &b) in line.iter().enumerate() {
        if b != b'=' && b != b':' {
            continue;
        }
        // `==`, `=>`, `:=`, `::` and URL schemes are handled by skipping
        // what cannot be a value start.
        let mut rest = &line[i + 1..];
        if b == b'=' && rest.first() == Some(&b'=') {
            continue;
        }
        if b == b':' && rest.first() == Some(&b':') {
            continue;
        }
        if rest.first() == Some(&b'>') || rest.first() == Some(&b'=') {
            rest = &rest[1..];
        }
        while let Some(c) = rest.first() {
            if *c == b' ' || *c == b'\t' {
                rest = &rest[1..];
            } else {
                break;
            }
        }
        // The name: skip closing quotes and spaces to the left.
        let mut end = i;
        while end > 0 && matches!(line[end - 1], b' ' | b'\t' | b'"' | b'\'' | b']') {
            end -= 1;
        }
        let mut start = end;
        while start > 0 && is_name_byte(line[start - 1]) {
            start -= 1;
        }
        if start == end {
            continue;
        }
        let Ok(name) = std::str::from_utf8(&line[start..end]) else {
            continue;
        };
        // `self.binance_secret = …`: the attribute name is what counts.
        let name = name.rsplit('.').next().unwrap_or(name);
        let Some(class) = classify(name) else {
            continue;
        };
        let Some(value) = literal(rest) else {
            continue;
        };
        if !value_fits(&class, value, ccxt_context) {
            continue;
        }
        let rule = match (class.exchange.is_some(), class.generic) {
            (true, _) => "exchange-variable",
            (false, _) if name.contains('_') && name.bytes().all(|c| !c.is_ascii_lowercase()) => {
                "generic-api-variable"
            }
            _ => "ccxt-field",
        };
        return Some(LineHit {
            rule,
            name: name.to_owned(),
            class,
        });
    }
    standalone_shape(line)
}

/// Shapes distinctive enough to flag without a name: Bitget key ids
/// (`bg_` + 32 hex) and Coinbase CDP key names.
fn standalone_shape(line: &[u8]) -> Option<LineHit> {
    let text = std::str::from_utf8(line).ok()?;
    for (i, _) in text.match_indices("bg_") {
        let tail = &text.as_bytes()[i + 3..];
        let before_ok = i == 0 || !text.as_bytes()[i - 1].is_ascii_alphanumeric();
        if before_ok
            && tail.len() >= 32
            && tail[..32].iter().all(u8::is_ascii_hexdigit)
            && tail.get(32).is_none_or(|c| !c.is_ascii_alphanumeric())
        {
            return Some(LineHit {
                rule: "bitget-key-shape",
                name: String::new(),
                class: NameClass {
                    part: Part::KeyId,
                    exchange: Some(Exchange::Bitget),
                    stem: String::new(),
                    generic: false,
                },
            });
        }
    }
    for (i, _) in text.match_indices("organizations/") {
        let candidate: String = text[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '/' || *c == '-')
            .collect();
        if is_cdp_key_name(&candidate) {
            return Some(LineHit {
                rule: "coinbase-cdp-key-name",
                name: String::new(),
                class: NameClass {
                    part: Part::KeyId,
                    exchange: Some(Exchange::Coinbase),
                    stem: String::new(),
                    generic: false,
                },
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "Zq8mN3vB7xK2pL9wR4tY6uI1oP5aS0dF";
    const BINANCE_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";

    fn hit(line: &str) -> Option<LineHit> {
        check_line(line.as_bytes(), false)
    }

    #[test]
    fn names() {
        let c = classify("BINANCE_API_SECRET").unwrap();
        assert_eq!(
            (c.part, c.exchange, c.stem.as_str()),
            (Part::Secret, Some(Exchange::Binance), "binance")
        );
        let c = classify("OKX_API_PASSPHRASE").unwrap();
        assert_eq!(
            (c.part, c.exchange),
            (Part::Passphrase, Some(Exchange::Okx))
        );
        let c = classify("apiKey").unwrap();
        assert_eq!(
            (c.part, c.generic, c.stem.as_str()),
            (Part::KeyId, true, "")
        );
        assert_eq!(classify("BINANCE_SECRET_KEY").unwrap().part, Part::Secret);
        assert_eq!(
            classify("FREQTRADE__EXCHANGE__KEY").unwrap().part,
            Part::KeyId
        );
        assert!(classify("monkey").is_none());
        assert!(classify("primary_key").is_none());
        assert!(classify("DATABASE_PASSWORD").is_none());
        assert!(classify("github_secret").is_none());
    }

    #[test]
    fn fires_on_exchange_variables_and_ccxt_fields() {
        assert_eq!(
            hit(&format!("BINANCE_API_SECRET={SECRET}")).unwrap().rule,
            "exchange-variable"
        );
        assert_eq!(
            hit(&format!("export BYBIT_SECRET=\"{SECRET}\""))
                .unwrap()
                .rule,
            "exchange-variable"
        );
        assert_eq!(
            hit(&format!("    'apiKey': '{BINANCE_KEY}',"))
                .unwrap()
                .rule,
            "ccxt-field"
        );
        assert_eq!(
            hit(&format!("  \"secret\": \"{SECRET}\",")).unwrap().rule,
            "ccxt-field"
        );
        assert_eq!(
            hit(&format!("secret: {SECRET}")).unwrap().rule,
            "ccxt-field"
        );
        assert_eq!(
            hit(&format!("API_SECRET = \"{SECRET}\"")).unwrap().rule,
            "generic-api-variable"
        );
        assert_eq!(
            hit("OKX_API_PASSPHRASE=Tr4ding!pass").unwrap().class.part,
            Part::Passphrase
        );
        assert_eq!(
            hit(&format!("id bg_{}", "0123456789abcdef0123456789abcdef"))
                .unwrap()
                .rule,
            "bitget-key-shape"
        );
    }

    #[test]
    fn quiet_on_references_and_placeholders() {
        for line in [
            "BINANCE_API_SECRET=your_binance_secret_here",
            "BINANCE_API_SECRET=${BINANCE_API_SECRET}",
            "apiKey: process.env.BINANCE_API_KEY,",
            "secret = os.environ['BINANCE_SECRET']",
            "'secret': os.getenv('BINANCE_SECRET'),",
            "BINANCE_API_SECRET=xxxxxxxxxxxxxxxxxxxxxxxx",
            "password: hunter2hunter2",
            "secret: short",
            "if (secret == other) { return; }",
            "let monkey = \"Zq8mN3vB7xK2pL9wR4tY6uI1oP5aS0dF\";",
            "apiKey: 'abcdefghijklmnopqrstuvwxyzabcdef'",
            "",
        ] {
            assert_eq!(hit(line), None, "{line}");
        }
        assert!(check_line(b"\xff\xfe secret=\xff", false).is_none());
        assert!(check_line(b"password: Tr4ding!pass", true).is_some());
    }
}
