//! The dispatcher's decisions, as a pure state machine: which steps start, which are skipped,
//! when the run stops starting steps, and what it leaves for the rollback. It runs no step,
//! awaits nothing and prints nothing, so every rule is a unit test.

use super::event::StepStatus;
use super::step::{StepReport, Unit};
use crate::playbook::OnFailure;

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

#[cfg(test)]
mod tests {
    use super::*;

    fn report(status: StepStatus, label: &str) -> StepReport {
        let unit = Unit {
            label: label.into(),
            binding: None,
            undo: None,
        };
        StepReport {
            status,
            refused: false,
            cut: false,
            action_started: true,
            done: if status == StepStatus::Ok {
                vec![unit.clone()]
            } else {
                vec![]
            },
            failed_unit: (status != StepStatus::Ok).then_some(unit),
        }
    }

    fn starts(cmds: &[Command]) -> Vec<usize> {
        cmds.iter()
            .filter_map(|c| match c {
                Command::Start(i) => Some(*i),
                _ => None,
            })
            .collect()
    }

    /// a, then b and c beside each other, then d after both.
    fn diamond(concurrency: u32) -> RunState {
        RunState::new(
            vec![vec![], vec![0], vec![0], vec![1, 2]],
            vec![OnFailure::Rollback; 4],
            concurrency,
        )
    }

    #[test]
    fn steps_start_when_their_needs_are_done_within_the_concurrency() {
        let mut s = diamond(4);
        assert_eq!(starts(&s.schedule()), vec![0]);
        assert_eq!(starts(&s.on(Msg::Finished(0, report(StepStatus::Ok, "a")))), vec![1, 2]);
        assert_eq!(
            starts(&s.on(Msg::Finished(1, report(StepStatus::Ok, "b")))),
            Vec::<usize>::new()
        );
        assert_eq!(starts(&s.on(Msg::Finished(2, report(StepStatus::Ok, "c")))), vec![3]);

        let mut s = diamond(1);
        s.schedule();
        assert_eq!(starts(&s.on(Msg::Finished(0, report(StepStatus::Ok, "a")))), vec![1]);
    }

    #[test]
    fn a_failure_while_others_run_starts_nothing_and_rolls_back_the_failed_step_first() {
        // B failed while A and C run: no new starts; when A ends, roll back A then B.
        let mut s = RunState::new(
            vec![vec![], vec![], vec![], vec![0, 1, 2]],
            vec![OnFailure::Rollback; 4],
            4,
        );
        assert_eq!(starts(&s.schedule()), vec![0, 1, 2]);
        let cmds = s.on(Msg::Finished(1, report(StepStatus::Failed, "b")));
        assert_eq!(cmds, vec![Command::Settle]);
        assert!(s.stopping());
        assert!(s.on(Msg::Finished(0, report(StepStatus::Ok, "a"))).is_empty());
        assert!(s.on(Msg::Finished(2, report(StepStatus::Failed, "c"))).is_empty());
        assert_eq!(s.running(), 0);
        assert_eq!(s.state(3), State::Pending);
        let e = s.ended();
        assert_eq!(e.failed.as_ref().map(|f| f.0), Some(1));
        let undo: Vec<&str> = e.completed.iter().map(|(_, u)| u.label.as_str()).collect();
        assert_eq!(undo, vec!["a"]);
    }

    #[test]
    fn a_refusal_anywhere_ends_the_run_refused_and_nothing_after_it_starts() {
        let mut s = diamond(4);
        s.schedule();
        s.on(Msg::Finished(0, report(StepStatus::Ok, "a")));
        let mut refused = report(StepStatus::Declined, "b[1]");
        refused.refused = true;
        refused.done = vec![Unit {
            label: "b[0]".into(),
            binding: None,
            undo: None,
        }];
        assert!(starts(&s.on(Msg::Finished(1, refused))).is_empty());
        assert!(starts(&s.on(Msg::Finished(2, report(StepStatus::Ok, "c")))).is_empty());
        assert_eq!(s.state(3), State::Pending);
        let e = s.ended();
        assert!(e.refused);
        assert!(e.failed.is_none(), "a refusal is not a failure: nothing is rolled back");
        // The iteration that ran before the refusal is known, for `runbook rollback`.
        assert!(e.completed.iter().any(|(_, u)| u.label == "b[0]"));
    }

