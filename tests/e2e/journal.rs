//! The audit journal and run locks, through the binary: chained records, verification that
//! finds tampering, private files, secrets never written, one run per lock key.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use runbook_tests::{Background, Output, Workspace};

fn run(w: &Workspace, args: &[&str], env: &[(&str, &str)]) -> Output {
    runbook_tests::run_with_env(w.path(), args, env)
}

fn only_run(w: &Workspace) -> String {
    let out = run(w, &["runs", "--format", "json"], &[]);
    let runs: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).expect("runs json");
    assert_eq!(runs.len(), 1, "{}", out.stdout);
    runs[0]["run"].as_str().unwrap_or_default().to_string()
}

const SIMPLE: &str = "name: simple\nsteps:\n  - id: one\n    shell: 'echo one'\n    rollback: { shell: 'true' }\n  - id: two\n    shell: 'echo two'\n    rollback: { shell: 'true' }\n";

#[test]
fn a_run_is_journaled_and_verification_finds_every_kind_of_tampering() {
    let w = Workspace::new().playbook("simple", SIMPLE);
    assert_eq!(run(&w, &["run", "simple"], &[("RUNBOOK_USER", "carol")]).code, 0);
    let id = only_run(&w);
    let runs = run(&w, &["runs"], &[]);
    assert!(
        runs.stdout.contains(&id)
            && runs.stdout.contains("simple")
            && runs.stdout.contains("carol")
            && runs.stdout.contains("succeeded"),
        "{}",
        runs.stdout
    );

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
    let ok = run(&w, &["audit", "verify"], &[]);
    assert_eq!(ok.code, 0, "{}", ok.transcript());
    let export = run(&w, &["audit", "export", &id[..10]], &[]);
    let records: Vec<serde_json::Value> = serde_json::from_str(&export.stdout).expect("export json");
    assert_eq!(records[0]["type"], "run_started");
    assert_eq!(records[0]["prev"], "0".repeat(64));
    assert_eq!(records[0]["user"], "carol");
    assert!(
        records
            .iter()
            .any(|r| r["type"] == "step_started" && r["step"] == "two")
    );
    let show = run(&w, &["audit", "show", &id], &[]);
    assert!(
        show.stdout.contains("▶ one (attempt 1): shell: echo one") && show.stdout.contains("run succeeded (exit 0)"),
        "{}",
        show.stdout
    );

    let original = std::fs::read_to_string(&journal).expect("journal");
    let lines: Vec<&str> = original.lines().collect();
    let verify = |text: String| {
        std::fs::write(&journal, text).expect("write");
        run(&w, &["audit", "verify", &id], &[])
    };
    // Changed: a value edited in place.
    let changed = original.replacen("\"step\":\"one\"", "\"step\":\"0ne\"", 1);
    assert_ne!(changed, original);
    let out = verify(changed);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("TAMPERED") && out.stdout.contains("the record was changed"),
        "{}",
        out.stdout
    );
    // Removed from the middle.
    let mut removed = lines.clone();
    removed.remove(2);
    let out = verify(removed.join("\n") + "\n");
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("record on line 3") && out.stdout.contains("removed, added or moved"),
        "{}",
        out.stdout
    );
    // Reordered.
    let mut swapped = lines.clone();
    swapped.swap(1, 2);
    let out = verify(swapped.join("\n") + "\n");
    assert_eq!(out.code, 1, "{}", out.stdout);
    // Cut off cleanly at the end.
    let out = verify(lines[..lines.len() - 2].join("\n") + "\n");
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("removed from the end"), "{}", out.stdout);
    // A torn last line, as a crash leaves: not tampering.
    let out = verify(original[..original.len() - 30].to_string());
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stdout.contains("cut short (a crash while writing)"),
        "{}",
        out.stdout
    );
}

