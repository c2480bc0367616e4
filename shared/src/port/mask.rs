//! Masks secret-looking values before they leave for Port: in raw objects sent as examples
//! (values under keys such as `token` or `private_key`, and values that look like credentials
//! wherever they are: GitHub tokens, JWTs, PEM blocks, `Bearer …`), and in free text such as a
//! log line ([`mask_text`]: the known secret values the process holds, and the same credential
//! patterns, replaced where they occur). Pure; it never logs what it masks.

use serde_json::Value;

/// What a masked value is replaced with.
pub const MASK: &str = "********";

/// Words that make a key sensitive, once the key is split into words.
const SENSITIVE_WORDS: &[&str] = &[
    "token",
    "tokens",
    "secret",
    "secrets",
    "password",
    "passwd",
    "pwd",
    "key",
    "apikey",
    "private",
    "credential",
    "credentials",
    "authorization",
    "auth",
    "cookie",
    "signature",
];

/// Prefixes of GitHub's token formats.
const TOKEN_PREFIXES: &[&str] = &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"];

/// A copy of `value` with secret-looking strings and numbers replaced by [`MASK`], recursively.
/// Booleans and nulls stay (`"private": false` tells nothing).
pub fn mask_secrets(value: &Value) -> Value {
    mask_under(value, false)
}

fn mask_under(value: &Value, sensitive_key: bool) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, child)| (key.clone(), mask_under(child, is_sensitive_key(key))))
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| mask_under(item, sensitive_key))
                .collect(),
        ),
        Value::String(text) if sensitive_key && !text.is_empty() => Value::String(MASK.to_owned()),
        Value::String(text) if looks_like_secret(text) => Value::String(MASK.to_owned()),
        Value::Number(_) if sensitive_key => Value::String(MASK.to_owned()),
        other => other.clone(),
    }
}

/// Whether a key names a secret: one of its words (split on `_`, `-`, `.`, spaces and camelCase)
/// is a sensitive word. Keys ending in `url` name a place, not a secret (`keys_url`).
pub fn is_sensitive_key(key: &str) -> bool {
    let words = split_words(key);
    if words.last().is_some_and(|w| w == "url" || w == "urls") {
        return false;
    }
    words.iter().any(|w| SENSITIVE_WORDS.contains(&w.as_str()))
}

