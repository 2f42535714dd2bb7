//! The shipped GitOps playbooks (`deploy`, `hotfix`, `rollback`) run end to end on the
//! platform: the repository's workspace against the Kubernetes API test server seeded with
//! the sandbox's world (its ArgoCD controller deploys), the app stand-in scraped by a real
//! Prometheus, and a webhook stand-in for Slack. Each has a happy path and a failure whose
//! rollback is checked on the resulting state.

use runbook_tests::app::{Track, Traffic};
use runbook_tests::kube::pod_waiting;
use runbook_tests::world::{REPO, World, tag};
use serde_json::Value;

const FAST: [&str; 4] = ["-p", "soak=1s", "-p", "watch=2s"];

fn deploy(w: &World, env: &str, version: &str, extra: &[&str]) -> runbook_tests::Output {
    let v = format!("version={version}");
    let mut args = vec![
        "run",
        "deploy",
        "-e",
        env,
        "-p",
        v.as_str(),
        "--non-interactive",
        "--approve",
        "promote",
    ];
    args.extend(FAST);
    args.extend(extra);
    w.p.run(&args)
}

#[test]
fn deploy_goes_to_staging_then_through_a_canary_and_argocd_to_prod() {
    let w = World::new();
    let staged = deploy(&w, "staging", "v1.2.3", &[]);
    assert_eq!(staged.code, 0, "{}", staged.transcript());
    assert_eq!(w.image("staging", "myapp-backend"), format!("{REPO}:v1.2.3"));

    let prod = deploy(&w, "prod", "v1.2.3", &[]);
    assert_eq!(prod.code, 0, "{}", prod.transcript());
    // ArgoCD deployed it: the Application's history says so, and its Deployment runs it.
    assert_eq!(w.image("prod", "myapp-backend"), format!("{REPO}:v1.2.3"));
    assert_eq!(w.history("prod"), ["v1.2.2", "v1.2.3"]);
    let app = w.application("prod");
    assert_eq!(app["status"]["sync"]["status"], "Synced");
    assert_eq!(app["status"]["health"]["status"], "Healthy");
    // The canary ran the new version, and is retired with all traffic back on stable.
    assert_eq!(w.image("prod", "myapp-backend-canary"), format!("{REPO}:v1.2.3"));
    assert_eq!(w.deployment("prod", "myapp-backend-canary")["spec"]["replicas"], 0);
    assert_eq!(w.canary_weight("prod"), 0);
    // The canary was sized to 10% of production (3 replicas: 1 pod) at 10% of the traffic,
    // then ramped: the journal kept every size and split.
    let journal = w.p.last_journal();
    let outputs = |step: &str| -> Value {
        journal
            .iter()
            .find(|r| r["type"] == "step_finished" && r["step"] == step)
            .map(|r| r["outputs"].clone())
            .unwrap_or_default()
    };
    assert_eq!(outputs("deployment")["canary_replicas"], 1, "{journal:?}");
    assert!(
        w.p.slack()
            .iter()
            .any(|t| t.contains("v1.2.3 deployed to prod through ArgoCD")),
        "{:?}",
        w.p.slack()
    );
}

#[test]
fn a_failing_canary_is_rolled_back_and_argocd_never_syncs() {
    let w = World::new();
    w.app.set(
        "staging",
        Track::Canary,
        Traffic {
            error_ratio: 0.2,
            ..Traffic::healthy(5.0)
        },
    );
    w.prom.wait_until(
        r#"sum(rate(http_requests_total{namespace="staging",track="canary",status=~"5.."}[1m]))"#,
        |v| v >= 0.5,
    );
    let out = deploy(&w, "staging", "v1.2.3", &[]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr.contains("canary-error-rate") || out.stderr.contains("canary-errors"),
        "{}",
        out.stderr
    );
    // Everything the canary changed is back; the Application was never synced.
    assert_eq!(w.image("staging", "myapp-backend-canary"), format!("{REPO}:v1.2.2"));
    assert_eq!(w.deployment("staging", "myapp-backend-canary")["spec"]["replicas"], 0);
    assert_eq!(w.canary_weight("staging"), 0);
    assert_eq!(w.history("staging"), ["v1.2.2"]);
    assert_eq!(w.image("staging", "myapp-backend"), format!("{REPO}:v1.2.2"));
    assert!(
        w.p.slack().iter().any(|t| t.contains("FAILED and was rolled back")),
        "{:?}",
        w.p.slack()
    );
}

