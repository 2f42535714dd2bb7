//! Sealed plans: sub-playbooks called by name are compiled into their caller's plan (shown
//! in every format, part of the hash), and the files a run reads — sub-playbooks,
//! manifests, scripts — are recorded with their sha256. A saved plan, a resumed run and a
//! running step each refuse a file that changed, naming it.

use runbook_tests::kube::KubeServer;
use runbook_tests::{Workspace, run};
use serde_json::Value;

const PARENT: &str = r#"name: parent
steps:
  - id: prepare
    shell: "echo prepare >> effects"
  - id: child
    playbook: { name: child, params: { who: world } }
  - id: script
    exec: [./scripts/hello.sh]
  - id: manifest
    k8s: { apply: { file: k8s/config.yaml } }
"#;

const CHILD: &str = r#"name: child
params:
  who: { type: string }
steps:
  - id: greet
    shell: "echo hello {{ params.who }} >> effects"
"#;

const CONFIG: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: app, namespace: default }\ndata: { mode: safe }\n";

fn workspace() -> Workspace {
    let w = Workspace::new()
        .file("runbook.yaml", "environments:\n  dev: {}\ndefault_env: dev\n")
        .playbook("parent", PARENT)
        .playbook("child", CHILD)
        .file("scripts/hello.sh", "#!/bin/sh\necho script >> effects\n")
        .file("k8s/config.yaml", CONFIG);
    chmod_x(&w.path().join("scripts/hello.sh"));
    w
}

