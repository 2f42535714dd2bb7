//! Decides each gate: pre-approved with `--approve STEP`, asked at the terminal, or failed
//! closed. There is no blanket yes.

use std::collections::HashSet;
use std::sync::Arc;

use super::policy::ApprovalPolicy;
use super::signature::SignedApproval;
use super::{PromptError, Prompter};
use crate::compile::{Gate, GateKind};
use crate::plan::Plan;
use crate::wake::Waits;

/// A gate's answer and how it was given.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Yes {
        by: String,
        how: String,
        /// The signed approvals that answered it, for the journal.
        signed: Vec<SignedApproval>,
    },
    No {
        by: String,
        how: String,
        signed: Vec<SignedApproval>,
    },
    /// Nobody could be asked: the run must not go on past this step.
    Closed { why: String },
    /// The question was taken back because the run is failing or was interrupted: the
    /// step does not run, and this is no refusal.
    Withdrawn { why: String },
    /// Other people answer: wait for their decisions in this directory.
    Wait { dir: std::path::PathBuf, who: String },
}

pub struct Gatekeeper {
    pub approved: HashSet<String>,
    pub prompter: Arc<Prompter>,
    pub user: String,
    /// The saved plan being run (`run --plan`), whose approvals answer its gates.
    pub saved: Option<Arc<Plan>>,
    /// The state dir and run id, where approvals from other people arrive.
    pub live: Option<(crate::state::StateDir, String)>,
    /// Groups and allowed signers, as the workspace says now.
    pub policy: Arc<ApprovalPolicy>,
}

impl Gatekeeper {
    /// Answers one gate of a step. `id` is the step id (iterations share their step's
    /// pre-approval); `question` and `detail` are what the person is shown.
    pub async fn decide(&self, id: &str, gate: &Gate, question: &str, detail: &str, waits: &Waits) -> Answer {
        match gate.kind {
            GateKind::Confirm => {
                if self.approved.contains(id) {
                    return Answer::Yes {
                        by: self.user.clone(),
                        how: "--approve".into(),
                        signed: Vec::new(),
                    };
                }
                // An approved saved plan was read and agreed to, gates included.
                if let Some(plan) = &self.saved
                    && let Ok(by) = super::satisfies(plan, gate, &self.user, &self.policy, chrono::Utc::now())
                {
                    return Answer::Yes {
                        signed: signed_by(plan, &by),
                        by: by.join(", "),
                        how: "saved plan approval".into(),
                    };
                }
                match self.prompter.confirm(question, detail, waits).await {
                    Ok(true) => Answer::Yes {
                        by: self.user.clone(),
                        how: "terminal".into(),
                        signed: Vec::new(),
                    },
                    Ok(false) => Answer::No {
                        by: self.user.clone(),
                        how: "terminal".into(),
                        signed: Vec::new(),
                    },
                    Err(PromptError::Withdrawn(why)) => Answer::Withdrawn { why },
                    Err(why) => Answer::Closed {
                        why: format!(
                            "step `{id}` needs a yes ({}) and {why}: approve it ahead with --approve {id}",
                            gate.reasons.join("; ")
                        ),
                    },
                }
            }
            // Other people answer approvals (`runbook approve RUN_ID STEP`), which needs the
            // run journal; until then an approval gate fails closed rather than letting the
            // runner approve their own step.
            GateKind::Approval => {
                if let Some(plan) = &self.saved {
                    return match super::satisfies(plan, gate, &self.user, &self.policy, chrono::Utc::now()) {
                        Ok(by) => Answer::Yes {
                            signed: signed_by(plan, &by),
                            by: by.join(", "),
                            how: "saved plan approval".into(),
                        },
                        Err(why) => Answer::Closed {
                            why: format!(
                                "step `{id}` needs approval: {why}; add one with `runbook approve PLAN_FILE --as NAME`"
                            ),
                        },
                    };
                }
                let who = gate
                    .approval
                    .as_ref()
                    .map(|a| format!("{} of {}", a.min.unwrap_or(1), a.approvers.join(", ")))
                    .unwrap_or_else(|| "someone other than the runner".into());
                match &self.live {
                    Some((state, run)) => Answer::Wait {
                        dir: super::live::dir(state, run, id),
                        who,
                    },
                    None => Answer::Closed {
                        why: format!("step `{id}` needs an approval by {who} ({})", gate.reasons.join("; ")),
                    },
                }
            }
        }
    }
}

/// The signed approvals of a saved plan given by the people who answered a gate.
fn signed_by(plan: &Plan, by: &[String]) -> Vec<SignedApproval> {
    plan.approvals
        .iter()
        .filter(|a| a.hash == plan.hash && by.contains(&a.by))
        .filter_map(|a| {
            let sig = a.signature.clone()?;
            Some(SignedApproval::new(
                super::statement(a),
                sig,
                a.key.clone().unwrap_or_default(),
            ))
        })
        .collect()
}
