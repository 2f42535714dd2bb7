//! One step, in a task of its own: `when`, then preconditions, gates, the action (timeout,
//! retry, `until`), and outputs; `for_each` runs it once per item. Its start is on disk
//! before its action begins, and every wait in it goes through the one sleep.

use std::time::{Duration, Instant};

use serde_json::Value as Json;

use super::engine::{Engine, next_delay};
use super::escalate::Awaiting;
use super::event::{RunEvent, StepStatus};
use crate::actions::{ActionCx, Outcome, cut_short};
use crate::approve::Answer;
use crate::compile::{GateKind, PlannedAction, Step};
use crate::spec::Action;
use crate::wake::{Waits, Woke};

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
    let report = |unit: &Unit, status, refused, action_started| StepReport {
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
    };

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

    for gate in &step.gates {
        let summary = step
            .action
            .as_ref()
            .map(|a| eng.shown(a, &extra))
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
        // What a person is shown at the terminal never reaches the events' choke point.
        let (question, detail) = (eng.rt.redact(&question), eng.rt.redact(&detail));
        let awaiting = match gate.kind {
            GateKind::Confirm => Awaiting::Confirm,
            GateKind::Approval => Awaiting::Approval,
        };
        let deciding = async {
            let answer = eng
                .gates
                .decide(&eng.label(&step.id), gate, &question, &detail, waits)
                .await;
            match answer {
                Answer::Wait { dir, who } => eng.wait_for_approval(&label, gate, &dir, &who, waits).await,
                other => other,
            }
        };
        let answer = eng.escalating(&label, step, awaiting, deciding, waits).await;
        let kind = match gate.kind {
            GateKind::Confirm => "confirm",
            GateKind::Approval => "approval",
        };
        let (approved, by, how, why) = match &answer {
            Answer::Yes { by, how, .. } => (true, by.clone(), how.clone(), None),
            Answer::No { by, how, .. } => (false, by.clone(), how.clone(), None),
            Answer::Closed { why } => (false, String::new(), "failed closed".into(), Some(why.clone())),
            Answer::Withdrawn { why } => (false, String::new(), format!("withdrawn: {why}"), Some(why.clone())),
            Answer::Wait { .. } => (false, String::new(), "no answer".into(), None),
        };
        // The answer is on disk before the step acts on it.
        let recorded = eng
            .emitter
            .record(RunEvent::Gate {
                step: label.clone(),
                kind: kind.into(),
                approved,
                by,
                question: question.clone(),
                shown: detail.clone(),
                plan_hash: eng.plan.hash.clone(),
                how,
                approvals: match &answer {
                    Answer::Yes { signed, .. } | Answer::No { signed, .. } => signed.clone(),
                    _ => Vec::new(),
                },
            })
            .await;
        if let Err(e) = recorded {
            return eng
                .fail_step(
                    step,
                    format!("not run: its gate's answer could not be journaled ({e})"),
                    start,
                    Some(&label),
                )
                .await;
        }
        match answer {
            Answer::Yes { .. } => {}
            // An unanswered gate (no terminal, an approval timing out) is a no: under
            // `on_decline: skip` the step is skipped, as after a no at the terminal.
            Answer::No { .. } | Answer::Closed { .. }
                if step.on_decline == Some(crate::playbook::OnDecline::Skip) && waits.state().is_none() =>
            {
                let how = if matches!(answer, Answer::No { .. }) {
                    "declined"
                } else {
                    "unanswered"
                };
                eng.emit(RunEvent::StepSkipped {
                    step: label.clone(),
                    reason: format!("{how} at its gate (on_decline: skip)"),
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
                )
                .await;
                return report(&unit, StepStatus::Declined, true, false);
            }
            // The run is failing or stopping: the step does not run, and that is no refusal.
            Answer::Withdrawn { why } | Answer::Closed { why } if waits.state().is_some() => {
                eng.emit(RunEvent::StepSkipped {
                    step: label.clone(),
                    reason: format!("its gate was withdrawn: {why}"),
                });
                return report(&unit, StepStatus::Skipped, false, false);
            }
            Answer::Withdrawn { .. } | Answer::Wait { .. } | Answer::Closed { .. } => {
                eng.finish_event(&label, StepStatus::Declined, start, why, None, &serde_json::Map::new())
                    .await;
                return report(&unit, StepStatus::Declined, true, false);
            }
        }
    }

    let Some(action) = &step.action else {
        // A pure gate: passing it is the step, and when it passed is when it "started".
        eng.clock.started(&step.id, Instant::now());
        eng.rt
            .record_step(eng.key(&label), "ok", &Json::Null, &serde_json::Map::new());
        eng.finish_event(&label, StepStatus::Ok, start, None, None, &serde_json::Map::new())
            .await;
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
    let mut began = false;
    for attempt in 1..=attempts {
        // No side effect before its record is on disk: a step the journal cannot record
        // does not run, nor does one of the run's own steps once the journal has lost a
        // record (one the dispatcher started a moment before it heard of the failure).
        let started = RunEvent::StepStarted {
            step: label.clone(),
            name: step.title().to_string(),
            attempt,
            summary: eng.shown(action, &extra),
            item: unit.binding.as_ref().map(|(_, v)| v.clone()),
        };
        let recorded = if waits.happy_path() {
            eng.emitter.record_strict(started).await
        } else {
            eng.emitter.record(started).await
        };
        if let Err(e) = recorded {
            outcome = Outcome::fail(format!("not run: its start could not be journaled ({e})"));
            break;
        }
        began = true;
        // A measure's `STEP.started`: the first start that is on record.
        eng.clock.started(&step.id, Instant::now());
        // A failing run ends this step's waits (a soak, an `until` poll, a retry), never
        // its commands: they finish or hit their timeout.
        outcome = if matches!(action.spec, Action::Manual(_) | Action::Input(_)) {
            let acting = eng.poll_until(&label, step, action, &extra, waits);
            eng.escalating(&label, step, Awaiting::Operator, acting, waits).await
        } else {
            eng.poll_until(&label, step, action, &extra, waits).await
        };
        // The first capture is the state before any attempt changed it.
        captured = captured.or(outcome.undo.take());
        if outcome.ok || outcome.refused || attempt == attempts || waits.state().is_some() {
            break;
        }
        eng.emit(RunEvent::Log {
            step: Some(label.clone()),
            message: format!(
                "attempt {attempt} failed ({}); retrying in {}",
                outcome.error.clone().unwrap_or_default(),
                crate::playbook::Duration(delay)
            ),
        });
        if waits.sleep(delay).await != Woke::Elapsed {
            break;
        }
        delay = next_delay(delay, backoff);
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
        )
        .await;
        return report(&unit, StepStatus::Declined, true, false);
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
        let mut r = report(&unit, status, false, began);
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
                let mut r = report(&unit, StepStatus::Failed, false, true);
                r.failed_unit = Some(unit.clone());
                return r;
            }
        }
    }
    eng.rt.record_step(eng.key(&label), "ok", &outcome.result, &outputs);
    eng.finish_event(&label, StepStatus::Ok, start, None, Some(&outcome), &outputs)
        .await;
    report(&unit, StepStatus::Ok, false, true)
}

