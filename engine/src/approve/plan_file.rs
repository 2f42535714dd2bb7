//! Approvals of saved plans: who approved which plan hash, when, signed by whom; whether a
//! plan's gates are satisfied by them, and which approvals expired or do not verify.

use chrono::{DateTime, Utc};

use super::policy::ApprovalPolicy;
use super::signature::Statement;
use crate::compile::{Gate, GateKind};
use crate::plan::{Plan, PlanApproval};

/// How long an approval of a saved plan stays valid when the environment does not say.
pub const DEFAULT_APPROVAL_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// What an approval of a whole saved plan says, as signed.
pub fn statement(a: &PlanApproval) -> Statement {
    Statement {
        approver: a.by.clone(),
        decision: "approve".into(),
        plan_hash: a.hash.clone(),
        step: None,
        time: a.at.clone(),
    }
}

/// How long the plan's approvals count for a gate: the environment's `approval_ttl`
/// (default 24h), or the gate's own `timeout` when that is shorter.
pub fn ttl(plan: &Plan, gate: &Gate) -> std::time::Duration {
    let env = plan.env.approval_ttl.map(|d| d.std()).unwrap_or(DEFAULT_APPROVAL_TTL);
    match gate.approval.as_ref().and_then(|a| a.timeout) {
        Some(t) => env.min(t.std()),
        None => env,
    }
}

/// When an approval stops counting for a gate.
fn expires(a: &PlanApproval, ttl: std::time::Duration) -> Result<DateTime<Utc>, String> {
    let at = DateTime::parse_from_rfc3339(&a.at)
        .map_err(|e| format!("its time `{}` is not an RFC 3339 time ({e})", a.at))?
        .with_timezone(&Utc);
    let ttl = chrono::Duration::from_std(ttl).map_err(|e| e.to_string())?;
    Ok(at + ttl)
}

/// Checks one gate against a saved plan's approvals at `now`; `Err` says what is missing,
/// naming each approval that does not count for a reason worth knowing (expired, forged,
/// the runner's own).
pub fn satisfies(
    plan: &Plan,
    gate: &Gate,
    runner: &str,
    policy: &ApprovalPolicy,
    now: DateTime<Utc>,
) -> Result<Vec<String>, String> {
    let ttl = ttl(plan, gate);
    let mut counted: Vec<String> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    for (i, a) in plan.approvals.iter().enumerate() {
        let name = format!("approval #{} by {} (given {})", i + 1, a.by, a.at);
        // Only approvals of exactly this plan count.
        if a.hash != plan.hash {
            problems.push(format!("{name} is of another plan ({})", a.hash));
            continue;
        }
        if let Err(r) = policy.check(gate, runner, &statement(a), a.signature.as_deref()) {
            if r.notable {
                problems.push(format!("{name} does not count: {}", r.why));
            }
            continue;
        }
        match expires(a, ttl) {
            Err(why) => {
                problems.push(format!("{name} does not count: {why}"));
                continue;
            }
            Ok(end) if end <= now => {
                problems.push(format!(
                    "{name} expired at {} (approvals count for {})",
                    end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    crate::playbook::Duration(ttl)
                ));
                continue;
            }
            Ok(_) => {}
        }
        if !counted.contains(&a.by) {
            counted.push(a.by.clone());
        }
    }
    let (min, allowed): (usize, Option<&[String]>) = match (&gate.kind, &gate.approval) {
        (GateKind::Approval, Some(a)) => (a.min.unwrap_or(1) as usize, Some(&a.approvers)),
        _ => (1, None),
    };
    if counted.len() >= min {
        return Ok(counted);
    }
    let who = allowed.map(|l| format!(" from {}", l.join(", "))).unwrap_or_default();
    let not_runner = if gate.two_person { ", not the runner" } else { "" };
    let signed = if gate.signed { " signed" } else { "" };
    let mut msg = format!(
        "{min}{signed} approval(s){who}{not_runner} needed, {} given",
        counted.len()
    );
    for p in problems {
        msg.push_str(&format!("\n    {p}"));
    }
    Err(msg)
}

/// Every approval gate of a saved plan must be satisfied by its approvals before it runs;
/// `Err` lists each step and what it lacks.
pub fn check_saved(plan: &Plan, runner: &str, policy: &ApprovalPolicy, now: DateTime<Utc>) -> Result<(), String> {
    let mut missing = Vec::new();
    for step in plan.steps.iter().chain(&plan.on_failure).chain(&plan.finally) {
        for gate in step.gates.iter().filter(|g| g.kind == GateKind::Approval) {
            if let Err(why) = satisfies(plan, gate, runner, policy, now) {
                missing.push(format!("  step `{}`: {why}", step.id));
            }
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(missing.join("\n"))
    }
}
