//! Raw playbook → checked [`Playbook`]: params, vars, templates, references, gates, lints.

mod compiler;
mod env;
mod lint;
mod model;
mod params;
mod refs;
pub mod template;

pub use compiler::{Compiled, Options, compile, compile_for};
pub use env::{IMPLICIT_ENV, all as all_envs, select as select_env};
pub use lint::LINTS;
pub use model::*;
