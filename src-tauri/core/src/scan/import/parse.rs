//! Reading a configuration file into its string fields by path: a strict
//! `.env` reader and the JSON, YAML and TOML parsers, whose messages are
//! never passed on (some quote the offending line).

use std::path::Path;

use zeroize::Zeroizing;

use super::Format;
use crate::scan::error::ImportError;

/// A field with a string value, by path.
pub(super) struct Entry {
    pub(super) path: Vec<String>,
    pub(super) value: Zeroizing<String>,
}

pub(super) fn malformed(
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

pub(super) fn parse(path: &Path, format: Format, text: &str) -> Result<Vec<Entry>, ImportError> {
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
}
