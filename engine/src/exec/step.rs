//! One step: `when`, then preconditions, gates, the action (timeout, retry, `until`), and
//! outputs; `for_each` runs it once per item.

use std::time::{Duration, Instant};

use serde_json::Value as Json;

use super::engine::Engine;
use super::event::{RunEvent, StepStatus};
use crate::actions::{ActionCx, Outcome};
use crate::approve::Answer;
use crate::compile::{GateKind, PlannedAction, Step};

/// How a step ended, for the dispatcher.
#[derive(Debug, Clone)]
pub struct StepReport {
    pub status: StepStatus,
    /// A gate was refused or failed closed: the run ends refused.
    pub refused: bool,
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
    pub undo: Option<crate::actions::Undo>,
}

impl Unit {
    pub fn extra(&self) -> Vec<(&str, Json)> {
        self.binding.iter().map(|(k, v)| (k.as_str(), v.clone())).collect()
    }
}

fn millis(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

pub async fn run_step(eng: &Engine, step: &Step) -> StepReport {
    let skipped = |reason: String| {
        eng.emit(RunEvent::StepSkipped {
            step: eng.label(&step.id),
            reason,
        });
        StepReport {
            status: StepStatus::Skipped,
            refused: false,
            action_started: false,
            done: vec![],
            failed_unit: None,
        }
    };
    if let Some(w) = &step.when {
        let value = match w.value {
            Some(v) => v,
            None => match eng.rt.eval(&w.expr, &[]) {
                Ok(v) => super::truthy(&v),
                Err(e) => return eng.fail_step(step, format!("when `{}`: {e}", w.expr), Instant::now(), None),
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
        return run_unit(eng, step, unit).await;
    };
    let items = match eng.rt.eval(&fe.items, &[]) {
        Ok(Json::Array(items)) => items,
        Ok(other) => {
            return eng.fail_step(
                step,
                format!("for_each `{}` is not a list: {other}", fe.items),
                Instant::now(),
                None,
            );
        }
        Err(e) => return eng.fail_step(step, format!("for_each `{}`: {e}", fe.items), Instant::now(), None),
    };
    if items.is_empty() {
        return skipped(format!("for_each `{}` is empty", fe.items));
    }
    // Iterations run at most `max_parallel` at once; the first failure stops new ones.
    let mut report = StepReport {
        status: StepStatus::Ok,
        refused: false,
        action_started: false,
        done: vec![],
        failed_unit: None,
    };
    let mut pending = items.into_iter().enumerate();
    let mut running = futures_util::stream::FuturesUnordered::new();
    let mut stop = false;
    loop {
        while !stop && running.len() < fe.max_parallel as usize {
            let Some((i, item)) = pending.next() else { break };
            let unit = Unit {
                label: format!("{}[{i}]", eng.label(&step.id)),
                binding: Some((fe.as_.clone(), item)),
                undo: None,
            };
            running.push(async move {
                let r = run_unit(eng, step, unit.clone()).await;
                (unit, r)
            });
        }
        use futures_util::StreamExt;
        let Some((unit, r)) = running.next().await else { break };
        report.action_started |= r.action_started;
        match r.status {
            StepStatus::Ok => report.done.push(unit),
            StepStatus::Skipped | StepStatus::Declined => {}
            _ => {
                stop = true;
                report.status = r.status;
                report.refused |= r.refused;
                if r.action_started {
                    report.failed_unit = Some(unit);
                }
            }
        }
    }
    let status = if report.status == StepStatus::Ok {
        "ok"
    } else {
        "failed"
    };
    eng.rt
        .record_step(&step.id, status, &Json::Null, &serde_json::Map::new());
    report
}

/// Preconditions, gates, action, outputs: for the step or one iteration.
async fn run_unit(eng: &Engine, step: &Step, mut unit: Unit) -> StepReport {
    let start = Instant::now();
    // Owned, so that the unit can take the undo the action captures.
    let binding = unit.binding.clone();
    let extra: Vec<(&str, Json)> = binding.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let label = unit.label.clone();
    let report = |unit: &Unit, status, refused, action_started| StepReport {
        status,
        refused,
        action_started,
        done: if status == StepStatus::Ok {
            vec![unit.clone()]
        } else {
            vec![]
        },
        failed_unit: None,
    };

    for check in &step.preconditions {
        let o = eng
            .run_action(
                &label,
                step,
                &check.action,
                &extra,
                check.timeout.map(|t| t.std()).unwrap_or(step.timeout.std()),
            )
            .await;
        eng.emit(RunEvent::Precondition {
            step: label.clone(),
            name: check.name.clone(),
            ok: o.ok,
            message: (!o.ok).then(|| {
                eng.rt
                    .redact(&check.message.clone().or(o.error.clone()).unwrap_or_default())
            }),
        });
        if !o.ok {
            let why = check.message.clone().or(o.error).unwrap_or_default();
            let mut r = eng.fail_step(
                step,
                format!("precondition `{}` does not hold: {why}", check.name),
                start,
                Some(&label),
            );
            r.action_started = false;
            return r;
        }
    }

    for gate in &step.gates {
        let summary = step
            .action
            .as_ref()
            .map(|a| eng.shown(&label, a, &extra))
            .unwrap_or_else(|| "(a gate, no action)".into());
        let question = match &gate.question_template {
            Some(t) => eng
                .rt
                .render(t, &extra)
                .unwrap_or_else(|_| gate.question.clone().unwrap_or_default()),
            None => gate.question.clone().unwrap_or_else(|| format!("Run step `{label}`?")),
        };
        let detail = format!(
            "step `{label}` · risk {} · {}\n  {summary}",
            step.risk.as_str(),
            step.effect.as_str()
        );
        let answer = eng.gates.decide(
            &eng.label(&step.id),
            gate,
            &eng.rt.redact(&question),
            &eng.rt.redact(&detail),
        );
        let answer = match answer {
            Answer::Wait { dir, who } => eng.wait_for_approval(&label, gate, &dir, &who).await,
            other => other,
        };
        let kind = match gate.kind {
            GateKind::Confirm => "confirm",
            GateKind::Approval => "approval",
        };
        let (approved, by, how, why) = match &answer {
            Answer::Yes { by, how } => (true, by.clone(), how.clone(), None),
            Answer::No { by, how } => (false, by.clone(), how.clone(), None),
            Answer::Closed { why } => (false, String::new(), "failed closed".into(), Some(why.clone())),
            Answer::Wait { .. } => unreachable!("waited for above"),
        };
        eng.emit(RunEvent::Gate {
            step: label.clone(),
            kind: kind.into(),
            approved,
            by,
            question: eng.rt.redact(&question),
            shown: eng.rt.redact(&detail),
            plan_hash: eng.plan.hash.clone(),
            how,
        });
        match answer {
            Answer::Yes { .. } => {}
            Answer::No { .. } if step.on_decline == Some(crate::playbook::OnDecline::Skip) => {
                eng.emit(RunEvent::StepSkipped {
                    step: label.clone(),
                    reason: "declined at its gate (on_decline: skip)".into(),
                });
                return report(&unit, StepStatus::Declined, false, false);
            }
            Answer::No { .. } => {
                eng.finish_event(
                    &label,
                    StepStatus::Declined,
                    start,
                    Some("declined at its gate".into()),
                    None,
                    &serde_json::Map::new(),
                );
                return report(&unit, StepStatus::Declined, true, false);
            }
            Answer::Wait { .. } => unreachable!("waited for above"),
            Answer::Closed { .. } => {
                eng.finish_event(&label, StepStatus::Declined, start, why, None, &serde_json::Map::new());
                return report(&unit, StepStatus::Declined, true, false);
            }
        }
    }

    let Some(action) = &step.action else {
        // A pure gate: passing it is the step.
        eng.rt
            .record_step(eng.key(&label), "ok", &Json::Null, &serde_json::Map::new());
        eng.finish_event(&label, StepStatus::Ok, start, None, None, &serde_json::Map::new());
        return report(&unit, StepStatus::Ok, false, false);
    };

    let attempts = step.retry.as_ref().map(|r| r.attempts.max(1)).unwrap_or(1);
    let mut delay = step
        .retry
        .as_ref()
        .and_then(|r| r.delay)
        .map(|d| d.std())
        .unwrap_or(Duration::from_secs(1));
    let backoff = step.retry.as_ref().and_then(|r| r.backoff).unwrap_or(1.0);
    let mut outcome = Outcome::fail("not run");
    let mut captured = None;
    for attempt in 1..=attempts {
        eng.emit(RunEvent::StepStarted {
            step: label.clone(),
            name: step.title().to_string(),
            attempt,
            summary: eng.shown(&label, action, &extra),
        });
        outcome = eng.poll_until(&label, step, action, &extra).await;
        // The first capture is the state before any attempt changed it.
        captured = captured.or(outcome.undo.take());
        if outcome.ok || outcome.refused || attempt == attempts || eng.cancelled() {
            break;
        }
        eng.emit(RunEvent::Log {
            step: Some(label.clone()),
            message: eng.rt.redact(&format!(
                "attempt {attempt} failed ({}); retrying in {}",
                outcome.error.clone().unwrap_or_default(),
                crate::playbook::Duration(delay)
            )),
        });
        eng.sleep(delay).await;
        delay = delay.mul_f64(backoff);
    }

    outcome.undo = captured.clone();
    unit.undo = captured;
    if outcome.refused {
        eng.finish_event(
            &label,
            StepStatus::Declined,
            start,
            outcome.error.clone(),
            None,
            &serde_json::Map::new(),
        );
        return report(&unit, StepStatus::Declined, true, false);
    }
    if !outcome.ok {
        let status = if outcome.timed_out {
            StepStatus::TimedOut
        } else {
            StepStatus::Failed
        };
        eng.rt
            .record_step(eng.key(&label), "failed", &outcome.result, &serde_json::Map::new());
        eng.finish_event(
            &label,
            status,
            start,
            outcome.error.clone(),
            Some(&outcome),
            &serde_json::Map::new(),
        );
        let mut r = report(&unit, status, false, true);
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
                eng.finish_event(&label, StepStatus::Failed, start, Some(msg), Some(&outcome), &outputs);
                let mut r = report(&unit, StepStatus::Failed, false, true);
                r.failed_unit = Some(unit.clone());
                return r;
            }
        }
    }
    eng.rt.record_step(eng.key(&label), "ok", &outcome.result, &outputs);
    eng.finish_event(&label, StepStatus::Ok, start, None, Some(&outcome), &outputs);
    report(&unit, StepStatus::Ok, false, true)
}

impl Engine {
    /// Waits for other people's decisions on an approval gate: enough approvals, a
    /// rejection, the gate's timeout (rejects), or an interrupt.
    async fn wait_for_approval(
        &self,
        label: &str,
        gate: &crate::compile::Gate,
        dir: &std::path::Path,
        who: &str,
    ) -> Answer {
        use crate::approve::live::{Tally, tally};
        let timeout = gate
            .approval
            .as_ref()
            .and_then(|a| a.timeout)
            .map(|t| t.std())
            .unwrap_or(Duration::from_secs(3600));
        self.emit(RunEvent::Log {
            step: Some(label.to_string()),
            message: format!(
                "waiting up to {} for approval by {who}: runbook approve {} {label} --as NAME (or --reject)",
                crate::playbook::Duration(timeout),
                self.run.id
            ),
        });
        let deadline = Instant::now() + timeout;
        let runner = self.gates.user.clone();
        loop {
            match tally(dir, gate, &runner) {
                Tally::Approved(by) => {
                    return Answer::Yes {
                        by: by.join(", "),
                        how: "runbook approve".into(),
                    };
                }
                Tally::Rejected(by) => {
                    return Answer::No {
                        by,
                        how: "runbook approve --reject".into(),
                    };
                }
                Tally::Pending { have, need } => {
                    if Instant::now() >= deadline {
                        return Answer::Closed {
                            why: format!(
                                "no approval within {} ({have} of {need}): rejected",
                                crate::playbook::Duration(timeout)
                            ),
                        };
                    }
                    if *self.stop.borrow() || self.cancelled() {
                        return Answer::Closed {
                            why: "interrupted while waiting for approval".into(),
                        };
                    }
                }
            }
            self.sleep(Duration::from_millis(300)).await;
        }
    }

    /// The name a label is recorded under for `steps.<id>`: without the caller's prefix.
    fn key<'l>(&self, label: &'l str) -> &'l str {
        label.strip_prefix(self.prefix.as_str()).unwrap_or(label)
    }

    /// Runs the action until `until` holds (or once), all within the step's timeout.
    async fn poll_until(&self, label: &str, step: &Step, action: &PlannedAction, extra: &[(&str, Json)]) -> Outcome {
        let deadline = Instant::now() + step.timeout.std();
        let interval = step.interval.map(|i| i.std()).unwrap_or(Duration::from_secs(10));
        let mut polls = 0;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let mut o = self.run_action(label, step, action, extra, remaining).await;
            let Some(until) = &step.until else { return o };
            if !o.ok {
                return o;
            }
            let mut with_result = extra.to_vec();
            with_result.push(("result", o.result.clone()));
            match self.rt.eval(until, &with_result) {
                Ok(v) if super::truthy(&v) => return o,
                Ok(_) => {}
                Err(e) => {
                    o.ok = false;
                    o.error = Some(format!("until `{until}`: {e}"));
                    return o;
                }
            }
            polls += 1;
            if Instant::now() + interval >= deadline || self.cancelled() {
                o.ok = false;
                o.timed_out = true;
                o.error = Some(format!(
                    "`until: {until}` still false after {polls} polls and {}",
                    step.timeout
                ));
                return o;
            }
            self.emit(RunEvent::Poll {
                step: label.to_string(),
                attempt: polls,
            });
            self.sleep(interval).await;
        }
    }

    /// Renders and runs one action with the run's means.
    pub(super) async fn run_action(
        &self,
        label: &str,
        step: &Step,
        action: &PlannedAction,
        extra: &[(&str, Json)],
        timeout: Duration,
    ) -> Outcome {
        self.run_action_with(
            label,
            step.doc.as_deref(),
            step.message.as_deref(),
            action,
            extra,
            timeout,
        )
        .await
    }

    /// Renders and runs one action; `doc` and `message` are the step's, when there is one.
    pub(super) async fn run_action_with(
        &self,
        label: &str,
        doc: Option<&str>,
        message: Option<&str>,
        action: &PlannedAction,
        extra: &[(&str, Json)],
        timeout: Duration,
    ) -> Outcome {
        let spec = match self.rt.render_action(action, extra) {
            Ok(s) => s,
            Err(e) => return Outcome::fail(e),
        };
        if let crate::actions::Action::Playbook(call) = &spec {
            return self.run_sub(label, &call.0).await;
        }
        let eval = |expr: &str, more: &[(&str, Json)]| {
            let mut all = extra.to_vec();
            all.extend(more.iter().cloned());
            self.rt.eval(expr, &all)
        };
        let log = |m: String| {
            self.emit(RunEvent::Log {
                step: Some(label.to_string()),
                message: self.rt.redact(&m),
            })
        };
        let cx = ActionCx {
            step: label,
            doc,
            workdir: self.opts.workdir.clone(),
            timeout,
            cancel: self.cancel_rx(),
            settle: self.settle.subscribe(),
            http: &self.http,
            eval: &eval,
            log: &log,
            prompter: self.gates.prompter.as_ref(),
            inputs: &self.opts.inputs,
            env: &self.plan.env,
            run_id: &self.run.id,
        };
        spec.execute(&cx, message).await
    }

    /// The action as people see it at run time (run-time values filled in, secrets hidden).
    pub(super) fn shown(&self, _label: &str, action: &PlannedAction, extra: &[(&str, Json)]) -> String {
        match self.rt.render_action(action, extra) {
            Ok(spec) => format!("{}: {}", spec.key(), self.rt.redact(&spec.summary())),
            Err(_) => format!("{}: {}", action.spec.key(), action.summary),
        }
    }

    pub(super) fn fail_step(&self, step: &Step, error: String, start: Instant, label: Option<&str>) -> StepReport {
        let label = label.map(String::from).unwrap_or_else(|| self.label(&step.id));
        self.finish_event(
            &label,
            StepStatus::Failed,
            start,
            Some(error),
            None,
            &serde_json::Map::new(),
        );
        StepReport {
            status: StepStatus::Failed,
            refused: false,
            action_started: false,
            done: vec![],
            failed_unit: None,
        }
    }

    pub(super) fn finish_event(
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
                let text = self.rt.redact(&o.output);
                let lines: Vec<&str> = text.lines().collect();
                lines[lines.len().saturating_sub(10)..]
                    .iter()
                    .map(|l| l.to_string())
                    .collect()
            })
            .unwrap_or_default();
        let outputs = outputs
            .iter()
            .map(|(k, v)| (k.clone(), redact_json(v, &self.rt.secret_values())))
            .collect();
        self.emit(RunEvent::StepFinished {
            step: label.to_string(),
            status,
            duration_ms: millis(start),
            exit_code: outcome.and_then(|o| o.exit_code),
            error: error.map(|e| self.rt.redact(&e)),
            outputs,
            tail,
            undo: outcome
                .and_then(|o| o.undo.as_ref())
                .map(|u| redact_json(&super::event::journal_undo(u), &self.rt.secret_values())),
        });
    }
}

/// A value with every string that contains a secret replaced by `***`.
fn redact_json(v: &Json, secrets: &[String]) -> Json {
    match v {
        Json::String(s) if secrets.iter().any(|x| s.contains(x.as_str())) => Json::String("***".into()),
        Json::Array(a) => Json::Array(a.iter().map(|x| redact_json(x, secrets)).collect()),
        Json::Object(m) => Json::Object(m.iter().map(|(k, x)| (k.clone(), redact_json(x, secrets))).collect()),
        other => other.clone(),
    }
}
