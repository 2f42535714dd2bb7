//! Every broken playbook under tests/fixtures/invalid/ fails validation with exit 2 and
//! exactly the error text in its snapshot.

use runbook_tests::{repo_root, run};

#[test]
fn every_invalid_fixture_reports_its_errors() {
    let fixtures = repo_root().join("tests/fixtures");
    let mut files: Vec<_> = std::fs::read_dir(fixtures.join("invalid"))
        .expect("fixtures dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 30,
        "expected at least 30 invalid fixtures, found {}",
        files.len()
    );
    for file in files {
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let rel = format!("invalid/{stem}.yaml");
        let out = run(&fixtures, &["validate", &rel]);
        assert_eq!(
            out.code,
            2,
            "{rel} should be rejected with exit 2:\n{}",
            out.transcript()
        );
        assert!(
            out.stderr.contains(&format!("{rel}:")),
            "{rel}: the error names no file:line:col:\n{}",
            out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "{rel} panicked:\n{}", out.stderr);
        insta::with_settings!({ snapshot_path => "snapshots/invalid", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(stem, out.stderr);
        });
    }
}
