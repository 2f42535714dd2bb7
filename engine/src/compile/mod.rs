//! Raw playbook → checked [`Playbook`]: params, vars, templates, references, gates, lints.

mod compiler;
mod env;
mod lint;
mod model;
mod params;
mod refs;
mod subplaybook;
pub mod template;

pub use compiler::{Compiled, Options, compile, compile_for};
pub use env::{IMPLICIT_ENV, all as all_envs, select as select_env};
pub use lint::LINTS;
pub use model::*;
pub use params::{WrittenPart, WrittenProblem, check_written as check_written_params};
pub use subplaybook::check as check_subplaybooks;
