//! Recognising exchange credentials in `.env`, JSON, YAML and TOML bot
//! configurations, importing them into the vault, and rewriting the file
//! without the values.
//!
//! Owns: the parsers' use (serde_json, serde_yaml, toml, and a strict `.env`
//! reader), grouping fields into credentials by name (EXCHANGES.md §9, ccxt's
//! `apiKey`/`secret`/`password`, freqtrade's `exchange.key`/`secret`/
//! `password` with `exchange.name`), and the rewrite (a backup copy, mode
//! 0600, next to the file; the new content written to a temporary file with
//! the original permissions, synced, and renamed over the original).
//!
//! Must never: show a value (previews carry the masked key id and the field
//! names only), modify a file without an explicit call to
//! [`rewrite_without_values`], rewrite a file that changed since it was read
//! or whose result no longer parses, or pass a parser's message on (some
//! quote the offending line).

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;
use zeroize::Zeroizing;

use super::error::ImportError;
use super::finding::Part;
use super::rules::{self, classify, exchange_in};
use crate::model::{
    ApiSecret, Exchange, LinkedService, MAX_SERVICE_NAME_CHARS, NewKey, Passphrase, mask_key_id,
};
use crate::vault::{Actor, Session, VaultError};

/// Configuration files larger than this are refused.
pub const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

/// A configuration format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// `NAME=value` lines.
    Env,
    /// JSON.
    Json,
    /// YAML.
    Yaml,
    /// TOML.
    Toml,
}

impl Format {
    /// The name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Env => ".env",
            Format::Json => "JSON",
            Format::Yaml => "YAML",
            Format::Toml => "TOML",
        }
    }

    /// The format of `path`, from its name.
    pub fn of(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("json") => Some(Format::Json),
            Some("yaml" | "yml") => Some(Format::Yaml),
            Some("toml") => Some(Format::Toml),
            Some("env") => Some(Format::Env),
            _ if name.starts_with(".env") || name == "env" => Some(Format::Env),
            _ => None,
        }
    }
}

/// One field of a credential, by name (never the value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldName {
    /// Dotted path of the field (`BINANCE_API_SECRET`, `exchange.secret`).
    pub name: String,
    /// Which part it holds.
    pub part: Part,
}

/// What the import found, safe to show: no value, the key id masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CandidatePreview {
    /// The file.
    pub file: PathBuf,
    /// Its format.
    pub format: Format,
    /// Where in the file (`BINANCE_*`, `exchanges.binance`).
    pub location: String,
    /// The exchange (from the names, the enclosing section, or a sibling
    /// `name`/`id`/`exchange` field); `other` when none says.
    pub exchange: Exchange,
    /// The label it would get.
    pub label: String,
    /// The API key id, masked.
    pub key_id_masked: String,
    /// Whether a passphrase was found.
    pub has_passphrase: bool,
    /// The fields that hold it.
    pub fields: Vec<FieldName>,
}

/// A recognised credential: the preview plus the values, zeroized on drop.
/// No `Serialize`; `Debug` shows the preview only.
pub struct Candidate {
    /// What may be shown.
    pub preview: CandidatePreview,
    key_id: Zeroizing<String>,
    secret: Zeroizing<String>,
    passphrase: Option<Zeroizing<String>>,
}

impl fmt::Debug for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Candidate")
            .field("preview", &self.preview)
            .finish_non_exhaustive()
    }
}

impl Candidate {
    /// The key to add to the vault, with the given label.
    pub fn new_key(&self, label: &str) -> NewKey {
        let mut key = NewKey::new(
            label,
            self.preview.exchange,
            self.key_id.as_str(),
            ApiSecret::new(self.secret.as_str().to_owned()),
        );
        key.passphrase = self
            .passphrase
            .as_ref()
            .map(|p| Passphrase::new(p.as_str().to_owned()));
        // The config file is where the key is used: it names the service
        // (the end of the path when the whole is too long for a name; the
        // notes keep all of it).
        let path = self.preview.file.display().to_string();
        let chars: Vec<char> = path.chars().collect();
        let name = if chars.len() <= MAX_SERVICE_NAME_CHARS {
            path.clone()
        } else {
            let tail: String = chars[chars.len() - (MAX_SERVICE_NAME_CHARS - 1)..]
                .iter()
                .collect();
            format!("…{tail}")
        };
        key.linked_services = vec![LinkedService::named(name)];
        key.notes = format!("imported from {}", self.preview.file.display());
        key
    }

