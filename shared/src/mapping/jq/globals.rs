//! The global variables a mapping sees: `$ENV` and `env` (only the allow-list of
//! [`JqOptions`](super::JqOptions), never the process environment, built once per thread and
//! allow-list) and `$__loc__`.

use std::collections::BTreeMap;

use jaq_json::{Map, Val};

use crate::mapping::natives;

/// Global variables every program may use; their values come from
/// [`JqOptions`](super::JqOptions).
pub(super) const GLOBAL_VARS: [&str; 2] = ["$ENV", "$__loc__"];

thread_local! {
    /// `$__loc__`, built once per thread (jaq values are not `Send`).
    pub(super) static LOCATION: Val = natives::location_val();
    /// The last `env` value built on this thread, with the allow-list it came from.
    static ENV_CACHE: std::cell::RefCell<Option<(BTreeMap<String, String>, Val)>> =
        const { std::cell::RefCell::new(None) };
}

pub(super) fn env_val(allow_list: &BTreeMap<String, String>) -> Val {
    ENV_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((cached_list, cached)) = cache.as_ref()
            && cached_list == allow_list
        {
            return cached.clone();
        }
        let built = build_env_val(allow_list);
        *cache = Some((allow_list.clone(), built.clone()));
        built
    })
}

/// The `env`/`$ENV` value for an allow-list.
pub fn build_env_val(allow_list: &BTreeMap<String, String>) -> Val {
    let mut map = Map::default();
    for (name, value) in allow_list {
        map.insert(
            Val::utf8_str(name.clone().into_bytes()),
            Val::utf8_str(value.clone().into_bytes()),
        );
    }
    Val::obj(map)
}
