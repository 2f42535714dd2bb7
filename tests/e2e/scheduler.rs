//! `runbook scheduler`, the foreground daemon: it runs the firings that are due, reloads
//! runbook.yaml on SIGHUP (keeping the old schedules when the new file is invalid), and on
//! SIGTERM stops scheduling, passes the signal on to the running drills, waits for them and
//! exits 0.

use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use runbook_tests::{Background, Workspace};
use serde_json::Value;

/// A workspace whose one schedule fires every minute: at start the daemon finds the
/// current minute's firing within its catchup and runs it at once.
fn every_minute(playbook: &str) -> Workspace {
    Workspace::new()
        .file(
            "runbook.yaml",
            "environments:\n  dev: {}\ndefault_env: dev\nschedules:\n  - name: tick\n    playbook: tick\n    env: dev\n    cron: \"* * * * *\"\n",
        )
        .playbook("tick", playbook)
}

/// The daemon's JSON events so far (it logs to stderr).
fn events(bg: &Background) -> Vec<Value> {
    bg.stderr()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Waits, with a deadline, for an event that satisfies `found`.
fn wait_event(bg: &Background, what: &str, found: impl Fn(&Value) -> bool) -> Value {
    let event = runbook_tests::poll(Duration::from_secs(30), || events(bg).into_iter().find(|e| found(e)));
    event.unwrap_or_else(|| panic!("no {what} event:\n{}", bg.stderr()))
}

fn signal(bg: &Background, s: Signal) {
    kill(Pid::from_raw(bg.child.id() as i32), s).expect("signal");
}

#[test]
fn it_runs_due_firings_reloads_on_sighup_and_keeps_its_schedules_on_a_bad_file() {
    let w = every_minute("name: tick\nsteps:\n  - id: hello\n    shell: 'echo tick >> ticks'\n");
    let mut bg = w.runbook(["scheduler", "--output", "json"]).spawn();
    let started = wait_event(&bg, "started", |e| e["event"] == "started");
    assert_eq!(started["schedules"], 1);
    let ended = wait_event(&bg, "firing_ended", |e| e["event"] == "firing_ended");
    assert_eq!(
        (ended["schedule"].as_str(), ended["status"].as_str()),
        (Some("tick"), Some("succeeded"))
    );
    // (A minute may turn during the test: its firing runs too.)
    assert_eq!(w.lines("ticks").first().map(String::as_str), Some("tick"));
    let sleeping = wait_event(&bg, "sleeping", |e| e["event"] == "sleeping");
    assert_eq!(sleeping["schedules"], serde_json::json!(["tick"]));

    // A second schedule, then SIGHUP: it is loaded, and its due firing runs.
    let yaml = std::fs::read_to_string(w.path().join("runbook.yaml")).expect("yaml");
    std::fs::write(
        w.path().join("runbook.yaml"),
        format!("{yaml}  - name: tock\n    playbook: tick\n    env: dev\n    cron: \"* * * * *\"\n"),
    )
    .expect("write");
    signal(&bg, Signal::SIGHUP);
    let reloaded = wait_event(&bg, "reloaded", |e| e["event"] == "reloaded");
    assert_eq!(reloaded["schedules"], 2);
    wait_event(&bg, "tock's firing", |e| {
        e["event"] == "firing_ended" && e["schedule"] == "tock"
    });

    // An invalid file is not loaded; the daemon goes on with what it had.
    std::fs::write(w.path().join("runbook.yaml"), "schedules: [\n").expect("write");
    signal(&bg, Signal::SIGHUP);
    let failed = wait_event(&bg, "reload_failed", |e| e["event"] == "reload_failed");
    assert!(
        failed["message"]
            .as_str()
            .unwrap_or("")
            .contains("the 2 schedule(s) loaded before go on"),
        "{failed}"
    );

    signal(&bg, Signal::SIGTERM);
    assert_eq!(bg.finish(), 0, "{}", bg.stderr());
    assert!(events(&bg).iter().any(|e| e["event"] == "stopped"));
}

#[test]
fn sigterm_drains_running_drills_and_exits_0() {
    let marker = format!("{}.7", 3000 + std::process::id() % 6000);
    let w = every_minute(&format!(
        "name: tick\nsteps:\n  - id: slow\n    shell: \"echo started >> log; sleep {marker}\"\n    rollback: {{ shell: 'echo undone >> log' }}\n"
    ));
    let mut bg = w.runbook(["scheduler", "--output", "json"]).spawn();
    wait_event(&bg, "firing_started", |e| e["event"] == "firing_started");
    let started = runbook_tests::within(Duration::from_secs(30), || {
        w.lines("log").contains(&"started".to_string())
    });
    assert!(started, "the drill never started:\n{}", bg.stderr());
    signal(&bg, Signal::SIGTERM);
    let stopping = wait_event(&bg, "stopping", |e| e["event"] == "stopping");
    assert!(stopping["running"].as_u64() >= Some(1), "{stopping}");
    // (Should a minute turn meanwhile, that firing is skipped: the drill holds the lock.)
    let ended = wait_event(&bg, "the drill's end", |e| {
        e["event"] == "firing_ended" && e["status"] != "skipped"
    });
    assert_eq!(ended["status"], "terminated", "{ended}");
    assert_eq!(ended["exit_code"], 143);
    assert_eq!(bg.finish(), 0, "{}", bg.stderr());
    assert!(
        super::run::processes_with(&format!("sleep {marker}")).is_empty(),
        "a drill's process survived"
    );
    // The drill stopped cleanly: journaled, no rollback without a yes.
    let journal = w.journal();
    assert!(
        journal
            .iter()
            .any(|r| r["type"] == "interrupted" && r["signal"] == "SIGTERM")
    );
    assert_eq!(w.lines("log"), vec!["started"]);
}

#[test]
fn it_refuses_to_start_on_an_invalid_runbook_yaml() {
    let w = every_minute("name: tick\nsteps:\n  - id: hello\n    shell: 'true'\n");
    std::fs::write(
        w.path().join("runbook.yaml"),
        "environments:\n  dev: {}\ndefault_env: dev\nschedules:\n  - name: tick\n    playbook: tick\n    cron: \"61 * * * *\"\n",
    )
    .expect("write");
    let out = w.run(&["scheduler"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(out.stderr.contains("runbook.yaml:7:"), "{}", out.stderr);
}