impl Engine {
    /// Waits for other people's decisions on an approval gate: enough approvals, a
    /// rejection, the gate's timeout (rejects), or the run failing or stopping (withdrawn).
    async fn wait_for_approval(
        &self,
        label: &str,
        gate: &crate::compile::Gate,
        dir: &std::path::Path,
        who: &str,
        waits: &Waits,
    ) -> Answer {
        use crate::approve::live::{Tally, tally};
        /// How often the decisions are read again.
        const EVERY: Duration = Duration::from_millis(300);
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
        let deadline = crate::wake::deadline(timeout);
        let runner = self.gates.user.clone();
        loop {
            // Reading the decisions touches the disk: off the runtime's workers.
            let (d, g, r) = (dir.to_path_buf(), gate.clone(), runner.clone());
            let p = self.gates.policy.clone();
            let now = tokio::task::spawn_blocking(move || tally(&d, &g, &r, &p))
                .await
                .unwrap_or(Tally::Pending { have: 0, need: 1 });
            match now {
                Tally::Approved { by, signed } => {
                    return Answer::Yes {
                        by: by.join(", "),
                        how: "runbook approve".into(),
                        signed,
                    };
                }
                Tally::Rejected { by, signed } => {
                    return Answer::No {
                        by,
                        how: "runbook approve --reject".into(),
                        signed,
                    };
                }
                Tally::Pending { have, need } => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Answer::Closed {
                            why: format!(
                                "no approval within {} ({have} of {need}): rejected",
                                crate::playbook::Duration(timeout)
                            ),
                        };
                    }
                    match waits.sleep(left.min(EVERY)).await {
                        Woke::Elapsed => {}
                        Woke::Settling => {
                            return Answer::Withdrawn {
                                why: "the run is failing".into(),
                            };
                        }
                        Woke::Cancelled => {
                            return Answer::Withdrawn {
                                why: "the run was interrupted".into(),
                            };
                        }
                    }
                }
            }
        }
    }

    /// The name a label is recorded under for `steps.<id>`: without the caller's prefix.
    fn key<'l>(&self, label: &'l str) -> &'l str {
        label.strip_prefix(self.prefix.as_str()).unwrap_or(label)
    }

    /// Runs the action until `until` holds (or once), all within the step's timeout.
    async fn poll_until(
        &self,
        label: &str,
        step: &Step,
        action: &PlannedAction,
        extra: &[(&str, Json)],
        waits: &Waits,
    ) -> Outcome {
        let deadline = crate::wake::deadline(step.timeout.std());
        let interval = step.interval.map(|i| i.std()).unwrap_or(Duration::from_secs(10));
        let mut polls = 0;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let mut o = self.run_action(label, step, action, extra, remaining, waits).await;
            let Some(until) = &step.until else { return o };
            if !o.ok {
                return o;
            }
            let mut with_result = extra.to_vec();
            with_result.push(("result", o.result.clone()));
            match self.rt.eval(until, &with_result) {
                Ok(v) if crate::expr::truthy(&v) => return o,
                Ok(_) => {}
                Err(e) => {
                    o.ok = false;
                    o.error = Some(format!("until `{until}`: {e}"));
                    return o;
                }
            }
            polls += 1;
            if deadline.saturating_duration_since(Instant::now()) <= interval {
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
            if let woke @ (Woke::Settling | Woke::Cancelled) = waits.sleep(interval).await {
                o.ok = false;
                o.error = Some(format!(
                    "`until: {until}` still false after {polls} polls: {}",
                    cut_short(woke)
                ));
                return o;
            }
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
        waits: &Waits,
    ) -> Outcome {
        let doc = (step.doc.as_deref(), step.message.as_deref());
        self.run_action_with(label, doc, action, extra, timeout, waits).await
    }

    /// Renders and runs one action; `doc` is the step's doc and failure message, when there
    /// is a step.
    pub(super) async fn run_action_with(
        &self,
        label: &str,
        doc: (Option<&str>, Option<&str>),
        action: &PlannedAction,
        extra: &[(&str, Json)],
        timeout: Duration,
        waits: &Waits,
    ) -> Outcome {
        let spec = match self.rt.render_action(action, extra) {
            Ok(s) => s,
            Err(e) => return Outcome::fail(e),
        };
        if let crate::spec::Action::Playbook(call) = &spec {
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
                message: m,
            })
        };
        let cx = ActionCx {
            step: label,
            doc: doc.0,
            workdir: self.opts.workdir.clone(),
            timeout,
            waits: waits.clone(),
            http: &self.http,
            eval: &eval,
            log: &log,
            prompter: self.gates.prompter.as_ref(),
            redact: &self.redactor,
            inputs: &self.opts.inputs,
            env: &self.plan.env,
            run_id: &self.run.id,
            sealed: &self.sealed,
        };
        spec.execute(&cx, doc.1).await
    }

    /// The action as people see it at run time (run-time values filled in; the events'
    /// redactor hides the secrets).
    pub(super) fn shown(&self, action: &PlannedAction, extra: &[(&str, Json)]) -> String {
        match self.rt.render_action(action, extra) {
            Ok(spec) => format!("{}: {}", spec.key(), self.rt.redact(&spec.summary())),
            Err(_) => format!("{}: {}", action.spec.key(), action.summary),
        }
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
            undo: outcome.and_then(|o| o.undo.as_ref()).map(crate::spec::journal_undo),
        });
    }
}
