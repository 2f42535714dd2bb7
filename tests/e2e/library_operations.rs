//! The shipped routine-operations playbooks (`daily-health-check`, `weekly-maintenance`,
//! `monthly-maintenance`, `security-audit`) run end to end on the platform (see
//! `library_gitops`): the Kubernetes API test server with the sandbox's world, the app
//! stand-in scraped by a real Prometheus, moto behind the real AWS CLI, and a webhook stand-in
//! for Slack. Each has a happy path and a failure path, checked on what was reported and on
//! the state left behind.

use runbook_tests::app::{Track, Traffic};
use runbook_tests::platform::step_statuses;
use runbook_tests::world::World;

/// The 30-day error budget left in prod, as the daily check computes it.
const BUDGET_PROD: &str = r#"1 - (sum(increase(http_requests_total{namespace="prod",app="myapp-backend",status=~"5.."}[30d])) / sum(increase(http_requests_total{namespace="prod",app="myapp-backend"}[30d]))) / (1 - 0.999)"#;
const P95_PROD: &str = r#"histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{namespace="prod",app="myapp-backend"}[1h])))"#;

/// The ids a daily check's failure message lists: between "Failed: " and " - ".
fn failed_checks(text: &str) -> Vec<String> {
    let rest = text.split_once("Failed: ").map_or("", |(_, r)| r);
    let list = rest.split_once("- `runbook").map_or(rest, |(l, _)| l);
    list.split_whitespace().map(String::from).collect()
}

#[test]
fn the_daily_health_check_is_all_green_with_p95_and_the_error_budget_from_the_slo() {
    let w = World::new();
    let out =
        w.p.run(&["run", "daily-health-check", "-e", "prod", "--non-interactive"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let slack = w.p.slack();
    assert_eq!(slack.len(), 1, "{slack:?}");
    let text = &slack[0];
    assert!(text.contains("all green"), "{text}");
    // Healthy traffic: p95 120 ms against the 200 ms objective, 0.05 % errors spend half of
    // the 0.1 % budget that SLO 99.9 % allows.
    assert!(text.contains("p95 120.0 ms (objective 200 ms)"), "{text}");
    assert!(text.contains("error budget left 50.0% (SLO 0.999)"), "{text}");
    assert!(text.contains("myapp-backend:v1.2.2 (revision 7c3e9a1f"), "{text}");
    let statuses = step_statuses(&w.p.last_journal());
    for check in [
        "nodes",
        "app-available",
        "app-pods",
        "cluster-pods",
        "argocd-sync",
        "recent-deployments",
        "error-budget",
        "p95",
        "grafana",
    ] {
        assert_eq!(
            statuses.get(check).map(String::as_str),
            Some("ok"),
            "{check}: {statuses:?}"
        );
    }
}

#[test]
fn a_daily_check_with_the_budget_spent_and_a_slow_p95_names_exactly_those_checks() {
    let w = World::new();
    // 0.3 % errors: under the 1 % alert, three times the 0.1 % the SLO allows; p95 250 ms
    // (p99 stays under 500 ms).
    w.app.set(
        "prod",
        Track::Stable,
        Traffic {
            error_ratio: 0.003,
            p95_seconds: 0.25,
            ..Traffic::healthy(500.0)
        },
    );
    w.prom.wait_until(BUDGET_PROD, |v| v < -0.5);
    w.prom.wait_until(P95_PROD, |v| v > 0.22);
    // And a new version in Git that nobody synced: prod's Application is OutOfSync.
    let mut app = w.application("prod");
    app["spec"]["source"]["helm"]["parameters"][0]["value"] = "v1.2.3".into();
    w.p.kube.put(app);
    runbook_tests::world::eventually(std::time::Duration::from_secs(10), "OutOfSync", || {
        w.application("prod")["status"]["sync"]["status"] == "OutOfSync"
    });

    let out =
        w.p.run(&["run", "daily-health-check", "-e", "prod", "--non-interactive"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    let slack = w.p.slack();
    assert_eq!(slack.len(), 1, "{slack:?}");
    assert!(slack[0].contains("found problems"), "{}", slack[0]);
    assert_eq!(
        failed_checks(&slack[0]),
        ["argocd-sync", "error-budget", "p95"],
        "{}",
        slack[0]
    );
    let statuses = step_statuses(&w.p.last_journal());
    assert_eq!(statuses.get("errors").map(String::as_str), Some("ok"), "{statuses:?}");
    assert_eq!(
        statuses.get("all-green").map(String::as_str),
        Some("skipped"),
        "{statuses:?}"
    );
    // A check only reads: nothing was synced.
    assert_eq!(w.application("prod")["status"]["sync"]["status"], "OutOfSync");
    assert_eq!(w.history("prod"), ["v1.2.2"]);
    assert_eq!(
        w.image("prod", "myapp-backend"),
        format!("{}:v1.2.2", runbook_tests::world::REPO)
    );
}
