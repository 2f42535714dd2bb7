//! What the engine does when things go wrong, through the binary: a refusal inside a
//! fan-out, a failure while an approval waits, signals (INT, TERM, HUP) mid-run and
//! `runbook rollback` after them, a journal that cannot be written, and secrets in every
//! shape they travel in.

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use runbook_tests::{Background, Output, Workspace, of_type};
use serde_json::Value;

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    runbook_tests::run_with_env(dir, args, env)
}

/// Waits (with a deadline) until `file` in the workspace holds `text`.
fn wait_for_file(w: &Workspace, file: &str, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !w.lines(file).iter().any(|l| l == text) {
        assert!(
            Instant::now() < deadline,
            "{file} never got `{text}`: {:?}",
            w.lines(file)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for the background run to end, within a deadline; its exit code.
fn exit_code(bg: &mut Background, within: Duration) -> i32 {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = bg.child.try_wait().expect("wait") {
            return status.code().unwrap_or(-1);
        }
        assert!(Instant::now() < deadline, "the run did not end within {within:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
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
    let out = run(
        w.path(),
        &["run", "upgrade", "--non-interactive", "--output", "json"],
        &[],
    );
    assert_eq!(out.code, 4, "{}", out.transcript());
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
    let out = run(w.path(), &["run", "upgrade", "--non-interactive"], &[]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert_eq!(w.lines("log"), vec!["nodes"]);
    assert!(
        out.stderr
            .contains("– delete-old-group skipped: a step it needs was declined part-way"),
        "{}",
        out.stderr
    );

    // Approved ahead, every iteration runs, then the step after it.
    let w = Workspace::new().playbook("upgrade", pb);
    let out = run(w.path(), &["run", "upgrade", "--approve", "drain"], &[]);
    assert_eq!(out.code, 0, "{}", out.transcript());
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
    let out = run(w.path(), &["run", "pending"], &[]);
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
        let mut bg = Background::start(w.path(), &["run", "stoppable", "--approve", "two"], &[]);
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
        let again = run(w.path(), &["run", "stoppable", "--approve", "two", "--dry-run"], &[]);
        assert_eq!(again.code, 0, "{}", again.transcript());
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
    let mut bg = Background::start(w.path(), &["run", "stubborn", "--grace", "1s"], &[]);
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
    let mut bg = Background::start(w.path(), &["run", "stubborn", "--grace", "60s"], &[]);
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
    let mut bg = Background::start(w.path(), &["run", "stoppable", "--approve", "two"], &[]);
    wait_for_file(&w, "log", "slow");
    bg.wait_for(|l| l.contains(r#""type":"run_started""#));
    let id = bg.run_id();
    kill(Pid::from_raw(bg.child.id() as i32), Signal::SIGTERM).expect("signal");
    assert_eq!(exit_code(&mut bg, Duration::from_secs(20)), 143);

    let dry = run(w.path(), &["rollback", &id, "--dry-run"], &[]);
    assert_eq!(dry.code, 0, "{}", dry.transcript());
    assert!(
        dry.stdout.contains("  - slow: shell: echo undo-slow >> log\n  - two: shell: echo undo-two >> log\n  - one: shell: echo undo-one >> log"),
        "{}",
        dry.stdout
    );
    assert_eq!(w.lines("log").len(), 4, "a dry run undoes nothing");

    // `two` is high risk: undoing it needs a yes, as running it did.
    let refused = run(w.path(), &["rollback", &id], &[]);
    assert_eq!(refused.code, 4, "{}", refused.transcript());
    assert!(refused.stderr.contains("--approve two"), "{}", refused.stderr);
    assert_eq!(w.lines("log").last().map(String::as_str), Some("undo-slow"));

    let done = run(w.path(), &["rollback", &id, "--approve", "two"], &[]);
    assert_eq!(done.code, 0, "{}", done.transcript());
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
    let again = run(w.path(), &["rollback", &id, "--approve", "two"], &[]);
    assert_eq!(again.code, 0, "{}", again.transcript());
    assert!(again.stderr.contains("nothing to undo"), "{}", again.stderr);
    assert_eq!(w.lines("log").len(), 7, "undone once");

    // All of it in the run's own chain.
    let verify = run(w.path(), &["audit", "verify", &id], &[]);
    assert_eq!(verify.code, 0, "{}", verify.transcript());
    let records = w.journal();
    assert_eq!(of_type(&records, "rollback_requested").len(), 2);
    assert_eq!(of_type(&records, "rollback_ended").len(), 2);
    let runs = run(w.path(), &["runs"], &[]);
    assert!(runs.stdout.contains("rolled_back"), "{}", runs.stdout);
    // A rolled-back run is not resumed.
    let resume = run(w.path(), &["resume", &id], &[]);
    assert_eq!(resume.code, 2, "{}", resume.transcript());
}

#[test]
fn rollback_of_a_killed_run_waits_for_its_processes_and_undoes_the_step_in_doubt_first() {
    let m = marker(33);
    let pb = format!(
        "name: killed\nsteps:\n  - id: one\n    shell: \"echo one >> log\"\n    rollback: {{ shell: \"echo undo-one >> log\" }}\n  - id: hang\n    shell: \"echo hang >> log; sleep {m}\"\n    rollback: {{ shell: \"echo undo-hang >> log\" }}\n"
    );
    let w = Workspace::new().playbook("killed", &pb);
    let mut bg = Background::start(w.path(), &["run", "killed"], &[]);
    wait_for_file(&w, "log", "hang");
    bg.wait_for(|l| l.contains(r#""type":"run_started""#));
    let id = bg.run_id();
    let _ = bg.child.kill(); // SIGKILL: nothing is journaled, the step's group lives on
    let _ = bg.child.wait();

    let refused = run(w.path(), &["rollback", &id], &[]);
    assert_eq!(refused.code, 5, "{}", refused.transcript());
    assert!(refused.stderr.contains("step `hang`"), "{}", refused.stderr);
    for p in super::run::processes_with(&format!("sleep {m}")) {
        let pid: i32 = p.split(':').next().and_then(|p| p.parse().ok()).expect("pid");
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !super::run::processes_with(&format!("sleep {m}")).is_empty() {
        assert!(Instant::now() < deadline, "the leftover did not die");
        std::thread::sleep(Duration::from_millis(20));
    }
    let done = run(w.path(), &["rollback", &id], &[]);
    assert_eq!(done.code, 0, "{}", done.transcript());
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
    assert_eq!(run(measure.path(), &["run", "sixty"], &[]).code, 0);
    let size = |name: &str| std::fs::metadata(measure.run_dir().join(name)).expect("file").len();
    let (plan, full) = (size("plan.json"), size("journal.jsonl"));
    assert!(
        plan * 2 < full,
        "the test needs a journal well past the plan: {plan} vs {full}"
    );
    // `ulimit -f` counts 512-byte blocks.
    let blocks = (plan + (full - plan) / 4) / 512;

    let w = Workspace::new().playbook("sixty", &pb);
    let bin = runbook_tests::binary();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -f {blocks}; exec \"$0\" --color never run sixty"))
        .arg(&bin)
        .current_dir(w.path())
        .env_remove("RUNBOOK_STATE_DIR")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("runs");
    let code = out.status.code().unwrap_or(-1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("could not be written"), "{stderr}");

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
    let verify = run(w.path(), &["audit", "verify", &id], &[]);
    assert_eq!(verify.code, 0, "{}", verify.transcript());
    assert!(
        verify.stdout.contains("chain intact; it ends at record #"),
        "{}",
        verify.stdout
    );
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
    let out = run(
        w.path(),
        &["run", "leaky", "--output", "json"],
        &[("LEAKY_TOKEN", token)],
    );
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(out.stdout.contains("***"), "the secrets were printed and hidden");

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
