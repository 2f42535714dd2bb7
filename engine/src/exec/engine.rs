//! The dispatcher: one task drives the run's state machine ([`RunState`], whose decisions
//! are in `dispatch`), and only schedules and receives messages. Each step, each rollback and the guards run as tasks of their own and
//! report back; the dispatcher never awaits a step, a prompt, an fsync or a network call.
//! On failure it stops starting steps, lets running ones finish, rolls back in reverse
//! completion order, then runs `on_failure` and `finally` steps.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::context::{RunInfo, Runtime};
use super::dispatch::{Command, Ended, Msg, RunState};
use super::guard::Tripped;
use super::measure::{self, Clock};
use super::step::{StepReport, Unit, run_step};
use crate::approve::Gatekeeper;
use crate::compile::Step;
use crate::event::Emitter;
use crate::event::{RunEvent, RunStatus, StepStatus};
use crate::plan::Plan;
use crate::redact::Redactor;
use crate::wake::{Signal, Signals, Waits};

/// How to run.
#[derive(Clone)]
pub struct RunOptions {
    /// Commands run here (the workspace root).
    pub workdir: PathBuf,
    /// `--input STEP=VALUE`.
    pub inputs: HashMap<String, String>,
    /// The process's signals (and the grace period between SIGTERM and SIGKILL).
    pub signals: Arc<Signals>,
    /// The contacts' webhook addresses, by the environment variable they were read from
    /// (escalation and incident announcements); secrets, in the redactor too.
    pub webhooks: Arc<HashMap<String, String>>,
}

/// The run's shared means; step tasks hold it. A sub-playbook runs on an engine of its own
/// that shares the run's events, gates, signals and secrets.
pub struct Engine {
    pub(super) plan: Arc<Plan>,
    /// The files the root plan recorded (its sub-playbooks' included), for every action of
    /// the run and its sub-runs to check what they read against.
    pub(super) sealed: Arc<crate::compile::Sealed>,
    pub(super) rt: Arc<Runtime>,
    pub(super) gates: Arc<Gatekeeper>,
    pub(super) opts: RunOptions,
    pub(super) http: reqwest::Client,
    pub(super) emitter: Emitter,
    pub(super) run: RunInfo,
    pub(super) secrets: indexmap::IndexMap<String, String>,
    pub(super) redactor: Arc<Redactor>,
    /// This run (or sub-run) is failing or was interrupted: happy-path waits end.
    pub(super) settling: CancellationToken,
    /// `parent/` for the steps of a sub-playbook, so events and `--approve` name them whole.
    pub(super) prefix: String,
    /// The playbooks this one was called from, to refuse a cycle.
    pub(super) callers: Vec<String>,
    /// What a resumed run had done before it stopped.
    resume: Option<Resume>,
    /// When each step started and finished, for the measures.
    pub(super) clock: Clock,
}

/// A run picked up again: its `resumed` event, and the steps that need not run again.
pub struct Resume {
    pub event: RunEvent,
    /// Steps finished before, in completion order, with their outputs.
    pub done: Vec<(String, serde_json::Map<String, serde_json::Value>)>,
    pub skipped: std::collections::HashSet<String>,
    /// The undo each finished step captured, for `rollback: auto`.
    pub undos: std::collections::HashMap<String, crate::spec::Undo>,
}

