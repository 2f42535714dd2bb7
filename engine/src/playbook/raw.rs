//! The serde types of a playbook file, as written (templates unrendered, spans kept).

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::action_fields::with_action_keys;
use super::limits;
use crate::spec::*;
use crate::yaml::{Collect, Sp};

/// A playbook: one operational procedure, compiled into a DAG of steps.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "playbook")]
#[schemars(title = "runbook playbook")]
pub struct RawPlaybook {
    /// The playbook's name; equals the file stem (`deploy` for `playbooks/deploy.yaml`).
    pub name: Sp<String>,
    /// One line shown by `runbook list`.
    #[serde(default)]
    pub description: Option<String>,
    /// Team or person responsible.
    #[serde(default)]
    pub owner: Option<String>,
    /// Longer documentation (markdown), shown by `runbook show`.
    #[serde(default)]
    pub doc: Option<String>,
    /// Default risk of its steps (default `medium`).
    #[serde(default)]
    pub risk: Option<Sp<Risk>>,
    /// Typed parameters, set with `-p name=value`.
    #[serde(default)]
    pub params: IndexMap<String, Collect<Sp<ParamSpec>>>,
    /// Values computed once before the run from params and the environment (templates).
    #[serde(default)]
    pub vars: IndexMap<String, Sp<serde_json::Value>>,
    /// Secrets: never printed, journaled or put in a plan.
    #[serde(default)]
    pub secrets: IndexMap<String, Collect<Sp<SecretSpec>>>,
    /// Run lock key (template). Default: `<env>/<playbook>`.
    #[serde(default)]
    pub lock: Option<Sp<String>>,
    /// Most steps running at once (default 4, at most 1000).
    #[serde(default, deserialize_with = "limits::de::concurrency")]
    #[schemars(range(min = 1, max = 1000))]
    pub concurrency: Option<Sp<u32>>,
    /// Metric watchers that abort the run into rollback.
    #[serde(default)]
    pub guards: Vec<Collect<Sp<Guard>>>,
    /// The steps. A step without `needs` depends on the step written before it.
    #[serde(default)]
    pub steps: Vec<Collect<Sp<RawStep>>>,
    /// Steps run after a failed run's rollback (notify, page).
    #[serde(default)]
    pub on_failure: Vec<Collect<Sp<RawStep>>>,
    /// Steps run at the end of every run.
    #[serde(default)]
    pub finally: Vec<Collect<Sp<RawStep>>>,
    /// What a drill measures (RTO, RPO, ...), computed when the run ends and journaled.
    #[serde(default)]
    pub measures: IndexMap<String, Collect<Sp<MeasureSpec>>>,
    /// Escalation for every step that waits for a person (an incident playbook), and the
    /// channel the incident is announced in when the run starts.
    #[serde(default)]
    pub escalate: Option<Sp<super::contacts::EscalateSpec>>,
}

/// One measure: the time between two moments of the run (`from` and `to`), or a value in
/// seconds (`value`), against its target.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "measure")]
pub struct MeasureSpec {
    /// What it measures, for people.
    #[serde(default)]
    pub description: Option<String>,
    /// Where the measured time begins: `STEP.started` or `STEP.finished`.
    #[serde(default)]
    #[schemars(regex(pattern = r"^[a-z0-9_-]+\.(started|finished)$"))]
    pub from: Option<Sp<String>>,
    /// Where it ends: `STEP.started` or `STEP.finished`.
    #[serde(default)]
    #[schemars(regex(pattern = r"^[a-z0-9_-]+\.(started|finished)$"))]
    pub to: Option<Sp<String>>,
    /// Instead of `from`/`to`: an expression over step results and outputs whose value is a
    /// number of seconds (`steps.latest.age_seconds`).
    #[serde(default)]
    pub value: Option<Sp<String>>,
    /// The most the measure may be (a duration): at or under it, the measure is met.
    pub target: Sp<Duration>,
    /// What a miss does: `warn` (default) or `fail` (the run exits 1 after it has finished).
    #[serde(default)]
    pub on_miss: Option<OnMiss>,
}

/// What a measure that misses its target does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnMiss {
    /// Say so in the summary, the journal and reports (default).
    Warn,
    /// Also end the run `measure_missed`, exit 1, once it has finished; nothing is rolled
    /// back: the drill itself went as planned.
    Fail,
}

impl OnMiss {
    pub fn as_str(&self) -> &'static str {
        match self {
            OnMiss::Warn => "warn",
            OnMiss::Fail => "fail",
        }
    }
}

/// How risky a step is; environments decide which levels need a yes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    Low,
    Medium,
    High,
    Critical,
}

