//! Compiling jq expressions once (jaq with jq 1.7 compatibility natives) and running them per
//! item. Owns the prelude (which standard definitions and natives a mapping sees) and the
//! sandbox: no process environment, no exit, no input, no files.

use std::collections::{BTreeMap, BTreeSet};

use jaq_core::compile::Undefined;
use jaq_core::data::HasLut;
use jaq_core::load::parse::Term;
use jaq_core::load::{self, Arena, File, Loader};
use jaq_core::{Compiler, Ctx, DataT, Vars};
use jaq_json::{Map, Val};

use super::jqval::JqVal;
use super::natives::{self, REPLACED_NATIVES};

/// What a mapping may see of the world.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JqOptions {
    /// The variables `$ENV` and `env` expose; empty by default (never the process environment).
    pub env_allow_list: BTreeMap<String, String>,
}

/// Marker for the data jaq filters run on in mappings.
pub struct MappingData;

/// What every run carries: the compiled lookup table and what `env` may expose.
#[derive(Clone)]
pub struct RunData<'a> {
    lut: &'a jaq_core::Lut<MappingData>,
    /// The variables `env` and `$ENV` expose.
    pub env_allow_list: &'a BTreeMap<String, String>,
}

impl DataT for MappingData {
    type V<'a> = JqVal;
    type Data<'a> = RunData<'a>;
}

impl<'a> HasLut<'a, MappingData> for RunData<'a> {
    fn lut(&self) -> &'a jaq_core::Lut<MappingData> {
        self.lut
    }
}

/// Why an expression does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JqCompileError {
    /// The text is not valid jq.
    #[error("syntax error at offset {offset}: expected {expected}, found {found:?}")]
    Syntax {
        /// Byte offset in the expression.
        offset: usize,
        /// What the parser expected there.
        expected: String,
        /// The text found there.
        found: String,
    },
    /// A filter, variable or module that does not exist (or is not allowed in mappings).
    #[error("undefined {what} `{name}`")]
    Undefined {
        /// `filter`, `variable`, `module` or `label`.
        what: &'static str,
        /// The name as written (with its arity for filters).
        name: String,
    },
    /// The expression defines a function that calls itself (deep recursion would overflow the
    /// native stack and abort the process).
    #[error(
        "recursive definition `{name}/{arity}` is not allowed in a mapping (use recurse, walk or paths)"
    )]
    Recursive {
        /// Name of the function.
        name: String,
        /// Its number of arguments.
        arity: usize,
    },
    /// The engine's own prelude failed to load: a bug in this crate, not in the mapping.
    #[error("internal error: the jq prelude does not parse")]
    Prelude,
}

/// Global variables every program may use; their values come from [`JqOptions`].
const GLOBAL_VARS: [&str; 2] = ["$ENV", "$__loc__"];

/// A compiled jq expression: compile once, run on many inputs, from many threads.
pub struct JqProgram {
    filter: jaq_core::Filter<MappingData>,
    env_allow_list: BTreeMap<String, String>,
    /// Whether the program mentions `$ENV` or `$__loc__` (only then are they bound per run).
    uses_global_vars: bool,
    /// The value of a program that is a JSON scalar literal (`"githubUser"`, `true`, `3`).
    constant: Option<serde_json::Value>,
    /// The keys of a program that is a plain path (`.`, `.name`, `.commit.sha`): looked up
    /// directly, without running the interpreter.
    path: Option<Vec<String>>,
    /// A program that adds plain paths and string literals (`.__repository + "-" + .name`):
    /// computed directly while every operand is a string or null.
    concat: Option<Vec<ConcatPart>>,
    /// A program that is a `//` chain of plain paths and string literals (`.name // .login`).
    alternatives: Option<Vec<ConcatPart>>,
}

/// One operand of a [`JqProgram::concat`] program.
#[derive(Debug, Clone, PartialEq)]
enum ConcatPart {
    Path(Vec<String>),
    Text(String),
    /// `(.path | tostring)`, computed for strings and exact integers only.
    ToString(Vec<String>),
    /// `(.a // .b // "x")`: the first operand that is neither null nor false.
    Alternative(Vec<ConcatPart>),
}

