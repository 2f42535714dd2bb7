//! A `shell` line of plain words starts its program without `sh`: what the program sees and
//! how it ends must be what `sh -c` gives it. Each test runs the same command both ways (a
//! trailing `;` is shell syntax, so it sends the line to `sh`) and compares.

use runbook_tests::Workspace;

#[test]
fn a_program_started_directly_sees_what_sh_would_give_it() {
    let w = Workspace::new().file("sub/.keep", "").playbook(
        "env",
        r#"name: env
steps:
  - id: direct
    shell: { run: "printenv PWD RUNBOOK_STEP HOME", read_only: true }
  - id: via_sh
    shell: { run: "printenv PWD RUNBOOK_STEP HOME;", read_only: true }
  - id: direct_in_dir
    shell: { run: "printenv PWD", dir: sub, read_only: true }
  - id: via_sh_in_dir
    shell: { run: "printenv PWD;", dir: sub, read_only: true }
  - id: same
    assert: >-
      steps.direct.stdout | replace("direct", "X") == steps.via_sh.stdout | replace("via_sh", "X")
      and steps.direct_in_dir.stdout == steps.via_sh_in_dir.stdout
      and steps.direct_in_dir.stdout is endingwith("/sub\n")
"#,
    );
    let out = w.run(&["run", "env"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
}

#[test]
fn a_program_killed_by_a_signal_ends_with_the_status_sh_reports() {
    let w = Workspace::new().file("die", "#!/bin/sh\nkill -TERM $$\n").playbook(
        "die",
        r#"name: die
steps:
  - id: direct
    shell: { run: "./die", expect_exit: [143], read_only: true }
  - id: via_sh
    shell: { run: "./die;", expect_exit: [143], read_only: true }
"#,
    );
    chmod_x(&w.path().join("die"));
    let out = w.run(&["run", "die"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
}

#[test]
fn a_line_of_plain_words_starts_one_process_not_two() {
    let w = Workspace::new()
        .file("parent", "#!/bin/sh\ncat /proc/$PPID/comm\n")
        .playbook(
            "parent",
            r#"name: parent
steps:
  - id: direct
    shell: { run: "./parent", read_only: true }
  - id: via_sh
    shell: { run: "./parent;", read_only: true }
  - id: parents
    assert: 'steps.direct.stdout == "runbook\n" and steps.via_sh.stdout == "sh\n"'
"#,
        );
    chmod_x(&w.path().join("parent"));
    let out = w.run(&["run", "parent"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
}

fn chmod_x(path: &std::path::Path) {
    let mut perms = std::fs::metadata(path).expect("file").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(path, perms).expect("chmod");
}
