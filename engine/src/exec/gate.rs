//! A step's gates (confirm and approval): each asks its question, or waits for other
//! people's decisions, escalating along the step's chain meanwhile; each answer is on disk
//! before the step acts on it. A gate withdrawn because the run is failing or stopping is no
//! refusal.

use std::time::{Duration, Instant};

use serde_json::Value as Json;

use super::engine::Engine;
use super::escalate::Awaiting;
use super::step::{StepReport, Unit};
use crate::approve::Answer;
use crate::compile::{GateKind, Step};
use crate::event::{RunEvent, StepStatus};
use crate::wake::{Waits, Woke};

/// Asks the step's gates in turn, for the step or one iteration (`unit`). `Ok` when each
/// said yes; otherwise how the step ends (declined, refused, skipped, or failed when an
/// answer could not be journaled), its events already sent.
pub(super) async fn pass(
    eng: &Engine,
    step: &Step,
    unit: &Unit,
    extra: &[(&str, Json)],
    waits: &Waits,
    start: Instant,
) -> Result<(), StepReport> {
    let label = unit.label.as_str();
    for gate in &step.gates {
        let summary = step
            .action
            .as_ref()
            .map(|a| eng.shown(a, extra))
            .unwrap_or_else(|| "(a gate, no action)".into());
        let question = match &gate.question_template {
            Some(t) => eng
                .rt
                .render(t, extra)
                .unwrap_or_else(|_| gate.question.clone().unwrap_or_default()),
            None => gate.question.clone().unwrap_or_else(|| format!("Run step `{label}`?")),
        };
        let detail = format!(
            "step `{label}` · risk {} · {}\n  {summary}",
            step.risk.as_str(),
            step.effect.as_str()
        );
        // What a person is shown at the terminal never reaches the events' choke point.
        let (question, detail) = (eng.rt.redact(&question), eng.rt.redact(&detail));
        let awaiting = match gate.kind {
            GateKind::Confirm => Awaiting::Confirm,
            GateKind::Approval => Awaiting::Approval,
        };
        let deciding = async {
            let answer = eng
                .gates
                .decide(&eng.label(&step.id), gate, &question, &detail, waits)
                .await;
            match answer {
                Answer::Wait { dir, who } => wait_for_approval(eng, label, gate, &dir, &who, waits).await,
                other => other,
            }
        };
        let answer = eng.escalating(label, step, awaiting, deciding, waits).await;
        let kind = match gate.kind {
            GateKind::Confirm => "confirm",
            GateKind::Approval => "approval",
        };
        let (approved, by, how, why) = match &answer {
            Answer::Yes { by, how, .. } => (true, by.clone(), how.clone(), None),
            Answer::No { by, how, .. } => (false, by.clone(), how.clone(), None),
            Answer::Closed { why } => (false, String::new(), "failed closed".into(), Some(why.clone())),
            Answer::Withdrawn { why } => (false, String::new(), format!("withdrawn: {why}"), Some(why.clone())),
            Answer::Wait { .. } => (false, String::new(), "no answer".into(), None),
        };
        // The answer is on disk before the step acts on it.
        let recorded = eng
            .emitter
            .record(RunEvent::Gate {
                step: label.to_string(),
                kind: kind.into(),
                approved,
                by,
                question: question.clone(),
                shown: detail.clone(),
                plan_hash: eng.plan.hash.clone(),
                how,
                approvals: match &answer {
                    Answer::Yes { signed, .. } | Answer::No { signed, .. } => signed.clone(),
                    _ => Vec::new(),
                },
            })
            .await;
        if let Err(e) = recorded {
            return Err(eng
                .fail_step(
                    step,
                    format!("not run: its gate's answer could not be journaled ({e})"),
                    start,
                    Some(label),
                )
                .await);
        }
        match answer {
            Answer::Yes { .. } => {}
            // An unanswered gate (no terminal, an approval timing out) is a no: under
            // `on_decline: skip` the step is skipped, as after a no at the terminal.
            Answer::No { .. } | Answer::Closed { .. }
                if step.on_decline == Some(crate::playbook::OnDecline::Skip) && waits.state().is_none() =>
            {
                let how = if matches!(answer, Answer::No { .. }) {
                    "declined"
                } else {
                    "unanswered"
                };
                eng.emit(RunEvent::StepSkipped {
                    step: label.to_string(),
                    reason: format!("{how} at its gate (on_decline: skip)"),
                });
                return Err(StepReport::of(unit, StepStatus::Declined, false, false));
            }
            Answer::No { .. } => {
                eng.finish_event(
                    label,
                    StepStatus::Declined,
                    start,
                    Some("declined at its gate".into()),
                    None,
                    &serde_json::Map::new(),
                )
                .await;
                return Err(StepReport::of(unit, StepStatus::Declined, true, false));
            }
            // The run is failing or stopping: the step does not run, and that is no refusal.
            Answer::Withdrawn { why } | Answer::Closed { why } if waits.state().is_some() => {
                eng.emit(RunEvent::StepSkipped {
                    step: label.to_string(),
                    reason: format!("its gate was withdrawn: {why}"),
                });
                return Err(StepReport::of(unit, StepStatus::Skipped, false, false));
            }
            Answer::Withdrawn { .. } | Answer::Wait { .. } | Answer::Closed { .. } => {
                eng.finish_event(label, StepStatus::Declined, start, why, None, &serde_json::Map::new())
                    .await;
                return Err(StepReport::of(unit, StepStatus::Declined, true, false));
            }
        }
    }
    Ok(())
}

