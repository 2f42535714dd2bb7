//! What templates see while a run goes: params, vars, env, run info, secret values, and the
//! results of finished steps; rendering of an action's run-time templates; redaction.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use indexmap::IndexMap;
use minijinja::value::Value;
use serde_json::Value as Json;

use crate::compile::PlannedAction;
use crate::expr::template::{Quoting, Templates};
use crate::plan::Plan;
use crate::redact::Redactor;
use crate::spec::{Action, FieldRole};

/// Who runs, where, since when.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunInfo {
    pub id: String,
    pub user: String,
    pub host: String,
    pub started_at: String,
    pub playbook: String,
    pub env: String,
    /// sha256 of the playbook file.
    #[serde(skip)]
    pub file_sha256: String,
    /// What started the run when no person did (`schedule:NAME@FIRING`).
    #[serde(skip)]
    pub trigger: Option<String>,
}

/// The run's values. Shared by the step tasks; step results are added as steps finish.
pub struct Runtime {
    templates: Templates,
    base: BTreeMap<String, Value>,
    secrets: IndexMap<String, String>,
    redactor: Arc<Redactor>,
    /// `steps.<id>`, as template values: cheap to clone (reference-counted) into each
    /// render's context, so a long run does not copy every result for every template.
    steps: Mutex<BTreeMap<String, Value>>,
}

impl Runtime {
    pub fn new(plan: &Plan, run: &RunInfo, secrets: IndexMap<String, String>, redactor: Arc<Redactor>) -> Runtime {
        let mut base = BTreeMap::new();
        base.insert("params".into(), to_value(&plan.params));
        base.insert("vars".into(), to_value(&plan.vars));
        base.insert(
            "env".into(),
            to_value(&serde_json::json!({
                "name": plan.env.name,
                "vars": plan.env.vars,
                "kube_context": plan.env.kube_context,
                "aws_region": plan.env.aws_region,
            })),
        );
        base.insert("run".into(), to_value(run));
        Runtime {
            templates: Templates::new(),
            base,
            secrets,
            redactor,
            steps: Mutex::new(BTreeMap::new()),
        }
    }

    /// Records a finished step: `steps.<id>` is its result's fields, its outputs, `status`
    /// and `outputs`.
    pub fn record_step(&self, id: &str, status: &str, result: &Json, outputs: &serde_json::Map<String, Json>) {
        let mut entry = match result {
            Json::Object(m) => m.clone(),
            Json::Null => serde_json::Map::new(),
            other => {
                let mut m = serde_json::Map::new();
                m.insert("value".into(), other.clone());
                m
            }
        };
        for (k, v) in outputs {
            entry.insert(k.clone(), v.clone());
        }
        entry.insert("status".into(), Json::String(status.into()));
        entry.insert("outputs".into(), Json::Object(outputs.clone()));
        // A step task that panicked holding the lock left the map as it was: go on with it.
        let mut steps = self.steps.lock().unwrap_or_else(PoisonError::into_inner);
        steps.insert(id.to_string(), to_value(&Json::Object(entry)));
    }

    fn context(&self, extra: &[(&str, Json)]) -> Value {
        let mut ctx = self.base.clone();
        let steps = self.steps.lock().unwrap_or_else(PoisonError::into_inner).clone();
        ctx.insert("steps".into(), Value::from(steps));
        ctx.insert("secrets".into(), Value::from(minijinja::value::Serde(&self.secrets)));
        for (k, v) in extra {
            ctx.insert((*k).to_string(), Value::from(minijinja::value::Serde(v)));
        }
        Value::from(ctx)
    }

    /// Renders the action's run-time templates (only those the plan lists).
    pub fn render_action(&self, a: &PlannedAction, extra: &[(&str, Json)]) -> Result<Action, String> {
        if a.templates.is_empty() {
            return Ok(a.spec.clone());
        }
        let mut spec = serde_json::to_value(&a.spec).map_err(|e| e.to_string())?;
        let ctx = self.context(extra);
        for pointer in &a.templates {
            let Some(Json::String(src)) = spec.pointer(pointer).cloned() else {
                continue;
            };
            let q = if a.spec.field_role_at(pointer) == FieldRole::Shell {
                Quoting::Shell
            } else {
                Quoting::Plain
            };
            let rendered = self
                .templates
                .render(&src, q, &ctx)
                .map_err(|e| self.redact(&e.to_string()))?;
            if let Some(slot) = spec.pointer_mut(pointer) {
                *slot = Json::String(rendered);
            }
        }
        serde_json::from_value(spec).map_err(|e| format!("after rendering: {e}"))
    }

    /// Renders a template (outputs, a run-time confirmation question).
    pub fn render(&self, src: &str, extra: &[(&str, Json)]) -> Result<String, String> {
        self.templates
            .render(src, Quoting::Plain, &self.context(extra))
            .map_err(|e| self.redact(&e.to_string()))
    }

    /// Renders a value: `{{ expr }}` alone keeps its type.
    pub fn render_value(&self, src: &str, extra: &[(&str, Json)]) -> Result<Json, String> {
        self.templates
            .render_value(src, &self.context(extra))
            .map_err(|e| self.redact(&e.to_string()))
    }

    /// Evaluates an expression (`when`, `until`, `assert`, `expect`, `for_each`).
    pub fn eval(&self, expr: &str, extra: &[(&str, Json)]) -> Result<Json, String> {
        let v = self
            .templates
            .eval(expr, &self.context(extra))
            .map_err(|e| self.redact(&e.to_string()))?;
        serde_json::to_value(&v).map_err(|e| e.to_string())
    }

    /// Hides secrets (in every shape) in text shown outside the events: a prompt, a
    /// message on stderr.
    pub fn redact(&self, text: &str) -> String {
        self.redactor.redact(text).into_owned()
    }
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    Value::from(minijinja::value::Serde(v))
}
