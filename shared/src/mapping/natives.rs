//! Native jq filters that make jaq behave like jq 1.7 for mappings (regexes with look-around,
//! dates, number text, lenient string functions, `setpath`/`delpaths`) and that keep a mapping
//! away from the process (`env`, `halt`, `input`, `debug`, `stderr`). Owns the native table;
//! the jq-language definitions on top of it live in `compat.jq`.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use jaq_core::box_iter::box_once;
use jaq_core::native::{Fun, bome, run, v};
use jaq_core::{Bind, Cv, Error, Exn, ValT as _, ValXs};
use jaq_json::{Map, Num, Rc, Val};

use super::dates;
use super::jq::{MappingData, build_env_val};
use super::jqval::JqVal;
use super::paths::{delete_path, set_path};
use super::regex::{self as jq_regex, SubstitutionPart};
use super::value::{format_number, num_to_f64, to_json_text};

/// Names (with arity) of jaq's native filters that this module replaces or withholds.
pub const REPLACED_NATIVES: &[(&str, usize)] = &[
    ("env", 0),
    ("halt", 1),
    ("debug_empty", 0),
    ("stderr_empty", 0),
    ("matches", 2),
    ("split_matches", 2),
    ("split_", 2),
    ("fromdateiso8601", 0),
    ("todateiso8601", 0),
    ("strftime", 1),
    ("strflocaltime", 1),
    ("gmtime", 0),
    ("localtime", 0),
    ("strptime", 1),
    ("mktime", 0),
    ("ltrimstr", 1),
    ("rtrimstr", 1),
    ("decode_base64", 0),
    ("tojson", 0),
];

type MappingFun = Fun<MappingData>;
type Out<'a> = ValXs<'a, JqVal>;

fn fail<'a>(message: impl ToString) -> Out<'a> {
    bome(Err(Error::str(message)))
}

fn ok<'a>(value: Val) -> Out<'a> {
    box_once(Ok(JqVal(value)))
}

pub(super) fn text(value: &Val) -> Option<String> {
    match value {
        Val::TStr(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        _ => None,
    }
}

fn string_val(s: &str) -> Val {
    Val::utf8_str(s.as_bytes().to_vec())
}

pub(super) fn type_name(value: &Val) -> &'static str {
    match value {
        Val::Null => "null",
        Val::Bool(_) => "boolean",
        Val::Num(_) => "number",
        Val::TStr(_) | Val::BStr(_) => "string",
        Val::Arr(_) => "array",
        Val::Obj(_) => "object",
    }
}

fn not_a_string(value: &Val, what: &str) -> String {
    format!("{} ({}) {what}", type_name(value), to_json_text(value))
}

fn optional_flags(flags: &Val) -> Result<Option<String>, String> {
    match flags {
        Val::Null => Ok(None),
        Val::TStr(_) => Ok(text(flags)),
        other => Err(format!("{} is not a string", to_json_text(other))),
    }
}

fn numbers(value: &Val) -> Result<Vec<f64>, String> {
    match value {
        Val::Arr(items) => items
            .iter()
            .map(|item| match item {
                Val::Num(n) => Ok(num_to_f64(n)),
                _ => Err("mktime requires parsed datetime inputs".to_owned()),
            })
            .collect(),
        _ => Err("mktime requires array of 6 numbers".to_owned()),
    }
}

fn broken_down_val(broken: &dates::BrokenDownTime) -> Val {
    Val::Arr(Rc::new(
        broken.fields.iter().map(|f| number_val(*f)).collect(),
    ))
}

/// A double as a jaq number, integral values as integers (jq prints both the same way).
pub fn number_val(f: f64) -> Val {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Val::Num(Num::Int(f as isize))
    } else {
        Val::Num(Num::Float(f))
    }
}

fn seconds_or_broken_down(value: &Val, filter: &str) -> Result<Vec<f64>, String> {
    match value {
        Val::Num(n) => Ok(dates::gmtime(num_to_f64(n))?.fields.to_vec()),
        Val::Arr(_) => {
            numbers(value).map_err(|_| format!("{filter} requires parsed datetime inputs"))
        }
        _ => Err(format!("{filter} requires parsed datetime inputs")),
    }
}

