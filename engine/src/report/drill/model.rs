//! A run's report as data: built from its journal records and the plan kept beside them,
//! and nothing else (no index, no playbook file, no clock), so the same run always gives the
//! same report. Every string in it comes from the journal as recorded: secrets are already
//! `***` there.
use serde::Serialize;
use serde_json::{Map, Value};

/// Version of the report's JSON.
pub const REPORT_FORMAT: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub format: u32,
    pub header: Header,
    /// Every step of the plan (and of its sub-playbooks, as `caller/step`), in the order they
    /// started; steps that never started last, in plan order.
    pub timeline: Vec<StepRow>,
    pub gates: Vec<GateRow>,
    /// Who was notified while a gate waited unanswered (`escalate:`), in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub escalations: Vec<EscalationRow>,
    pub rollbacks: Vec<RollbackRow>,
    pub failures: Vec<Failure>,
    pub outputs: Vec<OutputRow>,
    pub measures: Vec<MeasureRow>,
    /// The plan's main steps in waves, with their edges: what the DAG drawing shows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dag: Option<Dag>,
    /// Undo steps a human must still do, as the run's end (or a later rollback) listed them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remaining_undo: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Header {
    pub run: String,
    pub playbook: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub env: String,
    pub user: String,
    pub host: String,
    /// What started the run (a schedule, …), when the journal says; `None` for a person at a
    /// terminal or a journal that does not record it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    pub started: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    pub plan_hash: String,
    /// Whether plan.json is the plan the journal ran (its hash, recomputed from its content).
    pub plan: String,
    /// `succeeded`, `failed`, … as `run_finished` says; `unfinished` without one.
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// A later `runbook rollback` of the run: `complete` or `incomplete`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rolled_back: Option<String>,
    pub journal: JournalCheck,
    pub engine_version: String,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub params: Map<String, Value>,
    /// Who resumed the run after it stopped, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resumed_by: Vec<String>,
}

/// What verifying the journal's hash chain found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JournalCheck {
    pub verified: bool,
    pub records: usize,
    /// In words: "chain intact", or the first bad record and why.
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepRow {
    /// `id`, or `caller/id` for a sub-playbook's step.
    pub step: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Since the run started; `None` for a step that never ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// ok, failed, timed_out, skipped, declined, unfinished (started, never ended), not_run.
    pub status: String,
    /// The most attempts any of its runs took (retries count).
    pub attempts: u32,
    /// `for_each` iterations that started or ended (0 for a plain step).
    pub iterations: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why it was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GateRow {
    pub step: String,
    pub kind: String,
    pub approved: bool,
    pub by: String,
    pub how: String,
    pub question: String,
    pub at: String,
    pub at_ms: u64,
}

/// One escalation: a level notified while a step waited.
#[derive(Debug, Clone, Serialize)]
pub struct EscalationRow {
    pub step: String,
    pub level: String,
    pub notified: Vec<String>,
    pub delivered: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<String>,
    pub at: String,
    pub at_ms: u64,
}

impl EscalationRow {
    /// Where the notice went, and where it could not go, in words (both renderers).
    pub fn via(&self) -> String {
        let mut via = self.delivered.join(", ");
        if !self.failed.is_empty() {
            via.push_str(&format!(" (not sent: {})", self.failed.join("; ")));
        }
        via
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RollbackRow {
    pub step: String,
    pub summary: String,
    /// `None` while it had not ended (the journal stops before its end).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    pub start_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Done by a later `runbook rollback`, not by the run itself.
    pub later: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// The step, `guard NAME`, or `signal`.
    pub what: String,
    pub status: String,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tail: Vec<String>,
    pub at_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutputRow {
    pub step: String,
    pub name: String,
    pub value: Value,
}

impl StepRow {
    /// What a report says after the status: why it was skipped, or its error.
    pub fn why(&self) -> Option<&String> {
        self.reason.as_ref().or(self.error.as_ref())
    }
}

impl OutputRow {
    /// The value as a reader sees it: a string as itself, anything else as JSON.
    pub fn text(&self) -> String {
        match &self.value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MeasureRow {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub measures: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_seconds: Option<f64>,
    pub target_seconds: f64,
    pub met: bool,
    pub on_miss: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dag {
    pub waves: Vec<Vec<String>>,
    /// `(from, to)`: `to` needs `from`.
    pub edges: Vec<(String, String)>,
}

impl RunReport {
    /// The row of a step, by id or label.
    pub fn step(&self, id: &str) -> Option<&StepRow> {
        self.timeline.iter().find(|r| r.step == id)
    }

    /// The end of the timeline (the run's duration, or its last record).
    pub fn span_ms(&self) -> u64 {
        let steps = self
            .timeline
            .iter()
            .filter_map(|r| Some(r.start_ms? + r.duration_ms.unwrap_or(0)));
        let rollbacks = self.rollbacks.iter().map(|r| r.start_ms + r.duration_ms.unwrap_or(0));
        let gates = self.gates.iter().map(|g| g.at_ms);
        steps
            .chain(rollbacks)
            .chain(gates)
            .chain(self.header.duration_ms)
            .max()
            .unwrap_or(0)
    }
}
