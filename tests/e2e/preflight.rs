//! `runbook plan NAME --check`: the preflight against the Kubernetes API test server and shell
//! steps. It runs read-only steps and preconditions, dry-runs Kubernetes writes on the server
//! (`dryRun=All`), never runs a mutating step, and persists nothing.

use std::time::{Duration, Instant};

use runbook_tests::kube::{Cluster, KubeServer, deployment, node, pod};
use runbook_tests::{Output, Workspace};
use serde_json::Value;

/// A cluster with a node, a deployment and a pod on the node that a ReplicaSet owns (for
/// the drain's dry-run eviction).
fn seeded(w: Workspace) -> Cluster {
    let c = Cluster::new(w);
    c.server.put(node("node-1", true));
    c.server.put(deployment("prod", "web", 3, "web:1"));
    let mut p = pod("prod", "worker-1", &[("app", "worker")], "node-1", true);
    p["metadata"]["ownerReferences"] = serde_json::json!([{
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "worker-rs", "uid": "uid-worker", "controller": true
    }]);
    c.server.put(p);
    c
}

trait Checks {
    fn check(&self, name: &str, json: bool) -> Output;
    fn assert_unchanged(&self);
}

impl Checks for Cluster {
    fn check(&self, name: &str, json: bool) -> Output {
        let mut args = vec!["plan", name, "--check"];
        if json {
            args.extend(["--format", "json"]);
        }
        runbook_tests::runbook(self.w.path(), &args)
            .envs(&[("KUBECONFIG", self.kubeconfig.as_str())])
            .run()
    }

    /// Nothing the check did reached the cluster's storage.
    fn assert_unchanged(&self) {
        assert_eq!(self.server.writes(), Vec::<String>::new(), "persisted writes");
        let web = self.server.get("Deployment", Some("prod"), "web").expect("web");
        assert_eq!(web["spec"]["replicas"], 3);
        assert_eq!(web["spec"]["template"]["spec"]["containers"][0]["image"], "web:1");
        assert_eq!(self.server.get("ConfigMap", Some("prod"), "settings"), None);
        assert!(
            !self.server.get("Node", None, "node-1").expect("node")["spec"]["unschedulable"]
                .as_bool()
                .unwrap_or(false)
        );
    }
}

const WORKSPACE: &str = "environments:\n  test: { kube_context: test }\ndefault_env: test\n";

const READY: &str = r#"name: ready
params:
  replicas: { type: integer, default: 5 }
steps:
  - id: nodes
    needs: []
    k8s: { check: nodes-ready }
  - id: current
    needs: []
    k8s: { get: { kind: deployment, name: web, namespace: prod } }
    outputs:
      replicas: "{{ result.spec.replicas }}"
  - id: probe
    needs: []
    shell: { run: "touch probed; echo probe", read_only: true }
  - id: scale
    needs: [nodes, current]
    preconditions:
      - name: at least one replica
        assert: "params.replicas >= 1"
      - name: web is available
        k8s: { check: { deployment-available: { deployment: web, namespace: prod } } }
    k8s: { scale: { deployment: web, namespace: prod, replicas: "{{ params.replicas }}" } }
    rollback: auto
  - id: image
    needs: []
    k8s: { set-image: { deployment: web, namespace: prod, image: "web:2" } }
  - id: cordon
    needs: []
    k8s: { cordon: { node: node-1 } }
  - id: drain
    needs: []
    k8s: { drain: { node: node-1 } }
  - id: config
    needs: [current]
    k8s:
      apply:
        manifest: |
          apiVersion: v1
          kind: ConfigMap
          metadata: { name: settings, namespace: prod }
          data: { replicas: "{{ steps.current.replicas }}" }
  - id: rollout
    needs: [scale]
    k8s: { wait: { for: rollout, name: web, namespace: prod } }
  - id: mutate
    needs: []
    shell: "touch mutated"
    outputs:
      stamp: "{{ result.stdout }}"
  - id: after-mutate
    needs: [mutate]
    shell: { run: "echo {{ steps.mutate.stamp }}", read_only: true }
  - id: big-only
    needs: []
    when: "params.replicas > 100"
    confirm: "Delete web?"
    k8s: { delete: { kind: deployment, name: web, namespace: prod } }
"#;

