//! Kubernetes through kube: connecting like kubectl, the `k8s` and `argocd` actions, their
//! captured undos.

mod apply;
mod argocd;
mod client;
mod conflict;
mod nodes;
mod read;
mod rollout;
mod run;

pub use client::{Cluster, code, connect, describe};
pub use run::{Through, dry_run, execute};
