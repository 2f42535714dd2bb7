//! A person at a terminal: confirmations asked and answered through a pseudo-terminal, and
//! Ctrl-C.

use std::time::Duration;

use expectrl::session::OsSession as Session;
use expectrl::{Eof, Expect};
use runbook_tests::{Workspace, eventually, exit_code};

const GATED: &str = "name: gated\nsteps:\n  - id: ship\n    risk: high\n    confirm: \"Ship it to {{ env.name }}?\"\n    shell: 'echo shipped >> log'\n    rollback: { shell: 'true' }\n";

/// Alice runs `runbook ARGS` at a terminal.
fn spawn(w: &Workspace, args: &[&str]) -> Session {
    w.runbook(args).user("alice").terminal()
}

#[test]
fn a_confirmation_is_asked_at_the_terminal_and_yes_runs_the_step() {
    let w = Workspace::new().playbook("gated", GATED);
    let mut s = spawn(&w, &["run", "gated", "--output", "json"]);
    s.expect("Ship it to default?").expect("the question is shown");
    s.send("y").expect("answer");
    s.expect(Eof).expect("the run ends");
    assert_eq!(exit_code(&s), 0);
    assert_eq!(
        std::fs::read_to_string(w.path().join("log")).unwrap_or_default(),
        "shipped\n"
    );
}

#[test]
fn no_at_the_terminal_ends_the_run_refused() {
    let w = Workspace::new().playbook("gated", GATED);
    let mut s = spawn(&w, &["run", "gated"]);
    s.expect("Ship it to default?").expect("the question is shown");
    s.send("n").expect("answer");
    s.expect("REFUSED").expect("the run says it was refused");
    s.expect(Eof).expect("the run ends");
    assert_eq!(exit_code(&s), 4);
    assert!(!w.path().join("log").exists(), "the step must not run");
}

#[test]
fn non_interactive_never_asks_even_at_a_terminal() {
    let w = Workspace::new().playbook("gated", GATED);
    let mut s = spawn(&w, &["run", "gated", "--non-interactive"]);
    s.expect("--approve ship").expect("fails closed naming the flag");
    s.expect(Eof).expect("the run ends");
    assert_eq!(exit_code(&s), 4);
}

#[test]
fn a_yes_on_a_pipe_is_no_answer_only_a_terminal_is_asked() {
    let w = Workspace::new().playbook("gated", GATED);
    w.runbook(["run", "gated"])
        .user("alice")
        .stdin("y\n")
        .status(4)
        .stderr_has("--approve ship")
        .run();
    assert!(!w.path().join("log").exists(), "the step must not run");
}

