//! `runbook approve FILE --as NAME`: adds an approval, bound to the plan's hash, to a saved
//! plan.

use std::path::PathBuf;

use super::common::Global;
use crate::error;
use crate::plan::{Plan, PlanApproval};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A saved plan (`runbook plan ... --out FILE`).
    pub plan: PathBuf,
    /// Who approves (default: RUNBOOK_USER, else the OS user).
    #[arg(long = "as", value_name = "NAME")]
    pub as_: Option<String>,
    #[arg(long)]
    pub comment: Option<String>,
}

/// Reads a saved plan and checks that it is what was planned: its content still hashes to
/// its hash.
pub fn read_plan(path: &std::path::Path) -> Result<Plan, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let plan: Plan = serde_json::from_str(&text).map_err(|e| format!("{} is not a saved plan: {e}", path.display()))?;
    let actual = plan.recompute_hash();
    if actual != plan.hash {
        return Err(format!(
            "{} was edited after it was planned: its content hashes to {actual}, not to its recorded {}",
            path.display(),
            plan.hash
        ));
    }
    Ok(plan)
}

pub fn exec(_g: &Global, a: Args) -> i32 {
    let mut plan = match read_plan(&a.plan) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return error::INVALID;
        }
    };
    let by = a
        .as_
        .or_else(|| std::env::var("RUNBOOK_USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(super::run::os_user);
    if plan.approvals.iter().any(|x| x.by == by && x.hash == plan.hash) {
        eprintln!("{by} has approved this plan already ({})", plan.hash);
        return error::SUCCESS;
    }
    plan.approvals.push(PlanApproval {
        by: by.clone(),
        at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        hash: plan.hash.clone(),
        comment: a.comment,
    });
    let json = serde_json::to_string_pretty(&plan).unwrap_or_default() + "\n";
    if let Err(e) = super::plan::write_atomic(&a.plan, json.as_bytes()) {
        eprintln!("error: cannot write {}: {e}", a.plan.display());
        return error::INVALID;
    }
    let names: Vec<&str> = plan.approvals.iter().map(|x| x.by.as_str()).collect();
    eprintln!(
        "approved plan {} of `{}` in {} as {by}; approvals: {}",
        plan.hash,
        plan.playbook.name,
        plan.env.name,
        names.join(", ")
    );
    error::SUCCESS
}
