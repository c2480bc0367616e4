//! Reading the environment: the [`Env`] snapshot (the process's, or plain pairs in tests),
//! [`ConfigError`] naming the variable at fault, and the parsers every setting shares (whole
//! numbers, booleans, URLs).

use std::collections::HashMap;

/// A problem with the environment, naming the variable so the operator can fix it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("missing setting {name}: {hint}")]
    Missing {
        name: &'static str,
        hint: &'static str,
    },
    #[error("invalid setting {name}: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// A snapshot of environment variables. Built from the process environment in production and from
/// plain pairs in tests, so tests never mutate the process environment.
#[derive(Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars().collect(),
        }
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The trimmed value, with an empty value treated as unset.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    pub fn require(&self, name: &'static str, hint: &'static str) -> Result<&str, ConfigError> {
        self.get(name).ok_or(ConfigError::Missing { name, hint })
    }

    /// A positive whole number, or `default` when unset.
    pub fn positive_u64(&self, name: &'static str, default: u64) -> Result<u64, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => match raw.parse::<u64>() {
                Ok(0) => Err(ConfigError::Invalid {
                    name,
                    reason: "must be greater than 0".into(),
                }),
                Ok(n) => Ok(n),
                Err(_) => Err(ConfigError::Invalid {
                    name,
                    reason: format!("expected a whole number, got {raw:?}"),
                }),
            },
        }
    }
}

/// A `true`/`false` setting (also `1`/`0`, `yes`/`no`), `default` when unset.
pub(super) fn boolean(env: &Env, name: &'static str, default: bool) -> Result<bool, ConfigError> {
    match env.get(name) {
        None => Ok(default),
        Some(text) => match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            _ => Err(ConfigError::Invalid {
                name,
                reason: format!("{text:?} is not true or false"),
            }),
        },
    }
}

pub(super) fn url(env: &Env, name: &'static str, default: &str) -> Result<String, ConfigError> {
    let value = env
        .get(name)
        .unwrap_or(default)
        .trim_end_matches('/')
        .to_owned();
    if value.starts_with("https://") || value.starts_with("http://") {
        Ok(value)
    } else {
        Err(ConfigError::Invalid {
            name,
            reason: format!("expected an http(s) URL, got {value:?}"),
        })
    }
}
