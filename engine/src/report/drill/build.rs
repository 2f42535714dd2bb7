//! Building a run's report from its journal records and the plan kept beside them: one pass
//! over the records, then the steps' rows (iterations folded into their step), then what the
//! plan says the run never reached.

use std::collections::HashMap;

use indexmap::IndexMap;
use serde_json::Value;

use super::model::{
    Dag, EscalationRow, Failure, GateRow, Header, JournalCheck, MeasureRow, OutputRow, REPORT_FORMAT, RollbackRow,
    RunReport, StepRow,
};
use crate::journal::Record;
use crate::plan::Plan;

/// The wall-clock stamp of a record, in milliseconds since the epoch.
fn millis(ts: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(ts)
        .ok()
        .map(|t| t.timestamp_millis())
}

fn text(r: &Record, key: &str) -> String {
    r.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
}

fn opt_text(r: &Record, key: &str) -> Option<String> {
    r.get(key).and_then(Value::as_str).map(String::from)
}

/// `drain[3]` → `drain`: the step an iteration belongs to.
fn step_of(label: &str) -> &str {
    match label.strip_suffix(']').and_then(|l| l.rsplit_once('[')) {
        Some((step, i)) if !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()) => step,
        _ => label,
    }
}

/// One run of a step (the step, or one iteration) as the journal tells it.
#[derive(Default)]
struct Unit {
    begin: Option<i64>,
    end: Option<i64>,
    status: Option<String>,
    attempts: u32,
}

/// How bad a status is, to say how a step with several iterations went: its worst.
fn rank(status: &str) -> u8 {
    match status {
        "failed" => 6,
        "timed_out" => 5,
        "declined" => 4,
        "unfinished" => 3,
        "skipped" => 2,
        "ok" => 1,
        _ => 0,
    }
}