const FAILING: &str = r#"name: failing
steps:
  - id: guarded
    needs: []
    preconditions:
      - name: api is available
        k8s: { check: { deployment-available: { deployment: api, namespace: prod } } }
        message: the api deployment is not there
    shell: "touch guarded"
  - id: holds
    needs: []
    preconditions:
      - name: web is available
        k8s: { check: { deployment-available: { deployment: web, namespace: prod } } }
    k8s: { scale: { deployment: web, namespace: prod, replicas: 4 } }
  - id: bad-name
    needs: []
    k8s:
      apply:
        manifest: |
          apiVersion: v1
          kind: ConfigMap
          metadata: { name: Bad_Name, namespace: prod }
  - id: negative
    needs: []
    k8s:
      apply:
        manifest: |
          apiVersion: apps/v1
          kind: Deployment
          metadata: { name: web, namespace: prod }
          spec: { replicas: -1 }
  - id: unknown-kind
    needs: []
    k8s:
      apply:
        manifest: |
          apiVersion: example.com/v1
          kind: Widget
          metadata: { name: w, namespace: prod }
"#;

fn step<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == id))
        .unwrap_or_else(|| panic!("no step {id} in {report:#}"))
}

/// The text line of a step.
fn line<'a>(out: &'a str, id: &str) -> &'a str {
    // The first line is the header (`check NAME · …`).
    out.lines()
        .skip(1)
        .find(|l| l.split_whitespace().nth(1) == Some(id))
        .unwrap_or_else(|| panic!("no line for {id} in:\n{out}"))
}

