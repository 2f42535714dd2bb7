//! Whether one approval counts for one gate: who may approve (by name or group), the
//! two-person rule, and signatures (always checked when given; required under `signed`,
//! and never the runner's key).

use super::support::{gate, key, policy, public, sign, statement};
use crate::approve::ApprovalPolicy;
use crate::approve::signature::Statement;

#[test]
fn approvers_are_named_or_members_of_a_group() {
    let p = policy(&[("sre", &["bob", "carol"])], "");
    let approvers = vec!["alice".to_string(), "group:sre".to_string()];
    assert!(p.may_approve(&approvers, "alice"));
    assert!(p.may_approve(&approvers, "carol"));
    assert!(!p.may_approve(&approvers, "dave"));
    assert!(
        !p.may_approve(&["group:dba".to_string()], "bob"),
        "an unknown group has no members"
    );
    assert!(!p.may_approve(&["group:sre".to_string()], "sre"));
}

#[test]
fn someone_not_among_the_approvers_is_refused_quietly() {
    let p = policy(&[("sre", &["bob"])], "");
    let r = p
        .check(
            &gate(&["group:sre"], None, false, false),
            "alice",
            &statement("dave", "h", None),
            None,
        )
        .expect_err("not an approver");
    assert!(!r.notable);
    assert_eq!(r.why, "dave is not among group:sre");
    assert!(
        p.check(
            &gate(&["group:sre"], None, false, false),
            "alice",
            &statement("bob", "h", None),
            None
        )
        .is_ok()
    );
}

#[test]
fn the_two_person_rule_refuses_the_runner() {
    let p = policy(&[], "");
    let g = gate(&["alice", "bob"], None, true, false);
    let r = p
        .check(&g, "alice", &statement("alice", "h", None), None)
        .expect_err("the runner");
    assert!(r.notable);
    assert!(r.why.contains("two-person rule"), "{}", r.why);
    assert!(p.check(&g, "alice", &statement("bob", "h", None), None).is_ok());
    // Without the rule, the runner may answer a gate that names them.
    let g = gate(&["alice", "bob"], None, false, false);
    assert!(p.check(&g, "alice", &statement("alice", "h", None), None).is_ok());
}

#[test]
fn a_signed_gate_needs_the_approvers_own_signature() {
    let bob = key(1);
    let p = policy(&[], &format!("bob {}\n", public(&bob)));
    let g = gate(&["bob"], None, false, true);
    let st = statement("bob", "sha256:aa", None);
    let unsigned = p.check(&g, "alice", &st, None).expect_err("unsigned");
    assert!(unsigned.notable && unsigned.why.contains("not signed"), "{unsigned:?}");
    assert!(p.check(&g, "alice", &st, Some(&sign(&bob, &st))).is_ok());
    // Signed by the right key, over another plan.
    let other = Statement {
        plan_hash: "sha256:bb".into(),
        ..st.clone()
    };
    let forged = p
        .check(&g, "alice", &st, Some(&sign(&bob, &other)))
        .expect_err("mismatch");
    assert!(forged.notable && forged.why.contains("does not match"), "{forged:?}");
}

#[test]
fn a_key_the_runner_holds_never_approves_the_runners_run() {
    let shared = key(5);
    // The key is listed for both: the runner could sign as bob.
    let p = policy(&[], &format!("alice,bob {}\n", public(&shared)));
    let st = statement("bob", "sha256:aa", None);
    let r = p
        .check(
            &gate(&["bob"], None, false, true),
            "alice",
            &st,
            Some(&sign(&shared, &st)),
        )
        .expect_err("the runner's key");
    assert!(r.notable && r.why.contains("a key of the runner (alice)"), "{r:?}");
}

#[test]
fn without_allowed_signers_a_signed_gate_fails_closed() {
    let bob = key(1);
    let p = ApprovalPolicy::empty();
    let st = statement("bob", "sha256:aa", None);
    let r = p
        .check(&gate(&["bob"], None, false, true), "alice", &st, Some(&sign(&bob, &st)))
        .expect_err("no signers");
    assert_eq!(r.why, "no workspace, so no allowed_signers file");
}

#[test]
fn a_signature_given_where_none_is_needed_must_still_match() {
    let bob = key(1);
    let p = ApprovalPolicy::empty();
    let g = gate(&["bob"], None, false, false);
    let st = statement("bob", "sha256:aa", None);
    assert!(p.check(&g, "alice", &st, Some(&sign(&bob, &st))).is_ok());
    let changed = Statement {
        approver: "bob".into(),
        plan_hash: "sha256:bb".into(),
        ..st.clone()
    };
    let r = p
        .check(&g, "alice", &changed, Some(&sign(&bob, &st)))
        .expect_err("edited after signing");
    assert!(r.notable, "a forgery is worth telling");
}
