//! Values past runbook's limits (durations, counts) are usage errors that state the limit,
//! never a panic: on the command line and in `runbook.yaml` (playbooks: fixtures 69-81).

use runbook_tests::Workspace;

const PLAYBOOK: &str = "name: hello\nsteps:\n  - id: a\n    log: hi\n";

fn assert_usage_error(out: &runbook_tests::Output, expected: &str) {
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert!(
        out.stderr.contains(expected),
        "missing `{expected}` in:\n{}",
        out.stderr
    );
}

#[test]
fn a_lock_wait_past_the_longest_duration_is_refused_before_anything_runs() {
    let w = Workspace::new().playbook("hello", PLAYBOOK);
    // This used to panic with "overflow when adding duration to instant" (exit 101).
    for wait in ["9300000000000000000s", "99999999999999999999999", "367d"] {
        let out = w.run(&["run", "hello", "--non-interactive", "--lock-wait", wait]);
        assert_usage_error(
            &out,
            &format!("`{wait}` is longer than the longest duration runbook accepts (366d)"),
        );
        assert!(!w.path().join(".runbook/runs").exists(), "nothing may be journaled");
    }
    let ok = w.run(&["run", "hello", "--non-interactive", "--lock-wait", "366d"]);
    assert_eq!(ok.code, 0, "{}", ok.transcript());
}

#[test]
fn workspace_durations_are_bounded_where_they_are_written() {
    let w = Workspace::new()
        .playbook("hello", PLAYBOOK)
        .file("runbook.yaml", "locks:\n  backend: kubernetes\n  lease_duration: 2h\n");
    let out = w.run(&["validate"]);
    assert_usage_error(
        &out,
        "runbook.yaml:3:19: locks.lease_duration must be between 1s and 1h, not 2h",
    );

    let w = Workspace::new()
        .playbook("hello", PLAYBOOK)
        .file("runbook.yaml", "locks:\n  lease_duration: 9300000000000000000s\n");
    let out = w.run(&["validate"]);
    assert_usage_error(
        &out,
        "runbook.yaml:2:19: `9300000000000000000s` is longer than the longest duration runbook accepts (366d)",
    );

    let w = Workspace::new().playbook("hello", PLAYBOOK).file(
        "runbook.yaml",
        "schedules:\n  - name: nightly\n    playbook: hello\n    cron: \"0 3 * * *\"\n    catchup: 400d\n",
    );
    let out = w.run(&["validate"]);
    assert_usage_error(
        &out,
        "runbook.yaml:5:14: `400d` is longer than the longest duration runbook accepts (366d)",
    );
}
