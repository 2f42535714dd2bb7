//! `runbook run`: scheduling, gates, rollback, timeouts, actions and output, driven through
//! the binary against real processes and a real HTTP server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;

use runbook_tests::{Output, Workspace};

/// Runs `runbook` with stdin closed (no terminal) and extra environment variables.
fn run_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    runbook_tests::runbook(dir, args).envs(env).run()
}

fn events(out: &Output) -> Vec<serde_json::Value> {
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

// a → {b, c} → d → e → f: each step writes its id, fails when `fail` names it, and its
// rollback writes undo-<id>.
const DIAMOND: &str = r#"
name: diamond
params:
  fail: { type: enum, values: [none, a, b, c, d, e, f], default: none }
steps:
  - id: a
    shell: "echo a >> log; test {{ params.fail }} != a"
    rollback: { shell: "echo undo-a >> log" }
  - id: b
    needs: [a]
    shell: "echo b >> log; test {{ params.fail }} != b"
    rollback: { shell: "echo undo-b >> log" }
  - id: c
    needs: [a]
    shell: "echo c >> log; test {{ params.fail }} != c"
    rollback: { shell: "echo undo-c >> log" }
  - id: d
    needs: [b, c]
    shell: "echo d >> log; test {{ params.fail }} != d"
    rollback: { shell: "echo undo-d >> log" }
  - id: e
    shell: "echo e >> log; test {{ params.fail }} != e"
    rollback: { shell: "echo undo-e >> log" }
  - id: f
    shell: "echo f >> log; test {{ params.fail }} != f"
    rollback: { shell: "echo undo-f >> log" }
"#;

#[test]
fn rollback_undoes_exactly_what_ran_newest_first_for_a_failure_at_every_step() {
    let needs: &[(&str, &[&str])] = &[
        ("b", &["a"]),
        ("c", &["a"]),
        ("d", &["b", "c"]),
        ("e", &["d"]),
        ("f", &["e"]),
    ];
    for fail in ["a", "b", "c", "d", "e", "f"] {
        let w = Workspace::new().playbook("diamond", DIAMOND);
        let out = run_env(w.path(), &["run", "diamond", "-p", &format!("fail={fail}")], &[]);
        assert_eq!(out.code, 1, "failure at {fail} ends with exit 1:\n{}", out.transcript());
        let log = std::fs::read_to_string(w.path().join("log")).expect("log");
        let lines: Vec<&str> = log.lines().collect();
        let ran: Vec<&str> = lines.iter().copied().filter(|l| !l.starts_with("undo-")).collect();
        let undone: Vec<&str> = lines.iter().filter_map(|l| l.strip_prefix("undo-")).collect();
        // Every step that ran (the failed one included) is undone once, and nothing else.
        let mut a = ran.clone();
        let mut b = undone.clone();
        a.sort();
        b.sort();
        assert_eq!(a, b, "failure at {fail}: ran {ran:?}, undone {undone:?}");
        assert_eq!(
            undone.first(),
            Some(&fail),
            "the failed step is undone first: {undone:?}"
        );
        // A step is undone before anything it needs.
        for (step, deps) in needs {
            for dep in *deps {
                if let (Some(s), Some(d)) = (
                    undone.iter().position(|x| x == step),
                    undone.iter().position(|x| x == dep),
                ) {
                    assert!(
                        s < d,
                        "failure at {fail}: undo-{step} must come before undo-{dep}: {undone:?}"
                    );
                }
            }
        }
        // Nothing runs after the failure is seen: the steps after the failed one never start.
        let order = ["a", "b", "c", "d", "e", "f"];
        let fi = order.iter().position(|x| *x == fail).unwrap_or(0);
        for later in &order[fi.max(3) + 1..] {
            assert!(!ran.contains(later), "failure at {fail}: {later} must not run: {ran:?}");
        }
    }
}

#[test]
fn a_failed_rollback_ends_with_exit_3_and_lists_what_remains() {
    let w = Workspace::new().playbook(
        "bad-undo",
        "name: bad-undo\nsteps:\n  - id: one\n    shell: 'true'\n    rollback: { shell: 'echo undo-one' }\n  - id: two\n    shell: 'true'\n    rollback: { shell: 'exit 7', retry: { attempts: 2, delay: 10ms } }\n  - id: three\n    shell: 'false'\n",
    );
    let out = run_env(w.path(), &["run", "bad-undo"], &[]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    assert!(
        out.stderr.contains("still to undo by hand, in this order:"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("- two: shell: exit 7") && out.stderr.contains("- one: shell: echo undo-one"),
        "{}",
        out.stderr
    );
}

#[test]
fn gates_fail_closed_without_a_terminal_and_approve_opens_exactly_one() {
    let pb = "name: gated\nsteps:\n  - id: safe\n    shell: 'echo safe >> log'\n    rollback: { shell: 'true' }\n  - id: risky\n    risk: high\n    shell: 'echo risky >> log'\n    rollback: { shell: 'true' }\n  - id: also-risky\n    confirm: 'Really?'\n    shell: 'echo also >> log'\n    rollback: { shell: 'true' }\n";
    let w = Workspace::new().playbook("gated", pb);
    let out = run_env(w.path(), &["run", "gated"], &[]);
    assert_eq!(out.code, 4, "{}", out.transcript());
    assert!(
        out.stderr.contains("approve it ahead with --approve risky"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(w.path().join("log")).unwrap_or_default(),
        "safe\n"
    );

    let w = Workspace::new().playbook("gated", pb);
    let out = run_env(w.path(), &["run", "gated", "--approve", "risky"], &[]);
    assert_eq!(
        out.code,
        4,
        "--approve risky does not approve also-risky:\n{}",
        out.transcript()
    );
    assert!(out.stderr.contains("--approve also-risky"), "{}", out.stderr);

    let w = Workspace::new().playbook("gated", pb);
    let out = run_env(
        w.path(),
        &["run", "gated", "--approve", "risky", "--approve", "also-risky"],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.transcript());
    let typo = run_env(w.path(), &["run", "gated", "--approve", "riksy"], &[]);
    assert_eq!(typo.code, 2, "{}", typo.transcript());
    assert!(typo.stderr.contains("did you mean `risky`?"), "{}", typo.stderr);
}

#[test]
fn on_decline_skip_and_input_without_a_terminal() {
    let w = Workspace::new().playbook(
        "ask",
        "name: ask\nsteps:\n  - id: pick\n    input: { prompt: 'Which?', choices: [left, right] }\n  - id: show\n    log: \"picked {{ steps.pick.value }}\"\n",
    );
    let refused = run_env(w.path(), &["run", "ask"], &[]);
    assert_eq!(refused.code, 4, "{}", refused.transcript());
    assert!(refused.stderr.contains("--input pick=VALUE"), "{}", refused.stderr);
    let ok = run_env(
        w.path(),
        &["run", "ask", "--input", "pick=right", "--output", "json"],
        &[],
    );
    assert_eq!(ok.code, 0, "{}", ok.transcript());
    assert!(
        events(&ok)
            .iter()
            .any(|e| e["type"] == "log" && e["message"] == "picked right"),
        "{}",
        ok.stdout
    );
    let bad = run_env(w.path(), &["run", "ask", "--input", "pick=up"], &[]);
    assert_eq!(bad.code, 1, "{}", bad.transcript());
    assert!(bad.stderr.contains("`up` is not one of: left, right"), "{}", bad.stderr);
}

/// Processes whose command line contains `needle`.
pub fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) {
                found.push(format!("{}: {cmd}", entry.file_name().to_string_lossy()));
            }
        }
    }
    found
}

