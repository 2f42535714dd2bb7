//! What the engine does when things go wrong, through the binary: a refusal inside a
//! fan-out, a failure while an approval waits, signals (INT, TERM, HUP) mid-run and
//! `runbook rollback` after them, a journal that cannot be written, and secrets in every
//! shape they travel in.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use runbook_tests::{Background, Workspace, eventually, of_type, poll, within};
use serde_json::Value;

/// Waits (with a deadline) until `file` in the workspace holds `text`.
fn wait_for_file(w: &Workspace, file: &str, text: &str) {
    let there = within(Duration::from_secs(20), || w.lines(file).iter().any(|l| l == text));
    assert!(there, "{file} never got `{text}`: {:?}", w.lines(file));
}

/// Waits for the background run to end, within a deadline; its exit code.
fn exit_code(bg: &mut Background, limit: Duration) -> i32 {
    let status = poll(limit, || bg.child.try_wait().expect("wait"));
    let status = status.unwrap_or_else(|| panic!("the run did not end within {limit:?}"));
    status.code().unwrap_or(-1)
}

#[test]
fn a_refused_iteration_refuses_the_run_and_nothing_after_it_runs() {
    let pb = r#"name: upgrade
steps:
  - id: nodes
    shell: "echo nodes >> log"
  - id: drain
    for_each: '["n1", "n2", "n3"]'
    as: node
    confirm: "Drain {{ node }}?"
    shell: "echo drain-{{ node }} >> log"
    rollback: { shell: "echo uncordon-{{ node }} >> log" }
  - id: delete-old-group
    shell: "echo delete >> log"
"#;
    let w = Workspace::new().playbook("upgrade", pb);
    w.runbook(["run", "upgrade", "--non-interactive", "--output", "json"])
        .status(4)
        .run();
    assert_eq!(w.lines("log"), vec!["nodes"], "no iteration and nothing after it ran");
    let records = w.journal();
    let gates = of_type(&records, "gate");
    assert_eq!(gates.len(), 1, "the first refusal stops the fan-out: {gates:?}");
    assert_eq!(gates[0]["step"], "drain[0]");
    assert!(of_type(&records, "step_started").iter().all(|r| r["step"] == "nodes"));
    assert_eq!(of_type(&records, "run_finished")[0]["status"], "refused");

    // Under `on_decline: skip` the fan-out is skipped whole, and what needs it does not run
    // on the strength of a fan-out that stopped part-way.
    let w = Workspace::new().playbook(
        "upgrade",
        &pb.replace("    as: node\n", "    as: node\n    on_decline: skip\n"),
    );
    w.runbook(["run", "upgrade", "--non-interactive"])
        .success()
        .stderr_has("– delete-old-group skipped: a step it needs was declined part-way")
        .run();
    assert_eq!(w.lines("log"), vec!["nodes"]);

    // Approved ahead, every iteration runs, then the step after it.
    let w = Workspace::new().playbook("upgrade", pb);
    w.runbook(["run", "upgrade", "--approve", "drain"]).success().run();
    assert_eq!(
        w.lines("log"),
        vec!["nodes", "drain-n1", "drain-n2", "drain-n3", "delete"]
    );
}

