//! The audit journal and run locks, through the binary: chained records, verification that
//! finds tampering, private files, secrets never written, one run per lock key.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use runbook_tests::{Background, Workspace};

fn only_run(w: &Workspace) -> String {
    let out = w.run(&["runs", "--format", "json"]);
    let runs: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).expect("runs json");
    assert_eq!(runs.len(), 1, "{}", out.stdout);
    runs[0]["run"].as_str().unwrap_or_default().to_string()
}

const SIMPLE: &str = "name: simple\nsteps:\n  - id: one\n    shell: 'echo one'\n    rollback: { shell: 'true' }\n  - id: two\n    shell: 'echo two'\n    rollback: { shell: 'true' }\n";

#[test]
fn a_run_is_journaled_and_verification_finds_every_kind_of_tampering() {
    let w = Workspace::new().playbook("simple", SIMPLE);
    w.runbook(["run", "simple"]).user("carol").success().run();
    let id = only_run(&w);
    w.runbook(["runs"])
        .stdout_has(&id)
        .stdout_has("simple")
        .stdout_has("carol")
        .stdout_has("succeeded")
        .run();

    let state = w.path().join(".runbook");
    let journal = state.join("runs").join(&id).join("journal.jsonl");
    for (path, mode) in [
        (state.clone(), 0o700),
        (state.join("runs"), 0o700),
        (state.join("runs").join(&id), 0o700),
        (journal.clone(), 0o600),
    ] {
        let m = std::fs::metadata(&path).expect("exists").permissions().mode() & 0o777;
        assert_eq!(m, mode, "{}", path.display());
    }
    w.runbook(["audit", "verify"]).success().run();
    let export = w.run(&["audit", "export", &id[..10]]);
    let records: Vec<serde_json::Value> = serde_json::from_str(&export.stdout).expect("export json");
    assert_eq!(records[0]["type"], "run_started");
    assert_eq!(records[0]["prev"], "0".repeat(64));
    assert_eq!(records[0]["user"], "carol");
    assert!(
        records
            .iter()
            .any(|r| r["type"] == "step_started" && r["step"] == "two")
    );
    w.runbook(["audit", "show", &id])
        .stdout_has("▶ one (attempt 1): shell: echo one")
        .stdout_has("run succeeded (exit 0)")
        .run();

    let original = std::fs::read_to_string(&journal).expect("journal");
    let lines: Vec<&str> = original.lines().collect();
    // `audit verify` of the journal as `text`.
    let verify = |text: String| {
        std::fs::write(&journal, text).expect("write");
        w.runbook(["audit", "verify", &id])
    };
    // Changed: a value edited in place.
    let changed = original.replacen("\"step\":\"one\"", "\"step\":\"0ne\"", 1);
    assert_ne!(changed, original);
    verify(changed)
        .status(1)
        .stdout_has("TAMPERED")
        .stdout_has("the record was changed")
        .run();
    // Removed from the middle.
    let mut removed = lines.clone();
    removed.remove(2);
    verify(removed.join("\n") + "\n")
        .status(1)
        .stdout_has("record on line 3")
        .stdout_has("removed, added or moved")
        .run();
    // Reordered.
    let mut swapped = lines.clone();
    swapped.swap(1, 2);
    verify(swapped.join("\n") + "\n").status(1).run();
    // Cut off cleanly at the end.
    verify(lines[..lines.len() - 2].join("\n") + "\n")
        .status(1)
        .stdout_has("removed from the end")
        .run();
    // A torn last line, as a crash leaves: not tampering.
    verify(original[..original.len() - 30].to_string())
        .success()
        .stdout_has("cut short (a crash while writing)")
        .run();
}

