//! `validate` warns about risky patterns, and `--strict` makes the warnings fail.

use runbook_tests::Workspace;

const RISKY: &str = r#"
name: risky
params:
  target: { default: web }
  unused: { default: x }
steps:
  - id: change
    shell: "kubectl rollout restart deployment/{{ params.target }}"
  - id: danger
    risk: critical
    shell: "echo {{ params.target | raw }}"
    rollback: { shell: "true" }
  - id: quoted
    shell: 'test "{{ params.target }}" = web'
    rollback: { shell: "true" }
  - id: never
    when: false
    log: unreachable
"#;

#[test]
fn each_lint_fires_once_and_strict_fails() {
    let w = Workspace::new()
        .file(
            "runbook.yaml",
            "default_env: dev\nenvironments:\n  dev: { policy: { confirm: [] } }\n",
        )
        .playbook("risky", RISKY);
    let out = w.run(&["validate"]);
    assert_eq!(out.code, 0, "warnings alone pass:\n{}", out.transcript());
    for code in [
        "mutating-without-rollback",
        "risky-without-gate",
        "raw-in-shell",
        "quoted-interpolation",
        "unused-param",
        "when-false",
    ] {
        let n = out.stderr.matches(&format!("warning[{code}]")).count();
        assert_eq!(n, 1, "{code} should fire once:\n{}", out.stderr);
    }
    assert!(out.stderr.contains("param `unused` is never used"), "{}", out.stderr);
    let strict = w.run(&["validate", "--strict"]);
    assert_eq!(strict.code, 2, "{}", strict.transcript());
}

#[test]
fn a_clean_playbook_has_no_warnings() {
    let w = Workspace::new().playbook(
        "clean",
        "name: clean\nsteps:\n  - id: look\n    shell: { run: 'ls', read_only: true }\n  - id: touch\n    shell: 'touch x'\n    rollback: { shell: 'rm -f x' }\n",
    );
    let out = w.run(&["validate", "--strict"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("validate ok: 1 file checked in 1 environment, 0 errors, 0 warnings"),
        "{}",
        out.stderr
    );
}