#[test]
fn a_slow_release_after_promotion_is_rolled_back_through_argocd() {
    let w = World::new();
    // The canary is fast, the whole service is not: the p95 check after the sync fails.
    w.app.set(
        "staging",
        Track::Stable,
        Traffic {
            p95_seconds: 0.45,
            ..Traffic::healthy(50.0)
        },
    );
    w.prom.wait_until(r#"histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{namespace="staging",track="stable"}[1m])))"#, |v| v >= 0.3);
    let out = deploy(&w, "staging", "v1.2.3", &[]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(out.stderr.contains("latency"), "{}", out.stderr);
    assert!(out.stderr.contains("↺ promote undone"), "{}", out.stderr);
    // ArgoCD synced v1.2.3, then the undo synced the revision deployed before.
    assert_eq!(w.history("staging"), ["v1.2.2", "v1.2.3", "v1.2.2"]);
    assert_eq!(w.image("staging", "myapp-backend"), format!("{REPO}:v1.2.2"));
    assert_eq!(tag(&w.application("staging")["spec"]["source"]), "v1.2.2");
    assert_eq!(w.canary_weight("staging"), 0);
}

#[test]
fn rollback_uses_argocd_history_in_prod_and_a_gitops_revert_under_auto_sync() {
    let w = World::new();
    assert_eq!(deploy(&w, "staging", "v1.2.3", &[]).code, 0);
    let ok = deploy(&w, "prod", "v1.2.3", &[]);
    assert_eq!(ok.code, 0, "{}", ok.transcript());

    // prod syncs by hand: an ArgoCD rollback to the previous entry, OutOfSync afterwards.
    let rb = w.p.run(&[
        "run",
        "rollback",
        "-e",
        "prod",
        "--non-interactive",
        "--approve",
        "rollback",
        "-p",
        "reason=bad release",
    ]);
    assert_eq!(rb.code, 0, "{}", rb.transcript());
    assert_eq!(w.image("prod", "myapp-backend"), format!("{REPO}:v1.2.2"));
    assert_eq!(w.application("prod")["status"]["sync"]["status"], "OutOfSync");
    assert!(
        w.p.slack().iter().any(|t| t.contains("Reason: bad release")),
        "{:?}",
        w.p.slack()
    );

    // staging syncs by itself: the previous tag is set and synced instead.
    let rv = w.p.run(&[
        "run",
        "rollback",
        "-e",
        "staging",
        "--non-interactive",
        "--approve",
        "revert",
    ]);
    assert_eq!(rv.code, 0, "{}", rv.transcript());
    assert_eq!(w.image("staging", "myapp-backend"), format!("{REPO}:v1.2.2"));
    assert_eq!(tag(&w.application("staging")["spec"]["source"]), "v1.2.2");
    assert_eq!(w.application("staging")["status"]["sync"]["status"], "Synced");
}

#[test]
fn a_rollback_whose_pods_crash_is_undone_and_pages() {
    let w = World::new();
    assert_eq!(deploy(&w, "staging", "v1.2.3", &[]).code, 0);
    // A pod of the application crash-loops whatever runs: the check after the revert fails,
    // the revert is undone (v1.2.3 again), and the channel is told to escalate.
    w.p.kube.put(pod_waiting(
        "staging",
        "myapp-backend-6b8f-crash",
        &[("app", "myapp-backend"), ("track", "stable")],
        "ip-10-0-1-1",
        "CrashLoopBackOff",
    ));
    let out = w.p.run(&[
        "run",
        "rollback",
        "-e",
        "staging",
        "--non-interactive",
        "--approve",
        "revert",
    ]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(out.stderr.contains("myapp-backend-6b8f-crash"), "{}", out.stderr);
    assert!(out.stderr.contains("↺ revert undone"), "{}", out.stderr);
    assert_eq!(w.image("staging", "myapp-backend"), format!("{REPO}:v1.2.3"));
    assert_eq!(w.history("staging"), ["v1.2.2", "v1.2.3", "v1.2.2", "v1.2.3"]);
    assert!(
        w.p.slack()
            .iter()
            .any(|t| t.contains("Rollback of myapp-backend in staging FAILED")),
        "{:?}",
        w.p.slack()
    );
}

#[test]
fn a_hotfix_needs_an_engineering_lead_and_is_undone_when_the_service_stops_answering() {
    let w = World::new();
    let plan = |extra: &[&str]| {
        let mut args = vec![
            "plan",
            "hotfix",
            "-e",
            "staging",
            "-p",
            "version=v1.2.4",
            "-p",
            "ticket=INC-42",
            "-p",
            "reason=null pointer on checkout",
            "-p",
            "watch=2s",
            "--out",
            "hotfix.json",
        ];
        args.extend(extra);
        w.p.run(&args)
    };
    w.ecr_has(&["v1.2.4", "v1.2.5"]);
    let made = plan(&[]);
    assert_eq!(made.code, 0, "{}", made.transcript());
    // No approval: refused before anything changes.
    let refused = w.p.run(&[
        "run",
        "--plan",
        "hotfix.json",
        "--non-interactive",
        "--approve",
        "deploy",
    ]);
    assert_eq!(refused.code, 4, "{}", refused.transcript());
    assert_eq!(w.history("staging"), ["v1.2.2"]);

    let approved = w.p.run(&["approve", "hotfix.json", "--as", "eng-lead-1"]);
    assert_eq!(approved.code, 0, "{}", approved.transcript());
    let ok = w.p.run(&[
        "run",
        "--plan",
        "hotfix.json",
        "--non-interactive",
        "--approve",
        "deploy",
        "--input",
        "postmortem=done",
    ]);
    assert_eq!(ok.code, 0, "{}", ok.transcript());
    assert_eq!(w.image("staging", "myapp-backend"), format!("{REPO}:v1.2.4"));
    assert_eq!(w.history("staging"), ["v1.2.2", "v1.2.4"]);

    // The next hotfix leaves the service unanswering: its smoke test fails and ArgoCD syncs
    // the revision deployed before.
    let next = w.p.run(&[
        "plan",
        "hotfix",
        "-e",
        "staging",
        "-p",
        "version=v1.2.5",
        "-p",
        "ticket=INC-43",
        "-p",
        "reason=retry storm",
        "-p",
        "watch=2s",
        "--out",
        "hotfix2.json",
    ]);
    assert_eq!(next.code, 0, "{}", next.transcript());
    assert_eq!(w.p.run(&["approve", "hotfix2.json", "--as", "eng-lead-2"]).code, 0);
    w.app.set_healthy(false);
    let failed = w.p.run(&[
        "run",
        "--plan",
        "hotfix2.json",
        "--non-interactive",
        "--approve",
        "deploy",
    ]);
    assert_eq!(failed.code, 1, "{}", failed.transcript());
    assert!(failed.stderr.contains("↺ deploy undone"), "{}", failed.stderr);
    assert_eq!(w.image("staging", "myapp-backend"), format!("{REPO}:v1.2.4"));
    assert_eq!(w.history("staging"), ["v1.2.2", "v1.2.4", "v1.2.5", "v1.2.4"]);
    assert!(
        w.p.slack()
            .iter()
            .any(|t| t.contains("Hotfix v1.2.5 (INC-43) to staging FAILED")),
        "{:?}",
        w.p.slack()
    );
}
