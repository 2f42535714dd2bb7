//! The dispatcher's rules, one by one, without a process or a clock.

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

fn labels(units: &[(usize, Unit)]) -> Vec<&str> {
    units.iter().map(|(_, u)| u.label.as_str()).collect()
}

#[test]
fn rollback_order_is_the_failed_steps_last_failed_first_then_the_finished_newest_first() {
    // a, b and c run beside each other; d after a. a ends, b fails, then d ends and c fails
    // while the run settles.
    let mut s = RunState::new(vec![vec![], vec![], vec![], vec![0]], vec![OnFailure::Rollback; 4], 4);
    assert_eq!(starts(&s.schedule()), vec![0, 1, 2]);
    assert_eq!(starts(&s.on(Msg::Finished(0, report(StepStatus::Ok, "a")))), vec![3]);
    s.on(Msg::Finished(1, report(StepStatus::Failed, "b")));
    s.on(Msg::Finished(3, report(StepStatus::Ok, "d")));
    s.on(Msg::Finished(2, report(StepStatus::Failed, "c")));
    let e = s.ended();
    assert_eq!(labels(&e.undo_order(|_| true)), vec!["c", "b", "d", "a"]);
    // Steps without a rollback are left out, the order of the rest kept.
    assert_eq!(labels(&e.undo_order(|i| i != 1 && i != 3)), vec!["c", "a"]);
    assert!(e.rolls_back());
    assert_eq!(e.status(None, true, true), RunStatus::Failed);
    assert_eq!(e.status(None, true, false), RunStatus::RollbackFailed);
}

#[test]
fn only_a_failure_under_rollback_a_guard_or_a_lost_journal_rolls_back_unasked() {
    let ended = |msgs: Vec<Msg>, policy: OnFailure| {
        let mut s = RunState::new(vec![vec![]], vec![policy], 1);
        s.schedule();
        for m in msgs {
            s.on(m);
        }
        s.ended()
    };
    let failed = || Msg::Finished(0, report(StepStatus::Failed, "a"));
    assert!(ended(vec![failed()], OnFailure::Rollback).rolls_back());
    assert!(!ended(vec![failed()], OnFailure::Abort).rolls_back());
    assert!(!ended(vec![failed()], OnFailure::Continue).rolls_back());
    assert!(ended(vec![Msg::GuardTripped], OnFailure::Rollback).rolls_back());
    // A journal that cannot be written rolls back even past `abort`.
    assert!(ended(vec![failed(), Msg::JournalFailed], OnFailure::Abort).rolls_back());
    // A signal asks instead; a refusal is no failure.
    assert!(!ended(vec![Msg::Interrupted], OnFailure::Rollback).rolls_back());
    let mut refused = report(StepStatus::Declined, "a");
    refused.refused = true;
    let e = ended(vec![Msg::Finished(0, refused)], OnFailure::Rollback);
    assert!(!e.rolls_back());
    assert_eq!(e.status(None, false, true), RunStatus::Refused);
}

#[test]
fn a_signal_ends_the_run_interrupted_or_terminated_whatever_else_happened() {
    let mut s = diamond(4);
    s.schedule();
    assert_eq!(s.on(Msg::Interrupted), vec![Command::Settle]);
    // The step that was running reports; nothing after it starts.
    assert!(starts(&s.on(Msg::Finished(0, report(StepStatus::Ok, "a")))).is_empty());
    assert!(s.interrupted());
    let e = s.ended();
    assert_eq!(labels(&e.undo_order(|_| true)), vec!["a"]);
    assert_eq!(e.status(Some(Signal::Int), false, false), RunStatus::Interrupted);
    assert_eq!(e.status(Some(Signal::Term), true, true), RunStatus::Terminated);
    assert_eq!(e.status(Some(Signal::Hup), false, false), RunStatus::Terminated);

    // A signal during a rollback after a failure ends the run by that signal when
    // something remains to undo, and as failed when the undo it let finish was the last.
    let mut s = diamond(4);
    s.schedule();
    s.on(Msg::Finished(0, report(StepStatus::Failed, "a")));
    let e = s.ended();
    assert_eq!(e.status(Some(Signal::Int), true, false), RunStatus::Interrupted);
    assert_eq!(e.status(Some(Signal::Int), true, true), RunStatus::Failed);
}

#[test]
fn a_run_where_all_went_well_succeeds_and_its_undo_is_newest_first() {
    let mut s = diamond(1);
    let mut cmds = s.schedule();
    let names = ["a", "b", "c", "d"];
    while let Some(i) = starts(&cmds).first().copied() {
        cmds = s.on(Msg::Finished(i, report(StepStatus::Ok, names[i])));
    }
    let e = s.ended();
    assert!(!e.rolls_back());
    assert_eq!(e.status(None, false, true), RunStatus::Succeeded);
    assert_eq!(labels(&e.undo_order(|_| true)), vec!["d", "c", "b", "a"]);
}
