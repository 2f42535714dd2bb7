//! `runbook audit`: a run's journal as a timeline, as JSON, and verified record by record.

use super::common::Global;
use crate::error;
use crate::journal::{StateDir, Verdict, verify_file};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// A run's journal as a readable timeline.
    Show { run: String },
    /// A run's journal records as JSON.
    Export { run: String },
    /// Recompute the hash chain of one run's journal (or every run's) and name the first bad
    /// record. Exit 0 when every journal verifies, 1 when one does not.
    Verify { run: Option<String> },
}

pub fn exec(g: &Global, a: Args) -> i32 {
    let ws = match g.ws() {
        Ok(ws) => ws,
        Err(code) => return code,
    };
    let state = g.state(&ws);
    let find = |id: &str| state.find(id);
    match a.command {
        Command::Verify { run } => {
            let ids = match run {
                Some(id) => match find(&id) {
                    Ok(id) => vec![id],
                    Err(e) => {
                        eprintln!("error: {e}");
                        return error::INVALID;
                    }
                },
                None => state.list().into_iter().map(|r| r.run).collect(),
            };
            let mut bad = 0;
            let policy = crate::approve::ApprovalPolicy::load(&ws);
            for id in &ids {
                if !verify_one(&state, id) || !verify_approvals(&state, id, &policy) {
                    bad += 1;
                }
            }
            if ids.is_empty() {
                eprintln!("no runs to verify");
            }
            if bad > 0 { error::STEP_FAILED } else { error::SUCCESS }
        }
        Command::Show { run } => match find(&run).and_then(|id| records(&state, &id)) {
            Ok(records) => {
                for r in &records {
                    println!("{}", timeline_line(r));
                }
                error::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                error::INVALID
            }
        },
        Command::Export { run } => match find(&run).and_then(|id| records(&state, &id)) {
            Ok(records) => {
                println!("{}", serde_json::to_string_pretty(&records).unwrap_or_default());
                error::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                error::INVALID
            }
        },
    }
}

fn verify_one(state: &StateDir, id: &str) -> bool {
    let verdict = verify_file(&state.journal(id));
    // The chain cannot show records cut off cleanly at the end; the runs index, written
    // separately, knows whether the run finished.
    let status = state
        .list()
        .into_iter()
        .find(|r| r.run == id)
        .map(|r| r.status)
        .unwrap_or_default();
    let last = records(state, id).ok().and_then(|r| r.last().cloned());
    let last_type = last
        .as_ref()
        .and_then(|l| l.get("type"))
        .and_then(|t| t.as_str())
        .unwrap_or("");
    if let Ok(Verdict::Intact { torn: false, .. }) = &verdict {
        // `runbook rollback` ends the journal with its own record.
        let end = match status.as_str() {
            "rolled_back" | "rollback_incomplete" => "rollback_ended",
            _ => "run_finished",
        };
        if status != "unfinished" && last_type != end {
            println!(
                "TAMPERED  {id}: the index says the run finished, but the journal ends before its {end} record: records were removed from the end"
            );
            return false;
        }
    }
    match verdict {
        Ok(Verdict::Intact { records, torn: false }) if status == "unfinished" => {
            let at = last
                .as_ref()
                .map(|l| {
                    let step = l
                        .get("step")
                        .and_then(|s| s.as_str())
                        .map(|s| format!(" of {s}"))
                        .unwrap_or_default();
                    format!(
                        "#{} ({last_type}{step})",
                        l.get("seq").and_then(|s| s.as_u64()).unwrap_or(0)
                    )
                })
                .unwrap_or_else(|| "its start".into());
            println!(
                "ok        {id}: {records} records, chain intact; it ends at record {at} with no end of run recorded (still running, killed, or its journal could not be written)"
            );
            true
        }
        Ok(Verdict::Intact { records, torn: false }) => {
            println!("ok        {id}: {records} records, chain intact");
            true
        }
        Ok(Verdict::Intact { records, torn: true }) => {
            println!(
                "ok        {id}: {records} records, chain intact; the last line was cut short (a crash while writing), not tampering"
            );
            true
        }
        Ok(Verdict::Broken { line, seq, reason }) => {
            let seq = seq.map(|s| format!(", seq {s}")).unwrap_or_default();
            println!("TAMPERED  {id}: record on line {line}{seq}: {reason}");
            false
        }
        Err(e) => {
            println!("MISSING   {id}: {e}");
            false
        }
    }
}

/// Checks the run's signed approvals again (after its chain verified): a forged or edited
/// one is named.
fn verify_approvals(state: &StateDir, id: &str, policy: &crate::approve::ApprovalPolicy) -> bool {
    let Ok(records) = records(state, id) else {
        return true; // verify_one said why
    };
    let f = crate::approve::audit::check_records(&records, policy);
    for p in &f.problems {
        println!("FORGED    {id}: {p}");
    }
    if f.problems.is_empty() && f.verified > 0 {
        println!("ok        {id}: {} signed approval(s) verify", f.verified);
    }
    f.problems.is_empty()
}

