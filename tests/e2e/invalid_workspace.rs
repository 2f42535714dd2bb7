//! Every broken runbook.yaml under tests/fixtures/invalid-workspace/ fails validation with
//! exit 2 and exactly the error text in its snapshot, each error at `runbook.yaml:line:col`.
//! Each fixture is the runbook.yaml of a throwaway workspace whose playbooks are the
//! fixtures' shared `playbooks/`.

use runbook_tests::{Workspace, repo_root};

#[test]
fn every_invalid_workspace_fixture_reports_its_errors() {
    let fixtures = repo_root().join("tests/fixtures/invalid-workspace");
    let mut files: Vec<_> = std::fs::read_dir(&fixtures)
        .expect("fixtures dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 20,
        "expected at least 20 fixtures, found {}",
        files.len()
    );
    let mut playbooks: Vec<(String, String)> = std::fs::read_dir(fixtures.join("playbooks"))
        .expect("the fixtures' playbooks")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .map(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            (name, std::fs::read_to_string(&p).expect("a playbook"))
        })
        .collect();
    playbooks.sort();
    for file in files {
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let mut w = Workspace::new().file("runbook.yaml", &std::fs::read_to_string(&file).expect("a fixture"));
        for (name, text) in &playbooks {
            w = w.file(&format!("playbooks/{name}"), text);
        }
        let out = w.run(&["validate"]);
        assert_eq!(
            out.code,
            2,
            "{stem} should be rejected with exit 2:\n{}",
            out.transcript()
        );
        assert!(
            out.stderr.contains("error: runbook.yaml:"),
            "{stem}: the error names no runbook.yaml:line:col:\n{}",
            out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "{stem} panicked:\n{}", out.stderr);
        insta::with_settings!({ snapshot_path => "snapshots/invalid-workspace", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(stem, out.stderr);
        });
    }
}
