//! Compiling jq expressions once (jaq with jq 1.7 compatibility natives) and running them per
//! item. Owns the prelude (which standard definitions and natives a mapping sees) and the
//! sandbox: no process environment, no exit, no input, no files.
//!
//! The parts: `data` (what filters run on: [`MappingData`], [`RunData`], [`JqOptions`]),
//! `prelude` (the standard and compatibility definitions and the native table a program is
//! compiled with), `globals` (`$ENV`/`env` and `$__loc__`), `shortcuts` (programs simple enough
//! to compute without the interpreter) and `program` ([`JqProgram`]: compile and run).

mod data;
mod globals;
mod prelude;
mod program;
mod shortcuts;
#[cfg(test)]
mod tests;

pub use data::{JqOptions, MappingData, RunData};
pub use globals::build_env_val;
pub use program::{JqCompileError, JqProgram};
