//! The shipped playbooks for the runbook's alert responses run end to end on the platform (see
//! `library_gitops`): `incident-crashloop` ("Pods Crash Looping"), `incident-high-error-rate`
//! ("High Error Rate", with `scale-app` as its sub-run) and `scale-app`. Each has a happy path
//! and a failure whose rollback is checked on the resulting state.

use std::time::Duration;

use runbook_tests::app::{Track, Traffic};
use runbook_tests::platform::step_statuses;
use runbook_tests::world::{World, eventually};
use serde_json::{Value, json};

const WAITING: &str = "kube-sandbox/waiting";
const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// The names of staging's application pods, once the pod keeper has made both.
fn staging_pods(w: &World) -> Vec<String> {
    let names = || -> Vec<String> {
        w.p.kube
            .list("Pod", Some("staging"))
            .iter()
            .filter(|p| {
                p["metadata"]["labels"]["app"] == "myapp-backend" && p["metadata"]["labels"]["track"] == "stable"
            })
            .filter_map(|p| p["metadata"]["name"].as_str().map(String::from))
            .collect()
    };
    eventually(Duration::from_secs(20), "staging's two pods", || names().len() == 2);
    names()
}

fn waiting_reason(w: &World, name: &str) -> Option<String> {
    let pod = w.p.kube.get("Pod", Some("staging"), name)?;
    pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
        .as_str()
        .map(String::from)
}

fn template_annotations(w: &World) -> Value {
    w.deployment("staging", "myapp-backend")["spec"]["template"]["metadata"]["annotations"].clone()
}

