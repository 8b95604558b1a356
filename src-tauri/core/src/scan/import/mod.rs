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
//!
//! `parse` reads a file into its string fields, `rewrite` writes it again
//! without the values; this module groups the fields into credentials and
//! imports them.

mod parse;
mod rewrite;

pub use rewrite::{Rewrite, rewrite_without_values};

use std::fmt;
use std::fs;
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
use parse::{Entry, malformed, parse};

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
