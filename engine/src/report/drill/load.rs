//! Reads what reports are made of from the state dir: a run's journal (verified record by
//! record) and the plan kept beside it; for a history, the runs index to find a playbook's
//! runs, then each run's own journal.

use std::path::Path;

use super::history::History;
use super::model::{JournalCheck, RunReport};
use crate::journal::{Record, StateDir, Verdict, verify_file};
use crate::plan::Plan;

/// The full id of a run given in full or by a unique prefix: from the runs index, or, for a
/// run the index lost, its directory.
pub fn find_run(state: &StateDir, id: &str) -> Result<String, String> {
    match state.find(id) {
        Ok(full) => Ok(full),
        Err(_) if !id.is_empty() && !id.contains('/') && state.journal(id).is_file() => Ok(id.to_string()),
        Err(e) => Err(e),
    }
}

/// The report of one run, from its journal and its plan.json alone.
pub fn run_report(state: &StateDir, run: &str) -> Result<RunReport, String> {
    let path = state.journal(run);
    let text = std::fs::read(&path).map_err(|e| format!("cannot read the journal of run {run}: {e}"))?;
    let records = parse(&text);
    if !records
        .iter()
        .any(|r| r.get("type").and_then(|t| t.as_str()) == Some("run_started"))
    {
        return Err(format!("the journal of run {run} has no `run_started` record"));
    }
    let check = check(&path);
    let plan = read_plan(&state.run_dir(run).join("plan.json"));
    Ok(RunReport::build(&records, plan.as_ref(), check))
}

/// The last `last` runs of `playbook` (from the runs index, newest last), each from its own
/// journal. A run whose journal cannot be read keeps a row that says so.
pub fn history(state: &StateDir, playbook: &str, last: usize) -> Result<History, String> {
    let all = state.list();
    let mut runs: Vec<_> = all.iter().filter(|r| r.playbook == playbook).take(last).collect();
    if runs.is_empty() {
        let mut names: Vec<&str> = all.iter().map(|r| r.playbook.as_str()).collect();
        names.sort();
        names.dedup();
        let hint = if names.is_empty() {
            "there are no runs yet".to_string()
        } else {
            crate::yaml::suggest_name(playbook, &names, "playbook")
        };
        return Err(format!(
            "no runs of playbook `{playbook}` in {} ({hint})",
            crate::source::display_path(&state.root)
        ));
    }
    runs.reverse();
    let reports: Vec<RunReport> = runs
        .iter()
        .map(|r| {
            run_report(state, &r.run).unwrap_or_else(|why| {
                let mut report = RunReport::build(
                    &[],
                    None,
                    JournalCheck {
                        verified: false,
                        records: 0,
                        detail: why,
                    },
                );
                report.header.run = r.run.clone();
                report.header.playbook = r.playbook.clone();
                report.header.env = r.env.clone();
                report.header.user = r.user.clone();
                report.header.started = r.started.clone();
                report.header.outcome = r.status.clone();
                report.timeline.clear();
                report
            })
        })
        .collect();
    Ok(History::build(playbook, &reports))
}

/// Every whole record of a journal (a torn last line is left out; verification says so).
fn parse(bytes: &[u8]) -> Vec<Record> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter_map(|l| match serde_json::from_str::<serde_json::Value>(l) {
            Ok(serde_json::Value::Object(m)) => Some(m),
            _ => None,
        })
        .collect()
}

fn check(path: &Path) -> JournalCheck {
    match verify_file(path) {
        Ok(Verdict::Intact { records, torn: false }) => JournalCheck {
            verified: true,
            records,
            detail: format!("{records} records, chain intact"),
        },
        Ok(Verdict::Intact { records, torn: true }) => JournalCheck {
            verified: true,
            records,
            detail: format!("{records} records, chain intact; the last line was cut short (a crash while writing)"),
        },
        Ok(Verdict::Broken { line, seq, reason }) => JournalCheck {
            verified: false,
            records: 0,
            detail: format!(
                "DOES NOT VERIFY: record on line {line}{}: {reason}",
                seq.map(|s| format!(", seq {s}")).unwrap_or_default()
            ),
        },
        Err(e) => JournalCheck {
            verified: false,
            records: 0,
            detail: format!("cannot be read: {e}"),
        },
    }
}

fn read_plan(path: &Path) -> Option<Plan> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}
