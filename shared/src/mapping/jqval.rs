//! `JqVal`, the value type mappings run on: jaq's JSON value with jq 1.7's behaviour where jaq's
//! core differs (paths created through null by `=`/`|=`, arrays extended by index updates,
//! division by zero is an error, `%` on integers, fractional indices truncated, slices of null,
//! numbers printed as jq prints them in string interpolation).

use core::fmt;
use core::ops::{Add, Div, Mul, Neg, Rem, Sub};

use jaq_core::box_iter::BoxIter;
use jaq_core::path::Opt;
use jaq_core::val::Range;
use jaq_core::{Error, Exn, ValR, ValX};
use jaq_json::{Map, Num, Rc, Val};

use super::natives::type_name;
use super::value::{format_number, num_to_f64, to_json_text};

/// jaq's JSON value with jq 1.7 semantics for the operations listed in the module docs.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JqVal(pub Val);

type JqError = Error<JqVal>;

/// Converts an error about inner values into one about `JqVal`s (keeping its message).
fn lift_error(error: Error<Val>) -> JqError {
    match error.into_val() {
        Val::TStr(bytes) => Error::str(String::from_utf8_lossy(&bytes)),
        other => Error::new(JqVal(other)),
    }
}

fn lift(result: ValR<Val>) -> ValR<JqVal> {
    result.map(JqVal).map_err(lift_error)
}

/// Above 2^53 jq computes with doubles; jaq keeps exact integers. Round like jq does.
fn as_jq_number(result: ValR<JqVal>) -> ValR<JqVal> {
    const EXACT: i128 = 1 << 53;
    result.map(|value| match value.0 {
        Val::Num(Num::Int(i)) if (i as i128).abs() > EXACT => JqVal(Val::Num(Num::Float(i as f64))),
        Val::Num(n @ Num::BigInt(_)) => JqVal(Val::Num(Num::Float(num_to_f64(&n)))),
        other => JqVal(other),
    })
}

/// `"abc" * n`: the string repeated `trunc(n)` times, null for negative counts (jq 1.7).
fn repeat_string(text: &[u8], count: &Num) -> JqVal {
    let count = num_to_f64(count);
    if count.is_nan() || count < 0.0 {
        return JqVal(Val::Null);
    }
    let times = count.trunc().min(f64::from(u32::MAX)) as usize;
    JqVal(Val::utf8_str(text.repeat(times)))
}

fn lower_range(range: Range<&JqVal>) -> Range<&Val> {
    range.start.map(|v| &v.0)..range.end.map(|v| &v.0)
}

fn describe(value: &Val) -> String {
    let text = to_json_text(value);
    let short: String = text.chars().take(11).collect();
    let ellipsis = if short.len() < text.len() { "..." } else { "" };
    format!("{} ({short}{ellipsis})", type_name(value))
}

/// An array index as jq reads it: numbers truncated toward zero.
fn array_index(index: &Val) -> Option<i64> {
    match index {
        Val::Num(n) => {
            let f = num_to_f64(n);
            f.is_finite().then(|| f.trunc() as i64)
        }
        _ => None,
    }
}

impl fmt::Display for JqVal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Val::Num(n) => f.write_str(&format_number(n)),
            other => other.fmt(f),
        }
    }
}

impl From<bool> for JqVal {
    fn from(b: bool) -> Self {
        Self(Val::from(b))
    }
}

impl From<isize> for JqVal {
    fn from(i: isize) -> Self {
        Self(Val::from(i))
    }
}

impl From<usize> for JqVal {
    fn from(i: usize) -> Self {
        Self(Val::from(i))
    }
}

impl From<f64> for JqVal {
    fn from(f: f64) -> Self {
        Self(Val::from(f))
    }
}

impl From<String> for JqVal {
    fn from(s: String) -> Self {
        Self(Val::from(s))
    }
}

impl From<Range<JqVal>> for JqVal {
    fn from(range: Range<JqVal>) -> Self {
        Self(Val::from(range.start.map(|v| v.0)..range.end.map(|v| v.0)))
    }
}

impl FromIterator<JqVal> for JqVal {
    fn from_iter<T: IntoIterator<Item = JqVal>>(iter: T) -> Self {
        Self(iter.into_iter().map(|v| v.0).collect())
    }
}

