//! The plan of every shipped playbook (playbooks/ and examples/) is snapshotted, so any
//! change to what a playbook would do shows up in review.

use std::path::Path;

use runbook_tests::{repo_root, run};

/// Param values for playbooks with required params, from tests/fixtures/plan-params.json:
/// `{ "workspace-dir": { "playbook": { "param": "value" } } }`.
fn params_for(workspace: &str, playbook: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repo_root().join("tests/fixtures/plan-params.json")).unwrap_or_default();
    let all: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    all.get(workspace)
        .and_then(|w| w.get(playbook))
        .and_then(|p| p.as_object())
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().map(String::from).unwrap_or_else(|| v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn snapshot_workspace(dir: &Path, label: &str, env: Option<&str>) -> usize {
    let list = run(dir, &["list", "--format", "json"]);
    assert_eq!(list.code, 0, "{}", list.transcript());
    let rows: Vec<serde_json::Value> = serde_json::from_str(&list.stdout).expect("list --format json");
    for row in &rows {
        let name = row["name"].as_str().unwrap_or_default();
        let mut args: Vec<String> = vec!["plan".into(), name.into()];
        if let Some(e) = env {
            args.extend(["-e".into(), e.into()]);
        }
        for p in params_for(label, name) {
            args.extend(["-p".into(), p]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(dir, &args);
        assert_eq!(
            out.code,
            0,
            "plan {name} in {label} failed (add its required params to tests/fixtures/plan-params.json):\n{}",
            out.transcript()
        );
        let snap = format!("{label}__{name}");
        insta::with_settings!({ snapshot_path => "snapshots/plans", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(snap, out.stdout);
        });
    }
    rows.len()
}

#[test]
fn shipped_playbooks_plan_as_snapshotted() {
    let n = snapshot_workspace(&repo_root(), "playbooks", Some("prod"));
    assert!(n >= 10, "expected the shipped library, found {n} playbooks");
}

#[test]
fn example_playbooks_plan_as_snapshotted() {
    let examples = repo_root().join("examples");
    let mut dirs: Vec<_> = std::fs::read_dir(&examples)
        .expect("examples dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("runbook.yaml").is_file())
        // The sandbox's workspace plans the repository's playbooks, snapshotted above; a test
        // in sandbox.rs keeps its runbook.yaml the repository's.
        .filter(|p| !p.ends_with("platform-sandbox"))
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no example workspace");
    for dir in dirs {
        let label = format!(
            "examples-{}",
            dir.file_name().and_then(|n| n.to_str()).unwrap_or_default()
        );
        snapshot_workspace(&dir, &label, None);
    }
}

#[test]
fn every_shipped_file_validates_strictly() {
    let out = run(&repo_root(), &["validate", "--strict"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    for dir in std::fs::read_dir(repo_root().join("examples"))
        .expect("examples")
        .flatten()
    {
        if dir.path().join("runbook.yaml").is_file() {
            let out = run(&dir.path(), &["validate", "--strict"]);
            assert_eq!(out.code, 0, "{}: {}", dir.path().display(), out.transcript());
        }
    }
}
