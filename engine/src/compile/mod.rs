//! Raw playbook → checked [`Playbook`]: params, vars, templates, references, gates, lints,
//! and the seal: sub-playbooks compiled in, the files a run reads hashed.

mod action;
mod compiler;
mod context;
pub mod dag;
mod env;
mod escalate;
mod gates;
mod graph;
mod guards;
mod lint;
mod measures;
mod model;
mod params;
mod refs;
mod rollback;
mod seal;
mod steps;
mod subplaybook;

pub use compiler::{Compiled, Options, compile, compile_for};
pub use env::{IMPLICIT_ENV, all as all_envs, select as select_env};
pub use lint::LINTS;
pub use model::*;
pub use params::{WrittenPart, WrittenProblem, check_written as check_written_params};
pub use seal::{MAX_DEPTH, Sealed, SubCompiled, changed_files, check_sealed, file_sha256, sealed_of, sealed_path};
pub use subplaybook::check as check_subplaybooks;
