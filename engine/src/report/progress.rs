//! The display for people on stderr: a spinner per running step when stderr is a terminal
//! (indicatif), plain lines otherwise, and a summary table at the end.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::summary::{MeasureRow, Summary, human_secs, run_word, status_word};
use crate::event::{Event, RunEvent, RunStatus, Sink, StepStatus};

pub struct Progress {
    /// `None`: plain lines (stderr is not a terminal).
    multi: Option<MultiProgress>,
    bars: HashMap<String, ProgressBar>,
    summary: Summary,
    /// A question is open at the terminal: lines wait until it is answered rather than
    /// write over it (and the display never blocks on the prompt).
    prompting: Arc<AtomicBool>,
    held: Vec<String>,
    /// The run, for the `runbook rollback` hint.
    run: String,
}

impl Progress {
    pub fn new(live: bool) -> Self {
        let multi = live.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Progress {
            multi,
            bars: HashMap::new(),
            summary: Summary::default(),
            prompting: Arc::new(AtomicBool::new(false)),
            held: Vec::new(),
            run: String::new(),
        }
    }

    /// Set while a question is open at the terminal.
    pub fn prompting(&self) -> Arc<AtomicBool> {
        self.prompting.clone()
    }

    /// The live display, so prompts can pause it.
    pub fn multi(&self) -> Option<MultiProgress> {
        self.multi.clone()
    }

    fn line(&mut self, text: String) {
        if self.prompting.load(Ordering::SeqCst) {
            self.held.push(text);
            return;
        }
        for held in std::mem::take(&mut self.held) {
            self.print(held);
        }
        self.print(text);
    }

