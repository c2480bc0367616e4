//! A compiled jq expression ([`JqProgram`]): compiled once (recursive definitions refused, the
//! prelude cut to what it calls, errors as [`JqCompileError`]) and run on many inputs, through a
//! shortcut when the program is simple enough, else the interpreter.

use std::collections::BTreeMap;

use jaq_core::compile::Undefined;
use jaq_core::load::{self, Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars};
use jaq_json::Val;

use super::data::{JqOptions, MappingData, RunData};
use super::globals::{GLOBAL_VARS, LOCATION, env_val};
use super::prelude::{native_table, prelude_for};
use super::shortcuts::{
    ConcatPart, alternative, alternative_form, concat, concat_form, lookup, plain_path,
};
use crate::mapping::jqval::JqVal;
use crate::mapping::natives;

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
    pub(super) path: Option<Vec<String>>,
    /// A program that adds plain paths and string literals (`.__repository + "-" + .name`):
    /// computed directly while every operand is a string or null.
    pub(super) concat: Option<Vec<ConcatPart>>,
    /// A program that is a `//` chain of plain paths and string literals (`.name // .login`).
    alternatives: Option<Vec<ConcatPart>>,
}

impl std::fmt::Debug for JqProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JqProgram").finish_non_exhaustive()
    }
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
            .and_then(crate::mapping::recursion::first_recursive_definition)
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
            .map(|value| {
                crate::mapping::value::val_to_json(&crate::mapping::value::json_to_val(&value))
            });
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
