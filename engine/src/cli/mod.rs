//! The command line: clap definitions and one module per subcommand, each with an `exec`.

mod app;
mod approve;
mod audit;
mod common;
mod completions;
mod contacts;
mod list;
mod plan;
mod preflight;
mod report;
mod resume;
mod rollback;
mod run;
mod runs;
mod schedule;
mod scheduler;
mod schema;
mod session;
mod show;
mod validate;

pub use app::{Cli, main};
pub use schema::{playbook_schema, workspace_schema};