impl Add for JqVal {
    type Output = ValR<Self>;
    fn add(self, rhs: Self) -> Self::Output {
        as_jq_number(lift(self.0 + rhs.0))
    }
}

impl Sub for JqVal {
    type Output = ValR<Self>;
    fn sub(self, rhs: Self) -> Self::Output {
        as_jq_number(lift(self.0 - rhs.0))
    }
}

impl Mul for JqVal {
    type Output = ValR<Self>;
    fn mul(self, rhs: Self) -> Self::Output {
        match (&self.0, &rhs.0) {
            (Val::TStr(text), Val::Num(count)) | (Val::Num(count), Val::TStr(text)) => {
                Ok(repeat_string(text, count))
            }
            _ => as_jq_number(lift(self.0 * rhs.0)),
        }
    }
}

impl Div for JqVal {
    type Output = ValR<Self>;
    fn div(self, rhs: Self) -> Self::Output {
        if let (Val::Num(_), Val::Num(divisor)) = (&self.0, &rhs.0)
            && num_to_f64(divisor) == 0.0
        {
            return Err(Error::str(format!(
                "{} and {} cannot be divided because the divisor is zero",
                describe(&self.0),
                describe(&rhs.0)
            )));
        }
        lift(self.0 / rhs.0)
    }
}

impl Rem for JqVal {
    type Output = ValR<Self>;
    /// jq 1.7 truncates both operands to integers.
    fn rem(self, rhs: Self) -> Self::Output {
        match (&self.0, &rhs.0) {
            (Val::Num(a), Val::Num(b)) => {
                let (a, b) = (num_to_f64(a), num_to_f64(b));
                let divisor = b.trunc() as i64;
                if divisor == 0 {
                    return Err(Error::str(format!(
                        "{} and {} cannot be divided because the divisor is zero",
                        describe(&self.0),
                        describe(&rhs.0)
                    )));
                }
                let remainder = (a.trunc() as i64).wrapping_rem(divisor.wrapping_abs());
                Ok(Self(Val::Num(Num::Int(remainder as isize))))
            }
            _ => lift(self.0 % rhs.0),
        }
    }
}

impl Neg for JqVal {
    type Output = ValR<Self>;
    fn neg(self) -> Self::Output {
        match self.0 {
            // Negating a literal makes it a computed double in jq.
            Val::Num(n @ Num::Dec(_)) => Ok(JqVal(Val::Num(Num::Float(-num_to_f64(&n))))),
            other => as_jq_number(lift(-other)),
        }
    }
}

impl jaq_core::ValT for JqVal {
    fn from_num(n: &str) -> ValR<Self> {
        lift(Val::from_num(n))
    }

    fn from_map<I: IntoIterator<Item = (Self, Self)>>(iter: I) -> ValR<Self> {
        lift(Val::from_map(iter.into_iter().map(|(k, v)| (k.0, v.0))))
    }

