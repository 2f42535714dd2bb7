//! An in-process Kubernetes API server for tests: the real REST wire format (JSON objects, `Status`
//! errors, resourceVersion conflicts, patches, watches, discovery) over plain HTTP on 127.0.0.1, with
//! a synchronous deployment controller, an ArgoCD application controller, PodDisruptionBudgets,
//! evictions and pod logs, and knobs for failures (forbidden verbs, injected conflicts, stuck
//! rollouts).

mod api;
mod argocd;
mod catalog;
mod cluster;
mod controllers;
mod http;
mod openapi;
mod patch;
mod pod_keeper;
mod pods;
mod seed;
mod seed_file;
mod selector;
mod server;
mod state;
mod status;
mod stored_kinds;
mod table;

pub use cluster::Cluster;
pub use seed::{application, deployment, managed_by, namespace, node, pdb, pdb_max_unavailable, pod, pod_waiting};
pub use seed_file::{MAX_SEED_BYTES, SeedError, SeedObject, read_seed};
pub use server::KubeServer;
