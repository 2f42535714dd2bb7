//! `runbook resume` after SIGKILL at many points of a run: every non-idempotent step's
//! effect happens exactly once, outputs survive, and the journal still verifies.

use std::time::{Duration, Instant};

use runbook_tests::{Workspace, eventually};

const STEPS: usize = 30;

/// s0 → {s1..s4} → s5 → {s6..s9} → s10 …: fan-outs and joins, 4 at a time. Steps whose
/// number is a multiple of 7 are idempotent (they touch a file); the others append a line
/// to `effects` once. s0's output is read by the last step.
fn playbook(mark: &str) -> String {
    let mut s = String::from("name: crashy\nconcurrency: 4\nsteps:\n");
    s.push_str(&format!(
        "  - id: s0\n    shell: {{ run: 'sleep 0.02; echo tok-{mark} # {mark}', read_only: true }}\n    outputs: {{ token: '{{{{ result.stdout | trim }}}}' }}\n"
    ));
    for i in 1..STEPS {
        let needs = if i % 5 == 0 {
            format!(
                "[{}]",
                (i - 4..i).map(|j| format!("s{j}")).collect::<Vec<_>>().join(", ")
            )
        } else {
            format!("[s{}]", i - i % 5)
        };
        let body = if i.is_multiple_of(7) {
            format!("    idempotent: true\n    shell: 'sleep 0.02; touch done-s{i} # {mark}'\n")
        } else if i == STEPS - 1 {
            format!("    shell: 'sleep 0.02; echo s{i}-{{{{ steps.s0.token }}}} >> effects # {mark}'\n")
        } else {
            format!("    shell: 'sleep 0.02; echo s{i} >> effects # {mark}'\n")
        };
        s.push_str(&format!(
            "  - id: s{i}\n    needs: {needs}\n{body}    rollback: {{ shell: 'true' }}\n"
        ));
    }
    s
}

/// Waits until the killed run's step processes have ended: those running a command (they
/// carry the mark), and any forked by the engine but not yet exec'd when it was killed
/// (they still carry the engine's command line).
fn wait_for_orphans(patterns: &[&str]) {
    let alive = || {
        patterns
            .iter()
            .flat_map(|p| super::run::processes_with(p))
            .any(|p| !p.contains("cargo") && !p.contains("e2e"))
    };
    // A process caught in the middle of `execve` can show an empty command line: only
    // several clean scans in a row, spread over 40 ms, say that nothing is left.
    let (mut clean, mut since) = (0, Instant::now());
    eventually(Duration::from_secs(10), "the killed run's steps end", || {
        if alive() {
            clean = 0;
        } else {
            if clean == 0 {
                since = Instant::now();
            }
            clean += 1;
        }
        clean >= 3 && since.elapsed() >= Duration::from_millis(40)
    });
}

/// The id of the workspace's only run, from `runbook runs`.
fn only_run(w: &Workspace) -> String {
    let runs = w.runbook(["runs", "--format", "json"]).success().run();
    let runs: Vec<serde_json::Value> = serde_json::from_str(&runs.stdout).expect("runs json");
    runs[0]["run"].as_str().unwrap_or_default().to_string()
}

/// The records of a run's journal, from `runbook audit export`.
fn exported(w: &Workspace, id: &str) -> Vec<serde_json::Value> {
    let export = w.runbook(["audit", "export", id]).run();
    serde_json::from_str(&export.stdout).expect("records")
}

#[test]
fn resume_after_sigkill_at_twenty_points_applies_each_step_once() {
    for kill_at in 1..=20 {
        let mark = format!("crash{}-{kill_at}", std::process::id());
        let w = Workspace::new().playbook("crashy", &playbook(&mark));
        let mut bg = w.runbook(["run", "crashy"]).start();
        for _ in 0..kill_at {
            bg.wait_for(|l| l.contains("\"type\":\"step_started\""));
        }
        let _ = bg.child.kill(); // SIGKILL
        let _ = bg.child.wait();
        wait_for_orphans(&[&mark, "run crashy --output json"]);

        let id = only_run(&w);
        // The steps whose end was not recorded: decide from the world, as an operator would.
        let records = exported(&w, &id);
        let effects = std::fs::read_to_string(w.path().join("effects")).unwrap_or_default();
        let mut args = vec!["resume".to_string(), id.clone()];
        for r in records.iter().filter(|r| r["type"] == "step_started") {
            let step = r["step"].as_str().unwrap_or_default();
            let finished = records
                .iter()
                .any(|f| f["type"] == "step_finished" && f["step"] == step);
            let n: usize = step.trim_start_matches('s').parse().unwrap_or(0);
            // Idempotent and read-only steps are re-run by resume on its own.
            if finished || n.is_multiple_of(7) || n == 0 {
                continue;
            }
            let applied = effects.lines().any(|l| l == step || l.starts_with(&format!("{step}-")));
            args.push(if applied {
                "--assume-done".into()
            } else {
                "--rerun".into()
            });
            args.push(step.to_string());
        }
        w.runbook(&args).context(format!("kill at {kill_at}")).success().run();

        let effects = std::fs::read_to_string(w.path().join("effects")).unwrap_or_default();
        for i in (1..STEPS).filter(|i| !i.is_multiple_of(7)) {
            let expected = if i == STEPS - 1 {
                format!("s{i}-tok-{mark}")
            } else {
                format!("s{i}")
            };
            let count = effects.lines().filter(|l| *l == expected).count();
            if count != 1 {
                let about: Vec<String> = exported(&w, &id)
                    .iter()
                    .filter(|r| r["step"] == format!("s{i}") || r["type"] == "resumed")
                    .map(|r| format!("#{} {} {}", r["seq"], r["type"], r["status"]))
                    .collect();
                panic!(
                    "kill at {kill_at}: `{expected}` applied {count} times; resume args {args:?}; records {about:?}\n{effects}"
                );
            }
        }
        for i in (7..STEPS).step_by(7) {
            assert!(
                w.path().join(format!("done-s{i}")).exists(),
                "kill at {kill_at}: idempotent s{i} did not run"
            );
        }
        w.runbook(["audit", "verify"])
            .context(format!("kill at {kill_at}"))
            .success()
            .run();
    }
}

