//! What a run's journal says happened, for `runbook resume`: the run's identity, the steps
//! that finished (with their outputs), were skipped, or started and never finished.

use std::path::Path;

use serde_json::{Map, Value};

use super::record::Record;
use super::verify::{Verdict, verify_file};

#[derive(Debug, Clone, Default)]
pub struct Past {
    pub playbook: String,
    pub env: String,
    pub params: Map<String, Value>,
    pub plan_hash: String,
    pub user: String,
    pub started: String,
    /// A `run_finished` record exists: nothing to resume.
    pub finished: Option<String>,
    /// Steps that finished ok, in completion order, with their (redacted) outputs.
    pub done: Vec<(String, Map<String, Value>)>,
    /// The undo each finished step captured (`rollback: auto`), by step.
    pub undos: std::collections::HashMap<String, crate::spec::Undo>,
    /// Steps (and iterations) whose undo completed, by a rollback or `runbook rollback`.
    pub undone: std::collections::HashSet<String>,
    /// Steps whose action began and then failed: their effect may be partial.
    pub failed_started: Vec<String>,
    /// The item of each `for_each` iteration that started, by label.
    pub items: std::collections::HashMap<String, Value>,
    pub skipped: Vec<String>,
    pub failed: Vec<String>,
    /// Started, never finished: the outcome is unknown.
    pub in_doubt: Vec<String>,
    /// Rollbacks had begun: resume cannot know what was undone.
    pub rolling_back: Vec<String>,
    /// `runbook rollback` undid (some of) it: it is not resumed.
    pub rolled_back: bool,
    /// Where the chain continues.
    pub last_seq: u64,
    pub last_hash: String,
    /// Bytes of a torn last line, to drop before appending.
    pub valid_len: u64,
}

pub fn read_past(path: &Path) -> Result<Past, String> {
    match verify_file(path).map_err(|e| format!("cannot read {}: {e}", path.display()))? {
        Verdict::Broken { line, reason, .. } => {
            return Err(format!(
                "the journal does not verify (record on line {line}: {reason}); a tampered run is not resumed"
            ));
        }
        Verdict::Intact { .. } => {}
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&bytes);
    let mut past = Past::default();
    let mut offset = 0u64;
    let mut started: Vec<String> = Vec::new();
    let mut began: std::collections::HashSet<String> = std::collections::HashSet::new();
    for line in text.split_inclusive('\n') {
        if !line.ends_with('\n') {
            break; // the torn tail
        }
        offset += line.len() as u64;
        let Ok(Value::Object(r)) = serde_json::from_str::<Value>(line) else {
            break;
        };
        let r: Record = r;
        let s = |k: &str| r.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
        past.last_seq = r.get("seq").and_then(|v| v.as_u64()).unwrap_or(0);
        past.last_hash = s("hash");
        match s("type").as_str() {
            "run_started" => {
                past.playbook = s("playbook");
                past.env = s("env");
                past.plan_hash = s("plan_hash");
                past.user = s("user");
                past.started = s("ts");
                past.params = r.get("params").and_then(|p| p.as_object()).cloned().unwrap_or_default();
            }
            "resumed" => past.plan_hash = s("plan_hash"),
            "step_started" => {
                started.push(s("step"));
                began.insert(s("step"));
                if let Some(item) = r.get("item") {
                    past.items.insert(s("step"), item.clone());
                }
            }
            "step_finished" => {
                let step = s("step");
                started.retain(|x| *x != step);
                past.in_doubt.retain(|x| *x != step);
                if let Some(undo) = r.get("undo").and_then(|u| serde_json::from_value(u.clone()).ok()) {
                    past.undos.insert(step.clone(), undo);
                }
                match s("status").as_str() {
                    "ok" => past.done.push((
                        step,
                        r.get("outputs")
                            .and_then(|o| o.as_object())
                            .cloned()
                            .unwrap_or_default(),
                    )),
                    "skipped" | "declined" => past.skipped.push(step),
                    _ => {
                        // Only a step that recorded its start reached its action.
                        if began.contains(&step) {
                            past.failed_started.push(step.clone());
                        }
                        past.failed.push(step)
                    }
                }
            }
            "step_skipped" => past.skipped.push(s("step")),
            "rollback_started" => past.rolling_back.push(s("step")),
            "rollback_finished" => {
                let step = s("step");
                if r.get("undone").and_then(|u| u.as_bool()) == Some(true) {
                    past.undone.insert(step);
                }
            }
            "run_finished" => past.finished = Some(s("status")),
            "rollback_requested" => past.rolled_back = true,
            _ => {}
        }
    }
    started.dedup();
    past.in_doubt = started;
    past.valid_len = offset;
    Ok(past)
}