/// `.a // .b // "x"` → its operands (plain paths or string literals), at least two.
fn alternative_form(code: &str) -> Option<Vec<ConcatPart>> {
    if code.contains('\\') || code.contains('|') || code.contains('+') {
        return None;
    }
    let pieces: Vec<&str> = code.split("//").collect();
    if pieces.len() < 2 {
        return None;
    }
    pieces
        .iter()
        .map(|piece| simple_operand(piece.trim()))
        .collect()
}

/// A plain path or a string literal without escapes or quotes inside.
fn simple_operand(piece: &str) -> Option<ConcatPart> {
    match piece
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    {
        Some(text) if !text.contains('"') => Some(ConcatPart::Text(text.to_owned())),
        Some(_) => None,
        None => plain_path(piece).map(ConcatPart::Path),
    }
}

/// The value of a `//` chain, or `None` to let the interpreter decide (a step that errors: jq's
/// `//` would swallow the error, which only the interpreter reproduces exactly).
fn alternative<'v>(parts: &'v [ConcatPart], input: &'v Val) -> Option<Val> {
    let (last, rest) = parts.split_last()?;
    for part in rest {
        let value = match part {
            ConcatPart::Path(keys) => lookup(input, keys)?.clone(),
            ConcatPart::Text(text) => Val::utf8_str(text.as_bytes().to_vec()),
            _ => return None,
        };
        if !matches!(value, Val::Null | Val::Bool(false)) {
            return Some(value);
        }
    }
    match last {
        ConcatPart::Path(keys) => lookup(input, keys).cloned(),
        ConcatPart::Text(text) => Some(Val::utf8_str(text.as_bytes().to_vec())),
        _ => None,
    }
}

/// `(.a.b | tostring)` → the path.
fn tostring_of_path(piece: &str) -> Option<Vec<String>> {
    let inner = piece.strip_prefix('(')?.strip_suffix(')')?;
    let (path, call) = inner.split_once('|')?;
    (call.trim() == "tostring")
        .then(|| plain_path(path))
        .flatten()
}

/// `.a + "-" + .b` → its operands; `None` unless every operand is a plain path or a string
/// literal without escapes, and there are at least two.
fn concat_form(code: &str) -> Option<Vec<ConcatPart>> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut in_string = false;
    for c in code.chars() {
        match c {
            '\\' => return None,
            '"' => {
                in_string = !in_string;
                current.push(c);
            }
            '+' if !in_string => pieces.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    if in_string {
        return None;
    }
    pieces.push(current);
    if pieces.len() < 2 {
        return None;
    }
    pieces
        .iter()
        .map(|piece| {
            let piece = piece.trim();
            match piece
                .strip_prefix('"')
                .and_then(|rest| rest.strip_suffix('"'))
            {
                Some(text) if !text.contains('"') => Some(ConcatPart::Text(text.to_owned())),
                Some(_) => None,
                None => plain_path(piece)
                    .map(ConcatPart::Path)
                    .or_else(|| tostring_of_path(piece).map(ConcatPart::ToString))
                    .or_else(|| {
                        let inner = piece.strip_prefix('(')?.strip_suffix(')')?;
                        alternative_form(inner).map(ConcatPart::Alternative)
                    }),
            }
        })
        .collect()
}

/// The value at `keys` as jq's `.a.b` gives it, or `None` when a step indexes something that is
/// neither an object nor null (the interpreter then reports jq's error).
fn lookup<'v>(input: &'v Val, keys: &[String]) -> Option<&'v Val> {
    let mut current = input;
    for key in keys {
        current = match current {
            Val::Obj(fields) => fields
                .get(&Val::utf8_str(key.as_bytes().to_vec()))
                .unwrap_or(&Val::Null),
            Val::Null => &Val::Null,
            _ => return None,
        };
    }
    Some(current)
}

