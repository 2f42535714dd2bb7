//! End-to-end tests: every test drives the built `runbook` binary.

mod adversity;
mod compile_errors;
mod drill;
mod export;
mod interactive;
mod invalid;
mod invalid_workspace;
mod journal;
mod k8s;
mod k8s_real;
mod limits;
mod lints;
mod measures;
mod metrics;
mod params;
mod plan_output;
mod plans;
mod rds;
mod report;
mod resume;
mod run;
mod schedule;
mod scheduler;
mod schema;
mod semantics;
mod support;
