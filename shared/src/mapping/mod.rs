//! The mapping engine: Port's `port-app-config` (resources, selectors, jq mappings) compiled once
//! and applied to raw GitHub objects, with jq 1.7 semantics. It does no I/O.

mod dates;
pub mod jq;
mod natives;
mod regex;
pub mod value;

pub use jq::{JqCompileError, JqOptions, JqProgram};