/// jq's `a + b + …` over strings and nulls (null is the identity of `+`); `None` for any other
/// operand type, which the interpreter then handles.
fn concat(parts: &[ConcatPart], input: &Val) -> Option<Val> {
    let mut out: Option<Vec<u8>> = None;
    for part in parts {
        let number_text;
        let alternative_value;
        let bytes: Option<&[u8]> = match part {
            ConcatPart::ToString(keys) => match lookup(input, keys)? {
                Val::TStr(bytes) => Some(bytes),
                // jq prints integers below 2^53 as plain digits; anything else (floats, huge
                // integers, null, containers) goes to the interpreter's own `tostring`.
                Val::Num(jaq_json::Num::Int(i)) if i.unsigned_abs() <= (1 << 53) => {
                    number_text = i.to_string();
                    Some(number_text.as_bytes())
                }
                _ => return None,
            },
            ConcatPart::Alternative(options) => {
                alternative_value = alternative(options, input)?;
                match &alternative_value {
                    Val::TStr(bytes) => Some(bytes),
                    Val::Null => None,
                    _ => return None,
                }
            }
            ConcatPart::Text(text) => Some(text.as_bytes()),
            ConcatPart::Path(keys) => match lookup(input, keys)? {
                Val::TStr(bytes) => Some(bytes),
                Val::Null => None,
                _ => return None,
            },
        };
        if let Some(bytes) = bytes {
            out.get_or_insert_with(Vec::new).extend_from_slice(bytes);
        }
    }
    Some(out.map_or(Val::Null, Val::utf8_str))
}

/// `.a.b_c` → `["a", "b_c"]`; `.` → `[]`; anything else (brackets, `?`, quoting, pipes) → `None`.
fn plain_path(code: &str) -> Option<Vec<String>> {
    let code = code.trim();
    if code == "." {
        return Some(Vec::new());
    }
    let rest = code.strip_prefix('.')?;
    rest.split('.')
        .map(|key| {
            let mut chars = key.chars();
            let first_ok = chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
            (first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_'))
                .then(|| key.to_owned())
        })
        .collect()
}

thread_local! {
    /// `$__loc__`, built once per thread (jaq values are not `Send`).
    static LOCATION: Val = natives::location_val();
    /// The last `env` value built on this thread, with the allow-list it came from.
    static ENV_CACHE: std::cell::RefCell<Option<(BTreeMap<String, String>, Val)>> =
        const { std::cell::RefCell::new(None) };
}

impl std::fmt::Debug for JqProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JqProgram").finish_non_exhaustive()
    }
}

fn compat_defs() -> Option<Vec<load::parse::Def<&'static str>>> {
    load::parse(include_str!("compat.jq"), |p| p.defs())
}

type PreludeDef = load::parse::Def<&'static str>;

/// The standard definitions plus ours, parsed once per process.
static PRELUDE: std::sync::OnceLock<Option<Vec<PreludeDef>>> = std::sync::OnceLock::new();

fn full_prelude() -> Result<&'static [PreludeDef], JqCompileError> {
    PRELUDE
        .get_or_init(|| build_prelude().ok())
        .as_deref()
        .ok_or(JqCompileError::Prelude)
}

