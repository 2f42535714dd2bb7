//! Kubernetes through kube: connecting like kubectl, the `k8s` actions, their captured undos.

mod apply;
mod client;
mod nodes;
mod read;
mod rollout;
mod run;

pub use client::{Cluster, code, connect, describe};
pub use run::{dry_run, execute};