fn split_words(key: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in key.chars() {
        if !c.is_alphanumeric() {
            previous_lower = false;
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        if c.is_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Whether a value looks like a credential, whatever its key.
pub fn looks_like_secret(text: &str) -> bool {
    if text.contains("-----BEGIN ") {
        return true;
    }
    let trimmed = text.trim();
    for scheme in ["Bearer ", "Basic ", "token "] {
        if trimmed.len() > scheme.len() + 8
            && trimmed.starts_with(scheme)
            && !trimmed[scheme.len()..].contains(' ')
        {
            return true;
        }
    }
    trimmed
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'))
        .any(|word| is_github_token(word) || is_jwt(word))
}

fn is_github_token(word: &str) -> bool {
    TOKEN_PREFIXES.iter().any(|prefix| {
        word.strip_prefix(prefix).is_some_and(|rest| {
            rest.len() >= 20 && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    })
}

/// Three base64url segments, the first a JSON header (`eyJ…` is `{"`).
fn is_jwt(word: &str) -> bool {
    let parts: Vec<&str> = word.split('.').collect();
    parts.len() == 3
        && parts
            .first()
            .is_some_and(|header| header.starts_with("eyJ") && header.len() > 10)
        && parts.get(1).is_some_and(|payload| payload.len() > 10)
        && parts.iter().all(|part| {
            part.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// Schemes whose next word is a credential in free text (`Bearer abc…`).
const CREDENTIAL_SCHEMES: &[&str] = &["Bearer ", "bearer ", "Basic ", "basic ", "token "];

/// A copy of `text` with secrets replaced by [`MASK`] where they occur: every value of `known`
/// (longest first; values shorter than [`MIN_KNOWN_SECRET_CHARS`] are ignored, they would mask
/// ordinary words), PEM blocks, the word after `Bearer `/`Basic `/`token `, and words that are
/// GitHub tokens or JWTs. The rest of the text is kept, so a log line stays readable.
pub fn mask_text(text: &str, known: &[&str]) -> String {
    let mut out = text.to_owned();
    let mut known: Vec<&str> = known
        .iter()
        .copied()
        .filter(|secret| secret.chars().count() >= MIN_KNOWN_SECRET_CHARS)
        .collect();
    known.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
    for secret in known {
        if out.contains(secret) {
            out = out.replace(secret, MASK);
        }
    }
    let out = mask_pem_blocks(&out);
    mask_credential_words(&out)
}

/// Known secret values shorter than this are not masked by value (the patterns still apply).
pub const MIN_KNOWN_SECRET_CHARS: usize = 6;

/// Replaces each `-----BEGIN …` block, through its `-----END …-----` line (or the end of the
/// text when it is cut), with [`MASK`].
fn mask_pem_blocks(text: &str) -> String {
    const BEGIN: &str = "-----BEGIN ";
    const END: &str = "-----END ";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        out.push_str(&rest[..start]);
        out.push_str(MASK);
        let after = &rest[start + BEGIN.len()..];
        rest = match after.find(END) {
            Some(end) => {
                let tail = &after[end + END.len()..];
                // Past the closing dashes of the END line.
                match tail.find("-----") {
                    Some(close) => &tail[close + 5..],
                    None => "",
                }
            }
            None => "",
        };
    }
    out.push_str(rest);
    out
}

/// Whether `c` can be part of a token-looking word.
fn word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'
}

/// Replaces GitHub tokens, JWTs and the word after a credential scheme with [`MASK`].
fn mask_credential_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut index = 0;
    let bytes_len = text.len();
    while index < bytes_len {
        let rest = &text[index..];
        if let Some(scheme) = CREDENTIAL_SCHEMES
            .iter()
            .find(|scheme| rest.starts_with(**scheme) && at_word_start(text, index))
        {
            let after = &rest[scheme.len()..];
            let word_len = after
                .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ',')
                .unwrap_or(after.len());
            out.push_str(scheme);
            if word_len >= 8 {
                out.push_str(MASK);
            } else {
                out.push_str(&after[..word_len]);
            }
            index += scheme.len() + word_len;
            continue;
        }
        let Some(c) = rest.chars().next() else {
            break;
        };
        if word_char(c) {
            let len = rest.find(|c: char| !word_char(c)).unwrap_or(rest.len());
            let word = &rest[..len];
            let trimmed = word.trim_end_matches('.');
            if is_github_token(trimmed) || is_jwt(trimmed) {
                out.push_str(MASK);
                out.push_str(&word[trimmed.len()..]);
            } else {
                out.push_str(word);
            }
            index += len;
        } else {
            out.push(c);
            index += c.len_utf8();
        }
    }
    out
}

/// Whether `index` starts a word (the text's start, or after a character that is not part of one).
fn at_word_start(text: &str, index: usize) -> bool {
    text[..index]
        .chars()
        .next_back()
        .is_none_or(|c| !c.is_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sensitive_keys_by_word() {
        for key in [
            "token",
            "access_token",
            "accessToken",
            "client-secret",
            "password",
            "private_key",
            "apiKey",
            "Authorization",
            "credentials",
            "webhook.secret",
        ] {
            assert!(is_sensitive_key(key), "{key}");
        }
        for key in [
            "keys_url",
            "monkey",
            "tokenizer",
            "name",
            "description",
            "secret_scanning_url",
            "author",
        ] {
            assert!(!is_sensitive_key(key), "{key}");
        }
    }

    #[test]
    fn secret_looking_values() {
        let pat = format!("ghp_{}", "a1".repeat(18));
        let fine = format!("github_pat_{}", "B2_".repeat(20));
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIxMjM0NSJ9.c2lnbmF0dXJlLWJ5dGVz";
        for value in [
            pat.as_str(),
            fine.as_str(),
            jwt,
            "-----BEGIN RSA PRIVATE KEY-----\nMII\n-----END RSA PRIVATE KEY-----",
            "Bearer abcdefghijkl",
            "https://x-access-token:ghs_0123456789abcdefghijABCD@github.com/o/r.git",
        ] {
            assert!(looks_like_secret(value), "{value}");
        }
        for value in [
            "hello world",
            "ghp_short",
            "octocat/hello-world",
            "1.2.3",
            "https://api.github.com/repos/o/r",
        ] {
            assert!(!looks_like_secret(value), "{value}");
        }
    }

    #[test]
    fn masks_recursively_and_keeps_the_shape() {
        let raw = json!({
            "name": "repo",
            "private": false,
            "keys_url": "https://api.github.com/repos/o/r/keys{/key_id}",
            "config": {"url": "https://example.com/hook", "secret": "s3cr3t", "insecure_ssl": "0"},
            "deploy": [{"token": "abc", "id": 7}, {"note": "Bearer abcdefghijkl"}],
            "credentials": ["one", "two"],
            "api_key": 12345,
            "secret_scanning": {"status": "enabled"},
            "token": null
        });
        let masked = mask_secrets(&raw);
        assert_eq!(
            masked,
            json!({
                "name": "repo",
                "private": false,
                "keys_url": "https://api.github.com/repos/o/r/keys{/key_id}",
                "config": {"url": "https://example.com/hook", "secret": MASK, "insecure_ssl": "0"},
                "deploy": [{"token": MASK, "id": 7}, {"note": MASK}],
                "credentials": [MASK, MASK],
                "api_key": MASK,
                "secret_scanning": {"status": "enabled"},
                "token": null
            })
        );
    }

    #[test]
    fn masks_secrets_inside_free_text_and_keeps_the_rest() {
        let pat = format!("ghp_{}", "a1".repeat(18));
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIxMjM0NSJ9.c2lnbmF0dXJlLWJ5dGVz";
        let text = format!(
            "call failed with {pat}. header Authorization: Bearer abcdefghijkl, jwt={jwt}; \
             key -----BEGIN RSA PRIVATE KEY-----\nMIIabc\n-----END RSA PRIVATE KEY----- done xyz; \
             client secret hunter2-value in https://x-access-token:ghs_0123456789abcdefghijABCD@github.com/o/r"
        );
        let masked = mask_text(&text, &["hunter2-value", "xyz"]);
        for leaked in [
            pat.as_str(),
            jwt,
            "abcdefghijkl",
            "MIIabc",
            "hunter2-value",
            "ghs_0123",
        ] {
            assert!(!masked.contains(leaked), "{leaked} in {masked}");
        }
        for kept in [
            "call failed with",
            "Bearer ",
            "client secret",
            "github.com/o/r",
            "done xyz",
        ] {
            assert!(masked.contains(kept), "{kept} lost from {masked}");
        }
        assert!(masked.contains(&format!("{MASK}. header")), "{masked}");
        assert_eq!(mask_text("nothing secret here", &[]), "nothing secret here");
        assert_eq!(
            mask_text("cut -----BEGIN PRIVATE KEY-----\nMII", &[]),
            format!("cut {MASK}")
        );
    }
}