/// The prelude definitions a program can reach from the filters it calls: compiling only those
/// keeps compilation (cold starts) fast. Without a syntax tree, the whole prelude.
fn prelude_for(term: Option<&Term<&str>>) -> Result<Vec<PreludeDef>, JqCompileError> {
    let full = full_prelude()?;
    let Some(term) = term else {
        return Ok(full.to_vec());
    };
    let mut needed = BTreeSet::new();
    super::recursion::called_names(term, &mut needed);
    loop {
        let before = needed.len();
        let mut reached = BTreeSet::new();
        for def in full.iter().filter(|def| needed.contains(def.name)) {
            super::recursion::called_names(&def.body, &mut reached);
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

fn native_table() -> Vec<jaq_core::native::Fun<MappingData>> {
    let mut ours = natives::natives();
    ours.extend(super::builtins::builtins());
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

fn env_val(allow_list: &BTreeMap<String, String>) -> Val {
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

fn describe_lex(expect: &load::lex::Expect<&str>) -> String {
    use load::lex::Expect;
    match expect {
        Expect::Digit => "digit".to_owned(),
        Expect::Ident => "identifier".to_owned(),
        Expect::Delim(open) => format!("closing delimiter for {open}"),
        Expect::Escape => "string escape sequence".to_owned(),
        Expect::Unicode => "4-digit hexadecimal code point".to_owned(),
        Expect::Token => "token".to_owned(),
        _ => "valid token".to_owned(),
    }
}

impl JqProgram {
    /// Compiles `code` once; the result is `Send + Sync` and runs on any number of inputs.
    pub fn compile(code: &str, options: &JqOptions) -> Result<Self, JqCompileError> {
        let term = load::parse(code, |p| p.term());
        if let Some((name, arity)) = term
            .as_ref()
            .and_then(super::recursion::first_recursive_definition)
        {
            return Err(JqCompileError::Recursive {
                name: name.to_owned(),
                arity,
            });
        }
        let arena = Arena::default();
        let loader = Loader::new(prelude_for(term.as_ref())?);
        let modules = loader
            .load(&arena, File { code, path: () })
            .map_err(|errors| {
                let syntax = |expected: String, found: &str| JqCompileError::Syntax {
                    offset: load::span(code, found).start,
                    expected,
                    found: found.chars().take(20).collect(),
                };
                match errors.into_iter().next().map(|(_file, error)| error) {
                    Some(load::Error::Lex(lex)) => match lex.first() {
                        Some((expect, found)) => syntax(describe_lex(expect), found),
                        None => syntax("valid jq".to_owned(), ""),
                    },
                    Some(load::Error::Parse(parse)) => match parse.first() {
                        Some((expect, found)) => syntax(expect.as_str().to_owned(), found),
                        None => syntax("valid jq".to_owned(), ""),
                    },
                    Some(load::Error::Io(_)) => JqCompileError::Undefined {
                        what: "module",
                        name: "import (mappings cannot load modules)".to_owned(),
                    },
                    _ => syntax("valid jq".to_owned(), ""),
                }
            })?;
        let uses_global_vars = GLOBAL_VARS.iter().any(|name| code.contains(name));
        let global_vars: &[&str] = if uses_global_vars { &GLOBAL_VARS } else { &[] };
        let filter = Compiler::default()
            .with_funs(native_table())
            .with_global_vars(global_vars.iter().copied())
            .compile(modules)
            .map_err(|errors| {
                let undefined = errors.into_iter().flat_map(|(_file, list)| list).next();
                match undefined {
                    Some((name, kind)) => JqCompileError::Undefined {
                        what: kind.as_str(),
                        name: match kind {
                            Undefined::Filter(arity) => format!("{name}/{arity}"),
                            _ => name.to_owned(),
                        },
                    },
                    None => JqCompileError::Prelude,
                }
            })?;
        let constant = serde_json::from_str::<serde_json::Value>(code.trim())
            .ok()
            .filter(|value| !value.is_array() && !value.is_object())
            // Printed as jq prints it (e.g. `1.0` as `1`).
            .map(|value| super::value::val_to_json(&super::value::json_to_val(&value)));
        Ok(Self {
            filter,
            env_allow_list: options.env_allow_list.clone(),
            uses_global_vars,
            constant,
            path: plain_path(code),
            concat: concat_form(code),
            alternatives: alternative_form(code.trim()),
        })
    }

    /// The program's only output when it is a JSON scalar literal: no need to run it.
    pub fn constant(&self) -> Option<&serde_json::Value> {
        self.constant.as_ref()
    }

    fn context(&self) -> Ctx<'_, MappingData> {
        let data = RunData {
            lut: &self.filter.lut,
            env_allow_list: &self.env_allow_list,
        };
        let vars = if self.uses_global_vars {
            Vars::new([
                JqVal(env_val(&self.env_allow_list)),
                JqVal(LOCATION.with(Val::clone)),
            ])
        } else {
            Vars::new([])
        };
        Ctx::new(data, vars)
    }

    /// Runs the program and returns its first output (`None` when it yields nothing), or the
    /// error jq would report.
    pub fn first(&self, input: Val) -> Result<Option<Val>, String> {
        if let Some(keys) = &self.path
            && let Some(found) = lookup(&input, keys)
        {
            return Ok(Some(found.clone()));
        }
        if let Some(parts) = &self.concat
            && let Some(joined) = concat(parts, &input)
        {
            return Ok(Some(joined));
        }
        if let Some(options) = &self.alternatives
            && let Some(chosen) = alternative(options, &input)
        {
            return Ok(Some(chosen));
        }
        let ctx = self.context();
        match self.filter.id.run((ctx, JqVal(input))).next() {
            None => Ok(None),
            Some(Ok(value)) => Ok(Some(value.0)),
            Some(Err(exn)) => Err(natives::exception_message(exn)),
        }
    }

    /// Runs the program and collects every output (stopping at the first error).
    pub fn all(&self, input: Val) -> Result<Vec<Val>, String> {
        let ctx = self.context();
        self.filter
            .id
            .run((ctx, JqVal(input)))
            .map(|result| {
                result
                    .map(|value| value.0)
                    .map_err(natives::exception_message)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::value::{json_to_val, val_to_json};
    use serde_json::{Value, json};

    #[test]
    fn plain_paths_take_the_fast_path_and_agree_with_the_interpreter() {
        assert!(plain_path(".").is_some_and(|p| p.is_empty()));
        assert_eq!(plain_path(".commit.sha").map(|p| p.len()), Some(2));
        for not_plain in [
            ".a[0]",
            ".a?",
            ".\"a b\"",
            ".a | .b",
            "..",
            ".a.",
            ".1a",
            ".a-b",
            "$x",
            ".a.b // 1",
        ] {
            assert!(plain_path(not_plain).is_none(), "{not_plain}");
        }
        let inputs = [
            json!({"a": {"b": 1}}),
            json!({"a": null}),
            json!({"a": 5}),
            json!({}),
            json!(null),
            json!([1]),
            json!({"a": {"b": [1, {"c": 2}]}}),
        ];
        assert_eq!(concat_form(r#".a + "-" + .b"#).map(|p| p.len()), Some(3));
        for not_concat in [
            ".a",
            r#".a + "\\n""#,
            r#".a + "x"#,
            ".a - .b",
            ".a + .b[0]",
            r#""a+b""#,
        ] {
            assert!(concat_form(not_concat).is_none(), "{not_concat}");
        }
        let inputs = [
            inputs.as_slice(),
            &[
                json!({"a": "x", "b": "y"}),
                json!({"a": null, "b": "y"}),
                json!({"a": null, "b": null}),
                json!({"a": 1, "b": "y"}),
                json!({"a": "x", "b": [1]}),
                json!({"a": {"b": "ü+"}, "b": "y"}),
                json!({"b": "r", "n": 42}),
                json!({"b": "r", "n": -7}),
                json!({"b": "r", "n": 1.5}),
                json!({"b": "r", "n": 1e21}),
                json!({"b": "r", "n": 9007199254740993u64}),
                json!({"b": "r", "n": null}),
                json!({"a": {"b": 3}, "n": [1]}),
                json!({"a": false, "b": "y", "x": false}),
                json!({"a": "", "b": "y", "x": null}),
                json!({"a": {"b": false}, "n": false}),
            ],
        ]
        .concat();
        for code in [
            ".",
            ".a",
            ".a.b",
            ".a.b.c",
            ".__repository",
            r#".a + "-" + .b"#,
            ".a + .b",
            r#""p/" + .a.b"#,
            r#".a+"+""#,
        ] {
            let fast = JqProgram::compile(code, &JqOptions::default()).unwrap();
            // The same expression, forced through the interpreter.
            let slow = JqProgram::compile(&format!("({code})"), &JqOptions::default()).unwrap();
            assert!(
                (fast.path.is_some() || fast.concat.is_some())
                    && slow.path.is_none()
                    && slow.concat.is_none()
            );
            for input in &inputs {
                let a = fast
                    .first(json_to_val(input))
                    .map(|v| v.map(|v| val_to_json(&v)));
                let b = slow
                    .first(json_to_val(input))
                    .map(|v| v.map(|v| val_to_json(&v)));
                assert_eq!(a, b, "{code} on {input}");
            }
        }
    }

    fn run(code: &str, input: Value) -> Result<Vec<Value>, String> {
        let program = JqProgram::compile(code, &JqOptions::default()).map_err(|e| e.to_string())?;
        program
            .all(json_to_val(&input))
            .map(|values| values.iter().map(val_to_json).collect())
    }

    #[test]
    fn compiled_programs_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<JqProgram>();
    }

    #[test]
    fn the_prelude_parses() {
        assert!(compat_defs().is_some());
        assert!(full_prelude().is_ok());
    }

    #[test]
    fn the_prelude_holds_only_what_a_program_reaches() {
        let parse = |code| load::parse(code, |p| p.term()).expect("parses");
        assert!(prelude_for(Some(&parse(".a"))).expect("prelude").is_empty());
        let names: Vec<_> = prelude_for(Some(&parse("to_entries | map(.key)")))
            .expect("prelude")
            .iter()
            .map(|d| d.name)
            .collect();
        assert!(
            names.contains(&"to_entries") && names.contains(&"map"),
            "{names:?}"
        );
        assert!(!names.contains(&"walk"), "{names:?}");
        assert_eq!(
            run("@base64 \"x\\(.)\"", json!("hi")),
            Ok(vec![json!("xaGk=")])
        );
    }

    #[test]
    fn env_is_empty_unless_allowed() {
        // SAFETY-free check: the test process certainly has PATH set.
        assert_eq!(run("env", json!(null)), Ok(vec![json!({})]));
        assert_eq!(run("$ENV", json!(null)), Ok(vec![json!({})]));
        let options = JqOptions {
            env_allow_list: BTreeMap::from([("STAGE".to_owned(), "prod".to_owned())]),
        };
        let program =
            JqProgram::compile("$ENV.STAGE, env.STAGE, $ENV.PATH", &options).expect("compiles");
        let out: Vec<Value> = program
            .all(Val::Null)
            .expect("runs")
            .iter()
            .map(val_to_json)
            .collect();
        assert_eq!(out, vec![json!("prod"), json!("prod"), json!(null)]);
    }

    #[test]
    fn nothing_reaches_the_process() {
        assert!(run("halt", json!(1)).is_err());
        assert!(run("halt_error", json!("bye")).is_err());
        assert!(run("\"x\" | halt_error(1)", json!(null)).is_err());
        assert_eq!(run("debug | stderr | . + 1", json!(1)), Ok(vec![json!(2)]));
        assert!(run("input", json!(1)).is_err());
        assert_eq!(run("[inputs]", json!(1)), Ok(vec![json!([])]));
        assert!(JqProgram::compile("import \"x\" as x; .", &JqOptions::default()).is_err());
        assert!(JqProgram::compile("$__prog_args", &JqOptions::default()).is_err());
        // Endless recursion would overflow the native stack and abort the process.
        assert_eq!(
            JqProgram::compile("def f: 1 + f; f", &JqOptions::default()).map(|_| ()),
            Err(JqCompileError::Recursive {
                name: "f".to_owned(),
                arity: 0
            })
        );
        assert_eq!(
            run("$__loc__", json!(null)),
            Ok(vec![json!({"file": "<top-level>", "line": 1})])
        );
    }

    #[test]
    fn scalar_literals_are_constants() {
        let options = JqOptions::default();
        let literal = JqProgram::compile(" \"githubUser\" ", &options).expect("compiles");
        assert_eq!(literal.constant(), Some(&json!("githubUser")));
        assert_eq!(
            JqProgram::compile("true", &options)
                .expect("compiles")
                .constant(),
            Some(&json!(true))
        );
        assert_eq!(
            JqProgram::compile(".a", &options)
                .expect("compiles")
                .constant(),
            None
        );
        assert_eq!(
            JqProgram::compile("[1]", &options)
                .expect("compiles")
                .constant(),
            None
        );
    }

    #[test]
    fn syntax_errors_say_where() {
        let error = JqProgram::compile(".a | ", &JqOptions::default()).expect_err("invalid");
        assert!(matches!(error, JqCompileError::Syntax { .. }), "{error}");
        let error =
            JqProgram::compile("nosuchfilter(1)", &JqOptions::default()).expect_err("invalid");
        assert_eq!(
            error,
            JqCompileError::Undefined {
                what: "filter",
                name: "nosuchfilter/1".to_owned()
            }
        );
    }

    #[test]
    fn port_default_regexes_and_dates_work() {
        let creator = r#"gsub("\\["; "-") | gsub("\\](?=[^$])"; "-") | gsub("\\]$"; "")"#;
        assert_eq!(
            run(creator, json!("dependabot[bot]")),
            Ok(vec![json!("dependabot-bot")])
        );
        let lead = r#"sub("\\..*Z$"; "Z") | strptime("%Y-%m-%dT%H:%M:%SZ") | mktime"#;
        assert_eq!(
            run(lead, json!("2015-03-05T23:51:47.123Z")),
            Ok(vec![json!(1425599507)])
        );
    }
}
