//! One step, in a task of its own: `when`, then preconditions, gates (`gate`), the action's
//! attempts (`attempt`: timeout, retry, `until`), and outputs; `for_each` runs it once per
//! item. Its start is on disk before its action begins, and every wait in it goes through
//! the one sleep.

use std::time::Instant;

use serde_json::Value as Json;

use super::engine::Engine;
use super::{attempt, gate};
use crate::actions::Outcome;
use crate::compile::Step;
use crate::event::{RunEvent, StepStatus};
use crate::wake::Waits;

/// How a step ended, for the dispatcher.
#[derive(Debug, Clone)]
pub struct StepReport {
    pub status: StepStatus,
    /// A gate was refused or failed closed: the run ends refused.
    pub refused: bool,
    /// A `for_each` stopped at a declined iteration (`on_decline: skip`): what needs it
    /// does not run.
    pub cut: bool,
    /// The action (of some iteration) began: its effect may be partial.
    pub action_started: bool,
    /// Units to undo if the run rolls back: the step, or each finished iteration.
    pub done: Vec<Unit>,
    /// The failed iteration, to undo as well (its effect may be partial).
    pub failed_unit: Option<Unit>,
}

/// One run of a step's action: the step itself, or one `for_each` iteration.
#[derive(Debug, Clone)]
pub struct Unit {
    pub label: String,
    /// The loop variable's binding, for the iteration's rollback.
    pub binding: Option<(String, Json)>,
    /// What `rollback: auto` runs, captured by the action before it changed anything.
    pub undo: Option<crate::spec::Undo>,
}

impl StepReport {
    fn new(status: StepStatus) -> StepReport {
        StepReport {
            status,
            refused: false,
            cut: false,
            action_started: false,
            done: vec![],
            failed_unit: None,
        }
    }

    /// How the step or one iteration (`unit`) ended; `unit` is to undo when it finished.
    pub(super) fn of(unit: &Unit, status: StepStatus, refused: bool, action_started: bool) -> StepReport {
        StepReport {
            status,
            refused,
            cut: false,
            action_started,
            done: if status == StepStatus::Ok {
                vec![unit.clone()]
            } else {
                vec![]
            },
            failed_unit: None,
        }
    }

    /// A step that failed before its action began: nothing of it to undo.
    pub fn failed_unrun() -> StepReport {
        StepReport::new(StepStatus::Failed)
    }
}

impl Unit {
    pub fn extra(&self) -> Vec<(&str, Json)> {
        self.binding.iter().map(|(k, v)| (k.as_str(), v.clone())).collect()
    }
}