#[test]
fn a_timeout_kills_the_whole_process_group() {
    // Sleep lengths unique to this test run, to find the processes again.
    let n = 1000 + std::process::id() % 9000;
    let pb = format!(
        "name: slow\nsteps:\n  - id: hang\n    timeout: 1s\n    shell: 'sleep {n}.1 & sleep {n}.2'\n    rollback: {{ shell: 'true' }}\n"
    );
    let w = Workspace::new().playbook("slow", &pb);
    let out = run_env(w.path(), &["run", "slow"], &[]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr.contains("timed out after 1s; its process group was killed"),
        "{}",
        out.stderr
    );
    // The engine waits for the group to die before it exits; allow the kernel a moment to reap.
    let gone = runbook_tests::within(std::time::Duration::from_secs(5), || {
        processes_with(&format!("sleep {n}.")).is_empty()
    });
    assert!(
        gone,
        "orphans left behind: {:?}",
        processes_with(&format!("sleep {n}."))
    );
}

#[test]
fn a_param_is_never_shell_code() {
    let marker = std::env::temp_dir().join(format!("runbook-pwned-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let w = Workspace::new().playbook(
        "echo",
        "name: echo\nparams:\n  v: {}\nsteps:\n  - id: say\n    shell: { run: 'echo {{ params.v }}', read_only: true }\n    outputs: { said: '{{ result.stdout | trim }}' }\n",
    );
    let value = format!("x; touch {}", marker.display());
    let out = run_env(
        w.path(),
        &["run", "echo", "-p", &format!("v={value}"), "--output", "json"],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(!marker.exists(), "the param ran as code");
    let finished = events(&out)
        .into_iter()
        .find(|e| e["type"] == "step_finished")
        .expect("step_finished");
    assert_eq!(finished["outputs"]["said"], value);
}

/// A tiny HTTP server on 127.0.0.1: `/health` answers JSON, `/broken` 500; every request is
/// recorded. It stops after `max` requests.
pub fn http_server(max: usize) -> (u16, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for stream in listener.incoming().take(max) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            let mut length = 0usize;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            seen.push(format!("{} {}", request_line.trim(), String::from_utf8_lossy(&body)));
            let (status, text) = if request_line.contains("/health") {
                ("200 OK", r#"{"ok": true, "ready": 3}"#)
            } else if request_line.contains("/broken") {
                ("500 Internal Server Error", "boom")
            } else {
                ("201 Created", "{}")
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
        seen
    });
    (port, handle)
}

#[test]
fn http_steps_talk_to_a_real_server() {
    let (port, server) = http_server(3);
    let pb = format!(
        r#"name: web
steps:
  - id: health
    http: {{ url: "http://127.0.0.1:{port}/health", expect: "result.json.ok" }}
    outputs: {{ ready: "{{{{ result.json.ready }}}}" }}
  - id: enough
    assert: "steps.health.ready == 3"
  - id: deploy
    http: {{ url: "http://127.0.0.1:{port}/deploy", method: POST, json: {{ version: "v1" }}, expect_status: [201] }}
    rollback: {{ shell: "true" }}
  - id: broken
    http: {{ url: "http://127.0.0.1:{port}/broken" }}
"#
    );
    let w = Workspace::new().playbook("web", &pb);
    let out = run_env(w.path(), &["run", "web"], &[]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr
            .contains(&format!("GET http://127.0.0.1:{port}/broken answered 500")),
        "{}",
        out.stderr
    );
    let seen = server.join().expect("server");
    assert!(seen[0].starts_with("GET /health"), "{seen:?}");
    assert!(
        seen[1].starts_with("POST /deploy") && seen[1].contains(r#""version":"v1""#),
        "{seen:?}"
    );
}

#[test]
fn json_events_and_the_concurrency_limit() {
    let mut pb = String::from("name: par\nconcurrency: 3\nsteps:\n");
    for i in 0..9 {
        pb.push_str(&format!("  - id: s{i}\n    needs: []\n    wait: 200ms\n"));
    }
    let w = Workspace::new().playbook("par", &pb);
    let out = run_env(w.path(), &["run", "par", "--output", "json"], &[]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let evs = events(&out);
    assert_eq!(evs.first().map(|e| e["type"].clone()), Some("run_started".into()));
    let last = evs.last().expect("events");
    assert_eq!(last["type"], "run_finished");
    assert_eq!(last["status"], "succeeded");
    let (mut now, mut most) = (0i32, 0i32);
    for e in &evs {
        match e["type"].as_str() {
            Some("step_started") => now += 1,
            Some("step_finished") => now -= 1,
            _ => {}
        }
        most = most.max(now);
    }
    assert_eq!(most, 3, "at most `concurrency` steps run at once, and that many do");
}

#[test]
fn secrets_never_show_in_output() {
    let secret = "s3cr3t-4242";
    let w = Workspace::new().playbook(
        "leak",
        "name: leak\nsecrets:\n  token: { env: LEAK_TOKEN }\nsteps:\n  - id: echo\n    shell: { run: 'echo token={{ secrets.token }}; echo {{ secrets.token }} >&2', read_only: true }\n    outputs: { t: '{{ result.stdout }}' }\n  - id: fail\n    shell: 'echo failing with {{ secrets.token }} >&2; exit 1'\n",
    );
    let out = run_env(
        w.path(),
        &["run", "leak", "--output", "json"],
        &[("LEAK_TOKEN", secret)],
    );
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        !out.stdout.contains(secret) && !out.stderr.contains(secret),
        "{}",
        out.transcript()
    );
    assert!(out.stdout.contains("***"), "{}", out.stdout);
    let missing = run_env(w.path(), &["run", "leak"], &[]);
    assert_eq!(missing.code, 2);
    assert!(
        missing
            .stderr
            .contains("secret `token` is not set: environment variable LEAK_TOKEN is missing"),
        "{}",
        missing.stderr
    );
}

#[test]
fn dry_run_is_the_plan_and_runs_nothing() {
    let w = Workspace::new().playbook(
        "touchy",
        "name: touchy\nsteps:\n  - id: t\n    shell: 'touch ran'\n    rollback: { shell: 'rm -f ran' }\n",
    );
    let out = run_env(w.path(), &["run", "touchy", "--dry-run"], &[]);
    assert_eq!(out.code, 0);
    assert!(
        out.stdout.contains("plan touchy") && out.stdout.contains("shell: touch ran"),
        "{}",
        out.stdout
    );
    assert!(!w.path().join("ran").exists());
}

#[test]
fn a_k8s_step_without_a_cluster_fails_clearly_and_has_nothing_to_undo() {
    let w = Workspace::new().playbook(
        "k",
        "name: k\nsteps:\n  - id: first\n    shell: 'touch ran'\n    rollback: { shell: 'rm -f ran' }\n  - id: scale\n    needs: [first]\n    k8s: { scale: { deployment: web, replicas: 2 } }\n    rollback: auto\n",
    );
    let missing = w.path().join("no-kubeconfig");
    let home = w.path().display().to_string();
    let out = run_env(
        w.path(),
        &["run", "k"],
        &[
            ("KUBECONFIG", missing.to_str().unwrap_or_default()),
            ("HOME", home.as_str()),
        ],
    );
    // It never reached a cluster, so it changed nothing: its undo is "nothing", not a failure.
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("no Kubernetes configuration (kubeconfig or in-cluster)")
            && out.stderr.contains("↺ first undone"),
        "{}",
        out.stderr
    );
    assert!(!w.path().join("ran").exists());
}

#[test]
fn notify_posts_to_slack_and_generic_webhooks() {
    let (port, server) = http_server(2);
    let pb = format!(
        r#"name: tell
secrets:
  hook: {{ env: HOOK_URL }}
steps:
  - id: slack
    notify: {{ slack: {{ webhook: "{{{{ secrets.hook }}}}", text: "deployed {{{{ run.playbook }}}}" }} }}
  - id: generic
    notify: {{ webhook: {{ url: "http://127.0.0.1:{port}/events", json: {{ event: deploy, by: "{{{{ run.user }}}}" }} }} }}
"#
    );
    let w = Workspace::new().playbook("tell", &pb);
    let hook = format!("http://127.0.0.1:{port}/services/T000/B000/XXXX");
    let out = run_env(
        w.path(),
        &["run", "tell"],
        &[("HOOK_URL", &hook), ("RUNBOOK_USER", "alice")],
    );
    assert_eq!(out.code, 0, "{}", out.transcript());
    let seen = server.join().expect("server");
    assert!(
        seen[0].starts_with("POST /services/T000/B000/XXXX") && seen[0].contains(r#"{"text":"deployed tell"}"#),
        "{seen:?}"
    );
    assert!(
        seen[1].starts_with("POST /events") && seen[1].contains(r#""by":"alice""#),
        "{seen:?}"
    );
    // The webhook address is a secret: it never shows.
    assert!(!out.stderr.contains("XXXX"), "{}", out.stderr);
}

#[test]
fn a_playbook_step_runs_another_playbook_as_a_sub_run() {
    let parent = "name: parent\nparams:\n  fail: { default: 'no' }\nsteps:\n  - id: before\n    shell: 'echo before >> log'\n    rollback: { shell: 'echo undo-before >> log' }\n  - id: call\n    playbook: { name: child, params: { who: world, fail: '{{ params.fail }}' } }\n  - id: after\n    shell: 'echo after >> log'\n    rollback: { shell: 'true' }\n";
    let child = "name: child\nparams:\n  who: {}\n  fail: { default: 'no' }\nsteps:\n  - id: hello\n    shell: 'echo hello {{ params.who }} >> log'\n    rollback: { shell: 'echo undo-hello >> log' }\n  - id: gated\n    risk: high\n    shell: 'echo gated >> log; test {{ params.fail }} = no'\n    rollback: { shell: 'echo undo-gated >> log' }\n";
    let w = Workspace::new().playbook("parent", parent).playbook("child", child);

    let closed = run_env(w.path(), &["run", "parent"], &[]);
    assert_eq!(closed.code, 4, "{}", closed.transcript());
    assert!(closed.stderr.contains("--approve call/gated"), "{}", closed.stderr);

    std::fs::remove_file(w.path().join("log")).ok();
    let ok = run_env(
        w.path(),
        &["run", "parent", "--approve", "call/gated", "--output", "json"],
        &[],
    );
    assert_eq!(ok.code, 0, "{}", ok.transcript());
    let log = std::fs::read_to_string(w.path().join("log")).expect("log");
    assert_eq!(log, "before\nhello world\ngated\nafter\n");
    assert!(
        events(&ok)
            .iter()
            .any(|e| e["type"] == "step_finished" && e["step"] == "call/hello"),
        "{}",
        ok.stdout
    );

    // The child fails: it undoes its own steps, then the parent undoes its own.
    std::fs::remove_file(w.path().join("log")).ok();
    let failed = run_env(
        w.path(),
        &["run", "parent", "-p", "fail=yes", "--approve", "call/gated"],
        &[],
    );
    assert_eq!(failed.code, 1, "{}", failed.transcript());
    let log = std::fs::read_to_string(w.path().join("log")).expect("log");
    assert_eq!(log, "before\nhello world\ngated\nundo-gated\nundo-hello\nundo-before\n");

    let typo = run_env(w.path(), &["run", "parent", "--approve", "gated"], &[]);
    assert_eq!(typo.code, 2, "{}", typo.transcript());
    assert!(typo.stderr.contains("did you mean `call/gated`?"), "{}", typo.stderr);
}

#[test]
fn for_each_runs_per_item_and_undoes_each_finished_iteration() {
    let pb = r#"name: fan
steps:
  - id: list
    shell: { run: "echo '[\"n1\", \"n2\", \"n3\", \"n4\"]'", read_only: true }
    outputs: { nodes: "{{ result.json }}" }
  - id: drain
    for_each: "steps.list.nodes"
    as: node
    max_parallel: 1
    shell: "echo {{ node }} >> log; test {{ node }} != n3"
    rollback: { shell: "echo undo-{{ node }} >> log" }
"#;
    let w = Workspace::new().playbook("fan", pb);
    let out = run_env(w.path(), &["run", "fan", "--output", "json"], &[]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    let log = std::fs::read_to_string(w.path().join("log")).expect("log");
    // One at a time; the failure at n3 starts no more; n3, n2, n1 are undone, newest first.
    assert_eq!(log, "n1\nn2\nn3\nundo-n3\nundo-n2\nundo-n1\n");
    let finished: Vec<String> = events(&out)
        .iter()
        .filter(|e| e["type"] == "step_finished")
        .filter_map(|e| e["step"].as_str().map(String::from))
        .collect();
    assert_eq!(finished, ["list", "drain[0]", "drain[1]", "drain[2]"]);
}

#[test]
fn retry_and_until_poll_as_configured() {
    let counter = "n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; echo $n";
    let pb = format!(
        "name: poll\nparams:\n  attempts: {{ type: integer, default: 3 }}\nsteps:\n  - id: flaky\n    shell: {{ run: '{counter}; test $n -ge 3', read_only: true }}\n    retry: {{ attempts: \"{{{{ params.attempts }}}}\", delay: 10ms, backoff: 2 }}\n  - id: ready\n    shell: {{ run: 'cat count', read_only: true }}\n    until: \"result.stdout | trim | int >= 3\"\n    interval: 20ms\n    timeout: 5s\n"
    );
    // `attempts` is an integer field: a template is not accepted there.
    let w = Workspace::new().playbook("poll", &pb);
    let out = run_env(w.path(), &["validate"], &[]);
    assert_eq!(out.code, 2, "{}", out.transcript());

    let pb = pb
        .replace("attempts: \"{{ params.attempts }}\"", "attempts: 3")
        .replace("params:\n  attempts: { type: integer, default: 3 }\n", "");
    let w = Workspace::new().playbook("poll", &pb);
    let out = run_env(w.path(), &["run", "poll", "--output", "json"], &[]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let evs = events(&out);
    let attempts = evs
        .iter()
        .filter(|e| e["type"] == "step_started" && e["step"] == "flaky")
        .count();
    assert_eq!(attempts, 3, "two failures, then success on the third attempt");

    let w = Workspace::new().playbook("poll", &pb.replace("attempts: 3", "attempts: 2"));
    let out = run_env(w.path(), &["run", "poll"], &[]);
    assert_eq!(out.code, 1, "two attempts are not enough:\n{}", out.transcript());

    let never = "name: never\nsteps:\n  - id: wait-for-it\n    shell: { run: 'echo 0', read_only: true }\n    until: \"result.stdout | trim == '1'\"\n    interval: 100ms\n    timeout: 1s\n";
    let w = Workspace::new().playbook("never", never);
    let out = run_env(w.path(), &["run", "never", "--output", "json"], &[]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(out.stderr.contains("still false after"), "{}", out.stderr);
    assert!(events(&out).iter().any(|e| e["type"] == "poll"), "{}", out.stdout);
}