fn regex_input<'a>(cv: &Cv<'a, MappingData>) -> Result<String, String> {
    text(&cv.1.0).ok_or_else(|| not_a_string(&cv.1.0, "cannot be matched, as it is not a string"))
}

fn match_native(mut cv: Cv<'_, MappingData>) -> Out<'_> {
    let test = cv.0.pop_var().0;
    let flags = cv.0.pop_var().0;
    let pattern = cv.0.pop_var().0;
    let result = (|| {
        let input = regex_input(&cv)?;
        let pattern = text(&pattern)
            .ok_or_else(|| not_a_string(&pattern, "cannot be matched, as it is not a string"))?;
        let flags = optional_flags(&flags)?;
        jq_regex::match_impl(&input, &pattern, flags.as_deref(), test.as_bool())
    })();
    match result {
        Ok(value) => ok(value),
        Err(message) => fail(message),
    }
}

fn split_native(mut cv: Cv<'_, MappingData>) -> Out<'_> {
    let flags = cv.0.pop_var().0;
    let pattern = cv.0.pop_var().0;
    let result = (|| {
        let input = regex_input(&cv)?;
        let pattern = text(&pattern)
            .ok_or_else(|| not_a_string(&pattern, "cannot be matched, as it is not a string"))?;
        jq_regex::split(&input, &pattern, optional_flags(&flags)?.as_deref())
    })();
    match result {
        Ok(value) => ok(value),
        Err(message) => fail(message),
    }
}

/// `sub($re; str; $flags)`: every combination of the replacement's outputs, like jq 1.7.
fn sub_native(mut cv: Cv<'_, MappingData>) -> Out<'_> {
    let flags = cv.0.pop_var().0;
    let (replacement, replacement_ctx) = cv.0.pop_fun();
    let pattern = cv.0.pop_var().0;
    let parts = (|| {
        let input = regex_input(&cv)?;
        let pattern = text(&pattern)
            .ok_or_else(|| not_a_string(&pattern, "cannot be matched, as it is not a string"))?;
        jq_regex::substitution_parts(&input, &pattern, optional_flags(&flags)?.as_deref())
    })();
    let parts = match parts {
        Ok(parts) => parts,
        Err(message) => return fail(message),
    };
    let mut results: Vec<String> = vec![String::new()];
    for part in parts {
        match part {
            SubstitutionPart::Kept(kept) => results.iter_mut().for_each(|r| r.push_str(&kept)),
            SubstitutionPart::Replaced(captures) => {
                let mut outputs = Vec::new();
                for output in replacement.run((replacement_ctx.clone(), JqVal(captures))) {
                    match output {
                        Ok(JqVal(Val::TStr(bytes))) => {
                            outputs.push(String::from_utf8_lossy(&bytes).into_owned())
                        }
                        Ok(JqVal(other)) => {
                            return fail(format!(
                                "string and {} ({}) cannot be added",
                                type_name(&other),
                                to_json_text(&other)
                            ));
                        }
                        Err(exn) => return box_once(Err(exn)),
                    }
                }
                results = results
                    .iter()
                    .flat_map(|prefix| outputs.iter().map(move |o| format!("{prefix}{o}")))
                    .collect();
            }
        }
    }
    Box::new(results.into_iter().map(|r| Ok(JqVal(string_val(&r)))))
}

fn trim_native(cv: Cv<'_, MappingData>, prefix: bool) -> Out<'_> {
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

fn tostring_native(cv: Cv<'_, MappingData>) -> Out<'_> {
    match &cv.1.0 {
        Val::TStr(_) => ok(cv.1.0),
        Val::Num(n) => ok(string_val(&format_number(n))),
        other => ok(string_val(&to_json_text(other))),
    }
}

fn tonumber_native(cv: Cv<'_, MappingData>) -> Out<'_> {
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

fn decode_base64_native(cv: Cv<'_, MappingData>) -> Out<'_> {
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

fn date_result<'a>(result: Result<Val, String>) -> Out<'a> {
    match result {
        Ok(value) => ok(value),
        Err(message) => fail(message),
    }
}

fn strftime_native(mut cv: Cv<'_, MappingData>) -> Out<'_> {
    let format = cv.0.pop_var().0;
    date_result((|| {
        let format = text(&format).ok_or("strftime/1 requires a string format")?;
        let fields = seconds_or_broken_down(&cv.1.0, "strftime/1")?;
        dates::strftime(&fields, &format).map(|s| string_val(&s))
    })())
}

fn strptime_native(mut cv: Cv<'_, MappingData>) -> Out<'_> {
    let format = cv.0.pop_var().0;
    date_result((|| {
        let input = text(&cv.1.0).ok_or_else(|| {
            not_a_string(&cv.1.0, "strptime/1 requires string inputs and arguments")
        })?;
        let format = text(&format).ok_or("strptime/1 requires string inputs and arguments")?;
        dates::strptime(&input, &format).map(|b| broken_down_val(&b))
    })())
}

fn gmtime_native(cv: Cv<'_, MappingData>) -> Out<'_> {
    date_result(match &cv.1.0 {
        Val::Num(n) => dates::gmtime(num_to_f64(n)).map(|b| broken_down_val(&b)),
        _ => Err("gmtime() requires a number".to_owned()),
    })
}

fn mktime_native(cv: Cv<'_, MappingData>) -> Out<'_> {
    date_result(
        numbers(&cv.1.0)
            .and_then(|fields| dates::mktime(&fields))
            .map(|s| number_val(s as f64)),
    )
}

fn todate_native(cv: Cv<'_, MappingData>) -> Out<'_> {
    if let Val::Num(n) = &cv.1.0 {
        return date_result(dates::todate(num_to_f64(n)).map(|s| string_val(&s)));
    }
    date_result((|| {
        let fields = seconds_or_broken_down(&cv.1.0, "strftime/1")?;
        dates::strftime(&fields, dates::ISO8601_FORMAT).map(|s| string_val(&s))
    })())
}

fn fromdate_native(cv: Cv<'_, MappingData>) -> Out<'_> {
    date_result((|| {
        let input = text(&cv.1.0).ok_or_else(|| {
            not_a_string(&cv.1.0, "strptime/1 requires string inputs and arguments")
        })?;
        let broken = dates::strptime(&input, dates::ISO8601_FORMAT)?;
        dates::mktime(&broken.fields).map(|s| number_val(s as f64))
    })())
}

fn setpath_native(mut cv: Cv<'_, MappingData>) -> Out<'_> {
    let new_value = cv.0.pop_var().0;
    let path = cv.0.pop_var().0;
    let result = match &path {
        Val::Arr(components) => set_path(cv.1.0, components, new_value),
        _ => Err("Path must be specified as an array".to_owned()),
    };
    date_result(result)
}

/// jq's `delpaths`: all paths are resolved against the input, longest and last first, so that
/// deleting `.[1]` does not shift what `.[2]` means.
fn delpaths_native(mut cv: Cv<'_, MappingData>) -> Out<'_> {
    let paths = cv.0.pop_var().0;
    let Val::Arr(paths) = paths else {
        return fail("Paths must be specified as an array");
    };
    let mut sorted: Vec<Val> = paths.iter().cloned().collect();
    sorted.sort();
    let mut value = cv.1.0;
    for path in sorted.iter().rev() {
        let Val::Arr(components) = path else {
            return fail("Path must be specified as an array");
        };
        value = match delete_path(value, components) {
            Ok(value) => value,
            Err(message) => return fail(message),
        };
    }
    ok(value)
}

fn join_native(mut cv: Cv<'_, MappingData>) -> Out<'_> {
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

fn entry_field(entry: &Map<Val, Val>, name: &str) -> Option<Val> {
    entry.get(&string_val(name)).cloned()
}

/// jq 1.7's `from_entries`: keys (strings) from `key`, `k`, `name`, `Name`, `K` or `Key`;
/// values from `value`, `v` or `Value`.
fn from_entries_native(cv: Cv<'_, MappingData>) -> Out<'_> {
    let entries: Vec<Val> = match &cv.1.0 {
        Val::Arr(items) => items.iter().cloned().collect(),
        Val::Obj(fields) => fields.values().cloned().collect(),
        other => return fail(format!("Cannot iterate over {}", type_name(other))),
    };
    let mut object = Map::default();
    for entry in entries {
        let Val::Obj(fields) = &entry else {
            return fail(format!("Cannot index {} with \"key\"", type_name(&entry)));
        };
        let key = match entry_field(fields, "key") {
            Some(key) if key != Val::Null => key,
            _ => ["k", "name", "Name", "K", "Key"]
                .iter()
                .filter_map(|name| entry_field(fields, name))
                .find(|candidate| !matches!(candidate, Val::Null | Val::Bool(false)))
                .unwrap_or(Val::Null),
        };
        if !matches!(key, Val::TStr(_)) {
            return fail(format!(
                "Cannot use {} ({}) as object key",
                type_name(&key),
                to_json_text(&key)
            ));
        }
        let value = entry_field(fields, "value")
            .or_else(|| entry_field(fields, "v"))
            .or_else(|| entry_field(fields, "Value"))
            .unwrap_or(Val::Null);
        object.insert(key, value);
    }
    ok(Val::obj(object))
}

/// jq 1.7's `implode`: invalid code points become U+FFFD.
fn implode_native(cv: Cv<'_, MappingData>) -> Out<'_> {
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

/// The native filters added on top of jaq's (see [`REPLACED_NATIVES`] for those withheld).
pub fn natives() -> Vec<MappingFun> {
    let var_fun_var: Box<[Bind]> = [Bind::Var(()), Bind::Fun(()), Bind::Var(())].into();
    let table: Vec<jaq_core::native::Filter<jaq_core::RunPtr<MappingData>>> = vec![
        ("env", v(0), |cv| {
            ok(build_env_val(cv.0.data().env_allow_list))
        }),
        ("halt", v(1), |_| fail("halt is not allowed in a mapping")),
        ("debug_empty", v(0), |_| Box::new(core::iter::empty())),
        ("stderr_empty", v(0), |_| Box::new(core::iter::empty())),
        ("input", v(0), |_| fail("No more inputs")),
        ("inputs", v(0), |_| Box::new(core::iter::empty())),
        ("input_filename", v(0), |_| ok(Val::Null)),
        ("get_search_list", v(0), |_| {
            ok(Val::Arr(Rc::new(Vec::new())))
        }),
        ("_match_impl", v(3), match_native),
        ("_split_impl", v(2), split_native),
        ("sub", var_fun_var, sub_native),
        ("ltrimstr", v(1), |cv| trim_native(cv, true)),
        ("rtrimstr", v(1), |cv| trim_native(cv, false)),
        ("tostring", v(0), tostring_native),
        ("tojson", v(0), |cv| ok(string_val(&to_json_text(&cv.1.0)))),
        ("tonumber", v(0), tonumber_native),
        ("decode_base64", v(0), decode_base64_native),
        ("strftime", v(1), strftime_native),
        ("strflocaltime", v(1), strftime_native),
        ("strptime", v(1), strptime_native),
        ("gmtime", v(0), gmtime_native),
        ("localtime", v(0), gmtime_native),
        ("mktime", v(0), mktime_native),
        ("todateiso8601", v(0), todate_native),
        ("fromdateiso8601", v(0), fromdate_native),
        ("setpath", v(2), setpath_native),
        ("delpaths", v(1), delpaths_native),
        ("nan", v(0), |_| ok(Val::Num(Num::Float(f64::NAN)))),
        ("infinite", v(0), |_| {
            ok(Val::Num(Num::Float(f64::INFINITY)))
        }),
        ("join", v(1), join_native),
        ("from_entries", v(0), from_entries_native),
        ("implode", v(0), implode_native),
    ];
    table.into_iter().map(run::<MappingData>).collect()
}

/// The `$__loc__` value (jq reports the line of the expression; mappings are one program each).
pub fn location_val() -> Val {
    let mut map = Map::default();
    map.insert(string_val("file"), string_val("<top-level>"));
    map.insert(string_val("line"), Val::from(1usize));
    Val::obj(map)
}

/// Exceptions other than errors (`break` out of a label that is not there) as errors.
pub fn exception_message(exn: Exn<'_, JqVal>) -> String {
    match exn.get_err() {
        Ok(error) => match error.into_val().0 {
            Val::TStr(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            other => format!("{} (not a string)", to_json_text(&other)),
        },
        Err(other) => match other.get_halt() {
            Ok(code) => format!("halt({code}) is not allowed in a mapping"),
            Err(_) => "unexpected control flow (break) in a mapping".to_owned(),
        },
    }
}
