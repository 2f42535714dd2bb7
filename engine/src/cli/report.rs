//! `runbook report`: one run's report from its journal and plan, or a playbook's history of
//! runs with the trend of its measures; as Markdown, JSON or self-contained HTML.

use std::path::PathBuf;

use clap::ValueEnum;

use super::common::Global;
use crate::error;
use crate::report::drill::{self, Format as DrillFormat};

/// How many runs a history shows without `--last`.
const DEFAULT_LAST: u32 = 10;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run (its id, or a unique prefix of it).
    #[arg(required_unless_present = "playbook", conflicts_with = "playbook")]
    pub run: Option<String>,
    /// The history of this playbook's runs instead: one row per run, and the trend of each
    /// measure.
    #[arg(long, value_name = "NAME")]
    pub playbook: Option<String>,
    /// How many of its newest runs the history shows (default 10).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub last: Option<u32>,
    #[arg(long, value_enum, default_value = "md")]
    pub format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Markdown tables.
    Md,
    /// One self-contained HTML file: inline SVG timeline and DAG, no script, no network.
    Html,
    /// The report's data (`format: 1`).
    Json,
}

pub fn exec(g: &Global, a: Args) -> i32 {
    let ws = match g.ws() {
        Ok(ws) => ws,
        Err(code) => return code,
    };
    if a.last.is_some() && a.playbook.is_none() {
        eprintln!("error: --last counts the runs of a history: give it with --playbook NAME");
        return error::INVALID;
    }
    let state = g.state(&ws);
    let format = match a.format {
        Format::Md => DrillFormat::Markdown,
        Format::Html => DrillFormat::Html,
        Format::Json => DrillFormat::Json,
    };
    let (text, verified) = match (&a.run, &a.playbook) {
        (Some(run), _) => {
            let report = drill::find_run(&state, run).and_then(|id| drill::run_report(&state, &id));
            match report {
                Ok(r) => {
                    let ok = r.header.journal.verified;
                    if !ok {
                        eprintln!(
                            "warning: the journal of run {} does not verify ({}); the report says so",
                            r.header.run, r.header.journal.detail
                        );
                    }
                    (drill::render_run(&r, format), ok)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return error::INVALID;
                }
            }
        }
        (None, Some(name)) => match drill::history(&state, name, a.last.unwrap_or(DEFAULT_LAST) as usize) {
            Ok(h) => {
                let bad: Vec<&str> = h.runs.iter().filter(|r| !r.verified).map(|r| r.run.as_str()).collect();
                if !bad.is_empty() {
                    eprintln!(
                        "warning: the journals of these runs do not verify: {}; the history says so",
                        bad.join(", ")
                    );
                }
                (drill::render_history(&h, format), bad.is_empty())
            }
            Err(e) => {
                eprintln!("error: {e}");
                return error::INVALID;
            }
        },
        (None, None) => unreachable!("clap requires a run or --playbook"),
    };
    match &a.out {
        Some(path) => {
            if let Err(e) = super::plan::write_atomic(path, text.as_bytes()) {
                eprintln!("error: cannot write {}: {e}", path.display());
                return error::INVALID;
            }
            eprintln!("wrote {}", path.display());
        }
        None => print!("{text}"),
    }
    // A report of a journal that does not verify is still written, and says so; its exit
    // code says so too, as `audit verify`'s does.
    if verified { error::SUCCESS } else { error::STEP_FAILED }
}
