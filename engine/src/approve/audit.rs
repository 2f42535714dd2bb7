//! `audit verify`'s check of approvals: every signed approval a journal's `gate` records
//! hold is verified again, so an approval forged or edited (and the chain rehashed, which
//! anyone can do) is named.

use serde_json::Value;

use super::policy::ApprovalPolicy;
use super::signature::SignedApproval;

/// What the signed approvals of a journal come to: how many verify, and what is wrong with
/// the others (one line each, naming the record, the step and the approver).
#[derive(Debug, Default, PartialEq)]
pub struct Findings {
    pub verified: usize,
    pub problems: Vec<String>,
}

/// Checks each signed approval of the records: its signature is over what it says, by a key
/// allowed_signers gives its approver, and it says what the record says (the step, the
/// decision, the plan, an approver the record names).
pub fn check_records(records: &[Value], policy: &ApprovalPolicy) -> Findings {
    let mut f = Findings::default();
    let run_hash = records
        .iter()
        .find(|r| r.get("type").and_then(Value::as_str) == Some("run_started"))
        .and_then(|r| r.get("plan_hash"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    for r in records {
        if r.get("type").and_then(Value::as_str) != Some("gate") {
            continue;
        }
        let Some(list) = r.get("approvals").and_then(Value::as_array) else {
            continue;
        };
        let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default();
        let seq = r.get("seq").and_then(Value::as_u64).unwrap_or(0);
        let (step, by, hash) = (s("step"), s("by"), s("plan_hash"));
        let approved = r.get("approved").and_then(Value::as_bool).unwrap_or(false);
        for (i, v) in list.iter().enumerate() {
            let where_ = format!("record #{seq} (gate of `{step}`), approval #{}", i + 1);
            let a: SignedApproval = match serde_json::from_value(v.clone()) {
                Ok(a) => a,
                Err(e) => {
                    f.problems.push(format!("{where_}: not a signed approval ({e})"));
                    continue;
                }
            };
            let who = format!("{where_} by {} (given {})", a.approver, a.time);
            let st = a.statement();
            let verdict = match &policy.signers {
                Ok(signers) => signers.verify(&st, &a.signature).map(|_| ()).map_err(|e| e.to_string()),
                Err(why) => super::signature::check_signature(&st, &a.signature)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
                    .and(Err(format!("its key cannot be checked: {why}"))),
            };
            let said = if let Err(why) = verdict {
                Err(why)
            } else if !by.split(", ").any(|b| b == a.approver) {
                Err(format!(
                    "the record says the gate was answered by {by}, not {}",
                    a.approver
                ))
            } else if (a.decision == "approve") != approved {
                Err(format!("it says `{}`, the record says approved={approved}", a.decision))
            } else if a.plan_hash != hash && a.plan_hash != run_hash {
                Err(format!("it approves plan {}, not this run's", a.plan_hash))
            } else if a.step.as_deref().is_some_and(|s| s != step) {
                Err(format!("it answers step `{}`", a.step.as_deref().unwrap_or_default()))
            } else {
                Ok(())
            };
            match said {
                Ok(()) => f.verified += 1,
                Err(why) => f.problems.push(format!("{who}: {why}")),
            }
        }
    }
    f
}
