//! A person at a terminal: confirmations asked and answered through a pseudo-terminal, and
//! Ctrl-C.

use std::process::Command;
use std::time::Duration;

use expectrl::process::unix::WaitStatus;
use expectrl::session::OsSession as Session;
use expectrl::{Eof, Expect};
use runbook_tests::{Workspace, binary};

const GATED: &str = "name: gated\nsteps:\n  - id: ship\n    risk: high\n    confirm: \"Ship it to {{ env.name }}?\"\n    shell: 'echo shipped >> log'\n    rollback: { shell: 'true' }\n";

fn spawn(w: &Workspace, args: &[&str]) -> Session {
    let mut cmd = Command::new(binary());
    cmd.args(["--color", "never"])
        .args(args)
        .current_dir(w.path())
        .env("RUNBOOK_USER", "alice");
    let mut s = Session::spawn(cmd).expect("spawn in a pty");
    s.set_expect_timeout(Some(Duration::from_secs(20)));
    s
}

fn exit_code(s: &Session) -> i32 {
    match s.get_process().wait() {
        Ok(WaitStatus::Exited(_, code)) => code,
        other => panic!("unexpected end: {other:?}"),
    }
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
fn ctrl_c_twice_kills_running_steps_and_exits_130() {
    let n = 2000 + std::process::id() % 7000;
    let pb =
        format!("name: long\nsteps:\n  - id: sleepy\n    shell: 'sleep {n}.3'\n    rollback: {{ shell: 'true' }}\n");
    let w = Workspace::new().playbook("long", &pb);
    let mut child = Command::new(binary())
        .args(["--color", "never", "run", "long", "--output", "json"])
        .current_dir(w.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // Wait until the step runs.
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    loop {
        line.clear();
        use std::io::BufRead;
        assert!(stdout.read_line(&mut line).expect("read") > 0, "the run ended early");
        if line.contains("\"step_started\"") {
            break;
        }
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("first SIGINT");
    std::thread::sleep(Duration::from_millis(200));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("second SIGINT");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130));
    let mut rest = String::new();
    use std::io::Read;
    stdout.read_to_string(&mut rest).expect("rest");
    assert!(
        rest.contains("\"interrupted\"") && rest.contains("\"status\":\"interrupted\""),
        "{rest}"
    );
    // Without a terminal nobody was asked to roll back; what remains to undo is listed.
    assert!(rest.contains("\"remaining_undo\":[\"sleepy: shell: true\"]"), "{rest}");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !super::run::processes_with(&format!("sleep {n}.3")).is_empty() {
        assert!(std::time::Instant::now() < deadline, "the step's process survived");
        std::thread::sleep(Duration::from_millis(50));
    }
}
