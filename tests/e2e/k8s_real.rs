//! The `k8s` actions and the Lease lock against a real cluster, for a workstation with kind
//! or k3d: ignored by default; run with `--run-ignored only` and `RUNBOOK_E2E_KUBECONFIG`
//! naming a kubeconfig (docs/testing.md). Everything happens in a namespace of its own,
//! deleted at the end.

use runbook_tests::{Output, Workspace};

/// The real cluster's kubeconfig. Asked for explicitly (the test is ignored otherwise), so a
/// missing one is a failure, never a silent pass.
fn kubeconfig() -> String {
    std::env::var("RUNBOOK_E2E_KUBECONFIG")
        .ok()
        .filter(|k| !k.is_empty())
        .expect("set RUNBOOK_E2E_KUBECONFIG to the kubeconfig of a real cluster (docs/testing.md)")
}

fn run(w: &Workspace, kc: &str, args: &[&str]) -> Output {
    runbook_tests::runbook(w.path(), args).envs(&[("KUBECONFIG", kc)]).run()
}

const SETUP: &str = r#"name: setup
params:
  ns: { type: string }
steps:
  - id: apply
    k8s:
      apply:
        manifest: |
          apiVersion: v1
          kind: Namespace
          metadata: { name: "{{ params.ns }}" }
          ---
          apiVersion: apps/v1
          kind: Deployment
          metadata: { name: web, namespace: "{{ params.ns }}" }
          spec:
            replicas: 1
            selector: { matchLabels: { app: web } }
            template:
              metadata: { labels: { app: web } }
              spec:
                containers:
                  - { name: app, image: "registry.k8s.io/pause:3.9" }
  - id: rollout
    needs: [apply]
    timeout: 3m
    k8s: { wait: { for: rollout, name: web, namespace: "{{ params.ns }}" } }
  - id: nodes
    k8s: { check: nodes-ready }
"#;

const CHANGE: &str = r#"name: change
params:
  ns: { type: string }
  fail: { type: boolean, default: false }
steps:
  - id: image
    k8s: { set-image: { deployment: web, namespace: "{{ params.ns }}", image: "registry.k8s.io/pause:3.10" } }
    rollback: auto
  - id: scale
    needs: [image]
    k8s: { scale: { deployment: web, namespace: "{{ params.ns }}", replicas: 2 } }
    rollback: auto
  - id: rollout
    needs: [scale]
    timeout: 3m
    k8s: { wait: { for: rollout, name: web, namespace: "{{ params.ns }}" } }
  - id: healthy
    needs: [rollout]
    k8s: { check: { pods-healthy: { selector: app=web, namespace: "{{ params.ns }}" } } }
  - id: maybe-fail
    needs: [healthy]
    shell: "test {{ params.fail }} = false"
"#;

const VERIFY: &str = r#"name: verify
params:
  ns: { type: string }
  image: { type: string }
  replicas: { type: integer }
steps:
  - id: get
    k8s: { get: { kind: deployment, name: web, namespace: "{{ params.ns }}" } }
    outputs:
      image: "{{ result.spec.template.spec.containers[0].image }}"
      replicas: "{{ result.spec.replicas }}"
  - id: same
    needs: [get]
    assert: "steps.get.image == params.image and steps.get.replicas | int == params.replicas"
"#;

const TEARDOWN: &str = r#"name: teardown
params:
  ns: { type: string }
steps:
  - id: delete
    confirm: true
    k8s: { delete: { kind: namespace, name: "{{ params.ns }}" } }
"#;

#[test]
#[ignore = "needs a real cluster: set RUNBOOK_E2E_KUBECONFIG (docs/testing.md)"]
fn a_real_cluster_runs_changes_and_rolls_them_back() {
    let kc = kubeconfig();
    let ns = format!("runbook-e2e-{}", std::process::id());
    // Setup and teardown create and delete the namespace, so they lock with files; the
    // changes in between take a Lease in that namespace.
    let workspace = |config: &str| {
        Workspace::new()
            .file("runbook.yaml", config)
            .playbook("setup", SETUP)
            .playbook("change", CHANGE)
            .playbook("verify", VERIFY)
            .playbook("teardown", TEARDOWN)
    };
    let files = workspace("locks: { backend: file }\n");
    let w = workspace(&format!("locks: {{ backend: kubernetes, namespace: {ns} }}\n"));
    let p = format!("ns={ns}");
    let steps = || -> Result<(), String> {
        let check = |o: Output, want: i32| {
            if o.code == want { Ok(()) } else { Err(o.transcript()) }
        };
        check(run(&files, &kc, &["run", "setup", "-p", &p]), 0)?;
        let verify = |image: &str, replicas: u32| {
            let (image, replicas) = (format!("image={image}"), format!("replicas={replicas}"));
            check(
                run(&w, &kc, &["run", "verify", "-p", &p, "-p", &image, "-p", &replicas]),
                0,
            )
        };
        check(run(&w, &kc, &["run", "change", "-p", &p, "-p", "fail=true"]), 1)?;
        verify("registry.k8s.io/pause:3.9", 1)?;
        check(run(&w, &kc, &["run", "change", "-p", &p]), 0)?;
        verify("registry.k8s.io/pause:3.10", 2)
    };
    let result = steps();
    let down = run(&files, &kc, &["run", "teardown", "-p", &p, "--approve", "delete"]);
    if let Err(t) = result {
        panic!("{t}");
    }
    assert_eq!(down.code, 0, "{}", down.transcript());
}
