//! `runbook schedule list` and `runbook schedule run-due`, through the binary: next firings
//! across daylight-saving changes, due firings started once (also by concurrent calls),
//! missed firings recorded, overlap, gates that fail closed, and the trigger in the journal
//! and `runbook runs`.

use std::time::Duration;

use runbook_tests::{Background, Output, Workspace, of_type, run};
use serde_json::{Value, json};

const HELLO: &str = r#"name: hello
params:
  who: { default: world }
steps:
  - id: write
    shell: "echo hello {{ params.who }} >> out.txt"
    rollback: { shell: "true" }
  - id: risky
    risk: high
    shell: "echo risky >> out.txt"
    rollback: { shell: "true" }
"#;

/// Writes `started` to `log`, then waits for a `release` file the test creates.
const SLOW: &str = r#"name: slow
steps:
  - id: work
    shell: "echo started >> log; while [ ! -f release ]; do sleep 0.05; done; echo done >> log"
    timeout: 120s
    rollback: { shell: "true" }
"#;

fn records(w: &Workspace, schedule: &str) -> Vec<Value> {
    std::fs::read_to_string(w.path().join(format!(".runbook/schedules/{schedule}/firings.jsonl")))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON record ({e}): {l}")))
        .collect()
}

fn statuses(w: &Workspace, schedule: &str) -> Vec<(String, String)> {
    records(w, schedule)
        .iter()
        .map(|r| {
            (
                r["firing"].as_str().unwrap_or_default().to_string(),
                r["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn json_out(out: &Output) -> Value {
    assert_eq!(out.code, 0, "{}", out.transcript());
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", out.transcript()))
}

/// Waits (within a deadline) until `done` holds.
fn eventually(what: &str, done: impl Fn() -> bool) {
    runbook_tests::eventually(Duration::from_secs(30), format!("waiting for {what}"), done);
}

const LISTED: &str = r#"schedules:
  - name: berlin-drill
    playbook: hello
    cron: "30 2 * * *"
    timezone: Europe/Berlin
    approve: [risky]
    catchup: 2h
  - name: ny-check
    playbook: hello
    cron: "30 2 * * SUN"
    timezone: America/New_York
    params: { who: ny }
    overlap: queue
"#;

#[test]
fn list_json_is_exact_and_deterministic_with_from() {
    let w = Workspace::new().file("runbook.yaml", LISTED).playbook("hello", HELLO);
    let out = w.run(&["schedule", "list", "--from", "2027-03-27T12:00:00Z", "--format", "json"]);
    assert_eq!(
        json_out(&out),
        json!([
            {
                "name": "berlin-drill",
                "playbook": "hello",
                "env": "default",
                "cron": "30 2 * * *",
                "timezone": "Europe/Berlin",
                "overlap": "skip",
                "catchup": "2h",
                // 2027-03-28: 02:30 does not exist in Berlin; it fires at 03:00 CEST.
                "next": ["2027-03-28T03:00:00+02:00", "2027-03-29T02:30:00+02:00", "2027-03-30T02:30:00+02:00"],
                "next_utc": ["2027-03-28T01:00:00Z", "2027-03-29T00:30:00Z", "2027-03-30T00:30:00Z"],
                "last_run": null,
                "last_firing": null,
                "missed": []
            },
            {
                "name": "ny-check",
                "playbook": "hello",
                "env": "default",
                "cron": "30 2 * * SUN",
                "timezone": "America/New_York",
                "overlap": "queue",
                "catchup": "5m",
                "next": ["2027-03-28T02:30:00-04:00", "2027-04-04T02:30:00-04:00", "2027-04-11T02:30:00-04:00"],
                "next_utc": ["2027-03-28T06:30:00Z", "2027-04-04T06:30:00Z", "2027-04-11T06:30:00Z"],
                "last_run": null,
                "last_firing": null,
                "missed": []
            }
        ])
    );
    // The same again: nothing depends on the clock.
    let again = w.run(&["schedule", "list", "--from", "2027-03-27T12:00:00Z", "--format", "json"]);
    assert_eq!(again.stdout, out.stdout);
    let text = w.run(&["schedule", "list", "--from", "2027-03-27T12:00:00Z", "--next", "1"]);
    assert_eq!(text.code, 0, "{}", text.transcript());
    assert!(
        text.stdout
            .contains("berlin-drill  playbook hello · env default · cron \"30 2 * * *\" Europe/Berlin")
            && text
                .stdout
                .contains("next    2027-03-28T03:00:00+02:00  (2027-03-28T01:00:00Z)")
            && text.stdout.contains("never run"),
        "{}",
        text.stdout
    );
}

#[test]
fn list_follows_both_daylight_saving_changes_in_berlin_and_new_york() {
    let config = r#"schedules:
  - { name: berlin, playbook: hello, cron: "30 2 * * *", timezone: Europe/Berlin }
  - { name: ny-spring, playbook: hello, cron: "30 2 * * SUN", timezone: America/New_York }
  - { name: ny-fall, playbook: hello, cron: "30 1 * * SUN", timezone: America/New_York }
"#;
    let w = Workspace::new().file("runbook.yaml", config).playbook("hello", HELLO);
    let next = |from: &str, name: &str, n: &str| -> (Vec<Value>, Vec<Value>) {
        let out = json_out(&w.run(&["schedule", "list", "--from", from, "--next", n, "--format", "json"]));
        let s = out
            .as_array()
            .and_then(|a| a.iter().find(|s| s["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("no schedule {name} in {out}"));
        (
            s["next"].as_array().cloned().unwrap_or_default(),
            s["next_utc"].as_array().cloned().unwrap_or_default(),
        )
    };
    // Spring forward: a wall time that does not exist runs once, right after the gap.
    let (local, utc) = next("2027-03-27T12:00:00Z", "berlin", "2");
    assert_eq!(
        local,
        [json!("2027-03-28T03:00:00+02:00"), json!("2027-03-29T02:30:00+02:00")]
    );
    assert_eq!(utc[0], json!("2027-03-28T01:00:00Z"));
    let (local, utc) = next("2027-03-13T12:00:00Z", "ny-spring", "2");
    assert_eq!(
        local,
        [json!("2027-03-14T03:00:00-04:00"), json!("2027-03-21T02:30:00-04:00")]
    );
    assert_eq!(utc[0], json!("2027-03-14T07:00:00Z"));
    // Fall back: a wall time that happens twice runs once, at its first occurrence.
    let (local, utc) = next("2027-10-30T12:00:00Z", "berlin", "2");
    assert_eq!(
        local,
        [json!("2027-10-31T02:30:00+02:00"), json!("2027-11-01T02:30:00+01:00")]
    );
    assert_eq!(utc, [json!("2027-10-31T00:30:00Z"), json!("2027-11-01T01:30:00Z")]);
    let (local, utc) = next("2027-11-06T12:00:00Z", "ny-fall", "2");
    assert_eq!(
        local,
        [json!("2027-11-07T01:30:00-04:00"), json!("2027-11-14T01:30:00-05:00")]
    );
    assert_eq!(utc, [json!("2027-11-07T05:30:00Z"), json!("2027-11-14T06:30:00Z")]);
}

const NIGHTLY: &str = r#"schedules:
  - name: nightly
    playbook: hello
    cron: "30 2 * * *"
    timezone: Europe/Berlin
    params: { who: drill }
    approve: [risky]
"#;

#[test]
fn run_due_starts_the_due_firing_once_and_runs_shows_its_trigger() {
    let w = Workspace::new().file("runbook.yaml", NIGHTLY).playbook("hello", HELLO);
    // Before the firing nothing is due; the first call begins the schedule's history with
    // the firing before (a day old: missed).
    let early = w.run(&["schedule", "run-due", "--now", "2027-03-28T00:59:00Z"]);
    assert_eq!(early.code, 0, "{}", early.transcript());
    assert_eq!(early.stdout, "nightly: firing 2027-03-27T02:30:00+01:00 missed\n");
    assert!(w.lines("out.txt").is_empty());

    // 03:00 CEST (the skipped 02:30), a minute late.
    let out = w.run(&["schedule", "run-due", "--now", "2027-03-28T01:01:00Z"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert_eq!(w.lines("out.txt"), ["hello drill", "risky"]);
    assert!(
        out.stdout.contains("nightly: firing 2027-03-28T03:00:00+02:00 started")
            && out
                .stdout
                .contains("nightly: firing 2027-03-28T03:00:00+02:00 succeeded (run "),
        "{}",
        out.transcript()
    );
    assert!(
        out.stderr.contains("[nightly] "),
        "the run's progress is passed on:\n{}",
        out.stderr
    );
    // The firing was claimed before the run, then its outcome recorded.
    let recs: Vec<Value> = records(&w, "nightly").into_iter().skip(1).collect();
    let status: Vec<&str> = recs.iter().map(|r| r["status"].as_str().unwrap_or_default()).collect();
    assert_eq!(status, ["started", "running", "succeeded"]);
    assert!(recs.iter().all(|r| r["firing"] == "2027-03-28T01:00:00Z"), "{recs:?}");
    assert_eq!(recs[0]["local"], "2027-03-28T03:00:00+02:00");
    let run_id = recs[2]["run"].as_str().expect("the run id").to_string();
    assert_eq!(recs[2]["exit_code"], 0);

    // The journal knows what started the run.
    let journal = w.journal();
    let started = of_type(&journal, "run_started");
    assert_eq!(started[0]["trigger"], "schedule:nightly@2027-03-28T01:00:00Z");
    assert_eq!(started[0]["run"], run_id.as_str());
    assert_eq!(started[0]["params"]["who"], "drill");
    assert_eq!(run(w.path(), &["audit", "verify"]).code, 0);
    let runs = w.run(&["runs"]);
    assert!(
        runs.stdout.contains("TRIGGER") && runs.stdout.contains("schedule:nightly@2027-03-28T01:00:00Z"),
        "{}",
        runs.stdout
    );
    let runs = json_out(&w.run(&["runs", "--format", "json"]));
    assert_eq!(runs[0]["trigger"], "schedule:nightly@2027-03-28T01:00:00Z");

    // A second call for the same firing starts nothing.
    let again = w.run(&["schedule", "run-due", "--now", "2027-03-28T01:03:00Z"]);
    assert_eq!(again.code, 0, "{}", again.transcript());
    assert!(again.stdout.is_empty(), "{}", again.transcript());
    assert_eq!(w.lines("out.txt").len(), 2);
    assert_eq!(records(&w, "nightly").len(), 4);

    // `list` shows the last run.
    let list = json_out(&w.run(&["schedule", "list", "--from", "2027-03-28T01:05:00Z", "--format", "json"]));
    assert_eq!(
        list[0]["last_run"],
        json!({ "run": run_id, "status": "succeeded", "started": list[0]["last_run"]["started"], "firing": "2027-03-28T01:00:00Z" })
    );
    assert_eq!(list[0]["last_firing"]["status"], "succeeded");
    assert_eq!(list[0]["missed"], json!([]));
}

#[test]
fn a_firing_past_catchup_is_recorded_missed_and_never_run() {
    let w = Workspace::new().file("runbook.yaml", NIGHTLY).playbook("hello", HELLO);
    // Ten minutes late, with the default catchup of 5m.
    let out = w.run(&["schedule", "run-due", "--now", "2027-03-29T00:40:00Z"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(
        out.stdout.contains("nightly: firing 2027-03-29T02:30:00+02:00 missed"),
        "{}",
        out.transcript()
    );
    assert!(w.lines("out.txt").is_empty(), "a missed firing is not run");
    let recs = records(&w, "nightly");
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["status"], "missed");
    assert!(
        recs[0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("past catchup 5m"),
        "{recs:?}"
    );

    // Two nights later, on time: the night in between was missed, the latest runs.
    let out = w.run(&["schedule", "run-due", "--now", "2027-03-31T00:31:00Z"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert_eq!(
        statuses(&w, "nightly"),
        [
            ("2027-03-29T00:30:00Z".into(), "missed".into()),
            ("2027-03-30T00:30:00Z".into(), "missed".into()),
            ("2027-03-31T00:30:00Z".into(), "started".into()),
            ("2027-03-31T00:30:00Z".into(), "running".into()),
            ("2027-03-31T00:30:00Z".into(), "succeeded".into()),
        ]
    );
    assert_eq!(w.lines("out.txt"), ["hello drill", "risky"], "one run, not a replay");
    // Later, `list` names what was missed since the last run: nothing; a week on, the
    // firings run-due has not seen yet.
    let list = json_out(&w.run(&["schedule", "list", "--from", "2027-03-31T12:00:00Z", "--format", "json"]));
    assert_eq!(list[0]["missed"], json!([]));
    let list = json_out(&w.run(&["schedule", "list", "--from", "2027-04-02T12:00:00Z", "--format", "json"]));
    assert_eq!(
        list[0]["missed"],
        json!(["2027-04-01T02:30:00+02:00", "2027-04-02T02:30:00+02:00"])
    );
}

#[test]
fn a_gate_not_pre_approved_fails_closed_and_the_firing_record_says_so() {
    let config = "schedules:\n  - { name: unapproved, playbook: hello, cron: \"0 * * * *\" }\n";
    let w = Workspace::new().file("runbook.yaml", config).playbook("hello", HELLO);
    let out = w.run(&["schedule", "run-due", "--now", "2027-01-01T10:00:10Z"]);
    assert_eq!(out.code, 1, "a refused run fails the call:\n{}", out.transcript());
    assert_eq!(w.lines("out.txt"), ["hello world"], "the gated step did not run");
    let recs = records(&w, "unapproved");
    let last = recs.last().expect("an outcome");
    assert_eq!(last["status"], "refused");
    assert_eq!(last["exit_code"], 4);
    let reason = last["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("step `risky`") && reason.contains("failed closed"),
        "{reason}"
    );
    assert!(
        out.stdout.contains("unapproved: firing 2027-01-01T10:00:00Z refused"),
        "{}",
        out.transcript()
    );
    let gates = of_type(&w.journal(), "gate").into_iter().cloned().collect::<Vec<_>>();
    assert_eq!(gates[0]["approved"], false);
    assert_eq!(gates[0]["how"], "failed closed");
}

#[test]
fn concurrent_calls_start_a_firing_once() {
    let config = "schedules:\n  - { name: every, playbook: hello, cron: \"* * * * *\", approve: [risky] }\n";
    let w = Workspace::new().file("runbook.yaml", config).playbook("hello", HELLO);
    let calls: Vec<Background> = (0..4)
        .map(|_| {
            w.runbook(["schedule", "run-due", "--now", "2027-01-01T10:00:30Z"])
                .spawn()
        })
        .collect();
    for mut c in calls {
        assert_eq!(c.finish(), 0, "{}", c.stderr());
    }
    assert_eq!(w.lines("out.txt"), ["hello world", "risky"], "one run");
    let started = statuses(&w, "every")
        .into_iter()
        .filter(|(_, s)| s == "started")
        .count();
    assert_eq!(started, 1);
    let runs = json_out(&w.run(&["runs", "--format", "json"]));
    assert_eq!(runs.as_array().map(Vec::len), Some(1));
}

fn slow_workspace(overlap: &str) -> Workspace {
    let config = format!(
        "schedules:\n  - {{ name: drill, playbook: slow, cron: \"0 * * * *\", overlap: {overlap}, catchup: 10m }}\n"
    );
    Workspace::new().file("runbook.yaml", &config).playbook("slow", SLOW)
}

fn release(w: &Workspace) {
    std::fs::write(w.path().join("release"), "").expect("release");
}

fn start_first(w: &Workspace) -> Background {
    let mut first = w
        .runbook(["schedule", "run-due", "--now", "2027-01-01T10:00:30Z"])
        .spawn();
    first.wait_for(|l| l.contains("drill: firing 2027-01-01T10:00:00Z started"));
    eventually("the first run to start", || w.lines("log") == ["started"]);
    first
}

#[test]
fn overlap_skip_records_the_next_firing_skipped_while_the_previous_run_holds_the_lock() {
    let w = slow_workspace("skip");
    let mut first = start_first(&w);
    let second = w.run(&["schedule", "run-due", "--now", "2027-01-01T11:00:30Z"]);
    assert_eq!(second.code, 0, "a skip is no failure:\n{}", second.transcript());
    assert!(
        second.stdout.contains("drill: firing 2027-01-01T11:00:00Z skipped"),
        "{}",
        second.transcript()
    );
    let skipped = records(&w, "drill")
        .into_iter()
        .find(|r| r["status"] == "skipped")
        .expect("a skipped record");
    assert_eq!(skipped["firing"], "2027-01-01T11:00:00Z");
    assert!(
        skipped["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("is held by run"),
        "{skipped}"
    );
    release(&w);
    assert_eq!(first.finish(), 0, "{}", first.stderr());
    assert_eq!(w.lines("log"), ["started", "done"], "only the first firing ran");
    let last = statuses(&w, "drill");
    assert!(
        last.contains(&("2027-01-01T10:00:00Z".into(), "succeeded".into())),
        "{last:?}"
    );
}

#[test]
fn overlap_queue_waits_for_the_previous_run_then_starts() {
    let w = slow_workspace("queue");
    let mut first = start_first(&w);
    let mut second = w
        .runbook(["schedule", "run-due", "--now", "2027-01-01T11:00:30Z"])
        .spawn();
    second.wait_for(|l| l.contains("drill: firing 2027-01-01T11:00:00Z started"));
    release(&w);
    assert_eq!(first.finish(), 0, "{}", first.stderr());
    assert_eq!(second.finish(), 0, "{}", second.stderr());
    assert_eq!(w.lines("log"), ["started", "done", "started", "done"]);
    let s = statuses(&w, "drill");
    assert!(
        s.contains(&("2027-01-01T11:00:00Z".into(), "succeeded".into())),
        "{s:?}"
    );
}

#[test]
fn overlap_cancel_previous_stops_the_previous_run_then_starts() {
    let w = slow_workspace("cancel-previous");
    let mut first = start_first(&w);
    let mut second = w
        .runbook(["schedule", "run-due", "--now", "2027-01-01T11:00:30Z"])
        .spawn();
    // The first run is stopped (SIGTERM: journaled, exit 143) and the second starts.
    eventually("the second run to start", || w.lines("log") == ["started", "started"]);
    assert_eq!(first.finish(), 1, "its run was terminated:\n{}", first.stderr());
    release(&w);
    assert_eq!(second.finish(), 0, "{}", second.stderr());
    let s = statuses(&w, "drill");
    assert!(
        s.contains(&("2027-01-01T10:00:00Z".into(), "terminated".into())),
        "{s:?}"
    );
    assert!(
        s.contains(&("2027-01-01T11:00:00Z".into(), "succeeded".into())),
        "{s:?}"
    );
    let runs = json_out(&w.run(&["runs", "--format", "json"]));
    let by_trigger = |t: &str| {
        runs.as_array()
            .and_then(|a| a.iter().find(|r| r["trigger"] == t))
            .map(|r| r["status"].clone())
    };
    assert_eq!(
        by_trigger("schedule:drill@2027-01-01T10:00:00Z"),
        Some(json!("terminated"))
    );
    assert_eq!(
        by_trigger("schedule:drill@2027-01-01T11:00:00Z"),
        Some(json!("succeeded"))
    );
}

#[test]
fn an_invalid_schedule_is_reported_and_the_valid_ones_still_run() {
    let config = "schedules:\n  - { name: good, playbook: hello, cron: \"0 * * * *\", approve: [risky] }\n  - { name: bad, playbook: hello, cron: \"0 * * *\" }\n";
    let w = Workspace::new().file("runbook.yaml", config).playbook("hello", HELLO);
    let out = w.run(&["schedule", "run-due", "--now", "2027-01-01T10:00:10Z"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(out.stderr.contains("error: runbook.yaml:3:"), "{}", out.stderr);
    assert_eq!(w.lines("out.txt"), ["hello world", "risky"]);
    let list = w.run(&["schedule", "list"]);
    assert_eq!(list.code, 2, "{}", list.transcript());
}