#[test]
fn a_failure_while_an_approval_waits_rolls_back_at_once_without_spinning() {
    let pb = r#"name: pending
steps:
  - id: prep
    shell: "echo prep >> log"
    rollback: { shell: "echo undo-prep >> log" }
  - id: gate
    needs: [prep]
    approval: { approvers: [bob], timeout: 1h }
    shell: "echo gated >> log"
  - id: boom
    needs: [prep]
    shell: "sleep 1; exit 3"
"#;
    let w = Workspace::new().playbook("pending", pb);
    // The first run of a test process asks cargo to build the binary: cargo's own CPU is
    // not the run's, so that happens before the measurement starts.
    runbook_tests::binary();
    let before = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).expect("rusage");
    let started = Instant::now();
    let out = w.runbook(["run", "pending"]).run();
    let wall = started.elapsed();
    let after = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).expect("rusage");
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert_eq!(w.lines("log"), vec!["prep", "undo-prep"]);

    let records = w.journal();
    let ts = |r: &Value| chrono::DateTime::parse_from_rfc3339(r["ts"].as_str().unwrap_or("")).expect("ts");
    let failed = of_type(&records, "step_finished")
        .into_iter()
        .find(|r| r["step"] == "boom")
        .expect("boom finished");
    let undone = of_type(&records, "rollback_finished")[0];
    let lag = ts(undone) - ts(failed);
    assert!(
        lag.num_milliseconds() < 1000,
        "the rollback ended {lag} after the failure"
    );
    let gate = of_type(&records, "gate")[0];
    assert!(gate["how"].as_str().unwrap_or("").starts_with("withdrawn"), "{gate}");

    // The whole run (compile, a 1 s step, the rollback) used well under a second of CPU: no
    // wait spun.
    let cpu = |u: nix::sys::resource::Usage| {
        let d = |t: nix::sys::time::TimeVal| Duration::new(t.tv_sec() as u64, t.tv_usec() as u32 * 1000);
        d(u.user_time()) + d(u.system_time())
    };
    let used = cpu(after).saturating_sub(cpu(before));
    assert!(
        used < Duration::from_millis(500),
        "the run used {used:?} of CPU in {wall:?}"
    );
}

/// A playbook whose third step handles SIGTERM slowly (as a real deploy script cleaning up
/// would) and leaves a child behind in its group, `sleep <marker>`.
fn stoppable(marker: &str) -> String {
    STOPPABLE.replace("300.7", marker)
}

/// A number no other test's process has on its command line.
fn marker(salt: u32) -> String {
    format!("{}.{salt}", 2000 + std::process::id() % 7000)
}

const STOPPABLE: &str = r#"name: stoppable
steps:
  - id: one
    shell: "echo one >> log"
    rollback: { shell: "echo undo-one >> log" }
  - id: two
    risk: high
    shell: "echo two >> log"
    rollback: { shell: "echo undo-two >> log" }
  - id: slow
    shell: "trap 'sleep 0.5; echo slow-cleaned-up >> log; exit 1' TERM; echo slow >> log; sleep 300.7 & wait"
    rollback: { shell: "echo undo-slow >> log" }
  - id: never
    shell: "echo never >> log"
"#;

#[test]
fn term_hup_and_int_stop_the_run_cleanly_journal_it_and_leave_no_process() {
    for (signal, code, status) in [
        (Signal::SIGTERM, 143, "terminated"),
        (Signal::SIGHUP, 143, "terminated"),
        (Signal::SIGINT, 130, "interrupted"),
    ] {
        let m = marker(signal as u32);
        let w = Workspace::new().playbook("stoppable", &stoppable(&m));
        let mut bg = w.runbook(["run", "stoppable", "--approve", "two"]).start();
        wait_for_file(&w, "log", "slow");
        kill(Pid::from_raw(bg.child.id() as i32), signal).expect("signal");
        assert_eq!(exit_code(&mut bg, Duration::from_secs(20)), code, "{signal}");

        // The step got SIGTERM and the engine waited for it to clean up before it exited
        // (and so before it let go of the lock); the step after it never started.
        assert_eq!(
            w.lines("log"),
            vec!["one", "two", "slow", "slow-cleaned-up"],
            "{signal}"
        );
        assert!(
            super::run::processes_with(&format!("sleep {m}")).is_empty(),
            "{signal}: a process survived"
        );
        let records = w.journal();
        let interrupted = of_type(&records, "interrupted");
        assert_eq!(interrupted.len(), 1, "{signal}");
        assert_eq!(interrupted[0]["signal"], signal.as_str(), "{signal}");
        let finished = of_type(&records, "run_finished")[0];
        assert_eq!(finished["status"], status, "{signal}");
        // No rollback without a yes at a terminal: what remains is said, and how.
        assert_eq!(
            finished["remaining_undo"],
            serde_json::json!([
                "slow: shell: echo undo-slow >> log",
                "two: shell: echo undo-two >> log",
                "one: shell: echo undo-one >> log"
            ]),
            "{signal}"
        );
        assert!(of_type(&records, "rollback_started").is_empty(), "{signal}");
        // The lock is free again.
        w.runbook(["run", "stoppable", "--approve", "two", "--dry-run"])
            .success()
            .run();
    }
}

