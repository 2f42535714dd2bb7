//! The committed JSON Schemas are exactly what the Rust types generate.

use runbook_tests::repo_root;

#[test]
fn committed_schemas_match_the_types() {
    for (file, generated) in [
        ("schemas/playbook.schema.json", runbook::cli::playbook_schema()),
        ("schemas/workspace.schema.json", runbook::cli::workspace_schema()),
    ] {
        let committed = std::fs::read_to_string(repo_root().join(file)).unwrap_or_default();
        assert!(
            committed == generated,
            "{file} is out of date: regenerate it with `cargo run -p runbook -- schema --write schemas`"
        );
    }
}
