//! Picks a report's rendering: Markdown, HTML, or the report's data as JSON.

use super::history::History;
use super::model::RunReport;
use super::{html, markdown};

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
    // Reports hold strings, numbers and maps only: serializing cannot fail.
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|e| unreachable!("a report always serializes: {e}"));
    s.push('\n');
    s
}
