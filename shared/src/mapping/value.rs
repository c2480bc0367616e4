//! Conversions between `serde_json` values and jaq's `Val`, and jq 1.7's text form of values
//! (`tostring`/`tojson`): number formatting is where jaq and jq differ most visibly.

use jaq_json::{Map, Num, Rc, Val};
use serde_json::Value;

/// Converts a JSON value into jaq's value type.
///
/// Non-integer numbers are kept as decimal literals (`Num::Dec`), the way jq 1.7 keeps the
/// literal text of numbers it read, so that `tostring` prints them as jq does (`1E+17`, `3.0`).
pub fn json_to_val(value: &Value) -> Val {
    match value {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Val::Num(Num::from_integral(i))
            } else {
                // Beyond 64-bit integers, jq works with doubles (keeping the literal text).
                Val::Num(Num::Dec(Rc::new(n.to_string())))
            }
        }
        Value::String(s) => Val::utf8_str(s.clone().into_bytes()),
        Value::Array(items) => Val::Arr(Rc::new(items.iter().map(json_to_val).collect())),
        Value::Object(fields) => {
            let mut map = Map::default();
            map.reserve(fields.len());
            for (key, field) in fields {
                map.insert(Val::utf8_str(key.clone().into_bytes()), json_to_val(field));
            }
            Val::obj(map)
        }
    }
}

/// Converts a jaq value back into JSON, the way jq prints it: integral numbers without a
/// fraction, NaN as null, infinities as the largest finite doubles, non-string object keys in
/// their jq text form.
pub fn val_to_json(val: &Val) -> Value {
    match val {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Num(n) => num_to_json(n),
        Val::TStr(bytes) | Val::BStr(bytes) => {
            Value::String(String::from_utf8_lossy(bytes).into_owned())
        }
        Val::Arr(items) => Value::Array(items.iter().map(val_to_json).collect()),
        Val::Obj(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, field)| (key_text(key), val_to_json(field)))
                .collect(),
        ),
    }
}

fn key_text(key: &Val) -> String {
    match key {
        Val::TStr(bytes) | Val::BStr(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        other => to_json_text(other),
    }
}

/// The numeric value of a jaq number as a double (big integers and decimals rounded).
pub fn num_to_f64(n: &Num) -> f64 {
    match n {
        Num::Int(i) => *i as f64,
        Num::BigInt(b) => b.to_string().parse().unwrap_or(f64::NAN),
        Num::Float(f) => *f,
        Num::Dec(text) => text.parse().unwrap_or(f64::NAN),
    }
}

fn num_to_json(n: &Num) -> Value {
    match n {
        Num::Int(i) => Value::from(*i as i64),
        other => {
            let f = num_to_f64(other);
            if f.is_nan() {
                Value::Null
            } else if f.is_infinite() {
                Value::from(if f > 0.0 { f64::MAX } else { f64::MIN })
            } else if f.fract() == 0.0 && f.abs() < 9.0e15 {
                Value::from(f as i64)
            } else {
                Value::from(f)
            }
        }
    }
}

/// jq 1.7's `tojson`: compact JSON with jq's number formatting.
pub fn to_json_text(val: &Val) -> String {
    let mut out = String::new();
    write_json(&mut out, val);
    out
}

fn write_json(out: &mut String, val: &Val) {
    match val {
        Val::Null => out.push_str("null"),
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Num(n) => out.push_str(&format_number(n)),
        Val::TStr(bytes) | Val::BStr(bytes) => {
            write_json_string(out, &String::from_utf8_lossy(bytes))
        }
        Val::Arr(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Val::Obj(fields) => {
            out.push('{');
            for (index, (key, field)) in fields.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_json_string(out, &key_text(key));
                out.push(':');
                write_json(out, field);
            }
            out.push('}');
        }
    }
}

fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{7f}' => out.push_str("\\u007f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Formats a number as jq 1.7 prints it: literals read from input keep their canonical
/// decimal form (`1E+17`, `0.00003`, `3.0`); computed doubles use 17 significant digits at most
/// and C's exponent style (`1e+17`, `2.5e-05`); NaN prints as `null`.
pub fn format_number(n: &Num) -> String {
    match n {
        Num::Int(i) => i.to_string(),
        Num::BigInt(b) => b.to_string(),
        Num::Dec(text) => format_decimal_literal(text),
        Num::Float(f) => format_double(*f),
    }
}

/// Canonical text of a decimal literal, following decNumber's to-scientific-string rules.
fn format_decimal_literal(text: &str) -> String {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(pos) => (
            &unsigned[..pos],
            unsigned[pos + 1..].parse::<i64>().unwrap_or(0),
        ),
        None => (unsigned, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if !int_part
        .bytes()
        .chain(frac_part.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return format_double(text.parse().unwrap_or(f64::NAN));
    }
    let all_digits = format!("{int_part}{frac_part}");
    let coefficient = all_digits.trim_start_matches('0');
    let coefficient = if coefficient.is_empty() {
        "0"
    } else {
        coefficient
    };
    let exponent = exponent - frac_part.len() as i64;
    let adjusted = exponent + coefficient.len() as i64 - 1;
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if exponent <= 0 && adjusted >= -6 {
        let point = coefficient.len() as i64 + exponent;
        if exponent == 0 {
            out.push_str(coefficient);
        } else if point > 0 {
            let (int_digits, frac_digits) = coefficient.split_at(point as usize);
            out.push_str(int_digits);
            out.push('.');
            out.push_str(frac_digits);
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-point) as usize));
            out.push_str(coefficient);
        }
    } else {
        let (first, rest) = coefficient.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('E');
        if adjusted >= 0 {
            out.push('+');
        }
        out.push_str(&adjusted.to_string());
    }
    out
}

