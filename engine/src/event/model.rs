//! The events a run emits. The engine never prints: progress, `--output json` and the
//! journal are sinks of this one stream.

use serde::{Deserialize, Serialize};

/// How a step (or a rollback) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Ok,
    Failed,
    TimedOut,
    Skipped,
    /// The operator said no (with `on_decline: skip`) or a gate failed closed.
    Declined,
}

/// How the run ended; each maps to one exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Succeeded,
    /// A step failed and every rollback completed (exit 1).
    Failed,
    /// A rollback failed: a human must finish (exit 3).
    RollbackFailed,
    /// A confirmation or approval was refused or could not be asked (exit 4).
    Refused,
    /// Interrupted by SIGINT (exit 130).
    Interrupted,
    /// Stopped by SIGTERM or SIGHUP (exit 143).
    Terminated,
    /// Every step went as planned, but a measure with `on_miss: fail` missed its target
    /// (exit 1). Nothing was rolled back.
    MeasureMissed,
}

impl RunStatus {
    pub fn exit_code(&self) -> i32 {
        use crate::error::*;
        match self {
            RunStatus::Succeeded => SUCCESS,
            RunStatus::Failed => STEP_FAILED,
            RunStatus::RollbackFailed => ROLLBACK_FAILED,
            RunStatus::Refused => REFUSED,
            RunStatus::Interrupted => INTERRUPTED,
            RunStatus::Terminated => TERMINATED,
            RunStatus::MeasureMissed => MEASURE_MISSED,
        }
    }
}

/// One thing that happened, with when (RFC 3339, UTC).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    pub ts: String,
    #[serde(flatten)]
    pub kind: RunEvent,
}

impl Event {
    pub fn now(kind: RunEvent) -> Self {
        Event {
            ts: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            kind,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RunEvent {
    RunStarted {
        run: String,
        playbook: String,
        /// sha256 of the playbook file as it was read.
        file_sha256: String,
        env: String,
        plan_hash: String,
        /// The params (secrets are never params; they are not here).
        params: serde_json::Map<String, serde_json::Value>,
        user: String,
        host: String,
        engine_version: String,
        dry_run: bool,
        /// What started the run when no person did: `schedule:NAME@FIRING` (the firing in
        /// UTC, RFC 3339).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trigger: Option<String>,
    },
    /// `runbook resume` picks the run up again after a crash.
    Resumed {
        run: String,
        by: String,
        plan_hash: String,
        /// The plan changed since the run started and the operator accepted it.
        accepted_changes: bool,
        /// Steps whose outcome was unknown, and what was decided for each.
        rerun: Vec<String>,
        assume_done: Vec<String>,
    },
    /// A step (or an iteration `id[i]`) begins; `attempt` counts retries from 1.
    StepStarted {
        step: String,
        name: String,
        attempt: u32,
        summary: String,
        /// A `for_each` iteration's item, so `runbook rollback` can undo that iteration.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<serde_json::Value>,
    },
    /// A precondition was checked.
    Precondition {
        step: String,
        name: String,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// A gate was answered (or failed closed).
    Gate {
        step: String,
        kind: String,
        approved: bool,
        by: String,
        /// What the person was shown: the question, the step as it would run, and the
        /// plan it belongs to.
        question: String,
        shown: String,
        plan_hash: String,
        how: String,
        /// The signed approvals that answered it (`audit verify` checks each again).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        approvals: Vec<crate::approve::SignedApproval>,
    },
    /// `until` did not hold yet; the action will run again.
    Poll {
        step: String,
        attempt: u32,
    },
    /// A line for people: a `log` action, or a notice from the engine.
    Log {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        message: String,
    },
    StepFinished {
        step: String,
        status: StepStatus,
        duration_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
        outputs: serde_json::Map<String, serde_json::Value>,
        /// The last lines the action printed (redacted).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tail: Vec<String>,
        /// What `rollback: auto` would run, captured before the change: kept so that
        /// `resume` can still undo the step.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        undo: Option<serde_json::Value>,
    },
    StepSkipped {
        step: String,
        reason: String,
    },
    RollbackStarted {
        step: String,
        summary: String,
    },
    RollbackFinished {
        step: String,
        ok: bool,
        /// This was the step's last undo action and it worked: the step is undone (a
        /// later `runbook rollback` leaves it alone).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        undone: bool,
        duration_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A step waited unanswered: an escalation level was notified (its channel and the
    /// pager), naming who.
    Escalated {
        step: String,
        level: String,
        /// The people notified: `John Smith (@jsmith, +1-555-0101)`.
        notified: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
        /// How long the step had waited.
        waited_ms: u64,
        /// Where the message went: `#incidents`, `pager`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        delivered: Vec<String>,
        /// What could not be sent, or nobody to name, and why.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        failed: Vec<String>,
        /// The chain's last level: the step now waits until its own timeout.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        last: bool,
    },
    /// An escalating playbook's run was announced in its channel.
    IncidentAnnounced {
        channel: String,
        /// Who was on call when it started.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        on_call: Vec<String>,
        /// Why the announcement could not be sent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failed: Option<String>,
    },
    /// A signal stopped the run: no step starts after it, and the running ones are
    /// stopped (SIGTERM, then SIGKILL after the grace period).
    Interrupted {
        signal: String,
    },
    /// A guard's `abort_if` held: the run fails into rollback.
    GuardTripped {
        guard: String,
        value: serde_json::Value,
        abort_if: String,
    },
    /// `runbook rollback RUN_ID` begins undoing a stopped run's finished steps.
    RollbackRequested {
        run: String,
        by: String,
        /// What it will undo, in order.
        undo: Vec<String>,
    },
    /// `runbook rollback` is over: everything was undone, or what remains.
    RollbackEnded {
        ok: bool,
        duration_ms: u64,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        remaining_undo: Vec<String>,
    },
    /// A measure of the run (`measures:`), computed once its steps, rollback, `on_failure`
    /// and `finally` steps are over.
    Measure {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// What was measured: `restore.started → verify.finished`, or the expression.
        measures: String,
        /// In seconds (to the millisecond); absent when it could not be measured.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value_seconds: Option<f64>,
        target_seconds: f64,
        /// Measured, and at or under the target.
        met: bool,
        on_miss: crate::playbook::OnMiss,
        /// Why it could not be measured (a step did not run, the expression failed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    RunFinished {
        status: RunStatus,
        exit_code: i32,
        duration_ms: u64,
        /// Undo steps a human must still do (rollback failed or interrupted).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        remaining_undo: Vec<String>,
    },
}