/// Waits for other people's decisions on an approval gate: enough approvals, a
/// rejection, the gate's timeout (rejects), or the run failing or stopping (withdrawn).
async fn wait_for_approval(
    eng: &Engine,
    label: &str,
    gate: &crate::compile::Gate,
    dir: &std::path::Path,
    who: &str,
    waits: &Waits,
) -> Answer {
    use crate::approve::live::{Tally, tally};
    /// How often the decisions are read again.
    const EVERY: Duration = Duration::from_millis(300);
    let timeout = gate
        .approval
        .as_ref()
        .and_then(|a| a.timeout)
        .map(|t| t.std())
        .unwrap_or(Duration::from_secs(3600));
    eng.emit(RunEvent::Log {
        step: Some(label.to_string()),
        message: format!(
            "waiting up to {} for approval by {who}: runbook approve {} {label} --as NAME (or --reject)",
            crate::playbook::Duration(timeout),
            eng.run.id
        ),
    });
    let deadline = crate::wake::deadline(timeout);
    let runner = eng.gates.user.clone();
    loop {
        // Reading the decisions touches the disk: off the runtime's workers.
        let (d, g, r) = (dir.to_path_buf(), gate.clone(), runner.clone());
        let p = eng.gates.policy.clone();
        let now = tokio::task::spawn_blocking(move || tally(&d, &g, &r, &p))
            .await
            .unwrap_or(Tally::Pending { have: 0, need: 1 });
        match now {
            Tally::Approved { by, signed } => {
                return Answer::Yes {
                    by: by.join(", "),
                    how: "runbook approve".into(),
                    signed,
                };
            }
            Tally::Rejected { by, signed } => {
                return Answer::No {
                    by,
                    how: "runbook approve --reject".into(),
                    signed,
                };
            }
            Tally::Pending { have, need } => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Answer::Closed {
                        why: format!(
                            "no approval within {} ({have} of {need}): rejected",
                            crate::playbook::Duration(timeout)
                        ),
                    };
                }
                match waits.sleep(left.min(EVERY)).await {
                    Woke::Elapsed => {}
                    Woke::Settling => {
                        return Answer::Withdrawn {
                            why: "the run is failing".into(),
                        };
                    }
                    Woke::Cancelled => {
                        return Answer::Withdrawn {
                            why: "the run was interrupted".into(),
                        };
                    }
                }
            }
        }
    }
}
