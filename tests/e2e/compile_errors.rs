//! Compile errors: located, explained, all of a file's reported together, never a panic.

use runbook_tests::Workspace;

#[test]
fn all_errors_of_a_file_are_reported_together() {
    let w = Workspace::new().playbook(
        "many",
        r#"name: many
steps:
  - id: a
    tiemout: 5m
    shell: "true"
  - id: b
    needs: [aa]
    shell: "true"
  - id: c
    shell: "echo {{ parms.x }}"
  - id: d
    timeout: 10x
    shell: "true"
"#,
    );
    let out = w.run(&["validate"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    for expected in [
        "playbooks/many.yaml:4:5: unknown key `tiemout`",
        "did you mean `timeout`?",
        "playbooks/many.yaml:12:14: `10x` is not a duration",
    ] {
        assert!(
            out.stderr.contains(expected),
            "missing `{expected}` in:\n{}",
            out.stderr
        );
    }
    // The step-level errors do not hide the other steps' reference errors.
    let plan = w.run(&["plan", "many"]);
    assert_eq!(plan.code, 2);
}

#[test]
fn reference_errors_point_at_their_place() {
    let w = Workspace::new().playbook(
        "refs",
        r#"name: refs
steps:
  - id: a
    shell: "true"
    rollback: { shell: "true" }
  - id: b
    needs: [aa]
    shell: "echo {{ parms.x }}"
  - id: c
    needs: []
    shell: "echo {{ steps.a.stdout }}"
"#,
    );
    let out = w.run(&["validate"]);
    assert_eq!(out.code, 2);
    for expected in [
        "playbooks/refs.yaml:7:13: `needs` names unknown step `aa`",
        "did you mean `a`?",
        "playbooks/refs.yaml:8:12: shell run: undefined name `parms`",
        "did you mean `params`?",
        "`steps.a` is read, but `a` is not among this step's dependencies",
    ] {
        assert!(
            out.stderr.contains(expected),
            "missing `{expected}` in:\n{}",
            out.stderr
        );
    }
}

#[test]
fn a_cycle_is_named_whole() {
    let w = Workspace::new().playbook(
        "cycle",
        "name: cycle\nsteps:\n  - id: a\n    needs: [c]\n    log: a\n  - id: b\n    needs: [a]\n    log: b\n  - id: c\n    needs: [b]\n    log: c\n",
    );
    let out = w.run(&["validate"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("dependency cycle: a -> c -> b -> a"),
        "{}",
        out.stderr
    );
}

#[test]
fn hostile_input_never_panics() {
    let inputs = [
        "",
        "---\n",
        "[]",
        "name: x\nsteps: [[[[",
        "name: x\nsteps:\n  - 42\n",
        "name: x\nsteps:\n  - id: a\n    shell: {{ }}\n",
        "\u{0}\u{1}binary",
        "name: x\nsteps:\n  - id: a\n    log: \"{% for i in range(100000000) %}{{ i }}{% endfor %}\"\n",
        "a: &a [*a]",
        &"- ".repeat(200),
    ];
    for (i, text) in inputs.iter().enumerate() {
        let w = Workspace::new().playbook("x", text);
        let out = w.run(&["validate"]);
        assert!(!out.stderr.contains("panicked"), "input {i} panicked:\n{}", out.stderr);
        assert_eq!(out.code, 2, "input {i} should be rejected:\n{}", out.transcript());
    }
}

#[test]
fn list_and_show_describe_playbooks() {
    let w = Workspace::new()
        .playbook("ok", "name: ok\ndescription: Fine\nparams:\n  v: { pattern: '^v' }\nsteps:\n  - id: s\n    doc: Says hi.\n    log: \"{{ params.v }}\"\n")
        .playbook("broken", "name: broken\nsteps: nope\n");
    let list = w.run(&["list"]);
    assert_eq!(list.code, 0, "{}", list.transcript());
    assert!(
        list.stdout.contains("ok") && list.stdout.contains("Fine") && list.stdout.contains("params: v*"),
        "{}",
        list.stdout
    );
    assert!(list.stdout.contains("INVALID"), "{}", list.stdout);
    let show = w.run(&["show", "ok"]);
    assert_eq!(show.code, 0, "{}", show.transcript());
    assert!(
        show.stdout.contains("Says hi.") && show.stdout.contains("pattern ^v"),
        "{}",
        show.stdout
    );
    let missing = w.run(&["show", "okk"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("no playbook named `okk`") && missing.stderr.contains("did you mean `ok`?"),
        "{}",
        missing.stderr
    );
}
