//! Approvals of saved plans: who approved which plan hash, and whether a plan's approval
//! gates are satisfied by them.

use crate::compile::{Gate, GateKind};
use crate::plan::Plan;

/// Checks one gate against a saved plan's approvals; `Err` says what is missing.
pub fn satisfies(plan: &Plan, gate: &Gate, runner: &str) -> Result<Vec<String>, String> {
    // Only approvals of exactly this plan count.
    let mut by: Vec<&str> = plan
        .approvals
        .iter()
        .filter(|a| a.hash == plan.hash)
        .map(|a| a.by.as_str())
        .collect();
    by.sort();
    by.dedup();
    if gate.two_person {
        by.retain(|b| *b != runner);
    }
    let (min, allowed): (usize, Option<&[String]>) = match (&gate.kind, &gate.approval) {
        (GateKind::Approval, Some(a)) => (a.min.unwrap_or(1) as usize, Some(&a.approvers)),
        _ => (1, None),
    };
    // `group:` entries cannot be resolved here: anyone may stand in for a group.
    let counted: Vec<String> = by
        .iter()
        .filter(|b| match allowed {
            Some(list) => list.iter().any(|x| x == *b || x.starts_with("group:")),
            None => true,
        })
        .map(|b| b.to_string())
        .collect();
    if counted.len() >= min {
        return Ok(counted);
    }
    let who = allowed.map(|l| format!(" from {}", l.join(", "))).unwrap_or_default();
    let not_runner = if gate.two_person { ", not the runner" } else { "" };
    Err(format!(
        "{min} approval(s){who}{not_runner} needed, {} given",
        counted.len()
    ))
}