#[test]
fn secrets_reach_no_file_and_no_output() {
    let secret = "hunter2-xq9";
    let pb = "name: leaky\nsecrets:\n  pw: { env: PW }\nsteps:\n  - id: out\n    shell: { run: 'echo {{ secrets.pw }}; echo {{ secrets.pw }} >&2', read_only: true }\n    outputs: { copy: '{{ result.stdout }}' }\n  - id: msg\n    log: 'the password is {{ secrets.pw }}'\n  - id: expect\n    shell: { run: 'echo {{ secrets.pw }}', read_only: true }\n    until: \"result.stdout | trim == 'never'\"\n    interval: 50ms\n    timeout: 300ms\n    on_failure: continue\n  - id: boom\n    needs: [msg]\n    shell: 'echo failing {{ secrets.pw }} >&2; exit 3'\n    rollback: { shell: 'echo undo {{ secrets.pw }}' }\n";
    let w = Workspace::new().playbook("leaky", pb);
    w.runbook(["run", "leaky", "--output", "json"])
        .env("PW", secret)
        .status(1)
        .stdout_lacks(secret)
        .stderr_lacks(secret)
        .run();
    let mut checked = 0;
    let mut stack = vec![w.path().join(".runbook")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("state dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).expect("read");
                assert!(
                    !String::from_utf8_lossy(&bytes).contains(secret),
                    "{} holds the secret",
                    p.display()
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 2, "the journal and the index were written");
}

#[test]
fn a_held_lock_refuses_a_second_run_and_lock_wait_waits() {
    let pb = "name: slow\nsteps:\n  - id: hold\n    shell: 'sleep 2'\n    rollback: { shell: 'true' }\n";
    let w = Workspace::new().playbook("slow", pb);
    // Once the first run has started its step, it holds the lock.
    let mut first = w.runbook(["run", "slow"]).user("dave").start();
    first.wait_for(|l| l.contains("\"step_started\""));
    w.runbook(["run", "slow"])
        .status(5)
        .stderr_has("lock `default/slow` is held by run")
        .stderr_has("of dave on")
        .run();
    let start = Instant::now();
    w.runbook(["run", "slow", "--lock-wait", "30s"]).success().run();
    assert!(
        start.elapsed() > Duration::from_millis(500),
        "it waited for the first run"
    );
    assert_eq!(first.finish(), 0, "{}", first.stderr());
}

#[test]
fn a_saved_plan_runs_only_as_approved_and_unchanged() {
    let pb = "name: drop\nparams:\n  table: {}\nsteps:\n  - id: backup\n    shell: 'echo backup {{ params.table }} >> log'\n    rollback: { shell: 'true' }\n  - id: drop\n    risk: critical\n    approval: { approvers: [alice, bob], min: 1 }\n    shell: 'echo drop {{ params.table }} >> log'\n    rollback: { shell: 'true' }\n";
    let w = Workspace::new()
        .file("runbook.yaml", "default_env: prod\nenvironments:\n  prod: { policy: { confirm: [high, critical], two_person: [critical] } }\n")
        .playbook("drop", pb);
    // Alice runs the saved plan.
    let as_alice = || w.runbook(["run", "--plan", "plan.json"]).user("alice");
    w.runbook(["plan", "drop", "-p", "table=users", "--out", "plan.json"])
        .success()
        .run();

    as_alice()
        .status(4)
        .stderr_has("step `drop`: 1 approval(s) from alice, bob, not the runner needed, 0 given")
        .run();

    // The runner approving their own two-person step does not count.
    w.runbook(["approve", "plan.json", "--as", "alice"]).success().run();
    as_alice().status(4).run();
    assert!(!w.path().join("log").exists(), "nothing ran");

    w.runbook(["approve", "plan.json", "--as", "bob"]).success().run();
    let ok = as_alice().args(["--output", "json"]).success().run();
    assert_eq!(
        std::fs::read_to_string(w.path().join("log")).unwrap_or_default(),
        "backup users\ndrop users\n"
    );
    let approved = ok.stdout.lines().any(|l| {
        l.contains("\"type\":\"gate\"") && l.contains("\"kind\":\"approval\"") && l.contains("\"by\":\"bob\"")
    });
    assert!(approved, "{}", ok.stdout);

    // The playbook changed since: refused.
    std::fs::write(
        w.path().join("playbooks/drop.yaml"),
        pb.replace("echo drop", "echo DROP"),
    )
    .expect("edit");
    as_alice().status(2).stderr_has("now compile to a different plan").run();

    // The plan file edited by hand: refused.
    std::fs::write(w.path().join("playbooks/drop.yaml"), pb).expect("restore");
    let text = std::fs::read_to_string(w.path().join("plan.json")).expect("plan");
    std::fs::write(w.path().join("plan.json"), text.replace("\"users\"", "\"orders\"")).expect("edit");
    as_alice().status(2).stderr_has("was edited after it was planned").run();
}

/// Starts `runbook run` in the background and returns it once its output says it waits
/// for an approval, with the run id.
fn start_waiting(w: &Workspace, args: &[&str], user: &str) -> (Background, String) {
    let mut bg = w.runbook(args).user(user).start();
    bg.wait_for(|l| l.contains("\"type\":\"log\"") && l.contains("\"message\":\"waiting up to"));
    let id = bg.run_id();
    (bg, id)
}

const GATED: &str = "name: gated\nsteps:\n  - id: ship\n    risk: critical\n    approval: { approvers: [alice, bob], min: 1, timeout: 30s }\n    shell: 'echo shipped >> log'\n    rollback: { shell: 'true' }\n";

#[test]
fn a_running_run_waits_for_approval_from_another_terminal() {
    let env = "default_env: prod\nenvironments:\n  prod: { policy: { confirm: [], two_person: [critical] } }\n";
    let w = Workspace::new().file("runbook.yaml", env).playbook("gated", GATED);

    let (mut bg, id) = start_waiting(&w, &["run", "gated"], "alice");
    // The runner cannot approve their own two-person step: it keeps waiting. Nothing marks
    // a decision that does not count, so the run is watched for a while that spans two of
    // the engine's readings of the decisions (every 300 ms): no event, no end.
    w.runbook(["approve", &id, "ship", "--as", "alice"]).success().run();
    bg.quiet_for(Duration::from_millis(700), "the runner's own approval must not count");
    assert!(
        bg.child.try_wait().expect("poll").is_none(),
        "the runner's own approval must not count"
    );
    w.runbook(["approve", &id, "ship", "--as", "bob"]).success().run();
    assert_eq!(bg.finish(), 0, "{}", bg.stderr());
    assert_eq!(
        std::fs::read_to_string(w.path().join("log")).unwrap_or_default(),
        "shipped\n"
    );
    w.runbook(["audit", "export", &id])
        .stdout_has("\"how\": \"runbook approve\"")
        .stdout_has("\"by\": \"bob\"")
        .run();

    let (mut bg, id) = start_waiting(&w, &["run", "gated"], "alice");
    w.runbook(["approve", &id, "ship", "--as", "bob", "--reject"])
        .success()
        .run();
    assert_eq!(bg.finish(), 4, "{}", bg.stderr());
    assert_eq!(
        std::fs::read_to_string(w.path().join("log")).unwrap_or_default(),
        "shipped\n",
        "a rejected step does not run"
    );

    w.runbook(["approve", &id, "ship", "--as", "bob"])
        .context("the run is over")
        .status(2)
        .run();
}

#[test]
fn an_unanswered_approval_times_out_as_rejected() {
    let w = Workspace::new().playbook("gated", &GATED.replace("timeout: 30s", "timeout: 1s"));
    // `--approve` answers the confirmation; only other people answer the approval.
    w.runbook(["run", "gated", "--approve", "ship"])
        .user("alice")
        .status(4)
        .stderr_has("no approval within 1s (0 of 1): rejected")
        .run();
}

#[test]
fn a_lease_lock_without_a_cluster_is_refused_not_ignored() {
    let w = Workspace::new()
        .file("runbook.yaml", "locks: { backend: kubernetes }\n")
        .playbook("simple", SIMPLE);
    let missing = w.path().join("no-kubeconfig");
    let home = w.path().display().to_string();
    w.runbook(["run", "simple"])
        .env("KUBECONFIG", &missing)
        .env("HOME", &home)
        .status(2)
        .stderr_has("lock `default/simple` (kubernetes backend)")
        .stderr_has("nothing was run")
        .run();
    assert!(!w.path().join(".runbook/runs").exists(), "nothing was journaled either");
}
