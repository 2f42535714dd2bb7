//! A `runbook` run in the background, read line by line as it goes: waits for an event (a
//! line of its output) with a deadline, and dropping it stops the run and what it started.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::process::{RUN_DEADLINE, stop, wait_until};

/// How long [`Background::wait_for`] waits for an awaited event.
pub const EVENT_DEADLINE: Duration = Duration::from_secs(30);

/// A `runbook` run in the background with `--output json`, read event by event. Every wait
/// has a deadline; dropping it kills the run and every process it started.
pub struct Background {
    pub child: Child,
    tag: String,
    /// stdout, line by line (each with its newline), from a reader thread; closed at the end.
    events: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    /// Every line read so far.
    pub lines: Vec<String>,
}

impl Background {
    /// Spawns `cmd`, which carries `tag` (see [`crate::kill_tagged`]), with stdin closed.
    pub(crate) fn of(mut cmd: Command, tag: String) -> Background {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("runbook starts");
        let (tx, events) = mpsc::channel();
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        std::thread::spawn(move || {
            for line in out.lines() {
                let Ok(line) = line else { break };
                if tx.send(line + "\n").is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let (err, mut pipe) = (stderr.clone(), child.stderr.take().expect("stderr"));
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut e) = err.lock() {
                    e.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        Background {
            child,
            tag,
            events,
            stderr,
            lines: Vec::new(),
        }
    }

    /// Reads events until one line satisfies `found`, within [`EVENT_DEADLINE`]; panics with
    /// what was read if the run ends first or the deadline passes.
    pub fn wait_for(&mut self, found: impl Fn(&str) -> bool) -> String {
        self.wait_for_within(EVENT_DEADLINE, found)
    }

    /// [`Background::wait_for`] with a deadline of its own.
    pub fn wait_for_within(&mut self, limit: Duration, found: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(line) => {
                    self.lines.push(line.clone());
                    if found(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no awaited event within {limit:?}\n{}", self.so_far())
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("the run ended before the awaited event\n{}", self.so_far())
                }
            }
        }
    }

    /// Reads events for `window` and panics if there is one, or if the run ends: for what
    /// must not happen (a decision that must not count), which has no event to wait for.
    /// The window is the thing under test: it must span the engine's own polling.
    #[track_caller]
    pub fn quiet_for(&mut self, window: Duration, what: &str) {
        match self.events.recv_timeout(window) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(line) => {
                self.lines.push(line.clone());
                panic!("{what}, but the run went on: {line}{}", self.so_far())
            }
            Err(RecvTimeoutError::Disconnected) => panic!("{what}, but the run ended\n{}", self.so_far()),
        }
    }

    /// Reads the rest of the events, until the run ends (within [`RUN_DEADLINE`]).
    pub fn rest(&mut self) -> String {
        let deadline = Instant::now() + RUN_DEADLINE;
        let mut rest = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(line) => {
                    rest.push_str(&line);
                    self.lines.push(line);
                }
                Err(RecvTimeoutError::Disconnected) => return rest,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("the run did not end within {RUN_DEADLINE:?}\n{}", self.so_far())
                }
            }
        }
    }

    /// Reads the rest of the events and waits for the run to end (within [`RUN_DEADLINE`]);
    /// its exit code.
    pub fn finish(&mut self) -> i32 {
        self.rest();
        match wait_until(&mut self.child, Instant::now() + RUN_DEADLINE) {
            Some(status) => status.code().unwrap_or(-1),
            None => panic!(
                "the run closed its output but did not exit within {RUN_DEADLINE:?}\n{}",
                self.so_far()
            ),
        }
    }

    /// The events read so far, parsed.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    /// What the run wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|e| e.clone()).unwrap_or_default()
    }

    fn so_far(&self) -> String {
        format!(
            "--- stdout so far\n{}--- stderr so far\n{}",
            self.lines.join(""),
            self.stderr()
        )
    }

    /// The run id, from `run_started`.
    pub fn run_id(&self) -> String {
        self.lines
            .iter()
            .find(|l| l.contains("\"run_started\""))
            .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .and_then(|v| v["run"].as_str().map(String::from))
            .expect("a run_started event")
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        stop(&mut self.child, &self.tag);
    }
}
