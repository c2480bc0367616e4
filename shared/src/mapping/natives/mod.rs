//! Native jq filters that make jaq behave like jq 1.7 for mappings (regexes with look-around,
//! dates, number text, lenient string functions, `setpath`/`delpaths`) and that keep a mapping
//! away from the process (`env`, `halt`, `input`, `debug`, `stderr`). Owns the native table;
//! the jq-language definitions on top of it live in `compat.jq`.
//!
//! The parts: `support` (the result and value helpers every native shares), `matching`
//! (regexes: `match`, `split`, `sub`), `strings` (text and number conversions, `join`,
//! `implode`), `time` (jq 1.7's date filters) and `objects` (`setpath`, `delpaths`,
//! `from_entries`). This module keeps the table itself, `$__loc__` and how exceptions read.

use jaq_core::native::{run, v};
use jaq_core::{Bind, Exn};
use jaq_json::{Map, Num, Rc, Val};

use super::jq::{MappingData, build_env_val};
use super::jqval::JqVal;
use super::value::to_json_text;

mod matching;
mod objects;
mod strings;
mod support;
mod time;

use matching::{match_native, split_native, sub_native};
use objects::{delpaths_native, from_entries_native, setpath_native};
use strings::{
    decode_base64_native, implode_native, join_native, tonumber_native, tostring_native,
    trim_native,
};
use support::{MappingFun, fail, ok, string_val};
pub(super) use support::{text, type_name};
use time::{
    fromdate_native, gmtime_native, mktime_native, strftime_native, strptime_native, todate_native,
};

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