/// Text of a computed double, as jq 1.7's dtoa-based printer writes it.
pub fn format_double(f: f64) -> String {
    if f.is_nan() {
        return "null".to_owned();
    }
    if f.is_infinite() {
        return format_double(if f > 0.0 { f64::MAX } else { f64::MIN });
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // Shortest round-trip digits, at most 17 significant digits.
    let scientific = format!("{:e}", f.abs());
    let (digits_part, exp_part) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let digits: String = digits_part.chars().filter(char::is_ascii_digit).collect();
    let exponent: i64 = exp_part.parse().unwrap_or(0);
    let decimal_point = exponent + 1;
    let digit_count = digits.len() as i64;
    let mut out = String::new();
    if f < 0.0 {
        out.push('-');
    }
    if decimal_point <= -4 || decimal_point > digit_count + 15 {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exponent.abs()));
    } else if decimal_point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-decimal_point) as usize));
        out.push_str(&digits);
    } else if decimal_point >= digit_count {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n(
            '0',
            (decimal_point - digit_count) as usize,
        ));
    } else {
        let (int_digits, frac_digits) = digits.split_at(decimal_point as usize);
        out.push_str(int_digits);
        out.push('.');
        out.push_str(frac_digits);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computed_doubles_print_like_jq() {
        let cases = [
            (1e17, "1e+17"),
            (1e-7, "1e-07"),
            (3.0, "3"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000"),
            (123456789.125, "123456789.125"),
            (1.5e300, "1.5e+300"),
            (-0.0, "-0"),
            (3e-5, "3e-05"),
            (0.0001, "0.0001"),
            (12345678901234567890.0, "12345678901234567000"),
            (4.0 / 3.0, "1.3333333333333333"),
            (f64::NAN, "null"),
            (f64::INFINITY, "1.7976931348623157e+308"),
        ];
        for (value, expected) in cases {
            assert_eq!(format_double(value), expected, "{value}");
        }
    }

    #[test]
    fn decimal_literals_print_like_jq() {
        let cases = [
            ("1e17", "1E+17"),
            ("1e-7", "1E-7"),
            ("3.0", "3.0"),
            ("0.1", "0.1"),
            ("3e-5", "0.00003"),
            ("-1.5", "-1.5"),
            ("1.5e300", "1.5E+300"),
        ];
        for (text, expected) in cases {
            assert_eq!(format_decimal_literal(text), expected, "{text}");
        }
    }

    #[test]
    fn json_round_trip_keeps_integers_integral() {
        let value = serde_json::json!({"a": [1, 2.5, null, true, "x"], "b": {"c": -3}});
        assert_eq!(val_to_json(&json_to_val(&value)), value);
        assert_eq!(
            val_to_json(&Val::Num(Num::Float(2.0))),
            serde_json::json!(2)
        );
    }
}
