//! Approvals of a saved plan: only of its exact hash, for as long as the environment (or
//! the gate's timeout) says, from enough distinct approvers; what does not count is named.

use chrono::{DateTime, Utc};

use super::support::{gate, key, plan, policy, public, sign, statement};
use crate::approve::plan_file::ttl;
use crate::approve::{ApprovalPolicy, check_saved, satisfies};
use crate::plan::{Plan, PlanApproval};
use crate::playbook::Duration;

const PLAYBOOK: &str = r#"
name: p
steps:
  - id: migrate
    approval: { approvers: [bob, carol], min: 2 }
    log: migrating
  - id: deploy
    needs: [migrate]
    approval: { approvers: [group:sre] }
    log: deploying
"#;

const GIVEN: &str = "2026-12-02T13:00:00Z";

fn at(t: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(t).expect("a time").with_timezone(&Utc)
}

fn approval(by: &str, hash: &str) -> PlanApproval {
    PlanApproval {
        by: by.into(),
        at: GIVEN.into(),
        hash: hash.into(),
        comment: None,
        signature: None,
        key: None,
    }
}

fn approved_by(by: &[&str]) -> Plan {
    let mut p = plan(PLAYBOOK);
    let hash = p.hash.clone();
    p.approvals = by.iter().map(|b| approval(b, &hash)).collect();
    p
}

#[test]
fn an_approval_counts_only_for_the_plan_it_approved() {
    let mut p = plan(PLAYBOOK);
    p.approvals = vec![approval("bob", "sha256:another")];
    let g = gate(&["bob"], None, false, false);
    let err = satisfies(&p, &g, "alice", &ApprovalPolicy::empty(), at(GIVEN)).expect_err("another plan");
    assert!(err.starts_with("1 approval(s) from bob needed, 0 given"), "{err}");
    assert!(
        err.contains("approval #1 by bob (given 2026-12-02T13:00:00Z) is of another plan (sha256:another)"),
        "{err}"
    );
    p.approvals[0].hash = p.hash.clone();
    assert_eq!(
        satisfies(&p, &g, "alice", &ApprovalPolicy::empty(), at(GIVEN)),
        Ok(vec!["bob".to_string()])
    );
}

#[test]
fn an_approval_expires_after_the_environments_ttl() {
    let p = approved_by(&["bob"]);
    let g = gate(&["bob"], None, false, false);
    let none = ApprovalPolicy::empty();
    assert!(satisfies(&p, &g, "alice", &none, at("2026-12-02T13:59:59Z")).is_ok());
    let err = satisfies(&p, &g, "alice", &none, at("2026-12-02T14:00:00Z")).expect_err("expired");
    assert!(
        err.contains("expired at 2026-12-02T14:00:00Z (approvals count for 1h)"),
        "{err}"
    );
}

#[test]
fn the_ttl_is_the_environments_or_the_gates_timeout_when_shorter() {
    let mut p = plan(PLAYBOOK);
    let mut g = gate(&["bob"], None, false, false);
    assert_eq!(ttl(&p, &g), std::time::Duration::from_secs(3600));
    if let Some(a) = g.approval.as_mut() {
        a.timeout = Some(Duration::from_secs(600));
    }
    assert_eq!(ttl(&p, &g), std::time::Duration::from_secs(600));
    if let Some(a) = g.approval.as_mut() {
        a.timeout = Some(Duration::from_secs(7200));
    }
    assert_eq!(ttl(&p, &g), std::time::Duration::from_secs(3600));
    p.body.env.approval_ttl = None;
    g.approval = None;
    assert_eq!(ttl(&p, &g), crate::approve::DEFAULT_APPROVAL_TTL);
}

#[test]
fn a_quorum_counts_distinct_approvers() {
    let g = gate(&["bob", "carol"], Some(2), false, false);
    let none = ApprovalPolicy::empty();
    let twice = approved_by(&["bob", "bob"]);
    let err = satisfies(&twice, &g, "alice", &none, at(GIVEN)).expect_err("one person");
    assert!(
        err.starts_with("2 approval(s) from bob, carol needed, 1 given"),
        "{err}"
    );
    let both = approved_by(&["bob", "carol"]);
    assert_eq!(
        satisfies(&both, &g, "alice", &none, at(GIVEN)),
        Ok(vec!["bob".to_string(), "carol".to_string()])
    );
}

#[test]
fn what_does_not_count_is_named_when_worth_knowing() {
    let none = ApprovalPolicy::empty();
    let g = gate(&["alice", "bob"], None, true, false);
    let err = satisfies(&approved_by(&["alice", "dave"]), &g, "alice", &none, at(GIVEN)).expect_err("runner");
    assert!(
        err.starts_with("1 approval(s) from alice, bob, not the runner needed"),
        "{err}"
    );
    assert!(err.contains("approval #1 by alice"), "{err}");
    assert!(err.contains("two-person rule"), "{err}");
    // Someone the gate does not ask is no news.
    assert!(!err.contains("dave"), "{err}");
}

#[test]
fn a_signed_gate_counts_the_signature_over_this_approval() {
    let bob = key(1);
    let p_signers = policy(&[], &format!("bob {}\n", public(&bob)));
    let g = gate(&["bob"], None, false, true);
    let mut p = approved_by(&["bob"]);
    let signed_here = sign(&bob, &statement("bob", &p.hash, None));
    let signed_elsewhere = sign(&bob, &statement("bob", "sha256:another", None));
    p.approvals[0].signature = Some(signed_elsewhere);
    let err = satisfies(&p, &g, "alice", &p_signers, at(GIVEN)).expect_err("not over this plan");
    assert!(
        err.starts_with("1 signed approval(s) from bob needed, 0 given"),
        "{err}"
    );
    assert!(err.contains("does not count: its signature does not match"), "{err}");
    // The statement of a saved plan's approval is signed with its time: the statement above
    // was given at GIVEN too.
    p.approvals[0].signature = Some(signed_here);
    assert_eq!(
        satisfies(&p, &g, "alice", &p_signers, at(GIVEN)),
        Ok(vec!["bob".to_string()])
    );
}

#[test]
fn a_saved_plan_runs_only_when_every_approval_gate_is_met() {
    let p = approved_by(&["bob"]);
    let sre = policy(&[("sre", &["bob", "carol"])], "");
    let err = check_saved(&p, "alice", &sre, at(GIVEN)).expect_err("migrate needs two");
    assert!(err.contains("step `migrate`: 2 approval(s)"), "{err}");
    assert!(!err.contains("step `deploy`"), "bob is in group sre: {err}");
    let p = approved_by(&["bob", "carol"]);
    assert_eq!(check_saved(&p, "alice", &sre, at(GIVEN)), Ok(()));
    // The groups are the workspace's as they stand: without them nobody is in sre.
    let err = check_saved(&p, "alice", &ApprovalPolicy::empty(), at(GIVEN)).expect_err("no groups");
    assert!(err.contains("step `deploy`"), "{err}");
}
