//! Approvals answered while the run waits: `runbook approve RUN_ID STEP --as NAME
//! [--reject]` writes a decision under the run's directory; the waiting run tallies them.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::compile::Gate;
use crate::journal::StateDir;

/// One person's answer to one step of one run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Decision {
    pub step: String,
    pub by: String,
    pub at: String,
    pub approved: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
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
    Approved(Vec<String>),
    Rejected(String),
    Pending { have: usize, need: usize },
}

/// Counts the decisions that may count: from the approvers named (anyone stands in for a
/// `group:`), never the runner under the two-person rule.
pub fn tally(dir: &Path, gate: &Gate, runner: &str) -> Tally {
    let mut decisions: Vec<Decision> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|t| serde_json::from_str(&t).ok())
        .collect();
    decisions.sort_by(|a, b| a.at.cmp(&b.at));
    let (min, allowed) = match &gate.approval {
        Some(a) => (a.min.unwrap_or(1) as usize, Some(&a.approvers)),
        None => (1, None),
    };
    let counts = |d: &&Decision| {
        !(gate.two_person && d.by == runner)
            && allowed.is_none_or(|list| list.iter().any(|x| *x == d.by || x.starts_with("group:")))
    };
    if let Some(r) = decisions.iter().filter(counts).find(|d| !d.approved) {
        return Tally::Rejected(r.by.clone());
    }
    let mut by: Vec<String> = decisions
        .iter()
        .filter(counts)
        .filter(|d| d.approved)
        .map(|d| d.by.clone())
        .collect();
    by.dedup();
    if by.len() >= min {
        Tally::Approved(by)
    } else {
        Tally::Pending {
            have: by.len(),
            need: min,
        }
    }
}
