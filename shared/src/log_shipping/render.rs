//! Captured lines as Port receives them: masked (registered secrets, token-looking strings,
//! fields named for secrets), cut to size, in Port's level names, and packed into `{"logs": [...]}`
//! request bodies that stay under the size limit; plus the notice of lines dropped.

use serde_json::{Map, Value};
use tracing::Level;

use super::shipper::Captured;
use crate::port::mask::{MASK, is_sensitive_key, mask_text};

/// Longest message shipped (after masking).
const SHIP_MESSAGE_MAX_CHARS: usize = 4 * 1024;
/// Longest field value shipped (after masking).
const SHIP_FIELD_MAX_CHARS: usize = 1024;
/// Most fields shipped per line.
const SHIP_MAX_FIELDS: usize = 32;

/// One request body and how many captured lines it carries.
pub(super) struct Body {
    pub(super) bytes: Vec<u8>,
    pub(super) lines: u64,
}

/// `{"logs": [...]}` bodies of at most `max_bytes` (a single longer line still goes alone).
/// Each rendered line comes with how many captured lines it counts for (the drop notice: none).
pub(super) fn bodies(rendered: Vec<(usize, String)>, max_bytes: usize) -> Vec<Body> {
    const OPEN: &[u8] = b"{\"logs\":[";
    const CLOSE: &[u8] = b"]}";
    let mut out = Vec::new();
    let mut current: Vec<u8> = OPEN.to_vec();
    let mut count = 0u64;
    let mut empty = true;
    for (counts, line) in rendered {
        let extra = line.len() + usize::from(!empty);
        if !empty && current.len() + extra + CLOSE.len() > max_bytes {
            current.extend_from_slice(CLOSE);
            out.push(Body {
                bytes: std::mem::replace(&mut current, OPEN.to_vec()),
                lines: std::mem::take(&mut count),
            });
            empty = true;
        }
        if !empty {
            current.push(b',');
        }
        current.extend_from_slice(line.as_bytes());
        count += counts as u64;
        empty = false;
    }
    if !empty {
        current.extend_from_slice(CLOSE);
        out.push(Body {
            bytes: current,
            lines: count,
        });
    }
    out
}

/// Port's (Python's) level names.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        _ => "DEBUG",
    }
}

pub(super) fn drop_notice(dropped: u64, source: &str) -> Value {
    serde_json::json!({
        "level": "WARNING",
        "message": format!("{dropped} log lines were dropped: the buffer was full"),
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "extra": {"dropped": dropped, "source": source},
    })
}

/// A captured line as it is shipped: masked and cut to size.
pub(super) fn render(line: Captured, known: &[&str], source: &str) -> Value {
    let message = truncate(mask_text(&line.message, known), SHIP_MESSAGE_MAX_CHARS);
    let mut extra = Map::new();
    for (key, value) in line.extra.into_iter().take(SHIP_MAX_FIELDS) {
        let value = match value {
            // A field named for a secret (`token`, `client_secret`…) is masked whole.
            Value::String(text) if is_sensitive_key(&key) && !text.is_empty() => {
                Value::String(MASK.to_owned())
            }
            Value::Number(_) if is_sensitive_key(&key) => Value::String(MASK.to_owned()),
            // Elsewhere only the secrets inside the text are.
            Value::String(text) => {
                Value::String(truncate(mask_text(&text, known), SHIP_FIELD_MAX_CHARS))
            }
            other => other,
        };
        extra.insert(key, value);
    }
    extra.insert("source".to_owned(), Value::String(source.to_owned()));
    serde_json::json!({
        "level": level_name(line.level),
        "message": message,
        "timestamp": line.timestamp,
        "extra": extra,
    })
}

pub(super) fn truncate(mut text: String, max_chars: usize) -> String {
    if let Some((cut, _)) = text.char_indices().nth(max_chars) {
        text.truncate(cut);
        text.push('…');
    }
    text
}
