//! `runbook approve FILE --as NAME`: adds an approval, bound to the plan's hash, to a saved
//! plan. `runbook approve RUN_ID STEP --as NAME [--reject]`: answers a running run's
//! approval gate.

use std::path::PathBuf;

use super::common::Global;
use crate::error;
use crate::plan::{Plan, PlanApproval};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A saved plan (`runbook plan ... --out FILE`), or a run id (or a unique prefix) with STEP.
    pub target: PathBuf,
    /// The step of the running run whose approval gate this answers (`caller/step` in a
    /// sub-playbook).
    pub step: Option<String>,
    /// Reject instead of approve (running runs only): the gate is refused, the run ends (exit 4).
    #[arg(long)]
    pub reject: bool,
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

pub fn exec(g: &Global, a: Args) -> i32 {
    let by = a
        .as_
        .clone()
        .or_else(|| std::env::var("RUNBOOK_USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(super::run::os_user);
    if let Some(step) = &a.step {
        return answer_run(g, &a, step, &by);
    }
    if a.reject {
        eprintln!(
            "error: --reject answers a running run's gate: runbook approve RUN_ID STEP --reject; a saved plan is rejected by not approving it"
        );
        return error::INVALID;
    }
    let path = &a.target;
    let mut plan = match read_plan(path) {
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
        comment: a.comment.clone(),
    });
    let json = serde_json::to_string_pretty(&plan).unwrap_or_default() + "\n";
    if let Err(e) = super::plan::write_atomic(path, json.as_bytes()) {
        eprintln!("error: cannot write {}: {e}", path.display());
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

/// Records a decision for a running run's approval gate; the run picks it up.
fn answer_run(g: &Global, a: &Args, step: &str, by: &str) -> i32 {
    let ws = match g.ws() {
        Ok(ws) => ws,
        Err(code) => return code,
    };
    let state = g.state(&ws);
    let target = a.target.to_string_lossy();
    let run = match state.find(&target) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return error::INVALID;
        }
    };
    if let Some(r) = state.list().into_iter().find(|r| r.run == run)
        && r.status != "unfinished"
    {
        eprintln!(
            "error: run {run} has finished ({}); there is nothing to approve",
            r.status
        );
        return error::INVALID;
    }
    let decision = crate::approve::live::Decision {
        step: step.to_string(),
        by: by.to_string(),
        at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        approved: !a.reject,
        comment: a.comment.clone(),
    };
    match crate::approve::live::record(&state, &run, &decision) {
        Ok(_) => {
            let what = if a.reject { "rejects" } else { "approves" };
            eprintln!("{by} {what} step `{step}` of run {run}");
            error::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot record the decision: {e}");
            error::INVALID
        }
    }
}