fn millis(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

/// Runs a step; `waits` end its waits (happy path, or a cleanup's). When it ends is noted
/// for the measures: a `for_each` step ends with its last iteration.
pub async fn run_step(eng: &Engine, step: &Step, waits: &Waits) -> StepReport {
    let report = run_step_once(eng, step, waits).await;
    eng.clock.finished(&step.id, Instant::now(), report.status);
    report
}

async fn run_step_once(eng: &Engine, step: &Step, waits: &Waits) -> StepReport {
    let skipped = |reason: String| {
        eng.emit(RunEvent::StepSkipped {
            step: eng.label(&step.id),
            reason,
        });
        StepReport::new(StepStatus::Skipped)
    };
    if let Some(w) = &step.when {
        let value = match w.value {
            Some(v) => v,
            None => match eng.rt.eval(&w.expr, &[]) {
                Ok(v) => crate::expr::truthy(&v),
                Err(e) => {
                    return eng
                        .fail_step(step, format!("when `{}`: {e}", w.expr), Instant::now(), None)
                        .await;
                }
            },
        };
        if !value {
            return skipped(format!("`when: {}` is false", w.expr));
        }
    }
    let Some(fe) = &step.for_each else {
        let unit = Unit {
            label: eng.label(&step.id),
            binding: None,
            undo: None,
        };
        return run_unit(eng, step, unit, waits).await;
    };
    let items = match eng.rt.eval(&fe.items, &[]) {
        Ok(Json::Array(items)) => items,
        Ok(other) => {
            return eng
                .fail_step(
                    step,
                    format!("for_each `{}` is not a list: {other}", fe.items),
                    Instant::now(),
                    None,
                )
                .await;
        }
        Err(e) => {
            return eng
                .fail_step(step, format!("for_each `{}`: {e}", fe.items), Instant::now(), None)
                .await;
        }
    };
    if items.is_empty() {
        return skipped(format!("for_each `{}` is empty", fe.items));
    }
    // Iterations run at most `max_parallel` at once. The first that fails, is refused, or
    // is declined stops new ones: a refusal anywhere is the whole step's.
    let mut report = StepReport::new(StepStatus::Ok);
    let mut pending = items.into_iter().enumerate();
    let mut running = futures_util::stream::FuturesUnordered::new();
    let mut stop: Option<String> = None;
    loop {
        while stop.is_none() && running.len() < fe.max_parallel as usize {
            let Some((i, item)) = pending.next() else { break };
            let unit = Unit {
                label: format!("{}[{i}]", eng.label(&step.id)),
                binding: Some((fe.as_.clone(), item)),
                undo: None,
            };
            running.push(async move {
                let r = run_unit(eng, step, unit.clone(), waits).await;
                (unit, r)
            });
        }
        use futures_util::StreamExt;
        let Some((unit, r)) = running.next().await else { break };
        report.action_started |= r.action_started;
        match r.status {
            StepStatus::Ok => report.done.extend(r.done),
            // Withdrawn at its gate (the run is failing or stopping): nothing more starts.
            StepStatus::Skipped => {
                stop.get_or_insert(format!("{} did not run", unit.label));
                if report.status == StepStatus::Ok {
                    report.status = StepStatus::Skipped;
                }
            }
            StepStatus::Declined if !r.refused => {
                stop.get_or_insert(format!("{} was declined (on_decline: skip)", unit.label));
                if report.status == StepStatus::Ok {
                    report.status = StepStatus::Skipped;
                    report.cut = true;
                }
            }
            status => {
                stop.get_or_insert(format!("{} did not pass", unit.label));
                // A refusal or a failure outranks a skip; the first of them is the step's.
                if matches!(report.status, StepStatus::Ok | StepStatus::Skipped) {
                    report.status = status;
                    report.cut = false;
                }
                report.refused |= r.refused;
                if r.action_started && report.failed_unit.is_none() {
                    report.failed_unit = Some(unit);
                }
            }
        }
    }
    let status = match report.status {
        StepStatus::Ok => "ok",
        StepStatus::Skipped => "skipped",
        _ => "failed",
    };
    eng.rt
        .record_step(&step.id, status, &Json::Null, &serde_json::Map::new());
    if let (Some(why), true) = (&stop, report.cut || report.status == StepStatus::Skipped) {
        let next = if report.cut {
            ", nor do the steps that need it"
        } else {
            ""
        };
        skipped(format!(
            "{why}; its other iterations do not run{next} ({} of them done)",
            report.done.len()
        ));
    }
    report
}

/// Preconditions, gates, action, outputs: for the step or one iteration.
async fn run_unit(eng: &Engine, step: &Step, mut unit: Unit, waits: &Waits) -> StepReport {
    let start = Instant::now();
    // Owned, so that the unit can take the undo the action captures.
    let binding = unit.binding.clone();
    let extra: Vec<(&str, Json)> = binding.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let label = unit.label.clone();

    for check in &step.preconditions {
        let o = eng
            .run_action(
                &label,
                step,
                &check.action,
                &extra,
                check.timeout.map(|t| t.std()).unwrap_or(step.timeout.std()),
                waits,
            )
            .await;
        eng.emit(RunEvent::Precondition {
            step: label.clone(),
            name: check.name.clone(),
            ok: o.ok,
            message: (!o.ok).then(|| check.message.clone().or(o.error.clone()).unwrap_or_default()),
        });
        if !o.ok {
            let why = check.message.clone().or(o.error).unwrap_or_default();
            let mut r = eng
                .fail_step(
                    step,
                    format!("precondition `{}` does not hold: {why}", check.name),
                    start,
                    Some(&label),
                )
                .await;
            r.action_started = false;
            return r;
        }
    }

    if let Err(r) = gate::pass(eng, step, &unit, &extra, waits, start).await {
        return r;
    }

    let Some(action) = &step.action else {
        // A pure gate: passing it is the step, and when it passed is when it "started".
        eng.clock.started(&step.id, Instant::now());
        eng.rt
            .record_step(eng.key(&label), "ok", &Json::Null, &serde_json::Map::new());
        eng.finish_event(&label, StepStatus::Ok, start, None, None, &serde_json::Map::new())
            .await;
        return StepReport::of(&unit, StepStatus::Ok, false, false);
    };

    let (outcome, began) = attempt::tries(eng, step, &unit, action, &extra, waits).await;
    unit.undo = outcome.undo.clone();
    if outcome.refused {
        eng.finish_event(
            &label,
            StepStatus::Declined,
            start,
            outcome.error.clone(),
            None,
            &serde_json::Map::new(),
        )
        .await;
        return StepReport::of(&unit, StepStatus::Declined, true, false);
    }
    if !outcome.ok {
        let status = if outcome.timed_out {
            StepStatus::TimedOut
        } else {
            StepStatus::Failed
        };
        // What went wrong is readable too (`steps.<id>.error`), for steps after one whose
        // failure is ignored.
        let mut known = serde_json::Map::new();
        if let Some(e) = &outcome.error {
            known.insert("error".into(), Json::String(eng.rt.redact(e)));
        }
        eng.rt.record_step(eng.key(&label), "failed", &outcome.result, &known);
        eng.finish_event(
            &label,
            status,
            start,
            outcome.error.clone(),
            Some(&outcome),
            &serde_json::Map::new(),
        )
        .await;
        let mut r = StepReport::of(&unit, status, false, began);
        r.failed_unit = Some(unit.clone());
        return r;
    }

    let mut outputs = serde_json::Map::new();
    let mut with_result = extra.clone();
    with_result.push(("result", outcome.result.clone()));
    for (name, tpl) in &step.outputs {
        match eng.rt.render_value(tpl, &with_result) {
            Ok(v) => {
                outputs.insert(name.clone(), v);
            }
            Err(e) => {
                let msg = format!("output `{name}`: {e}");
                eng.finish_event(&label, StepStatus::Failed, start, Some(msg), Some(&outcome), &outputs)
                    .await;
                let mut r = StepReport::of(&unit, StepStatus::Failed, false, true);
                r.failed_unit = Some(unit.clone());
                return r;
            }
        }
    }
    eng.rt.record_step(eng.key(&label), "ok", &outcome.result, &outputs);
    eng.finish_event(&label, StepStatus::Ok, start, None, Some(&outcome), &outputs)
        .await;
    StepReport::of(&unit, StepStatus::Ok, false, true)
}

impl Engine {
    /// The name a label is recorded under for `steps.<id>`: without the caller's prefix.
    pub(super) fn key<'l>(&self, label: &'l str) -> &'l str {
        label.strip_prefix(self.prefix.as_str()).unwrap_or(label)
    }

    pub(super) async fn fail_step(
        &self,
        step: &Step,
        error: String,
        start: Instant,
        label: Option<&str>,
    ) -> StepReport {
        let label = label.map(String::from).unwrap_or_else(|| self.label(&step.id));
        self.finish_event(
            &label,
            StepStatus::Failed,
            start,
            Some(error),
            None,
            &serde_json::Map::new(),
        )
        .await;
        StepReport::failed_unrun()
    }

    /// Records how a step ended. Not waited for: a next step's start is written after it
    /// (the journal's channel keeps the order), and refused if this one failed.
    pub(super) async fn finish_event(
        &self,
        label: &str,
        status: StepStatus,
        start: Instant,
        error: Option<String>,
        outcome: Option<&Outcome>,
        outputs: &serde_json::Map<String, Json>,
    ) {
        let tail: Vec<String> = outcome
            .map(|o| {
                let lines: Vec<&str> = o.output.lines().collect();
                lines[lines.len().saturating_sub(10)..]
                    .iter()
                    .map(|l| l.to_string())
                    .collect()
            })
            .unwrap_or_default();
        self.emit(RunEvent::StepFinished {
            step: label.to_string(),
            status,
            duration_ms: millis(start),
            exit_code: outcome.and_then(|o| o.exit_code),
            error,
            outputs: outputs.clone(),
            tail,
            undo: outcome.and_then(|o| o.undo.as_ref()).map(crate::journal::journal_undo),
        });
    }
}
