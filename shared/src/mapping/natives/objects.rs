//! Natives that build objects and paths: `setpath`, `delpaths` (resolved against the input,
//! longest and last first) and jq 1.7's lenient `from_entries`.

use jaq_core::Cv;
use jaq_json::{Map, Val};

use super::support::{Out, date_result, fail, ok, string_val, type_name};
use crate::mapping::jq::MappingData;
use crate::mapping::paths::{delete_path, set_path};
use crate::mapping::value::to_json_text;

pub(super) fn setpath_native(mut cv: Cv<'_, MappingData>) -> Out<'_> {
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
pub(super) fn delpaths_native(mut cv: Cv<'_, MappingData>) -> Out<'_> {
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

fn entry_field(entry: &Map<Val, Val>, name: &str) -> Option<Val> {
    entry.get(&string_val(name)).cloned()
}

/// jq 1.7's `from_entries`: keys (strings) from `key`, `k`, `name`, `Name`, `K` or `Key`;
/// values from `value`, `v` or `Value`.
pub(super) fn from_entries_native(cv: Cv<'_, MappingData>) -> Out<'_> {
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
