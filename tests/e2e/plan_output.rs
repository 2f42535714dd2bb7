//! What a plan shows: shell quoting, run-time placeholders, secrets hidden, gates and why,
//! waves, the stable hash, and the JSON, Mermaid and DOT formats.

use runbook_tests::Workspace;

const DEPLOY: &str = r#"
# A comment that must not change the hash.
name: deploy
params:
  version: { type: string }
secrets:
  token: { env: DEPLOY_TOKEN }
steps:
  - id: baseline
    shell: { run: "echo 0.001", read_only: true }
    outputs: { rate: "{{ result.stdout | trim }}" }
  - id: ship
    risk: high
    confirm: "Ship {{ params.version }}?"
    shell: "echo {{ params.version }} {{ steps.baseline.rate }} {{ secrets.token }}"
    rollback: { shell: "echo undo {{ params.version }}" }
  - id: left
    needs: [ship]
    shell: "true"
    rollback: { shell: "true" }
  - id: right
    needs: [ship]
    shell: "true"
    rollback: { shell: "true" }
"#;

fn ws(text: &str) -> Workspace {
    Workspace::new().playbook("deploy", text)
}

fn hash(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("hash "))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn interpolated_values_are_one_shell_word() {
    let out = ws(DEPLOY).run(&["plan", "deploy", "-p", "version=v1; touch /tmp/pwned"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(
        out.stdout
            .contains("shell: echo 'v1; touch /tmp/pwned' <steps.baseline.rate> ***"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("confirm \"Ship v1; touch /tmp/pwned?\""),
        "{}",
        out.stdout
    );
}

#[test]
fn secrets_never_reach_the_plan() {
    let w = ws(DEPLOY);
    w.runbook(["plan", "deploy", "-p", "version=v1", "--format", "json"])
        .env("DEPLOY_TOKEN", "s3cr3t-value")
        .success()
        .stdout_lacks("s3cr3t-value")
        // The executable spec keeps the template; the summary shows ***.
        .stdout_has("{{ secrets.token }}")
        .stdout_has("***")
        .run();
}

#[test]
fn gates_say_why_and_waves_group_parallel_steps() {
    let out = ws(DEPLOY).run(&["plan", "deploy", "-p", "version=v1"]);
    assert!(
        out.stdout
            .contains("gates     confirm \"Ship v1?\" (step; policy: default confirms high risk)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("wave 3 (2 in parallel)"), "{}", out.stdout);
    let json = ws(DEPLOY).run(&["plan", "deploy", "-p", "version=v1", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(
        plan["waves"],
        serde_json::json!([["baseline"], ["ship"], ["left", "right"]])
    );
}

#[test]
fn the_hash_ignores_comments_and_whitespace_only() {
    let base = hash(&ws(DEPLOY).run(&["plan", "deploy", "-p", "version=v1"]).stdout);
    assert!(base.starts_with("sha256:") && base.len() == 71, "{base}");
    // Same plan again: same hash.
    assert_eq!(
        base,
        hash(&ws(DEPLOY).run(&["plan", "deploy", "-p", "version=v1"]).stdout)
    );
    // Comments, blank lines, trailing spaces, flow vs block style: same hash.
    let reformatted = DEPLOY
        .replace(
            "# A comment that must not change the hash.",
            "# another comment\n\n# and more",
        )
        .replace("  - id: left\n", "  # left branch\n  - id: left   \n")
        .replace(
            "rollback: { shell: \"echo undo {{ params.version }}\" }",
            "rollback:\n      shell: \"echo undo {{ params.version }}\"",
        );
    assert_ne!(reformatted, DEPLOY);
    assert_eq!(
        base,
        hash(&ws(&reformatted).run(&["plan", "deploy", "-p", "version=v1"]).stdout)
    );
    // A different param or command: a different hash.
    assert_ne!(
        base,
        hash(&ws(DEPLOY).run(&["plan", "deploy", "-p", "version=v2"]).stdout)
    );
    let changed = DEPLOY.replace(
        "shell: \"true\"\n    rollback: { shell: \"true\" }\n  - id: right",
        "shell: \"false\"\n    rollback: { shell: \"true\" }\n  - id: right",
    );
    assert_ne!(
        base,
        hash(&ws(&changed).run(&["plan", "deploy", "-p", "version=v1"]).stdout)
    );
}

#[test]
fn pictures_of_the_dag_mark_gated_steps() {
    let m = ws(DEPLOY).run(&["plan", "deploy", "-p", "version=v1", "--format", "mermaid"]);
    assert_eq!(m.code, 0);
    assert!(m.stdout.starts_with("flowchart TD"));
    assert!(
        m.stdout.contains(":::gated") && m.stdout.contains("s1 --> s2") && m.stdout.contains("s1 --> s3"),
        "{}",
        m.stdout
    );
    let d = ws(DEPLOY).run(&["plan", "deploy", "-p", "version=v1", "--format", "dot"]);
    assert!(
        d.stdout.starts_with("digraph \"deploy\"") && d.stdout.contains("\"ship\" -> \"left\";"),
        "{}",
        d.stdout
    );
    assert!(d.stdout.contains("fillcolor=\"#fff3cd\""), "{}", d.stdout);
}

#[test]
fn a_saved_plan_is_the_json_plan() {
    let w = ws(DEPLOY);
    let out = w.run(&["plan", "deploy", "-p", "version=v1", "--out", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.path().join("plan.json")).expect("saved")).expect("json");
    assert_eq!(
        format!("hash {}", saved["hash"].as_str().unwrap_or_default()),
        format!("hash {}", hash(&out.stdout))
    );
}

#[test]
fn environments_pick_policy_and_vars() {
    let w = Workspace::new()
        .file(
            "runbook.yaml",
            "environments:\n  prod: { vars: { ns: prod }, policy: { confirm: [medium, high, critical], two_person: [critical] } }\n  dev: { vars: { ns: dev }, policy: { confirm: [] } }\n",
        )
        .playbook(
            "scale",
            "name: scale\nsteps:\n  - id: up\n    risk: critical\n    k8s: { scale: { deployment: web, namespace: \"{{ env.vars.ns }}\", replicas: 5 } }\n    rollback: auto\n",
        );
    let prod = w.run(&["plan", "scale", "-e", "prod"]);
    assert!(
        prod.stdout.contains("scale deployment/web -n prod --replicas=5"),
        "{}",
        prod.stdout
    );
    assert!(
        prod.stdout
            .contains("approval by another person (policy: prod requires a second person for critical risk)"),
        "{}",
        prod.stdout
    );
    let dev = w.run(&["plan", "scale", "-e", "dev"]);
    assert!(
        dev.stdout.contains("-n dev") && !dev.stdout.contains("gates"),
        "{}",
        dev.stdout
    );
    let none = w.run(&["plan", "scale"]);
    assert_eq!(none.code, 2);
    assert!(
        none.stderr.contains("choose one with -e (prod, dev)"),
        "{}",
        none.stderr
    );
    let typo = w.run(&["plan", "scale", "-e", "prd"]);
    assert_eq!(typo.code, 2);
    assert!(
        typo.stderr.contains("unknown environment `prd`") && typo.stderr.contains("did you mean `prod`?"),
        "{}",
        typo.stderr
    );
}

#[test]
fn workspace_is_found_from_a_subdirectory() {
    let w = Workspace::new()
        .file("runbook.yaml", "default_env: x\nenvironments: { x: {} }\n")
        .playbook("a", "name: a\nsteps:\n  - id: s\n    log: hi\n");
    std::fs::create_dir_all(w.path().join("deep/er")).expect("mkdir");
    let out = runbook_tests::run(&w.path().join("deep/er"), &["plan", "a"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(out.stdout.contains("env x"), "{}", out.stdout);
}
