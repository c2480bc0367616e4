//! The definitions and natives a program is compiled with: jaq's standard definitions minus
//! those `compat.jq` and our natives replace, parsed once per process and cut down to what a
//! program can reach; and the native table (ours first, then jaq's, minus those withheld).

use std::collections::BTreeSet;

use jaq_core::load;
use jaq_core::load::parse::Term;

use super::data::MappingData;
use super::program::JqCompileError;
use crate::mapping::natives::{self, REPLACED_NATIVES};

pub(super) fn compat_defs() -> Option<Vec<load::parse::Def<&'static str>>> {
    load::parse(include_str!("../compat.jq"), |p| p.defs())
}

type PreludeDef = load::parse::Def<&'static str>;

/// The standard definitions plus ours, parsed once per process.
static PRELUDE: std::sync::OnceLock<Option<Vec<PreludeDef>>> = std::sync::OnceLock::new();

pub(super) fn full_prelude() -> Result<&'static [PreludeDef], JqCompileError> {
    PRELUDE
        .get_or_init(|| build_prelude().ok())
        .as_deref()
        .ok_or(JqCompileError::Prelude)
}

/// The prelude definitions a program can reach from the filters it calls: compiling only those
/// keeps compilation (cold starts) fast. Without a syntax tree, the whole prelude.
pub(super) fn prelude_for(term: Option<&Term<&str>>) -> Result<Vec<PreludeDef>, JqCompileError> {
    let full = full_prelude()?;
    let Some(term) = term else {
        return Ok(full.to_vec());
    };
    let mut needed = BTreeSet::new();
    crate::mapping::recursion::called_names(term, &mut needed);
    loop {
        let before = needed.len();
        let mut reached = BTreeSet::new();
        for def in full.iter().filter(|def| needed.contains(def.name)) {
            crate::mapping::recursion::called_names(&def.body, &mut reached);
        }
        needed.extend(reached);
        if needed.len() == before {
            break;
        }
    }
    Ok(full
        .iter()
        .filter(|def| needed.contains(def.name))
        .cloned()
        .collect())
}

fn build_prelude() -> Result<Vec<PreludeDef>, JqCompileError> {
    let compat = compat_defs().ok_or(JqCompileError::Prelude)?;
    let native_signatures: Vec<(&str, usize)> = natives::natives()
        .iter()
        .map(|(name, args, _)| (*name, args.len()))
        .collect();
    let overridden = |name: &str, arity: usize| {
        compat
            .iter()
            .any(|d| d.name == name && d.args.len() == arity)
            || native_signatures.contains(&(name, arity))
            || matches!(
                name,
                "capture_of_match" | "scan_" | "matches" | "split_matches" | "split_"
            )
            || (name == "split" && arity == 2)
    };
    let standard = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs())
        .filter(|d| !overridden(d.name, d.args.len()));
    Ok(standard.chain(compat.iter().cloned()).collect())
}

pub(super) fn native_table() -> Vec<jaq_core::native::Fun<MappingData>> {
    let mut ours = natives::natives();
    ours.extend(crate::mapping::builtins::builtins());
    let theirs = jaq_core::funs::<MappingData>()
        .chain(jaq_std::funs::<MappingData>())
        .filter(|(name, args, _)| {
            let arity = args.len();
            !REPLACED_NATIVES.contains(&(*name, arity))
                && !ours.iter().any(|(n, a, _)| n == name && a.len() == arity)
        })
        .collect::<Vec<_>>();
    ours.into_iter().chain(theirs).collect()
}
