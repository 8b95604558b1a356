//! Key material handed out by the vault for a purpose other than reveal:
//! `keyward run`'s environment (the leak scanner's needles are the scan
//! feature's, `scan/needles.rs`).
//!
//! Owns: [`Session::run_env`] (the
//! environment of a `keyward run` child, only for keys with the "allow run"
//! grant, each use audited through the vault's write path).
//!
//! Must never: hand out a value in a type that is `Serialize` or has a
//! revealing `Debug`; let `run_env` release anything for a key without the
//! grant; put a value in an error.

use std::fmt;

use secrecy::SecretString;
use thiserror::Error;

use super::error::VaultError;
use super::session::{Actor, Session};
use crate::error::{ErrorKind, KindedError};
use crate::model::Exchange;

/// Which value of a key an environment variable receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunField {
    /// The public API key id.
    KeyId,
    /// The secret.
    Secret,
    /// The passphrase.
    Passphrase,
}

impl RunField {
    /// Parses `key_id` (or `api_key`, `key`), `secret`, `passphrase` (or
    /// `password`).
    pub fn parse(s: &str) -> Option<RunField> {
        match s.trim().to_ascii_lowercase().as_str() {
            "key_id" | "api_key" | "key" | "apikey" => Some(RunField::KeyId),
            "secret" | "api_secret" => Some(RunField::Secret),
            "passphrase" | "password" | "api_passphrase" => Some(RunField::Passphrase),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            RunField::KeyId => "key_id",
            RunField::Secret => "secret",
            RunField::Passphrase => "passphrase",
        }
    }
}

/// An environment variable chosen by the user instead of a default:
/// `NAME=field` (one key) or `NAME=LABEL:field`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvOverride {
    /// The variable name.
    pub name: String,
    /// The key's label; `None` when only one key is given.
    pub label: Option<String>,
    /// The value it receives.
    pub field: RunField,
}

impl EnvOverride {
    /// Parses `NAME=field` or `NAME=LABEL:field`.
    pub fn parse(spec: &str) -> Result<EnvOverride, RunError> {
        let bad = || RunError::BadOverride {
            spec: spec.chars().take(80).collect(),
        };
        let (name, rhs) = spec.split_once('=').ok_or_else(bad)?;
        check_env_name(name)?;
        let (label, field) = match rhs.rsplit_once(':') {
            Some((l, f)) => (Some(l.to_owned()), f),
            None => (None, rhs),
        };
        let field = RunField::parse(field).ok_or_else(bad)?;
        Ok(EnvOverride {
            name: name.to_owned(),
            label,
            field,
        })
    }
}

fn check_env_name(name: &str) -> Result<(), RunError> {
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(RunError::BadVariableName {
            name: name.chars().take(80).collect(),
        })
    }
}

/// The default variable names for a key of `exchange`: key id, secret,
/// passphrase. `BINANCE_API_KEY`, `BINANCE_API_SECRET`,
/// `OKX_API_PASSPHRASE`…; `API_KEY`, `API_SECRET`, `API_PASSPHRASE` for
/// [`Exchange::Other`].
pub fn default_env_name(exchange: Exchange, field: RunField) -> String {
    let prefix = match exchange {
        Exchange::Other => String::new(),
        e => format!("{}_", e.as_str().to_ascii_uppercase()),
    };
    let suffix = match field {
        RunField::KeyId => "API_KEY",
        RunField::Secret => "API_SECRET",
        RunField::Passphrase => "API_PASSPHRASE",
    };
    format!("{prefix}{suffix}")
}

/// Why `run_env` refused.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RunError {
    /// The vault refused: no such key, locked, or no "allow run" grant
    /// (an MFA error, exit 4).
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// No key was named.
    #[error("name at least one key with --key LABEL")]
    NoKeys,
    /// An `--env` override could not be read.
    #[error(
        "cannot read --env {spec:?}: expected NAME=field or NAME=LABEL:field (field: key_id, secret, passphrase)"
    )]
    BadOverride {
        /// The override as given (it holds names only).
        spec: String,
    },
    /// An `--env` override names a key that is not among `--key`.
    #[error("--env names key {label:?}, which is not given with --key")]
    OverrideForOtherKey {
        /// The label.
        label: String,
    },
    /// An `--env` override without a label while several keys are given.
    #[error("with several keys, --env needs NAME=LABEL:field")]
    AmbiguousOverride,
    /// Not a valid environment variable name.
    #[error("{name:?} is not a valid environment variable name")]
    BadVariableName {
        /// The name.
        name: String,
    },
    /// Two values would go to the same variable.
    #[error("two values for ${name}; choose distinct names with --env")]
    DuplicateVariable {
        /// The variable.
        name: String,
    },
    /// A passphrase was asked for a key that has none.
    #[error("key {label:?} has no {field}")]
    MissingField {
        /// The label.
        label: String,
        /// The field.
        field: &'static str,
    },
}

