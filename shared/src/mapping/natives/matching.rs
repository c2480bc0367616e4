//! The regex natives behind jq's `test`, `match`, `capture`, `scan`, `split` and `sub`/`gsub`
//! (look-around included), with jq 1.7's messages and its every-combination `sub`.

use jaq_core::Cv;
use jaq_core::ValT as _;
use jaq_core::box_iter::box_once;
use jaq_json::Val;

use super::support::{Out, fail, not_a_string, ok, optional_flags, string_val, text, type_name};
use crate::mapping::jq::MappingData;
use crate::mapping::jqval::JqVal;
use crate::mapping::regex::{self as jq_regex, SubstitutionPart};
use crate::mapping::value::to_json_text;

fn regex_input<'a>(cv: &Cv<'a, MappingData>) -> Result<String, String> {
    text(&cv.1.0).ok_or_else(|| not_a_string(&cv.1.0, "cannot be matched, as it is not a string"))
}

pub(super) fn match_native(mut cv: Cv<'_, MappingData>) -> Out<'_> {
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

pub(super) fn split_native(mut cv: Cv<'_, MappingData>) -> Out<'_> {
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
pub(super) fn sub_native(mut cv: Cv<'_, MappingData>) -> Out<'_> {
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