impl Risk {
    pub fn as_str(&self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
            Risk::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    String,
    Integer,
    Number,
    Boolean,
    Enum,
    /// A duration (`30s`, `10m`, `1h`), normalized; `wait: "{{ params.soak }}"` reads it.
    Duration,
}

/// A typed parameter.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "param")]
pub struct ParamSpec {
    /// `string` (default), `integer`, `number`, `boolean`, `duration` or `enum` (with `values`).
    #[serde(default, rename = "type")]
    pub ty: Option<Sp<ParamType>>,
    #[serde(default)]
    pub description: Option<String>,
    /// The value when none is given; a param without a default is required.
    #[serde(default)]
    pub default: Option<Sp<serde_json::Value>>,
    /// Whether a value must be given (default: true when there is no `default`).
    #[serde(default)]
    pub required: Option<bool>,
    /// A regex a string value must match (whole value).
    #[serde(default)]
    pub pattern: Option<Sp<String>>,
    #[serde(default)]
    pub minimum: Option<Sp<f64>>,
    #[serde(default)]
    pub maximum: Option<Sp<f64>>,
    /// The allowed values of an `enum` param.
    #[serde(default)]
    pub values: Option<Sp<Vec<String>>>,
}

/// Where a secret's value comes from: an environment variable or a file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "secret")]
pub struct SecretSpec {
    #[serde(default)]
    pub env: Option<String>,
    #[serde(default)]
    pub file: Option<String>,
    /// A missing optional secret is empty instead of an error.
    #[serde(default)]
    pub optional: bool,
}

/// A condition: a literal boolean or an expression (`params.env != 'dev'`).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Condition {
    Literal(bool),
    Expr(String),
}

/// A confirmation: `true` (ask with the step's summary) or the question to ask.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Confirm {
    Flag(bool),
    Question(String),
}

/// Reads a boolean-or-string enum without serde's untagged buffering, whose errors say only
/// "did not match any variant".
macro_rules! bool_or_string {
    ($ty:ident, $b:ident, $s:ident, $what:expr) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_bool<E>(self, v: bool) -> Result<$ty, E> {
                        Ok($ty::$b(v))
                    }
                    fn visit_str<E>(self, v: &str) -> Result<$ty, E> {
                        Ok($ty::$s(v.to_string()))
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

bool_or_string!(Condition, Literal, Expr, "true, false or an expression");
bool_or_string!(Confirm, Flag, Question, "true or the question to ask");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnDecline {
    /// A "no" ends the run (exit 4).
    Abort,
    /// A "no" skips the step; its dependents still run.
    Skip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// Stop and roll back completed steps (default).
    Rollback,
    /// Record the failure, skip its dependents, let other branches go on.
    Continue,
    /// Stop without rolling back.
    Abort,
    /// A fact, not a failure (a diagnostic that may find the system down): the step is
    /// recorded failed, its dependents run and read `steps.<id>.status`, the run goes on as
    /// if it had succeeded.
    Ignore,
}

/// A gate answered by other people (`runbook approve RUN_ID STEP --as NAME`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "approval")]
pub struct Approval {
    /// People (`alice`) or groups (`group:sre-leads`) who may approve.
    pub approvers: Vec<String>,
    /// Distinct approvals needed (default 1, at most 100).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "limits::de::approvals"
    )]
    #[schemars(range(min = 1, max = 100))]
    pub min: Option<u32>,
    /// Unanswered after this long = rejected (default 1h).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
}

/// Retry an action that failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "retry")]
pub struct Retry {
    /// Total attempts, the first included (at most 100).
    #[serde(deserialize_with = "limits::de::attempts")]
    #[schemars(range(min = 1, max = 100))]
    pub attempts: u32,
    /// Wait before the second attempt (default 1s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    /// Multiplier of the delay after each attempt (default 1.0; from 1 to 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1.0, max = 10.0))]
    pub backoff: Option<f64>,
}

