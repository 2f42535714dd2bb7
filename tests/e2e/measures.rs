//! Measures (`measures:`): computed when the run ends, journaled as `measure` records, shown
//! in the summary and in `--output json`; a miss with `on_miss: fail` exits 1 after the run,
//! with nothing rolled back.

use runbook_tests::{Output, Workspace, of_type};

fn events(out: &Output) -> Vec<serde_json::Value> {
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn measure<'e>(events: &'e [serde_json::Value], name: &str) -> &'e serde_json::Value {
    of_type(events, "measure")
        .into_iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no measure {name} in {events:#?}"))
}

/// A drill whose snapshot age comes from a param, so a test chooses whether the RPO is met.
const DRILL: &str = r#"
name: drill
params:
  age: { type: integer, default: 3600 }
steps:
  - id: latest
    shell: { run: "echo {{ params.age }}", read_only: true }
    outputs:
      age_seconds: "{{ result.stdout | trim | int }}"
  - id: restore
    shell: "sleep 0.3; echo restored >> log"
    rollback: { shell: "echo undo-restore >> log" }
  - id: verify
    shell: "sleep 0.2; echo verified"
  - id: never
    when: false
    shell: "true"
measures:
  rto:
    description: restore started until verified
    from: restore.started
    to: verify.finished
    target: 30m
    on_miss: fail
  rpo:
    value: steps.latest.age_seconds
    target: 24h
    on_miss: fail
  skipped:
    from: never.started
    to: verify.finished
    target: 1h
finally:
  - id: cleanup
    shell: "echo cleanup >> log"
"#;

