//! The serde types of `runbook.yaml`: where playbooks live, environments, locks, schedules.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::raw::Risk;
use crate::spec::Duration;
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
    /// Signed approvals: whose SSH keys may approve, and which risks need a signature.
    #[serde(default)]
    pub approvals: Option<ApprovalsSpec>,
    /// Named groups of approvers: `group:NAME` in an approval's `approvers` means these people.
    #[serde(default)]
    pub groups: IndexMap<String, Vec<String>>,
    /// The on-call contacts: people, rotation, escalation levels, channels; inline, or
    /// `{ file: config/emergency-contacts.yaml }`.
    #[serde(default)]
    pub contacts: Option<Sp<super::contacts::ContactsSpec>>,
}

/// How approvals are signed and checked (`runbook approve ... --key FILE`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "approvals")]
pub struct ApprovalsSpec {
    /// OpenSSH allowed_signers file (`principal key`, as `ssh-keygen -Y verify` reads),
    /// relative to this file (default `.runbook/allowed_signers`).
    #[serde(default)]
    pub allowed_signers: Option<String>,
    /// Risk levels whose approvals count only when signed by the approver's key.
    #[serde(default)]
    pub require_signatures: Vec<Risk>,
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
    /// How long an approval of a saved plan stays valid (default 24h; an approval gate's
    /// `timeout`, when shorter, wins).
    #[serde(default)]
    pub approval_ttl: Option<Duration>,
    /// The ArgoCD Applications of this environment: which Deployments GitOps owns, so that a
    /// step changing one beside Git is flagged (lint `gitops-owned`).
    #[serde(default)]
    pub argocd: Option<ArgocdEnv>,
}

/// ArgoCD in one environment: where its Applications live, and what they deploy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "argocd")]
pub struct ArgocdEnv {
    /// kubeconfig context of the cluster that runs ArgoCD (default: the environment's
    /// `kube_context`): one ArgoCD often deploys every environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Namespace of the Application objects (default `argocd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Applications by name.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub applications: IndexMap<String, ArgocdApplication>,
}

/// What one Application deploys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "argocd_application")]
pub struct ArgocdApplication {
    /// The namespace it deploys to.
    pub namespace: String,
    /// The Deployments it manages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deployments: Vec<String>,
    /// ArgoCD syncs it by itself (automated sync): a change made beside Git is undone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_sync: bool,
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

/// A scheduled run of a playbook (`runbook schedule list`, `runbook schedule run-due`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "schedule")]
pub struct ScheduleSpec {
    /// Unique among the schedules: letters, digits, `-`, `_` and `.` (it names the
    /// schedule's firing records in the state dir).
    pub name: Sp<String>,
    /// The playbook to run (its name under the workspace's playbooks).
    pub playbook: Sp<String>,
    /// Environment (default: the workspace's `default_env`).
    #[serde(default)]
    pub env: Option<Sp<String>>,
    /// Five-field cron expression (minute hour day-of-month month day-of-week), with
    /// names (`MON`, `JAN`), `L`, `#` and `W`, or `@daily`, `@weekly`, ….
    pub cron: Sp<String>,
    /// IANA time zone of the cron expression's wall times (default UTC).
    #[serde(default)]
    pub timezone: Option<Sp<String>>,
    /// Params of the run, checked against the playbook's params.
    #[serde(default)]
    pub params: IndexMap<String, Sp<serde_json::Value>>,
    /// Steps whose confirmation is given ahead for this unattended run; every other gate
    /// fails closed.
    #[serde(default)]
    pub approve: Vec<Sp<String>>,
    /// When the previous run of the schedule still holds its lock (default `skip`).
    #[serde(default)]
    pub overlap: Option<Overlap>,
    /// How late a firing may still start (default 5m, at least 1m); an older one is
    /// recorded as missed, never run.
    #[serde(default)]
    pub catchup: Option<Sp<Duration>>,
    #[serde(default)]
    pub description: Option<String>,
}

/// What a firing does while the previous run of its schedule holds the run lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Overlap {
    /// Record the firing as skipped.
    #[default]
    Skip,
    /// Wait for the lock, but never past the schedule's next firing.
    Queue,
    /// Stop the previous run (SIGTERM), wait for it, then start.
    CancelPrevious,
}
