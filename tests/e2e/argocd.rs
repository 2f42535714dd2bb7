//! `argocd` actions against the Kubernetes API test server and its ArgoCD application
//! controller: syncs that deploy, rollbacks through history, undos, waits that name what is not
//! ready, and the lint that catches image changes ArgoCD would undo.

use runbook_tests::Workspace;
use runbook_tests::kube::{Cluster, application, deployment, managed_by};
use runbook_tests::world::tag;
use serde_json::Value;

const REPO: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/myapp-backend";

/// prod's myapp-backend (3 replicas of v1.2.2), deployed by the Application myapp-backend-prod.
fn platform(w: Workspace, automated: Option<bool>) -> Cluster {
    let c = Cluster::new(w);
    c.server.put(managed_by(
        deployment("prod", "myapp-backend", 3, &format!("{REPO}:v1.2.2")),
        "myapp-backend-prod",
    ));
    c.server.put(application(
        "argocd",
        "myapp-backend-prod",
        "prod",
        &format!("{REPO}:v1.2.2"),
        automated,
    ));
    c
}

fn image(c: &Cluster) -> String {
    let d = c
        .server
        .get("Deployment", Some("prod"), "myapp-backend")
        .expect("the deployment");
    d["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn app(c: &Cluster) -> Value {
    c.server
        .get("Application", Some("argocd"), "myapp-backend-prod")
        .expect("the application")
}

fn tags(c: &Cluster) -> Vec<String> {
    app(c)["status"]["history"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| tag(&h["source"]))
        .collect()
}

const DEPLOY: &str = r#"name: gitops-deploy
params:
  version: { type: string }
  fail: { type: boolean, default: false }
steps:
  - id: before
    argocd: { status: { app: myapp-backend-prod } }
    outputs:
      revision: "{{ result.revision }}"
  - id: sync
    argocd: { sync: { app: myapp-backend-prod, set: { image.tag: "{{ params.version }}" } } }
    rollback: auto
    timeout: 20s
  - id: healthy
    argocd: { wait: { app: myapp-backend-prod, revision: "{{ steps.sync.revision }}" } }
    timeout: 5s
  - id: smoke
    shell: "test {{ params.fail }} = false"
"#;

#[test]
fn a_sync_deploys_through_the_application_and_a_failure_syncs_back() {
    let c = platform(Workspace::new().playbook("gitops-deploy", DEPLOY), None);

    let ok = c.run(&["run", "gitops-deploy", "-p", "version=v1.2.3"]);
    assert_eq!(ok.code, 0, "{}", ok.transcript());
    assert_eq!(image(&c), format!("{REPO}:v1.2.3"));
    let a = app(&c);
    assert_eq!(a["status"]["sync"]["status"], "Synced");
    assert_eq!(a["status"]["health"]["status"], "Healthy");
    assert_eq!(tags(&c), ["v1.2.2", "v1.2.3"]);
    assert!(
        a["status"]["history"][1]["initiatedBy"]["username"]
            .as_str()
            .is_some_and(|u| u.starts_with("runbook (run ")),
        "{a}"
    );
    let deployed = a["status"]["sync"]["revision"].clone();

    // The smoke test fails after the sync: the undo puts the source back and syncs the revision
    // that was deployed before.
    let failed = c.run(&["run", "gitops-deploy", "-p", "version=v1.2.4", "-p", "fail=true"]);
    assert_eq!(failed.code, 1, "{}", failed.transcript());
    assert!(failed.stderr.contains("↺ sync undone"), "{}", failed.stderr);
    assert_eq!(image(&c), format!("{REPO}:v1.2.3"));
    let a = app(&c);
    assert_eq!(tags(&c), ["v1.2.2", "v1.2.3", "v1.2.4", "v1.2.3"]);
    assert_eq!(a["status"]["sync"]["revision"], deployed);
    assert_eq!(tag(&a["spec"]["source"]), "v1.2.3");
    assert_eq!(a["status"]["sync"]["status"], "Synced");
}

const ROLLBACK: &str = r#"name: gitops-rollback
steps:
  - id: history
    argocd: { history: { app: myapp-backend-prod, limit: 5 } }
    outputs:
      previous: "{{ result.previous.id }}"
  - id: rollback
    argocd: { rollback: { app: myapp-backend-prod } }
    rollback: auto
    timeout: 20s
  - id: healthy
    argocd: { wait: { app: myapp-backend-prod } }
    timeout: 5s
"#;

#[test]
fn rollback_goes_to_the_previous_history_entry_and_is_refused_under_automated_sync() {
    let w = Workspace::new()
        .playbook("gitops-deploy", DEPLOY)
        .playbook("gitops-rollback", ROLLBACK)
        .playbook(
            "back-to",
            "name: back-to\nsteps:\n  - id: rb\n    argocd: { rollback: { app: myapp-backend-prod, to: 1 } }\n    rollback: auto\n    timeout: 20s\n",
        );
    let c = platform(w, None);
    assert_eq!(c.run(&["run", "gitops-deploy", "-p", "version=v1.2.3"]).code, 0);

    // Back to v1.2.2: deployed, and the Application shows it differs from Git (OutOfSync), so
    // the wait that follows fails naming why.
    let rb = c.run(&["run", "gitops-rollback"]);
    assert_eq!(rb.code, 1, "{}", rb.transcript());
    assert!(
        rb.stderr.contains("is not ready after 5s: sync OutOfSync"),
        "{}",
        rb.stderr
    );
    // The failed run undid its rollback: v1.2.3 again.
    assert_eq!(image(&c), format!("{REPO}:v1.2.3"));
    assert_eq!(tags(&c), ["v1.2.2", "v1.2.3", "v1.2.2", "v1.2.3"]);

    let to_one = c.run(&["run", "back-to"]);
    assert_eq!(to_one.code, 0, "{}", to_one.transcript());
    assert_eq!(image(&c), format!("{REPO}:v1.2.2"));
    assert_eq!(app(&c)["status"]["sync"]["status"], "OutOfSync");

    // Automated sync would put Git's version straight back: refused, nothing changed.
    let mut a = app(&c);
    a["spec"]["syncPolicy"] = serde_json::json!({ "automated": { "selfHeal": false } });
    c.server.put(a);
    let history = tags(&c);
    let refused = c.run(&["run", "back-to"]);
    assert_eq!(refused.code, 1, "{}", refused.transcript());
    assert!(refused.stderr.contains("automated sync is on"), "{}", refused.stderr);
    assert_eq!(tags(&c), history);
}

#[test]
fn failures_name_what_is_not_ready_and_what_did_not_resolve() {
    let w = Workspace::new().playbook("gitops-deploy", DEPLOY).playbook(
        "bad-revision",
        "name: bad-revision\nsteps:\n  - id: sync\n    argocd: { sync: { app: myapp-backend-prod, revision: release-9 } }\n    rollback: auto\n    timeout: 10s\n",
    );
    let c = platform(w, None);

    let bad = c.run(&["run", "bad-revision"]);
    assert_eq!(bad.code, 1, "{}", bad.transcript());
    assert!(
        bad.stderr
            .contains("the operation ended Failed: rpc error: code = Unknown desc = unable to resolve 'release-9'"),
        "{}",
        bad.stderr
    );
    // A failed sync may have applied part of its resources: the undo syncs the revision that
    // was deployed before once more.
    assert!(bad.stderr.contains("↺ sync undone"), "{}", bad.stderr);
    assert_eq!(tags(&c), ["v1.2.2", "v1.2.2"]);

    // The new pods never become available: the wait names the Deployment.
    c.server.set_stuck("prod", "myapp-backend", true);
    let stuck = c.run(&["run", "gitops-deploy", "-p", "version=v1.2.3"]);
    assert_eq!(stuck.code, 1, "{}", stuck.transcript());
    assert!(
        stuck
            .stderr
            .contains("health Progressing; not healthy: Deployment prod/myapp-backend Progressing"),
        "{}",
        stuck.stderr
    );
}

#[test]
fn self_heal_undoes_a_direct_image_change_and_the_lint_says_so_first() {
    let ws = r#"environments:
  prod:
    argocd:
      applications:
        myapp-backend-prod: { namespace: prod, deployments: [myapp-backend], auto_sync: true }
"#;
    let direct = "name: direct\nsteps:\n  - id: set\n    k8s: { set-image: { deployment: myapp-backend, namespace: prod, image: 'x:hotfix' } }\n    rollback: auto\n";
    let w = Workspace::new().file("runbook.yaml", ws).playbook("direct", direct);
    let c = platform(w, Some(true));

    let lint = c.run(&["validate", "-e", "prod"]);
    assert!(
        lint.stderr.contains("gitops-owned")
            && lint.stderr.contains(
                "sets the image of deployment/myapp-backend in prod, which ArgoCD Application `myapp-backend-prod` syncs automatically"
            )
            && lint.stderr.contains("argocd: { sync: { app: myapp-backend-prod"),
        "{}",
        lint.transcript()
    );

    // Run anyway: the step succeeds, and ArgoCD puts Git's image straight back.
    let out = c.run(&["run", "direct", "-e", "prod"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert_eq!(image(&c), format!("{REPO}:v1.2.2"));
    assert_eq!(tags(&c), ["v1.2.2", "v1.2.2"]);
}

#[test]
fn the_plan_shows_the_argocd_lines() {
    let c = platform(Workspace::new().playbook("gitops-deploy", DEPLOY), None);
    let plan = c.run(&["plan", "gitops-deploy", "-p", "version=v1.2.3"]);
    assert_eq!(plan.code, 0, "{}", plan.transcript());
    assert!(
        plan.stdout
            .contains("argocd: app set myapp-backend-prod -p image.tag=v1.2.3 && app sync myapp-backend-prod")
            && plan.stdout.contains("restore the previous source and sync back"),
        "{}",
        plan.stdout
    );
    let dry = c.run(&["run", "gitops-deploy", "-p", "version=v1.2.3", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.transcript());
    assert_eq!(image(&c), format!("{REPO}:v1.2.2"));
}
