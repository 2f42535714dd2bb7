//! `k8s` actions and the Lease lock backend through kube, against the Kubernetes API test
//! server (`runbook_tests::kube`) started by each test and reached through a generated kubeconfig.

use runbook_tests::Workspace;
use runbook_tests::kube::{Cluster, KubeServer, deployment, node, pdb, pod};
use serde_json::{Value, json};

/// A workspace whose runs reach `server` through its kubeconfig.
/// The deployment `ns/name` as the server has it.
trait Deploys {
    fn deploy(&self, ns: &str, name: &str) -> Value;
}

impl Deploys for Cluster {
    fn deploy(&self, ns: &str, name: &str) -> Value {
        self.server
            .get("Deployment", Some(ns), name)
            .expect("deployment exists")
    }
}

fn image(d: &Value) -> &str {
    d["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or("")
}

fn revision(d: &Value) -> &str {
    d["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
        .as_str()
        .unwrap_or("")
}

/// A pod a ReplicaSet owns (drain refuses bare pods, as kubectl does).
fn owned_pod(ns: &str, name: &str, app: &str, node_name: &str, owner_kind: &str) -> Value {
    let mut p = pod(ns, name, &[("app", app)], node_name, true);
    p["metadata"]["ownerReferences"] = json!([{
        "apiVersion": "apps/v1", "kind": owner_kind, "name": format!("{app}-rs"), "uid": format!("uid-{app}"), "controller": true
    }]);
    p
}

const DEPLOY: &str = r#"name: deploy
params:
  image: { type: string }
  fail: { type: boolean, default: false }
steps:
  - id: healthy-before
    k8s: { check: { deployment-available: { deployment: web, namespace: prod } } }
  - id: set-image
    needs: [healthy-before]
    k8s: { set-image: { deployment: web, namespace: prod, image: "{{ params.image }}" } }
    rollback: auto
  - id: rollout
    needs: [set-image]
    timeout: 20s
    k8s: { wait: { for: rollout, name: web, namespace: prod } }
  - id: scale-up
    needs: [rollout]
    k8s: { scale: { deployment: web, namespace: prod, replicas: 5 } }
    rollback: auto
  - id: smoke
    needs: [scale-up]
    shell: "test {{ params.fail }} = false"
"#;

#[test]
fn a_deploy_changes_image_and_replicas_and_a_failure_puts_both_back() {
    let c = Cluster::new(Workspace::new().playbook("deploy", DEPLOY));
    c.server.put(deployment("prod", "web", 3, "app:v1"));

    let failed = c.run(&[
        "run",
        "deploy",
        "-p",
        "image=app:v2",
        "-p",
        "fail=true",
        "--output",
        "json",
    ]);
    assert_eq!(failed.code, 1, "{}", failed.transcript());
    let d = c.deploy("prod", "web");
    assert_eq!(image(&d), "app:v1", "{}", failed.transcript());
    assert_eq!(d["spec"]["replicas"], 3);
    // v1 → v2 (revision 2) → v1 again: the first ReplicaSet comes back as revision 3.
    assert_eq!(revision(&d), "3");
    assert!(
        failed.stderr.contains("↺ scale-up undone") && failed.stderr.contains("↺ set-image undone"),
        "{}",
        failed.stderr
    );
    // What was undone is in the journal, as captured before the change.
    assert!(
        failed
            .stdout
            .contains(r#""undo":{"run":{"k8s":{"set-image":{"container":"app","deployment":"web","image":"app:v1""#),
        "{}",
        failed.stdout
    );

    let ok = c.run(&["run", "deploy", "-p", "image=app:v2"]);
    assert_eq!(ok.code, 0, "{}", ok.transcript());
    let d = c.deploy("prod", "web");
    assert_eq!((image(&d), d["spec"]["replicas"].as_i64()), ("app:v2", Some(5)));
    let journal = journal_text(&c.w);
    assert!(
        journal.contains(r#""undo":{"run":{"k8s":{"scale":{"deployment":"web","namespace":"prod","replicas":3}}}}"#),
        "{journal}"
    );
}

fn journal_text(w: &Workspace) -> String {
    let runs = w.path().join(".runbook/runs");
    let mut out = String::new();
    for e in std::fs::read_dir(runs).expect("runs dir").flatten() {
        out.push_str(&std::fs::read_to_string(e.path().join("journal.jsonl")).unwrap_or_default());
    }
    out
}

#[test]
fn undo_goes_back_a_revision_or_to_a_given_one_and_restart_rolls_back() {
    let pb = "name: revs\nsteps:\n  - id: undo\n    k8s: { undo: { deployment: web, namespace: prod } }\n";
    let to = r#"name: revs-to
params:
  to: { type: integer }
steps:
  - id: undo-to
    k8s: { undo: { deployment: web, namespace: prod, to_revision: "{{ params.to }}" } }
"#;
    let restart = r#"name: restart
steps:
  - id: restart
    k8s: { restart: { deployment: web, namespace: prod } }
    rollback: auto
  - id: boom
    needs: [restart]
    shell: "false"
"#;
    let set = "name: set\nparams:\n  image: { type: string }\nsteps:\n  - id: s\n    k8s: { set-image: { deployment: web, namespace: prod, image: \"{{ params.image }}\" } }\n";
    let c = Cluster::new(
        Workspace::new()
            .playbook("revs", pb)
            .playbook("revs-to", to)
            .playbook("restart", restart)
            .playbook("set", set),
    );
    c.server.put(deployment("prod", "web", 2, "app:v1"));
    for v in ["app:v2", "app:v3"] {
        let o = c.run(&["run", "set", "-p", &format!("image={v}")]);
        assert_eq!(o.code, 0, "{}", o.transcript());
    }
    assert_eq!(revision(&c.deploy("prod", "web")), "3");

    let back = c.run(&["run", "revs"]);
    assert_eq!(back.code, 0, "{}", back.transcript());
    assert_eq!(image(&c.deploy("prod", "web")), "app:v2");

    let to1 = c.run(&["run", "revs-to", "-p", "to=1"]);
    assert_eq!(to1.code, 0, "{}", to1.transcript());
    assert_eq!(image(&c.deploy("prod", "web")), "app:v1");

    let missing = c.run(&["run", "revs-to", "-p", "to=42"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("has no revision 42 (it has: "),
        "{}",
        missing.stderr
    );

    // A restart that must be rolled back returns to the template from before it.
    let before = c.deploy("prod", "web")["spec"]["template"].clone();
    let r = c.run(&["run", "restart"]);
    assert_eq!(r.code, 1, "{}", r.transcript());
    assert!(r.stderr.contains("↺ restart undone"), "{}", r.stderr);
    assert_eq!(c.deploy("prod", "web")["spec"]["template"], before);
}

#[test]
fn drain_evicts_within_disruption_budgets_and_a_blocked_drain_uncordons() {
    let pb = r#"name: drain
params:
  node: { type: string }
steps:
  - id: drain
    timeout: 4s
    k8s: { drain: { node: "{{ params.node }}" } }
    rollback: auto
"#;
    let c = Cluster::new(Workspace::new().playbook("drain", pb));
    for n in ["n1", "n2"] {
        c.server.put(node(n, true));
    }
    c.server.put(owned_pod("prod", "web-1", "web", "n1", "ReplicaSet"));
    c.server.put(owned_pod("prod", "web-2", "web", "n1", "ReplicaSet"));
    c.server.put(owned_pod("prod", "web-3", "web", "n2", "ReplicaSet"));
    c.server
        .put(owned_pod("kube-system", "agent-n1", "agent", "n1", "DaemonSet"));
    // Three healthy, at least two must stay: one eviction is allowed, the second is not.
    c.server.put(pdb("prod", "web-pdb", "web", 2));

    let blocked = c.run(&["run", "drain", "-p", "node=n1"]);
    assert_eq!(blocked.code, 1, "{}", blocked.transcript());
    assert!(
        blocked.stderr.contains("disruption budget") && blocked.stderr.contains("did not finish within 4s"),
        "{}",
        blocked.stderr
    );
    let left: Vec<String> = c
        .server
        .list("Pod", Some("prod"))
        .iter()
        .filter_map(|p| p["metadata"]["name"].as_str().map(String::from))
        .collect();
    assert_eq!(left.len(), 2, "one of web-1 and web-2 was evicted: {left:?}");
    // The rollback uncordoned the node it had cordoned.
    let n1 = c.server.get("Node", None, "n1").expect("n1");
    assert_ne!(n1["spec"]["unschedulable"], true, "{n1}");
    assert!(blocked.stderr.contains("↺ drain undone"), "{}", blocked.stderr);
    // The DaemonSet pod is skipped, not evicted.
    assert!(c.server.get("Pod", Some("kube-system"), "agent-n1").is_some());

    c.server.put(pdb("prod", "web-pdb", "web", 0));
    let ok = c.run(&["run", "drain", "-p", "node=n1", "--output", "json"]);
    assert_eq!(ok.code, 0, "{}", ok.transcript());
    assert_eq!(
        c.server.get("Node", None, "n1").expect("n1")["spec"]["unschedulable"],
        true
    );
    assert!(c.server.list("Pod", Some("prod")).len() == 1);
    assert!(
        c.server
            .requests()
            .iter()
            .any(|r| r.starts_with("POST ") && r.contains("/eviction"))
    );

    // Evictions forbidden by RBAC: a plain failure, named, and the node uncordoned again.
    c.server.forbid("create", "pods/eviction");
    let forbidden = c.run(&["run", "drain", "-p", "node=n2"]);
    assert_eq!(forbidden.code, 1, "{}", forbidden.transcript());
    assert!(
        forbidden
            .stderr
            .contains("drain of node n2 failed (0 evicted, 1 not): prod/web-3: evict pod prod/web-3: forbidden ("),
        "{}",
        forbidden.stderr
    );
    assert_ne!(
        c.server.get("Node", None, "n2").expect("n2")["spec"]["unschedulable"],
        true
    );
}

#[test]
fn cordon_checks_health_and_counts_log_lines() {
    let pb = r#"name: health
steps:
  - id: nodes
    k8s: { check: nodes-ready }
"#;
    let pods = r#"name: pods
steps:
  - id: pods
    k8s: { check: { pods-healthy: { selector: app=api, namespace: prod } } }
"#;
    let logs = r#"name: logs
steps:
  - id: logs
    k8s: { logs: { selector: app=web, namespace: prod, tail: 3, pattern: "ERROR" } }
    outputs: { errors: "{{ result.matches }}" }
  - id: gate
    needs: [logs]
    assert: "steps.logs.errors | int < 2"
"#;
    let cordon = "name: cordon\nsteps:\n  - id: c\n    k8s: { cordon: { node: n1 } }\n    rollback: auto\n  - id: boom\n    needs: [c]\n    shell: \"false\"\n";
    let c = Cluster::new(
        Workspace::new()
            .playbook("health", pb)
            .playbook("pods", pods)
            .playbook("logs", logs)
            .playbook("cordon", cordon),
    );
    c.server.put(node("n1", true));
    c.server.put(node("n2", false));
    let h = c.run(&["run", "health"]);
    assert_eq!(h.code, 1);
    assert!(h.stderr.contains("1 of 2 nodes are not Ready: n2"), "{}", h.stderr);

    let mut crashing = pod("prod", "api-1", &[("app", "api")], "n1", false);
    crashing["status"]["containerStatuses"] = json!([{
        "name": "app", "ready": false, "restartCount": 7, "image": "api:v1", "imageID": "",
        "state": { "waiting": { "reason": "CrashLoopBackOff" } }
    }]);
    c.server.put(crashing);
    c.server.put(pod("prod", "api-2", &[("app", "api")], "n1", true));
    let p = c.run(&["run", "pods"]);
    assert_eq!(p.code, 1);
    assert!(
        p.stderr
            .contains("1 of 2 pods matching `app=api` in prod are unhealthy: api-1 (app: CrashLoopBackOff)"),
        "{}",
        p.stderr
    );

    c.server.put(pod("prod", "web-1", &[("app", "web")], "n1", true));
    c.server
        .set_logs("prod", "web-1", "ok\nERROR a\nok\nERROR b\nERROR c\n");
    // tail 3: only the last three lines are read, two of which match.
    let l = c.run(&["run", "logs", "--output", "json"]);
    assert_eq!(l.code, 1, "{}", l.transcript());
    assert!(
        l.stdout.contains(r#""errors":"2""#) || l.stdout.contains(r#""errors":2"#),
        "{}",
        l.stdout
    );

    let co = c.run(&["run", "cordon"]);
    assert_eq!(co.code, 1);
    assert_ne!(
        c.server.get("Node", None, "n1").expect("n1")["spec"]["unschedulable"],
        true
    );
    assert!(co.stderr.contains("↺ c undone"), "{}", co.stderr);
}

#[test]
fn apply_is_undone_by_restoring_and_deleting_what_it_changed() {
    let manifest = r#"apiVersion: v1
kind: ConfigMap
metadata: { name: settings }
data: { mode: "fast" }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: extra }
data: { added: "yes" }
"#;
    let pb = r#"name: apply
params:
  fail: { type: boolean, default: false }
steps:
  - id: apply
    k8s: { apply: { file: manifests/settings.yaml, namespace: prod } }
    rollback: auto
    outputs: { actions: "{{ result.applied | map(attribute='action') | join(',') }}" }
  - id: check
    needs: [apply]
    shell: "test {{ params.fail }} = false"
"#;
    let del = "name: del\nsteps:\n  - id: d\n    confirm: true\n    k8s: { delete: { kind: configmap, name: extra, namespace: prod } }\n";
    let c = Cluster::new(
        Workspace::new()
            .file("manifests/settings.yaml", manifest)
            .playbook("apply", pb)
            .playbook("del", del),
    );
    c.server.put(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": { "name": "settings", "namespace": "prod" }, "data": { "mode": "safe" }
    }));
    let failed = c.run(&["run", "apply", "-p", "fail=true"]);
    assert_eq!(failed.code, 1, "{}", failed.transcript());
    let settings = c.server.get("ConfigMap", Some("prod"), "settings").expect("settings");
    assert_eq!(settings["data"], json!({ "mode": "safe" }));
    assert!(c.server.get("ConfigMap", Some("prod"), "extra").is_none());

    let ok = c.run(&["run", "apply", "--output", "json"]);
    assert_eq!(ok.code, 0, "{}", ok.transcript());
    assert_eq!(
        c.server.get("ConfigMap", Some("prod"), "settings").expect("settings")["data"]["mode"],
        "fast"
    );
    assert!(ok.stdout.contains(r#""actions":"configured,created""#), "{}", ok.stdout);

    for _ in 0..2 {
        // Deleting what is already gone is done: the undo of a create must be repeatable.
        let d = c.run(&["run", "del", "--approve", "d"]);
        assert_eq!(d.code, 0, "{}", d.transcript());
    }
    assert!(c.server.get("ConfigMap", Some("prod"), "extra").is_none());
}

#[test]
fn failures_say_what_and_why() {
    let one =
        |id: &str, action: &str| format!("name: {id}\nsteps:\n  - id: {id}\n    timeout: 3s\n    k8s: {action}\n");
    let w = Workspace::new()
        .playbook("missing", &one("missing", "{ scale: { deployment: nope, namespace: prod, replicas: 2 } }"))
        .playbook("image", &one("image", "{ set-image: { deployment: web, namespace: prod, image: app:v9 } }"))
        .playbook("rollout", &one("rollout", "{ wait: { for: rollout, name: web, namespace: prod } }"))
        .playbook("twoc", &one("twoc", "{ set-image: { deployment: web, namespace: prod, image: x, container: sidecar } }"))
        .file(
            "runbook.yaml",
            "environments:\n  test: {}\n  down:\n    kube_context: unreachable\n  typo:\n    kube_context: nosuch\ndefault_env: test\n",
        );
    let c = Cluster::new(w);
    c.server.put(deployment("prod", "web", 3, "app:v1"));

    let m = c.run(&["run", "missing"]);
    assert_eq!(m.code, 1);
    assert!(
        m.stderr.contains("scale deployment/nope in prod: not found"),
        "{}",
        m.stderr
    );

    let s = c.run(&["run", "twoc"]);
    assert_eq!(s.code, 1);
    assert!(
        s.stderr.contains("has no container `sidecar` (it has: app)"),
        "{}",
        s.stderr
    );

    // Someone else writes the deployment twice between our read and write: we read again.
    c.server.conflict_next("deployments", 2);
    let retried = c.run(&["run", "image"]);
    assert_eq!(retried.code, 0, "{}", retried.transcript());
    assert_eq!(image(&c.deploy("prod", "web")), "app:v9");
    c.server.conflict_next("deployments", 50);
    let conflict = c.run(&["run", "image"]);
    // The image is already v9: nothing to write, so no conflict to lose.
    assert_eq!(conflict.code, 0, "{}", conflict.transcript());
    let o = c.run(&["run", "missing"]);
    assert_eq!(o.code, 1);

    c.server.forbid("update", "deployments");
    c.server.put(deployment("prod", "web", 3, "app:v1"));
    let f = c.run(&["run", "image"]);
    assert_eq!(f.code, 1);
    assert!(
        f.stderr.contains("set image of deployment/web in prod: forbidden (")
            && f.stderr.contains("cannot update resource \"deployments\""),
        "{}",
        f.stderr
    );

    c.server.set_stuck("prod", "web", true);
    c.server.put(deployment("prod", "web", 3, "app:v1"));
    let mut d = c.deploy("prod", "web");
    d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("app:v2");
    c.server.put(d);
    let t = c.run(&["run", "rollout"]);
    assert_eq!(t.code, 1, "{}", t.transcript());
    assert!(
        t.stderr
            .contains("the rollout of deployment/web in prod did not complete within 3s: 0 of 3 new replicas updated"),
        "{}",
        t.stderr
    );
    c.server.set_stuck("prod", "web", false);
    assert_eq!(c.run(&["run", "rollout"]).code, 0);

    let down = c.run(&["run", "rollout", "-e", "down"]);
    assert_eq!(down.code, 1);
    assert!(down.stderr.contains("cannot talk to the API server"), "{}", down.stderr);
    let typo = c.run(&["run", "rollout", "-e", "typo"]);
    assert_eq!(typo.code, 1);
    assert!(typo.stderr.contains("kube context `nosuch`"), "{}", typo.stderr);
}

#[test]
fn conflicts_that_never_end_fail_the_step() {
    let pb = "name: image\nsteps:\n  - id: image\n    k8s: { set-image: { deployment: web, namespace: prod, image: app:v2 } }\n";
    let c = Cluster::new(Workspace::new().playbook("image", pb));
    c.server.put(deployment("prod", "web", 3, "app:v1"));
    c.server.conflict_next("deployments", 50);
    let o = c.run(&["run", "image"]);
    assert_eq!(o.code, 1, "{}", o.transcript());
    assert!(
        o.stderr.contains("conflict (") && o.stderr.contains("kept changing under us (5 attempts)"),
        "{}",
        o.stderr
    );
    assert_eq!(image(&c.deploy("prod", "web")), "app:v1");
}

#[test]
fn dry_run_shows_the_kubectl_line_and_touches_nothing() {
    let c = Cluster::new(Workspace::new().playbook("deploy", DEPLOY));
    c.server.put(deployment("prod", "web", 3, "app:v1"));
    let o = c.run(&["run", "deploy", "-p", "image=app:v2", "--dry-run"]);
    assert_eq!(o.code, 0, "{}", o.transcript());
    assert!(
        o.stdout.contains("set image deployment/web -n prod *=app:v2"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout.contains("scale deployment/web -n prod --replicas=5"),
        "{}",
        o.stdout
    );
    assert!(c.server.requests().is_empty(), "{:?}", c.server.requests());
}

const LEASE_WS: &str = "locks:\n  backend: kubernetes\n  namespace: ops\n  lease_duration: 2s\n";

fn lease(c: &Cluster) -> Value {
    let leases = c.server.list("Lease", Some("ops"));
    assert_eq!(leases.len(), 1, "{leases:?}");
    leases[0].clone()
}

#[test]
fn lease_locks_refuse_while_held_renew_and_take_over_after_expiry() {
    let slow = "name: slow\nsteps:\n  - id: hold\n    wait: 4s\n";
    let c = Cluster::new(Workspace::new().file("runbook.yaml", LEASE_WS).playbook("slow", slow));

    let mut first = c.background(&["run", "slow"]);
    first.wait_for(|l| l.contains(r#""type":"step_started""#));
    let id = first.run_id();
    let held = lease(&c);
    assert_eq!(held["spec"]["holderIdentity"], id.as_str(), "{held}");

    // While the first run renews its Lease, a second one is refused with exit 5, naming it.
    let second = c.run(&["run", "slow"]);
    assert_eq!(second.code, 5, "{}", second.transcript());
    assert!(
        second.stderr.contains(&format!("is held by run {id}")),
        "{}",
        second.stderr
    );
    assert!(
        second.stderr.contains("(Lease ops/runbook-default-slow-"),
        "{}",
        second.stderr
    );
    // Renewed past its 2s duration: still held, renewTime moved on.
    let renewed_at = held["spec"]["renewTime"].clone();
    runbook_tests::eventually(std::time::Duration::from_secs(10), "the Lease is renewed", || {
        lease(&c)["spec"]["renewTime"] != renewed_at
    });
    let rest = first.rest();
    assert!(rest.contains(r#""status":"succeeded""#), "{rest}");
    // Released at the end: the next run takes it at once.
    assert!(lease(&c)["spec"]["holderIdentity"].is_null(), "{}", lease(&c));
    let third = c.run(&["run", "slow"]);
    assert_eq!(third.code, 0, "{}", third.transcript());
}

#[test]
fn an_expired_lease_is_taken_over_and_a_live_one_is_not() {
    let quick = "name: quick\nsteps:\n  - id: q\n    log: hi\n";
    let c = Cluster::new(Workspace::new().file("runbook.yaml", LEASE_WS).playbook("quick", quick));
    // The lock key is `<env>/<playbook>`.
    let name = runbook::lock::lease_name("default/quick");
    let other = |renew: &str| {
        json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": { "name": name, "namespace": "ops",
                "annotations": { "runbook.dev/holder": "{\"run\":\"r-other\",\"user\":\"alice\",\"host\":\"laptop\",\"pid\":7,\"since\":\"2026-11-25T00:00:00Z\"}" } },
            "spec": { "holderIdentity": "r-other", "leaseDurationSeconds": 60, "renewTime": renew, "acquireTime": renew, "leaseTransitions": 4 }
        })
    };
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    c.server.put(other(&now));
    let refused = c.run(&["run", "quick"]);
    assert_eq!(refused.code, 5, "{}", refused.transcript());
    assert!(
        refused
            .stderr
            .contains("is held by run r-other of alice on laptop (pid 7)"),
        "{}",
        refused.stderr
    );

    // Expired an hour ago: taken over (fenced by resourceVersion; a racing writer is retried).
    let old = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    c.server.put(other(&old));
    c.server.conflict_next("leases", 1);
    let ok = c.run(&["run", "quick"]);
    assert_eq!(ok.code, 0, "{}", ok.transcript());
    assert_eq!(lease(&c)["spec"]["leaseTransitions"], 5);
}

#[test]
fn a_resumed_run_rolls_back_with_the_undo_its_journal_kept() {
    let pb = r#"name: resumable
steps:
  - id: scale
    k8s: { scale: { deployment: web, namespace: prod, replicas: 9 } }
    rollback: auto
  - id: hold
    needs: [scale]
    wait: 2s
  - id: boom
    needs: [hold]
    shell: "false"
"#;
    let c = Cluster::new(Workspace::new().playbook("resumable", pb));
    c.server.put(deployment("prod", "web", 3, "app:v1"));
    let mut bg = c.background(&["run", "resumable"]);
    bg.wait_for(|l| l.contains(r#""type":"step_started","step":"hold""#));
    let id = bg.run_id();
    let _ = bg.child.kill(); // SIGKILL: the engine's memory of the undo is gone
    let _ = bg.child.wait();
    assert_eq!(c.deploy("prod", "web")["spec"]["replicas"], 9);

    let resumed = c.run(&["resume", &id]);
    assert_eq!(resumed.code, 1, "{}", resumed.transcript());
    assert!(resumed.stderr.contains("↺ scale undone"), "{}", resumed.stderr);
    assert_eq!(c.deploy("prod", "web")["spec"]["replicas"], 3);
}

#[test]
fn get_reads_objects_and_waits_see_conditions_and_deletions() {
    let pb = r#"name: reads
steps:
  - id: one
    k8s: { get: { kind: deploy, name: web, namespace: prod } }
    outputs: { image: "{{ result.spec.template.spec.containers[0].image }}" }
  - id: many
    k8s: { get: { kind: pods, selector: app=web, namespace: prod } }
    outputs: { count: "{{ result.count }}" }
  - id: ready
    timeout: 3s
    k8s: { wait: { for: condition=Ready, kind: pod, selector: app=web, namespace: prod } }
"#;
    let gone = r#"name: gone
steps:
  - id: delete
    confirm: true
    k8s: { delete: { kind: pod, name: web-1, namespace: prod } }
  - id: gone
    needs: [delete]
    timeout: 3s
    k8s: { wait: { for: delete, kind: pod, name: web-1, namespace: prod } }
"#;
    let c = Cluster::new(Workspace::new().playbook("reads", pb).playbook("gone", gone));
    c.server.put(deployment("prod", "web", 2, "app:v7"));
    c.server.put(pod("prod", "web-1", &[("app", "web")], "n1", true));
    c.server.put(pod("prod", "web-2", &[("app", "web")], "n1", false));

    // web-2 never becomes Ready: the wait names it when the step's time is up.
    let waiting = c.run(&["run", "reads", "--output", "json"]);
    assert_eq!(waiting.code, 1, "{}", waiting.transcript());
    assert!(
        waiting.stdout.contains(r#""image":"app:v7""#) && waiting.stdout.contains(r#""count":2"#),
        "{}",
        waiting.stdout
    );
    assert!(
        waiting
            .stderr
            .contains("waited 3s for pods -l app=web in prod: condition Ready is not True for web-2"),
        "{}",
        waiting.stderr
    );
    c.server.put(pod("prod", "web-2", &[("app", "web")], "n1", true));
    assert_eq!(c.run(&["run", "reads"]).code, 0);

    let deleted = c.run(&["run", "gone", "--approve", "delete"]);
    assert_eq!(deleted.code, 0, "{}", deleted.transcript());
    assert!(c.server.get("Pod", Some("prod"), "web-1").is_none());
}

#[test]
fn the_shipped_scale_playbook_runs_against_a_cluster() {
    let server = KubeServer::start();
    let state = tempfile::tempdir().expect("state dir");
    // The staging environment's context, as runbook.yaml names it.
    let kubeconfig = server
        .write_kubeconfig(state.path(), "eks-staging")
        .display()
        .to_string();
    let slack = runbook_tests::servers::Metrics::start(0.0);
    let hook = format!("http://127.0.0.1:{}/hook", slack.port);
    for n in ["ip-10-0-1-1", "ip-10-0-2-1"] {
        server.put(node(n, true));
    }
    server.put(deployment("staging", "myapp-backend", 3, "myapp-backend:v1.2.3"));
    let root = runbook_tests::repo_root();
    let state_dir = state.path().display().to_string();
    let run = |args: &[&str]| {
        let mut all = vec!["--state-dir", state_dir.as_str(), "run", "scale-app", "-e", "staging"];
        all.extend_from_slice(args);
        runbook_tests::runbook(&root, &all)
            .envs(&[
                ("KUBECONFIG", kubeconfig.as_str()),
                ("SLACK_WEBHOOK_URL", hook.as_str()),
            ])
            .run()
    };

    let ok = run(&["-p", "replicas=5", "--approve", "scale"]);
    assert_eq!(ok.code, 0, "{}", ok.transcript());
    let d = server
        .get("Deployment", Some("staging"), "myapp-backend")
        .expect("deployment");
    assert_eq!(d["spec"]["replicas"], 5);

    // Below the environment's minimum: refused by its precondition, nothing changed.
    let low = run(&["-p", "replicas=1", "--approve", "scale"]);
    assert_eq!(low.code, 1, "{}", low.transcript());
    assert!(
        low.stderr.contains("below the environment's min_replicas"),
        "{}",
        low.stderr
    );
    let d = server
        .get("Deployment", Some("staging"), "myapp-backend")
        .expect("deployment");
    assert_eq!(d["spec"]["replicas"], 5);
}

#[test]
fn runbook_rollback_undoes_a_terminated_runs_k8s_change_with_the_undo_it_journaled() {
    let pb = r#"name: scaled
steps:
  - id: scale
    k8s: { scale: { deployment: web, namespace: prod, replicas: 9 } }
    rollback: auto
  - id: soak
    needs: [scale]
    shell: "echo soaking >> log; sleep 30"
"#;
    let c = Cluster::new(Workspace::new().playbook("scaled", pb));
    c.server.put(deployment("prod", "web", 3, "app:v1"));
    let mut bg = c.background(&["run", "scaled"]);
    bg.wait_for(|l| l.contains(r#""type":"step_started","step":"soak""#));
    let id = bg.run_id();
    let pid = nix::unistd::Pid::from_raw(bg.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    assert_eq!(bg.finish(), 143);
    assert_eq!(
        c.deploy("prod", "web")["spec"]["replicas"],
        9,
        "no rollback without a yes"
    );

    let dry = c.run(&["rollback", &id, "--dry-run"]);
    assert!(dry.stdout.contains("scale: restore"), "{}", dry.transcript());
    let done = c.run(&["rollback", &id]);
    assert_eq!(done.code, 0, "{}", done.transcript());
    assert_eq!(c.deploy("prod", "web")["spec"]["replicas"], 3);
    let again = c.run(&["rollback", &id]);
    assert!(again.stderr.contains("nothing to undo"), "{}", again.transcript());
}