#[test]
fn secrets_reach_no_file_and_no_output() {
    let secret = "hunter2-xq9";
    let pb = "name: leaky\nsecrets:\n  pw: { env: PW }\nsteps:\n  - id: out\n    shell: { run: 'echo {{ secrets.pw }}; echo {{ secrets.pw }} >&2', read_only: true }\n    outputs: { copy: '{{ result.stdout }}' }\n  - id: msg\n    log: 'the password is {{ secrets.pw }}'\n  - id: expect\n    shell: { run: 'echo {{ secrets.pw }}', read_only: true }\n    until: \"result.stdout | trim == 'never'\"\n    interval: 50ms\n    timeout: 300ms\n    on_failure: continue\n  - id: boom\n    needs: [msg]\n    shell: 'echo failing {{ secrets.pw }} >&2; exit 3'\n    rollback: { shell: 'echo undo {{ secrets.pw }}' }\n";
    let w = Workspace::new().playbook("leaky", pb);
    let out = run(&w, &["run", "leaky", "--output", "json"], &[("PW", secret)]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        !out.stdout.contains(secret) && !out.stderr.contains(secret),
        "{}",
        out.transcript()
    );
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
    let mut first = Background::start(w.path(), &["run", "slow"], &[("RUNBOOK_USER", "dave")]);
    first.wait_for(|l| l.contains("\"step_started\""));
    let second = run(&w, &["run", "slow"], &[]);
    assert_eq!(second.code, 5, "{}", second.transcript());
    assert!(
        second.stderr.contains("lock `default/slow` is held by run") && second.stderr.contains("of dave on"),
        "{}",
        second.stderr
    );
    let start = Instant::now();
    let third = run(&w, &["run", "slow", "--lock-wait", "30s"], &[]);
    assert_eq!(third.code, 0, "{}", third.transcript());
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
    let alice = [("RUNBOOK_USER", "alice")];
    assert_eq!(
        run(&w, &["plan", "drop", "-p", "table=users", "--out", "plan.json"], &[]).code,
        0
    );

    let none = run(&w, &["run", "--plan", "plan.json"], &alice);
    assert_eq!(none.code, 4, "{}", none.transcript());
    assert!(
        none.stderr
            .contains("step `drop`: 1 approval(s) from alice, bob, not the runner needed, 0 given"),
        "{}",
        none.stderr
    );

    // The runner approving their own two-person step does not count.
    assert_eq!(run(&w, &["approve", "plan.json", "--as", "alice"], &[]).code, 0);
    assert_eq!(run(&w, &["run", "--plan", "plan.json"], &alice).code, 4);
    assert!(!w.path().join("log").exists(), "nothing ran");

    assert_eq!(run(&w, &["approve", "plan.json", "--as", "bob"], &[]).code, 0);
    let ok = run(&w, &["run", "--plan", "plan.json", "--output", "json"], &alice);
    assert_eq!(ok.code, 0, "{}", ok.transcript());
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
    let changed = run(&w, &["run", "--plan", "plan.json"], &alice);
    assert_eq!(changed.code, 2, "{}", changed.transcript());
    assert!(
        changed.stderr.contains("now compile to a different plan"),
        "{}",
        changed.stderr
    );

    // The plan file edited by hand: refused.
    std::fs::write(w.path().join("playbooks/drop.yaml"), pb).expect("restore");
    let text = std::fs::read_to_string(w.path().join("plan.json")).expect("plan");
    std::fs::write(w.path().join("plan.json"), text.replace("\"users\"", "\"orders\"")).expect("edit");
    let edited = run(&w, &["run", "--plan", "plan.json"], &alice);
    assert_eq!(edited.code, 2, "{}", edited.transcript());
    assert!(
        edited.stderr.contains("was edited after it was planned"),
        "{}",
        edited.stderr
    );
}

/// Starts `runbook run` in the background and returns it once its output says it waits
/// for an approval, with the run id.
fn start_waiting(w: &Workspace, args: &[&str], user: &str) -> (Background, String) {
    let mut bg = Background::start(w.path(), args, &[("RUNBOOK_USER", user)]);
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
    // The runner cannot approve their own two-person step: it keeps waiting.
    assert_eq!(run(&w, &["approve", &id, "ship", "--as", "alice"], &[]).code, 0);
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        bg.child.try_wait().expect("poll").is_none(),
        "the runner's own approval must not count"
    );
    assert_eq!(run(&w, &["approve", &id, "ship", "--as", "bob"], &[]).code, 0);
    assert_eq!(bg.finish(), 0, "{}", bg.stderr());
    assert_eq!(
        std::fs::read_to_string(w.path().join("log")).unwrap_or_default(),
        "shipped\n"
    );
    let export = run(&w, &["audit", "export", &id], &[]);
    assert!(
        export.stdout.contains("\"how\": \"runbook approve\"") && export.stdout.contains("\"by\": \"bob\""),
        "{}",
        export.stdout
    );

    let (mut bg, id) = start_waiting(&w, &["run", "gated"], "alice");
    assert_eq!(
        run(&w, &["approve", &id, "ship", "--as", "bob", "--reject"], &[]).code,
        0
    );
    assert_eq!(bg.finish(), 4, "{}", bg.stderr());
    assert_eq!(
        std::fs::read_to_string(w.path().join("log")).unwrap_or_default(),
        "shipped\n",
        "a rejected step does not run"
    );

    let late = run(&w, &["approve", &id, "ship", "--as", "bob"], &[]);
    assert_eq!(late.code, 2, "the run is over:\n{}", late.transcript());
}

#[test]
fn an_unanswered_approval_times_out_as_rejected() {
    let w = Workspace::new().playbook("gated", &GATED.replace("timeout: 30s", "timeout: 1s"));
    // `--approve` answers the confirmation; only other people answer the approval.
    let out = run(&w, &["run", "gated", "--approve", "ship"], &[("RUNBOOK_USER", "alice")]);
    assert_eq!(out.code, 4, "{}", out.transcript());
    assert!(
        out.stderr.contains("no approval within 1s (0 of 1): rejected"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_lease_lock_without_a_cluster_is_refused_not_ignored() {
    let w = Workspace::new()
        .file("runbook.yaml", "locks: { backend: kubernetes }\n")
        .playbook("simple", SIMPLE);
    let missing = w.path().join("no-kubeconfig");
    let home = w.path().display().to_string();
    let out = run(
        &w,
        &["run", "simple"],
        &[
            ("KUBECONFIG", missing.to_str().unwrap_or_default()),
            ("HOME", home.as_str()),
        ],
    );
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr.contains("lock `default/simple` (kubernetes backend)") && out.stderr.contains("nothing was run"),
        "{}",
        out.stderr
    );
    assert!(!w.path().join(".runbook/runs").exists(), "nothing was journaled either");
}
