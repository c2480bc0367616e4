//! The secret values this process holds, remembered process-wide so that `render` masks them
//! wherever they appear in a shipped line.

use std::sync::{PoisonError, RwLock};

use secrecy::{ExposeSecret, SecretString};

use crate::port::mask::MIN_KNOWN_SECRET_CHARS;

/// Most distinct secret values remembered for masking (the oldest go first).
const MAX_KNOWN_SECRETS: usize = 64;

static KNOWN_SECRETS: RwLock<Vec<SecretString>> = RwLock::new(Vec::new());

/// Remembers a secret value the process holds, so that it is masked wherever it appears in a
/// shipped line. Values shorter than [`MIN_KNOWN_SECRET_CHARS`] are not remembered (masking them
/// would garble ordinary words; the token patterns still apply).
pub fn register_secret(value: &SecretString) {
    let text = value.expose_secret().trim();
    if text.chars().count() < MIN_KNOWN_SECRET_CHARS {
        return;
    }
    let mut known = KNOWN_SECRETS
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    if known.iter().any(|k| k.expose_secret() == text) {
        return;
    }
    if known.len() >= MAX_KNOWN_SECRETS {
        known.remove(0);
    }
    known.push(SecretString::from(text.to_owned()));
}

pub(super) fn known_secrets() -> Vec<SecretString> {
    KNOWN_SECRETS
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}
