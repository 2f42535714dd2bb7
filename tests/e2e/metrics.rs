//! The `prometheus` action and guards against a real Prometheus server scraping a metrics
//! endpoint whose value the test changes.

use runbook_tests::servers::{Metrics, Prometheus};
use runbook_tests::{Workspace, run};

#[test]
fn the_prometheus_action_reads_one_value_and_checks_expect() {
    let metrics = Metrics::start(0.001);
    let prom = Prometheus::start(metrics.port);
    prom.wait_for("app_error_ratio", 0.001);
    let pb = |query: &str, extra: &str| {
        format!(
            "name: rate\nsteps:\n  - id: check\n    prometheus: {{ url: \"{}\", query: '{query}', expect: \"value < 0.01\"{extra} }}\n    outputs: {{ v: \"{{{{ result.value }}}}\" }}\n  - id: show\n    log: \"error ratio {{{{ steps.check.v }}}}\"\n",
            prom.url()
        )
    };
    let w = Workspace::new().playbook("rate", &pb("app_error_ratio", ""));
    let ok = run(w.path(), &["run", "rate", "--output", "json"]);
    assert_eq!(ok.code, 0, "{}", ok.transcript());
    assert!(ok.stdout.contains("\"message\":\"error ratio 0.001\""), "{}", ok.stdout);

    metrics.set(0.2);
    prom.wait_for("app_error_ratio", 0.2);
    let bad = run(w.path(), &["run", "rate"]);
    assert_eq!(bad.code, 1, "{}", bad.transcript());
    assert!(
        bad.stderr.contains("expect `value < 0.01` does not hold (value = 0.2)"),
        "{}",
        bad.stderr
    );

    let w = Workspace::new().playbook("rate", &pb("no_such_metric", ""));
    let empty = run(w.path(), &["run", "rate"]);
    assert_eq!(empty.code, 1);
    assert!(empty.stderr.contains("the result is empty"), "{}", empty.stderr);

    let w = Workspace::new().playbook("rate", &pb("{__name__=~\"app_error_ratio|up\"}", ""));
    let many = run(w.path(), &["run", "rate"]);
    assert_eq!(many.code, 1);
    assert!(
        many.stderr.contains("the result has 2 series; give `aggregate`"),
        "{}",
        many.stderr
    );
    let w = Workspace::new().playbook(
        "rate",
        &pb("{__name__=~\"app_error_ratio|up\"}", ", aggregate: count").replace("value < 0.01", "value == 2"),
    );
    let counted = run(w.path(), &["run", "rate"]);
    assert_eq!(counted.code, 0, "{}", counted.transcript());

    let w = Workspace::new().playbook(
        "rate",
        &pb("app_error_ratio", "").replace(&prom.url(), "http://127.0.0.1:9"),
    );
    let down = run(w.path(), &["run", "rate"]);
    assert_eq!(down.code, 1);
    assert!(
        down.stderr.contains("prometheus at http://127.0.0.1:9:"),
        "{}",
        down.stderr
    );
}

#[test]
fn a_guard_trips_the_run_into_rollback_when_the_error_rate_rises() {
    let metrics = Metrics::start(0.001);
    let prom = Prometheus::start(metrics.port);
    prom.wait_for("app_error_ratio", 0.001);
    let pb = format!(
        r#"name: canary
guards:
  - name: error-rate
    prometheus: {{ url: "{}", query: app_error_ratio }}
    abort_if: "value > 0.05"
    every: 500ms
steps:
  - id: prepare
    shell: "touch prepared"
    rollback: {{ shell: "rm -f prepared" }}
  - id: soak
    wait: 60s
  - id: promote
    shell: "touch promoted"
    rollback: {{ shell: "true" }}
"#,
        prom.url()
    );
    let w = Workspace::new().playbook("canary", &pb);
    let mut bg = w.runbook(["run", "canary"]).start();
    bg.wait_for(|l| l.contains("\"step_started\"") && l.contains("\"step\":\"soak\""));
    metrics.set(0.3);
    bg.rest();
    let status = bg.child.wait().expect("wait");
    let all = bg.lines.join("");
    assert_eq!(status.code(), Some(1), "{all}");
    assert!(
        all.contains("\"type\":\"guard_tripped\"")
            && all.contains("\"guard\":\"error-rate\"")
            && all.contains("\"value\":0.3"),
        "{all}"
    );
    assert!(
        all.contains("ended early: the run is failing"),
        "the soak does not hold up the rollback: {all}"
    );
    assert!(!w.path().join("prepared").exists(), "prepare was rolled back");
    assert!(!w.path().join("promoted").exists(), "promote never ran");
}
