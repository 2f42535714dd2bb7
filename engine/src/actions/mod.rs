//! Running actions: each kind's `execute`, one file each, and `Action::execute`, which hands
//! an action to its kind (the Kubernetes client among them). What an action *is* lives in
//! `spec`; what it runs with and gives back, in `cx`.

mod assert;
mod exec;
mod execute;
mod http;
mod input;
mod log;
mod manual;
mod notify;
pub(crate) mod process_run;
mod prometheus;
#[cfg(feature = "aws")]
mod rds_client;
mod shell;
mod simple_command;
mod wait;

// Every kind's runtime speaks these; re-exported for callers that run actions.
pub use crate::cx::{ActionCx, Outcome, cut_short};

use process_run::process_outcome;
