//! Rolling back: undoing one unit (a step, or one `for_each` iteration) with its rollback
//! actions or the undo its action captured, each action retried as written, in a task that
//! answers signals while it runs; the question a run that a signal stopped asks before it
//! rolls back; and what remains to undo, in words. Which units, in which order, is the
//! dispatcher's decision (`dispatch`).

use std::sync::Arc;
use std::time::Instant;

use super::engine::{Engine, List};
use super::retry::Retry;
use super::step::Unit;
use crate::compile::{RollbackPlan, Step};
use crate::event::RunEvent;
use crate::wake::Waits;

impl Engine {
    /// After a signal: roll back only on a yes at a terminal. Without one the run says
    /// what remains to undo and how.
    pub(super) async fn ask_rollback(&self, units: &[(usize, Unit)]) -> bool {
        if units.is_empty() || self.signals().killed() || !self.top() {
            return false;
        }
        if !self.gates.prompter.interactive() {
            self.emit(RunEvent::Log {
                step: None,
                message: format!(
                    "not rolling back: no terminal to ask at; `runbook rollback {}` undoes the {} step(s) that ran",
                    self.run.id,
                    units.len()
                ),
            });
            return false;
        }
        let list: Vec<String> = units
            .iter()
            .map(|(i, u)| format!("  - {}", self.undo_text(&self.plan.steps[*i], u)))
            .collect();
        let detail = self
            .redactor
            .redact(&format!(
                "The run was interrupted. Undo, in this order:\n{}",
                list.join("\n")
            ))
            .into_owned();
        // Only a second signal withdraws this question.
        let answer = self
            .gates
            .prompter
            .confirm(
                "Roll back the steps that completed?",
                &detail,
                &self.signals().cleanup(),
            )
            .await;
        let yes = matches!(answer, Ok(true));
        let _ = self
            .emitter
            .record(RunEvent::Gate {
                step: "rollback".into(),
                kind: "confirm".into(),
                approved: yes,
                by: self.gates.user.clone(),
                question: "Roll back the steps that completed?".into(),
                shown: detail,
                plan_hash: self.plan.hash.clone(),
                how: match answer {
                    Ok(_) => "terminal".into(),
                    Err(e) => e.to_string(),
                },
                approvals: Vec::new(),
            })
            .await;
        yes
    }

    /// Runs one unit's rollback in a task of its own. While it runs, a first signal is
    /// journaled and stops it; the answer is whether it completed.
    pub(super) async fn rollback_in_task(self: &Arc<Self>, i: usize, unit: &Unit) -> bool {
        let eng = self.clone();
        let unit = unit.clone();
        let waits = self.signals().cleanup();
        let task = tokio::spawn(async move { eng.rollback_unit(eng.step_at(List::Steps, i), &unit, &waits).await });
        self.supervise(task).await.unwrap_or(false)
    }

    /// Awaits a cleanup's task or question (a rollback, an `on_failure` or `finally` step,
    /// an undo's gate) while answering signals: the first is journaled and stops it, as in
    /// the run.
    pub(super) async fn supervise<F: std::future::Future>(&self, work: F) -> F::Output {
        tokio::pin!(work);
        loop {
            tokio::select! {
                r = &mut work => return r,
                _ = self.signals().requested(), if !self.signals().interrupted() => self.on_signal(),
            }
        }
    }

    /// Runs one unit's rollback actions in order, each with its own retry. False when one
    /// still fails, or its start could not be journaled (then it does not run).
    pub(super) async fn rollback_unit(&self, step: &Step, unit: &Unit, waits: &Waits) -> bool {
        let auto;
        let actions = match &step.rollback {
            Some(RollbackPlan::Steps(actions)) => actions,
            Some(RollbackPlan::Auto { .. }) => {
                // What the action recorded, as it ran, about undoing itself.
                let undo = match &unit.undo {
                    Some(crate::spec::Undo::Run(a)) => (**a).clone(),
                    Some(crate::spec::Undo::Nothing) => {
                        self.emit(RunEvent::Log {
                            step: Some(unit.label.clone()),
                            message: "rollback: auto: nothing to undo (the action changed nothing)".into(),
                        });
                        return true;
                    }
                    None => {
                        self.emit(RunEvent::RollbackFinished {
                            step: unit.label.clone(),
                            ok: false,
                            undone: false,
                            duration_ms: 0,
                            error: Some("no automatic undo: the action recorded none before it stopped".into()),
                        });
                        return false;
                    }
                };
                auto = vec![crate::compile::RollbackStep {
                    name: None,
                    action: crate::compile::PlannedAction {
                        effect: undo.effect(),
                        summary: undo.summary(),
                        spec: undo,
                        templates: Vec::new(),
                    },
                    timeout: None,
                    retry: None,
                }];
                &auto
            }
            None => return true,
        };
        let extra = unit.extra();
        for (n, rb) in actions.iter().enumerate() {
            let start = Instant::now();
            let started = self
                .emitter
                .record(RunEvent::RollbackStarted {
                    step: unit.label.clone(),
                    summary: self.shown(&rb.action, &extra),
                })
                .await;
            if let Err(why) = started {
                self.emit(RunEvent::RollbackFinished {
                    step: unit.label.clone(),
                    ok: false,
                    undone: false,
                    duration_ms: 0,
                    error: Some(format!("not run: its start could not be journaled ({why})")),
                });
                return false;
            }
            let timeout = rb.timeout.unwrap_or(step.timeout).std();
            let mut tries = Retry::new(rb.retry.as_ref());
            let outcome = loop {
                let outcome = self
                    .run_action(&unit.label, step, &rb.action, &extra, timeout, waits)
                    .await;
                if outcome.ok || !tries.again(waits, |_, _| {}).await {
                    break outcome;
                }
            };
            self.emit(RunEvent::RollbackFinished {
                step: unit.label.clone(),
                ok: outcome.ok,
                undone: outcome.ok && n + 1 == actions.len(),
                duration_ms: start.elapsed().as_millis() as u64,
                error: outcome.error.clone(),
            });
            if !outcome.ok {
                return false;
            }
        }
        true
    }

    /// What each unit's undo is, in words (and in order).
    pub fn undo_list(&self, todo: &[(usize, Unit)]) -> Vec<String> {
        todo.iter()
            .map(|(i, u)| self.undo_text(&self.plan.steps[*i], u))
            .collect()
    }

    /// What a human must still undo for one unit, in words.
    pub(super) fn undo_text(&self, step: &Step, unit: &Unit) -> String {
        let text = match &step.rollback {
            Some(RollbackPlan::Steps(actions)) => {
                let what: Vec<String> = actions.iter().map(|a| self.shown(&a.action, &unit.extra())).collect();
                format!("{}: {}", unit.label, what.join("; then "))
            }
            Some(RollbackPlan::Auto { description }) => format!("{}: {description}", unit.label),
            None => unit.label.clone(),
        };
        self.redactor.redact(&text).into_owned()
    }
}
