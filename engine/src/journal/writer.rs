//! Writes the run's events to its journal as chained records. Records that precede a
//! change in the world (a step starting, a gate answered, a rollback starting) are fsync'd
//! before the engine goes on, so a crash never loses what was about to happen.

use std::fs::File;
use std::io::Write;

use serde_json::Value;

use super::record::{Record, ZERO_HASH, record_hash};
use super::store::{IndexLine, StateDir};
use crate::exec::{Event, RunEvent, Sink};

pub struct JournalSink {
    state: StateDir,
    run: String,
    file: Option<File>,
    seq: u64,
    prev: String,
    /// fsync the records that precede a change (off only to measure what it costs).
    fsync: bool,
}

impl JournalSink {
    /// Opens (creates) the journal of `run`.
    pub fn create(state: StateDir, run: &str) -> std::io::Result<JournalSink> {
        StateDir::private_dir(&state.run_dir(run))?;
        let file = StateDir::append(&state.journal(run))?;
        Ok(JournalSink {
            state,
            run: run.to_string(),
            file: Some(file),
            seq: 0,
            prev: ZERO_HASH.to_string(),
            fsync: true,
        })
    }

    /// Continues the journal of a run being resumed: drops a torn last line, then chains on
    /// from the last record.
    pub fn resume(state: StateDir, run: &str, past: &super::Past) -> std::io::Result<JournalSink> {
        let path = state.journal(run);
        let f = std::fs::OpenOptions::new().write(true).open(&path)?;
        f.set_len(past.valid_len)?;
        f.sync_all()?;
        let file = StateDir::append(&path)?;
        Ok(JournalSink {
            state,
            run: run.to_string(),
            file: Some(file),
            seq: past.last_seq + 1,
            prev: past.last_hash.clone(),
            fsync: true,
        })
    }

    /// Whether to fsync (the benchmark measures the cost; runs always do).
    pub fn with_fsync(mut self, fsync: bool) -> Self {
        self.fsync = fsync;
        self
    }

    fn write(&mut self, e: &Event) -> std::io::Result<()> {
        let Some(file) = self.file.as_mut() else { return Ok(()) };
        let Value::Object(fields) = serde_json::to_value(e).unwrap_or(Value::Null) else {
            return Ok(());
        };
        let mut r = Record::new();
        r.insert("seq".into(), self.seq.into());
        r.insert("run".into(), self.run.clone().into());
        for (k, v) in fields {
            r.insert(k, v);
        }
        r.insert("prev".into(), self.prev.clone().into());
        let hash = record_hash(&r);
        r.insert("hash".into(), hash.clone().into());
        let mut line = serde_json::to_string(&r).unwrap_or_default();
        line.push('\n');
        file.write_all(line.as_bytes())?;
        let durable = matches!(
            e.kind,
            RunEvent::RunStarted { .. }
                | RunEvent::Resumed { .. }
                | RunEvent::StepStarted { .. }
                | RunEvent::Gate { .. }
                | RunEvent::RollbackStarted { .. }
                | RunEvent::Interrupted { .. }
                | RunEvent::GuardTripped { .. }
                | RunEvent::RunFinished { .. }
        );
        if durable && self.fsync {
            file.sync_data()?;
        }
        self.seq += 1;
        self.prev = hash;
        Ok(())
    }

    fn index(&self, e: &Event) -> std::io::Result<()> {
        let line = match &e.kind {
            RunEvent::RunStarted {
                playbook,
                env,
                user,
                host,
                ..
            } => IndexLine {
                run: self.run.clone(),
                event: "started".into(),
                playbook: Some(playbook.clone()),
                env: Some(env.clone()),
                user: Some(user.clone()),
                host: Some(host.clone()),
                ts: e.ts.clone(),
                status: None,
                duration_ms: None,
            },
            RunEvent::RunFinished {
                status, duration_ms, ..
            } => IndexLine {
                run: self.run.clone(),
                event: "finished".into(),
                playbook: None,
                env: None,
                user: None,
                host: None,
                ts: e.ts.clone(),
                status: serde_json::to_value(status)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from)),
                duration_ms: Some(*duration_ms),
            },
            _ => return Ok(()),
        };
        self.state.add_to_index(&line)
    }
}

impl Sink for JournalSink {
    fn event(&mut self, e: &Event) {
        if let Err(err) = self.write(e).and_then(|_| self.index(e)) {
            // The audit trail is the point: say so loudly rather than go on silently.
            eprintln!("error: cannot write the journal of run {}: {err}", self.run);
        }
    }
}
