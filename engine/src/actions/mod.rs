//! Running actions: what an action runs with ([`ActionCx`]) and gives back ([`Outcome`]), and
//! each kind's `execute`, one file each. What an action *is* lives in `spec`.

mod assert;
mod cx;
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

pub use cx::{ActionCx, Outcome, cut_short};

use process_run::process_outcome;
