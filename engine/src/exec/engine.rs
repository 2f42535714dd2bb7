//! The dispatcher: one task owns the run's state; steps start when their `needs` are done
//! or skipped and a concurrency slot is free, and report back when they end. On failure it
//! stops starting steps, lets running ones finish, rolls back in reverse completion order,
//! then runs `on_failure` and `finally` steps.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::{mpsc, watch};

use super::context::{RunInfo, Runtime};
use super::event::{RunEvent, RunStatus, StepStatus};
use super::sink::Emitter;
use super::step::{StepReport, Unit, run_step};
use crate::approve::Gatekeeper;
use crate::compile::{RollbackPlan, Step};
use crate::plan::Plan;
use crate::playbook::OnFailure;

/// How to run.
#[derive(Clone)]
pub struct RunOptions {
    /// Commands run here (the workspace root).
    pub workdir: PathBuf,
    /// `--input STEP=VALUE`.
    pub inputs: HashMap<String, String>,
}

/// The run's shared means; step tasks borrow it. A sub-playbook runs on an engine of its
/// own that shares the run's events, gates, signals and secrets.
pub struct Engine {
    pub(super) plan: Arc<Plan>,
    pub(super) rt: Arc<Runtime>,
    pub(super) gates: Arc<Gatekeeper>,
    pub(super) opts: RunOptions,
    pub(super) http: reqwest::Client,
    pub(super) emitter: Emitter,
    pub(super) run: RunInfo,
    pub(super) secrets: indexmap::IndexMap<String, String>,
    /// The first Ctrl-C: start no more steps.
    pub(super) stop: Arc<watch::Sender<bool>>,
    /// The second Ctrl-C: kill what runs.
    cancel: Arc<watch::Sender<bool>>,
    /// The run is failing: waits and polls end early.
    pub(super) settle: Arc<watch::Sender<bool>>,
    /// `parent/` for the steps of a sub-playbook, so events and `--approve` name them whole.
    pub(super) prefix: String,
    /// The playbooks this one was called from, to refuse a cycle.
    pub(super) callers: Vec<String>,
    /// What a resumed run had done before it stopped.
    resume: Option<Resume>,
}

/// A run picked up again: its `resumed` event, and the steps that need not run again.
pub struct Resume {
    pub event: RunEvent,
    /// Steps finished before, in completion order, with their outputs.
    pub done: Vec<(String, serde_json::Map<String, serde_json::Value>)>,
    pub skipped: std::collections::HashSet<String>,
    /// The undo each finished step captured, for `rollback: auto`.
    pub undos: std::collections::HashMap<String, crate::actions::Undo>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Pending,
    Running,
    Done,
    Skipped,
    Failed,
}

impl Engine {
    pub fn new(
        plan: Plan,
        run: &RunInfo,
        secrets: indexmap::IndexMap<String, String>,
        gates: Gatekeeper,
        opts: RunOptions,
        emitter: Emitter,
    ) -> Engine {
        let rt = Arc::new(Runtime::new(&plan, run, secrets.clone()));
        Engine {
            plan: Arc::new(plan),
            rt,
            gates: Arc::new(gates),
            opts,
            http: reqwest::Client::new(),
            emitter,
            run: run.clone(),
            secrets,
            stop: Arc::new(watch::channel(false).0),
            cancel: Arc::new(watch::channel(false).0),
            settle: Arc::new(watch::channel(false).0),
            prefix: String::new(),
            callers: Vec::new(),
            resume: None,
        }
    }

    /// Continues a run that stopped: `resume` says what it had done.
    pub fn resuming(mut self, resume: Resume) -> Engine {
        for (id, outputs) in &resume.done {
            self.rt.record_step(id, "ok", &serde_json::Value::Null, outputs);
        }
        self.resume = Some(resume);
        self
    }

    /// An engine for a sub-playbook's plan, called from step `label`.
    pub(super) fn nested(&self, plan: Plan, label: &str) -> Engine {
        let mut callers = self.callers.clone();
        callers.push(self.plan.playbook.name.clone());
        Engine {
            rt: Arc::new(Runtime::new(&plan, &self.run, self.secrets.clone())),
            plan: Arc::new(plan),
            gates: self.gates.clone(),
            opts: self.opts.clone(),
            http: self.http.clone(),
            emitter: self.emitter.clone(),
            run: self.run.clone(),
            secrets: self.secrets.clone(),
            stop: self.stop.clone(),
            cancel: self.cancel.clone(),
            settle: self.settle.clone(),
            prefix: format!("{label}/"),
            callers,
            resume: None,
        }
    }