    fn values(&self) -> Vec<&str> {
        let mut v = vec![self.key_id.as_str(), self.secret.as_str()];
        if let Some(p) = &self.passphrase {
            v.push(p.as_str());
        }
        v
    }
}

/// Everything recognised in one file, and what is needed to rewrite it.
#[derive(Debug)]
pub struct FileCandidates {
    /// The file.
    pub path: PathBuf,
    /// Its format.
    pub format: Format,
    /// The credentials found, in file order.
    pub candidates: Vec<Candidate>,
    original: Zeroizing<Vec<u8>>,
}

/// A field with a string value, by path.
struct Entry {
    path: Vec<String>,
    value: Zeroizing<String>,
}

fn malformed(
    path: &Path,
    format: Format,
    line: Option<usize>,
    reason: &'static str,
) -> ImportError {
    ImportError::Malformed {
        path: path.to_path_buf(),
        format: format.name(),
        line,
        reason,
    }
}

fn parse_env(path: &Path, text: &str) -> Result<Vec<Entry>, ImportError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let bad = |reason| malformed(path, Format::Env, Some(i + 1), reason);
        let (name, value) = line.split_once('=').ok_or(bad("expected NAME=value"))?;
        let name = name.trim();
        let valid_name = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !valid_name {
            return Err(bad("invalid variable name"));
        }
        let value = value.trim();
        let value = match value.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let inner = &value[1..];
                let end = inner.find(q).ok_or(bad("unterminated quote"))?;
                let after = inner[end + 1..].trim();
                if !(after.is_empty() || after.starts_with('#')) {
                    return Err(bad("text after the closing quote"));
                }
                &inner[..end]
            }
            _ => value.split(" #").next().unwrap_or("").trim(),
        };
        out.push(Entry {
            path: vec![name.to_owned()],
            value: Zeroizing::new(value.to_owned()),
        });
    }
    Ok(out)
}

fn flatten_json(v: &serde_json::Value, path: &mut Vec<String>, out: &mut Vec<Entry>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                path.push(k.clone());
                flatten_json(v, path, out);
                path.pop();
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(i.to_string());
                flatten_json(v, path, out);
                path.pop();
            }
        }
        serde_json::Value::String(s) => out.push(Entry {
            path: path.clone(),
            value: Zeroizing::new(s.clone()),
        }),
        serde_json::Value::Number(n) => out.push(Entry {
            path: path.clone(),
            value: Zeroizing::new(n.to_string()),
        }),
        _ => {}
    }
}

