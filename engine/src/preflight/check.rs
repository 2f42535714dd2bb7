//! The preflight's evaluation: the steps in run order, each decided from what is known before
//! the run, the results of the read-only steps checked before it, and the live systems.
//! Read-only actions run for real, Kubernetes writes as server-side dry runs; everything else
//! that changes a system is reported and never run (how one action is checked is in
//! `action.rs`).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value as Json;

use super::model::{CHECK_FORMAT, CheckLine, How, Preflight, Section, Status, StepCheck, Verdict};
use super::reads::{self, ANY_STEP};
use crate::approve::Prompter;
use crate::compile::Step;
use crate::exec::{RunInfo, Runtime};
use crate::expr::template::Templates;
use crate::expr::truthy;
use crate::plan::Plan;
use crate::redact::Redactor;
use crate::spec::Effect;
use crate::wake::Waits;

/// What a preflight runs with: the run's values, as a run would have them.
pub struct Means {
    pub run: RunInfo,
    pub secrets: IndexMap<String, String>,
    /// Where commands run: the workspace root.
    pub workdir: PathBuf,
    /// A signal ends them: the check stops cleanly, its commands' process groups killed.
    pub waits: Waits,
    /// What stops the run before its first step, found before the check (a missing secret).
    pub blockers: Vec<String>,
}

/// Checks every step of the plan; never runs a mutating action.
pub async fn check(plan: &Plan, means: Means) -> Preflight {
    // What a sub-playbook's check runs with: the run's own values, as its sub-run would.
    let for_sub = || Means {
        run: means.run.clone(),
        secrets: means.secrets.clone(),
        workdir: means.workdir.clone(),
        waits: means.waits.clone(),
        blockers: Vec::new(),
    };
    let values: Vec<&str> = means.secrets.values().map(String::as_str).collect();
    let redactor = Arc::new(Redactor::new(values));
    let mut pass = Pass {
        rt: Runtime::new(plan, &means.run, means.secrets.clone(), redactor.clone()),
        plan,
        t: Templates::new(),
        redactor,
        http: reqwest::Client::new(),
        prompter: Prompter::Nobody("`plan --check` asks nobody".into()),
        inputs: HashMap::new(),
        workdir: means.workdir.clone(),
        waits: means.waits.clone(),
        run_id: means.run.id.clone(),
        sealed: crate::compile::sealed_of(&plan.files),
        ran: HashSet::new(),
        skipped: HashSet::new(),
        changes_before: HashMap::new(),
        last_change: None,
    };
    let order: Vec<(&Step, Section)> = plan
        .waves
        .iter()
        .flatten()
        .filter_map(|id| plan.steps.iter().find(|s| &s.id == id))
        .map(|s| (s, Section::Steps))
        .chain(plan.on_failure.iter().map(|s| (s, Section::OnFailure)))
        .chain(plan.finally.iter().map(|s| (s, Section::Finally)))
        .collect();
    let mut steps = Vec::new();
    let mut interrupted = false;
    for (step, section) in order {
        let checked = if pass.waits.stopped() {
            interrupted = true;
            pass.line(step, section, Verdict::not_checked("interrupted"), vec![])
        } else {
            pass.step(step, section).await
        };
        interrupted |= pass.waits.stopped();
        let runs_sub = checked.verdict.status != Status::Skipped && !interrupted;
        steps.push(checked);
        // The steps of a sub-playbook the plan compiled in whole are checked as the
        // caller's, `caller/step`, right after it.
        if let Some(sub) = plan.subplans.get(&step.id).filter(|s| s.complete && runs_sub) {
            let nested = Box::pin(check(&Plan::of_sub(sub), for_sub())).await;
            interrupted |= nested.interrupted;
            steps.extend(nested.steps.into_iter().map(|mut s| {
                s.id = format!("{}/{}", step.id, s.id);
                s
            }));
        }
    }
    let ok = means.blockers.is_empty() && !interrupted && steps.iter().all(|s| s.status != Status::WouldFail);
    Preflight {
        format: CHECK_FORMAT,
        playbook: plan.playbook.name.clone(),
        env: plan.env.name.clone(),
        plan_hash: plan.hash.clone(),
        ok,
        interrupted,
        blockers: means
            .blockers
            .iter()
            .map(|b| pass.redactor.redact(b).into_owned())
            .collect(),
        steps,
    }
}

