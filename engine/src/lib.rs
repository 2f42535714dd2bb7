//! `runbook`: executable runbooks. YAML playbooks compile into a step DAG and a plan.
//!
//! Data flows one way: YAML text → [`playbook::RawPlaybook`] → [`compile::Playbook`] →
//! [`plan::Plan`]; each arrow is a type boundary.

// Diagnostics are large (message, location, help) and live only on the error path, where
// their size costs nothing worth boxing for.
#![allow(clippy::result_large_err)]

pub mod actions;
pub mod approve;
pub mod cli;
pub mod compile;
pub mod cx;
pub mod error;
pub mod event;
pub mod exec;
pub mod expr;
#[doc(hidden)]
pub mod fuzzing;
pub mod identity;
pub mod journal;
#[cfg(feature = "k8s")]
pub mod k8s;
pub mod lock;
pub mod plan;
pub mod playbook;
pub mod preflight;
pub mod process;
pub mod redact;
pub mod report;
pub mod schedule;
pub mod source;
pub mod spec;
pub mod state;
pub mod wake;
pub mod yaml;
