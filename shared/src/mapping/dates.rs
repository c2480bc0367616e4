//! jq 1.7 date functions (`gmtime`, `mktime`, `strptime`, `strftime`, `todate`, `fromdate`) on
//! chrono, always in UTC (a Lambda has no local time zone worth exposing to a mapping).
//! Broken-down times are jq's arrays: `[year, month0, day, hours, minutes, seconds, weekday, yearday]`.

use chrono::format::{Parsed, StrftimeItems};
use chrono::{DateTime, Datelike, NaiveDateTime, Timelike};
use std::fmt::Write as _;

/// jq's broken-down time.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokenDownTime {
    /// The eight numbers jq uses; the seconds may carry a fraction.
    pub fields: [f64; 8],
}

/// The format `todate`/`fromdate` use.
pub const ISO8601_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

fn broken_down(date_time: NaiveDateTime, fraction: f64) -> BrokenDownTime {
    BrokenDownTime {
        fields: [
            f64::from(date_time.year()),
            f64::from(date_time.month0()),
            f64::from(date_time.day()),
            f64::from(date_time.hour()),
            f64::from(date_time.minute()),
            f64::from(date_time.second()) + fraction,
            f64::from(date_time.weekday().num_days_from_sunday()),
            f64::from(date_time.ordinal0()),
        ],
    }
}

/// `gmtime`: seconds since the epoch to a broken-down time.
pub fn gmtime(seconds: f64) -> Result<BrokenDownTime, String> {
    if !seconds.is_finite() {
        return Err("gmtime() requires a finite number".to_owned());
    }
    let whole = seconds.floor();
    let date_time = DateTime::from_timestamp(whole as i64, 0).ok_or_else(|| {
        format!("error converting number of seconds since epoch to datetime: {seconds}")
    })?;
    Ok(broken_down(date_time.naive_utc(), seconds - whole))
}

/// `mktime`: a broken-down time to whole seconds since the epoch (out-of-range fields roll over).
pub fn mktime(fields: &[f64]) -> Result<i64, String> {
    if fields.len() < 6 {
        return Err("mktime requires array of 6 numbers".to_owned());
    }
    let year = fields[0].trunc() as i64;
    let month0 = fields[1].trunc() as i64;
    let total_month = year * 12 + month0;
    let (year, month0) = (total_month.div_euclid(12), total_month.rem_euclid(12));
    let days = days_from_civil(year, month0 + 1, 1) + fields[2].trunc() as i64 - 1;
    let seconds = days * 86_400
        + fields[3].trunc() as i64 * 3_600
        + fields[4].trunc() as i64 * 60
        + fields[5].floor() as i64;
    Ok(seconds)
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (month 1-12).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let shifted_month = (month + 9) % 12;
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `strptime(fmt)`: parses a date with a C-style format into a broken-down time.
pub fn strptime(text: &str, format: &str) -> Result<BrokenDownTime, String> {
    let mismatch = || format!("date \"{text}\" does not match format \"{format}\"");
    let mut parsed = Parsed::new();
    chrono::format::parse(&mut parsed, text.trim_end(), StrftimeItems::new(format))
        .map_err(|_| mismatch())?;
    let date = parsed
        .to_naive_date()
        .or_else(|_| {
            // A format without a day (e.g. `%Y-%m`) starts at the first of the month, as C does.
            let mut with_day = parsed.clone();
            with_day.set_day(1).map_err(|_| mismatch())?;
            if with_day.month().is_none() {
                with_day.set_month(1).map_err(|_| mismatch())?;
            }
            with_day.to_naive_date().map_err(|_| mismatch())
        })
        .map_err(|_| mismatch())?;
    let hour = match (parsed.hour_div_12(), parsed.hour_mod_12()) {
        (Some(div), Some(modulo)) => div * 12 + modulo,
        _ => 0,
    };
    let time = chrono::NaiveTime::from_hms_opt(
        hour,
        parsed.minute().unwrap_or(0),
        parsed.second().unwrap_or(0).min(59),
    )
    .ok_or_else(mismatch)?;
    Ok(broken_down(NaiveDateTime::new(date, time), 0.0))
}

/// `strftime(fmt)`: formats a broken-down time with a C-style format.
pub fn strftime(fields: &[f64], format: &str) -> Result<String, String> {
    if fields.len() < 6 {
        return Err("strftime/1 requires parsed datetime inputs".to_owned());
    }
    let seconds = mktime(fields)?;
    let date_time = DateTime::from_timestamp(seconds, 0)
        .ok_or_else(|| "strftime/1: time out of range".to_owned())?;
    let mut out = String::new();
    write!(
        out,
        "{}",
        date_time.format_with_items(StrftimeItems::new(format))
    )
    .map_err(|_| format!("strftime/1: invalid format \"{format}\""))?;
    Ok(out)
}

/// `todate`: seconds since the epoch to `YYYY-MM-DDTHH:MM:SSZ` (fraction dropped, as jq 1.7 does).
pub fn todate(seconds: f64) -> Result<String, String> {
    strftime(&gmtime(seconds)?.fields, ISO8601_FORMAT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strptime_and_mktime_round_trip() {
        let parsed = strptime("2015-03-05T23:51:47Z", ISO8601_FORMAT).expect("parses");
        assert_eq!(
            parsed.fields,
            [2015.0, 2.0, 5.0, 23.0, 51.0, 47.0, 4.0, 63.0]
        );
        assert_eq!(mktime(&parsed.fields), Ok(1_425_599_507));
    }

    #[test]
    fn gmtime_keeps_the_fraction_and_todate_drops_it() {
        let broken = gmtime(1_425_599_507.5).expect("in range");
        assert_eq!(broken.fields[5], 47.5);
        assert_eq!(
            todate(1_425_599_507.9).as_deref(),
            Ok("2015-03-05T23:51:47Z")
        );
        assert_eq!(todate(-1.0).as_deref(), Ok("1969-12-31T23:59:59Z"));
    }

    #[test]
    fn mismatching_dates_are_errors() {
        assert!(strptime("2015-03-05T23:51:47.123Z", ISO8601_FORMAT).is_err());
        assert!(strftime(&[2015.0], "%Y").is_err());
    }
}