fn yaml_key(k: &serde_yaml::Value) -> String {
    match k {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Number(n) => n.to_string(),
        serde_yaml::Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

fn flatten_yaml(v: &serde_yaml::Value, path: &mut Vec<String>, out: &mut Vec<Entry>) {
    match v {
        serde_yaml::Value::Mapping(map) => {
            for (k, v) in map {
                path.push(yaml_key(k));
                flatten_yaml(v, path, out);
                path.pop();
            }
        }
        serde_yaml::Value::Sequence(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(i.to_string());
                flatten_yaml(v, path, out);
                path.pop();
            }
        }
        serde_yaml::Value::Tagged(t) => flatten_yaml(&t.value, path, out),
        serde_yaml::Value::String(s) => out.push(Entry {
            path: path.clone(),
            value: Zeroizing::new(s.clone()),
        }),
        serde_yaml::Value::Number(n) => out.push(Entry {
            path: path.clone(),
            value: Zeroizing::new(n.to_string()),
        }),
        _ => {}
    }
}

fn flatten_toml(v: &toml::Value, path: &mut Vec<String>, out: &mut Vec<Entry>) {
    match v {
        toml::Value::Table(map) => {
            for (k, v) in map {
                path.push(k.clone());
                flatten_toml(v, path, out);
                path.pop();
            }
        }
        toml::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(i.to_string());
                flatten_toml(v, path, out);
                path.pop();
            }
        }
        toml::Value::String(s) => out.push(Entry {
            path: path.clone(),
            value: Zeroizing::new(s.clone()),
        }),
        toml::Value::Integer(n) => out.push(Entry {
            path: path.clone(),
            value: Zeroizing::new(n.to_string()),
        }),
        _ => {}
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn parse(path: &Path, format: Format, text: &str) -> Result<Vec<Entry>, ImportError> {
    let mut out = Vec::new();
    match format {
        Format::Env => return parse_env(path, text),
        Format::Json => {
            let v: serde_json::Value = serde_json::from_str(text).map_err(|e| {
                malformed(
                    path,
                    format,
                    Some(e.line()),
                    match e.classify() {
                        serde_json::error::Category::Eof => "unexpected end of file",
                        _ => "syntax error",
                    },
                )
            })?;
            flatten_json(&v, &mut Vec::new(), &mut out);
        }
        Format::Yaml => {
            let v: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| {
                // At the end of a file without a final newline the YAML
                // parser names the line after the last one.
                let last = line_of(text, text.len());
                let line = e.location().map(|l| l.line().min(last));
                malformed(path, format, line, "syntax error")
            })?;
            flatten_yaml(&v, &mut Vec::new(), &mut out);
        }
        Format::Toml => {
            let v: toml::Table = toml::from_str(text).map_err(|e| {
                malformed(
                    path,
                    format,
                    e.span().map(|s| line_of(text, s.start)),
                    "syntax error",
                )
            })?;
            flatten_toml(&toml::Value::Table(v), &mut Vec::new(), &mut out);
        }
    }
    Ok(out)
}

#[derive(Default)]
struct Group {
    parent: Vec<String>,
    stem: String,
    exchange: Option<Exchange>,
    key_id: Option<(String, Zeroizing<String>)>,
    secret: Option<(String, Zeroizing<String>)>,
    passphrase: Option<(String, Zeroizing<String>)>,
}

/// Reads `path` and recognises the exchange credentials in it. Labels are
/// `label_prefix` + exchange (+ `-2`, `-3`… within one file). A malformed
/// file is an error and is left untouched.
pub fn read_file(path: &Path, label_prefix: &str) -> Result<FileCandidates, ImportError> {
    let io = |source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = fs::metadata(path).map_err(io)?;
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(ImportError::TooLarge {
            path: path.to_path_buf(),
            limit: MAX_CONFIG_BYTES,
        });
    }
    let original = Zeroizing::new(fs::read(path).map_err(io)?);
    recognise_bytes(path, original, label_prefix)
}

/// [`read_file`] once the bytes are read: the format from `path`'s name, the
/// parse and the recognition. The fuzz targets call it directly.
pub(crate) fn recognise_bytes(
    path: &Path,
    original: Zeroizing<Vec<u8>>,
    label_prefix: &str,
) -> Result<FileCandidates, ImportError> {
    let format = Format::of(path).ok_or_else(|| ImportError::UnsupportedFormat {
        path: path.to_path_buf(),
    })?;
    let text = std::str::from_utf8(&original)
        .map_err(|_| malformed(path, format, None, "not UTF-8 text"))?;
    let entries = parse(path, format, text)?;
    let candidates = recognise(path, format, &entries, label_prefix);
    Ok(FileCandidates {
        path: path.to_path_buf(),
        format,
        candidates,
        original,
    })
}

