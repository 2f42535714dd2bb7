//! The shipped incident playbooks for the runbook's troubleshooting procedures run end to end
//! on the platform (see `library_gitops`): pods not starting, service unavailable, database
//! connection failures, high memory and P1. Each has a happy path and a failure whose rollback
//! is checked on the resulting state.

use std::time::Duration;

use runbook_tests::kube::pod;
use runbook_tests::world::{World, eventually, tag};
use serde_json::json;

/// A pod of staging's application that cannot be scheduled, and the event that says why.
fn unschedulable(w: &World) {
    let mut p = pod(
        "staging",
        "myapp-backend-7d9f-x2x",
        &[("app", "myapp-backend")],
        "",
        false,
    );
    p["status"] = json!({ "phase": "Pending", "conditions": [{ "type": "PodScheduled", "status": "False", "reason": "Unschedulable" }] });
    w.p.kube.put(p);
    w.p.kube.backdate("Pod", Some("staging"), "myapp-backend-7d9f-x2x", 600);
    w.p.kube.put(json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": { "name": "myapp-backend-7d9f-x2x.1", "namespace": "staging" },
        "involvedObject": { "kind": "Pod", "name": "myapp-backend-7d9f-x2x", "namespace": "staging" },
        "reason": "FailedScheduling", "type": "Warning",
        "message": "0/3 nodes are available: 3 Insufficient memory.",
    }));
}

#[test]
fn pods_pending_for_capacity_get_more_nodes_and_start() {
    let w = World::new();
    w.ecr_has(&["v1.2.2"]);
    unschedulable(&w);
    w.p.stand_in_answers(
        "eksctl",
        r#"[{"Cluster":"eks-staging","Name":"ng-staging","DesiredCapacity":3}]"#,
        0,
    );
    let mut run = w.p.background(&[
        "run",
        "incident-pods-pending",
        "-e",
        "staging",
        "--non-interactive",
        "--approve",
        "add-nodes",
    ]);
    // The nodes come: the scheduler places the pod.
    eventually(Duration::from_secs(60), "eksctl scale", || {
        w.p.calls().iter().any(|c| c.starts_with("eksctl scale nodegroup"))
    });
    w.p.kube.put(pod(
        "staging",
        "myapp-backend-7d9f-x2x",
        &[("app", "myapp-backend")],
        "ip-10-0-1-1",
        true,
    ));
    assert_eq!(run.finish(), 0, "{}", run.stderr());
    assert_eq!(
        w.p.calls()
            .iter()
            .filter(|c| c.starts_with("eksctl"))
            .cloned()
            .collect::<Vec<_>>(),
        [
            "eksctl get nodegroup --cluster=eks-staging --name=ng-staging -o json",
            "eksctl scale nodegroup --cluster=eks-staging --name=ng-staging --nodes=5",
        ]
    );
}

#[test]
fn pods_that_also_miss_their_image_fail_and_the_nodes_go_back() {
    let w = World::new();
    w.ecr_has(&["v1.0.0"]);
    unschedulable(&w);
    w.p.stand_in_answers("eksctl", r#"[{"DesiredCapacity":3}]"#, 0);
    let out = w.p.run(&[
        "run",
        "incident-pods-pending",
        "-e",
        "staging",
        "--non-interactive",
        "--approve",
        "add-nodes",
        "-p",
        "nodes=4",
    ]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr.contains("the image the pods need is not in ECR") && out.stderr.contains("imageTag:'v1.2.2'"),
        "{}",
        out.stderr
    );
    let eksctl: Vec<String> = w.p.calls().into_iter().filter(|c| c.contains("scale")).collect();
    assert_eq!(
        eksctl,
        [
            "eksctl scale nodegroup --cluster=eks-staging --name=ng-staging --nodes=4",
            "eksctl scale nodegroup --cluster=eks-staging --name=ng-staging --nodes=3",
        ]
    );
}

fn broken_service(w: &World) {
    let mut svc =
        w.p.kube
            .get("Service", Some("staging"), "myapp-backend")
            .expect("the Service");
    svc["spec"]["selector"] = json!({ "app": "myapp-backend-old" });
    w.p.kube.put(svc);
    w.p.kube.put(json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": { "name": "myapp-backend", "namespace": "staging" },
        "subsets": [],
    }));
}