impl KindedError for RunError {
    fn kind(&self) -> ErrorKind {
        match self {
            RunError::Vault(e) => e.kind(),
            RunError::NoKeys
            | RunError::BadOverride { .. }
            | RunError::OverrideForOtherKey { .. }
            | RunError::AmbiguousOverride
            | RunError::BadVariableName { .. }
            | RunError::DuplicateVariable { .. }
            | RunError::MissingField { .. } => ErrorKind::Invalid,
        }
    }
}

/// One variable of a `keyward run` child's environment. `Debug` shows the
/// name only.
pub struct RunVar {
    /// The variable name.
    pub name: String,
    /// The value.
    pub value: SecretString,
}

impl fmt::Debug for RunVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RunVar({}, [redacted])", self.name)
    }
}

impl Session {
    /// The environment for `keyward run`: for each key in `labels`, its key
    /// id, secret and passphrase (if any) under the exchange's default names
    /// ([`default_env_name`]), each replaced by an [`EnvOverride`] for the
    /// same key and field. Every key must carry the "allow run" grant
    /// (otherwise [`VaultError`] with [`ErrorKind::Mfa`], before any value
    /// is opened) and none may be a manager key
    /// ([`VaultError::ManagerKeyNotForRun`]); each key's use is audited.
    pub fn run_env(
        &mut self,
        actor: Actor,
        labels: &[String],
        overrides: &[EnvOverride],
    ) -> Result<Vec<RunVar>, RunError> {
        if labels.is_empty() {
            return Err(RunError::NoKeys);
        }
        for o in overrides {
            match &o.label {
                Some(l) if !labels.contains(l) => {
                    return Err(RunError::OverrideForOtherKey { label: l.clone() });
                }
                None if labels.len() > 1 => return Err(RunError::AmbiguousOverride),
                _ => {}
            }
        }
        // Every grant is checked before anything is opened or audited.
        let mut details = Vec::new();
        for label in labels {
            let detail = self.key_detail(label)?;
            if detail.summary.manager {
                return Err(VaultError::ManagerKeyNotForRun {
                    label: label.clone(),
                }
                .into());
            }
            if !detail.allow_run {
                return Err(VaultError::from(crate::mfa::MfaError::StepUpRequired {
                    action: crate::mfa::GatedAction::AllowRun,
                })
                .into());
            }
            details.push(detail);
        }
        let mut vars: Vec<RunVar> = Vec::new();
        for (label, detail) in labels.iter().zip(details) {
            let exchange = detail.summary.exchange;
            let revealed = self.run_secrets(actor, label)?;
            let mine: Vec<&EnvOverride> = overrides
                .iter()
                .filter(|o| o.label.as_ref().is_none_or(|l| l == label))
                .collect();
            let mut values: Vec<(RunField, SecretString)> = vec![
                (
                    RunField::KeyId,
                    SecretString::from(detail.api_key_id.clone()),
                ),
                (
                    RunField::Secret,
                    SecretString::from(revealed.secret.expose().to_owned()),
                ),
            ];
            if let Some(p) = revealed.passphrase.as_ref().filter(|p| !p.is_empty()) {
                values.push((
                    RunField::Passphrase,
                    SecretString::from(p.expose().to_owned()),
                ));
            }
            for o in &mine {
                if !values.iter().any(|(f, _)| *f == o.field) {
                    return Err(RunError::MissingField {
                        label: label.clone(),
                        field: o.field.name(),
                    });
                }
            }
            for (field, value) in values {
                let named: Vec<&&EnvOverride> = mine.iter().filter(|o| o.field == field).collect();
                let names: Vec<String> = if named.is_empty() {
                    vec![default_env_name(exchange, field)]
                } else {
                    named.iter().map(|o| o.name.clone()).collect()
                };
                for name in names {
                    if vars.iter().any(|v| v.name == name) {
                        return Err(RunError::DuplicateVariable { name });
                    }
                    vars.push(RunVar {
                        name,
                        value: value.clone(),
                    });
                }
            }
        }
        Ok(vars)
    }
}