impl RunReport {
    /// Builds the report of one run from its records (in journal order), the plan kept
    /// beside them (when there is one), and what verifying the journal found.
    pub fn build(records: &[Record], plan: Option<&Plan>, journal: JournalCheck) -> RunReport {
        let first = records.first();
        let t0 = first.and_then(|r| millis(&text(r, "ts"))).unwrap_or(0);
        let last_ts = records.last().and_then(|r| millis(&text(r, "ts"))).unwrap_or(t0);
        let offset = |ts: i64| (ts - t0).max(0) as u64;
        let mut header = Header {
            description: plan.and_then(|p| p.playbook.description.clone()),
            outcome: "unfinished".into(),
            journal,
            ..Header::default()
        };
        let mut units: IndexMap<String, Unit> = IndexMap::new();
        let mut names: HashMap<String, String> = HashMap::new();
        let mut errors: HashMap<String, String> = HashMap::new();
        let mut reasons: HashMap<String, String> = HashMap::new();
        let mut report = RunReport {
            format: REPORT_FORMAT,
            header: Header::default(),
            timeline: Vec::new(),
            gates: Vec::new(),
            escalations: Vec::new(),
            rollbacks: Vec::new(),
            failures: Vec::new(),
            outputs: Vec::new(),
            measures: Vec::new(),
            dag: None,
            remaining_undo: Vec::new(),
        };
        let mut later = false;
        for r in records {
            let ts = millis(&text(r, "ts")).unwrap_or(t0);
            let step = text(r, "step");
            match text(r, "type").as_str() {
                "run_started" => {
                    header.run = text(r, "run");
                    header.playbook = text(r, "playbook");
                    header.env = text(r, "env");
                    header.user = text(r, "user");
                    header.host = text(r, "host");
                    header.started = text(r, "ts");
                    header.plan_hash = text(r, "plan_hash");
                    header.engine_version = text(r, "engine_version");
                    // Written by runs started from a schedule; older journals lack it.
                    header.trigger = opt_text(r, "trigger").filter(|t| !t.is_empty());
                    header.params = r.get("params").and_then(Value::as_object).cloned().unwrap_or_default();
                }
                "resumed" => {
                    header.resumed_by.push(text(r, "by"));
                    header.plan_hash = text(r, "plan_hash");
                }
                "step_started" => {
                    let u = units.entry(step.clone()).or_default();
                    u.begin = Some(u.begin.map_or(ts, |b| b.min(ts)));
                    let attempt = r.get("attempt").and_then(Value::as_u64).unwrap_or(1) as u32;
                    u.attempts = u.attempts.max(attempt);
                    // The engine names a step without a `name` by its id: not worth repeating.
                    if let Some(n) = opt_text(r, "name").filter(|n| *n != step_of(&step)) {
                        names.entry(step_of(&step).to_string()).or_insert(n);
                    }
                }
                "step_finished" => {
                    let status = text(r, "status");
                    let ms = r.get("duration_ms").and_then(Value::as_i64).unwrap_or(0);
                    let u = units.entry(step.clone()).or_default();
                    // What the step took: its preconditions and gates as well as its action.
                    u.begin = Some(u.begin.map_or(ts - ms, |b| b.min(ts - ms)));
                    u.end = Some(ts);
                    u.status = Some(status.clone());
                    if let Some(e) = opt_text(r, "error") {
                        errors.insert(step.clone(), e.clone());
                        if status != "ok" {
                            report.failures.push(Failure {
                                what: step.clone(),
                                status: status.clone(),
                                message: e,
                                tail: r
                                    .get("tail")
                                    .and_then(Value::as_array)
                                    .map(|t| t.iter().filter_map(|l| l.as_str().map(String::from)).collect())
                                    .unwrap_or_default(),
                                at_ms: offset(ts),
                            });
                        }
                    }
                    if let Some(outputs) = r.get("outputs").and_then(Value::as_object) {
                        for (name, value) in outputs {
                            report.outputs.push(OutputRow {
                                step: step.clone(),
                                name: name.clone(),
                                value: value.clone(),
                            });
                        }
                    }
                }
                "step_skipped" => {
                    let u = units.entry(step.clone()).or_default();
                    u.begin.get_or_insert(ts);
                    u.end.get_or_insert(ts);
                    // A `for_each` cut short says so after its iterations: they keep theirs.
                    u.status.get_or_insert_with(|| "skipped".into());
                    reasons.insert(step.clone(), text(r, "reason"));
                }
                "gate" => report.gates.push(GateRow {
                    step,
                    kind: text(r, "kind"),
                    approved: r.get("approved").and_then(Value::as_bool) == Some(true),
                    by: text(r, "by"),
                    how: text(r, "how"),
                    question: text(r, "question"),
                    at: text(r, "ts"),
                    at_ms: offset(ts),
                }),
                "escalated" => {
                    let list = |key: &str| -> Vec<String> {
                        r.get(key)
                            .and_then(Value::as_array)
                            .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
                            .unwrap_or_default()
                    };
                    report.escalations.push(EscalationRow {
                        step,
                        level: text(r, "level"),
                        notified: list("notified"),
                        delivered: list("delivered"),
                        failed: list("failed"),
                        at: text(r, "ts"),
                        at_ms: offset(ts),
                    });
                }
                "rollback_started" => report.rollbacks.push(RollbackRow {
                    step,
                    summary: text(r, "summary"),
                    ok: None,
                    start_ms: offset(ts),
                    duration_ms: None,
                    error: None,
                    later,
                }),
                "rollback_finished" => {
                    let ms = r.get("duration_ms").and_then(Value::as_u64).unwrap_or(0);
                    let open = report
                        .rollbacks
                        .iter_mut()
                        .rev()
                        .find(|rb| rb.step == step && rb.ok.is_none());
                    let row = match open {
                        Some(row) => row,
                        // An undo that did not start (nothing recorded to undo, a journal that
                        // could not be written) ends without a start.
                        None => {
                            report.rollbacks.push(RollbackRow {
                                step: step.clone(),
                                summary: String::new(),
                                ok: None,
                                start_ms: offset(ts - ms as i64),
                                duration_ms: None,
                                error: None,
                                later,
                            });
                            let n = report.rollbacks.len() - 1;
                            &mut report.rollbacks[n]
                        }
                    };
                    row.ok = Some(r.get("ok").and_then(Value::as_bool) == Some(true));
                    row.duration_ms = Some(ms);
                    row.error = opt_text(r, "error");
                }
                "guard_tripped" => report.failures.push(Failure {
                    what: format!("guard {}", text(r, "guard")),
                    status: "tripped".into(),
                    message: format!(
                        "`{}` held (value = {})",
                        text(r, "abort_if"),
                        r.get("value").cloned().unwrap_or_default()
                    ),
                    tail: Vec::new(),
                    at_ms: offset(ts),
                }),
                "interrupted" => report.failures.push(Failure {
                    what: "signal".into(),
                    status: "interrupted".into(),
                    message: format!("{} stopped the run", text(r, "signal")),
                    tail: Vec::new(),
                    at_ms: offset(ts),
                }),
                "measure" => report.measures.push(MeasureRow {
                    name: text(r, "name"),
                    description: opt_text(r, "description"),
                    measures: text(r, "measures"),
                    value_seconds: r.get("value_seconds").and_then(Value::as_f64),
                    target_seconds: r.get("target_seconds").and_then(Value::as_f64).unwrap_or(0.0),
                    met: r.get("met").and_then(Value::as_bool) == Some(true),
                    on_miss: text(r, "on_miss"),
                    reason: opt_text(r, "reason"),
                }),
                "run_finished" => {
                    header.outcome = text(r, "status");
                    header.exit_code = r.get("exit_code").and_then(Value::as_i64);
                    header.finished = Some(text(r, "ts"));
                    header.duration_ms = Some(offset(ts));
                    report.remaining_undo = string_list(r, "remaining_undo");
                }
                "rollback_requested" => later = true,
                "rollback_ended" => {
                    let ok = r.get("ok").and_then(Value::as_bool) == Some(true);
                    header.rolled_back = Some(if ok { "complete" } else { "incomplete" }.into());
                    report.remaining_undo = string_list(r, "remaining_undo");
                }
                _ => {}
            }
        }

        // Group the units into steps: a `for_each` step's iterations into one row.
        let mut steps: IndexMap<String, (Vec<(String, Unit)>, bool)> = IndexMap::new();
        for (label, unit) in units {
            let step = step_of(&label).to_string();
            let iteration = step != label;
            let entry = steps.entry(step).or_insert_with(|| (Vec::new(), false));
            entry.1 |= iteration;
            entry.0.push((label, unit));
        }
        let end_of_run = last_ts;
        for (step, (list, iterated)) in &steps {
            let mut begin: Option<i64> = None;
            let mut end: Option<i64> = None;
            let mut status = String::new();
            let mut attempts = 0;
            let mut iterations = 0;
            for (label, u) in list {
                let s = match (&u.status, u.begin) {
                    (Some(s), _) => s.clone(),
                    (None, Some(_)) => "unfinished".to_string(),
                    (None, None) => continue,
                };
                if rank(&s) > rank(&status) {
                    status = s.clone();
                }
                let b = u.begin.unwrap_or(end_of_run);
                let e = u.end.unwrap_or(end_of_run);
                begin = Some(begin.map_or(b, |x| x.min(b)));
                end = Some(end.map_or(e, |x| x.max(e)));
                attempts = attempts.max(u.attempts);
                if label != step {
                    iterations += 1;
                }
            }
            // A fan-out cut short (declined part-way) is recorded as a skip of the whole step
            // after iterations that went well.
            if *iterated && reasons.contains_key(step) && status == "ok" {
                status = "skipped".into();
            }
            let error = list.iter().rev().find_map(|(l, _)| errors.get(l).cloned());
            let reason = reasons
                .get(step)
                .cloned()
                .or_else(|| list.iter().find_map(|(l, _)| reasons.get(l).cloned()));
            report.timeline.push(StepRow {
                step: step.clone(),
                name: names
                    .get(step)
                    .cloned()
                    .or_else(|| plan.and_then(|p| p.step(step)).and_then(|s| s.name.clone())),
                start_ms: begin.map(offset),
                duration_ms: begin.zip(end).map(|(b, e)| (e - b).max(0) as u64),
                status: if status.is_empty() { "not_run".into() } else { status },
                attempts,
                iterations,
                error,
                reason,
            });
        }
        report
            .timeline
            .sort_by_key(|r| (r.start_ms.is_none(), r.start_ms.unwrap_or(0)));
        if let Some(p) = plan {
            for s in p.steps.iter().chain(&p.on_failure).chain(&p.finally) {
                if !report.timeline.iter().any(|r| r.step == s.id) {
                    report.timeline.push(StepRow {
                        step: s.id.clone(),
                        name: s.name.clone(),
                        start_ms: None,
                        duration_ms: None,
                        status: "not_run".into(),
                        attempts: 0,
                        iterations: 0,
                        error: None,
                        reason: None,
                    });
                }
            }
            // Measures the run never got to (it was killed before its end).
            for m in &p.measures {
                if !report.measures.iter().any(|r| r.name == m.name) {
                    report.measures.push(MeasureRow {
                        name: m.name.clone(),
                        description: m.description.clone(),
                        measures: m.measures.text(),
                        value_seconds: None,
                        target_seconds: m.target.std().as_secs_f64(),
                        met: false,
                        on_miss: m.on_miss.as_str().into(),
                        reason: Some("not recorded: the run did not reach its end".into()),
                    });
                }
            }
            let ids: Vec<&str> = p.steps.iter().map(|s| s.id.as_str()).collect();
            report.dag = Some(Dag {
                waves: p.waves.clone(),
                edges: p
                    .steps
                    .iter()
                    .flat_map(|s| {
                        s.needs
                            .iter()
                            .filter(|n| ids.contains(&n.as_str()))
                            .map(|n| (n.clone(), s.id.clone()))
                    })
                    .collect(),
            });
        }
        header.plan = match plan {
            None => "missing: plan.json was not found beside the journal".into(),
            Some(p) if p.recompute_hash() != p.hash => {
                "CHANGED: plan.json's content does not match its own hash".into()
            }
            Some(p) if p.hash != header.plan_hash => {
                format!("DIFFERS: plan.json is {}, the journal ran {}", p.hash, header.plan_hash)
            }
            Some(_) => "matches the journal".into(),
        };
        report.header = header;
        report
    }
}

