//! The end-of-run table: each step's status and duration, and the rollbacks.

use crate::event::{RunStatus, StepStatus};

#[derive(Default)]
pub struct Summary {
    pub rows: Vec<(String, String, Option<u64>)>,
    pub rollbacks: Vec<(String, bool, u64)>,
    pub measures: Vec<MeasureRow>,
}

/// A measure as the summary shows it.
pub struct MeasureRow {
    pub name: String,
    pub value: Option<f64>,
    pub target: f64,
    pub met: bool,
    pub fails: bool,
}

/// Seconds as people read them: `850ms`, `12.3s`, `4m05s`, `30m`, `1h30m`, `24h`, `3d4h`.
pub fn human_secs(s: f64) -> String {
    let sign = if s < 0.0 { "-" } else { "" };
    let a = s.abs();
    let two = |big: u64, unit: &str, small: u64, sub: &str, pad: bool| {
        if small == 0 {
            format!("{big}{unit}")
        } else if pad {
            format!("{big}{unit}{small:02}{sub}")
        } else {
            format!("{big}{unit}{small}{sub}")
        }
    };
    let body = if a < 1.0 {
        format!("{:.0}ms", a * 1000.0)
    } else if a < 60.0 {
        if a.fract() == 0.0 {
            format!("{a:.0}s")
        } else {
            format!("{a:.1}s")
        }
    } else if a < 3600.0 {
        let t = a.round() as u64;
        two(t / 60, "m", t % 60, "s", true)
    } else if a < 48.0 * 3600.0 {
        let t = (a / 60.0).round() as u64;
        two(t / 60, "h", t % 60, "m", true)
    } else {
        let t = (a / 3600.0).round() as u64;
        two(t / 24, "d", t % 24, "h", false)
    };
    format!("{sign}{body}")
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
        RunStatus::MeasureMissed => "MEASURE MISSED: its steps went as planned, a measure failed its target",
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
        if !self.measures.is_empty() {
            let w = self
                .measures
                .iter()
                .map(|m| m.name.chars().count())
                .max()
                .unwrap_or(7)
                .max(7);
            out.push_str(&format!(
                "\n{:<w$}  {:>9}  {:>9}  RESULT\n",
                "MEASURE", "VALUE", "TARGET"
            ));
            for m in &self.measures {
                let value = m.value.map(human_secs).unwrap_or_else(|| "-".into());
                let result = match (m.value, m.met) {
                    (_, true) => "met",
                    (None, false) if m.fails => "NOT MEASURED (fails the run)",
                    (None, false) => "not measured",
                    (Some(_), false) if m.fails => "MISSED (fails the run)",
                    (Some(_), false) => "MISSED",
                };
                out.push_str(&format!(
                    "{:<w$}  {value:>9}  {:>9}  {result}\n",
                    m.name,
                    human_secs(m.target)
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::human_secs;

    #[test]
    fn seconds_read_as_people_write_durations() {
        for (s, shown) in [
            (0.85, "850ms"),
            (12.345, "12.3s"),
            (30.0, "30s"),
            (245.0, "4m05s"),
            (1800.0, "30m"),
            (5400.0, "1h30m"),
            (86400.0, "24h"),
            (3.0 * 86400.0 + 4.0 * 3600.0, "3d4h"),
            (-2.5, "-2.5s"),
        ] {
            assert_eq!(human_secs(s), shown, "{s}");
        }
    }
}
