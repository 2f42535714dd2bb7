//! Drill reports: one run's report (`runbook report RUN_ID`) and a playbook's history
//! (`runbook report --playbook NAME`), built from journals and plans alone, as Markdown,
//! JSON or one self-contained HTML file.

mod escape;
mod history;
mod html;
mod load;
mod markdown;
mod model;
mod svg;

pub use escape::html as escape_html;
pub use history::{History, HistoryRow, Trend};
pub use load::{find_run, history, run_report};
pub use model::{
    Dag, Failure, GateRow, Header, JournalCheck, MeasureRow, OutputRow, REPORT_FORMAT, RollbackRow, RunReport, StepRow,
};

/// A report's rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Html,
    Json,
}

/// One run's report in `format`.
pub fn render_run(r: &RunReport, format: Format) -> String {
    match format {
        Format::Markdown => markdown::run(r),
        Format::Html => html::run(r),
        Format::Json => json(r),
    }
}

/// A history in `format`.
pub fn render_history(h: &History, format: Format) -> String {
    match format {
        Format::Markdown => markdown::history(h),
        Format::Html => html::history(h),
        Format::Json => json(h),
    }
}

fn json<T: serde::Serialize>(v: &T) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|e| unreachable!("a report always serializes: {e}"));
    s.push('\n');
    s
}