    /// A step's name in events and for `--approve`: `id`, or `caller/id` in a sub-playbook.
    pub(super) fn label(&self, id: &str) -> String {
        format!("{}{id}", self.prefix)
    }

    pub(super) fn emit(&self, kind: RunEvent) {
        self.emitter.emit(kind);
    }

    pub(super) fn cancel_rx(&self) -> watch::Receiver<bool> {
        self.cancel.subscribe()
    }

    pub(super) fn cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    /// Sleeps, or returns early when the run is interrupted or failing.
    pub(super) async fn sleep(&self, d: Duration) {
        let (mut rx, mut settle) = (self.cancel_rx(), self.settle.subscribe());
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = rx.wait_for(|c| *c) => {}
            _ = settle.wait_for(|c| *c) => {}
        }
    }

    /// Runs the plan. `interrupts` delivers Ctrl-C presses; `ask_rollback` asks the operator
    /// whether to roll back after the first one (no terminal: never).
    pub async fn run(
        self,
        run: &RunInfo,
        mut interrupts: mpsc::UnboundedReceiver<()>,
        ask_rollback: &(dyn Fn() -> bool + Sync),
    ) -> RunStatus {
        let started = Instant::now();
        match &self.resume {
            Some(r) => self.emit(r.event.clone()),
            None => self.emit(RunEvent::RunStarted {
                run: run.id.clone(),
                playbook: self.plan.playbook.name.clone(),
                file_sha256: run.file_sha256.clone(),
                env: self.plan.env.name.clone(),
                plan_hash: self.plan.hash.clone(),
                params: self.plan.params.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                user: run.user.clone(),
                host: run.host.clone(),
                engine_version: env!("CARGO_PKG_VERSION").to_string(),
                dry_run: false,
            }),
        }
        // Ctrl-C: the first stops scheduling, the second kills what runs.
        let (stop, cancel) = (self.stop.clone(), self.cancel.clone());
        let emitter = self.emitter.clone();
        let signals = tokio::spawn(async move {
            while interrupts.recv().await.is_some() {
                if *stop.borrow() {
                    let _ = cancel.send(true);
                } else {
                    let _ = stop.send(true);
                    emitter.emit(RunEvent::Log {
                        step: None,
                        message: "interrupted: no new steps start; Ctrl-C again kills the running ones".into(),
                    });
                }
            }
        });
        let (status, remaining) = self.dispatch(ask_rollback).await;
        signals.abort();
        self.emit(RunEvent::RunFinished {
            status,
            exit_code: status.exit_code(),
            duration_ms: started.elapsed().as_millis() as u64,
            remaining_undo: remaining,
        });
        self.emitter.finish();
        status
    }

    /// Runs the steps, rolls back if it must, runs `on_failure` and `finally`; says how the
    /// run ended and what remains to undo by hand.
    pub(super) async fn dispatch(&self, ask_rollback: &(dyn Fn() -> bool + Sync)) -> (RunStatus, Vec<String>) {
        let plan = self.plan.clone();
        let steps = &plan.steps;
        let index: HashMap<&str, usize> = steps.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
        let deps: Vec<Vec<usize>> = steps
            .iter()
            .map(|s| s.needs.iter().filter_map(|n| index.get(n.as_str()).copied()).collect())
            .collect();
        let mut state = vec![State::Pending; steps.len()];
        // What finished, in order, for the rollback.
        let mut completed: Vec<(usize, Unit)> = Vec::new();
        let mut failed: Option<(usize, Option<Unit>)> = None;
        let mut any_failure = false;
        let mut refused = false;
        let mut abort = false;
        // A resumed run starts from what it had done.
        if let Some(r) = &self.resume {
            for (id, _) in &r.done {
                if let Some(&i) = index.get(id.as_str()) {
                    state[i] = State::Done;
                    completed.push((
                        i,
                        Unit {
                            label: self.label(id),
                            binding: None,
                            undo: r.undos.get(id).cloned(),
                        },
                    ));
                }
            }
            for (i, s) in steps.iter().enumerate() {
                if r.skipped.contains(&s.id) && state[i] == State::Pending {
                    state[i] = State::Skipped;
                }
            }
        }
        let mut interrupted = *self.stop.borrow();
        let mut running = FuturesUnordered::new();
        let mut stop_rx = self.stop.subscribe();
        // Guards watch beside the steps, in this task, until one trips or the steps end.
        let guards = self.watch_guards();
        tokio::pin!(guards);
        let mut guard_tripped = false;

        loop {
            let stopping = failed.is_some() || refused || interrupted || guard_tripped;
            if !stopping {
                // Skip steps whose dependency failed (on_failure: continue), then start what is ready.
                loop {
                    let mut changed = false;
                    for i in 0..steps.len() {
                        if state[i] == State::Pending && deps[i].iter().any(|&d| state[d] == State::Failed) {
                            state[i] = State::Failed;
                            self.emit(RunEvent::StepSkipped {
                                step: self.label(&steps[i].id),
                                reason: "a step it needs failed".into(),
                            });
                            changed = true;
                        }
                    }
                    if !changed {
                        break;
                    }
                }
                for i in 0..steps.len() {
                    if running.len() >= plan.concurrency as usize {
                        break;
                    }
                    if state[i] == State::Pending
                        && deps[i]
                            .iter()
                            .all(|&d| matches!(state[d], State::Done | State::Skipped))
                    {
                        state[i] = State::Running;
                        let step = &steps[i];
                        let me = &self;
                        running.push(async move { (i, run_step(me, step).await) });
                    }
                }
            }
            if running.is_empty() {
                break;
            }
            tokio::select! {
                Some((i, report)) = running.next() => {
                    let report: StepReport = report;
                    match report.status {
                        StepStatus::Ok => {
                            state[i] = State::Done;
                            completed.extend(report.done.into_iter().map(|u| (i, u)));
                        }
                        StepStatus::Skipped => state[i] = State::Skipped,
                        StepStatus::Declined if !report.refused => state[i] = State::Skipped,
                        StepStatus::Declined => {
                            state[i] = State::Failed;
                            refused = true;
                        }
                        StepStatus::Failed | StepStatus::TimedOut => {
                            state[i] = State::Failed;
                            any_failure = true;
                            // Iterations that finished before the failure are undone too.
                            completed.extend(report.done.into_iter().map(|u| (i, u)));
                            match steps[i].on_failure {
                                OnFailure::Continue => {}
                                OnFailure::Rollback => {
                                    // A failure before the action began (a precondition)
                                    // changed nothing: that step itself is not undone.
                                    failed.get_or_insert((i, report.failed_unit.filter(|_| report.action_started)));
                                    let _ = self.settle.send(true);
                                }
                                OnFailure::Abort => {
                                    abort = true;
                                    failed.get_or_insert((i, None));
                                }
                            }
                        }
                    }
                }
                _ = stop_rx.wait_for(|s| *s), if !interrupted => {
                    interrupted = true;
                }
                tripped = &mut guards, if !guard_tripped => {
                    guard_tripped = true;
                    any_failure = true;
                    let _ = self.settle.send(true);
                    self.emit(RunEvent::GuardTripped { guard: tripped.guard, value: tripped.value, abort_if: tripped.abort_if });
                }
            }
        }
        drop(running);
        let ended = Ended {
            completed,
            failed,
            any_failure,
            refused,
            abort,
            interrupted,
            guard_tripped,
        };
        self.conclude(ended, ask_rollback).await
    }

    /// Rolls back if the run must, runs `on_failure` and `finally`, and says how it ended.
    async fn conclude(&self, e: Ended, ask_rollback: &(dyn Fn() -> bool + Sync)) -> (RunStatus, Vec<String>) {
        // The steps have ended; rollbacks, on_failure and finally wait as written.
        let _ = self.settle.send(false);
        let killed = self.cancelled();
        let rollback = if e.interrupted {
            let yes = !killed && !e.completed.is_empty() && tokio::task::block_in_place(ask_rollback);
            self.emit(RunEvent::Interrupted { rollback: yes });
            yes
        } else {
            (e.failed.is_some() || e.guard_tripped) && !e.abort
        };
        // The failed step first (its effect may be partial), then the finished ones, newest
        // first.
        let mut units: Vec<(usize, Unit)> = Vec::new();
        if let Some((i, Some(u))) = &e.failed {
            units.push((*i, u.clone()));
        }
        units.extend(e.completed.iter().rev().cloned());
        units.retain(|(i, _)| self.plan.steps[*i].rollback.is_some());

        let mut remaining: Vec<String> = Vec::new();
        if rollback {
            for (k, (i, unit)) in units.iter().enumerate() {
                let step = &self.plan.steps[*i];
                if !self.rollback_unit(step, unit).await {
                    remaining = units[k..]
                        .iter()
                        .map(|(i, u)| self.undo_text(&self.plan.steps[*i], u))
                        .collect();
                    break;
                }
            }
        } else if killed || (e.interrupted && !units.is_empty()) {
            remaining = units
                .iter()
                .map(|(i, u)| self.undo_text(&self.plan.steps[*i], u))
                .collect();
        }

        let status = if !remaining.is_empty() && rollback {
            RunStatus::RollbackFailed
        } else if e.interrupted {
            RunStatus::Interrupted
        } else if e.refused {
            RunStatus::Refused
        } else if e.any_failure {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        };
        if !killed {
            if matches!(status, RunStatus::Failed | RunStatus::RollbackFailed) {
                self.run_list(&self.plan.on_failure).await;
            }
            self.run_list(&self.plan.finally).await;
        }
        (status, remaining)
    }

    /// Runs one unit's rollback actions in order, each with its own retry. False when one
    /// still fails.
    async fn rollback_unit(&self, step: &Step, unit: &Unit) -> bool {
        let auto;
        let actions = match &step.rollback {
            Some(RollbackPlan::Steps(actions)) => actions,
            Some(RollbackPlan::Auto { .. }) => {
                // What the action recorded, as it ran, about undoing itself.
                let undo = match &unit.undo {
                    Some(crate::actions::Undo::Run(a)) => (**a).clone(),
                    Some(crate::actions::Undo::Nothing) => {
                        self.emit(RunEvent::Log {
                            step: Some(unit.label.clone()),
                            message: "rollback: auto: nothing to undo (the action changed nothing)".into(),
                        });
                        return true;
                    }
                    None => {
                        self.emit(RunEvent::RollbackFinished {
                            step: unit.label.clone(),
                            ok: false,
                            duration_ms: 0,
                            error: Some("no automatic undo: the action recorded none before it stopped".into()),
                        });
                        return false;
                    }
                };
                auto = vec![crate::compile::RollbackStep {
                    name: None,
                    action: crate::compile::PlannedAction {
                        effect: undo.effect(),
                        summary: undo.summary(),
                        spec: undo,
                        templates: Vec::new(),
                    },
                    timeout: None,
                    retry: None,
                }];
                &auto
            }
            None => return true,
        };
        let extra = unit.extra();
        for rb in actions {
            let start = Instant::now();
            self.emit(RunEvent::RollbackStarted {
                step: unit.label.clone(),
                summary: self.shown(&unit.label, &rb.action, &extra),
            });
            let attempts = rb.retry.as_ref().map(|r| r.attempts.max(1)).unwrap_or(1);
            let mut delay = rb
                .retry
                .as_ref()
                .and_then(|r| r.delay)
                .map(|d| d.std())
                .unwrap_or(Duration::from_secs(1));
            let backoff = rb.retry.as_ref().and_then(|r| r.backoff).unwrap_or(1.0);
            let timeout = rb.timeout.unwrap_or(step.timeout).std();
            let mut outcome = None;
            for attempt in 1..=attempts {
                let o = self.run_action(&unit.label, step, &rb.action, &extra, timeout).await;
                let ok = o.ok;
                outcome = Some(o);
                if ok || attempt == attempts {
                    break;
                }
                self.sleep(delay).await;
                delay = delay.mul_f64(backoff);
            }
            let o = outcome.unwrap_or_else(|| crate::actions::Outcome::fail("not run"));
            self.emit(RunEvent::RollbackFinished {
                step: unit.label.clone(),
                ok: o.ok,
                duration_ms: start.elapsed().as_millis() as u64,
                error: o.error.as_deref().map(|e| self.rt.redact(e)),
            });
            if !o.ok {
                return false;
            }
        }
        true
    }

    /// What a human must still undo for one unit, in words.
    fn undo_text(&self, step: &Step, unit: &Unit) -> String {
        match &step.rollback {
            Some(RollbackPlan::Steps(actions)) => {
                let what: Vec<String> = actions
                    .iter()
                    .map(|a| self.shown(&unit.label, &a.action, &unit.extra()))
                    .collect();
                format!("{}: {}", unit.label, what.join("; then "))
            }
            Some(RollbackPlan::Auto { description }) => format!("{}: {description}", unit.label),
            None => unit.label.clone(),
        }
    }

    /// `on_failure` and `finally` steps: in order, each once its `needs` are done.
    async fn run_list(&self, list: &[Step]) {
        let mut done: HashMap<&str, bool> = HashMap::new();
        for step in list {
            if step.needs.iter().any(|n| done.get(n.as_str()) == Some(&false)) {
                self.emit(RunEvent::StepSkipped {
                    step: self.label(&step.id),
                    reason: "a step it needs failed".into(),
                });
                done.insert(&step.id, false);
                continue;
            }
            let r = run_step(self, step).await;
            done.insert(&step.id, matches!(r.status, StepStatus::Ok | StepStatus::Skipped));
        }
    }
}

/// What the dispatch loop leaves for the conclusion.
struct Ended {
    completed: Vec<(usize, Unit)>,
    failed: Option<(usize, Option<Unit>)>,
    any_failure: bool,
    refused: bool,
    abort: bool,
    interrupted: bool,
    /// A guard tripped: the run rolls back as after a failed step.
    guard_tripped: bool,
}
