//! The dispatcher's decisions, as a pure state machine: which steps start, which are skipped,
//! when the run stops starting steps, what it rolls back in which order, and how it ends. It
//! runs no step, awaits nothing and prints nothing, so every rule is a unit test.

use super::step::{StepReport, Unit};
use crate::event::{RunStatus, StepStatus};
use crate::playbook::OnFailure;
use crate::wake::Signal;

/// Where one step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Pending,
    Running,
    Done,
    Skipped,
    /// Failed, refused, or skipped because a step it needs failed: its dependents never run.
    Failed,
    /// A `for_each` cut short by a declined iteration (`on_decline: skip`): skipped, and its
    /// dependents are not run on the strength of a fan-out that stopped half-way.
    Cut,
}

/// What happened, as the dispatcher tells it.
#[derive(Debug)]
pub enum Msg {
    /// Step `i`'s task ended.
    Finished(usize, StepReport),
    /// A signal arrived.
    Interrupted,
    /// A guard's `abort_if` held.
    GuardTripped,
    /// A journal write failed: nothing more may run unrecorded.
    JournalFailed,
}

/// What the dispatcher must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Start step `i` in a task of its own.
    Start(usize),
    /// Step `i` will not run; say why.
    Skip(usize, String),
    /// The run is failing or stopping: happy-path waits end, open prompts are withdrawn.
    Settle,
}

/// The run's state while its steps run.
#[derive(Debug)]
pub struct RunState {
    needs: Vec<Vec<usize>>,
    on_failure: Vec<OnFailure>,
    state: Vec<State>,
    concurrency: usize,
    running: usize,
    settled: bool,
    ended: Ended,
}

/// What the steps left for the conclusion: what to undo, and why the run stopped.
#[derive(Debug, Default)]
pub struct Ended {
    /// What finished, in completion order.
    pub completed: Vec<(usize, Unit)>,
    /// The step that failed first (with its unit when its action began: its effect may be
    /// partial).
    pub failed: Option<(usize, Option<Unit>)>,
    /// Steps that failed after it, while the run was settling, with their units when their
    /// action began: their effect may be partial too, so they are undone as well.
    pub also_failed: Vec<(usize, Unit)>,
    pub any_failure: bool,
    pub refused: bool,
    /// A step with `on_failure: abort` failed: stop without rollback.
    pub abort: bool,
    pub interrupted: bool,
    pub guard_tripped: bool,
    pub journal_failed: bool,
}

impl RunState {
    /// `needs[i]`: the indexes step `i` needs; `on_failure[i]`: its failure policy.
    pub fn new(needs: Vec<Vec<usize>>, on_failure: Vec<OnFailure>, concurrency: u32) -> RunState {
        let n = needs.len();
        RunState {
            needs,
            on_failure,
            state: vec![State::Pending; n],
            concurrency: concurrency.max(1) as usize,
            running: 0,
            settled: false,
            ended: Ended::default(),
        }
    }

    /// A resumed run: these finished before (in completion order), these were skipped.
    pub fn resume(&mut self, done: Vec<(usize, Unit)>, skipped: &[usize]) {
        for (i, unit) in done {
            self.state[i] = State::Done;
            self.ended.completed.push((i, unit));
        }
        for &i in skipped {
            if self.state[i] == State::Pending {
                self.state[i] = State::Skipped;
            }
        }
    }

    #[cfg(test)]
    pub fn state(&self, i: usize) -> State {
        self.state[i]
    }

    #[cfg(test)]
    pub fn running(&self) -> usize {
        self.running
    }

    pub fn interrupted(&self) -> bool {
        self.ended.interrupted
    }

    pub fn journal_failed(&self) -> bool {
        self.ended.journal_failed
    }

    /// No step starts any more.
    pub fn stopping(&self) -> bool {
        let e = &self.ended;
        e.failed.is_some() || e.refused || e.interrupted || e.guard_tripped || e.journal_failed
    }

