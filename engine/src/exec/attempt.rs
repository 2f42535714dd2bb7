//! One action of a step, tried as its `retry` says: each attempt's start is on disk before
//! it acts, an `until` polls within the step's timeout, a `manual` or `input` step escalates
//! while it waits; and the engine's means of running any action (a step's, a rollback's, a
//! guard's) with the run's context.

use std::time::{Duration, Instant};

use serde_json::Value as Json;

use super::engine::Engine;
use super::escalate::Awaiting;
use super::retry::Retry;
use super::step::Unit;
use crate::actions::{ActionCx, Outcome, cut_short};
use crate::compile::{PlannedAction, Step};
use crate::event::RunEvent;
use crate::spec::Action;
use crate::wake::{Waits, Woke};

/// The action's attempts, for the step or one iteration (`unit`), until one succeeds, is
/// refused, or the retries are used up or cut short. The outcome carries the undo the first
/// attempt captured (the state before any attempt changed it); `began` says whether an
/// attempt started, its start on record.
pub(super) async fn tries(
    eng: &Engine,
    step: &Step,
    unit: &Unit,
    action: &PlannedAction,
    extra: &[(&str, Json)],
    waits: &Waits,
) -> (Outcome, bool) {
    let label = unit.label.as_str();
    let mut retry = Retry::new(step.retry.as_ref());
    let mut captured = None;
    let mut began = false;
    let mut outcome = loop {
        let attempt = retry.attempt();
        // No side effect before its record is on disk: a step the journal cannot record
        // does not run, nor does one of the run's own steps once the journal has lost a
        // record (one the dispatcher started a moment before it heard of the failure).
        let started = RunEvent::StepStarted {
            step: label.to_string(),
            name: step.title().to_string(),
            attempt,
            summary: eng.shown(action, extra),
            item: unit.binding.as_ref().map(|(_, v)| v.clone()),
        };
        let recorded = if waits.happy_path() {
            eng.emitter.record_strict(started).await
        } else {
            eng.emitter.record(started).await
        };
        if let Err(e) = recorded {
            break Outcome::fail(format!("not run: its start could not be journaled ({e})"));
        }
        began = true;
        // A measure's `STEP.started`: the first start that is on record.
        eng.clock.started(&step.id, Instant::now());
        // A failing run ends this step's waits (a soak, an `until` poll, a retry), never
        // its commands: they finish or hit their timeout.
        let mut outcome = if matches!(action.spec, Action::Manual(_) | Action::Input(_)) {
            let acting = poll_until(eng, label, step, action, extra, waits);
            eng.escalating(label, step, Awaiting::Operator, acting, waits).await
        } else {
            poll_until(eng, label, step, action, extra, waits).await
        };
        // The first capture is the state before any attempt changed it.
        captured = captured.or(outcome.undo.take());
        if outcome.ok || outcome.refused {
            break outcome;
        }
        let retrying = |attempt, delay| {
            eng.emit(RunEvent::Log {
                step: Some(label.to_string()),
                message: format!(
                    "attempt {attempt} failed ({}); retrying in {}",
                    outcome.error.clone().unwrap_or_default(),
                    crate::playbook::Duration(delay)
                ),
            })
        };
        if !retry.again(waits, retrying).await {
            break outcome;
        }
    };
    outcome.undo = captured;
    (outcome, began)
}

/// Runs the action until `until` holds (or once), all within the step's timeout.
async fn poll_until(
    eng: &Engine,
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
        let mut o = eng.run_action(label, step, action, extra, remaining, waits).await;
        let Some(until) = &step.until else { return o };
        if !o.ok {
            return o;
        }
        let mut with_result = extra.to_vec();
        with_result.push(("result", o.result.clone()));
        match eng.rt.eval(until, &with_result) {
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
        eng.emit(RunEvent::Poll {
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

impl Engine {
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
}
