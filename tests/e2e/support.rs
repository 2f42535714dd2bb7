//! The test support itself: what a test starts, it stops.

use std::time::{Duration, Instant};

use runbook_tests::{Background, Workspace};

#[test]
fn dropping_a_background_run_kills_it_and_the_steps_it_started() {
    // A step in a process group of its own, as the engine runs every step: neither the
    // binary's pid nor its group reaches it.
    let n = 3000 + std::process::id() % 6000;
    let pb = format!("name: hang\nsteps:\n  - id: sleepy\n    shell: 'sleep {n}.6'\n");
    let w = Workspace::new().playbook("hang", &pb);
    let mut bg = Background::start(w.path(), &["run", "hang"], &[]);
    bg.wait_for(|l| l.contains("\"step_started\""));
    let deadline = Instant::now() + Duration::from_secs(10);
    while super::run::processes_with(&format!("sleep {n}.6")).is_empty() {
        assert!(Instant::now() < deadline, "the step never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = bg.child.id();
    drop(bg);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the binary was killed and reaped"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = super::run::processes_with(&format!("sleep {n}.6"));
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the step outlived its run: {left:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