#[test]
fn a_check_that_passes_reads_and_dry_runs_and_changes_nothing() {
    let c = seeded(
        Workspace::new()
            .file("runbook.yaml", WORKSPACE)
            .playbook("ready", READY),
    );
    let out = c.check("ready", false);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let text = &out.stdout;
    assert!(line(text, "nodes").starts_with("✓ nodes"), "{text}");
    assert!(line(text, "current").contains("ready: ran: "), "{text}");
    assert!(line(text, "probe").starts_with("✓"), "{text}");
    assert!(
        line(text, "scale").contains("ready: server-side dry run admitted"),
        "{text}"
    );
    assert!(
        text.contains("  ✓ precondition `at least one replica`: ready: holds"),
        "{text}"
    );
    assert!(
        text.contains("  ✓ precondition `web is available`: ready: ran"),
        "{text}"
    );
    assert!(line(text, "image").starts_with("✓"), "{text}");
    assert!(line(text, "cordon").starts_with("✓"), "{text}");
    assert!(line(text, "drain").starts_with("✓"), "{text}");
    // The manifest reads a read-only step's output, which the check has: rendered and dry-run.
    assert!(line(text, "config").starts_with("✓"), "{text}");
    assert!(
        line(text, "rollout").contains("? rollout") && line(text, "rollout").contains("unknown until scale runs"),
        "{text}"
    );
    assert!(line(text, "mutate").contains("not checked: mutating"), "{text}");
    assert!(
        line(text, "after-mutate").contains("unknown until mutate runs"),
        "{text}"
    );
    assert!(
        line(text, "big-only").contains("skipped: `when: params.replicas > 100` is false"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("not checked)"), "{text}");
    assert!(text.contains("nothing would fail"), "{text}");

    // The read-only step ran; the mutating one did not.
    assert!(c.w.path().join("probed").exists(), "the read-only shell step ran");
    assert!(
        !c.w.path().join("mutated").exists(),
        "the mutating shell step never runs"
    );
    // Every write went to the server as a dry run, and nothing was persisted.
    let requests = c.server.requests();
    let writes: Vec<&String> = requests
        .iter()
        .filter(|r| ["PUT ", "PATCH ", "POST ", "DELETE "].iter().any(|m| r.starts_with(m)))
        .collect();
    assert!(
        writes.len() >= 4,
        "scale, set-image, cordon and apply were dry-run: {requests:#?}"
    );
    assert!(writes.iter().all(|w| w.contains("dryRun=All")), "{writes:#?}");
    c.assert_unchanged();
    // No journal, no lock.
    assert!(!c.w.path().join(".runbook").exists(), "a check writes no state");
}

#[test]
fn a_check_that_would_fail_names_why_and_exits_1() {
    let c = seeded(
        Workspace::new()
            .file("runbook.yaml", WORKSPACE)
            .playbook("failing", FAILING),
    );
    let out = c.check("failing", false);
    assert_eq!(out.code, 1, "{}", out.transcript());
    let text = &out.stdout;
    assert!(
        line(text, "guarded")
            .contains("would fail: precondition `api is available` does not hold: the api deployment is not there"),
        "{text}"
    );
    assert!(line(text, "holds").starts_with("✓ holds"), "{text}");
    assert!(line(text, "bad-name").starts_with("✗ bad-name"), "{text}");
    assert!(line(text, "bad-name").contains("Bad_Name"), "{text}");
    assert!(line(text, "negative").contains("spec.replicas"), "{text}");
    assert!(line(text, "unknown-kind").starts_with("✗ unknown-kind"), "{text}");
    assert!(text.contains("the run would fail"), "{text}");
    assert!(!c.w.path().join("guarded").exists());
    c.assert_unchanged();

    // A check prints text or JSON only, and saves no plan.
    for bad in [&["--format", "dot"][..], &["--out", "plan.json"][..]] {
        let mut args = vec!["plan", "failing", "--check"];
        args.extend_from_slice(bad);
        assert_eq!(c.w.run(&args).code, 2, "{bad:?}");
    }

    let json = c.check("failing", true);
    assert_eq!(json.code, 1, "{}", json.transcript());
    let report: Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(report["format"], 1);
    assert_eq!(report["playbook"], "failing");
    assert_eq!(report["env"], "test");
    assert_eq!(report["ok"], false);
    assert!(report["plan_hash"].as_str().is_some_and(|h| h.starts_with("sha256:")));
    let guarded = step(&report, "guarded");
    assert_eq!(guarded["status"], "would_fail");
    assert_eq!(guarded["section"], "steps");
    assert_eq!(guarded["effect"], "mutating");
    assert_eq!(guarded["preconditions"][0]["name"], "api is available");
    assert_eq!(guarded["preconditions"][0]["status"], "would_fail");
    assert_eq!(guarded["preconditions"][0]["how"], "ran");
    let holds = step(&report, "holds");
    assert_eq!(holds["status"], "ready");
    assert_eq!(holds["how"], "dry_run");
    assert_eq!(holds["action"], "k8s scale");
    assert_eq!(step(&report, "bad-name")["status"], "would_fail");
    c.assert_unchanged();
}

#[test]
fn json_marks_unknown_steps_with_the_step_they_wait_for() {
    let c = seeded(
        Workspace::new()
            .file("runbook.yaml", WORKSPACE)
            .playbook("ready", READY),
    );
    let out = c.check("ready", true);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let report: Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(report["ok"], true);
    assert_eq!(report["interrupted"], false);
    let after = step(&report, "after-mutate");
    assert_eq!(after["status"], "unknown");
    assert_eq!(after["until"], "mutate");
    assert_eq!(step(&report, "rollout")["until"], "scale");
    assert_eq!(step(&report, "mutate")["status"], "not_checked");
    assert_eq!(step(&report, "big-only")["status"], "skipped");
    assert_eq!(step(&report, "current")["how"], "ran");
    assert_eq!(step(&report, "scale")["preconditions"][0]["how"], "evaluated");
    assert!(!c.w.path().join("mutated").exists());
    c.assert_unchanged();
}

#[test]
fn secrets_never_show_in_a_check() {
    let pb = r#"name: secretive
secrets:
  token: { env: PREFLIGHT_TOKEN }
steps:
  - id: leak
    shell: { run: "echo {{ secrets.token }} >&2; exit 1", read_only: true }
"#;
    let w = Workspace::new().playbook("secretive", pb);
    let out = runbook_tests::runbook(w.path(), ["plan", "secretive", "--check"])
        .envs(&[("PREFLIGHT_TOKEN", "hunter2-very-secret")])
        .run();
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(out.stdout.contains("✗ leak"), "{}", out.stdout);
    assert!(
        !out.transcript().contains("hunter2-very-secret"),
        "{}",
        out.transcript()
    );

    // Without the secret the run could not start: the check says so and fails.
    let missing = w.run(&["plan", "secretive", "--check"]);
    assert_eq!(missing.code, 1, "{}", missing.transcript());
    assert!(
        missing.stdout.contains("✗ secret `token` is not set"),
        "{}",
        missing.stdout
    );
}

#[test]
fn a_steps_timeout_bounds_its_check() {
    let pb = "name: slow\nsteps:\n  - id: slow\n    timeout: 1s\n    shell: { run: 'sleep 30', read_only: true }\n  - id: note\n    log: checked\n";
    let w = Workspace::new().playbook("slow", pb);
    let started = Instant::now();
    let out = w.run(&["plan", "slow", "--check"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the check waited out the command"
    );
    assert!(
        line(&out.stdout, "slow").contains("would fail: timed out after 1s"),
        "{}",
        out.stdout
    );
    assert!(line(&out.stdout, "note").starts_with("✓ note"), "{}", out.stdout);
}

#[test]
fn a_signal_stops_a_check_cleanly() {
    let n = 3000 + std::process::id() % 6000;
    let pb = format!(
        "name: slow\nsteps:\n  - id: wait\n    shell: {{ run: 'touch started; sleep {n}.7', read_only: true }}\n  - id: later\n    shell: {{ run: 'touch later', read_only: true }}\n"
    );
    let w = Workspace::new().playbook("slow", &pb);
    let mut bg = w.runbook(["plan", "slow", "--check"]).spawn();
    runbook_tests::eventually(Duration::from_secs(20), "the check starts its step", || {
        w.path().join("started").exists()
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(bg.child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("signal the check");
    let code = bg.finish();
    assert_eq!(code, 130, "{}", bg.stderr());
    assert!(!w.path().join("later").exists(), "nothing runs after the signal");
    assert!(
        super::run::processes_with(&format!("sleep {n}.7")).is_empty(),
        "the step's process group was killed"
    );
}

/// The shipped library's `scale-app` checked against the test cluster in its staging context:
/// the read-only steps and the scale's dry run are ready, what follows the scale is unknown.
#[test]
fn the_shipped_scale_playbook_checks_against_a_cluster() {
    let root = runbook_tests::repo_root();
    let read = |p: &str| std::fs::read_to_string(root.join(p)).expect("shipped file");
    let w = Workspace::new()
        .file("runbook.yaml", &read("runbook.yaml"))
        .file("playbooks/scale-app.yaml", &read("playbooks/scale-app.yaml"));
    let server = KubeServer::start();
    let kubeconfig = server.write_kubeconfig(w.path(), "eks-staging").display().to_string();
    for n in ["ip-10-0-1-1", "ip-10-0-2-1"] {
        server.put(node(n, true));
    }
    server.put(deployment("staging", "myapp-backend", 3, "myapp-backend:v1.2.3"));
    let check = |replicas: &str| {
        runbook_tests::runbook(
            w.path(),
            ["plan", "scale-app", "-e", "staging", "-p", replicas, "--check"],
        )
        .envs(&[
            ("KUBECONFIG", kubeconfig.as_str()),
            ("SLACK_WEBHOOK_URL", "http://127.0.0.1:1/hook"),
        ])
        .run()
    };
    let out = check("replicas=5");
    assert_eq!(out.code, 0, "{}", out.transcript());
    let text = &out.stdout;
    assert!(line(text, "current").starts_with("✓ current"), "{text}");
    assert!(line(text, "usage").starts_with("✓ usage"), "{text}");
    assert!(
        line(text, "scale").contains("ready: server-side dry run admitted"),
        "{text}"
    );
    assert!(text.contains("✓ precondition `nodes ready`"), "{text}");
    assert!(line(text, "rollout").contains("? rollout") && line(text, "rollout").contains("unknown until scale runs"));
    assert!(line(text, "available").contains("unknown until scale runs"), "{text}");
    assert!(line(text, "announce").contains("not checked: external"), "{text}");
    assert!(line(text, "notify-failure").contains("not checked"), "{text}");

    // Below the environment's minimum: the precondition would refuse it.
    let low = check("replicas=1");
    assert_eq!(low.code, 1, "{}", low.transcript());
    assert!(
        line(&low.stdout, "scale").contains("below the environment's min_replicas"),
        "{}",
        low.stdout
    );

    assert_eq!(server.writes(), Vec::<String>::new());
    let d = server
        .get("Deployment", Some("staging"), "myapp-backend")
        .expect("deployment");
    assert_eq!(d["spec"]["replicas"], 3);
    assert!(
        !w.path().join(".runbook").exists(),
        "a check writes no journal and takes no lock"
    );
}

#[test]
fn a_sub_playbooks_steps_are_checked_as_the_callers() {
    let w = Workspace::new()
        .file("runbook.yaml", "environments:\n  dev: {}\ndefault_env: dev\n")
        .playbook(
            "parent",
            "name: parent\nsteps:\n  - id: child\n    playbook: { name: child, params: { limit: 1 } }\n  - id: later\n    playbook: { name: child, params: { limit: \"{{ steps.child.status }}\" } }\n",
        )
        .playbook(
            "child",
            "name: child\nparams:\n  limit: { type: string }\nsteps:\n  - id: look\n    shell: { run: \"echo looked >> looked; test {{ params.limit }} = 1\", read_only: true }\n  - id: change\n    needs: [look]\n    shell: \"echo changed >> changed\"\n",
        );
    let out = w.run(&["plan", "parent", "--check", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let report: Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(step(&report, "child/look")["status"], "ready", "{report:#}");
    assert_eq!(step(&report, "child/change")["status"], "not_checked", "{report:#}");
    // A call whose params are known only at run time is not looked into.
    assert!(
        report["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .all(|s| !s["id"].as_str().unwrap_or("").starts_with("later/")),
        "{report:#}"
    );
    assert_eq!(w.lines("looked"), ["looked"]);
    assert!(
        !w.path().join("changed").exists(),
        "a mutating step of the sub-playbook ran"
    );
}