#[test]
fn a_crash_looping_pod_is_diagnosed_and_a_restart_cures_it() {
    let w = World::new();
    let victim = staging_pods(&w).remove(0);
    let mut pod = w.p.kube.get("Pod", Some("staging"), &victim).expect("the pod");
    pod["metadata"]["annotations"] = json!({ WAITING: "OOMKilled" });
    w.p.kube.put(pod);
    eventually(Duration::from_secs(20), "the crash loop", || {
        waiting_reason(&w, &victim).as_deref() == Some("CrashLoopBackOff")
    });

    let out = w.p.run(&[
        "run",
        "incident-crashloop",
        "-e",
        "staging",
        "--non-interactive",
        "--approve",
        "restart",
        "-p",
        "settle=1s",
    ]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    // The restart replaced the pods: the crashing one is gone, the new ones are healthy.
    assert!(
        template_annotations(&w)[RESTARTED_AT].is_string(),
        "{}",
        template_annotations(&w)
    );
    let pods = staging_pods(&w);
    assert!(!pods.contains(&victim), "{pods:?}");
    assert!(pods.iter().all(|p| waiting_reason(&w, p).is_none()), "{pods:?}");
    let statuses = step_statuses(&w.p.last_journal());
    // The diagnosis read the termination reason, so the OOM advice was given.
    assert_eq!(statuses.get("oom-hint").map(String::as_str), Some("ok"), "{statuses:?}");
    assert!(
        w.p.slack()
            .iter()
            .any(|t| t.contains(&format!("Pod {victim} had terminated with 'OOMKilled'"))),
        "{:?}",
        w.p.slack()
    );
}

#[test]
fn a_crash_loop_that_a_restart_does_not_cure_is_undone_and_escalated() {
    let w = World::new();
    // A release whose every pod crashes: the template itself is bad.
    let mut dep = w.deployment("staging", "myapp-backend");
    dep["spec"]["template"]["metadata"]["annotations"] = json!({ WAITING: "CrashLoopBackOff" });
    w.p.kube.put(dep);
    eventually(Duration::from_secs(20), "the crash loop", || {
        let pods = staging_pods(&w);
        pods.iter()
            .all(|p| waiting_reason(&w, p).as_deref() == Some("CrashLoopBackOff"))
    });
    let revision = |w: &World| {
        w.deployment("staging", "myapp-backend")["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
            .as_str()
            .unwrap_or_default()
            .parse::<u64>()
            .unwrap_or(0)
    };
    let before = revision(&w);

    let out = w.p.run(&[
        "run",
        "incident-crashloop",
        "-e",
        "staging",
        "--non-interactive",
        "--approve",
        "restart",
        "-p",
        "settle=1s",
    ]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(out.stderr.contains("↺ restart undone"), "{}", out.stderr);
    // Restarted (one revision), then undone to the template it had (one more): no restart
    // annotation left to drift from Git, the bad template as it was.
    assert_eq!(revision(&w), before + 2);
    assert_eq!(template_annotations(&w), json!({ WAITING: "CrashLoopBackOff" }));
    let slack = w.p.slack();
    assert!(slack.iter().any(|t| t.contains("is still crash-looping")), "{slack:?}");
    assert!(!slack.iter().any(|t| t.contains("no longer crash-loops")), "{slack:?}");
}

const ERRORS_5M_STAGING: &str = r#"sum(rate(http_requests_total{namespace="staging",app="myapp-backend",status=~"5.."}[5m])) / sum(rate(http_requests_total{namespace="staging",app="myapp-backend"}[5m]))"#;

/// 20 % of staging's requests fail, and Prometheus has seen it.
fn high_error_rate(w: &World) {
    w.app.set(
        "staging",
        Track::Stable,
        Traffic {
            error_ratio: 0.2,
            ..Traffic::healthy(50.0)
        },
    );
    w.prom.wait_until(ERRORS_5M_STAGING, |v| v > 0.05);
}

fn replicas(w: &World) -> i64 {
    w.deployment("staging", "myapp-backend")["spec"]["replicas"]
        .as_i64()
        .unwrap_or(-1)
}

const SCALE_UP: [&str; 11] = [
    "run",
    "incident-high-error-rate",
    "-e",
    "staging",
    "--non-interactive",
    "--input",
    "decide=scale-up",
    "--approve",
    "scale-up",
    "--approve",
    "scale-up/scale",
];

#[test]
fn a_high_error_rate_from_saturation_is_scaled_away_and_announced_when_it_recovers() {
    let w = World::new();
    high_error_rate(&w);
    let mut run = w.p.background(&SCALE_UP);
    // The scale-app sub-run adds the pods; with the load spread, the errors stop.
    eventually(Duration::from_secs(60), "staging scaled to 6", || replicas(&w) == 6);
    w.app.set("staging", Track::Stable, Traffic::healthy(5000.0));
    assert_eq!(run.finish(), 0, "{}", run.stderr());
    assert_eq!(replicas(&w), 6);
    let slack = w.p.slack();
    assert!(
        slack
            .iter()
            .any(|t| t.contains("scaled from 2 to 6 replicas (high error rate)")),
        "{slack:?}"
    );
    assert!(
        slack
            .iter()
            .any(|t| t.contains("HighErrorRate in staging resolved after `scale-up`")),
        "{slack:?}"
    );
    let statuses = step_statuses(&w.p.last_journal());
    assert_eq!(
        statuses.get("rollback").map(String::as_str),
        Some("skipped"),
        "{statuses:?}"
    );
    assert_eq!(
        statuses.get("recent-changes").map(String::as_str),
        Some("ok"),
        "{statuses:?}"
    );
}

#[test]
fn a_scale_up_whose_pods_cannot_start_is_undone_and_the_incident_escalates() {
    let w = World::new();
    high_error_rate(&w);
    // No capacity: the rollout of more replicas passes its progress deadline.
    w.p.kube.set_past_deadline("staging", "myapp-backend");
    let out = w.p.run(&SCALE_UP);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(out.stderr.contains("exceeded its progress deadline"), "{}", out.stderr);
    assert!(out.stderr.contains("↺ scale-up/scale undone"), "{}", out.stderr);
    // scale-app put the replica count back; the incident was not announced as resolved.
    assert_eq!(replicas(&w), 2);
    let slack = w.p.slack();
    assert!(
        slack
            .iter()
            .any(|t| t.contains("to 6 failed; the previous count was restored")),
        "{slack:?}"
    );
    assert!(
        slack
            .iter()
            .any(|t| t.contains("HighErrorRate in staging NOT resolved")),
        "{slack:?}"
    );
    assert!(!slack.iter().any(|t| t.contains("resolved after")), "{slack:?}");
}

#[test]
fn a_scale_whose_new_pods_cannot_start_restores_the_previous_count() {
    let w = World::new();
    w.p.kube.set_past_deadline("staging", "myapp-backend");
    let out = w.p.run(&[
        "run",
        "scale-app",
        "-e",
        "staging",
        "--non-interactive",
        "--approve",
        "scale",
        "-p",
        "replicas=5",
        "-p",
        "reason=load test",
    ]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(out.stderr.contains("↺ scale undone"), "{}", out.stderr);
    assert_eq!(replicas(&w), 2);
    // The count went to 5 and back: the journal has the scale and its undo.
    let journal = w.p.last_journal();
    assert!(
        journal
            .iter()
            .any(|r| r["type"] == "rollback_finished" && r["step"] == "scale"),
        "{journal:?}"
    );
    let slack = w.p.slack();
    assert!(
        slack
            .iter()
            .any(|t| t.contains("Scaling myapp-backend in staging to 5 failed; the previous count was restored")),
        "{slack:?}"
    );
    assert!(!slack.iter().any(|t| t.contains("scaled from")), "{slack:?}");
}