#[test]
fn a_service_that_selects_nothing_is_reapplied() {
    let w = World::new();
    broken_service(&w);
    let out = w.p.run(&[
        "run",
        "incident-service-unavailable",
        "-e",
        "staging",
        "--non-interactive",
        "--approve",
        "reapply",
    ]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let svc =
        w.p.kube
            .get("Service", Some("staging"), "myapp-backend")
            .expect("the Service");
    assert_eq!(svc["spec"]["selector"], json!({ "app": "myapp-backend" }));
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080);
    assert!(
        w.p.slack().iter().any(|t| t.contains("answers again")),
        "{:?}",
        w.p.slack()
    );
}

#[test]
fn a_service_reapplied_in_vain_is_put_back_as_it_was() {
    let w = World::new();
    broken_service(&w);
    w.app.set_healthy(false);
    let out = w.p.run(&[
        "run",
        "incident-service-unavailable",
        "-e",
        "staging",
        "--non-interactive",
        "--approve",
        "reapply",
    ]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(out.stderr.contains("↺ reapply undone"), "{}", out.stderr);
    let svc =
        w.p.kube
            .get("Service", Some("staging"), "myapp-backend")
            .expect("the Service");
    assert_eq!(svc["spec"]["selector"], json!({ "app": "myapp-backend-old" }));
}

/// Staging's database, its pods logging connection errors, and the new credentials in the
/// runner's environment.
fn db_trouble(w: &mut World) {
    w.p.moto.boto3(
        "rds.create_db_instance(DBInstanceIdentifier='myapp-staging', DBInstanceClass='db.t4g.medium', Engine='postgres', MasterUsername='app', MasterUserPassword='old-password-1')",
    );
    for name in ["myapp-backend-5c7-a", "myapp-backend-5c7-b"] {
        w.p.kube
            .put(pod("staging", name, &[("app", "myapp-backend")], "ip-10-0-1-1", true));
        w.p.kube.set_logs(
            "staging",
            name,
            "INFO started\nERROR db: password authentication failed for user \"app\"\nERROR db: connection refused\n",
        );
    }
    w.p.set_env("DB_USERNAME", "app");
    w.p.set_env("DB_PASSWORD", "rotated-s3cret-value");
}

fn restarted(w: &World) -> bool {
    !w.deployment("staging", "myapp-backend")["spec"]["template"]["metadata"]["annotations"]
        ["kubectl.kubernetes.io/restartedAt"]
        .is_null()
}

#[test]
fn rotated_database_credentials_are_written_and_the_pods_restarted() {
    let mut w = World::new();
    db_trouble(&mut w);
    let mut run = w.p.background(&[
        "run",
        "incident-db-connection",
        "-e",
        "staging",
        "--non-interactive",
        "--approve",
        "credentials",
        "--approve",
        "restart",
    ]);
    // The restarted pods connect: their logs are clean.
    eventually(Duration::from_secs(60), "the restart", || restarted(&w));
    for name in ["myapp-backend-5c7-a", "myapp-backend-5c7-b"] {
        w.p.kube.set_logs("staging", name, "INFO started\nINFO db: connected\n");
    }
    assert_eq!(run.finish(), 0, "{}", run.stderr());
    let secret =
        w.p.kube
            .get("Secret", Some("staging"), "database-credentials")
            .expect("the Secret");
    let text = secret.to_string();
    assert!(
        text.contains("rotated-s3cret-value") || text.contains("cm90YXRlZC1zM2NyZXQtdmFsdWU="),
        "{secret}"
    );
    // The password never shows in what the run printed or journaled.
    assert!(!run.stderr().contains("rotated-s3cret-value"));
    let journal = std::fs::read_to_string(
        w.p.path()
            .join(".runbook/runs")
            .join(run.run_id())
            .join("journal.jsonl"),
    )
    .expect("the journal");
    assert!(!journal.contains("rotated-s3cret-value"));
}

#[test]
fn credentials_that_do_not_bring_the_service_back_are_undone() {
    let mut w = World::new();
    db_trouble(&mut w);
    let before =
        w.p.kube
            .get("Secret", Some("staging"), "database-credentials")
            .expect("the Secret");
    let revision =
        w.deployment("staging", "myapp-backend")["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
            .clone();
    w.app.set_healthy(false);
    let mut run = w.p.background(&[
        "run",
        "incident-db-connection",
        "-e",
        "staging",
        "--non-interactive",
        "--approve",
        "credentials",
        "--approve",
        "restart",
    ]);
    eventually(Duration::from_secs(60), "the restart", || restarted(&w));
    for name in ["myapp-backend-5c7-a", "myapp-backend-5c7-b"] {
        w.p.kube.set_logs("staging", name, "INFO started\n");
    }
    assert_eq!(run.finish(), 1, "{}", run.stderr());
    let after =
        w.p.kube
            .get("Secret", Some("staging"), "database-credentials")
            .expect("the Secret");
    assert_eq!(after["data"], before["data"]);
    assert!(after.get("stringData").is_none_or(|s| s.is_null()), "{after}");
    let rolled = w.deployment("staging", "myapp-backend");
    assert!(
        rolled["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].is_null(),
        "{rolled}"
    );
    assert_ne!(
        rolled["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        revision
    );
}

#[test]
fn high_memory_scales_out_and_raises_the_limit_through_argocd() {
    let w = World::new();
    w.app.set_memory("staging", 0.95);
    w.prom
        .wait_until(r#"max(container_memory_working_set_bytes{namespace="staging"})"#, |v| {
            v >= 1.0
        });
    let mut run = w.p.background(&[
        "run",
        "incident-high-memory",
        "-e",
        "staging",
        "--non-interactive",
        "-p",
        "memory_limit=1Gi",
        "--approve",
        "scale",
        "--approve",
        "raise-limit",
    ]);
    eventually(Duration::from_secs(60), "the new limit", || {
        w.deployment("staging", "myapp-backend")["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
            == "1Gi"
    });
    w.app.set_memory("staging", 0.5);
    assert_eq!(run.finish(), 0, "{}", run.stderr());
    assert_eq!(w.deployment("staging", "myapp-backend")["spec"]["replicas"], 5);
    let source = &w.application("staging")["spec"]["source"];
    assert!(source.to_string().contains("resources.limits.memory"), "{source}");
    assert_eq!(tag(source), "v1.2.2");
}

#[test]
fn high_memory_whose_limit_cannot_be_raised_scales_back() {
    let w = World::new();
    w.app.set_memory("staging", 0.95);
    w.prom
        .wait_until(r#"max(container_memory_working_set_bytes{namespace="staging"})"#, |v| {
            v >= 1.0
        });
    let replicas = w.deployment("staging", "myapp-backend")["spec"]["replicas"].clone();
    w.p.kube.forbid("update", "applications");
    let out = w.p.run(&[
        "run",
        "incident-high-memory",
        "-e",
        "staging",
        "--non-interactive",
        "-p",
        "memory_limit=1Gi",
        "--approve",
        "scale",
        "--approve",
        "raise-limit",
    ]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(out.stderr.contains("forbidden"), "{}", out.stderr);
    assert_eq!(w.deployment("staging", "myapp-backend")["spec"]["replicas"], replicas);
}

fn flags(w: &World, value: &str) {
    w.p.kube.put(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": { "name": "myapp-backend-feature-flags", "namespace": "staging" },
        "data": { "checkout": value, "search": "true" },
    }));
}

fn flag(w: &World) -> serde_json::Value {
    w.p.kube
        .get("ConfigMap", Some("staging"), "myapp-backend-feature-flags")
        .expect("the flags")["data"]["checkout"]
        .clone()
}

#[test]
fn a_p1_is_contained_by_turning_the_feature_off() {
    let w = World::new();
    flags(&w, "true");
    let out = w.p.run(&[
        "run",
        "incident-p1",
        "-e",
        "staging",
        "--non-interactive",
        "-p",
        "feature=checkout",
        "-p",
        "watch=1s",
        "--input",
        "isolate=flag-off",
        "--approve",
        "flag-off",
    ]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert_eq!(flag(&w), "false");
    let incidents = w.incidents();
    assert!(
        incidents
            .iter()
            .any(|t| t.contains("P1 in staging: feature `checkout`")),
        "{incidents:?}"
    );
    assert!(
        incidents.iter().any(|t| t.contains("P1 in staging resolved")),
        "{incidents:?}"
    );
}

#[test]
fn a_p1_that_stays_down_puts_the_flag_back_and_says_so() {
    let w = World::new();
    flags(&w, "true");
    w.app.set_healthy(false);
    let out = w.p.run(&[
        "run",
        "incident-p1",
        "-e",
        "staging",
        "--non-interactive",
        "-p",
        "feature=checkout",
        "-p",
        "watch=1s",
        "--input",
        "isolate=flag-off",
        "--approve",
        "flag-off",
    ]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert_eq!(flag(&w), "true");
    assert!(
        w.incidents().iter().any(|t| t.contains("STILL down")),
        "{:?}",
        w.incidents()
    );
}

fn p0(w: &World, decide: &str, approve: &str) -> runbook_tests::Output {
    let input = format!("decide={decide}");
    w.p.run(&[
        "run",
        "incident-p0",
        "-e",
        "staging",
        "--non-interactive",
        "-p",
        "incident_id=INC-7",
        "-p",
        "summary=checkout returns 503",
        "--input",
        &input,
        "--approve",
        approve,
    ])
}

#[test]
fn a_p0_is_announced_in_incidents_and_the_emergency_configuration_brings_the_service_back() {
    let w = World::new();
    let out = p0(&w, "emergency-config", "emergency-config");
    assert_eq!(out.code, 0, "{}", out.transcript());
    let cm =
        w.p.kube
            .get("ConfigMap", Some("staging"), "myapp-backend-emergency")
            .expect("the emergency configuration");
    assert_eq!(cm["data"]["DEGRADED_MODE"], "true");
    let incidents = w.incidents();
    // The escalation's announcement, the responder's notice and the recovery, in #incidents.
    assert!(incidents.iter().any(|t| t.contains("incident-p0")), "{incidents:?}");
    assert!(
        incidents
            .iter()
            .any(|t| t.contains("P0 INC-7 in staging: checkout returns 503")),
        "{incidents:?}"
    );
    assert!(
        incidents
            .iter()
            .any(|t| t.contains("service recovered after `emergency-config`")),
        "{incidents:?}"
    );
}

#[test]
fn a_p0_that_does_not_recover_keeps_its_remediation_and_escalates() {
    let w = World::new();
    w.app.set_healthy(false);
    let out = p0(&w, "scale-up", "scale-up");
    assert_eq!(out.code, 1, "{}", out.transcript());
    // A scale-up during an outage is never undone by a failed check: 10 replicas stay.
    assert_eq!(w.deployment("staging", "myapp-backend")["spec"]["replicas"], 10);
    assert!(!out.stderr.contains("↺ scale-up undone"), "{}", out.stderr);
    assert!(
        w.incidents()
            .iter()
            .any(|t| t.contains("P0 INC-7 in staging is NOT resolved")),
        "{:?}",
        w.incidents()
    );
}
