//! `runbook schedule export --kubernetes`: the workspace's schedules as Kubernetes objects,
//! built from k8s-openapi types — a CronJob per schedule, and what they share: a
//! ServiceAccount, a Role and RoleBinding for the Lease locks, a PersistentVolumeClaim for
//! the state dir, and a ConfigMap holding the workspace (runbook.yaml, the playbooks, and a
//! kubeconfig whose contexts are the pod's own cluster).

mod cron_job;
mod manifest;
mod workspace;

pub use cron_job::cron_job_name;
pub use manifest::{ExportOptions, Manifest, export};
