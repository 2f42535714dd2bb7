//! How each gate is answered: a `--approve` ahead of time, a saved plan's approvals, the
//! terminal, other people's decisions, or failing closed when nobody can be asked.

use std::collections::HashSet;
use std::sync::Arc;

use super::support::{gate, plan, policy};
use crate::approve::{Answer, ApprovalPolicy, Gatekeeper, Prompter};
use crate::journal::StateDir;
use crate::plan::PlanApproval;
use crate::wake::Waits;

fn keeper(approved: &[&str]) -> Gatekeeper {
    Gatekeeper {
        approved: approved.iter().map(|s| s.to_string()).collect::<HashSet<_>>(),
        prompter: Arc::new(Prompter::Nobody("no terminal to ask at".into())),
        user: "alice".into(),
        saved: None,
        live: None,
        policy: Arc::new(ApprovalPolicy::empty()),
    }
}

async fn decide(k: &Gatekeeper, approvers: &[&str]) -> Answer {
    let g = gate(approvers, None, false, false);
    k.decide("deploy", &g, "Deploy?", "shell: ./deploy", &Waits::detached())
        .await
}

#[tokio::test]
async fn a_confirm_approved_ahead_is_yes_by_the_runner() {
    assert_eq!(
        decide(&keeper(&["deploy"]), &[]).await,
        Answer::Yes {
            by: "alice".into(),
            how: "--approve".into(),
            signed: Vec::new()
        }
    );
}

#[tokio::test]
async fn a_confirm_nobody_can_answer_fails_closed_and_says_how_to_approve() {
    // Approving another step ahead is no answer to this one.
    match decide(&keeper(&["migrate"]), &[]).await {
        Answer::Closed { why } => {
            assert!(
                why.starts_with("step `deploy` needs a yes (step) and no terminal to ask at"),
                "{why}"
            );
            assert!(why.ends_with("approve it ahead with --approve deploy"), "{why}");
        }
        other => panic!("expected closed, got {other:?}"),
    }
}

#[tokio::test]
async fn an_approval_is_never_the_runners_own_yes() {
    // `--approve` answers confirmations only.
    match decide(&keeper(&["deploy"]), &["bob", "carol"]).await {
        Answer::Closed { why } => assert!(why.contains("needs an approval by 1 of bob, carol"), "{why}"),
        other => panic!("expected closed, got {other:?}"),
    }
}

#[tokio::test]
async fn a_running_run_waits_for_other_peoples_decisions() {
    let state = StateDir::new("/state");
    let mut k = keeper(&[]);
    k.live = Some((state.clone(), "r1".into()));
    assert_eq!(
        decide(&k, &["bob"]).await,
        Answer::Wait {
            dir: crate::approve::live::dir(&state, "r1", "deploy"),
            who: "1 of bob".into()
        }
    );
}

#[tokio::test]
async fn a_saved_plans_approvals_answer_its_gates() {
    let mut saved = plan("name: p\nsteps:\n  - id: deploy\n    log: hi\n");
    saved.approvals = vec![PlanApproval {
        by: "bob".into(),
        at: chrono::Utc::now().to_rfc3339(),
        hash: saved.hash.clone(),
        comment: None,
        signature: None,
        key: None,
    }];
    let mut k = keeper(&[]);
    k.saved = Some(Arc::new(saved));
    k.policy = Arc::new(policy(&[("sre", &["bob"])], ""));
    for approvers in [&[][..], &["group:sre"][..]] {
        assert_eq!(
            decide(&k, approvers).await,
            Answer::Yes {
                by: "bob".into(),
                how: "saved plan approval".into(),
                signed: Vec::new()
            }
        );
    }
    // An approval gate the saved approvals do not meet fails closed, saying what is missing.
    match decide(&k, &["carol"]).await {
        Answer::Closed { why } => {
            assert!(
                why.starts_with("step `deploy` needs approval: 1 approval(s) from carol needed, 0 given"),
                "{why}"
            )
        }
        other => panic!("expected closed, got {other:?}"),
    }
}