fn chmod_x(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn edit(w: &Workspace, rel: &str, from: &str, to: &str) {
    let path = w.path().join(rel);
    let text = std::fs::read_to_string(&path).expect("the file");
    assert!(text.contains(from), "{rel} has no `{from}`");
    std::fs::write(&path, text.replace(from, to)).expect("edit");
}

#[test]
fn a_sub_playbook_is_part_of_its_callers_plan_in_every_format() {
    let w = workspace();
    let text = w.run(&["plan", "parent"]);
    assert_eq!(text.code, 0, "{}", text.transcript());
    assert!(
        text.stdout.contains("      ┆ playbook child · 1 step in 1 wave · lock dev/child")
            && text.stdout.contains("      ● greet\n          risk medium · mutating · timeout 10m\n          action    shell: echo hello world >> effects"),
        "{}",
        text.stdout
    );
    let json: Value = serde_json::from_str(&w.run(&["plan", "parent", "--format", "json"]).stdout).expect("JSON");
    assert_eq!(json["subplans"]["child"]["playbook"], "child");
    assert_eq!(json["subplans"]["child"]["complete"], true);
    assert_eq!(json["subplans"]["child"]["plan"]["steps"][0]["id"], "greet");
    let files: Vec<(String, String)> = json["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap_or("").to_string(),
                f["role"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        files,
        [
            ("playbooks/child.yaml".to_string(), "playbook".to_string()),
            ("scripts/hello.sh".to_string(), "script".to_string()),
            ("k8s/config.yaml".to_string(), "manifest".to_string()),
        ]
    );
    let mermaid = w.run(&["plan", "parent", "--format", "mermaid"]).stdout;
    assert!(
        mermaid.contains("subgraph s1_g[\"child: playbook child\"]") && mermaid.contains("s1_0[\"greet"),
        "{mermaid}"
    );
    let dot = w.run(&["plan", "parent", "--format", "dot"]).stdout;
    assert!(
        dot.contains("subgraph \"cluster_child/\"") && dot.contains("\"child/greet\""),
        "{dot}"
    );

    // The child's steps are part of the hash: editing the child changes the plan.
    let before = json["hash"].clone();
    edit(&w, "playbooks/child.yaml", "echo hello", "echo HELLO");
    let after: Value = serde_json::from_str(&w.run(&["plan", "parent", "--format", "json"]).stdout).expect("JSON");
    assert_ne!(before, after["hash"]);
}

#[test]
fn a_saved_plan_refuses_an_edited_child_playbook_script_or_manifest_naming_it() {
    for (rel, from, to, role) in [
        (
            "playbooks/child.yaml",
            "echo hello",
            "echo HELLO",
            "playbook of step `child`",
        ),
        (
            "scripts/hello.sh",
            "echo script",
            "echo tampered",
            "script of step `script`",
        ),
        (
            "k8s/config.yaml",
            "mode: safe",
            "mode: open",
            "manifest of step `manifest`",
        ),
    ] {
        let w = workspace();
        let saved = w.run(&["plan", "parent", "--out", "approved.json"]);
        assert_eq!(saved.code, 0, "{}", saved.transcript());
        edit(&w, rel, from, to);
        let out = w.run(&["run", "--plan", "approved.json"]);
        assert_eq!(out.code, 2, "{rel}: {}", out.transcript());
        assert!(
            out.stderr
                .contains("changed since approved.json was made and approved; nothing was run")
                && out.stderr.contains(&format!("{rel} ({role}): sha256 ")),
            "{rel}: {}",
            out.stderr
        );
        assert!(!w.path().join("effects").exists(), "{rel}: something ran");
    }
}

#[test]
fn a_playbook_name_known_only_at_run_time_cannot_be_saved() {
    let w = workspace().playbook(
        "pick",
        "name: pick\nsteps:\n  - id: choose\n    shell: echo child\n    outputs: { name: \"{{ result.stdout | trim }}\" }\n  - id: go\n    playbook: { name: \"{{ steps.choose.name }}\", params: { who: x } }\n",
    );
    let out = w.run(&["plan", "pick", "--out", "p.json"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr.contains("this plan cannot be saved to be approved: step `go` runs a playbook whose name is known only when it runs (`{{ steps.choose.name }}`)"),
        "{}",
        out.stderr
    );
    assert!(!w.path().join("p.json").exists());
    // Run directly, it works: the gates ask as it goes.
    let ran = w.run(&["run", "pick"]);
    assert_eq!(ran.code, 0, "{}", ran.transcript());
    assert_eq!(w.lines("effects"), ["hello x"]);
}

#[test]
fn a_file_changed_while_the_run_goes_fails_the_step_that_reads_it() {
    // The first step edits the script and the manifest the later steps read.
    let w = workspace().playbook(
        "midrun",
        "name: midrun\nsteps:\n  - id: tamper\n    shell: \"echo 'echo tampered >> effects' >> scripts/hello.sh; echo '# x' >> k8s/config.yaml\"\n  - id: script\n    needs: [tamper]\n    exec: [./scripts/hello.sh]\n  - id: manifest\n    needs: [tamper]\n    k8s: { apply: { file: k8s/config.yaml } }\n",
    );
    let server = KubeServer::start();
    let kubeconfig = server.write_kubeconfig(w.path(), "test");
    let out = runbook_tests::runbook(w.path(), ["run", "midrun", "--output", "json"])
        .envs(&[("KUBECONFIG", kubeconfig.display().to_string())])
        .run();
    assert_eq!(out.code, 1, "{}", out.transcript());
    for (step, file) in [("script", "scripts/hello.sh"), ("manifest", "k8s/config.yaml")] {
        let failed = w
            .journal()
            .into_iter()
            .find(|e| e["type"] == "step_finished" && e["step"] == step)
            .unwrap_or_else(|| panic!("{step} finished"));
        assert_eq!(failed["status"], "failed", "{failed}");
        let error = failed["error"].as_str().unwrap_or_default();
        assert!(
            error.starts_with(&format!("{file} changed since the plan was made")),
            "{error}"
        );
    }
    assert!(
        !w.lines("effects").iter().any(|l| l == "tampered"),
        "the edited script ran"
    );
    assert!(
        server.get("ConfigMap", Some("default"), "app").is_none(),
        "the edited manifest was applied"
    );
}

#[test]
fn resume_names_an_edited_child_and_shows_its_diff_before_accepting_it() {
    // `crash` kills the engine itself: the run stops with `crash` in doubt.
    let parent = "name: parent\nsteps:\n  - id: crash\n    shell: \"exec kill -KILL $PPID\"\n  - id: child\n    needs: [crash]\n    playbook: { name: child, params: { who: world } }\n";
    let w = workspace().playbook("parent", parent);
    let killed = w.run(&["run", "parent"]);
    assert_ne!(killed.code, 0, "{}", killed.transcript());
    let runs: Value = serde_json::from_str(&run(w.path(), &["runs", "--format", "json"]).stdout).expect("runs");
    let id = runs[0]["run"].as_str().expect("a run").to_string();
    edit(&w, "playbooks/child.yaml", "echo hello", "echo HELLO");
    // The kept copy of the child is the one the run started with.
    // `kill` itself may still be exiting: resume refuses (exit 5) while it is.
    w.runbook(["resume", &id, "--assume-done", "crash"])
        .retry_while(std::time::Duration::from_secs(10), |out| out.code == 5)
        .status(2)
        .stderr_has("~ step `child/greet` changed: echo hello world >> effects → echo HELLO world >> effects")
        .stderr_has("~ file playbooks/child.yaml (playbook of step `child`): sha256 ")
        .stderr_has("-    shell: \"echo hello {{ params.who }} >> effects\"")
        .stderr_has("+    shell: \"echo HELLO {{ params.who }} >> effects\"")
        .run();
    let accepted = w.run(&["resume", &id, "--assume-done", "crash", "--accept-changes"]);
    assert_eq!(accepted.code, 0, "{}", accepted.transcript());
    assert!(
        accepted.stderr.contains("+    shell: \"echo HELLO"),
        "{}",
        accepted.stderr
    );
    assert_eq!(w.lines("effects"), ["HELLO world"]);
}