with_action_keys! {
    /// One step of a playbook.
    #[derive(Debug, Clone, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename = "step")]
    pub struct RawStep {
        /// Unique id, `[a-z0-9_-]+`; later steps read `steps.<id>`.
        pub id: Sp<String>,
        /// Shown in plans and progress.
        #[serde(default)]
        pub name: Option<String>,
        /// Markdown shown in plans and by `manual` steps.
        #[serde(default)]
        pub doc: Option<String>,
        /// Dependencies. Omitted: the step written before; `[]`: none.
        #[serde(default)]
        pub needs: Option<Sp<Vec<Sp<String>>>>,
        /// Skip the step when false; its dependents still run.
        #[serde(default)]
        pub when: Option<Sp<Condition>>,
        #[serde(default)]
        pub risk: Option<Sp<Risk>>,
        /// Ask the operator before the action runs.
        #[serde(default)]
        pub confirm: Option<Sp<Confirm>>,
        /// What a "no" does: `abort` (default) or `skip`.
        #[serde(default)]
        pub on_decline: Option<OnDecline>,
        /// Wait for other people's approval before the action runs.
        #[serde(default)]
        pub approval: Option<Sp<Approval>>,
        /// Read-only checks that must all hold before the action runs.
        #[serde(default)]
        pub preconditions: Vec<Sp<Precondition>>,
        /// The action's time limit (default 10m; the whole process group is killed).
        #[serde(default)]
        pub timeout: Option<Sp<Duration>>,
        #[serde(default)]
        pub retry: Option<Sp<Retry>>,
        /// Poll the action until this expression over `result` holds (within `timeout`).
        #[serde(default)]
        pub until: Option<Sp<String>>,
        /// Time between polls (default 10s).
        #[serde(default)]
        pub interval: Option<Sp<Duration>>,
        /// Named values for later steps (`steps.<id>.<name>`); templates over `result`.
        #[serde(default)]
        pub outputs: IndexMap<String, Sp<String>>,
        /// What undoes this step: an action, a list of actions, or `auto`.
        #[serde(default)]
        pub rollback: Option<Sp<Rollback>>,
        /// `rollback` (default), `continue` or `abort`.
        #[serde(default)]
        pub on_failure: Option<OnFailure>,
        /// May `resume` re-run the step when its outcome is unknown?
        #[serde(default)]
        pub idempotent: Option<bool>,
        /// Run the step once per item of a list known at run time.
        #[serde(default)]
        pub for_each: Option<Sp<String>>,
        /// Name of the loop variable (default `item`).
        #[serde(default, rename = "as")]
        pub as_: Option<Sp<String>>,
        /// Iterations running at once (default 1, at most 1000).
        #[serde(default, deserialize_with = "limits::de::max_parallel")]
        #[schemars(range(min = 1, max = 1000))]
        pub max_parallel: Option<Sp<u32>>,
        /// Failure message of an `assert` action.
        #[serde(default)]
        pub message: Option<String>,
        /// While the step's gate (or `manual`/`input`) waits unanswered, notify the
        /// contacts' escalation levels in turn.
        #[serde(default)]
        pub escalate: Option<Sp<super::contacts::EscalateSpec>>,
    }
}

with_action_keys! {
    /// A read-only check that must hold before a step's action runs.
    #[derive(Debug, Clone, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename = "precondition")]
    pub struct Precondition {
        #[serde(default)]
        pub name: Option<String>,
        /// Shown when the check fails.
        #[serde(default)]
        pub message: Option<String>,
        #[serde(default)]
        pub timeout: Option<Sp<Duration>>,
    }
}

with_action_keys! {
    /// One action that undoes (part of) a step.
    #[derive(Debug, Clone, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename = "rollback_action")]
    pub struct RollbackAction {
        #[serde(default)]
        pub name: Option<String>,
        #[serde(default)]
        pub timeout: Option<Sp<Duration>>,
        #[serde(default)]
        pub retry: Option<Sp<Retry>>,
    }
}

/// `auto` (the action's own undo, from state captured before the change), one action, or a
/// list run in order.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(untagged)]
pub enum Rollback {
    #[schemars(with = "AutoKeyword")]
    Auto,
    One(Box<RollbackAction>),
    Many(Vec<Sp<RollbackAction>>),
}

#[derive(JsonSchema)]
#[allow(dead_code)]
enum AutoKeyword {
    #[serde(rename = "auto")]
    Auto,
}

impl<'de> Deserialize<'de> for Rollback {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Rollback;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`auto`, an action, or a list of actions")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Rollback, E> {
                if v == "auto" {
                    Ok(Rollback::Auto)
                } else {
                    Err(E::custom(format!(
                        "expected `auto`, an action, or a list of actions, found `{v}`"
                    )))
                }
            }
            fn visit_map<A: de::MapAccess<'de>>(self, m: A) -> Result<Rollback, A::Error> {
                RollbackAction::deserialize(de::value::MapAccessDeserializer::new(m))
                    .map(|a| Rollback::One(Box::new(a)))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, s: A) -> Result<Rollback, A::Error> {
                Vec::deserialize(de::value::SeqAccessDeserializer::new(s)).map(Rollback::Many)
            }
        }
        d.deserialize_any(V)
    }
}

/// A metric watcher: every `every`, runs its query; when `abort_if` holds, the run fails.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "guard")]
pub struct Guard {
    pub name: Sp<String>,
    pub prometheus: Sp<PrometheusSpec>,
    /// Expression over `value`, e.g. `value > 0.05`.
    pub abort_if: Sp<String>,
    /// How often (default 30s).
    #[serde(default)]
    pub every: Option<Sp<Duration>>,
}
