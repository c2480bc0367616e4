//! jq 1.7's `setpath` and `delpaths` on jaq values: paths through null create objects and
//! arrays, and several deletions are resolved against the same input.

use jaq_json::{Map, Rc, Val};

use super::natives::{text, type_name};
use super::value::{num_to_f64, to_json_text};

fn path_key(value: &Val) -> Result<PathKey, String> {
    match value {
        Val::TStr(_) => Ok(PathKey::Field(value.clone())),
        Val::Num(n) => Ok(PathKey::Index(num_to_f64(n).trunc() as i64)),
        Val::Obj(bounds) => {
            let bound = |name: &str| match bounds.get(&Val::utf8_str(name.as_bytes().to_vec())) {
                None | Some(Val::Null) => Ok(None),
                Some(Val::Num(n)) => Ok(Some(num_to_f64(n))),
                Some(other) => Err(format!("Invalid slice bound {}", to_json_text(other))),
            };
            Ok(PathKey::Slice(bound("start")?, bound("end")?))
        }
        other => Err(format!("Invalid path component {}", to_json_text(other))),
    }
}

enum PathKey {
    Field(Val),
    Index(i64),
    /// `{start, end}` of a slice (open when absent).
    Slice(Option<f64>, Option<f64>),
}

/// The element range a slice covers in an array of `len` elements.
fn slice_range(start: Option<f64>, end: Option<f64>, len: usize) -> core::ops::Range<usize> {
    let clamp = |bound: Option<f64>, open: usize| match bound {
        None => open,
        Some(f) => {
            let f = f.floor();
            let position = if f < 0.0 { f + len as f64 } else { f };
            position.clamp(0.0, len as f64) as usize
        }
    };
    let from = clamp(start, 0);
    from..clamp(end, len).max(from)
}

/// jq's `setpath`: creates missing objects and arrays (null becomes `{}` or `[]`).
pub fn set_path(target: Val, path: &[Val], new_value: Val) -> Result<Val, String> {
    let Some((head, rest)) = path.split_first() else {
        return Ok(new_value);
    };
    match (path_key(head)?, target) {
        (PathKey::Field(key), Val::Null) => {
            let mut map = Map::default();
            map.insert(key, set_path(Val::Null, rest, new_value)?);
            Ok(Val::obj(map))
        }
        (PathKey::Field(key), Val::Obj(mut map)) => {
            let fields = Rc::make_mut(&mut map);
            let child = fields.get(&key).cloned().unwrap_or(Val::Null);
            fields.insert(key, set_path(child, rest, new_value)?);
            Ok(Val::Obj(map))
        }
        (PathKey::Index(index), Val::Null) => set_index(Vec::new(), index, rest, new_value),
        (PathKey::Index(index), Val::Arr(items)) => set_index(
            Rc::try_unwrap(items).unwrap_or_else(|rc| (*rc).clone()),
            index,
            rest,
            new_value,
        ),
        (PathKey::Field(key), other) => Err(format!(
            "Cannot index {} with \"{}\"",
            type_name(&other),
            text(&key).unwrap_or_default()
        )),
        (PathKey::Index(_), other) => {
            Err(format!("Cannot index {} with number", type_name(&other)))
        }
        (PathKey::Slice(start, end), target @ (Val::Null | Val::Arr(_))) => {
            let mut items = match target {
                Val::Arr(items) => Rc::try_unwrap(items).unwrap_or_else(|rc| (*rc).clone()),
                _ => Vec::new(),
            };
            let range = slice_range(start, end, items.len());
            let current = Val::Arr(Rc::new(items[range.clone()].to_vec()));
            match set_path(current, rest, new_value)? {
                Val::Arr(replacement) => {
                    items.splice(range, replacement.iter().cloned());
                    Ok(Val::Arr(Rc::new(items)))
                }
                other => Err(format!(
                    "A slice of an array can only be assigned another array, not {}",
                    type_name(&other)
                )),
            }
        }
        (PathKey::Slice(..), other) => {
            Err(format!("Cannot update a slice of {}", type_name(&other)))
        }
    }
}

fn set_index(mut items: Vec<Val>, index: i64, rest: &[Val], new_value: Val) -> Result<Val, String> {
    let position = if index < 0 {
        index + items.len() as i64
    } else {
        index
    };
    if position < 0 {
        return Err("Out of bounds negative array index".to_owned());
    }
    let position = position as usize;
    if position >= items.len() {
        items.resize(position + 1, Val::Null);
    }
    let child = std::mem::take(&mut items[position]);
    items[position] = set_path(child, rest, new_value)?;
    Ok(Val::Arr(Rc::new(items)))
}

pub fn delete_path(target: Val, path: &[Val]) -> Result<Val, String> {
    let Some((head, rest)) = path.split_first() else {
        return Ok(Val::Null);
    };
    match (path_key(head)?, target) {
        (_, Val::Null) => Ok(Val::Null),
        (PathKey::Field(key), Val::Obj(mut map)) => {
            let fields = Rc::make_mut(&mut map);
            if rest.is_empty() {
                fields.shift_remove(&key);
            } else if let Some(child) = fields.get(&key).cloned() {
                fields.insert(key, delete_path(child, rest)?);
            }
            Ok(Val::Obj(map))
        }
        (PathKey::Index(index), Val::Arr(mut items)) => {
            let list = Rc::make_mut(&mut items);
            let position = if index < 0 {
                index + list.len() as i64
            } else {
                index
            };
            if position >= 0 && (position as usize) < list.len() {
                let position = position as usize;
                if rest.is_empty() {
                    list.remove(position);
                } else {
                    let child = std::mem::take(&mut list[position]);
                    list[position] = delete_path(child, rest)?;
                }
            }
            Ok(Val::Arr(items))
        }
        (PathKey::Slice(start, end), Val::Arr(mut items)) if rest.is_empty() => {
            let list = Rc::make_mut(&mut items);
            let range = slice_range(start, end, list.len());
            list.drain(range);
            Ok(Val::Arr(items))
        }
        (_, other) => Err(format!("Cannot delete field of {}", type_name(&other))),
    }
}