#[test]
fn a_step_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let m = marker(9);
    let pb = format!(
        "name: stubborn\nsteps:\n  - id: stubborn\n    shell: \"trap '' TERM; echo started >> log; sleep {m} & wait; wait\"\n"
    );
    let pb = pb.as_str();
    let w = Workspace::new().playbook("stubborn", pb);
    let mut bg = w.runbook(["run", "stubborn", "--grace", "1s"]).start();
    wait_for_file(&w, "log", "started");
    let signalled = Instant::now();
    kill(Pid::from_raw(bg.child.id() as i32), Signal::SIGTERM).expect("signal");
    assert_eq!(exit_code(&mut bg, Duration::from_secs(20)), 143);
    let took = signalled.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "SIGKILL came before the grace period: {took:?}"
    );
    assert!(
        super::run::processes_with(&format!("sleep {m}")).is_empty(),
        "a process survived"
    );

    // A second signal skips the grace period.
    let w = Workspace::new().playbook("stubborn", pb);
    let mut bg = w.runbook(["run", "stubborn", "--grace", "60s"]).start();
    wait_for_file(&w, "log", "started");
    let pid = Pid::from_raw(bg.child.id() as i32);
    kill(pid, Signal::SIGTERM).expect("signal");
    bg.wait_for(|l| l.contains(r#""type":"interrupted""#));
    kill(pid, Signal::SIGINT).expect("second signal");
    assert_eq!(
        exit_code(&mut bg, Duration::from_secs(20)),
        143,
        "the first signal names the exit"
    );
    assert!(
        super::run::processes_with(&format!("sleep {m}")).is_empty(),
        "a process survived"
    );
}

#[test]
fn rollback_undoes_a_stopped_runs_steps_newest_first_once() {
    let w = Workspace::new().playbook("stoppable", &stoppable(&marker(77)));
    let mut bg = w.runbook(["run", "stoppable", "--approve", "two"]).start();
    wait_for_file(&w, "log", "slow");
    bg.wait_for(|l| l.contains(r#""type":"run_started""#));
    let id = bg.run_id();
    kill(Pid::from_raw(bg.child.id() as i32), Signal::SIGTERM).expect("signal");
    assert_eq!(exit_code(&mut bg, Duration::from_secs(20)), 143);

    w.runbook(["rollback", &id, "--dry-run"])
        .success()
        .stdout_has("  - slow: shell: echo undo-slow >> log\n  - two: shell: echo undo-two >> log\n  - one: shell: echo undo-one >> log")
        .run();
    assert_eq!(w.lines("log").len(), 4, "a dry run undoes nothing");

    // `two` is high risk: undoing it needs a yes, as running it did.
    w.runbook(["rollback", &id]).status(4).stderr_has("--approve two").run();
    assert_eq!(w.lines("log").last().map(String::as_str), Some("undo-slow"));

    w.runbook(["rollback", &id, "--approve", "two"]).success().run();
    assert_eq!(
        w.lines("log"),
        vec![
            "one",
            "two",
            "slow",
            "slow-cleaned-up",
            "undo-slow",
            "undo-two",
            "undo-one"
        ]
    );
    w.runbook(["rollback", &id, "--approve", "two"])
        .success()
        .stderr_has("nothing to undo")
        .run();
    assert_eq!(w.lines("log").len(), 7, "undone once");

    // All of it in the run's own chain.
    w.runbook(["audit", "verify", &id]).success().run();
    let records = w.journal();
    assert_eq!(of_type(&records, "rollback_requested").len(), 2);
    assert_eq!(of_type(&records, "rollback_ended").len(), 2);
    w.runbook(["runs"]).stdout_has("rolled_back").run();
    // A rolled-back run is not resumed.
    w.runbook(["resume", &id]).status(2).run();
}

#[test]
fn rollback_of_a_killed_run_waits_for_its_processes_and_undoes_the_step_in_doubt_first() {
    let m = marker(33);
    let pb = format!(
        "name: killed\nsteps:\n  - id: one\n    shell: \"echo one >> log\"\n    rollback: {{ shell: \"echo undo-one >> log\" }}\n  - id: hang\n    shell: \"echo hang >> log; sleep {m}\"\n    rollback: {{ shell: \"echo undo-hang >> log\" }}\n"
    );
    let w = Workspace::new().playbook("killed", &pb);
    let mut bg = w.runbook(["run", "killed"]).start();
    wait_for_file(&w, "log", "hang");
    bg.wait_for(|l| l.contains(r#""type":"run_started""#));
    let id = bg.run_id();
    let _ = bg.child.kill(); // SIGKILL: nothing is journaled, the step's group lives on
    let _ = bg.child.wait();

    w.runbook(["rollback", &id]).status(5).stderr_has("step `hang`").run();
    for p in super::run::processes_with(&format!("sleep {m}")) {
        let pid: i32 = p.split(':').next().and_then(|p| p.parse().ok()).expect("pid");
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    eventually(Duration::from_secs(10), "the leftover dies", || {
        super::run::processes_with(&format!("sleep {m}")).is_empty()
    });
    w.runbook(["rollback", &id]).success().run();
    assert_eq!(w.lines("log"), vec!["one", "hang", "undo-hang", "undo-one"]);
}

#[test]
fn a_journal_that_cannot_be_written_stops_the_run_and_nothing_runs_unrecorded() {
    // Each step prints enough that its journal records outgrow the plan kept beside them, so
    // a file-size limit between the two lets the run start and stops its journal part-way.
    let mut pb = String::from("name: sixty\nconcurrency: 1\nsteps:\n");
    let noise = "x".repeat(250);
    for i in 0..60 {
        pb.push_str(&format!(
            "  - id: s{i}\n    shell: \"echo $RUNBOOK_STEP >> effects; yes {noise} | head -10\"\n    rollback: {{ shell: \"echo undo-s{i} >> effects\" }}\n"
        ));
    }
    let measure = Workspace::new().playbook("sixty", &pb);
    measure.runbook(["run", "sixty"]).success().run();
    let size = |name: &str| std::fs::metadata(measure.run_dir().join(name)).expect("file").len();
    let (plan, full) = (size("plan.json"), size("journal.jsonl"));
    assert!(
        plan * 2 < full,
        "the test needs a journal well past the plan: {plan} vs {full}"
    );
    // `ulimit -f` counts 512-byte blocks.
    let blocks = (plan + (full - plan) / 4) / 512;

    let w = Workspace::new().playbook("sixty", &pb);
    let out = w
        .runbook(["run", "sixty"])
        .after_sh(&format!("ulimit -f {blocks}"))
        .stderr_has("could not be written")
        .run();
    let (code, stderr) = (out.code, out.stderr);
    assert_ne!(code, 0, "{stderr}");

    // Every side effect has its start on disk.
    let records = w.journal();
    let started: Vec<&str> = of_type(&records, "step_started")
        .iter()
        .filter_map(|r| r["step"].as_str())
        .collect();
    let effects = w.lines("effects");
    let ran: Vec<&String> = effects.iter().filter(|l| !l.starts_with("undo-")).collect();
    assert!(ran.len() < 60, "the journal stopped part-way: {} steps ran", ran.len());
    for step in &ran {
        assert!(
            started.contains(&step.as_str()),
            "{step} ran without its step_started record on disk"
        );
    }
    // Undos ran only where their start was recorded, and what could not run is named.
    let rollbacks: Vec<&str> = of_type(&records, "rollback_started")
        .iter()
        .filter_map(|r| r["step"].as_str())
        .collect();
    for undo in effects.iter().filter_map(|l| l.strip_prefix("undo-")) {
        assert!(rollbacks.contains(&undo), "undo of {undo} ran unrecorded");
    }
    if code == 3 {
        assert!(stderr.contains("still to undo by hand"), "{stderr}");
    }
    let id = records[0]["run"].as_str().expect("run id").to_string();
    w.runbook(["audit", "verify", &id])
        .success()
        .stdout_has("chain intact; it ends at record #")
        .run();
}

#[test]
fn secrets_are_hidden_in_every_shape_in_every_output_and_file() {
    let pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nVJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDu\nictGeurT8jNbvJZHtCSuYEvuNMoSfm76oqFvAp8Gy0iz5sxjZmSn\n-----END PRIVATE KEY-----\n";
    let token = "tok/3n+with=odd&chars-9F2kQ";
    let pb = r#"name: leaky
secrets:
  key: { file: key.pem }
  token: { env: LEAKY_TOKEN }
steps:
  - id: show-key
    shell: "printf '%s\n' {{ secrets.key }}"
  - id: encodings
    shell: |
      printf '%s' {{ secrets.token }} | base64
      printf '%s' {{ secrets.token }} | base64 | tr '+/' '-_' | tr -d '='
      python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' {{ secrets.token }}
      printf 'prefix-%s-suffix' {{ secrets.token }} | base64
  - id: key-encoded
    shell: "printf '%s' {{ secrets.key }} | base64 -w0"
    outputs:
      encoded: "{{ result.stdout }}"
  - id: tell
    notify: { webhook: { url: "http://127.0.0.1:PORT/hook", json: { text: "the token is {{ secrets.token }}", ok: "fine" } } }
  - id: fail-loudly
    shell: "echo {{ secrets.token }} >&2; exit 1"
"#;
    let (port, server) = super::run::http_server(1);
    let pb = pb.replace("PORT", &port.to_string());
    let w = Workspace::new().playbook("leaky", &pb).file("key.pem", pem);
    // The secrets were printed and hidden.
    let out = w
        .runbook(["run", "leaky", "--output", "json"])
        .env("LEAKY_TOKEN", token)
        .status(1)
        .stdout_has("***")
        .run();

    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let key = pem.trim_end();
    let mut needles: Vec<String> = key.lines().filter(|l| l.len() >= 8).map(String::from).collect();
    needles.push(b64.encode(key));
    needles.push(token.into());
    needles.push(b64.encode(token));
    needles.push(b64url.encode(token));
    needles.push(percent_encode(token));
    needles.push(b64.encode(format!("prefix-{token}-suffix"))[8..30].to_string());

    // A message leaving the run carries no secret either.
    let sent = server.join().expect("the webhook server").join("\n");
    assert!(
        sent.contains(r#""text":"***""#) && sent.contains(r#""ok":"fine""#),
        "{sent}"
    );
    let mut texts = vec![
        ("stdout".to_string(), out.stdout.clone()),
        ("stderr".to_string(), out.stderr.clone()),
        ("the webhook's request".to_string(), sent),
    ];
    let mut stack = vec![w.path().join(".runbook")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("dir").flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                texts.push((
                    e.path().display().to_string(),
                    std::fs::read_to_string(e.path()).unwrap_or_default(),
                ));
            }
        }
    }
    for (name, text) in &texts {
        for n in &needles {
            assert!(
                !text.contains(n.as_str()),
                "{name} holds a secret's shape `{n}`:\n{text}"
            );
        }
    }
}

/// RFC 3986 percent-encoding of everything but unreserved characters.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
