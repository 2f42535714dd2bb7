//! The compiled playbook: params checked, templates rendered where they can be, references
//! resolved, gates decided. What the planner and (later) the engine consume.

use std::sync::Arc;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::playbook::{Approval, Duration, OnDecline, OnFailure, OnMiss, Policy, Retry, Risk};
use crate::source::{Source, Span};
use crate::spec::{Action, Effect};

/// A checked playbook for one environment and one set of params.
#[derive(Debug, Clone)]
pub struct Playbook {
    pub name: String,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub risk: Risk,
    pub source: Arc<Source>,
    pub env: EnvInfo,
    pub params: IndexMap<String, serde_json::Value>,
    /// Params that had no value (only under `validate`, which plans without them).
    pub missing_params: Vec<String>,
    pub vars: IndexMap<String, serde_json::Value>,
    pub secrets: IndexMap<String, SecretRef>,
    pub lock: String,
    pub concurrency: u32,
    pub guards: Vec<GuardPlan>,
    pub steps: Vec<Step>,
    pub on_failure: Vec<Step>,
    pub finally: Vec<Step>,
    pub measures: Vec<Measure>,
    /// The playbook's own `escalate:` (an incident playbook): announced when the run starts.
    pub escalate: Option<Escalation>,
}

/// The environment a playbook was compiled for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvInfo {
    pub name: String,
    #[serde(skip_serializing_if = "IndexMap::is_empty", default)]
    pub vars: IndexMap<String, serde_json::Value>,
    pub policy: Policy,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub kube_context: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub aws_region: Option<String>,
    /// How long an approval of a saved plan stays valid; absent = 24h (so plans without it
    /// hash as before).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub approval_ttl: Option<Duration>,
    /// The workspace's `groups`: read by the compiler to check `group:NAME`, never part of
    /// the plan (membership is read again when approvals are counted).
    #[serde(skip)]
    pub groups: IndexMap<String, Vec<String>>,
    /// The workspace's `approvals.require_signatures`: decides each gate's `signed`.
    #[serde(skip)]
    pub require_signatures: Vec<Risk>,
    /// Where the environment's ArgoCD runs and what its Applications deploy (absent = none
    /// declared, so plans without it hash as before).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub argocd: Option<crate::playbook::ArgocdEnv>,
    /// The workspace's checked `contacts`: read by the compiler to resolve `escalate:` and by
    /// the run to find who is on call; never part of the plan (the rotation turns by itself).
    #[serde(skip)]
    pub contacts: Option<Arc<crate::playbook::Contacts>>,
}

/// Where a secret comes from; its value is read only when the run starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretRef {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub optional: bool,
}

/// An action ready to run: `spec` has every template that could be rendered before the run
/// rendered, and keeps the ones that read run-time values; `summary` is what people see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedAction {
    pub effect: Effect,
    pub summary: String,
    pub spec: Action,
    /// JSON pointers into `spec` of the strings that are still templates, rendered when the
    /// step runs. Only these are: a value rendered before the run is never read as a
    /// template again, even if it contains `{{`.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub templates: Vec<String>,
}

/// A file a run will read, as it was when the plan was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedFile {
    /// Relative to the workspace root, `/`-separated.
    pub path: String,
    pub role: FileRole,
    /// Hex sha256 of its bytes; `null` when it did not exist.
    pub sha256: Option<String>,
    /// The steps that read it (`caller/step` inside sub-playbooks).
    pub steps: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileRole {
    /// A sub-playbook a `playbook` step runs.
    Playbook,
    /// A manifest `k8s apply` reads.
    Manifest,
    /// A program `exec` runs.
    Script,
}

/// A read-only check before a step's action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub message: Option<String>,
    pub action: PlannedAction,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GateKind {
    /// The operator running the playbook says yes.
    Confirm,
    /// Other people approve (`runbook approve`).
    Approval,
}

/// Why a gate is there: the step asks for it, or the environment's policy does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    pub kind: GateKind,
    /// `step`, `policy` or both, e.g. ["step", "policy: prod confirms high"].
    pub reasons: Vec<String>,
    /// The rendered question (confirm), with run-time values as placeholders.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub question: Option<String>,
    /// The question's template when it reads run-time values, rendered when asked.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub question_template: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub approval: Option<Approval>,
    /// The approver must differ from the runner.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub two_person: bool,
    /// Only approvals signed by the approver's key count (`approvals.require_signatures`).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub signed: bool,
}

/// An escalation chain: the levels notified in turn while a gate waits unanswered, and the
/// channel the messages go to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub channel: Option<String>,
    /// How long a step waits before the first level is notified; absent = at once.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub after: Option<Duration>,
    pub levels: Vec<EscalationLevel>,
}

