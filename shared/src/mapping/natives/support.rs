//! What every native shares: the output type and its two shapes ([`ok`], [`fail`]), reading
//! and making strings, jq's type names and "not a string" messages, regex flags, and jq's
//! numbers (integral doubles as integers).

use jaq_core::box_iter::box_once;
use jaq_core::native::{Fun, bome};
use jaq_core::{Error, ValXs};
use jaq_json::{Num, Val};

use crate::mapping::jq::MappingData;
use crate::mapping::jqval::JqVal;
use crate::mapping::value::to_json_text;

pub(super) type MappingFun = Fun<MappingData>;
pub(super) type Out<'a> = ValXs<'a, JqVal>;

pub(super) fn fail<'a>(message: impl ToString) -> Out<'a> {
    bome(Err(Error::str(message)))
}

pub(super) fn ok<'a>(value: Val) -> Out<'a> {
    box_once(Ok(JqVal(value)))
}

pub(in crate::mapping) fn text(value: &Val) -> Option<String> {
    match value {
        Val::TStr(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        _ => None,
    }
}

pub(super) fn string_val(s: &str) -> Val {
    Val::utf8_str(s.as_bytes().to_vec())
}

pub(in crate::mapping) fn type_name(value: &Val) -> &'static str {
    match value {
        Val::Null => "null",
        Val::Bool(_) => "boolean",
        Val::Num(_) => "number",
        Val::TStr(_) | Val::BStr(_) => "string",
        Val::Arr(_) => "array",
        Val::Obj(_) => "object",
    }
}

pub(super) fn not_a_string(value: &Val, what: &str) -> String {
    format!("{} ({}) {what}", type_name(value), to_json_text(value))
}

pub(super) fn optional_flags(flags: &Val) -> Result<Option<String>, String> {
    match flags {
        Val::Null => Ok(None),
        Val::TStr(_) => Ok(text(flags)),
        other => Err(format!("{} is not a string", to_json_text(other))),
    }
}

/// A double as a jaq number, integral values as integers (jq prints both the same way).
pub fn number_val(f: f64) -> Val {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Val::Num(Num::Int(f as isize))
    } else {
        Val::Num(Num::Float(f))
    }
}

pub(super) fn date_result<'a>(result: Result<Val, String>) -> Out<'a> {
    match result {
        Ok(value) => ok(value),
        Err(message) => fail(message),
    }
}