/// Which list of the plan a step is in.
#[derive(Debug, Clone, Copy)]
pub(super) enum List {
    Steps,
    OnFailure,
    Finally,
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
        let redactor = emitter.redactor();
        let rt = Arc::new(Runtime::new(&plan, run, secrets.clone(), redactor.clone()));
        let sealed = Arc::new(crate::compile::sealed_of(&plan.files));
        Engine {
            sealed,
            plan: Arc::new(plan),
            rt,
            gates: Arc::new(gates),
            opts,
            http: reqwest::Client::new(),
            emitter,
            run: run.clone(),
            secrets,
            redactor,
            settling: CancellationToken::new(),
            prefix: String::new(),
            callers: Vec::new(),
            resume: None,
            clock: Clock::default(),
        }
    }

    /// Continues a run that stopped: `resume` says what it had done.
    pub fn resuming(mut self, resume: Resume) -> Engine {
        self = self.knowing(&resume.done);
        self.resume = Some(resume);
        self
    }

    /// The outputs of steps that finished before, for the templates of what runs now.
    pub fn knowing(self, done: &[(String, serde_json::Map<String, serde_json::Value>)]) -> Engine {
        for (id, outputs) in done {
            self.rt.record_step(id, "ok", &serde_json::Value::Null, outputs);
        }
        self
    }

    /// An engine for a sub-playbook's plan, called from step `label`.
    pub(super) fn nested(&self, plan: Plan, label: &str) -> Engine {
        let mut callers = self.callers.clone();
        callers.push(self.plan.playbook.name.clone());
        Engine {
            sealed: self.sealed.clone(),
            rt: Arc::new(Runtime::new(
                &plan,
                &self.run,
                self.secrets.clone(),
                self.redactor.clone(),
            )),
            plan: Arc::new(plan),
            gates: self.gates.clone(),
            opts: self.opts.clone(),
            http: self.http.clone(),
            emitter: self.emitter.clone(),
            run: self.run.clone(),
            secrets: self.secrets.clone(),
            redactor: self.redactor.clone(),
            // The caller failing settles the sub-run; the sub-run failing settles only itself
            // (its caller's step fails when it ends, under that step's own policy).
            settling: self.settling.child_token(),
            prefix: format!("{label}/"),
            callers,
            resume: None,
            clock: Clock::default(),
        }
    }

    /// This run picks up one that stopped (`runbook resume`).
    pub(super) fn resumed(&self) -> bool {
        self.resume.is_some()
    }

    pub(super) fn top(&self) -> bool {
        self.prefix.is_empty()
    }

    pub(super) fn signals(&self) -> &Signals {
        &self.opts.signals
    }

    /// A step's name in events and for `--approve`: `id`, or `caller/id` in a sub-playbook.
    pub(super) fn label(&self, id: &str) -> String {
        format!("{}{id}", self.prefix)
    }

    pub(super) fn emit(&self, kind: RunEvent) {
        self.emitter.emit(kind);
    }

    pub(super) fn step_at(&self, list: List, i: usize) -> &Step {
        match list {
            List::Steps => &self.plan.steps[i],
            List::OnFailure => &self.plan.on_failure[i],
            List::Finally => &self.plan.finally[i],
        }
    }

    /// The waits of the happy path: they end when this run settles.
    pub(super) fn happy(&self) -> Waits {
        self.signals().happy(&self.settling)
    }

    /// Runs the plan; returns how it ended. Signals (INT, TERM, HUP) stop it as the design's
    /// Ctrl-C path says: no new steps, an `interrupted` record, the running steps' process
    /// groups stopped, and a rollback only on a yes at a terminal.
    pub async fn run(self) -> RunStatus {
        let eng = Arc::new(self);
        let started = Instant::now();
        let first = match &eng.resume {
            Some(r) => r.event.clone(),
            None => RunEvent::RunStarted {
                run: eng.run.id.clone(),
                playbook: eng.plan.playbook.name.clone(),
                file_sha256: eng.run.file_sha256.clone(),
                env: eng.plan.env.name.clone(),
                plan_hash: eng.plan.hash.clone(),
                params: eng.plan.params.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                user: eng.run.user.clone(),
                host: eng.run.host.clone(),
                engine_version: env!("CARGO_PKG_VERSION").to_string(),
                dry_run: false,
                trigger: eng.run.trigger.clone(),
            },
        };
        // Nothing runs that the journal does not know has started.
        if eng.emitter.record(first).await.is_err() {
            eng.emitter.finish().await;
            return RunStatus::Failed;
        }
        // The announcement goes out beside the steps, never ahead of them; it is on record
        // before the run's end. A failing run still announces its incident: only a signal
        // abandons it.
        let announcing = (eng.top() && eng.plan.escalate.is_some()).then(|| {
            let e = eng.clone();
            tokio::spawn(async move { e.announce(&e.signals().cleanup()).await })
        });
        let (mut status, remaining) = eng.dispatch().await;
        if let Some(a) = announcing {
            let _ = a.await;
        }
        if eng.measure() && status == RunStatus::Succeeded {
            status = RunStatus::MeasureMissed;
        }
        let _ = eng
            .emitter
            .record(RunEvent::RunFinished {
                status,
                exit_code: status.exit_code(),
                duration_ms: started.elapsed().as_millis() as u64,
                remaining_undo: remaining,
            })
            .await;
        eng.emitter.finish().await;
        status
    }

    /// Computes the plan's measures, once everything of the run is over, and emits each;
    /// true when one whose `on_miss` is `fail` missed its target (or could not be measured).
    /// How the run went is not changed here: a miss never rolls anything back.
    fn measure(&self) -> bool {
        let resumed: std::collections::HashSet<String> = self
            .resume
            .iter()
            .flat_map(|r| r.done.iter().map(|(id, _)| id.clone()))
            .collect();
        let eval = |expr: &str| self.rt.eval(expr, &[]);
        let mut missed = false;
        for m in &self.plan.measures {
            let event = measure::compute(m, &self.clock, &eval, &resumed);
            if let RunEvent::Measure { met: false, .. } = &event {
                missed |= m.on_miss == crate::playbook::OnMiss::Fail;
            }
            self.emit(event);
        }
        missed
    }

    /// Runs the steps, rolls back if it must, runs `on_failure` and `finally`; says how the
    /// run ended and what remains to undo by hand.
    pub(super) async fn dispatch(self: &Arc<Self>) -> (RunStatus, Vec<String>) {
        let steps = &self.plan.steps;
        let index: HashMap<&str, usize> = steps.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
        let needs = steps
            .iter()
            .map(|s| s.needs.iter().filter_map(|n| index.get(n.as_str()).copied()).collect())
            .collect();
        let mut st = RunState::new(
            needs,
            steps.iter().map(|s| s.on_failure).collect(),
            self.plan.concurrency,
        );
        if let Some(r) = &self.resume {
            let done = r
                .done
                .iter()
                .filter_map(|(id, _)| {
                    let unit = Unit {
                        label: self.label(id),
                        binding: None,
                        undo: r.undos.get(id).cloned(),
                    };
                    index.get(id.as_str()).map(|&i| (i, unit))
                })
                .collect();
            let skipped: Vec<usize> = r
                .skipped
                .iter()
                .filter_map(|id| index.get(id.as_str()).copied())
                .collect();
            st.resume(done, &skipped);
        }

        let mut tasks: JoinSet<StepReport> = JoinSet::new();
        let mut ids: HashMap<tokio::task::Id, usize> = HashMap::new();
        // Guards watch beside the steps in a task of their own; a trip is a message.
        let (trip_tx, mut trip_rx) = tokio::sync::oneshot::channel::<Tripped>();
        let mut guards_live = !self.plan.guards.is_empty();
        let guards = guards_live.then(|| {
            let eng = self.clone();
            tokio::spawn(async move {
                if let Some(t) = eng.watch_guards(eng.happy()).await {
                    let _ = trip_tx.send(t);
                }
            })
        });

        // A signal that came while the run was being prepared stops it before its first step.
        let mut cmds = if self.signals().received().is_some() {
            self.on_signal();
            st.on(Msg::Interrupted)
        } else {
            st.schedule()
        };
        loop {
            for cmd in cmds.drain(..) {
                match cmd {
                    Command::Start(i) => {
                        let eng = self.clone();
                        let waits = self.happy();
                        let h = tasks.spawn(async move { run_step(&eng, eng.step_at(List::Steps, i), &waits).await });
                        ids.insert(h.id(), i);
                    }
                    Command::Skip(i, reason) => self.emit(RunEvent::StepSkipped {
                        step: self.label(&steps[i].id),
                        reason,
                    }),
                    Command::Settle => self.settling.cancel(),
                }
            }
            if tasks.is_empty() {
                break;
            }
            let msg = tokio::select! {
                Some(joined) = tasks.join_next_with_id() => match joined {
                    Ok((id, report)) => Msg::Finished(ids.remove(&id).unwrap_or_default(), report),
                    Err(e) => {
                        let i = ids.remove(&e.id()).unwrap_or_default();
                        let label = self.label(&steps[i].id);
                        self.emit(RunEvent::StepFinished {
                            step: label.clone(),
                            status: StepStatus::Failed,
                            duration_ms: 0,
                            exit_code: None,
                            error: Some(format!("the step's task failed: {e}")),
                            outputs: Default::default(),
                            tail: vec![],
                            undo: None,
                        });
                        Msg::Finished(i, StepReport::failed_unrun())
                    }
                },
                _ = self.signals().requested(), if !st.interrupted() => {
                    self.on_signal();
                    Msg::Interrupted
                }
                tripped = &mut trip_rx, if guards_live => {
                    guards_live = false;
                    match tripped {
                        Ok(t) => {
                            self.emit(RunEvent::GuardTripped { guard: t.guard, value: t.value, abort_if: t.abort_if });
                            Msg::GuardTripped
                        }
                        Err(_) => continue,
                    }
                }
                _ = self.emitter.journal_failed(), if !st.journal_failed() => Msg::JournalFailed,
            };
            cmds = st.on(msg);
        }
        if let Some(g) = guards {
            g.abort();
        }
        self.conclude(st.ended()).await
    }

    /// A signal arrived: on record first, then the running steps are stopped. Only the
    /// top-level run says so; a sub-run just stops starting steps.
    pub(super) fn on_signal(&self) {
        if !self.top() || self.signals().interrupted() {
            return;
        }
        let signal = self.signals().received().unwrap_or(Signal::Int);
        // Written (and fsync'd) by the journal's thread before anything after it.
        self.emit(RunEvent::Interrupted {
            signal: signal.name().into(),
        });
        self.signals().interrupt();
    }

    /// Rolls back if the run must, runs `on_failure` and `finally`, and says how it ended.
    async fn conclude(self: &Arc<Self>, e: Ended) -> (RunStatus, Vec<String>) {
        let units = e.undo_order(|i| self.plan.steps[i].rollback.is_some());
        let rollback = if e.interrupted {
            self.ask_rollback(&units).await
        } else {
            e.rolls_back()
        };
        let mut remaining: Vec<String> = Vec::new();
        if rollback {
            for (k, (i, unit)) in units.iter().enumerate() {
                let ok = self.rollback_in_task(*i, unit).await;
                // A signal during the rollback stops it after the undo that runs.
                let stopped = self.signals().received().is_some() && !e.interrupted;
                if !ok || stopped {
                    let from = if ok { k + 1 } else { k };
                    remaining = self.undo_list(&units[from..]);
                    break;
                }
            }
        } else if e.interrupted || self.signals().killed() {
            remaining = self.undo_list(&units);
        }

        let status = e.status(self.signals().received(), rollback, remaining.is_empty());
        if !self.signals().killed() {
            if matches!(status, RunStatus::Failed | RunStatus::RollbackFailed) {
                self.run_list(List::OnFailure).await;
            }
            self.run_list(List::Finally).await;
        }
        (status, remaining)
    }

    /// `on_failure` or `finally` steps: in order, each in its own task once its `needs` are
    /// done; they wait as written (a cleanup), and a signal stops them.
    async fn run_list(self: &Arc<Self>, list: List) {
        let steps = match list {
            List::OnFailure => &self.plan.on_failure,
            _ => &self.plan.finally,
        };
        let mut done: HashMap<&str, bool> = HashMap::new();
        for (i, step) in steps.iter().enumerate() {
            if step.needs.iter().any(|n| done.get(n.as_str()) == Some(&false)) {
                self.emit(RunEvent::StepSkipped {
                    step: self.label(&step.id),
                    reason: "a step it needs failed".into(),
                });
                done.insert(&step.id, false);
                continue;
            }
            let eng = self.clone();
            let waits = self.signals().cleanup();
            let task = tokio::spawn(async move { run_step(&eng, eng.step_at(list, i), &waits).await });
            let r = self.supervise(task).await;
            let ok = r.is_ok_and(|r| matches!(r.status, StepStatus::Ok | StepStatus::Skipped));
            done.insert(&step.id, ok);
        }
    }
}
