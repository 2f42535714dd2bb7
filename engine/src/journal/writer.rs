//! Writes the run's events to its journal as chained records. Records that precede a
//! change in the world (a step starting, a gate answered, a rollback starting) are fsync'd
//! before the engine goes on, so a crash never loses what was about to happen. A write that
//! fails is cut back off the file, so the chain on disk stays whole, and is reported: the
//! engine does not start what it could not record.

use std::fs::File;
use std::io::Write;

use serde_json::Value;

use super::record::{Record, ZERO_HASH, record_hash};
use crate::event::{Event, RunEvent, Sink};
use crate::state::{IndexLine, StateDir};

pub struct JournalSink {
    state: StateDir,
    run: String,
    file: File,
    /// Bytes of whole records on disk: a failed write is cut back to here.
    len: u64,
    seq: u64,
    prev: String,
    /// fsync the records that precede a change (off only to measure what it costs).
    fsync: bool,
    /// A failed write could not be cut back: nothing more can be chained safely.
    broken: Option<String>,
}

impl JournalSink {
    /// Opens (creates) the journal of `run`, and makes its directory entry durable.
    pub fn create(state: StateDir, run: &str) -> std::io::Result<JournalSink> {
        let dir = state.run_dir(run);
        StateDir::private_dir(&dir)?;
        let file = StateDir::append(&state.journal(run))?;
        file.sync_all()?;
        // The new file's name lives in the directory, the directory's in `runs/`: both are
        // synced, or a crash could lose the journal whose records were fsync'd.
        sync_dir(&dir)?;
        sync_dir(&state.runs())?;
        Ok(JournalSink {
            state,
            run: run.to_string(),
            file,
            len: 0,
            seq: 0,
            prev: ZERO_HASH.to_string(),
            fsync: true,
            broken: None,
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
            file,
            len: past.valid_len,
            seq: past.last_seq + 1,
            prev: past.last_hash.clone(),
            fsync: true,
            broken: None,
        })
    }

    /// Whether to fsync (the benchmark measures the cost; runs always do).
    pub fn with_fsync(mut self, fsync: bool) -> Self {
        self.fsync = fsync;
        self
    }

    fn write(&mut self, e: &Event) -> Result<(), String> {
        if let Some(why) = &self.broken {
            return Err(why.clone());
        }
        let Value::Object(fields) = serde_json::to_value(e).map_err(|e| format!("cannot encode a record: {e}"))? else {
            return Err("an event is not a JSON object".into());
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
        let mut line = serde_json::to_string(&r).map_err(|e| format!("cannot encode a record: {e}"))?;
        line.push('\n');
        let durable = self.fsync && is_durable(&e.kind);
        let written = self
            .file
            .write_all(line.as_bytes())
            .and_then(|_| if durable { self.file.sync_data() } else { Ok(()) });
        if let Err(err) = written {
            let why = format!(
                "cannot write record {} of {}: {err}",
                self.seq,
                self.state.journal(&self.run).display()
            );
            // What reached the file of this record is cut off again, so the next record (if
            // the disk recovers) chains on from the last whole one.
            if self.file.set_len(self.len).and_then(|_| self.file.sync_data()).is_err() {
                self.broken = Some(format!("{why}; its partial write could not be removed"));
            }
            return Err(why);
        }
        self.len += line.len() as u64;
        self.seq += 1;
        self.prev = hash;
        Ok(())
    }

    /// The index line that says how the run (or its later rollback) ended.
    fn ended(&self, ts: &str, status: String, duration_ms: Option<u64>) -> IndexLine {
        IndexLine {
            run: self.run.clone(),
            event: "finished".into(),
            playbook: None,
            env: None,
            user: None,
            host: None,
            ts: ts.to_string(),
            status: Some(status),
            duration_ms,
            trigger: None,
        }
    }

    fn index(&self, e: &Event) -> std::io::Result<()> {
        let line = match &e.kind {
            RunEvent::RunStarted {
                playbook,
                env,
                user,
                host,
                trigger,
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
                trigger: trigger.clone(),
            },
            RunEvent::RollbackEnded { ok, .. } => {
                let status = if *ok { "rolled_back" } else { "rollback_incomplete" };
                self.ended(&e.ts, status.into(), None)
            }
            RunEvent::RunFinished {
                status, duration_ms, ..
            } => {
                let status = serde_json::to_value(status)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default();
                self.ended(&e.ts, status, Some(*duration_ms))
            }
            _ => return Ok(()),
        };
        self.state.add_to_index(&line)
    }
}

impl Sink for JournalSink {
    fn event(&mut self, e: &Event) -> Result<(), String> {
        self.write(e)?;
        self.index(e)
            .map_err(|err| format!("cannot write the runs index {}: {err}", self.state.index().display()))
    }

    fn durable(&self) -> bool {
        true
    }
}

/// Records that precede a change in the world, or end a run: on disk before the engine goes
/// on.
fn is_durable(kind: &RunEvent) -> bool {
    matches!(
        kind,
        RunEvent::RunStarted { .. }
            | RunEvent::Resumed { .. }
            | RunEvent::StepStarted { .. }
            | RunEvent::Gate { .. }
            | RunEvent::RollbackStarted { .. }
            | RunEvent::RollbackRequested { .. }
            | RunEvent::Interrupted { .. }
            | RunEvent::GuardTripped { .. }
            | RunEvent::RunFinished { .. }
    )
}

/// fsyncs a directory, so the entries created in it survive a crash.
fn sync_dir(dir: &std::path::Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}
