//! `runbook`: executable runbooks. YAML playbooks compile into a step DAG and a plan.
//!
//! Data flows one way: YAML text → [`playbook::RawPlaybook`] → [`compile::Playbook`] →
//! [`plan::Plan`]; each arrow is a type boundary.

pub mod actions;
pub mod compile;
pub mod plan;
pub mod playbook;
pub mod source;
pub mod yaml;
pub mod cli;
pub mod error;