#[test]
fn resume_refuses_a_changed_plan_unless_accepted_and_a_finished_run() {
    let pb = "name: two\nsteps:\n  - id: a\n    shell: 'sleep 0.3; echo a >> effects'\n    rollback: { shell: 'true' }\n  - id: b\n    shell: 'echo b >> effects'\n    rollback: { shell: 'true' }\n";
    let w = Workspace::new().playbook("two", pb);
    let mut bg = w.runbook(["run", "two"]).start();
    bg.wait_for(|l| l.contains("step_started"));
    let _ = bg.child.kill();
    let _ = bg.child.wait();
    wait_for_orphans(&["echo a >> effects", "run two --output json"]);
    // Whether `a` did its work depends on when the kill landed: decide from the world.
    let a_done = std::fs::read_to_string(w.path().join("effects"))
        .unwrap_or_default()
        .contains("a\n");
    let decision = if a_done { "--assume-done" } else { "--rerun" };
    let id = only_run(&w);
    std::fs::write(w.path().join("playbooks/two.yaml"), pb.replace("echo b", "echo B")).expect("edit");
    w.runbook(["resume", &id, decision, "a"])
        .status(2)
        .stderr_has("the plan changed")
        .stderr_has("~ step `b` changed: echo b >> effects → echo B >> effects")
        .stderr_has("--accept-changes")
        .run();
    w.runbook(["resume", &id, decision, "a", "--accept-changes"])
        .success()
        .run();
    assert_eq!(
        std::fs::read_to_string(w.path().join("effects")).unwrap_or_default(),
        "a\nB\n"
    );
    w.runbook(["resume", &id])
        .status(2)
        .stderr_has("finished (succeeded); there is nothing to resume")
        .run();
}

#[test]
fn resume_waits_for_a_killed_runs_leftover_processes() {
    let pb = "name: long\nsteps:\n  - id: who\n    shell: { run: 'echo \"$RUNBOOK_STEP $RUNBOOK_RUN_ID\"', read_only: true }\n    outputs: { said: '{{ result.stdout | trim }}' }\n  - id: slow\n    shell: 'touch started; sleep 30; echo slow >> effects'\n    rollback: { shell: 'true' }\n";
    let w = Workspace::new().playbook("long", pb);
    let mut bg = w.runbook(["run", "long"]).start();
    bg.wait_for(|l| l.contains("step_started") && l.contains("\"slow\""));
    // Kill the engine once the step's command is surely running.
    eventually(Duration::from_secs(10), "the step starts", || {
        w.path().join("started").exists()
    });
    let _ = bg.child.kill();
    let _ = bg.child.wait();
    let id = bg.run_id();
    let all = bg.lines.join("");
    assert!(
        all.contains(&format!("\"said\":\"who {id}\"")),
        "commands know their step and run: {all}"
    );

    // The `sleep 30` outlived the engine: resume must wait for it. Until the child has
    // exec'd, it may not show yet: ask again.
    let refused = w
        .runbook(["resume", &id, "--rerun", "slow"])
        .retry_while(Duration::from_secs(10), |r| r.code != 5)
        .status(5)
        .stderr_has("step `slow`: pid")
        .stderr_has("sleep 30")
        .run();
    let group: i32 = refused
        .stderr
        .split("(group ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|g| g.parse().ok())
        .expect("group");
    nix::sys::signal::killpg(nix::unistd::Pid::from_raw(group), nix::sys::signal::Signal::SIGKILL)
        .expect("kill the group");
    // Shorter this time (a changed plan, accepted), once the leftovers are gone.
    std::fs::write(w.path().join("playbooks/long.yaml"), pb.replace("sleep 30", "sleep 0")).expect("edit");
    w.runbook(["resume", &id, "--rerun", "slow", "--accept-changes"])
        .context("the leftovers went away")
        .retry_while(Duration::from_secs(10), |r| r.code == 5)
        .success()
        .run();
    assert_eq!(
        std::fs::read_to_string(w.path().join("effects")).unwrap_or_default(),
        "slow\n"
    );
}
