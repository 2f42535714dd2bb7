//! The action kinds: one file each, behind the [`ActionKind`] trait, gathered in [`Action`].

mod argocd;
mod assert;
mod cx;
mod exec;
mod fields;
mod http;
mod input;
mod k8s;
mod k8s_kinds;
mod log;
mod manual;
mod notify;
mod playbook;
pub(crate) mod process_run;
mod prometheus;
mod rds;
#[cfg(feature = "aws")]
mod rds_client;
mod shell;
mod simple_command;
mod spec;
mod util;
mod wait;

pub use argocd::*;
pub use assert::AssertExpr;
pub use cx::{ActionCx, Outcome, Undo, cut_short};
pub use exec::ExecSpec;
pub use fields::FieldRole;
pub use http::{HttpMethod, HttpSpec};
pub use input::InputSpec;
pub use k8s::*;
pub use k8s_kinds::{KINDS, KindInfo};
pub use k8s_kinds::{by_api_version as kind_by_api_version, lookup as lookup_kind};
pub use log::LogLine;
pub use manual::ManualSpec;
pub use notify::NotifySpec;
pub use playbook::SubPlaybookSpec;
pub use prometheus::{Aggregate, PrometheusSpec};
pub use rds::*;
pub use shell::ShellSpec;
pub use spec::{Action, ActionKind, Effect};
pub use util::{Form, Num, ShortForm, with_lenient_numbers};
pub use wait::WaitFor;

use process_run::process_outcome;