fn records(state: &StateDir, id: &str) -> Result<Vec<serde_json::Value>, String> {
    let text =
        std::fs::read_to_string(state.journal(id)).map_err(|e| format!("cannot read the journal of {id}: {e}"))?;
    Ok(text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
}

/// One record as a line of the timeline.
fn timeline_line(r: &serde_json::Value) -> String {
    let s = |k: &str| r.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let ts = s("ts");
    let time = ts.get(11..23).unwrap_or(&ts);
    let what = match s("type").as_str() {
        "run_started" => format!(
            "run {} of `{}` in {} by {}@{} · plan {} · file {}",
            s("run"),
            s("playbook"),
            s("env"),
            s("user"),
            s("host"),
            s("plan_hash"),
            s("file_sha256").get(..12).unwrap_or("")
        ),
        "step_started" => {
            let summary = s("summary");
            let first = summary.lines().next().unwrap_or("");
            let more = if summary.lines().count() > 1 { " …" } else { "" };
            format!(
                "▶ {} (attempt {}): {first}{more}",
                s("step"),
                r.get("attempt").and_then(|a| a.as_u64()).unwrap_or(1)
            )
        }
        "resumed" => format!(
            "resumed by {} · plan {}{}",
            s("by"),
            s("plan_hash"),
            if r.get("accepted_changes").and_then(|v| v.as_bool()) == Some(true) {
                " (changes accepted)"
            } else {
                ""
            }
        ),
        "precondition" => format!(
            "  {} precondition `{}`: {}",
            s("step"),
            s("name"),
            if r.get("ok").and_then(|o| o.as_bool()) == Some(true) {
                "holds".to_string()
            } else {
                format!("FAILS {}", s("message"))
            }
        ),
        "gate" => format!(
            "◆ {} {} {} by {} via {}: \"{}\"",
            s("step"),
            s("kind"),
            if r.get("approved").and_then(|o| o.as_bool()) == Some(true) {
                "approved"
            } else {
                "NOT approved"
            },
            s("by"),
            s("how"),
            s("question")
        ),
        "escalated" => {
            let list = |key: &str| -> String {
                r.get(key)
                    .and_then(|v| v.as_array())
                    .map(|a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()
            };
            let failed = list("failed");
            format!(
                "⇡ {} unanswered: escalated to {} ({}) via {}{}",
                s("step"),
                s("level"),
                list("notified"),
                list("delivered"),
                if failed.is_empty() {
                    String::new()
                } else {
                    format!("; NOT SENT: {failed}")
                }
            )
        }
        "incident_announced" => format!(
            "incident announced in #{}{}",
            s("channel"),
            r.get("failed")
                .and_then(|f| f.as_str())
                .map(|f| format!(": NOT SENT ({f})"))
                .unwrap_or_default()
        ),
        "poll" => format!("  {} polls (`until` not yet true)", s("step")),
        "log" => format!("  {} {}", s("step"), s("message")),
        "step_finished" => {
            let err = s("error");
            format!(
                "{} {} {}{}",
                if s("status") == "ok" { "✓" } else { "✗" },
                s("step"),
                s("status"),
                if err.is_empty() {
                    String::new()
                } else {
                    format!(": {err}")
                }
            )
        }
        "step_skipped" => format!("– {} skipped: {}", s("step"), s("reason")),
        "rollback_started" => format!("↺ {} rollback: {}", s("step"), s("summary")),
        "rollback_finished" => format!(
            "↺ {} rollback {}",
            s("step"),
            if r.get("ok").and_then(|o| o.as_bool()) == Some(true) {
                "done".to_string()
            } else {
                format!("FAILED: {}", s("error"))
            }
        ),
        "interrupted" => format!("interrupted by {}", s("signal")),
        "rollback_requested" => format!(
            "rollback requested by {}: {} to undo",
            s("by"),
            r.get("undo").and_then(|u| u.as_array()).map(Vec::len).unwrap_or(0)
        ),
        "rollback_ended" => {
            let left = r
                .get("remaining_undo")
                .and_then(|u| u.as_array())
                .map(Vec::len)
                .unwrap_or(0);
            if left == 0 {
                "rollback complete".to_string()
            } else {
                format!("rollback INCOMPLETE: {left} left to undo")
            }
        }
        "guard_tripped" => format!(
            "✗ guard `{}` tripped: `{}` (value = {})",
            s("guard"),
            s("abort_if"),
            r.get("value").cloned().unwrap_or_default()
        ),
        "measure" => {
            let target = r.get("target_seconds").and_then(|t| t.as_f64()).unwrap_or(0.0);
            let result = match (r.get("value_seconds").and_then(|v| v.as_f64()), r.get("met")) {
                (Some(v), Some(serde_json::Value::Bool(true))) => format!("{v}s, target {target}s: met"),
                (Some(v), _) => format!("{v}s, target {target}s: MISSED (on_miss: {})", s("on_miss")),
                (None, _) => format!("{} (on_miss: {})", s("reason"), s("on_miss")),
            };
            format!("◎ measure {} ({}): {result}", s("name"), s("measures"))
        }
        "run_finished" => format!(
            "run {} (exit {})",
            s("status"),
            r.get("exit_code").and_then(|c| c.as_i64()).unwrap_or(-1)
        ),
        other => other.to_string(),
    };
    format!(
        "{time}  #{:<4} {what}",
        r.get("seq").and_then(|v| v.as_u64()).unwrap_or(0)
    )
}
