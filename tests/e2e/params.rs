//! `-p` values are checked against their param's type and rules; a bad one names the param
//! and the rule, and exits 2.

use runbook_tests::Workspace;

const PLAYBOOK: &str = r#"
name: p
params:
  version: { pattern: '^v\d+\.\d+\.\d+$' }
  replicas: { type: integer, default: 3, minimum: 1, maximum: 20 }
  ratio: { type: number, default: 0.5 }
  dry: { type: boolean, default: false }
  tier: { type: enum, values: [web, worker], default: web }
steps:
  - id: show
    log: "{{ params.version }} {{ params.replicas }} {{ params.ratio }} {{ params.dry }} {{ params.tier }}"
"#;

fn ws() -> Workspace {
    Workspace::new().playbook("p", PLAYBOOK)
}

#[test]
fn good_values_are_typed() {
    let out = ws().run(&[
        "plan",
        "p",
        "-p",
        "version=v1.2.3",
        "-p",
        "replicas=5",
        "-p",
        "dry=yes",
        "-p",
        "tier=worker",
    ]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(
        out.stdout
            .contains("params version=v1.2.3 replicas=5 ratio=0.5 dry=true tier=worker"),
        "{}",
        out.stdout
    );
    let json = ws().run(&["plan", "p", "-p", "version=v1.2.3", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&json.stdout).expect("json plan");
    assert_eq!(plan["params"]["replicas"], 3);
    assert_eq!(plan["params"]["dry"], false);
}

#[test]
fn bad_values_name_the_param_and_the_rule() {
    let cases = [
        (
            "version=1.2",
            "param `version`: value `1.2` does not match pattern `^v\\d+\\.\\d+\\.\\d+$`",
        ),
        ("replicas=many", "param `replicas`: `many` is not an integer"),
        ("replicas=0", "param `replicas`: value 0 is below the minimum 1"),
        ("replicas=21", "param `replicas`: value 21 is above the maximum 20"),
        ("ratio=lots", "param `ratio`: `lots` is not a number"),
        ("dry=maybe", "param `dry`: `maybe` is not a boolean"),
        ("tier=db", "param `tier`: value `db` is not one of: web, worker"),
    ];
    for (arg, expected) in cases {
        let out = ws().run(&["plan", "p", "-p", "version=v1.0.0", "-p", arg]);
        assert_eq!(out.code, 2, "{arg}: {}", out.transcript());
        assert!(
            out.stderr.contains(expected),
            "{arg}: expected `{expected}` in:\n{}",
            out.stderr
        );
    }
}

#[test]
fn missing_and_unknown_params_are_errors() {
    let out = ws().run(&["plan", "p"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("missing required param `version`: give it with -p version=VALUE"),
        "{}",
        out.stderr
    );
    let out = ws().run(&["plan", "p", "-p", "version=v1.0.0", "-p", "replica=2"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("unknown param `replica`"), "{}", out.stderr);
    assert!(out.stderr.contains("did you mean `replicas`?"), "{}", out.stderr);
    let out = ws().run(&["plan", "p", "-p", "noequals"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
}

#[test]
fn a_duration_param_sets_a_wait_and_its_timeout_and_a_run_time_wait_is_refused() {
    let w = Workspace::new()
        .playbook(
            "soak",
            "name: soak\nparams:\n  soak: { type: duration, default: 10m }\nsteps:\n  - id: pause\n    wait: \"{{ params.soak }}\"\n",
        )
        .playbook(
            "late",
            "name: late\nsteps:\n  - id: first\n    log: hi\n    outputs: { d: 5s }\n  - id: pause\n    wait: \"{{ steps.first.d }}\"\n",
        );
    let plan = w.run(&["plan", "soak", "-p", "soak=90"]);
    assert_eq!(plan.code, 0, "{}", plan.transcript());
    assert!(
        plan.stdout.contains("params soak=1m30s")
            && plan.stdout.contains("timeout 2m30s")
            && plan.stdout.contains("action    wait: 1m30s"),
        "{}",
        plan.stdout
    );
    let short = w.run(&["run", "soak", "-p", "soak=200ms"]);
    assert_eq!(short.code, 0, "{}", short.transcript());

    let bad = w.run(&["plan", "soak", "-p", "soak=soon"]);
    assert_eq!(bad.code, 2, "{}", bad.transcript());
    assert!(
        bad.stderr.contains("param `soak`: `soon` is not a duration"),
        "{}",
        bad.stderr
    );

    let late = w.run(&["plan", "late"]);
    assert_eq!(late.code, 2, "{}", late.transcript());
    assert!(
        late.stderr
            .contains("playbooks/late.yaml:7:11: `wait: {{ steps.first.d }}` reads what only the run knows"),
        "{}",
        late.stderr
    );
}