#[test]
fn measures_that_meet_their_targets_are_journaled_shown_and_the_run_succeeds() {
    let w = Workspace::new().playbook("drill", DRILL);
    let out = w.run(&["run", "drill", "--output", "json"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let events = events(&out);
    let rto = measure(&events, "rto");
    // From the restore's start to the verification's end: both sleeps at least.
    let value = rto["value_seconds"].as_f64().expect("a value");
    assert!((0.5..1800.0).contains(&value), "{rto}");
    assert_eq!(rto["target_seconds"], 1800.0);
    assert_eq!(rto["met"], true);
    assert_eq!(rto["measures"], "restore.started → verify.finished");
    assert_eq!(rto["description"], "restore started until verified");
    let rpo = measure(&events, "rpo");
    assert_eq!(
        (rpo["value_seconds"].as_f64(), &rpo["met"]),
        (Some(3600.0), &true.into())
    );
    // A step that never ran leaves its measure unmeasured; under `warn` that is no failure.
    let skipped = measure(&events, "skipped");
    assert_eq!(skipped["met"], false);
    assert!(skipped.get("value_seconds").is_none(), "{skipped}");
    assert_eq!(skipped["reason"], "not measured: `never` was skipped");
    // Computed once everything ran (the finally step too), just before the end.
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    let first = types.iter().position(|t| *t == "measure").expect("measures");
    let cleanup = events
        .iter()
        .position(|e| e["type"] == "step_finished" && e["step"] == "cleanup")
        .expect("cleanup ran");
    assert!(cleanup < first, "{types:?}");
    assert_eq!(types[types.len() - 1], "run_finished");
    assert_eq!(&types[types.len() - 4..types.len() - 1], &["measure"; 3]);
    // The same records are in the journal.
    let journal = w.journal();
    assert_eq!(of_type(&journal, "measure").len(), 3);
    assert_eq!(measure(&journal, "rpo")["value_seconds"], 3600.0);
    // And in the summary people read.
    assert!(
        out.stderr.contains("◎ measure rto:") && out.stderr.contains("(target 30m) met"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("MEASURE") && out.stderr.contains("not measured"),
        "{}",
        out.stderr
    );
    let verify = w.run(&["audit", "verify"]);
    assert_eq!(verify.code, 0, "{}", verify.transcript());
}

#[test]
fn a_missed_measure_with_on_miss_fail_exits_1_after_the_run_and_rolls_nothing_back() {
    let w = Workspace::new().playbook("drill", DRILL);
    // A snapshot 25 hours old: the RPO of 24h is missed.
    let out = w.run(&["run", "drill", "-p", "age=90000", "--output", "json"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    let events = events(&out);
    let rpo = measure(&events, "rpo");
    assert_eq!(
        (rpo["value_seconds"].as_f64(), &rpo["met"]),
        (Some(90000.0), &false.into())
    );
    assert_eq!(rpo["on_miss"], "fail");
    assert_eq!(measure(&events, "rto")["met"], true);
    let end = of_type(&events, "run_finished")[0];
    assert_eq!(
        (&end["status"], &end["exit_code"]),
        (&"measure_missed".into(), &1.into())
    );
    // Every step went as planned: nothing is undone, the finally step ran.
    assert!(of_type(&events, "rollback_started").is_empty(), "{events:#?}");
    assert_eq!(w.lines("log"), vec!["restored", "cleanup"]);
    let journal = w.journal();
    assert_eq!(of_type(&journal, "measure").len(), 3);
    assert_eq!(of_type(&journal, "run_finished")[0]["status"], "measure_missed");
    assert!(
        out.stderr.contains("MISSED its target 24h (on_miss: fail)") && out.stderr.contains("MEASURE MISSED"),
        "{}",
        out.stderr
    );
    let runs = w.run(&["runs"]);
    assert!(runs.stdout.contains("measure_missed"), "{}", runs.stdout);
    // `runbook rollback` treats it as the success of its steps that it is.
    let id = of_type(&events, "run_started")[0]["run"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let rollback = w.run(&["rollback", &id]);
    assert_eq!(rollback.code, 2, "{}", rollback.transcript());
    assert!(rollback.stderr.contains("nothing to roll back"), "{}", rollback.stderr);
}

#[test]
fn a_failed_run_keeps_its_status_and_its_measures_say_what_did_not_happen() {
    let pb = DRILL.replace("sleep 0.2; echo verified", "exit 4");
    let w = Workspace::new().playbook("drill", &pb);
    let out = w.run(&["run", "drill", "--output", "json"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    let events = events(&out);
    let rto = measure(&events, "rto");
    assert_eq!(rto["met"], false);
    assert_eq!(rto["reason"], "not measured: `verify` ended failed");
    // The run failed and rolled back, as it would have without measures.
    assert_eq!(of_type(&events, "run_finished")[0]["status"], "failed");
    assert_eq!(w.lines("log"), vec!["restored", "undo-restore", "cleanup"]);
}

#[test]
fn a_fan_out_is_measured_from_its_first_iteration_to_its_last() {
    let pb = r#"
name: fan
steps:
  - id: drain
    for_each: "[1, 2, 3]"
    max_parallel: 1
    shell: "sleep 0.2"
measures:
  drain-time:
    from: drain.started
    to: drain.finished
    target: 10m
"#;
    let w = Workspace::new().playbook("fan", pb);
    let out = w.run(&["run", "fan", "--output", "json"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let events = events(&out);
    let m = measure(&events, "drain-time");
    // Three iterations one after another: at least their three sleeps.
    let value = m["value_seconds"].as_f64().expect("a value");
    assert!(value >= 0.6, "{m}");
    assert_eq!(m["met"], true);
}

#[test]
fn validate_and_plan_show_the_measures() {
    let w = Workspace::new().playbook("drill", DRILL);
    let plan = w.run(&["plan", "drill"]);
    assert_eq!(plan.code, 0, "{}", plan.transcript());
    assert!(
        plan.stdout.contains("measures (when the run ends)")
            && plan
                .stdout
                .contains("rto: restore.started → verify.finished, target 30m (a miss fails the run)"),
        "{}",
        plan.stdout
    );
    let json = w.run(&["plan", "drill", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&json.stdout).expect("plan json");
    assert_eq!(plan["measures"][0]["name"], "rto");
    assert_eq!(plan["measures"][0]["measures"]["between"]["from"]["step"], "restore");
    assert_eq!(
        plan["measures"][1]["measures"]["value"]["expr"],
        "steps.latest.age_seconds"
    );
    // The measures are part of what runs: changing a target changes the plan's hash.
    let w2 = Workspace::new().playbook("drill", &DRILL.replace("target: 30m", "target: 20m"));
    let other = w2.run(&["plan", "drill", "--format", "json"]);
    let other: serde_json::Value = serde_json::from_str(&other.stdout).expect("plan json");
    assert_ne!(plan["hash"], other["hash"]);
    let show = w.run(&["show", "drill"]);
    assert!(
        show.stdout.contains("measures") && show.stdout.contains("on miss fail"),
        "{}",
        show.stdout
    );
}
