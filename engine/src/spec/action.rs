//! The closed set of actions, their effects, and the trait every action kind implements.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::*;

/// What running an action does to the world; dry-run and lint decisions hang on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    /// Reads only; safe in `plan --check` and dry-runs.
    ReadOnly,
    /// Sends a message outside (a notification); changes nothing we manage, nothing to undo.
    External,
    /// Changes a system; should have a rollback or a gate.
    Mutating,
    /// Changes a system beyond undoing (delete); needs a gate.
    Irreversible,
}

impl Effect {
    /// A command's effect: read-only when its author declared it so (`read_only: true`),
    /// else mutating — a command is never assumed harmless.
    pub fn of_command(read_only: bool) -> Effect {
        if read_only { Effect::ReadOnly } else { Effect::Mutating }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Effect::ReadOnly => "read-only",
            Effect::External => "external",
            Effect::Mutating => "mutating",
            Effect::Irreversible => "irreversible",
        }
    }
}

/// What every action kind provides. Execution and rollback are added by the engine.
pub trait ActionKind {
    fn effect(&self) -> Effect;
    /// One line for plans and progress, close to the command an operator would type.
    fn summary(&self) -> String;
    /// What `rollback: auto` does for this action, when it can undo itself from state it
    /// captures before the change.
    fn auto_rollback(&self) -> Option<&'static str> {
        None
    }
    /// What is wrong with values the types alone cannot rule out (a negative replica count).
    fn problems(&self) -> Vec<String> {
        Vec::new()
    }
}

/// One action, as written in a step, a precondition or a rollback (templates not yet rendered).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Shell(Form<ShellSpec>),
    Exec(Form<ExecSpec>),
    Http(HttpSpec),
    Prometheus(PrometheusSpec),
    K8s(K8sSpec),
    Argocd(ArgocdSpec),
    Rds(RdsSpec),
    Wait(WaitFor),
    Manual(Form<ManualSpec>),
    Input(Form<InputSpec>),
    Notify(NotifySpec),
    Playbook(Form<SubPlaybookSpec>),
    Assert(AssertExpr),
    Log(LogLine),
}

impl Action {
    /// The YAML key of the action.
    pub fn key(&self) -> &'static str {
        match self {
            Action::Shell(_) => "shell",
            Action::Exec(_) => "exec",
            Action::Http(_) => "http",
            Action::Prometheus(_) => "prometheus",
            Action::K8s(_) => "k8s",
            Action::Argocd(_) => "argocd",
            Action::Rds(_) => "rds",
            Action::Wait(_) => "wait",
            Action::Manual(_) => "manual",
            Action::Input(_) => "input",
            Action::Notify(_) => "notify",
            Action::Playbook(_) => "playbook",
            Action::Assert(_) => "assert",
            Action::Log(_) => "log",
        }
    }

    fn kind(&self) -> &dyn ActionKind {
        match self {
            Action::Shell(s) => &s.0,
            Action::Exec(s) => &s.0,
            Action::Http(s) => s,
            Action::Prometheus(s) => s,
            Action::K8s(s) => s,
            Action::Argocd(s) => s,
            Action::Rds(s) => s,
            Action::Wait(d) => d,
            Action::Manual(s) => &s.0,
            Action::Input(s) => &s.0,
            Action::Notify(s) => s,
            Action::Playbook(s) => &s.0,
            Action::Assert(e) => e,
            Action::Log(l) => l,
        }
    }

    /// Why this build cannot run the action, if it cannot.
    pub fn unsupported(&self) -> Option<&'static str> {
        match self {
            #[cfg(not(feature = "k8s"))]
            Action::K8s(_) | Action::Argocd(_) => Some("the Kubernetes client (built without the `k8s` feature)"),
            #[cfg(not(feature = "aws"))]
            Action::Rds(_) => Some("the AWS RDS client (built without the `aws` feature)"),
            _ => None,
        }
    }

    /// The key and, for actions with verbs, the verb: `k8s delete`, `shell`.
    pub fn verb(&self) -> String {
        let inner = serde_json::to_value(self).ok().and_then(|v| {
            let spec = v.get(self.key())?.clone();
            match (self, spec) {
                (Action::K8s(_) | Action::Argocd(_) | Action::Rds(_), serde_json::Value::Object(m)) => {
                    m.keys().next().cloned()
                }
                _ => None,
            }
        });
        match inner {
            Some(verb) => format!("{} {verb}", self.key()),
            None => self.key().to_string(),
        }
    }

    pub fn effect(&self) -> Effect {
        self.kind().effect()
    }

    pub fn summary(&self) -> String {
        self.kind().summary()
    }

    pub fn auto_rollback(&self) -> Option<&'static str> {
        self.kind().auto_rollback()
    }

    pub fn problems(&self) -> Vec<String> {
        self.kind().problems()
    }
}
