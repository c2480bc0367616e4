//! jq 1.7's date natives (`strftime`, `strptime`, `gmtime`, `mktime`, `todate`, `fromdate`)
//! over seconds and broken-down times, on top of `mapping::dates`.

use jaq_core::Cv;
use jaq_json::{Rc, Val};

use super::support::{Out, date_result, not_a_string, number_val, string_val, text};
use crate::mapping::dates;
use crate::mapping::jq::MappingData;
use crate::mapping::value::num_to_f64;

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

fn seconds_or_broken_down(value: &Val, filter: &str) -> Result<Vec<f64>, String> {
    match value {
        Val::Num(n) => Ok(dates::gmtime(num_to_f64(n))?.fields.to_vec()),
        Val::Arr(_) => {
            numbers(value).map_err(|_| format!("{filter} requires parsed datetime inputs"))
        }
        _ => Err(format!("{filter} requires parsed datetime inputs")),
    }
}

pub(super) fn strftime_native(mut cv: Cv<'_, MappingData>) -> Out<'_> {
    let format = cv.0.pop_var().0;
    date_result((|| {
        let format = text(&format).ok_or("strftime/1 requires a string format")?;
        let fields = seconds_or_broken_down(&cv.1.0, "strftime/1")?;
        dates::strftime(&fields, &format).map(|s| string_val(&s))
    })())
}

pub(super) fn strptime_native(mut cv: Cv<'_, MappingData>) -> Out<'_> {
    let format = cv.0.pop_var().0;
    date_result((|| {
        let input = text(&cv.1.0).ok_or_else(|| {
            not_a_string(&cv.1.0, "strptime/1 requires string inputs and arguments")
        })?;
        let format = text(&format).ok_or("strptime/1 requires string inputs and arguments")?;
        dates::strptime(&input, &format).map(|b| broken_down_val(&b))
    })())
}

pub(super) fn gmtime_native(cv: Cv<'_, MappingData>) -> Out<'_> {
    date_result(match &cv.1.0 {
        Val::Num(n) => dates::gmtime(num_to_f64(n)).map(|b| broken_down_val(&b)),
        _ => Err("gmtime() requires a number".to_owned()),
    })
}

pub(super) fn mktime_native(cv: Cv<'_, MappingData>) -> Out<'_> {
    date_result(
        numbers(&cv.1.0)
            .and_then(|fields| dates::mktime(&fields))
            .map(|s| number_val(s as f64)),
    )
}

pub(super) fn todate_native(cv: Cv<'_, MappingData>) -> Out<'_> {
    if let Val::Num(n) = &cv.1.0 {
        return date_result(dates::todate(num_to_f64(n)).map(|s| string_val(&s)));
    }
    date_result((|| {
        let fields = seconds_or_broken_down(&cv.1.0, "strftime/1")?;
        dates::strftime(&fields, dates::ISO8601_FORMAT).map(|s| string_val(&s))
    })())
}

pub(super) fn fromdate_native(cv: Cv<'_, MappingData>) -> Out<'_> {
    date_result((|| {
        let input = text(&cv.1.0).ok_or_else(|| {
            not_a_string(&cv.1.0, "strptime/1 requires string inputs and arguments")
        })?;
        let broken = dates::strptime(&input, dates::ISO8601_FORMAT)?;
        dates::mktime(&broken.fields).map(|s| number_val(s as f64))
    })())
}