fn recognise(path: &Path, format: Format, entries: &[Entry], label_prefix: &str) -> Vec<Candidate> {
    let mut groups: Vec<Group> = Vec::new();
    for e in entries {
        let Some(last) = e.path.last() else { continue };
        let Some(class) = classify(last) else {
            continue;
        };
        if rules::is_placeholder(&e.value) || e.value.trim().is_empty() {
            continue;
        }
        let parent = e.path[..e.path.len() - 1].to_vec();
        let idx = match groups
            .iter()
            .position(|g| g.parent == parent && g.stem == class.stem)
        {
            Some(i) => i,
            None => {
                groups.push(Group {
                    parent: parent.clone(),
                    stem: class.stem.clone(),
                    ..Group::default()
                });
                groups.len() - 1
            }
        };
        let g = &mut groups[idx];
        if g.exchange.is_none() {
            g.exchange = class.exchange;
        }
        let slot = match class.part {
            Part::KeyId => &mut g.key_id,
            Part::Secret => &mut g.secret,
            Part::Passphrase => &mut g.passphrase,
        };
        if slot.is_none() {
            *slot = Some((e.path.join("."), Zeroizing::new(e.value.to_string())));
        }
    }
    let mut out: Vec<Candidate> = Vec::new();
    for g in groups {
        let (Some(key_id), Some(secret)) = (g.key_id, g.secret) else {
            continue;
        };
        let exchange = g
            .exchange
            .or_else(|| g.parent.iter().rev().find_map(|s| exchange_in(s)))
            .or_else(|| {
                entries.iter().find_map(|e| {
                    let (last, parent) = e.path.split_last()?;
                    let n = rules::normalise(last);
                    let named = matches!(n.as_str(), "name" | "id" | "exchange" | "exchangeid");
                    (named && parent == g.parent.as_slice())
                        .then(|| exchange_in(&e.value))
                        .flatten()
                })
            })
            .unwrap_or(Exchange::Other);
        let base = format!("{label_prefix}{}", exchange.as_str());
        let taken = out
            .iter()
            .filter(|c| c.preview.label.starts_with(&base))
            .count();
        let label = if taken == 0 {
            base
        } else {
            format!("{base}-{}", taken + 1)
        };
        let location = if format == Format::Env {
            let mut names = vec![key_id.0.clone(), secret.0.clone()];
            if let Some(p) = &g.passphrase {
                names.push(p.0.clone());
            }
            names.join(", ")
        } else if g.parent.is_empty() {
            "(top level)".to_owned()
        } else {
            g.parent.join(".")
        };
        let mut fields = vec![
            FieldName {
                name: key_id.0.clone(),
                part: Part::KeyId,
            },
            FieldName {
                name: secret.0.clone(),
                part: Part::Secret,
            },
        ];
        if let Some(p) = &g.passphrase {
            fields.push(FieldName {
                name: p.0.clone(),
                part: Part::Passphrase,
            });
        }
        out.push(Candidate {
            preview: CandidatePreview {
                file: path.to_path_buf(),
                format,
                location,
                exchange,
                label,
                key_id_masked: mask_key_id(&key_id.1),
                has_passphrase: g.passphrase.is_some(),
                fields,
            },
            key_id: key_id.1,
            secret: secret.1,
            passphrase: g.passphrase.map(|p| p.1),
        });
    }
    out
}

