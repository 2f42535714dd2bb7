//! The test support itself: what a test starts, it stops.

use std::time::Duration;

use runbook_tests::{Workspace, eventually, within};

#[test]
fn dropping_a_background_run_kills_it_and_the_steps_it_started() {
    // A step in a process group of its own, as the engine runs every step: neither the
    // binary's pid nor its group reaches it.
    let n = 3000 + std::process::id() % 6000;
    let pb = format!("name: hang\nsteps:\n  - id: sleepy\n    shell: 'sleep {n}.6'\n");
    let w = Workspace::new().playbook("hang", &pb);
    let mut bg = w.runbook(["run", "hang"]).start();
    bg.wait_for(|l| l.contains("\"step_started\""));
    eventually(Duration::from_secs(10), "the step starts", || {
        !super::run::processes_with(&format!("sleep {n}.6")).is_empty()
    });
    let pid = bg.child.id();
    drop(bg);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the binary was killed and reaped"
    );
    let gone = within(Duration::from_secs(5), || {
        super::run::processes_with(&format!("sleep {n}.6")).is_empty()
    });
    assert!(
        gone,
        "the step outlived its run: {:?}",
        super::run::processes_with(&format!("sleep {n}.6"))
    );
}

#[test]
#[should_panic(expected = "`runbook validate`: exit code 0, expected 3; stderr lacks `no such words`\nexit: 0\n")]
fn an_unmet_expectation_names_the_command_and_all_that_is_wrong() {
    let w = Workspace::new().playbook("ok", "name: ok\nsteps:\n  - id: one\n    shell: 'true'\n");
    w.runbook(["validate"]).status(3).stderr_has("no such words").run();
}

#[test]
fn a_retried_invocation_runs_again_until_the_answer_changes() {
    // The playbook appears while the binary is asked again: `plan` fails, then passes. The
    // writer's delay is the thing under test (a state that changes between two tries).
    let w = Workspace::new().playbook("early", "name: early\nsteps:\n  - id: zero\n    shell: 'true'\n");
    let dir = w.path().to_path_buf();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let pb = "name: late\nsteps:\n  - id: one\n    shell: 'true'\n";
        std::fs::write(dir.join("playbooks/late.yaml"), pb).expect("write");
    });
    let out = w
        .runbook(["plan", "late"])
        .retry_while(Duration::from_secs(20), |o| o.code != 0)
        .success()
        .run();
    writer.join().expect("writer");
    assert!(out.stdout.contains("one"), "{}", out.transcript());
}