fn string_list(r: &Record, key: &str) -> Vec<String> {
    r.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(v: serde_json::Value) -> Record {
        v.as_object().cloned().unwrap_or_default()
    }

    fn check() -> JournalCheck {
        JournalCheck {
            verified: true,
            records: 0,
            detail: "chain intact".into(),
        }
    }

    #[test]
    fn iterations_fold_into_their_step_and_offsets_count_from_the_start() {
        let records: Vec<Record> = [
            serde_json::json!({"type": "run_started", "ts": "2026-01-01T00:00:00.000Z", "run": "r1", "playbook": "p", "env": "e", "user": "u", "host": "h", "plan_hash": "sha256:x", "engine_version": "0", "params": {}, "trigger": "schedule monthly"}),
            serde_json::json!({"type": "step_started", "ts": "2026-01-01T00:00:01.000Z", "step": "a", "name": "A", "attempt": 1}),
            serde_json::json!({"type": "step_started", "ts": "2026-01-01T00:00:02.000Z", "step": "a", "name": "A", "attempt": 2}),
            serde_json::json!({"type": "step_finished", "ts": "2026-01-01T00:00:03.000Z", "step": "a", "status": "ok", "duration_ms": 2500, "outputs": {"v": "***"}}),
            serde_json::json!({"type": "step_started", "ts": "2026-01-01T00:00:04.000Z", "step": "b[0]", "name": "B", "attempt": 1}),
            serde_json::json!({"type": "step_finished", "ts": "2026-01-01T00:00:05.000Z", "step": "b[0]", "status": "ok", "duration_ms": 1000}),
            serde_json::json!({"type": "step_started", "ts": "2026-01-01T00:00:05.000Z", "step": "b[1]", "name": "B", "attempt": 1}),
            serde_json::json!({"type": "step_finished", "ts": "2026-01-01T00:00:07.000Z", "step": "b[1]", "status": "failed", "duration_ms": 2000, "error": "exit 1", "tail": ["boom"]}),
            serde_json::json!({"type": "rollback_started", "ts": "2026-01-01T00:00:08.000Z", "step": "a", "summary": "shell: undo"}),
            serde_json::json!({"type": "rollback_finished", "ts": "2026-01-01T00:00:09.000Z", "step": "a", "ok": true, "duration_ms": 1000}),
            serde_json::json!({"type": "run_finished", "ts": "2026-01-01T00:00:10.000Z", "status": "failed", "exit_code": 1, "duration_ms": 10000}),
        ]
        .into_iter()
        .map(rec)
        .collect();
        let r = RunReport::build(&records, None, check());
        assert_eq!(r.header.trigger.as_deref(), Some("schedule monthly"));
        assert_eq!((r.header.outcome.as_str(), r.header.exit_code), ("failed", Some(1)));
        let a = r.step("a").unwrap();
        assert_eq!(
            (a.start_ms, a.duration_ms, a.attempts, a.iterations),
            (Some(500), Some(2500), 2, 0)
        );
        let b = r.step("b").unwrap();
        assert_eq!(
            (b.start_ms, b.duration_ms, b.status.as_str(), b.iterations),
            (Some(4000), Some(3000), "failed", 2)
        );
        assert_eq!(b.error.as_deref(), Some("exit 1"));
        assert_eq!(r.failures[0].tail, vec!["boom".to_string()]);
        assert_eq!(r.rollbacks[0].ok, Some(true));
        assert_eq!(r.rollbacks[0].start_ms, 8000);
        assert_eq!(r.outputs[0].value, "***");
        assert_eq!(r.span_ms(), 10000);
    }

    #[test]
    fn iteration_labels_are_told_from_step_ids() {
        assert_eq!(step_of("drain[12]"), "drain");
        assert_eq!(step_of("caller/drain[0]"), "caller/drain");
        assert_eq!(step_of("odd[x]"), "odd[x]");
        assert_eq!(step_of("plain"), "plain");
    }
}
