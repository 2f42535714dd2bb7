//! Drill reports: one run's report (`runbook report RUN_ID`) and a playbook's history
//! (`runbook report --playbook NAME`), built from journals and plans alone, as Markdown,
//! JSON or one self-contained HTML file.

mod build;
mod escape;
mod history;
mod html;
mod load;
mod markdown;
mod model;
mod render;
mod svg;

pub use history::{History, HistoryRow, Trend};
pub use load::{find_run, history, run_report};
pub use model::{
    Dag, Failure, GateRow, Header, JournalCheck, MeasureRow, OutputRow, REPORT_FORMAT, RollbackRow, RunReport, StepRow,
};
pub use render::{Format, render_history, render_run};
