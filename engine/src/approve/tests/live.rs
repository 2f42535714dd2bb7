//! Decisions given while a run waits: one file per person under the step's directory, and
//! the tally that says whether the gate is approved, rejected or still waiting.

use std::path::Path;

use super::support::{gate, key, policy, public, sign, statement};
use crate::approve::ApprovalPolicy;
use crate::approve::live::{Decision, Tally, dir, record, tally};
use crate::journal::StateDir;

fn decision(by: &str, approved: bool, at: &str) -> Decision {
    Decision {
        step: "deploy".into(),
        by: by.into(),
        at: at.into(),
        approved,
        comment: None,
        plan_hash: None,
        signature: None,
        key: None,
    }
}

fn decide(state: &StateDir, d: &Decision) {
    record(state, "r1", d).expect("recorded");
}

#[test]
fn each_step_has_its_own_directory_whatever_its_label() {
    let state = StateDir::new("/state");
    assert_eq!(
        dir(&state, "r1", "deploy"),
        Path::new("/state/runs/r1/approvals/deploy")
    );
    // Iterations and sub-playbook steps cannot climb out of the run's directory.
    assert_eq!(
        dir(&state, "r1", "../sub/db_migrate[0]"),
        Path::new("/state/runs/r1/approvals/~~~sub~db_migrate~0~")
    );
}

#[test]
fn a_quorum_waits_for_enough_distinct_approvers() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let state = StateDir::new(tmp.path());
    let g = gate(&["bob", "carol"], Some(2), false, false);
    let d = dir(&state, "r1", "deploy");
    let none = ApprovalPolicy::empty();
    assert_eq!(tally(&d, &g, "alice", &none), Tally::Pending { have: 0, need: 2 });
    decide(&state, &decision("bob", true, "2026-12-02T13:00:00Z"));
    // Someone the gate does not ask counts for nothing.
    decide(&state, &decision("mallory", true, "2026-12-02T13:00:01Z"));
    assert_eq!(tally(&d, &g, "alice", &none), Tally::Pending { have: 1, need: 2 });
    decide(&state, &decision("carol", true, "2026-12-02T13:00:02Z"));
    assert_eq!(
        tally(&d, &g, "alice", &none),
        Tally::Approved {
            by: vec!["bob".into(), "carol".into()],
            signed: Vec::new()
        }
    );
}

#[test]
fn one_approvers_no_rejects_and_a_later_answer_replaces_an_earlier_one() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let state = StateDir::new(tmp.path());
    let g = gate(&["bob", "carol"], Some(2), false, false);
    let d = dir(&state, "r1", "deploy");
    let none = ApprovalPolicy::empty();
    decide(&state, &decision("mallory", false, "2026-12-02T13:00:00Z"));
    decide(&state, &decision("bob", true, "2026-12-02T13:00:01Z"));
    assert_eq!(tally(&d, &g, "alice", &none), Tally::Pending { have: 1, need: 2 });
    decide(&state, &decision("bob", false, "2026-12-02T13:05:00Z"));
    assert_eq!(
        tally(&d, &g, "alice", &none),
        Tally::Rejected {
            by: "bob".into(),
            signed: Vec::new()
        }
    );
}

#[test]
fn the_runner_does_not_count_under_the_two_person_rule() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let state = StateDir::new(tmp.path());
    let g = gate(&["alice", "bob"], None, true, false);
    let d = dir(&state, "r1", "deploy");
    decide(&state, &decision("alice", true, "2026-12-02T13:00:00Z"));
    assert_eq!(
        tally(&d, &g, "alice", &ApprovalPolicy::empty()),
        Tally::Pending { have: 0, need: 1 }
    );
}

#[test]
fn a_signed_decision_counts_only_over_this_runs_plan() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let state = StateDir::new(tmp.path());
    StateDir::private_dir(&state.run_dir("r1")).expect("run dir");
    std::fs::write(state.run_dir("r1").join("plan.json"), r#"{"hash":"sha256:run"}"#).expect("plan");
    let bob = key(1);
    let p = policy(&[], &format!("bob {}\n", public(&bob)));
    let g = gate(&["bob"], None, false, true);
    let d = dir(&state, "r1", "deploy");
    let signed = |hash: &str| {
        let mut dec = decision("bob", true, "2026-12-02T13:00:00Z");
        dec.plan_hash = Some(hash.into());
        let st = dec.statement();
        assert_eq!(st, statement("bob", hash, Some("deploy")));
        dec.signature = Some(sign(&bob, &st));
        dec.key = Some("SHA256:bob".into());
        dec
    };
    // Signed, and it verifies, but over another run's plan.
    decide(&state, &signed("sha256:other"));
    assert_eq!(tally(&d, &g, "alice", &p), Tally::Pending { have: 0, need: 1 });
    let here = signed("sha256:run");
    decide(&state, &here);
    match tally(&d, &g, "alice", &p) {
        Tally::Approved { by, signed } => {
            assert_eq!(by, vec!["bob".to_string()]);
            assert_eq!(signed.len(), 1);
            assert_eq!(signed[0].statement(), here.statement());
        }
        other => panic!("expected approved, got {other:?}"),
    }
}
