//! The state directory: where runs' journals, the index of runs, locks and approvals live,
//! created private (0700 folders, 0600 files).

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone)]
pub struct StateDir {
    pub root: PathBuf,
}

/// One line of the runs index: written when a run starts and when it finishes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndexLine {
    pub run: String,
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub ts: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// What started the run when no person did (`schedule:NAME@FIRING`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
}

/// A run as `runbook runs` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub run: String,
    pub playbook: String,
    pub env: String,
    pub user: String,
    pub host: String,
    /// `succeeded`, `failed`, …; `unfinished` when no end was recorded (running, or killed).
    pub status: String,
    pub started: String,
    pub duration_ms: Option<u64>,
    /// What started the run when no person did (`schedule:NAME@FIRING`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
}

impl StateDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StateDir { root: root.into() }
    }

    /// Creates a directory (and its parents) private to the user.
    pub fn private_dir(path: &Path) -> std::io::Result<()> {
        DirBuilder::new().recursive(true).mode(0o700).create(path)
    }

    /// Opens a file for appending, created private to the user.
    pub fn append(path: &Path) -> std::io::Result<File> {
        OpenOptions::new().create(true).append(true).mode(0o600).open(path)
    }

    pub fn runs(&self) -> PathBuf {
        self.root.join("runs")
    }

    pub fn run_dir(&self, run: &str) -> PathBuf {
        self.runs().join(run)
    }

    pub fn journal(&self, run: &str) -> PathBuf {
        self.run_dir(run).join("journal.jsonl")
    }

    pub fn locks(&self) -> PathBuf {
        self.root.join("locks")
    }

    pub fn index(&self) -> PathBuf {
        self.runs().join("index.jsonl")
    }

    pub fn add_to_index(&self, line: &IndexLine) -> std::io::Result<()> {
        Self::private_dir(&self.runs())?;
        let mut f = Self::append(&self.index())?;
        let mut text = serde_json::to_string(line).unwrap_or_default();
        text.push('\n');
        // One write: appends of one line do not interleave between processes.
        f.write_all(text.as_bytes())?;
        f.sync_data()
    }

    /// The runs, newest first.
    pub fn list(&self) -> Vec<RunSummary> {
        let text = std::fs::read_to_string(self.index()).unwrap_or_default();
        let mut runs: Vec<RunSummary> = Vec::new();
        for line in text.lines() {
            let Ok(l) = serde_json::from_str::<IndexLine>(line) else {
                continue;
            };
            match l.event.as_str() {
                "started" => runs.push(RunSummary {
                    run: l.run,
                    playbook: l.playbook.unwrap_or_default(),
                    env: l.env.unwrap_or_default(),
                    user: l.user.unwrap_or_default(),
                    host: l.host.unwrap_or_default(),
                    status: "unfinished".into(),
                    started: l.ts,
                    duration_ms: None,
                    trigger: l.trigger,
                }),
                "finished" => {
                    if let Some(r) = runs.iter_mut().rev().find(|r| r.run == l.run) {
                        r.status = l.status.unwrap_or_default();
                        // A later rollback changes the status, not how long the run took.
                        r.duration_ms = l.duration_ms.or(r.duration_ms);
                    }
                }
                _ => {}
            }
        }
        runs.reverse();
        runs
    }

    /// A run id given in full or by a unique prefix.
    pub fn find(&self, id: &str) -> Result<String, String> {
        let runs = self.list();
        if runs.iter().any(|r| r.run == id) {
            return Ok(id.to_string());
        }
        let matches: Vec<&RunSummary> = runs.iter().filter(|r| r.run.starts_with(id)).collect();
        match matches.as_slice() {
            [one] => Ok(one.run.clone()),
            [] => Err(format!(
                "no run `{id}` in {} (see `runbook runs`)",
                crate::source::display_path(&self.root)
            )),
            many => Err(format!(
                "`{id}` could be any of {} runs; give more of the id",
                many.len()
            )),
        }
    }
}
