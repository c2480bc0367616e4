//! Programs simple enough to compute without the interpreter: a plain path (`.a.b`), a sum of
//! paths and string literals (`.a + "-" + .b`, with `(.x | tostring)` and `(.x // "y")`
//! operands) and a `//` chain, each falling back to the interpreter whenever jq's answer could
//! differ (an error, a type other than string or null).

use jaq_json::Val;

/// One operand of a [`JqProgram::concat`](super::JqProgram) program.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ConcatPart {
    Path(Vec<String>),
    Text(String),
    /// `(.path | tostring)`, computed for strings and exact integers only.
    ToString(Vec<String>),
    /// `(.a // .b // "x")`: the first operand that is neither null nor false.
    Alternative(Vec<ConcatPart>),
}

/// `.a // .b // "x"` → its operands (plain paths or string literals), at least two.
pub(super) fn alternative_form(code: &str) -> Option<Vec<ConcatPart>> {
    if code.contains('\\') || code.contains('|') || code.contains('+') {
        return None;
    }
    let pieces: Vec<&str> = code.split("//").collect();
    if pieces.len() < 2 {
        return None;
    }
    pieces
        .iter()
        .map(|piece| simple_operand(piece.trim()))
        .collect()
}

/// A plain path or a string literal without escapes or quotes inside.
fn simple_operand(piece: &str) -> Option<ConcatPart> {
    match piece
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    {
        Some(text) if !text.contains('"') => Some(ConcatPart::Text(text.to_owned())),
        Some(_) => None,
        None => plain_path(piece).map(ConcatPart::Path),
    }
}

/// The value of a `//` chain, or `None` to let the interpreter decide (a step that errors: jq's
/// `//` would swallow the error, which only the interpreter reproduces exactly).
pub(super) fn alternative<'v>(parts: &'v [ConcatPart], input: &'v Val) -> Option<Val> {
    let (last, rest) = parts.split_last()?;
    for part in rest {
        let value = match part {
            ConcatPart::Path(keys) => lookup(input, keys)?.clone(),
            ConcatPart::Text(text) => Val::utf8_str(text.as_bytes().to_vec()),
            _ => return None,
        };
        if !matches!(value, Val::Null | Val::Bool(false)) {
            return Some(value);
        }
    }
    match last {
        ConcatPart::Path(keys) => lookup(input, keys).cloned(),
        ConcatPart::Text(text) => Some(Val::utf8_str(text.as_bytes().to_vec())),
        _ => None,
    }
}

/// `(.a.b | tostring)` → the path.
fn tostring_of_path(piece: &str) -> Option<Vec<String>> {
    let inner = piece.strip_prefix('(')?.strip_suffix(')')?;
    let (path, call) = inner.split_once('|')?;
    (call.trim() == "tostring")
        .then(|| plain_path(path))
        .flatten()
}

/// `.a + "-" + .b` → its operands; `None` unless every operand is a plain path or a string
/// literal without escapes, and there are at least two.
pub(super) fn concat_form(code: &str) -> Option<Vec<ConcatPart>> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut in_string = false;
    for c in code.chars() {
        match c {
            '\\' => return None,
            '"' => {
                in_string = !in_string;
                current.push(c);
            }
            '+' if !in_string => pieces.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    if in_string {
        return None;
    }
    pieces.push(current);
    if pieces.len() < 2 {
        return None;
    }
    pieces
        .iter()
        .map(|piece| {
            let piece = piece.trim();
            match piece
                .strip_prefix('"')
                .and_then(|rest| rest.strip_suffix('"'))
            {
                Some(text) if !text.contains('"') => Some(ConcatPart::Text(text.to_owned())),
                Some(_) => None,
                None => plain_path(piece)
                    .map(ConcatPart::Path)
                    .or_else(|| tostring_of_path(piece).map(ConcatPart::ToString))
                    .or_else(|| {
                        let inner = piece.strip_prefix('(')?.strip_suffix(')')?;
                        alternative_form(inner).map(ConcatPart::Alternative)
                    }),
            }
        })
        .collect()
}

/// The value at `keys` as jq's `.a.b` gives it, or `None` when a step indexes something that is
/// neither an object nor null (the interpreter then reports jq's error).
pub(super) fn lookup<'v>(input: &'v Val, keys: &[String]) -> Option<&'v Val> {
    let mut current = input;
    for key in keys {
        current = match current {
            Val::Obj(fields) => fields
                .get(&Val::utf8_str(key.as_bytes().to_vec()))
                .unwrap_or(&Val::Null),
            Val::Null => &Val::Null,
            _ => return None,
        };
    }
    Some(current)
}

/// jq's `a + b + …` over strings and nulls (null is the identity of `+`); `None` for any other
/// operand type, which the interpreter then handles.
pub(super) fn concat(parts: &[ConcatPart], input: &Val) -> Option<Val> {
    let mut out: Option<Vec<u8>> = None;
    for part in parts {
        let number_text;
        let alternative_value;
        let bytes: Option<&[u8]> = match part {
            ConcatPart::ToString(keys) => match lookup(input, keys)? {
                Val::TStr(bytes) => Some(bytes),
                // jq prints integers below 2^53 as plain digits; anything else (floats, huge
                // integers, null, containers) goes to the interpreter's own `tostring`.
                Val::Num(jaq_json::Num::Int(i)) if i.unsigned_abs() <= (1 << 53) => {
                    number_text = i.to_string();
                    Some(number_text.as_bytes())
                }
                _ => return None,
            },
            ConcatPart::Alternative(options) => {
                alternative_value = alternative(options, input)?;
                match &alternative_value {
                    Val::TStr(bytes) => Some(bytes),
                    Val::Null => None,
                    _ => return None,
                }
            }
            ConcatPart::Text(text) => Some(text.as_bytes()),
            ConcatPart::Path(keys) => match lookup(input, keys)? {
                Val::TStr(bytes) => Some(bytes),
                Val::Null => None,
                _ => return None,
            },
        };
        if let Some(bytes) = bytes {
            out.get_or_insert_with(Vec::new).extend_from_slice(bytes);
        }
    }
    Some(out.map_or(Val::Null, Val::utf8_str))
}

/// `.a.b_c` → `["a", "b_c"]`; `.` → `[]`; anything else (brackets, `?`, quoting, pipes) → `None`.
pub(super) fn plain_path(code: &str) -> Option<Vec<String>> {
    let code = code.trim();
    if code == "." {
        return Some(Vec::new());
    }
    let rest = code.strip_prefix('.')?;
    rest.split('.')
        .map(|key| {
            let mut chars = key.chars();
            let first_ok = chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
            (first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_'))
                .then(|| key.to_owned())
        })
        .collect()
}
