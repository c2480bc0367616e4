//! Text and number natives as jq 1.7 has them: `ltrimstr`/`rtrimstr`, `tostring`, `tonumber`,
//! lenient `@base64d`, `join` and `implode`.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use jaq_core::Cv;
use jaq_json::{Num, Val};

use super::support::{Out, fail, not_a_string, number_val, ok, string_val, text, type_name};
use crate::mapping::jq::MappingData;
use crate::mapping::value::{format_number, num_to_f64, to_json_text};

pub(super) fn trim_native(cv: Cv<'_, MappingData>, prefix: bool) -> Out<'_> {
    let mut cv = cv;
    let affix = cv.0.pop_var().0;
    let result = match (text(&cv.1.0), text(&affix)) {
        (Some(input), Some(affix)) => {
            let trimmed = if prefix {
                input.strip_prefix(&affix)
            } else {
                input.strip_suffix(&affix)
            };
            trimmed.map_or(cv.1.0, string_val)
        }
        _ => cv.1.0,
    };
    ok(result)
}

pub(super) fn tostring_native(cv: Cv<'_, MappingData>) -> Out<'_> {
    match &cv.1.0 {
        Val::TStr(_) => ok(cv.1.0),
        Val::Num(n) => ok(string_val(&format_number(n))),
        other => ok(string_val(&to_json_text(other))),
    }
}

pub(super) fn tonumber_native(cv: Cv<'_, MappingData>) -> Out<'_> {
    match &cv.1.0 {
        Val::Num(_) => ok(cv.1.0),
        Val::TStr(bytes) => {
            let source = String::from_utf8_lossy(bytes);
            let trimmed = source.trim();
            let looks_numeric = !trimmed.is_empty()
                && trimmed
                    .bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
            match trimmed.parse::<f64>() {
                Ok(parsed) if looks_numeric => ok(number_val(parsed)),
                _ if trimmed.eq_ignore_ascii_case("nan") => ok(Val::Num(Num::Float(f64::NAN))),
                _ => fail(format!("Cannot parse '{source}' as JSON")),
            }
        }
        other => fail(format!(
            "{} ({}) cannot be parsed as a number",
            type_name(other),
            to_json_text(other)
        )),
    }
}

pub(super) fn decode_base64_native(cv: Cv<'_, MappingData>) -> Out<'_> {
    let Some(input) = text(&cv.1.0) else {
        return fail(not_a_string(&cv.1.0, "cannot be base64-decoded"));
    };
    let engine = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    match engine.decode(input.trim_end_matches('=')) {
        Ok(bytes) => ok(string_val(&String::from_utf8_lossy(&bytes))),
        Err(_) => fail(format!(
            "string ({}) is not valid base64 data",
            to_json_text(&cv.1.0)
        )),
    }
}

pub(super) fn join_native(mut cv: Cv<'_, MappingData>) -> Out<'_> {
    let separator = cv.0.pop_var().0;
    let items: Vec<Val> = match &cv.1.0 {
        Val::Arr(items) => items.iter().cloned().collect(),
        Val::Obj(fields) => fields.values().cloned().collect(),
        other => return fail(format!("Cannot iterate over {}", type_name(other))),
    };
    let separator_text = match (&separator, items.is_empty()) {
        (_, true) => String::new(),
        (Val::TStr(_), false) => text(&separator).unwrap_or_default(),
        (other, false) => return fail(format!("string and {} cannot be added", type_name(other))),
    };
    let mut joined = String::new();
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            joined.push_str(&separator_text);
        }
        match item {
            Val::Null => {}
            Val::TStr(bytes) => joined.push_str(&String::from_utf8_lossy(bytes)),
            Val::Num(_) | Val::Bool(_) => joined.push_str(&to_json_text(item)),
            other => return fail(format!("Cannot join with {}", type_name(other))),
        }
    }
    ok(string_val(&joined))
}

/// jq 1.7's `implode`: invalid code points become U+FFFD.
pub(super) fn implode_native(cv: Cv<'_, MappingData>) -> Out<'_> {
    let Val::Arr(points) = &cv.1.0 else {
        return fail("implode input must be an array");
    };
    let mut out = String::with_capacity(points.len());
    for point in points.iter() {
        let Val::Num(n) = point else {
            return fail("Unicode codepoint must be numeric");
        };
        let code = num_to_f64(n);
        let c = (code >= 0.0 && code <= f64::from(u32::MAX))
            .then(|| char::from_u32(code as u32))
            .flatten()
            .unwrap_or(char::REPLACEMENT_CHARACTER);
        out.push(c);
    }
    ok(string_val(&out))
}
