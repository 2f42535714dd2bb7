//! `runbook rollback`: undoing a stopped run's finished steps after the fact, from what its
//! journal recorded, newest first. Each undo is behind a gate when the environment's policy
//! asks for one at the step's risk, each is journaled into the run's own chain, and a
//! signal stops the rollback after the undo that runs.

use std::sync::Arc;
use std::time::Instant;

use super::dispatch::signal_status;
use super::engine::Engine;
use super::step::Unit;
use crate::approve::Answer;
use crate::compile::{Gate, GateKind};
use crate::event::{RunEvent, RunStatus};

impl Engine {
    /// Undoes `todo` (indexes of plan steps and their units, in the order given) for `by`.
    /// Ends `Succeeded` when everything was undone, `RollbackFailed` when an undo failed or
    /// could not be journaled, `Refused` at a declined gate, or by the signal that stopped
    /// it; with what remains to undo.
    pub async fn undo(self, todo: Vec<(usize, Unit)>, by: &str) -> (RunStatus, Vec<String>) {
        let eng = Arc::new(self);
        let start = Instant::now();
        let all = eng.undo_list(&todo);
        let requested = eng
            .emitter
            .record(RunEvent::RollbackRequested {
                run: eng.run.id.clone(),
                by: by.to_string(),
                undo: all.clone(),
            })
            .await;
        if requested.is_err() {
            eng.emitter.finish().await;
            return (RunStatus::RollbackFailed, all);
        }
        let mut status = RunStatus::Succeeded;
        let mut stopped_at = None;
        for (k, (i, unit)) in todo.iter().enumerate() {
            if let Some(s) = eng.signals().received() {
                eng.on_signal();
                status = signal_status(s);
                stopped_at = Some(k);
                break;
            }
            if !eng.supervise(eng.undo_gate(*i, unit)).await {
                // A question a signal withdrew is no refusal.
                status = eng
                    .signals()
                    .received()
                    .map(signal_status)
                    .unwrap_or(RunStatus::Refused);
                stopped_at = Some(k);
                break;
            }
            let ok = eng.rollback_in_task(*i, unit).await;
            let signal = eng.signals().received();
            if !ok || signal.is_some() {
                status = signal.map(signal_status).unwrap_or(RunStatus::RollbackFailed);
                stopped_at = Some(if ok { k + 1 } else { k });
                break;
            }
        }
        let remaining = stopped_at.map(|k| all[k..].to_vec()).unwrap_or_default();
        if status == RunStatus::Succeeded && !remaining.is_empty() {
            status = RunStatus::RollbackFailed;
        }
        let _ = eng
            .emitter
            .record(RunEvent::RollbackEnded {
                ok: remaining.is_empty(),
                duration_ms: start.elapsed().as_millis() as u64,
                remaining_undo: remaining.clone(),
            })
            .await;
        eng.emitter.finish().await;
        (status, remaining)
    }

    /// The environment's policy decides whether undoing a step needs a yes, as running it
    /// did: by the step's risk. True when it may go ahead.
    async fn undo_gate(&self, i: usize, unit: &Unit) -> bool {
        let step = &self.plan.steps[i];
        if !self.plan.env.policy.confirm.contains(&step.risk) {
            return true;
        }
        let text = self.undo_text(step, unit);
        let question = format!("Undo step `{}`?", unit.label);
        let gate = Gate {
            kind: GateKind::Confirm,
            reasons: vec![format!(
                "policy: {} confirms {}",
                self.plan.env.name,
                step.risk.as_str()
            )],
            question: Some(question.clone()),
            question_template: None,
            approval: None,
            two_person: false,
            signed: false,
        };
        let detail = format!("undo of step `{}` · risk {}\n  {text}", unit.label, step.risk.as_str());
        let answer = self
            .gates
            .decide(&step.id, &gate, &question, &detail, &self.signals().cleanup())
            .await;
        let (yes, by, how) = match &answer {
            Answer::Yes { by, how, .. } => (true, by.clone(), how.clone()),
            Answer::No { by, how, .. } => (false, by.clone(), how.clone()),
            Answer::Closed { why } | Answer::Withdrawn { why } => (false, String::new(), why.clone()),
            Answer::Wait { .. } => (false, String::new(), "no answer".into()),
        };
        let recorded = self
            .emitter
            .record(RunEvent::Gate {
                step: unit.label.clone(),
                kind: "confirm".into(),
                approved: yes,
                by,
                question,
                shown: detail,
                plan_hash: self.plan.hash.clone(),
                how,
                approvals: Vec::new(),
            })
            .await;
        yes && recorded.is_ok()
    }
}
