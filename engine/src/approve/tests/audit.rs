//! `audit verify`'s second look at a journal's approvals: each signed approval a gate
//! record holds must verify and say what the record says.

use serde_json::{Value, json};

use super::support::{key, policy, public, sign, statement};
use crate::approve::ApprovalPolicy;
use crate::approve::audit::{Findings, check_records};
use crate::approve::signature::SignedApproval;

const RUN: &str = "sha256:run";

/// A journal's records: the run's start, and one gate answered by `by` with `approvals`.
fn records(by: &str, approved: bool, approvals: Vec<Value>) -> Vec<Value> {
    vec![
        json!({"seq": 0, "type": "run_started", "plan_hash": RUN}),
        json!({"seq": 1, "type": "step_started", "step": "deploy"}),
        json!({
            "seq": 2, "type": "gate", "step": "deploy", "kind": "approval", "by": by,
            "approved": approved, "plan_hash": RUN, "approvals": approvals
        }),
    ]
}

/// Bob's signed approval of `step` in the plan `hash`.
fn bobs(hash: &str, step: &str) -> SignedApproval {
    let st = statement("bob", hash, Some(step));
    let sig = sign(&key(1), &st);
    SignedApproval::new(st, sig, "SHA256:bob".into())
}

fn bob_signs() -> ApprovalPolicy {
    policy(&[], &format!("bob {}\n", public(&key(1))))
}

fn check(by: &str, approved: bool, a: &SignedApproval) -> Findings {
    check_records(&records(by, approved, vec![json!(a)]), &bob_signs())
}

fn one_problem(f: Findings) -> String {
    assert_eq!(f.verified, 0, "{f:?}");
    assert_eq!(f.problems.len(), 1, "{f:?}");
    f.problems.into_iter().next().unwrap_or_default()
}

#[test]
fn an_approval_that_says_what_its_record_says_verifies() {
    let f = check("bob, carol", true, &bobs(RUN, "deploy"));
    assert_eq!(
        f,
        Findings {
            verified: 1,
            problems: Vec::new()
        }
    );
}

#[test]
fn an_approval_edited_after_signing_is_named_with_its_record() {
    let mut a = bobs(RUN, "deploy");
    a.approver = "carol".into();
    let p = one_problem(check("carol", true, &a));
    assert!(
        p.starts_with("record #2 (gate of `deploy`), approval #1 by carol (given 2026-12-02T13:00:00Z): "),
        "{p}"
    );
    assert!(p.contains("does not match what it says"), "{p}");
}

#[test]
fn an_approval_must_agree_with_its_record() {
    let a = bobs(RUN, "deploy");
    assert!(one_problem(check("carol", true, &a)).contains("answered by carol, not bob"));
    assert!(one_problem(check("bob", false, &a)).contains("it says `approve`, the record says approved=false"));
    let p = one_problem(check("bob", true, &bobs("sha256:other", "deploy")));
    assert!(p.contains("it approves plan sha256:other, not this run's"), "{p}");
    let p = one_problem(check("bob", true, &bobs(RUN, "drop-db")));
    assert!(p.contains("it answers step `drop-db`"), "{p}");
}

#[test]
fn without_allowed_signers_no_approval_verifies() {
    let recs = records("bob", true, vec![json!(bobs(RUN, "deploy"))]);
    let p = one_problem(check_records(&recs, &ApprovalPolicy::empty()));
    assert!(p.contains("its key cannot be checked: no workspace"), "{p}");
}

#[test]
fn something_that_is_no_signed_approval_is_reported() {
    let recs = records("bob", true, vec![json!({"approver": "bob"})]);
    let p = one_problem(check_records(&recs, &bob_signs()));
    assert!(
        p.starts_with("record #2 (gate of `deploy`), approval #1: not a signed approval"),
        "{p}"
    );
    // Gates without signed approvals have nothing to check.
    assert_eq!(
        check_records(&records("bob", true, vec![]), &bob_signs()),
        Findings::default()
    );
}
