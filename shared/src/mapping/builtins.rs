//! jq's JSON builtins on `JqVal` (`length`, `contains`, `has`, `indices`, `bsearch`, `fromjson`),
//! replacing jaq-json's natives, which only run on jaq-json's own value type.

use jaq_core::box_iter::box_once;
use jaq_core::native::{Fun, run, v};
use jaq_core::{Cv, Error, ValXs};
use jaq_json::{Num, Rc, Val};

use super::jq::MappingData;
use super::jqval::JqVal;
use super::natives::{text, type_name};
use super::value::{json_to_val, num_to_f64, to_json_text};

type Out<'a> = ValXs<'a, JqVal>;

fn answer<'a>(result: Result<Val, String>) -> Out<'a> {
    box_once(
        result
            .map(JqVal)
            .map_err(|message| Error::str(message).into()),
    )
}

fn describe(value: &Val) -> String {
    format!("{} ({})", type_name(value), to_json_text(value))
}

fn length(value: &Val) -> Result<Val, String> {
    match value {
        Val::Null => Ok(Val::from(0usize)),
        Val::Bool(_) => Err(format!("{} has no length", describe(value))),
        Val::Num(Num::Int(i)) => Ok(Val::from(i.unsigned_abs())),
        Val::Num(n) => Ok(Val::from(num_to_f64(n).abs())),
        Val::TStr(bytes) | Val::BStr(bytes) => {
            Ok(Val::from(String::from_utf8_lossy(bytes).chars().count()))
        }
        Val::Arr(items) => Ok(Val::from(items.len())),
        Val::Obj(fields) => Ok(Val::from(fields.len())),
    }
}