/// The check's state as it goes through the steps.
pub(super) struct Pass<'p> {
    pub(super) plan: &'p Plan,
    pub(super) rt: Runtime,
    pub(super) t: Templates,
    pub(super) redactor: Arc<Redactor>,
    pub(super) http: reqwest::Client,
    pub(super) prompter: Prompter,
    pub(super) inputs: HashMap<String, String>,
    pub(super) workdir: PathBuf,
    pub(super) waits: Waits,
    pub(super) run_id: String,
    /// The files the plan recorded (manifests, scripts): what an action reads must be them.
    pub(super) sealed: crate::compile::Sealed,
    /// Read-only steps run for real in this check: their results are in `rt`, as in a run.
    ran: HashSet<String>,
    /// Steps a false `when` skips: they change nothing.
    skipped: HashSet<String>,
    /// Per step checked: the nearest step it needs (directly or not) that changes a system
    /// and did not run here, so what it reads may not hold yet.
    changes_before: HashMap<String, Option<String>>,
    /// The last such step of the main steps: `on_failure` and `finally` steps come after it.
    last_change: Option<String>,
}

impl Pass<'_> {
    /// A step changes a system: its run is not part of the check.
    fn changes(&self, id: &str) -> bool {
        !self.skipped.contains(id)
            && self
                .plan
                .step(id)
                .is_some_and(|s| matches!(s.effect, Effect::Mutating | Effect::Irreversible))
    }

    fn change_before(&self, step: &Step, section: Section) -> Option<String> {
        let direct = step.needs.iter().find_map(|n| {
            if self.changes(n) {
                Some(n.clone())
            } else {
                self.changes_before.get(n).cloned().flatten()
            }
        });
        match section {
            Section::Steps => direct,
            _ => direct.or_else(|| self.last_change.clone()),
        }
    }

    /// `Err(step)`: a step these reads need has not run in this check.
    pub(super) fn known(&self, ids: &BTreeSet<String>) -> Result<(), String> {
        match ids.iter().find(|id| !self.ran.contains(*id)) {
            Some(id) if id == ANY_STEP => Err("an earlier step".into()),
            Some(id) => Err(id.clone()),
            None => Ok(()),
        }
    }

    /// The step's line; the one place its words are redacted.
    fn line(&self, step: &Step, section: Section, mut verdict: Verdict, pre: Vec<CheckLine>) -> StepCheck {
        verdict.message = self.redactor.redact(&verdict.message).into_owned();
        let preconditions = pre
            .into_iter()
            .map(|mut c| {
                c.verdict.message = self.redactor.redact(&c.verdict.message).into_owned();
                c
            })
            .collect();
        StepCheck {
            id: step.id.clone(),
            section,
            action: step.action.as_ref().map(|a| a.spec.verb()),
            effect: step.effect,
            verdict,
            preconditions,
        }
    }

    async fn step(&mut self, step: &Step, section: Section) -> StepCheck {
        let before = self.change_before(step, section);
        self.changes_before.insert(step.id.clone(), before.clone());
        let verdict = self.decide(step, before.as_deref()).await;
        let (verdict, pre) = verdict;
        if verdict.status == Status::Skipped {
            self.skipped.insert(step.id.clone());
        }
        if section == Section::Steps && self.changes(&step.id) {
            self.last_change = Some(step.id.clone());
        }
        self.line(step, section, verdict, pre)
    }

    /// `when`, `for_each`, preconditions, then the action.
    async fn decide(&mut self, step: &Step, before: Option<&str>) -> (Verdict, Vec<CheckLine>) {
        if let Some(w) = &step.when {
            let value = match w.value {
                Some(v) => v,
                None => match self.known(&reads::in_expr(&self.t, &w.expr)) {
                    Err(until) => {
                        let why = format!("`when: {}` reads its result", w.expr);
                        return (Verdict::unknown(&until, why), vec![]);
                    }
                    Ok(()) => match self.rt.eval(&w.expr, &[]) {
                        Ok(v) => truthy(&v),
                        Err(e) => {
                            return (
                                Verdict::fail(Some(How::Evaluated), format!("when `{}`: {e}", w.expr)),
                                vec![],
                            );
                        }
                    },
                },
            };
            if !value {
                return (Verdict::skipped(format!("`when: {}` is false", w.expr)), vec![]);
            }
        }
        let bindings: Vec<Option<(String, Json)>> = match &step.for_each {
            None => vec![None],
            Some(fe) => {
                if let Err(until) = self.known(&reads::in_expr(&self.t, &fe.items)) {
                    let why = format!("`for_each: {}` reads its result", fe.items);
                    return (Verdict::unknown(&until, why), vec![]);
                }
                match self.rt.eval(&fe.items, &[]) {
                    Ok(Json::Array(items)) if items.is_empty() => {
                        return (Verdict::skipped(format!("`for_each: {}` is empty", fe.items)), vec![]);
                    }
                    Ok(Json::Array(items)) => items.into_iter().map(|i| Some((fe.as_.clone(), i))).collect(),
                    Ok(other) => {
                        let why = format!("for_each `{}` is not a list: {other}", fe.items);
                        return (Verdict::fail(Some(How::Evaluated), why), vec![]);
                    }
                    Err(e) => {
                        return (
                            Verdict::fail(Some(How::Evaluated), format!("for_each `{}`: {e}", fe.items)),
                            vec![],
                        );
                    }
                }
            }
        };

        let mut pre = Vec::new();
        for check in &step.preconditions {
            let timeout = check.timeout.unwrap_or(step.timeout).std();
            let mut verdict: Option<Verdict> = None;
            for b in &bindings {
                let (v, _) = self.action(&step.id, &check.action, b, timeout, before, None).await;
                let v = match v.status {
                    Status::WouldFail => Verdict {
                        message: check.message.clone().unwrap_or(v.message.clone()),
                        ..v
                    },
                    _ => v,
                };
                let failed = v.status == Status::WouldFail;
                verdict = Some(match verdict {
                    Some(old) => old.worst(v),
                    None => v,
                });
                if failed {
                    break;
                }
            }
            if let Some(verdict) = verdict {
                pre.push(CheckLine {
                    name: check.name.clone(),
                    verdict,
                });
            }
        }
        if let Some(failed) = pre.iter().find(|c| c.status == Status::WouldFail) {
            let why = format!("precondition `{}` does not hold: {}", failed.name, failed.message);
            return (Verdict::fail(failed.how, why), pre);
        }

        let Some(action) = &step.action else {
            let v = Verdict {
                status: Status::Ready,
                message: "a gate only, nothing to run".into(),
                until: None,
                how: None,
            };
            return (pre_worst(v, &pre), pre);
        };
        let mut verdict: Option<Verdict> = None;
        let mut last = None;
        for b in &bindings {
            let (v, outcome) = self
                .action(&step.id, action, b, step.timeout.std(), before, step.message.as_deref())
                .await;
            let failed = v.status == Status::WouldFail;
            verdict = Some(match verdict {
                Some(old) => old.worst(v),
                None => v,
            });
            last = outcome;
            if failed {
                break;
            }
        }
        let mut verdict = verdict.unwrap_or_else(|| Verdict::not_checked("nothing to check"));
        // A read-only step that ran: its result is there for the steps that read it, as in a run.
        if verdict.status == Status::Ready
            && verdict.how == Some(How::Ran)
            && let Some(o) = last
        {
            if step.for_each.is_some() {
                self.rt
                    .record_step(&step.id, "ok", &Json::Null, &serde_json::Map::new());
                self.ran.insert(step.id.clone());
            } else {
                let extra = [("result", o.result.clone())];
                if let Some(until) = &step.until
                    && !self.rt.eval(until, &extra).is_ok_and(|v| truthy(&v))
                {
                    verdict
                        .message
                        .push_str(&format!(" (`until: {until}` does not hold yet; a run polls it)"));
                }
                let mut outputs = serde_json::Map::new();
                for (name, tpl) in &step.outputs {
                    match self.rt.render_value(tpl, &extra) {
                        Ok(v) => {
                            outputs.insert(name.clone(), v);
                        }
                        Err(e) => return (Verdict::fail(Some(How::Ran), format!("output `{name}`: {e}")), pre),
                    }
                }
                self.rt.record_step(&step.id, "ok", &o.result, &outputs);
                self.ran.insert(step.id.clone());
            }
        }
        (pre_worst(verdict, &pre), pre)
    }
}

/// A step's verdict, made worse by what its preconditions could not tell.
fn pre_worst(v: Verdict, pre: &[CheckLine]) -> Verdict {
    match pre.iter().find(|c| c.status == Status::Unknown) {
        Some(c) if matches!(v.status, Status::Ready | Status::NotChecked) => Verdict {
            message: format!("precondition `{}`: {}", c.name, c.message),
            ..c.verdict.clone()
        },
        _ => v,
    }
}