    /// Skips what can no longer run, then starts what is ready, up to the concurrency.
    pub fn schedule(&mut self) -> Vec<Command> {
        let mut out = Vec::new();
        if self.stopping() {
            return out;
        }
        loop {
            let mut changed = false;
            for i in 0..self.state.len() {
                if self.state[i] != State::Pending {
                    continue;
                }
                let why = self.needs[i].iter().find_map(|&d| match self.state[d] {
                    State::Failed => Some("a step it needs failed"),
                    State::Cut => Some("a step it needs was declined part-way (on_decline: skip)"),
                    _ => None,
                });
                if let Some(why) = why {
                    self.state[i] = State::Failed;
                    out.push(Command::Skip(i, why.into()));
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        for i in 0..self.state.len() {
            if self.running >= self.concurrency {
                break;
            }
            let ready = self.state[i] == State::Pending
                && self.needs[i]
                    .iter()
                    .all(|&d| matches!(self.state[d], State::Done | State::Skipped));
            if ready {
                self.state[i] = State::Running;
                self.running += 1;
                out.push(Command::Start(i));
            }
        }
        out
    }

    /// Takes one message; says what to do next.
    pub fn on(&mut self, msg: Msg) -> Vec<Command> {
        let settle = match msg {
            Msg::Finished(i, report) => {
                self.running = self.running.saturating_sub(1);
                self.finished(i, report)
            }
            Msg::Interrupted => {
                self.ended.interrupted = true;
                true
            }
            Msg::GuardTripped => {
                self.ended.guard_tripped = true;
                self.ended.any_failure = true;
                true
            }
            Msg::JournalFailed => {
                self.ended.journal_failed = true;
                self.ended.any_failure = true;
                true
            }
        };
        let mut out = Vec::new();
        if settle && !self.settled {
            self.settled = true;
            out.push(Command::Settle);
        }
        out.extend(self.schedule());
        out
    }

    /// Step `i` ended; true when the run must settle.
    fn finished(&mut self, i: usize, r: StepReport) -> bool {
        let e = &mut self.ended;
        match r.status {
            StepStatus::Ok => {
                self.state[i] = State::Done;
                e.completed.extend(r.done.into_iter().map(|u| (i, u)));
                false
            }
            StepStatus::Skipped | StepStatus::Declined if !r.refused => {
                self.state[i] = if r.cut { State::Cut } else { State::Skipped };
                // Iterations that finished before the step was cut short are undone with
                // the rest if the run fails later.
                e.completed.extend(r.done.into_iter().map(|u| (i, u)));
                false
            }
            StepStatus::Skipped | StepStatus::Declined => {
                self.state[i] = State::Failed;
                e.refused = true;
                e.completed.extend(r.done.into_iter().map(|u| (i, u)));
                false
            }
            StepStatus::Failed | StepStatus::TimedOut if self.on_failure[i] == OnFailure::Ignore => {
                // A fact, not a failure: its dependents run and read its status; what it
                // began is undone with the rest if the run fails later.
                self.state[i] = State::Done;
                e.completed.extend(r.done.into_iter().map(|u| (i, u)));
                if let Some(unit) = r.failed_unit.filter(|_| r.action_started) {
                    e.completed.push((i, unit));
                }
                false
            }
            StepStatus::Failed | StepStatus::TimedOut => {
                self.state[i] = State::Failed;
                e.any_failure = true;
                // Iterations that finished before the failure are undone too.
                e.completed.extend(r.done.into_iter().map(|u| (i, u)));
                match self.on_failure[i] {
                    OnFailure::Ignore => false,
                    OnFailure::Continue => false,
                    OnFailure::Rollback => {
                        // A failure before the action began (a precondition, a journal
                        // write) changed nothing: that step itself is not undone.
                        let unit = r.failed_unit.filter(|_| r.action_started);
                        match (&e.failed, unit) {
                            (None, unit) => e.failed = Some((i, unit)),
                            (Some(_), Some(unit)) => e.also_failed.push((i, unit)),
                            (Some(_), None) => {}
                        }
                        true
                    }
                    OnFailure::Abort => {
                        e.abort = true;
                        e.failed.get_or_insert((i, None));
                        true
                    }
                }
            }
        }
    }

    /// What the steps left, once none runs.
    pub fn ended(self) -> Ended {
        self.ended
    }
}

impl Ended {
    /// What a rollback undoes, in order: the failed steps first, the last to fail first
    /// (their effect may be partial), then the finished ones, newest first. Only the steps
    /// `undoable` says have a rollback are in it.
    pub fn undo_order(&self, undoable: impl Fn(usize) -> bool) -> Vec<(usize, Unit)> {
        let mut units: Vec<(usize, Unit)> = self.also_failed.iter().rev().cloned().collect();
        if let Some((i, Some(u))) = &self.failed {
            units.push((*i, u.clone()));
        }
        units.extend(self.completed.iter().rev().cloned());
        units.retain(|(i, _)| undoable(*i));
        units
    }

    /// Whether the run rolls back without asking anyone. (A run a signal stopped asks at
    /// a terminal instead.) A journal that cannot be written ends in a rollback whatever
    /// the policy said.
    pub fn rolls_back(&self) -> bool {
        ((self.failed.is_some() || self.guard_tripped) && !self.abort) || self.journal_failed
    }

    /// How the run ended: `signal` is the one received, if any; `rolled_back`, whether a
    /// rollback was started; `undone_all`, whether nothing remains to undo by hand.
    pub fn status(&self, signal: Option<Signal>, rolled_back: bool, undone_all: bool) -> RunStatus {
        match signal {
            Some(s) if self.interrupted || !undone_all => signal_status(s),
            _ if !undone_all && rolled_back => RunStatus::RollbackFailed,
            _ if self.refused => RunStatus::Refused,
            _ if self.any_failure => RunStatus::Failed,
            _ => RunStatus::Succeeded,
        }
    }
}

/// How a run (or a rollback) that a signal stopped ends.
pub fn signal_status(s: Signal) -> RunStatus {
    match s {
        Signal::Int => RunStatus::Interrupted,
        Signal::Term | Signal::Hup => RunStatus::Terminated,
    }
}

#[cfg(test)]
mod tests;
