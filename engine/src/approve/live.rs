//! Approvals answered while the run waits: `runbook approve RUN_ID STEP --as NAME
//! [--reject] [--key FILE]` writes a decision under the run's directory; the waiting run
//! tallies them.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::policy::ApprovalPolicy;
use super::signature::{SignedApproval, Statement};
use crate::compile::Gate;
use crate::state::StateDir;

/// One person's answer to one step of one run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Decision {
    pub step: String,
    pub by: String,
    pub at: String,
    pub approved: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The run's plan hash, as signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_hash: Option<String>,
    /// The approver's SSH signature over the decision's statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl Decision {
    /// What the decision says, as signed (`step` is the run's label of the step).
    pub fn statement(&self) -> Statement {
        Statement {
            approver: self.by.clone(),
            decision: if self.approved { "approve" } else { "reject" }.into(),
            plan_hash: self.plan_hash.clone().unwrap_or_default(),
            step: Some(self.step.clone()),
            time: self.at.clone(),
        }
    }
}

/// Where a step's decisions are kept.
pub fn dir(state: &StateDir, run: &str, step: &str) -> PathBuf {
    let safe: String = step
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_".contains(c) {
                c
            } else {
                '~'
            }
        })
        .collect();
    state.run_dir(run).join("approvals").join(safe)
}

/// Records a decision (one file per person: a later answer replaces an earlier one).
pub fn record(state: &StateDir, run: &str, d: &Decision) -> std::io::Result<PathBuf> {
    let dir = dir(state, run, &d.step);
    StateDir::private_dir(&dir)?;
    let safe: String =
        d.by.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.@".contains(c) {
                    c
                } else {
                    '~'
                }
            })
            .collect();
    let path = dir.join(format!("{safe}.json"));
    let tmp = dir.join(format!(".{safe}.tmp"));
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(serde_json::to_string(d).unwrap_or_default().as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// Where the answers to a gate stand.
#[derive(Debug, Clone, PartialEq)]
pub enum Tally {
    Approved {
        by: Vec<String>,
        signed: Vec<SignedApproval>,
    },
    Rejected {
        by: String,
        signed: Vec<SignedApproval>,
    },
    Pending {
        have: usize,
        need: usize,
    },
}

/// The hash of the run whose step's decisions are in `dir` (`runs/<run>/approvals/<step>`):
/// what a decision must have signed.
fn run_plan_hash(dir: &Path) -> Option<String> {
    let plan = dir.parent()?.parent()?.join("plan.json");
    let text = std::fs::read_to_string(plan).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("hash")?.as_str().map(String::from)
}

/// Counts the decisions that may count: from the approvers named (or the members of a
/// `group:`), never the runner under the two-person rule, and only signed ones (by the
/// approver's key, over this run's plan) when the gate needs signatures.
pub fn tally(dir: &Path, gate: &Gate, runner: &str, policy: &ApprovalPolicy) -> Tally {
    let mut decisions: Vec<Decision> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|t| serde_json::from_str(&t).ok())
        .collect();
    decisions.sort_by(|a, b| a.at.cmp(&b.at));
    let min = gate.approval.as_ref().map(|a| a.min.unwrap_or(1) as usize).unwrap_or(1);
    let hash = run_plan_hash(dir);
    let counts = |d: &&Decision| {
        let signed_for_this_run = d.signature.is_none() || d.plan_hash.is_some() && d.plan_hash == hash;
        signed_for_this_run
            && policy
                .check(gate, runner, &d.statement(), d.signature.as_deref())
                .is_ok()
    };
    let signed = |d: &Decision| {
        d.signature
            .clone()
            .map(|s| SignedApproval::new(d.statement(), s, d.key.clone().unwrap_or_default()))
    };
    if let Some(r) = decisions.iter().filter(counts).find(|d| !d.approved) {
        return Tally::Rejected {
            by: r.by.clone(),
            signed: signed(r).into_iter().collect(),
        };
    }
    let mut by: Vec<String> = Vec::new();
    let mut sigs = Vec::new();
    for d in decisions.iter().filter(counts).filter(|d| d.approved) {
        if !by.contains(&d.by) {
            by.push(d.by.clone());
            sigs.extend(signed(d));
        }
    }
    if by.len() >= min {
        Tally::Approved { by, signed: sigs }
    } else {
        Tally::Pending {
            have: by.len(),
            need: min,
        }
    }
}
