//! What the playbook language means at run time, through the binary: `when`, `on_decline`,
//! step and run-level `on_failure`, `finally`, `manual`, `exec`, approvals by other people
//! and `for_each`. Each test asserts on what ran (the files the steps write), the exit code,
//! the `--output json` events and the journal.
//!
//! Where steps must overlap or follow one another, they wait for each other through files
//! (with a deadline, in the shell), or for an event in the run's journal, never for time to
//! pass.

use std::collections::BTreeSet;

use runbook_tests::{Background, Output, Workspace, of_type};
use serde_json::Value;

/// Runs `runbook ARGS --output json` as `dave` (no terminal).
fn run(w: &Workspace, args: &[&str]) -> Output {
    w.runbook(args).args(["--output", "json"]).user("dave").run()
}

fn events(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The steps of `step_finished` events (or of any `kind`), in order.
fn steps_of(evs: &[Value], kind: &str) -> Vec<String> {
    of_type(evs, kind)
        .iter()
        .filter_map(|e| e["step"].as_str().map(String::from))
        .collect()
}

/// How `step` finished, from its `step_finished` event.
fn status(evs: &[Value], step: &str) -> Option<String> {
    of_type(evs, "step_finished")
        .iter()
        .find(|e| e["step"] == step)
        .and_then(|e| e["status"].as_str().map(String::from))
}

fn run_finished(evs: &[Value]) -> Value {
    let last = evs.last().cloned().unwrap_or_default();
    assert_eq!(last["type"], "run_finished", "the last event ends the run: {last}");
    last
}

/// The `log` file the steps append to, one line each.
fn log(w: &Workspace) -> Vec<String> {
    w.lines("log")
}

fn set(lines: &[String]) -> BTreeSet<&str> {
    lines.iter().map(String::as_str).collect()
}

/// The run's journal (`runbook audit export`), after checking its hash chain.
fn journal(w: &Workspace, run_id: &str) -> Vec<Value> {
    w.runbook(["audit", "verify", run_id]).success().run();
    let export = w.runbook(["audit", "export", run_id]).success().run();
    serde_json::from_str(&export.stdout).expect("the journal as JSON")
}

fn run_id(evs: &[Value]) -> String {
    evs.first()
        .filter(|e| e["type"] == "run_started")
        .and_then(|e| e["run"].as_str())
        .expect("run_started first")
        .to_string()
}

/// A shell loop that waits until `cond` holds, for at most about ten seconds (then the step
/// fails with exit 99, saying what it waited for).
fn wait_until(cond: &str) -> String {
    format!(
        "i=0; until {cond}; do i=$((i+1)); if [ $i -ge 1000 ]; then echo 'gave up waiting' >&2; exit 99; fi; sleep 0.01; done"
    )
}

/// Indents a shell script for a `shell: |` block at `spaces`.
fn block(script: &str, spaces: usize) -> String {
    script.lines().map(|l| format!("{}{l}\n", " ".repeat(spaces))).collect()
}

/// Where a step finds its run's journal (commands run in the workspace root, with
/// RUNBOOK_RUN_ID set).
const JOURNAL: &str = r#"".runbook/runs/$RUNBOOK_RUN_ID/journal.jsonl""#;

// ---------------------------------------------------------------------------------------
// when

const WHEN: &str = r#"name: cond
params:
  flag: { type: boolean, default: false }
  target: { type: string, default: dev }
steps:
  - id: mode
    needs: []
    shell: { run: "cat mode.txt", read_only: true }
    outputs: { go: "{{ result.stdout | trim }}" }
  - id: flagged
    needs: []
    when: "params.flag"
    shell: "echo flagged >> log"
  - id: after-flagged
    needs: [flagged]
    shell: "echo after-flagged >> log"
  - id: not-dev
    needs: []
    when: "params.target != 'dev'"
    shell: "echo not-dev >> log"
  - id: from-output
    needs: [mode]
    when: "steps.mode.go == 'yes'"
    shell: "echo from-output >> log"
  - id: after-output
    needs: [from-output]
    shell: "echo after-output >> log"
"#;

#[test]
fn when_false_skips_the_step_and_its_dependents_still_run() {
    let w = Workspace::new().playbook("cond", WHEN).file("mode.txt", "no\n");
    let out = run(&w, &["run", "cond"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert_eq!(set(&log(&w)), BTreeSet::from(["after-flagged", "after-output"]));
    let evs = events(&out.stdout);
    assert_eq!(run_finished(&evs)["status"], "succeeded");
    let skipped: BTreeSet<String> = steps_of(&evs, "step_skipped").into_iter().collect();
    assert_eq!(
        skipped,
        BTreeSet::from(["flagged".into(), "not-dev".into(), "from-output".into()])
    );
    let reason = |step: &str| {
        of_type(&evs, "step_skipped")
            .iter()
            .find(|e| e["step"] == step)
            .map(|e| e["reason"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    };
    assert_eq!(reason("flagged"), "`when: params.flag` is false");
    assert_eq!(reason("from-output"), "`when: steps.mode.go == 'yes'` is false");
    // A skipped step never starts; its dependents do.
    let started = steps_of(&evs, "step_started");
    assert!(!started.iter().any(|s| skipped.contains(s)), "{started:?}");
    assert_eq!(status(&evs, "after-flagged").as_deref(), Some("ok"));
    assert_eq!(status(&evs, "after-output").as_deref(), Some("ok"));
    // The journal says the same.
    let records = journal(&w, &run_id(&evs));
    let journaled: BTreeSet<String> = steps_of(&records, "step_skipped").into_iter().collect();
    assert_eq!(journaled, skipped);
}

#[test]
fn when_true_runs_the_step() {
    let w = Workspace::new().playbook("cond", WHEN).file("mode.txt", "yes\n");
    let out = run(&w, &["run", "cond", "-p", "flag=true", "-p", "target=prod"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert_eq!(
        set(&log(&w)),
        BTreeSet::from(["flagged", "after-flagged", "not-dev", "from-output", "after-output"])
    );
    let evs = events(&out.stdout);
    assert!(of_type(&evs, "step_skipped").is_empty(), "{}", out.stdout);
    for step in ["flagged", "not-dev", "from-output"] {
        assert_eq!(status(&evs, step).as_deref(), Some("ok"), "{step}");
    }
    // A dependent starts only after the step it needs finished.
    let order: Vec<(String, String)> = evs
        .iter()
        .filter_map(|e| Some((e["type"].as_str()?.to_string(), e["step"].as_str()?.to_string())))
        .collect();
    let at = |kind: &str, step: &str| {
        order
            .iter()
            .position(|(k, s)| k == kind && s == step)
            .unwrap_or_else(|| panic!("no {kind} of {step}"))
    };
    assert!(at("step_finished", "from-output") < at("step_started", "after-output"));
    assert!(at("step_finished", "mode") < at("step_started", "from-output"));
}

// ---------------------------------------------------------------------------------------
// on_decline

const DECLINE: &str = r#"name: optional
steps:
  - id: first
    shell: "echo first >> log"
    rollback: { shell: "echo undo-first >> log" }
  - id: extra
    confirm: "Also warm the caches?"
    on_decline: skip
    shell: "echo extra >> log"
    rollback: { shell: "echo undo-extra >> log" }
  - id: after
    shell: "echo after >> log"
"#;

#[test]
fn on_decline_skip_a_no_at_the_terminal_skips_the_step_and_dependents_run() {
    use expectrl::Expect;
    let w = Workspace::new().playbook("optional", DECLINE);
    let mut s = w.runbook(["run", "optional"]).user("dave").terminal();
    s.expect("Also warm the caches?").expect("the question is shown");
    s.send("n").expect("answer");
    s.expect(expectrl::Eof).expect("the run ends");
    assert_eq!(
        runbook_tests::exit_code(&s),
        0,
        "a declined optional step does not fail the run"
    );
    assert_eq!(log(&w), ["first", "after"], "no rollback: nothing failed");

    let runs = w.run(&["runs", "--format", "json"]);
    let runs: Vec<Value> = serde_json::from_str(&runs.stdout).expect("runs");
    let records = journal(&w, runs[0]["run"].as_str().unwrap_or_default());
    let gate = of_type(&records, "gate")[0].clone();
    assert_eq!(
        (gate["step"].as_str(), gate["approved"].as_bool(), gate["how"].as_str()),
        (Some("extra"), Some(false), Some("terminal"))
    );
    let skip = of_type(&records, "step_skipped")[0].clone();
    assert_eq!(skip["step"], "extra");
    assert_eq!(skip["reason"], "declined at its gate (on_decline: skip)");
    assert!(of_type(&records, "rollback_started").is_empty());
    assert_eq!(run_finished(&records)["status"], "succeeded");
}

#[test]
fn on_decline_skip_a_gate_that_fails_closed_skips_the_step_and_dependents_run() {
    let w = Workspace::new().playbook("optional", DECLINE);
    let out = run(&w, &["run", "optional", "--non-interactive"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert_eq!(log(&w), ["first", "after"]);
    let evs = events(&out.stdout);
    let gate = of_type(&evs, "gate")[0].clone();
    assert_eq!(
        (gate["approved"].as_bool(), gate["how"].as_str()),
        (Some(false), Some("failed closed"))
    );
    assert_eq!(steps_of(&evs, "step_skipped"), ["extra"]);
    assert_eq!(status(&evs, "after").as_deref(), Some("ok"));
    assert_eq!(run_finished(&evs)["status"], "succeeded");
}

#[test]
fn a_declined_gate_by_default_ends_the_run_with_exit_4_and_undoes_nothing() {
    let w = Workspace::new().playbook("optional", &DECLINE.replace("    on_decline: skip\n", ""));
    let out = run(&w, &["run", "optional", "--non-interactive"]);
    assert_eq!(out.code, 4, "{}", out.transcript());
    assert!(out.stderr.contains("--approve extra"), "{}", out.stderr);
    // What finished stays; nothing after the gate runs.
    assert_eq!(log(&w), ["first"]);
    let evs = events(&out.stdout);
    assert_eq!(status(&evs, "extra").as_deref(), Some("declined"));
    assert!(status(&evs, "after").is_none(), "{}", out.stdout);
    assert!(!steps_of(&evs, "step_started").contains(&"after".to_string()));
    assert!(of_type(&evs, "rollback_started").is_empty(), "{}", out.stdout);
    let end = run_finished(&evs);
    assert_eq!(
        (end["status"].as_str(), end["exit_code"].as_i64()),
        (Some("refused"), Some(4))
    );
    let records = journal(&w, &run_id(&evs));
    assert_eq!(run_finished(&records)["status"], "refused");
    assert!(of_type(&records, "rollback_started").is_empty());
}

// ---------------------------------------------------------------------------------------
// step on_failure

/// `a` → {`flaky` → `dependent` → `transitive`, `other` → `other-next`}; `other` ends only
/// once the journal holds `flaky`'s failure, so `other-next` starts after it was seen.
fn branches(on_failure: &str) -> String {
    let flaky_failed = wait_until(&format!(
        r#"grep -F '"status":"failed"' {JOURNAL} | grep -qF '"step":"flaky"'"#
    ));
    format!(
        r#"name: branches
steps:
  - id: a
    shell: "echo a >> log"
    rollback: {{ shell: "echo undo-a >> log" }}
  - id: flaky
    needs: [a]
    on_failure: {on_failure}
    shell: "echo flaky >> log; exit 3"
    rollback: {{ shell: "echo undo-flaky >> log" }}
  - id: dependent
    needs: [flaky]
    shell: "echo dependent >> log"
  - id: transitive
    needs: [dependent]
    shell: "echo transitive >> log"
  - id: other
    needs: [a]
    timeout: 30s
    shell: |
{}      echo other >> log
    rollback: {{ shell: "echo undo-other >> log" }}
  - id: other-next
    needs: [other]
    shell: "echo other-next >> log"
on_failure:
  - id: page
    shell: "echo page >> log"
finally:
  - id: cleanup
    shell: "echo cleanup >> log"
"#,
        block(&flaky_failed, 6)
    )
}

#[test]
fn on_failure_continue_records_the_failure_skips_dependents_and_other_branches_go_on() {
    let w = Workspace::new().playbook("branches", &branches("continue"));
    let out = run(&w, &["run", "branches"]);
    // docs/running.md: the run ends failed (exit 1) without rollback; on_failure steps run.
    assert_eq!(out.code, 1, "{}", out.transcript());
    let lines = log(&w);
    assert_eq!(
        set(&lines),
        BTreeSet::from(["a", "flaky", "other", "other-next", "page", "cleanup"]),
        "no rollback, no dependent of the failed step"
    );
    assert_eq!(&lines[lines.len() - 2..], ["page", "cleanup"]);
    let evs = events(&out.stdout);
    let failed = of_type(&evs, "step_finished")
        .into_iter()
        .find(|e| e["step"] == "flaky")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (failed["status"].as_str(), failed["exit_code"].as_i64()),
        (Some("failed"), Some(3))
    );
    assert_eq!(steps_of(&evs, "step_skipped"), ["dependent", "transitive"]);
    for e in of_type(&evs, "step_skipped") {
        assert_eq!(e["reason"], "a step it needs failed");
    }
    assert!(of_type(&evs, "rollback_started").is_empty(), "{}", out.stdout);
    // The other branch went on after the failure was recorded.
    let at = |kind: &str, step: &str| {
        evs.iter()
            .position(|e| e["type"] == kind && e["step"] == step)
            .unwrap_or_else(|| panic!("no {kind} of {step}"))
    };
    assert!(at("step_finished", "flaky") < at("step_started", "other-next"));
    assert_eq!(status(&evs, "other-next").as_deref(), Some("ok"));
    let end = run_finished(&evs);
    assert_eq!(
        (end["status"].as_str(), end["exit_code"].as_i64()),
        (Some("failed"), Some(1))
    );
    let records = journal(&w, &run_id(&evs));
    assert_eq!(steps_of(&records, "step_skipped"), ["dependent", "transitive"]);
    assert_eq!(run_finished(&records)["status"], "failed");
}

#[test]
fn on_failure_abort_stops_starting_steps_and_undoes_nothing() {
    let w = Workspace::new().playbook("branches", &branches("abort"));
    let out = run(&w, &["run", "branches"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    let lines = log(&w);
    // `other` was running when `flaky` failed: it finishes; `other-next` never starts.
    assert_eq!(
        set(&lines),
        BTreeSet::from(["a", "flaky", "other", "page", "cleanup"]),
        "no rollback, nothing new started"
    );
    assert_eq!(&lines[lines.len() - 2..], ["page", "cleanup"]);
    let evs = events(&out.stdout);
    assert_eq!(status(&evs, "flaky").as_deref(), Some("failed"));
    let started = steps_of(&evs, "step_started");
    for never in ["dependent", "transitive", "other-next"] {
        assert!(!started.contains(&never.to_string()), "{never} started: {started:?}");
    }
    assert!(of_type(&evs, "rollback_started").is_empty(), "{}", out.stdout);
    assert_eq!(run_finished(&evs)["status"], "failed");
    let records = journal(&w, &run_id(&evs));
    assert!(of_type(&records, "rollback_started").is_empty());
}

// ---------------------------------------------------------------------------------------
// run-level on_failure and finally

const HOOKS: &str = r#"name: hooks
params:
  outcome: { type: enum, values: [succeed, fail, refuse], default: succeed }
steps:
  - id: first
    shell: "echo first >> log"
    rollback: { shell: "echo undo-first >> log" }
  - id: gated
    when: "params.outcome == 'refuse'"
    confirm: "Go on?"
    shell: "echo gated >> log"
  - id: work
    shell: "echo work >> log; test {{ params.outcome }} != fail"
    rollback: { shell: "echo undo-work >> log" }
on_failure:
  - id: page
    shell: "echo page >> log"
finally:
  - id: cleanup
    shell: "echo cleanup >> log"
  - id: report
    shell: "echo report >> log"
"#;

#[test]
fn on_failure_steps_follow_a_failed_runs_rollback_and_finally_follows_every_run() {
    let cases: &[(&str, i32, &str, &[&str])] = &[
        ("succeed", 0, "succeeded", &["first", "work", "cleanup", "report"]),
        (
            "fail",
            1,
            "failed",
            &["first", "work", "undo-work", "undo-first", "page", "cleanup", "report"],
        ),
        ("refuse", 4, "refused", &["first", "cleanup", "report"]),
    ];
    for (outcome, code, status_text, expected) in cases {
        let w = Workspace::new().playbook("hooks", HOOKS);
        let out = run(
            &w,
            &["run", "hooks", "-p", &format!("outcome={outcome}"), "--non-interactive"],
        );
        assert_eq!(out.code, *code, "{outcome}: {}", out.transcript());
        assert_eq!(log(&w), *expected, "{outcome}");
        let evs = events(&out.stdout);
        let end = run_finished(&evs);
        assert_eq!(end["status"], *status_text, "{outcome}");
        // The hooks are steps of the run: journaled, after every rollback, before the end.
        let pos = |step: &str| {
            evs.iter()
                .position(|e| e["type"] == "step_finished" && e["step"] == step)
        };
        let last_rollback = evs.iter().rposition(|e| e["type"] == "rollback_finished");
        for hook in ["page", "cleanup", "report"] {
            let ran = expected.contains(&hook);
            assert_eq!(pos(hook).is_some(), ran, "{outcome}: {hook}");
            if let (Some(p), Some(r)) = (pos(hook), last_rollback) {
                assert!(p > r, "{outcome}: {hook} after the rollback");
            }
        }
        let records = journal(&w, &run_id(&evs));
        let journaled = steps_of(&records, "step_finished");
        assert!(
            journaled.ends_with(&["cleanup".to_string(), "report".to_string()]),
            "{journaled:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// manual and exec

const MANUAL: &str = r#"name: swap
steps:
  - id: prep
    shell: "echo prep >> log"
    rollback: { shell: "echo undo-prep >> log" }
  - id: swap-disk
    manual: "Swap the failed disk in rack 4, slot 2"
    outputs: { how: "{{ result.how }}" }
  - id: after
    shell: "echo after >> log"
"#;

#[test]
fn manual_without_a_terminal_fails_closed_naming_input_done() {
    let w = Workspace::new().playbook("swap", MANUAL);
    let out = run(&w, &["run", "swap"]);
    assert_eq!(out.code, 4, "{}", out.transcript());
    assert!(out.stderr.contains("--input swap-disk=done"), "{}", out.stderr);
    assert_eq!(log(&w), ["prep"], "nothing after it, nothing undone");
    let evs = events(&out.stdout);
    assert_eq!(status(&evs, "swap-disk").as_deref(), Some("declined"));
    assert!(of_type(&evs, "rollback_started").is_empty());
    assert_eq!(run_finished(&evs)["status"], "refused");
}

#[test]
fn manual_with_input_done_proceeds() {
    let w = Workspace::new().playbook("swap", MANUAL);
    let out = run(&w, &["run", "swap", "--input", "swap-disk=done"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert_eq!(log(&w), ["prep", "after"]);
    let evs = events(&out.stdout);
    let done = of_type(&evs, "step_finished")
        .into_iter()
        .find(|e| e["step"] == "swap-disk")
        .cloned()
        .unwrap_or_default();
    assert_eq!(done["status"], "ok");
    assert_eq!(done["outputs"]["how"], "--input");
    let records = journal(&w, &run_id(&evs));
    assert!(
        records
            .iter()
            .any(|r| r["type"] == "step_finished" && r["step"] == "swap-disk" && r["status"] == "ok")
    );

    // Anything but `done` is not done.
    let w = Workspace::new().playbook("swap", MANUAL);
    let out = run(&w, &["run", "swap", "--input", "swap-disk=later"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(out.stderr.contains("a manual step takes `done`"), "{}", out.stderr);
    assert_eq!(log(&w), ["prep", "undo-prep"]);
}

#[test]
fn exec_passes_each_argument_as_it_is_without_a_shell() {
    let w = Workspace::new().playbook(
        "args",
        r#"name: args
params:
  name: {}
steps:
  - id: touch
    exec: [touch, "{{ params.name }}"]
  - id: echo
    exec: { argv: [printf, "%s|", "{{ params.name }}", two], read_only: true }
    outputs: { said: "{{ result.stdout }}" }
"#,
    );
    let value = "a b; touch pwned $(touch pwned2) 'q'";
    let out = run(&w, &["run", "args", "-p", &format!("name={value}")]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    // One file, named exactly the value: one argument, nothing run by a shell.
    assert!(w.path().join(value).is_file(), "no file named {value:?}");
    assert!(!w.path().join("pwned").exists() && !w.path().join("pwned2").exists());
    let evs = events(&out.stdout);
    let echo = of_type(&evs, "step_finished")
        .into_iter()
        .find(|e| e["step"] == "echo")
        .cloned()
        .unwrap_or_default();
    assert_eq!(echo["outputs"]["said"], format!("{value}|two|"));
}

#[test]
fn exec_expect_exit_says_which_exit_codes_succeed() {
    let w = Workspace::new().playbook(
        "codes",
        r#"name: codes
steps:
  - id: tolerant
    exec: { argv: ["false"], expect_exit: [1], read_only: true }
  - id: noted
    exec: [touch, tolerant-passed]
  - id: strict
    exec: ["false"]
  - id: never
    exec: [touch, never-ran]
"#,
    );
    let out = run(&w, &["run", "codes"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(w.path().join("tolerant-passed").exists());
    assert!(!w.path().join("never-ran").exists());
    let evs = events(&out.stdout);
    let finished = |step: &str| {
        of_type(&evs, "step_finished")
            .into_iter()
            .find(|e| e["step"] == step)
            .cloned()
            .unwrap_or_default()
    };
    let tolerant = finished("tolerant");
    assert_eq!(
        (tolerant["status"].as_str(), tolerant["exit_code"].as_i64()),
        (Some("ok"), Some(1))
    );
    let strict = finished("strict");
    assert_eq!(
        (strict["status"].as_str(), strict["exit_code"].as_i64()),
        (Some("failed"), Some(1))
    );
    assert_eq!(run_finished(&evs)["status"], "failed");
}

// ---------------------------------------------------------------------------------------
// approvals by other people

/// `hold` waits for the test's file `go-<run id>`, so that decisions can be recorded before
/// the gate is reached; `ship` needs two of alice, bob and carol.
fn approvals(timeout: &str) -> String {
    let go = wait_until(r#"[ -f "go-$RUNBOOK_RUN_ID" ]"#);
    format!(
        r#"name: ship
steps:
  - id: prep
    shell: "echo prep >> log"
    rollback: {{ shell: "echo undo-prep >> log" }}
  - id: hold
    timeout: 30s
    shell: |
{}
  - id: ship
    approval: {{ approvers: [alice, bob, carol], min: 2, timeout: {timeout} }}
    shell: "echo shipped >> log"
  - id: after
    shell: "echo after >> log"
"#,
        block(&go, 6).trim_end()
    )
}

/// Starts `runbook run ship` as `runner`; returns it with its run id.
fn start(w: &Workspace, runner: &str) -> (Background, String) {
    let mut bg = w.runbook(["run", "ship"]).user(runner).start();
    bg.wait_for(|l| l.contains("\"run_started\""));
    let id = bg.run_id();
    (bg, id)
}

/// `runbook approve RUN STEP --as WHO [--reject]`.
fn decide(w: &Workspace, id: &str, who: &str, reject: bool) {
    let mut args = vec!["approve", id, "ship", "--as", who];
    if reject {
        args.push("--reject");
    }
    w.runbook(args).success().run();
}

/// Records the decisions, lets the run reach the gate, and waits for its end.
fn decided_before_the_gate(w: &Workspace, runner: &str, decisions: &[(&str, bool)]) -> (i32, Vec<Value>, String) {
    let (mut bg, id) = start(w, runner);
    for (who, reject) in decisions {
        decide(w, &id, who, *reject);
    }
    std::fs::write(w.path().join(format!("go-{id}")), "").expect("go");
    let code = bg.finish();
    (code, bg.events(), bg.stderr())
}

#[test]
fn one_approval_is_not_enough_and_the_same_person_counts_once() {
    let w = Workspace::new().playbook("ship", &approvals("1s"));
    // alice twice, and mallory who is not an approver: one approval of the two needed.
    let (code, evs, stderr) =
        decided_before_the_gate(&w, "dave", &[("alice", false), ("alice", false), ("mallory", false)]);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("no approval within 1s (1 of 2): rejected"), "{stderr}");
    assert_eq!(log(&w), ["prep"], "the step and what follows never ran; nothing undone");
    let gate = of_type(&evs, "gate")[0].clone();
    assert_eq!(
        (gate["kind"].as_str(), gate["approved"].as_bool()),
        (Some("approval"), Some(false))
    );
    assert_eq!(run_finished(&evs)["status"], "refused");

    // Two distinct approvers: it runs. A rejection by someone who is not an approver does
    // not count either.
    let w = Workspace::new().playbook("ship", &approvals("1s"));
    let (code, evs, stderr) =
        decided_before_the_gate(&w, "dave", &[("mallory", true), ("alice", false), ("bob", false)]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(log(&w), ["prep", "shipped", "after"]);
    let gate = of_type(&evs, "gate")[0].clone();
    assert_eq!(
        (gate["approved"].as_bool(), gate["by"].as_str(), gate["how"].as_str()),
        (Some(true), Some("alice, bob"), Some("runbook approve"))
    );
}

#[test]
fn a_second_distinct_approver_lets_a_waiting_step_run() {
    let w = Workspace::new().playbook("ship", &approvals("30s"));
    let (mut bg, id) = start(&w, "dave");
    std::fs::write(w.path().join(format!("go-{id}")), "").expect("go");
    bg.wait_for(|l| {
        l.contains("\"type\":\"log\"") && l.contains("waiting up to 30s for approval by 2 of alice, bob, carol")
    });
    decide(&w, &id, "alice", false);
    decide(&w, &id, "alice", false);
    decide(&w, &id, "carol", false);
    assert_eq!(bg.finish(), 0, "{}", bg.stderr());
    assert_eq!(log(&w), ["prep", "shipped", "after"]);
    let evs = bg.events();
    let gate = of_type(&evs, "gate")[0].clone();
    assert_eq!(
        (gate["approved"].as_bool(), gate["by"].as_str()),
        (Some(true), Some("alice, carol"))
    );
    let records = journal(&w, &id);
    let gate = of_type(&records, "gate")[0].clone();
    assert_eq!(gate["by"], "alice, carol");
}

#[test]
fn a_rejection_ends_the_run_with_exit_4() {
    let w = Workspace::new().playbook("ship", &approvals("30s"));
    let (mut bg, id) = start(&w, "dave");
    std::fs::write(w.path().join(format!("go-{id}")), "").expect("go");
    bg.wait_for(|l| l.contains("\"type\":\"log\"") && l.contains("waiting up to 30s"));
    decide(&w, &id, "alice", false);
    decide(&w, &id, "bob", true);
    assert_eq!(bg.finish(), 4, "{}", bg.stderr());
    assert_eq!(log(&w), ["prep"], "not shipped, nothing after, nothing undone");
    let evs = bg.events();
    let gate = of_type(&evs, "gate")[0].clone();
    assert_eq!(
        (gate["approved"].as_bool(), gate["by"].as_str(), gate["how"].as_str()),
        (Some(false), Some("bob"), Some("runbook approve --reject"))
    );
    assert!(of_type(&evs, "rollback_started").is_empty());
    assert_eq!(run_finished(&evs)["status"], "refused");
}

#[test]
fn two_person_the_runner_cannot_approve_their_own_step() {
    let config = "default_env: prod\nenvironments:\n  prod: { policy: { confirm: [], two_person: [critical] } }\n";
    let pb = approvals("1s").replace("  - id: ship\n", "  - id: ship\n    risk: critical\n");
    let w = Workspace::new().file("runbook.yaml", config).playbook("ship", &pb);
    // alice runs it: her own approval does not count.
    let (code, _, stderr) = decided_before_the_gate(&w, "alice", &[("alice", false), ("bob", false)]);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("(1 of 2): rejected"), "{stderr}");
    assert_eq!(log(&w), ["prep"]);

    let w = Workspace::new().file("runbook.yaml", config).playbook("ship", &pb);
    let (code, evs, stderr) = decided_before_the_gate(&w, "alice", &[("bob", false), ("carol", false)]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(log(&w), ["prep", "shipped", "after"]);
    assert_eq!(of_type(&evs, "gate")[0]["by"], "bob, carol");
}

// ---------------------------------------------------------------------------------------
// for_each

#[test]
fn for_each_runs_at_most_max_parallel_iterations_at_once() {
    // Each iteration waits until three have started: three must run at once.
    let three = wait_until(r#"[ "$(grep -c '^start' log)" -ge 3 ]"#);
    let pb = format!(
        r#"name: fan
steps:
  - id: each
    for_each: "['n1', 'n2', 'n3', 'n4', 'n5', 'n6']"
    as: node
    max_parallel: 3
    timeout: 30s
    shell: |
      echo start {{{{ node }}}} $(date +%s%N) >> log
{}      sleep 0.05
      echo end {{{{ node }}}} $(date +%s%N) >> log
  - id: after
    shell: "echo after x $(date +%s%N) >> log"
"#,
        block(&three, 6)
    );
    let w = Workspace::new().playbook("fan", &pb);
    let out = run(&w, &["run", "fan"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let lines = log(&w);
    let mut marks: Vec<(u128, i32, String)> = lines
        .iter()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (kind, item, ns) = (f.next()?, f.next()?, f.next()?.parse::<u128>().ok()?);
            let delta = match kind {
                "start" => 1,
                "end" => -1,
                _ => 0,
            };
            Some((ns, delta, item.to_string()))
        })
        .collect();
    // At equal times, count the end first: never more than what truly overlapped.
    marks.sort();
    let (mut now, mut most) = (0, 0);
    for (_, delta, _) in &marks {
        now += delta;
        most = most.max(now);
    }
    assert_eq!(
        most, 3,
        "at most max_parallel iterations at once, and that many: {lines:?}"
    );
    let items = |kind: &str| -> BTreeSet<String> {
        marks
            .iter()
            .filter(|(_, d, _)| *d == if kind == "start" { 1 } else { -1 })
            .map(|(_, _, i)| i.clone())
            .collect()
    };
    let all: BTreeSet<String> = (1..=6).map(|i| format!("n{i}")).collect();
    assert_eq!(items("start"), all);
    assert_eq!(items("end"), all);
    // The dependent step starts after the last iteration ended.
    let last_end = marks.iter().filter(|(_, d, _)| *d == -1).map(|(t, _, _)| *t).max();
    let after = marks.iter().find(|(_, _, i)| i == "x").map(|(t, _, _)| *t);
    assert!(after > last_end, "{lines:?}");

    let evs = events(&out.stdout);
    let (mut running, mut peak) = (0, 0);
    for e in &evs {
        if e["step"].as_str().is_some_and(|s| s.starts_with("each[")) {
            match e["type"].as_str() {
                Some("step_started") => running += 1,
                Some("step_finished") => running -= 1,
                _ => {}
            }
            peak = peak.max(running);
        }
    }
    assert!(peak <= 3, "the events agree: {peak} at once");
    let finished: BTreeSet<String> = steps_of(&evs, "step_finished").into_iter().collect();
    let expected: BTreeSet<String> = (0..6)
        .map(|i| format!("each[{i}]"))
        .chain(["after".to_string()])
        .collect();
    assert_eq!(finished, expected);
}

#[test]
fn a_failing_iteration_undoes_the_finished_iterations_newest_first() {
    // n1..n3 start together; n1 and n2 end once all three have started, which lets n4 and n5
    // start; n3 fails once both have; n4 and n5 end only once the journal holds that failure,
    // so every slot is taken until then and n6 never starts.
    let three = wait_until(r#"[ "$(grep -c '^start' log)" -ge 3 ]"#);
    let four_five = wait_until("grep -qx 'start n4' log && grep -qx 'start n5' log");
    let failed = wait_until(&format!(
        r#"grep -F '"status":"failed"' {JOURNAL} | grep -qF '"step":"each[2]"'"#
    ));
    let pb = format!(
        r#"name: fan
steps:
  - id: each
    for_each: "['n1', 'n2', 'n3', 'n4', 'n5', 'n6']"
    as: node
    max_parallel: 3
    timeout: 30s
    shell: |
      echo start {{{{ node }}}} >> log
      case {{{{ node }}}} in
        n1|n2)
{}          ;;
        n3)
{}          echo fail n3 >> log
          exit 1 ;;
        *)
{}          ;;
      esac
      echo end {{{{ node }}}} >> log
    rollback: {{ shell: "echo undo {{{{ node }}}} >> log" }}
  - id: after
    shell: "echo after >> log"
"#,
        block(&three, 10),
        block(&four_five, 10),
        block(&failed, 10)
    );
    let w = Workspace::new().playbook("fan", &pb);
    let out = run(&w, &["run", "fan"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    let lines = log(&w);
    let started: BTreeSet<&str> = lines.iter().filter_map(|l| l.strip_prefix("start ")).collect();
    assert_eq!(started, BTreeSet::from(["n1", "n2", "n3", "n4", "n5"]), "{lines:?}");
    assert!(!lines.contains(&"after".to_string()), "{lines:?}");

    let evs = events(&out.stdout);
    // The iterations that finished, in the order the engine saw them end.
    let ok_order: Vec<String> = of_type(&evs, "step_finished")
        .iter()
        .filter(|e| e["status"] == "ok")
        .filter_map(|e| e["step"].as_str().map(String::from))
        .collect();
    let item = |label: &str| -> String {
        let i: usize = label
            .trim_start_matches("each[")
            .trim_end_matches(']')
            .parse()
            .unwrap_or(99);
        format!("n{}", i + 1)
    };
    let mut expected = vec!["n3".to_string()];
    expected.extend(ok_order.iter().rev().map(|l| item(l)));
    let undone: Vec<String> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("undo ").map(String::from))
        .collect();
    assert_eq!(
        undone, expected,
        "the failed iteration first, then the finished ones newest first: {lines:?}"
    );
    // n4 and n5 ended after the failure, n1 and n2 before: they are undone first.
    assert_eq!(set(&undone[1..3]).into_iter().collect::<Vec<_>>(), ["n4", "n5"]);
    let rolled: Vec<String> = steps_of(&evs, "rollback_started");
    assert_eq!(rolled.len(), 5, "{rolled:?}");
    assert_eq!(run_finished(&evs)["status"], "failed");
}

#[test]
fn a_declined_gate_in_an_iteration_ends_the_run_refused_and_starts_no_more() {
    let w = Workspace::new().playbook(
        "drain",
        r#"name: drain
steps:
  - id: prep
    shell: "echo prep >> log"
    rollback: { shell: "echo undo-prep >> log" }
  - id: each
    for_each: "['n1', 'n2', 'n3']"
    as: node
    confirm: "Drain {{ node }}?"
    shell: "echo {{ node }} >> log"
    rollback: { shell: "echo undo {{ node }} >> log" }
  - id: after
    shell: "echo after >> log"
"#,
    );
    let out = run(&w, &["run", "drain", "--non-interactive"]);
    assert_eq!(out.code, 4, "{}", out.transcript());
    assert!(out.stderr.contains("--approve each"), "{}", out.stderr);
    assert_eq!(log(&w), ["prep"], "no iteration ran, nothing after, nothing undone");
    let evs = events(&out.stdout);
    let gates: Vec<String> = steps_of(&evs, "gate");
    assert_eq!(gates, ["each[0]"], "the first refusal asks no more");
    assert!(
        !steps_of(&evs, "step_started")
            .iter()
            .any(|s| s.starts_with("each") || s == "after"),
        "{}",
        out.stdout
    );
    assert!(of_type(&evs, "rollback_started").is_empty());
    assert_eq!(run_finished(&evs)["status"], "refused");
}

/// Two branches fail one after the other: `slow` fails while the run is already failing
/// (after `fast`), having changed something. A failed step's effect may be partial, so it
/// is rolled back too, not only the first step that failed.
#[test]
fn a_step_that_fails_while_the_run_is_failing_is_rolled_back_too() {
    let fast_failed = wait_until(&format!(
        r#"grep '"step":"fast"' {JOURNAL} | grep -q '"type":"step_finished"'"#
    ));
    let pb = format!(
        r#"name: twice
steps:
  - id: slow
    needs: []
    timeout: 30s
    shell: |
{}      echo partial >> log
      exit 1
    rollback: {{ shell: "echo undo-slow >> log" }}
  - id: fast
    needs: []
    shell: "exit 1"
"#,
        block(&fast_failed, 6)
    );
    let w = Workspace::new().playbook("twice", &pb);
    let out = run(&w, &["run", "twice"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert_eq!(log(&w), ["partial", "undo-slow"]);
}