/// jq's containment: substrings, every element of `b` inside some element of `a`, every field
/// of `b` contained in the same field of `a`, equality otherwise.
fn contains(a: &Val, b: &Val) -> Result<bool, String> {
    match (a, b) {
        (Val::Obj(a_fields), Val::Obj(b_fields)) => {
            for (key, b_value) in b_fields.iter() {
                match a_fields.get(key) {
                    Some(a_value) if contains(a_value, b_value)? => {}
                    _ => return Ok(false),
                }
            }
            Ok(true)
        }
        (Val::Arr(a_items), Val::Arr(b_items)) => {
            for b_item in b_items.iter() {
                let mut found = false;
                for a_item in a_items.iter() {
                    if contains(a_item, b_item)? {
                        found = true;
                        break;
                    }
                }
                if !found {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        (Val::TStr(a_text), Val::TStr(b_text)) => Ok(b_text.is_empty()
            || a_text
                .windows(b_text.len())
                .any(|window| window == &b_text[..])),
        _ if type_name(a) == type_name(b) => Ok(a == b),
        _ => Err(format!(
            "{} and {} cannot have their containment checked",
            describe(a),
            describe(b)
        )),
    }
}

fn has(container: &Val, key: &Val) -> Result<Val, String> {
    match (container, key) {
        (Val::Obj(fields), Val::TStr(_)) => Ok(Val::Bool(fields.contains_key(key))),
        (Val::Arr(items), Val::Num(n)) => {
            let index = num_to_f64(n);
            Ok(Val::Bool(index >= 0.0 && index < items.len() as f64))
        }
        _ => Err(format!(
            "Cannot check whether {} has a {} key",
            type_name(container),
            type_name(key)
        )),
    }
}

/// jq 1.7's `indices`: byte offsets in strings (as jq 1.7 reports them), element or
/// sub-array positions in arrays.
fn indices(input: &Val, target: &Val) -> Result<Val, String> {
    let positions: Vec<Val> = match (input, target) {
        (Val::Null, _) | (_, Val::Null) => return Ok(Val::Null),
        (Val::TStr(haystack), Val::TStr(needle)) => {
            if needle.is_empty() {
                return Ok(Val::Null);
            }
            haystack
                .windows(needle.len())
                .enumerate()
                .filter(|(_, window)| *window == &needle[..])
                .map(|(offset, _)| Val::from(offset))
                .collect()
        }
        (Val::Arr(items), Val::Arr(sub)) => {
            if sub.is_empty() {
                return Ok(Val::Null);
            }
            items
                .windows(sub.len())
                .enumerate()
                .filter(|(_, window)| *window == &sub[..])
                .map(|(offset, _)| Val::from(offset))
                .collect()
        }
        (Val::Arr(items), item) => items
            .iter()
            .enumerate()
            .filter(|(_, candidate)| *candidate == item)
            .map(|(offset, _)| Val::from(offset))
            .collect(),
        _ => {
            return Err(format!(
                "Cannot index {} with {}",
                type_name(input),
                type_name(target)
            ));
        }
    };
    Ok(Val::Arr(Rc::new(positions)))
}

fn bsearch(input: &Val, target: &Val) -> Result<Val, String> {
    match input {
        Val::Arr(items) => Ok(match items.binary_search(target) {
            Ok(found) => Val::from(found),
            Err(insertion) => Val::from(-1 - insertion as isize),
        }),
        other => Err(format!("{} cannot be searched from", describe(other))),
    }
}

fn fromjson(input: &Val) -> Result<Val, String> {
    let source =
        text(input).ok_or_else(|| format!("{} cannot be parsed as JSON", describe(input)))?;
    match serde_json::from_str::<serde_json::Value>(&source) {
        Ok(value) => Ok(json_to_val(&value)),
        Err(error) => Err(format!("{error} (while parsing '{source}')")),
    }
}

fn unary<'a>(mut cv: Cv<'a, MappingData>, f: fn(&Val, &Val) -> Result<Val, String>) -> Out<'a> {
    let argument = cv.0.pop_var();
    answer(f(&cv.1.0, &argument.0))
}

/// The builtins of this module, as native filters.
pub fn builtins() -> Vec<Fun<MappingData>> {
    let table: Vec<jaq_core::native::Filter<jaq_core::RunPtr<MappingData>>> = vec![
        ("length", v(0), |cv| answer(length(&cv.1.0))),
        ("fromjson", v(0), |cv| answer(fromjson(&cv.1.0))),
        ("contains", v(1), |cv| {
            unary(cv, |a, b| contains(a, b).map(Val::Bool))
        }),
        ("has", v(1), |cv| unary(cv, has)),
        ("indices", v(1), |cv| unary(cv, indices)),
        ("bsearch", v(1), |cv| unary(cv, bsearch)),
    ];
    table.into_iter().map(run::<MappingData>).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn val(value: serde_json::Value) -> Val {
        json_to_val(&value)
    }

    #[test]
    fn containment_follows_jq() {
        assert_eq!(
            contains(&val(json!("foobar")), &val(json!("bar"))),
            Ok(true)
        );
        assert_eq!(
            contains(&val(json!(["foobar", "baz"])), &val(json!(["baz", "bar"]))),
            Ok(true)
        );
        assert_eq!(
            contains(&val(json!({"a": [1, 2], "b": 1})), &val(json!({"a": [2]}))),
            Ok(true)
        );
        assert_eq!(
            contains(&val(json!({"a": 1})), &val(json!({"b": 1}))),
            Ok(false)
        );
        assert!(contains(&val(json!("a")), &val(json!(1))).is_err());
    }

    #[test]
    fn indices_and_has() {
        assert_eq!(
            indices(&val(json!("a, b, c")), &val(json!(", "))),
            Ok(val(json!([1, 4])))
        );
        assert_eq!(
            indices(&val(json!([1, 2, 1, 2])), &val(json!([1, 2]))),
            Ok(val(json!([0, 2])))
        );
        assert_eq!(has(&val(json!([1])), &val(json!(0))), Ok(Val::Bool(true)));
        assert!(has(&val(json!({})), &val(json!(0))).is_err());
        assert_eq!(
            bsearch(&val(json!([1, 3])), &val(json!(2))),
            Ok(val(json!(-2)))
        );
    }
}
