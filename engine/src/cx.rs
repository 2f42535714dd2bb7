//! What an action gets to run with, and what running it gives back: the words every action
//! runtime (`actions`, the Kubernetes and AWS clients) speaks, below all of them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value as Json;

use crate::approve::Prompter;
use crate::redact::Redactor;
use crate::spec::Undo;
use crate::wake::Waits;

/// Evaluates an expression with extra names (`result`, `value`) added to the run's.
pub type Eval<'a> = &'a (dyn Fn(&str, &[(&str, Json)]) -> Result<Json, String> + Sync);

/// The run's means, lent to one action.
pub struct ActionCx<'a> {
    /// The step (or iteration) being run, for prompts and messages.
    pub step: &'a str,
    pub doc: Option<&'a str>,
    /// Working directory of commands: the workspace root.
    pub workdir: PathBuf,
    pub timeout: Duration,
    /// Every wait sleeps through these: they end early when the run is failing (a soak
    /// period must not hold up the rollback) and stop what runs when it is interrupted.
    pub waits: Waits,
    pub http: &'a reqwest::Client,
    /// Evaluates an expression with extra names (`result`, `value`).
    pub eval: Eval<'a>,
    /// Writes a line to the run's events (`log`).
    pub log: &'a (dyn Fn(String) + Sync),
    pub prompter: &'a Prompter,
    /// Hides secrets in what leaves the run other than by its events (a notification).
    pub redact: &'a Redactor,
    /// `--input STEP=VALUE` answers, for runs without a terminal.
    pub inputs: &'a HashMap<String, String>,
    /// The environment the run is in (AWS region, kube context).
    pub env: &'a crate::compile::EnvInfo,
    /// The run's id: commands get it as `RUNBOOK_RUN_ID` (and the step as `RUNBOOK_STEP`),
    /// which also lets `resume` find a killed run's leftover processes.
    pub run_id: &'a str,
    /// The files the plan recorded with their sha256: what an action reads from the
    /// workspace must be what was planned.
    pub sealed: &'a crate::compile::Sealed,
}

/// What an action did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub ok: bool,
    /// The result later steps read as `steps.<id>.*` and `until`/`outputs` as `result`.
    pub result: Json,
    pub error: Option<String>,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    /// The operator refused (manual/input without an answer): the run ends refused.
    pub refused: bool,
    /// What it printed, for the display and the journal (redacted by the engine).
    pub output: String,
    /// How to undo what it changed, captured from the state before the change (`rollback: auto`).
    pub undo: Option<Undo>,
}

/// Why a wait ended before its time, in words.
pub fn cut_short(woke: crate::wake::Woke) -> &'static str {
    match woke {
        crate::wake::Woke::Settling => "ended early: the run is failing",
        _ => "interrupted",
    }
}

impl Outcome {
    pub fn ok(result: Json) -> Self {
        Outcome {
            ok: true,
            result,
            ..Default::default()
        }
    }
    pub fn fail(error: impl Into<String>) -> Self {
        Outcome {
            ok: false,
            error: Some(error.into()),
            ..Default::default()
        }
    }
    pub fn with_result(mut self, result: Json) -> Self {
        self.result = result;
        self
    }
    pub fn with_undo(mut self, undo: Option<Undo>) -> Self {
        self.undo = undo;
        self
    }
}