    fn print(&self, text: String) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(text);
            }
            None => eprintln!("{text}"),
        }
    }

    fn start_bar(&mut self, step: &str, text: String) {
        let Some(m) = &self.multi else {
            self.line(format!("▶ {step}: {text}"));
            return;
        };
        let bar = self.bars.entry(step.to_string()).or_insert_with(|| {
            let b = m.add(ProgressBar::new_spinner());
            b.set_style(
                ProgressStyle::with_template("{spinner} {prefix} {elapsed:>4} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        bar.set_prefix(step.to_string());
        bar.set_message(text);
    }

    fn end_bar(&mut self, step: &str) {
        if let Some(b) = self.bars.remove(step) {
            b.finish_and_clear();
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

impl Sink for Progress {
    fn event(&mut self, e: &Event) -> Result<(), String> {
        match &e.kind {
            RunEvent::RunStarted {
                run,
                playbook,
                env,
                plan_hash,
                user,
                ..
            } => {
                self.run = run.clone();
                self.line(format!(
                    "run {run} · {playbook} · env {env} · by {user} · plan {}",
                    &plan_hash[..plan_hash.len().min(19)]
                ));
            }
            // A log step's message is its whole output: shown once, as the log line.
            RunEvent::Resumed {
                run,
                by,
                rerun,
                assume_done,
                accepted_changes,
                ..
            } => {
                self.run = run.clone();
                let mut t = format!("resume {run} by {by}");
                if *accepted_changes {
                    t.push_str(" · plan changes accepted");
                }
                if !rerun.is_empty() {
                    t.push_str(&format!(" · re-running {}", rerun.join(", ")));
                }
                if !assume_done.is_empty() {
                    t.push_str(&format!(" · assumed done {}", assume_done.join(", ")));
                }
                self.line(t);
            }
            RunEvent::StepStarted { summary, .. } if summary.starts_with("log: ") => {}
            RunEvent::StepStarted {
                step, attempt, summary, ..
            } => {
                let retry = if *attempt > 1 {
                    format!(" (attempt {attempt})")
                } else {
                    String::new()
                };
                self.start_bar(step, format!("{}{retry}", first_line(summary)));
            }
            RunEvent::Poll { step, attempt } => {
                if let Some(b) = self.bars.get(step) {
                    b.set_message(format!("waiting for `until` (poll {attempt})"));
                } else if self.multi.is_none() {
                    self.line(format!("… {step}: `until` not yet true (poll {attempt})"));
                }
            }
            RunEvent::Precondition {
                step,
                name,
                ok: false,
                message,
            } => {
                self.line(format!(
                    "✗ {step}: precondition `{name}` does not hold{}",
                    message.as_ref().map(|m| format!(": {m}")).unwrap_or_default()
                ));
            }
            RunEvent::Precondition { .. } => {}
            RunEvent::Gate {
                step,
                kind,
                approved,
                by,
                how,
                ..
            } => {
                let what = if *approved { "approved" } else { "not approved" };
                let who = if by.is_empty() {
                    String::new()
                } else {
                    format!(" by {by}")
                };
                self.line(format!("◆ {step}: {kind} {what}{who} ({how})"));
            }
            RunEvent::Log { step, message } => match step {
                Some(s) => self.line(format!("  {s}: {message}")),
                None => self.line(format!("  {message}")),
            },
            RunEvent::StepFinished {
                step,
                status,
                duration_ms,
                error,
                tail,
                ..
            } => {
                self.end_bar(step);
                let secs = *duration_ms as f64 / 1000.0;
                let mark = match status {
                    StepStatus::Ok => "✓",
                    StepStatus::Skipped | StepStatus::Declined => "–",
                    _ => "✗",
                };
                let mut text = format!("{mark} {step} {} ({secs:.1}s)", status_word(*status));
                if let Some(err) = error {
                    text.push_str(&format!(": {err}"));
                }
                if *status != StepStatus::Ok {
                    for l in tail.iter().rev().take(5).rev() {
                        text.push_str(&format!("\n    │ {l}"));
                    }
                }
                self.line(text);
                self.summary
                    .rows
                    .push((step.clone(), status_word(*status).to_string(), Some(*duration_ms)));
            }
            RunEvent::StepSkipped { step, reason } => {
                self.end_bar(step);
                self.line(format!("– {step} skipped: {reason}"));
                self.summary.rows.push((step.clone(), "skipped".into(), None));
            }
            RunEvent::RollbackStarted { step, summary } => {
                self.start_bar(&format!("↺ {step}"), first_line(summary).to_string());
            }
            RunEvent::RollbackFinished {
                step,
                ok,
                duration_ms,
                undone: _,
                error,
            } => {
                self.end_bar(&format!("↺ {step}"));
                let text = match (ok, error) {
                    (true, _) => format!("↺ {step} undone ({:.1}s)", *duration_ms as f64 / 1000.0),
                    (false, e) => format!("✗ {step} UNDO FAILED: {}", e.clone().unwrap_or_default()),
                };
                self.line(text);
                self.summary.rollbacks.push((step.clone(), *ok, *duration_ms));
            }
            RunEvent::Escalated {
                step,
                level,
                notified,
                delivered,
                failed,
                last,
                ..
            } => {
                let mut text = format!(
                    "⇡ {step}: no answer yet, escalated to {level}: {}",
                    if notified.is_empty() {
                        "nobody".to_string()
                    } else {
                        notified.join(", ")
                    }
                );
                if !delivered.is_empty() {
                    text.push_str(&format!(" (via {})", delivered.join(", ")));
                }
                if *last {
                    text.push_str("; the last level: the step waits on until its timeout");
                }
                for f in failed {
                    text.push_str(&format!("\n    ! {f}"));
                }
                self.line(text);
            }
            RunEvent::IncidentAnnounced {
                channel,
                on_call,
                failed,
            } => match failed {
                None => self.line(format!(
                    "incident announced in #{channel}{}",
                    if on_call.is_empty() {
                        String::new()
                    } else {
                        format!(" · on call: {}", on_call.join(", "))
                    }
                )),
                Some(why) => self.line(format!("! incident not announced in #{channel}: {why}")),
            },
            RunEvent::GuardTripped { guard, value, abort_if } => {
                self.line(format!(
                    "✗ guard `{guard}` tripped: `{abort_if}` holds (value = {value}); rolling back"
                ));
            }
            RunEvent::Interrupted { signal } => {
                self.line(format!(
                    "{signal}: no new step starts; the running ones are being stopped (again to kill them at once)"
                ));
            }
            RunEvent::RollbackRequested { run, by, undo } => {
                self.run = run.clone();
                self.line(format!("rollback of run {run} by {by}: {} to undo", undo.len()));
            }
            RunEvent::RollbackEnded {
                ok,
                duration_ms,
                remaining_undo,
            } => {
                let mut text = self.summary.render();
                text.push_str(&format!(
                    "\nrollback {} in {:.1}s",
                    if *ok {
                        "complete"
                    } else {
                        "INCOMPLETE: a human must finish"
                    },
                    *duration_ms as f64 / 1000.0
                ));
                push_remaining(&mut text, remaining_undo);
                self.line(text);
            }
            RunEvent::Measure {
                name,
                value_seconds,
                target_seconds,
                met,
                on_miss,
                reason,
                ..
            } => {
                let fails = *on_miss == crate::playbook::OnMiss::Fail;
                let text = match (value_seconds, met) {
                    (Some(v), true) => format!(
                        "◎ measure {name}: {} (target {}) met",
                        human_secs(*v),
                        human_secs(*target_seconds)
                    ),
                    (Some(v), false) => format!(
                        "✗ measure {name}: {} MISSED its target {}{}",
                        human_secs(*v),
                        human_secs(*target_seconds),
                        if fails { " (on_miss: fail)" } else { "" }
                    ),
                    (None, _) => format!(
                        "✗ measure {name}: {}{}",
                        reason.clone().unwrap_or_else(|| "not measured".into()),
                        if fails { " (on_miss: fail)" } else { "" }
                    ),
                };
                self.line(text);
                self.summary.measures.push(MeasureRow {
                    name: name.clone(),
                    value: *value_seconds,
                    target: *target_seconds,
                    met: *met,
                    fails,
                });
            }
            RunEvent::RunFinished {
                status,
                exit_code,
                duration_ms,
                remaining_undo,
            } => {
                let mut text = self.summary.render();
                let undone = self.summary.rollbacks.iter().filter(|r| r.1).count();
                let rolled = if undone > 0 {
                    format!(", {undone} undone")
                } else {
                    String::new()
                };
                text.push_str(&format!(
                    "\nrun {}{rolled} in {:.1}s (exit {exit_code})",
                    run_word(*status),
                    *duration_ms as f64 / 1000.0
                ));
                push_remaining(&mut text, remaining_undo);
                if !remaining_undo.is_empty() && matches!(status, RunStatus::Interrupted | RunStatus::Terminated) {
                    text.push_str(&format!(
                        "\nto undo them: runbook rollback {} (--dry-run to see the list first)",
                        self.run
                    ));
                }
                self.line(text);
            }
        }
        Ok(())
    }

    fn finish(&mut self) {
        for held in std::mem::take(&mut self.held) {
            self.print(held);
        }
        for (_, b) in self.bars.drain() {
            b.finish_and_clear();
        }
    }
}

/// The undo steps left for a human, in order.
fn push_remaining(text: &mut String, remaining: &[String]) {
    if !remaining.is_empty() {
        text.push_str("\nstill to undo by hand, in this order:");
        for u in remaining {
            text.push_str(&format!("\n  - {u}"));
        }
    }
}
