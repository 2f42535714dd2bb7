//! The serde types of `runbook.yaml`: where playbooks live, environments, locks, schedules.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::duration::Duration;
use super::raw::Risk;
use crate::yaml::{Collect, Sp};

/// The workspace configuration, `runbook.yaml`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "workspace")]
#[schemars(title = "runbook workspace (runbook.yaml)")]
pub struct RawWorkspace {
    /// Folder of the playbooks, relative to this file (default `playbooks`).
    #[serde(default)]
    pub playbooks: Option<String>,
    /// State dir: journals, locks, approvals (default `.runbook`).
    #[serde(default)]
    pub state_dir: Option<String>,
    /// Environments, selected with `-e NAME`.
    #[serde(default)]
    pub environments: IndexMap<String, Collect<Sp<EnvSpec>>>,
    /// Environment used when `-e` is omitted.
    #[serde(default)]
    pub default_env: Option<Sp<String>>,
    #[serde(default)]
    pub locks: Option<Sp<LocksSpec>>,
    /// Scheduled runs (drills, daily checks).
    #[serde(default)]
    pub schedules: Vec<Collect<Sp<ScheduleSpec>>>,
}

/// One environment (prod, staging, dev).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "environment")]
pub struct EnvSpec {
    #[serde(default)]
    pub description: Option<String>,
    /// Values templates read as `env.vars.<name>`.
    #[serde(default)]
    pub vars: IndexMap<String, serde_json::Value>,
    /// kubeconfig context (default: the current context).
    #[serde(default)]
    pub kube_context: Option<String>,
    /// AWS region (default: the AWS config chain).
    #[serde(default)]
    pub aws_region: Option<String>,
    /// Which risk levels need a yes (default: high and critical).
    #[serde(default)]
    pub policy: Option<Policy>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "policy")]
pub struct Policy {
    /// Risk levels whose steps need an operator's yes (default `[high, critical]`).
    #[serde(default = "Policy::default_confirm")]
    pub confirm: Vec<Risk>,
    /// Risk levels that need an approval from someone other than the runner.
    #[serde(default)]
    pub two_person: Vec<Risk>,
}

impl Policy {
    fn default_confirm() -> Vec<Risk> {
        vec![Risk::High, Risk::Critical]
    }
}

impl Default for Policy {
    /// Prod-like safety is the default, never the opt-in.
    fn default() -> Self {
        Policy {
            confirm: Policy::default_confirm(),
            two_person: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "locks")]
pub struct LocksSpec {
    #[serde(default)]
    pub backend: Option<LockBackend>,
    /// Namespace of the Lease objects (kubernetes backend; default `default`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// How long a Lease lives without renewal (default 30s; from 1s to 1h).
    #[serde(default)]
    pub lease_duration: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LockBackend {
    File,
    Kubernetes,
}

/// A scheduled run of a playbook.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "schedule")]
pub struct ScheduleSpec {
    pub name: Sp<String>,
    pub playbook: Sp<String>,
    #[serde(default)]
    pub env: Option<Sp<String>>,
    /// Five-field cron expression.
    pub cron: Sp<String>,
    /// IANA time zone of the cron expression (default UTC).
    #[serde(default)]
    pub timezone: Option<Sp<String>>,
    #[serde(default)]
    pub params: IndexMap<String, serde_json::Value>,
    /// Steps pre-approved for this unattended run.
    #[serde(default)]
    pub approve: Vec<Sp<String>>,
    #[serde(default)]
    pub overlap: Option<Overlap>,
    /// Run a missed firing if found within this window.
    #[serde(default)]
    pub catchup: Option<Duration>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Overlap {
    Skip,
    Queue,
    CancelPrevious,
}
