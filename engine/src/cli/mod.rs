//! The command line: clap definitions and one module per subcommand, each with an `exec`.

mod app;
mod common;
mod completions;
mod list;
mod plan;
mod run;
mod schema;
mod show;
mod validate;

pub use app::{Cli, main};
pub use schema::{playbook_schema, workspace_schema};
