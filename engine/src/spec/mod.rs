//! The actions as data: one file per kind with its fields, short form, effect, summary and
//! problems, gathered in [`Action`]; what the loader reads, the compiler checks and the plan
//! shows. Running them is `actions`' business.

mod action;
mod argocd;
mod assert;
mod duration;
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
mod prometheus;
mod rds;
mod shell;
mod undo;
mod util;
mod wait;

pub use action::{Action, ActionKind, Effect};
pub use argocd::*;
pub use assert::AssertExpr;
pub use duration::{Duration, MAX_DURATION_SECS, MAX_DURATION_TEXT};
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
pub use undo::Undo;
pub use util::{Form, Num, ShortForm, with_lenient_numbers};
pub use wait::WaitFor;
