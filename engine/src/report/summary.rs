//! The end-of-run table: each step's status and duration, and the rollbacks.

use crate::exec::{RunStatus, StepStatus};

#[derive(Default)]
pub struct Summary {
    pub rows: Vec<(String, String, Option<u64>)>,
    pub rollbacks: Vec<(String, bool, u64)>,
}

fn secs(ms: u64) -> String {
    format!("{:.1}s", ms as f64 / 1000.0)
}

pub fn status_word(s: StepStatus) -> &'static str {
    match s {
        StepStatus::Ok => "ok",
        StepStatus::Failed => "FAILED",
        StepStatus::TimedOut => "TIMED OUT",
        StepStatus::Skipped => "skipped",
        StepStatus::Declined => "declined",
    }
}

pub fn run_word(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Succeeded => "succeeded",
        RunStatus::Failed => "FAILED",
        RunStatus::RollbackFailed => "ROLLBACK FAILED: a human must finish",
        RunStatus::Refused => "REFUSED at a gate",
        RunStatus::Interrupted => "INTERRUPTED",
        RunStatus::Terminated => "TERMINATED",
    }
}

impl Summary {
    pub fn render(&self) -> String {
        let width = self
            .rows
            .iter()
            .map(|r| r.0.chars().count())
            .chain(self.rollbacks.iter().map(|r| r.0.chars().count() + 2))
            .max()
            .unwrap_or(4)
            .max(4);
        let mut out = format!("\n{:<width$}  {:<10}  {:>8}\n", "STEP", "STATUS", "TIME");
        for (step, status, ms) in &self.rows {
            let t = ms.map(secs).unwrap_or_default();
            out.push_str(&format!("{step:<width$}  {status:<10}  {t:>8}\n"));
        }
        for (step, ok, ms) in &self.rollbacks {
            let status = if *ok { "undone" } else { "UNDO FAILED" };
            let label = format!("↺ {step}");
            let pad = width.saturating_sub(label.chars().count());
            out.push_str(&format!("{label}{:pad$}  {status:<10}  {:>8}\n", "", secs(*ms)));
        }
        out
    }
}
