//! Sub-playbooks: a `playbook` step runs another playbook of the workspace on a nested
//! engine that shares the run's events, gates (`--approve caller/step`), signals and
//! secrets. A failed sub-run rolls back its own steps, then fails its caller's step.

use std::future::Future;
use std::pin::Pin;

use indexmap::IndexMap;
use serde_json::Value as Json;

use super::engine::Engine;
use crate::actions::Outcome;
use crate::compile::{self, Options, RollbackPlan};
use crate::event::RunStatus;
use crate::plan::Plan;
use crate::playbook;
use crate::spec::{Action, SubPlaybookSpec};

use crate::compile::MAX_DEPTH;

impl Engine {
    pub(super) fn run_sub<'a>(
        &'a self,
        label: &'a str,
        call: &'a SubPlaybookSpec,
    ) -> Pin<Box<dyn Future<Output = Outcome> + Send + 'a>> {
        Box::pin(async move {
            let name = call.name.as_str();
            if self.callers.iter().any(|c| c == name) || name == self.plan.playbook.name {
                return Outcome::fail(format!(
                    "playbook `{name}` is already running in this run: a cycle of sub-playbooks"
                ));
            }
            if self.callers.len() >= MAX_DEPTH {
                return Outcome::fail(format!("sub-playbooks nest deeper than {MAX_DEPTH}"));
            }
            // The step's sub-plan, when the plan compiled one with every param known, is
            // what runs; otherwise the sealed file is compiled again with the params the
            // step has now. Either way the file must be the one planned.
            let id = label.strip_prefix(&self.prefix).unwrap_or(label);
            let id = id.split('[').next().unwrap_or(id);
            if let Err(why) = self.check_sealed_playbook(name) {
                return Outcome::fail(why);
            }
            let planned = self.plan.subplans.get(id).filter(|s| s.complete && s.playbook == name);
            let plan = match planned {
                Some(sub) => Plan::of_sub(sub),
                None => match compile_call(&self.opts.workdir, &self.plan.env.name, call, false) {
                    Ok(p) => p,
                    Err(e) => return Outcome::fail(e),
                },
            };
            let reach = reach(&self.opts.workdir, &plan, label);
            if let Some(why) = reach.refusal() {
                return Outcome::fail(why);
            }
            let sub = std::sync::Arc::new(self.nested(plan, label));
            let (status, remaining) = sub.dispatch().await;
            let result = serde_json::json!({ "status": status, "remaining_undo": remaining });
            match status {
                RunStatus::Succeeded => Outcome::ok(result),
                RunStatus::Interrupted | RunStatus::Terminated => Outcome::fail("interrupted").with_result(result),
                RunStatus::Refused => Outcome {
                    refused: true,
                    error: Some(format!("sub-playbook `{name}` was refused at a gate")),
                    result,
                    ..Default::default()
                },
                other => Outcome::fail(format!(
                    "sub-playbook `{name}` ended {}",
                    serde_json::to_value(other)
                        .unwrap_or_default()
                        .as_str()
                        .unwrap_or("badly")
                ))
                .with_result(result),
            }
        })
    }
}

impl Engine {
    /// The called playbook's file is the one the plan recorded (when it recorded it).
    fn check_sealed_playbook(&self, name: &str) -> Result<(), String> {
        let ws = playbook::find_workspace(&self.opts.workdir)
            .map_err(|d| d.first().map(|d| d.to_string()).unwrap_or_default())?;
        let path = ws.playbook_path(name).map_err(|d| d.to_string())?;
        let Ok(rel) = path.strip_prefix(&ws.root) else {
            return Ok(());
        };
        let rel = rel.to_string_lossy();
        if !self.sealed.contains_key(rel.as_ref()) {
            return Ok(());
        }
        let bytes = std::fs::read(&path).map_err(|e| format!("cannot read playbook `{name}`: {e}"))?;
        crate::compile::check_sealed(&self.sealed, &rel, &bytes).map_err(|why| format!("sub-playbook `{name}`: {why}"))
    }
}

/// Compiles the called playbook with the call's params for the run's environment.
/// `validate`: missing params allowed (for the checks made before the run).
fn compile_call(workdir: &std::path::Path, env: &str, call: &SubPlaybookSpec, validate: bool) -> Result<Plan, String> {
    let ws = playbook::find_workspace(workdir).map_err(|d| d.first().map(|d| d.to_string()).unwrap_or_default())?;
    let path = ws.playbook_path(&call.name).map_err(|d| d.to_string())?;
    let lp =
        playbook::load_playbook(&path).map_err(|d| format!("sub-playbook `{}` is invalid: {}", call.name, d[0]))?;
    let params: Vec<(String, String)> = call
        .params
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                match v {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                },
            )
        })
        .collect();
    let opts = Options {
        env: Some(env),
        params: &params,
        allow_missing_params: validate,
    };
    let compiled = compile::compile(&ws, &lp, &opts).map_err(|d| {
        format!(
            "sub-playbook `{}` does not compile: {}",
            call.name,
            d.iter()
                .find(|d| d.is_error())
                .map(|d| d.to_string())
                .unwrap_or_default()
        )
    })?;
    Ok(Plan::new(compiled))
}

/// What a plan reaches, sub-playbooks included: every step's label, and the actions this
/// build cannot run.
#[derive(Debug, Default)]
pub struct Reach {
    pub labels: Vec<String>,
    pub unsupported: IndexMap<&'static str, Vec<String>>,
}

impl Reach {
    /// Why the plan cannot run, if it cannot.
    pub fn refusal(&self) -> Option<String> {
        if self.unsupported.is_empty() {
            return None;
        }
        let parts: Vec<String> = self
            .unsupported
            .iter()
            .map(|(why, steps)| format!("{why} (steps {})", steps.join(", ")))
            .collect();
        Some(format!(
            "this build cannot run this plan; nothing was run. It needs {}. `runbook plan` shows what it would do.",
            parts.join("; ")
        ))
    }
}

/// Walks the plan and the sub-playbooks it calls by name (calls whose name is known before
/// the run; their params need not be).
pub fn reach(workdir: &std::path::Path, plan: &Plan, prefix: &str) -> Reach {
    let mut r = Reach::default();
    walk(
        workdir,
        plan,
        if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        },
        &mut vec![plan.playbook.name.clone()],
        &mut r,
    );
    r
}

fn walk(workdir: &std::path::Path, plan: &Plan, prefix: String, stack: &mut Vec<String>, r: &mut Reach) {
    for s in plan.steps.iter().chain(&plan.on_failure).chain(&plan.finally) {
        let label = format!("{prefix}{}", s.id);
        r.labels.push(label.clone());
        let rollbacks = match &s.rollback {
            Some(RollbackPlan::Steps(steps)) => steps.iter().map(|r| &r.action).collect(),
            _ => Vec::new(),
        };
        for a in s
            .action
            .iter()
            .chain(s.preconditions.iter().map(|c| &c.action))
            .chain(rollbacks)
        {
            if let Some(why) = a.spec.unsupported() {
                r.unsupported.entry(why).or_default().push(label.clone());
            }
            if let Action::Playbook(call) = &a.spec
                && !call.name.contains("{{")
                && !stack.contains(&call.name)
                && stack.len() < MAX_DEPTH
                && let Ok(sub) = compile_call(workdir, &plan.env.name, call, true)
            {
                stack.push(call.name.clone());
                walk(workdir, &sub, format!("{label}/"), stack, r);
                stack.pop();
            }
        }
    }
}