/// One level of a chain, as the contacts define it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EscalationLevel {
    pub name: String,
    /// Person ids and `oncall:ROLE`s, resolved when the level is notified.
    pub notify: Vec<String>,
    /// How long this level has to answer before the next one is notified; none on the last.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub within: Option<Duration>,
}

impl Escalation {
    /// `L1 oncall:primary (15m) → L2 bmanager (30m) → L3 oncall:manager`, `#incidents`.
    pub fn chain(&self) -> String {
        let mut t = self.levels_text();
        if let Some(a) = self.after {
            t = format!("after {a}: {t}");
        }
        match &self.channel {
            Some(c) => format!("{t} · #{c}"),
            None => t,
        }
    }

    /// `L1 oncall:primary (15m) → L2 bmanager (30m) → L3 oncall:manager`.
    pub fn levels_text(&self) -> String {
        let levels: Vec<String> = self
            .levels
            .iter()
            .map(|l| match l.within {
                Some(w) => format!("{} {} ({w})", l.name, l.notify.join(", ")),
                None => format!("{} {}", l.name, l.notify.join(", ")),
            })
            .collect();
        levels.join(" → ")
    }
}

/// `when`: the expression, and its value when it could be decided before the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct When {
    pub expr: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub value: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollbackStep {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    pub action: PlannedAction,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub timeout: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub retry: Option<Retry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackPlan {
    /// The action's own undo, from state captured before the change.
    Auto {
        description: String,
    },
    Steps(Vec<RollbackStep>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForEach {
    pub items: String,
    #[serde(rename = "as")]
    pub as_: String,
    pub max_parallel: u32,
}

/// A compiled step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub doc: Option<String>,
    pub needs: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub when: Option<When>,
    pub risk: Risk,
    pub effect: Effect,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub gates: Vec<Gate>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub on_decline: Option<OnDecline>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub preconditions: Vec<Check>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub action: Option<PlannedAction>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub for_each: Option<ForEach>,
    pub timeout: Duration,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub retry: Option<Retry>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub interval: Option<Duration>,
    #[serde(skip_serializing_if = "IndexMap::is_empty", default)]
    pub outputs: IndexMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rollback: Option<RollbackPlan>,
    pub on_failure: OnFailure,
    pub idempotent: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub message: Option<String>,
    /// Who is notified, level after level, while the step waits for a person.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub escalate: Option<Escalation>,
    /// Where the step was written; not part of the plan.
    #[serde(skip)]
    pub span: Span,
}

impl Step {
    pub fn title(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardPlan {
    pub name: String,
    pub action: PlannedAction,
    pub abort_if: String,
    pub every: Duration,
}

/// A measure of the run, computed when it ends: the time between two moments of it, or a
/// value in seconds, against a target it must not exceed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measure {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub description: Option<String>,
    pub measures: Measured,
    pub target: Duration,
    pub on_miss: OnMiss,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measured {
    /// The time from one moment to another, each `STEP.started` or `STEP.finished`.
    Between { from: Moment, to: Moment },
    /// An expression over step results and outputs, in seconds.
    Value { expr: String },
}

/// A moment of a run: a step's start or its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moment {
    pub step: String,
    pub at: Edge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Edge {
    /// Its action began (its first `step_started`; a `for_each` step's first iteration).
    Started,
    /// It ended (a `for_each` step: its last iteration).
    Finished,
}

impl Moment {
    /// Reads `STEP.started` or `STEP.finished`.
    pub fn parse(s: &str) -> Result<Moment, String> {
        let Some((step, at)) = s.rsplit_once('.') else {
            return Err(format!("`{s}` is not `STEP.started` or `STEP.finished`"));
        };
        let at = match at {
            "started" => Edge::Started,
            "finished" => Edge::Finished,
            other => {
                return Err(format!(
                    "`{s}`: a step's moment is `started` or `finished`, not `{other}`"
                ));
            }
        };
        Ok(Moment {
            step: step.to_string(),
            at,
        })
    }
}

impl std::fmt::Display for Moment {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let at = match self.at {
            Edge::Started => "started",
            Edge::Finished => "finished",
        };
        write!(f, "{}.{at}", self.step)
    }
}

impl Measured {
    /// What is measured, as written: `restore.started → verify.finished`, or the expression.
    pub fn text(&self) -> String {
        match self {
            Measured::Between { from, to } => format!("{from} → {to}"),
            Measured::Value { expr } => expr.clone(),
        }
    }
}