    fn key_values(self) -> BoxIter<'static, ValR<(Self, Self), Self>> {
        Box::new(
            self.0
                .key_values()
                .map(|kv| kv.map(|(k, v)| (JqVal(k), JqVal(v))).map_err(lift_error)),
        )
    }

    fn values(self) -> Box<dyn Iterator<Item = ValR<Self>>> {
        Box::new(self.0.values().map(lift))
    }

    fn index(self, index: &Self) -> ValR<Self> {
        match (&self.0, &index.0) {
            (Val::Null, _)
            | (Val::Obj(_), Val::TStr(_))
            | (Val::Arr(_), Val::Num(_) | Val::Arr(_) | Val::Obj(_))
            | (Val::TStr(_) | Val::BStr(_), Val::Obj(_)) => {}
            (container, Val::TStr(key)) => {
                return Err(Error::str(format!(
                    "Cannot index {} with string \"{}\"",
                    type_name(container),
                    String::from_utf8_lossy(key)
                )));
            }
            (container, key) => {
                return Err(Error::str(format!(
                    "Cannot index {} with {}",
                    type_name(container),
                    type_name(key)
                )));
            }
        }
        match (&self.0, &index.0) {
            (Val::Arr(_), Val::Num(n)) if !matches!(n, Num::Int(_)) => {
                match array_index(&index.0) {
                    Some(i) => lift(self.0.index(&Val::from(i as isize))),
                    None => Ok(Self(Val::Null)),
                }
            }
            _ => lift(self.0.index(&index.0)),
        }
    }

    fn range(self, range: Range<&Self>) -> ValR<Self> {
        match self.0 {
            Val::Null => Ok(Self(Val::Null)),
            inner => lift(inner.range(lower_range(range))),
        }
    }

    fn map_values<'a, I: Iterator<Item = ValX<'a, Self>>>(
        self,
        opt: Opt,
        f: impl Fn(Self) -> I,
    ) -> ValX<'a, Self> {
        match self.0 {
            Val::Arr(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in Rc::try_unwrap(items).unwrap_or_else(|rc| (*rc).clone()) {
                    if let Some(updated) = f(JqVal(item)).next() {
                        out.push(updated?.0);
                    }
                }
                Ok(JqVal(Val::Arr(Rc::new(out))))
            }
            Val::Obj(fields) => {
                let mut out = Map::default();
                for (key, value) in Rc::try_unwrap(fields).unwrap_or_else(|rc| (*rc).clone()) {
                    if let Some(updated) = f(JqVal(value)).next() {
                        out.insert(key, updated?.0);
                    }
                }
                Ok(JqVal(Val::obj(out)))
            }
            other => opt.fail(JqVal(other), |v| {
                Exn::from(Error::str(format!(
                    "Cannot iterate over {}",
                    describe(&v.0)
                )))
            }),
        }
    }

    fn map_index<'a, I: Iterator<Item = ValX<'a, Self>>>(
        self,
        index: &Self,
        opt: Opt,
        f: impl Fn(Self) -> I,
    ) -> ValX<'a, Self> {
        match (self.0, &index.0) {
            (Val::Null, Val::TStr(_)) => JqVal(Val::obj(Map::default())).map_index(index, opt, f),
            (Val::Null, Val::Num(_)) => {
                JqVal(Val::Arr(Rc::new(Vec::new()))).map_index(index, opt, f)
            }
            (Val::Obj(mut fields), Val::TStr(_)) => {
                let map = Rc::make_mut(&mut fields);
                let current = map.get(&index.0).cloned().unwrap_or(Val::Null);
                match f(JqVal(current)).next().transpose()? {
                    Some(updated) => {
                        map.insert(index.0.clone(), updated.0);
                    }
                    None => {
                        map.shift_remove(&index.0);
                    }
                }
                Ok(JqVal(Val::Obj(fields)))
            }
            (Val::Arr(mut items), Val::Num(_)) => {
                let Some(position) = array_index(&index.0) else {
                    return Err(Exn::from(Error::str(
                        "Cannot update an array at a non-finite index",
                    )));
                };
                let list = Rc::make_mut(&mut items);
                let position = if position < 0 {
                    position + list.len() as i64
                } else {
                    position
                };
                if position < 0 {
                    return Err(Exn::from(Error::str("Out of bounds negative array index")));
                }
                let position = position as usize;
                if position >= list.len() {
                    list.resize(position + 1, Val::Null);
                }
                let current = core::mem::take(&mut list[position]);
                match f(JqVal(current)).next().transpose()? {
                    Some(updated) => list[position] = updated.0,
                    None => {
                        list.remove(position);
                    }
                }
                Ok(JqVal(Val::Arr(items)))
            }
            (inner @ (Val::Arr(_) | Val::Null), Val::Obj(bounds)) => {
                let start = bounds
                    .get(&Val::utf8_str(b"start".to_vec()))
                    .cloned()
                    .map(JqVal);
                let end = bounds
                    .get(&Val::utf8_str(b"end".to_vec()))
                    .cloned()
                    .map(JqVal);
                update_slice(JqVal(inner), start.as_ref()..end.as_ref(), opt, f)
            }
            (inner, _) => opt.fail(JqVal(inner), |v| {
                Exn::from(Error::str(format!(
                    "Cannot index {} with {}",
                    type_name(&v.0),
                    describe(&index.0)
                )))
            }),
        }
    }

    fn map_range<'a, I: Iterator<Item = ValX<'a, Self>>>(
        self,
        range: Range<&Self>,
        opt: Opt,
        f: impl Fn(Self) -> I,
    ) -> ValX<'a, Self> {
        update_slice(self, range, opt, f)
    }

    fn as_bool(&self) -> bool {
        self.0.as_bool()
    }

    fn into_string(self) -> Self {
        match self.0 {
            Val::TStr(_) | Val::BStr(_) => JqVal(self.0.into_string()),
            other => JqVal(Val::utf8_str(to_json_text(&other).into_bytes())),
        }
    }
}