    #[test]
    fn a_declined_skip_skips_the_step_and_its_dependents_still_run() {
        let mut s = diamond(4);
        s.schedule();
        s.on(Msg::Finished(0, report(StepStatus::Ok, "a")));
        let mut skipped = report(StepStatus::Declined, "b");
        skipped.failed_unit = None;
        assert!(starts(&s.on(Msg::Finished(1, skipped))).is_empty());
        assert_eq!(starts(&s.on(Msg::Finished(2, report(StepStatus::Ok, "c")))), vec![3]);
    }

    #[test]
    fn a_fan_out_cut_short_by_a_decline_does_not_feed_its_dependents() {
        let mut s = diamond(4);
        s.schedule();
        s.on(Msg::Finished(0, report(StepStatus::Ok, "a")));
        let mut cut = report(StepStatus::Skipped, "b");
        cut.cut = true;
        cut.failed_unit = None;
        let mut cmds = s.on(Msg::Finished(1, cut));
        cmds.extend(s.on(Msg::Finished(2, report(StepStatus::Ok, "c"))));
        assert!(starts(&cmds).is_empty());
        assert!(
            cmds.iter()
                .any(|c| matches!(c, Command::Skip(3, why) if why.contains("declined")))
        );
        assert!(
            !s.stopping(),
            "the run goes on; only what needs the cut step is skipped"
        );
    }

    #[test]
    fn an_ignored_failure_lets_dependents_run_and_the_run_succeed() {
        let mut s = RunState::new(vec![vec![], vec![0]], vec![OnFailure::Ignore, OnFailure::Rollback], 1);
        assert_eq!(starts(&s.schedule()), vec![0]);
        let cmds = s.on(Msg::Finished(0, report(StepStatus::Failed, "a")));
        assert_eq!(cmds, vec![Command::Start(1)]);
        s.on(Msg::Finished(1, report(StepStatus::Ok, "b")));
        let e = s.ended();
        assert!(!e.any_failure && e.failed.is_none(), "{e:?}");
        // What the failed step began is undone if the run fails later.
        assert_eq!(e.completed.iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![0, 1]);
    }

    #[test]
    fn continue_skips_dependents_and_other_branches_go_on() {
        let mut s = RunState::new(
            vec![vec![], vec![0], vec![]],
            vec![OnFailure::Continue, OnFailure::Rollback, OnFailure::Rollback],
            1,
        );
        assert_eq!(starts(&s.schedule()), vec![0]);
        let cmds = s.on(Msg::Finished(0, report(StepStatus::Failed, "a")));
        assert_eq!(
            cmds,
            vec![Command::Skip(1, "a step it needs failed".into()), Command::Start(2)]
        );
        s.on(Msg::Finished(2, report(StepStatus::Ok, "c")));
        let e = s.ended();
        assert!(e.any_failure && e.failed.is_none());
    }

    #[test]
    fn abort_stops_without_rollback() {
        let mut s = RunState::new(vec![vec![], vec![0]], vec![OnFailure::Abort, OnFailure::Rollback], 1);
        s.schedule();
        let cmds = s.on(Msg::Finished(0, report(StepStatus::Failed, "a")));
        assert_eq!(cmds, vec![Command::Settle]);
        let e = s.ended();
        assert!(e.abort && e.failed.is_some());
    }

    #[test]
    fn a_signal_a_guard_or_a_failed_journal_settles_once_and_stops_starting() {
        for msg in [Msg::Interrupted, Msg::GuardTripped, Msg::JournalFailed] {
            let mut s = diamond(4);
            s.schedule();
            assert_eq!(s.on(msg), vec![Command::Settle]);
            assert!(s.on(Msg::Finished(0, report(StepStatus::Failed, "a"))).is_empty());
            assert!(s.on(Msg::Interrupted).is_empty(), "settles once");
        }
    }

    #[test]
    fn a_precondition_failure_is_not_undone() {
        let mut s = diamond(4);
        s.schedule();
        let mut r = report(StepStatus::Failed, "a");
        r.action_started = false;
        s.on(Msg::Finished(0, r));
        assert_eq!(s.ended().failed.map(|f| f.1.is_none()), Some(true));
    }

    #[test]
    fn a_resumed_run_starts_after_what_it_had_done() {
        let mut s = diamond(4);
        let unit = |l: &str| Unit {
            label: l.into(),
            binding: None,
            undo: None,
        };
        s.resume(vec![(0, unit("a")), (1, unit("b"))], &[2]);
        assert_eq!(starts(&s.schedule()), vec![3]);
    }
}