/// The result of importing one candidate.
#[derive(Debug, Clone, Serialize)]
pub struct ImportOutcome {
    /// The label used.
    pub label: String,
    /// Whether the key was added.
    pub added: bool,
    /// Why not (validation, duplicate label…), in words safe to show.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Adds each candidate to the vault under its preview label, one
/// transaction (and one audit entry) per key. A refused key (duplicate
/// label, invalid shape) does not stop the others. A locked vault does.
pub fn import(
    session: &mut Session,
    actor: Actor,
    candidates: &[&Candidate],
) -> Result<Vec<ImportOutcome>, ImportError> {
    let mut out = Vec::new();
    for c in candidates {
        let label = c.preview.label.clone();
        match session.add_key(actor, c.new_key(&label)) {
            Ok(_) => out.push(ImportOutcome {
                label,
                added: true,
                error: None,
            }),
            Err(e @ (VaultError::Invalid(_) | VaultError::KeyNotFound { .. })) => {
                out.push(ImportOutcome {
                    label,
                    added: false,
                    error: Some(e.to_string()),
                })
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// A completed rewrite.
#[derive(Debug, Clone, Serialize)]
pub struct Rewrite {
    /// The rewritten file.
    pub file: PathBuf,
    /// The copy of the original (mode 0600). It still holds the values:
    /// delete it once the bot runs with `keyward run`.
    pub backup: PathBuf,
    /// Number of values removed.
    pub removed: usize,
}

fn delimited(text: &[u8], start: usize, end: usize) -> Option<bool> {
    let before = if start == 0 { b'\n' } else { text[start - 1] };
    let after = text.get(end).copied().unwrap_or(b'\n');
    let quoted = matches!(before, b'"' | b'\'') && after == before;
    let bare = matches!(before, b' ' | b'\t' | b'=' | b':')
        && matches!(after, b'\n' | b'\r' | b' ' | b'\t' | b'#' | b',' | b'}');
    if quoted {
        Some(true)
    } else if bare {
        Some(false)
    } else {
        None
    }
}

fn remove_values(format: Format, text: &str, values: &[&str]) -> (String, usize) {
    let mut spans: Vec<(usize, usize, bool)> = Vec::new();
    for v in values {
        if v.is_empty() {
            continue;
        }
        for (i, _) in text.match_indices(v) {
            if let Some(quoted) = delimited(text.as_bytes(), i, i + v.len()) {
                spans.push((i, i + v.len(), quoted));
            }
        }
    }
    spans.sort();
    spans.dedup_by(|b, a| b.0 < a.1);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (s, e, quoted) in &spans {
        out.push_str(&text[at..*s]);
        if !quoted && format != Format::Env {
            out.push_str("\"\"");
        }
        at = *e;
    }
    out.push_str(&text[at..]);
    (out, spans.len())
}

fn free_path(base: &Path, suffix: &str) -> PathBuf {
    let mut p = base.as_os_str().to_owned();
    p.push(suffix);
    let first = PathBuf::from(&p);
    if !first.exists() {
        return first;
    }
    (2..)
        .map(|n| {
            let mut q = p.clone();
            q.push(format!(".{n}"));
            PathBuf::from(q)
        })
        .find(|q| !q.exists())
        .unwrap_or(first)
}

/// Rewrites `file` without the values of `chosen` (key id, secret and
/// passphrase of each), after keeping a backup copy next to it
/// (`<file>.keyward-backup`, mode 0600). The new content replaces the file
/// atomically (temporary file with the same permissions, synced, renamed);
/// the file must not have changed since [`read_file`], and the result must
/// still parse with none of the values left, or nothing is written.
pub fn rewrite_without_values(
    file: &FileCandidates,
    chosen: &[&Candidate],
) -> Result<Rewrite, ImportError> {
    let path = &file.path;
    let io = |source| ImportError::Io {
        path: path.clone(),
        source,
    };
    let now = Zeroizing::new(fs::read(path).map_err(io)?);
    if *now != *file.original {
        return Err(ImportError::Changed { path: path.clone() });
    }
    let text = std::str::from_utf8(&now)
        .map_err(|_| malformed(path, file.format, None, "not UTF-8 text"))?;
    let values: Vec<&str> = chosen.iter().flat_map(|c| c.values()).collect();
    let (new_text, removed) = remove_values(file.format, text, &values);
    let new_text = Zeroizing::new(new_text);
    let failed = |reason| ImportError::RewriteFailed {
        path: path.clone(),
        reason,
    };
    let entries =
        parse(path, file.format, &new_text).map_err(|_| failed("the result would not parse"))?;
    if entries.iter().any(|e| {
        values
            .iter()
            .any(|v| !v.is_empty() && e.value.as_str() == *v)
    }) {
        return Err(failed(
            "a value is used in a way that cannot be removed automatically",
        ));
    }
    let meta = fs::metadata(path).map_err(io)?;
    let backup = free_path(path, ".keyward-backup");
    {
        let mut b = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&backup)
            .map_err(io)?;
        b.write_all(&now).map_err(io)?;
        b.sync_all().map_err(io)?;
    }
    let tmp = free_path(path, ".keyward-tmp");
    let write_tmp = || -> std::io::Result<()> {
        let mut t = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        t.write_all(new_text.as_bytes())?;
        t.set_permissions(fs::Permissions::from_mode(meta.permissions().mode()))?;
        t.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    };
    if let Err(e) = write_tmp() {
        let _ = fs::remove_file(&tmp);
        return Err(io(e));
    }
    Ok(Rewrite {
        file: path.clone(),
        backup,
        removed,
    })
}

/// The default environment variable names `keyward run` uses for a key of
/// `exchange` (key id, secret, passphrase).
pub fn default_env_names(exchange: Exchange) -> [String; 3] {
    use crate::vault::material::{RunField, default_env_name};
    [
        default_env_name(exchange, RunField::KeyId),
        default_env_name(exchange, RunField::Secret),
        default_env_name(exchange, RunField::Passphrase),
    ]
}

/// The `keyward run` line to start the bot with instead: for `.env` files it
/// maps the file's own variable names; for other formats it uses the
/// defaults (the bot must then read them from its environment).
pub fn run_line(labelled: &[(&Candidate, &str)]) -> String {
    let mut line = String::from("keyward run");
    for (c, label) in labelled {
        let quoted = crate::text::shell_quote(label);
        line.push_str(&format!(" --key {quoted}"));
        if c.preview.format == Format::Env {
            let defaults = default_env_names(c.preview.exchange);
            for f in &c.preview.fields {
                let (field, default) = match f.part {
                    Part::KeyId => ("key_id", &defaults[0]),
                    Part::Secret => ("secret", &defaults[1]),
                    Part::Passphrase => ("passphrase", &defaults[2]),
                };
                if &f.name != default {
                    line.push_str(&format!(
                        " --env {}={}",
                        f.name,
                        crate::text::shell_quote(&format!("{label}:{field}"))
                    ));
                }
            }
        }
    }
    line.push_str(" -- <your bot command>");
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_parsing_is_strict() {
        let p = Path::new("x.env");
        assert!(parse_env(p, "A=1\n# c\nexport B=\"two\" # note\n").is_ok());
        for bad in ["JUST_A_WORD\n", "A=\"open\n", "1A=x\n", "A='x' y\n"] {
            assert!(
                matches!(parse_env(p, bad), Err(ImportError::Malformed { .. })),
                "{bad}"
            );
        }
    }

    // Found by fuzzing: a YAML error at the end of a file without a final
    // newline named a line after the last one.
    #[test]
    fn a_syntax_error_names_a_line_of_the_file() {
        let p = Path::new("x.yaml");
        for (text, lines) in [
            ("key: [unclosed!", 1),
            ("key: [unclosed\n", 2),
            ("a: 1\nb: [x", 2),
        ] {
            match parse(p, Format::Yaml, text) {
                Err(ImportError::Malformed {
                    line: Some(line), ..
                }) => assert!((1..=lines).contains(&line), "{text:?}: line {line}"),
                Err(e) => panic!("{text:?}: {e}"),
                Ok(_) => panic!("{text:?} parsed"),
            }
        }
    }

    #[test]
    fn removal_is_delimited() {
        let (out, n) = remove_values(
            Format::Yaml,
            "a: abcdef123456\nb: xabcdef123456\n",
            &["abcdef123456"],
        );
        assert_eq!(n, 1);
        assert_eq!(out, "a: \"\"\nb: xabcdef123456\n");
        let (out, _) = remove_values(
            Format::Env,
            "S=\"abcdef123456\"\nT=abcdef123456\n",
            &["abcdef123456"],
        );
        assert_eq!(out, "S=\"\"\nT=\n");
    }
}