/// A slice bound as jq reads it: null is open, numbers are floored, negatives count from the end.
fn slice_bound(bound: Option<&JqVal>, len: usize, open: usize) -> Result<usize, String> {
    match bound.map(|b| &b.0) {
        None | Some(Val::Null) => Ok(open),
        Some(Val::Num(n)) => {
            let f = num_to_f64(n).floor();
            let position = if f < 0.0 { f + len as f64 } else { f };
            Ok(position.clamp(0.0, len as f64) as usize)
        }
        Some(other) => Err(format!(
            "Start and end indices of an array slice must be numbers, not {}",
            describe(other)
        )),
    }
}

/// `.[s:e] |= f` on arrays (null counts as an empty array), like jq 1.7.
fn update_slice<'a, I: Iterator<Item = ValX<'a, JqVal>>>(
    target: JqVal,
    range: Range<&JqVal>,
    opt: Opt,
    f: impl Fn(JqVal) -> I,
) -> ValX<'a, JqVal> {
    let mut items = match target.0 {
        Val::Null => Vec::new(),
        Val::Arr(items) => Rc::try_unwrap(items).unwrap_or_else(|rc| (*rc).clone()),
        other => {
            return opt.fail(JqVal(other), |v| {
                Exn::from(Error::str(format!(
                    "Cannot update a slice of {}",
                    describe(&v.0)
                )))
            });
        }
    };
    let len = items.len();
    let bounds =
        slice_bound(range.start, len, 0).and_then(|s| Ok((s, slice_bound(range.end, len, len)?)));
    let (start, end) = match bounds {
        Ok((start, end)) => (start, end.max(start)),
        Err(message) => return Err(Exn::from(Error::str(message))),
    };
    let slice = JqVal(Val::Arr(Rc::new(items[start..end].to_vec())));
    let replacement = match f(slice).next().transpose()? {
        Some(JqVal(Val::Arr(new_items))) => (*new_items).clone(),
        None => Vec::new(),
        Some(other) => {
            return Err(Exn::from(Error::str(format!(
                "A slice of an array can only be assigned another array, not {}",
                describe(&other.0)
            ))));
        }
    };
    items.splice(start..end, replacement);
    Ok(JqVal(Val::Arr(Rc::new(items))))
}

impl jaq_std::ValT for JqVal {
    fn into_seq<S: FromIterator<Self>>(self) -> Result<S, Self> {
        match self.0 {
            Val::Arr(items) => Ok(Rc::try_unwrap(items)
                .unwrap_or_else(|rc| (*rc).clone())
                .into_iter()
                .map(JqVal)
                .collect()),
            other => Err(JqVal(other)),
        }
    }

    fn is_int(&self) -> bool {
        self.0.is_int()
    }

    fn as_isize(&self) -> Option<isize> {
        jaq_std::ValT::as_isize(&self.0)
    }

    fn as_f64(&self) -> Option<f64> {
        jaq_std::ValT::as_f64(&self.0)
    }

    fn is_utf8_str(&self) -> bool {
        self.0.is_utf8_str()
    }

    fn as_bytes(&self) -> Option<&[u8]> {
        self.0.as_bytes()
    }

    fn as_sub_str(&self, sub: &[u8]) -> Self {
        JqVal(self.0.as_sub_str(sub))
    }

    fn from_utf8_bytes(b: impl AsRef<[u8]> + Send + 'static) -> Self {
        JqVal(Val::from_utf8_bytes(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jaq_core::ValT as _;

    fn num(i: isize) -> JqVal {
        JqVal::from(i)
    }

    #[test]
    fn division_by_zero_and_modulo_follow_jq() {
        assert!((num(1) / num(0)).is_err());
        assert!((num(5) % num(0)).is_err());
        assert_eq!((JqVal::from(5.5) % num(2)).ok(), Some(num(1)));
        assert_eq!((num(-5) % num(3)).ok(), Some(num(-2)));
        assert_eq!((num(5) % num(-3)).ok(), Some(num(2)));
    }

    #[test]
    fn fractional_indices_truncate() {
        let array: JqVal = [num(1), num(2)].into_iter().collect();
        assert_eq!(array.index(&JqVal::from(1.2)).ok(), Some(num(2)));
    }
}