#[test]
fn ctrl_c_stops_the_running_steps_and_a_second_kills_what_ignores_it() {
    let n = 2000 + std::process::id() % 7000;
    // The step ignores SIGTERM, so only the second press (SIGKILL, no grace) ends it.
    let pb = format!(
        "name: long\nsteps:\n  - id: sleepy\n    shell: \"trap '' TERM; sleep {n}.3 & wait; wait\"\n    rollback: {{ shell: 'true' }}\n"
    );
    let w = Workspace::new().playbook("long", &pb);
    let mut bg = w.runbook(["run", "long", "--grace", "60s"]).start();
    bg.wait_for(|l| l.contains("\"step_started\""));
    let pid = nix::unistd::Pid::from_raw(bg.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("first SIGINT");
    bg.wait_for(|l| l.contains("\"type\":\"interrupted\""));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("second SIGINT");
    assert_eq!(bg.finish(), 130, "{}", bg.stderr());
    let rest = bg.lines.join("");
    assert!(
        rest.contains("\"signal\":\"SIGINT\"") && rest.contains("\"status\":\"interrupted\""),
        "{rest}"
    );
    // Without a terminal nobody was asked to roll back; what remains to undo is listed.
    assert!(rest.contains("\"remaining_undo\":[\"sleepy: shell: true\"]"), "{rest}");
    eventually(Duration::from_secs(5), "the step's process is gone", || {
        super::run::processes_with(&format!("sleep {n}.3")).is_empty()
    });
}

#[test]
fn a_second_ctrl_c_right_after_the_first_still_kills() {
    // The signal handlers are in place before the lock is taken, so no press meets the
    // default action; each press reaches the run (none is lost between two listeners), and
    // the run ends interrupted (130) whichever of the step's end and the stop comes first.
    // Twenty tries in a row, as these races showed only on a busy machine.
    let n = 2000 + std::process::id() % 7000;
    let pb =
        format!("name: long\nsteps:\n  - id: sleepy\n    shell: 'sleep {n}.4'\n    rollback: {{ shell: 'true' }}\n");
    let w = Workspace::new().playbook("long", &pb);
    for attempt in 1..=20 {
        let mut bg = w.runbook(["run", "long"]).start();
        bg.wait_for(|l| l.contains("\"step_started\""));
        let pid = nix::unistd::Pid::from_raw(bg.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("first SIGINT");
        bg.wait_for(|l| l.contains("\"type\":\"interrupted\""));
        // The first press already stops the step; the run may be gone by now.
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
        let end = bg.wait_for_within(Duration::from_secs(10), |l| l.contains("\"run_finished\""));
        assert!(end.contains("\"status\":\"interrupted\""), "attempt {attempt}: {end}");
        assert_eq!(bg.finish(), 130, "attempt {attempt}");
    }
}

#[test]
fn an_open_question_holds_up_no_other_step_and_is_withdrawn_when_the_run_fails() {
    // `ask` waits at the terminal (nobody answers); `slow` beside it must still time out
    // after its 1 s, and the failing run takes the question back.
    let pb = "name: both\nsteps:\n  - id: ask\n    needs: []\n    confirm: \"Proceed with ask?\"\n    shell: 'echo asked >> log'\n  - id: slow\n    needs: []\n    timeout: 1s\n    shell: 'sleep 30'\n";
    let w = Workspace::new().playbook("both", pb);
    let mut s = spawn(&w, &["run", "both"]);
    s.expect("Proceed with ask?").expect("the question is shown");
    s.expect("question withdrawn")
        .expect("the failing run takes the question back");
    s.expect(Eof).expect("the run ends");
    assert_eq!(exit_code(&s), 1);
    assert!(!w.path().join("log").exists(), "the unanswered step must not run");
    let journal = w.journal();
    let slow = journal
        .iter()
        .find(|r| r["type"] == "step_finished" && r["step"] == "slow")
        .expect("slow finished");
    assert_eq!(slow["status"], "timed_out");
    let ms = slow["duration_ms"].as_u64().unwrap_or(0);
    assert!(
        (900..2500).contains(&ms),
        "slow's 1 s timeout took {ms} ms while a question was open"
    );
}

#[test]
fn interrupted_at_a_terminal_it_asks_whether_to_roll_back() {
    let pb = "name: undoable\nsteps:\n  - id: one\n    shell: 'echo one >> log'\n    rollback: { shell: 'echo undo-one >> log' }\n  - id: wait\n    shell: 'echo waiting >> log; sleep 30'\n";
    let w = Workspace::new().playbook("undoable", pb);
    let mut s = spawn(&w, &["run", "undoable"]);
    eventually(Duration::from_secs(20), "the step starts", || {
        w.lines("log").iter().any(|l| l == "waiting")
    });
    let pid = nix::unistd::Pid::from_raw(s.get_process().pid().as_raw());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    s.expect("Roll back the steps that completed?")
        .expect("asked at the terminal");
    s.send("y").expect("answer");
    s.expect(Eof).expect("the run ends");
    assert_eq!(exit_code(&s), 143);
    assert_eq!(
        std::fs::read_to_string(w.path().join("log")).unwrap_or_default(),
        "one\nwaiting\nundo-one\n"
    );
    let journal = w.journal();
    let asked = runbook_tests::of_type(&journal, "gate");
    assert!(
        asked.iter().any(|g| g["step"] == "rollback" && g["approved"] == true),
        "the answer is journaled: {asked:?}"
    );
}
