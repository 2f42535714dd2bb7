//! Test support: runs the built `runbook` binary in a directory and captures what it says,
//! always within a deadline, and never leaves a process behind; builds throwaway workspaces.

pub mod app;
pub mod kube;
pub mod platform;
pub mod servers;
pub mod webhooks;
pub mod world;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The `runbook` binary, built from the current sources. Cargo does not rebuild another
/// package's binary for this crate's tests, so the first call in each test process asks it
/// to (a no-op when up to date; cargo's lock serializes concurrent calls).
pub fn binary() -> PathBuf {
    static BUILD: Once = Once::new();
    // Test executables live in target/<profile>/deps; the binary one level up.
    let exe = std::env::current_exe().unwrap_or_default();
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let bin = profile_dir.join("runbook");
    BUILD.call_once(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "runbook", "--bin", "runbook"])
            .current_dir(repo_root())
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the runbook binary failed");
    });
    bin
}

/// What one invocation did.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Exit code, stdout and stderr in one text, for snapshots.
    pub fn transcript(&self) -> String {
        format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// How long one `runbook` invocation may take before the test fails: far beyond what any
/// test needs, so that a hang fails with what the binary said instead of holding the run
/// until nextest's slow-timeout.
pub const RUN_DEADLINE: Duration = Duration::from_secs(120);

/// How long [`Background::wait_for`] waits for an awaited event.
pub const EVENT_DEADLINE: Duration = Duration::from_secs(30);

/// Runs `runbook ARGS` in `dir`, without colors, stdin closed, and with a clean
/// environment for our variables.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    run_with_env::<&str, &str>(dir, args, &[])
}

/// Like [`run`], with extra environment variables. Panics, after killing it and what it
/// started, when the binary has not ended within [`RUN_DEADLINE`].
pub fn run_with_env<K: AsRef<std::ffi::OsStr>, V: AsRef<std::ffi::OsStr>>(
    dir: &Path,
    args: &[&str],
    env: &[(K, V)],
) -> Output {
    let tag = new_tag();
    let mut child = command(dir, args, &tag)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the runbook binary runs");
    let stdout = read_all(child.stdout.take().expect("stdout"));
    let stderr = read_all(child.stderr.take().expect("stderr"));
    let deadline = Instant::now() + RUN_DEADLINE;
    let status = wait_until(&mut child, deadline);
    let text = |rx: &Receiver<Vec<u8>>, until: Instant| {
        let left = until.saturating_duration_since(Instant::now());
        String::from_utf8_lossy(&rx.recv_timeout(left).unwrap_or_default()).into_owned()
    };
    let Some(status) = status else {
        stop(&mut child, &tag);
        let grace = Instant::now() + Duration::from_secs(5);
        panic!(
            "`runbook {}` did not end within {RUN_DEADLINE:?}; killed.\n--- stdout\n{}--- stderr\n{}",
            args.join(" "),
            text(&stdout, grace),
            text(&stderr, grace)
        );
    };
    // The output is complete when the pipes close: give a process that kept them open the
    // same deadline.
    Output {
        code: status.code().unwrap_or(-1),
        stdout: text(&stdout, deadline),
        stderr: text(&stderr, deadline),
    }
}

/// Runs another program (a browser, a tool the tests use) with stdin closed, within
/// `limit`: panics, after killing it and every process it started, when it has not ended
/// by then.
pub fn run_program(program: &Path, args: &[&str], limit: Duration) -> Output {
    let tag = new_tag();
    let mut child = Command::new(program)
        .args(args)
        .env(TAG_VAR, &tag)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{} does not start: {e}", program.display()));
    let stdout = read_all(child.stdout.take().expect("stdout"));
    let stderr = read_all(child.stderr.take().expect("stderr"));
    let deadline = Instant::now() + limit;
    let status = wait_until(&mut child, deadline);
    let text = |rx: &Receiver<Vec<u8>>, until: Instant| {
        let left = until.saturating_duration_since(Instant::now());
        String::from_utf8_lossy(&rx.recv_timeout(left).unwrap_or_default()).into_owned()
    };
    let Some(status) = status else {
        stop(&mut child, &tag);
        let grace = Instant::now() + Duration::from_secs(5);
        panic!(
            "`{} {}` did not end within {limit:?}; killed.\n--- stdout\n{}--- stderr\n{}",
            program.display(),
            args.join(" "),
            text(&stdout, grace),
            text(&stderr, grace)
        );
    };
    // What it left running (a browser's helpers) goes with it.
    kill_tagged(&tag);
    Output {
        code: status.code().unwrap_or(-1),
        stdout: text(&stdout, deadline),
        stderr: text(&stderr, deadline),
    }
}

/// The path of `name` on PATH, if it is there.
pub fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.is_file())
}

/// `runbook --color never ARGS` in `dir`, with our variables cleared and the tag that lets
/// [`stop`] find every process this invocation starts.
fn command(dir: &Path, args: &[&str], tag: &str) -> Command {
    let mut cmd = Command::new(binary());
    cmd.args(["--color", "never"])
        .args(args)
        .current_dir(dir)
        .env_remove("RUNBOOK_STATE_DIR")
        .env_remove("RUNBOOK_USER")
        .env("NO_COLOR", "1")
        .env(TAG_VAR, tag);
    cmd
}

/// Marks a spawned binary and, through inheritance, every process it starts (the engine
/// runs each step in a process group of its own, so neither the child's pid nor its group
/// reaches them).
const TAG_VAR: &str = "RUNBOOK_TEST_TAG";

fn new_tag() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Reads a stream to its end on a thread of its own; the whole text arrives on the channel.
fn read_all(mut r: impl Read + Send + 'static) -> Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

/// Waits for the child to end, until `deadline`; `None` if it is still running then.
fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    let mut pause = Duration::from_millis(1);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Kills the child if it still runs, reaps it, then kills every process that carries its
/// tag: the steps it started, by their process groups, even after the child died.
fn stop(child: &mut Child, tag: &str) {
    if let Ok(None) = child.try_wait() {
        let _ = child.kill();
    }
    let _ = child.wait();
    kill_tagged(tag);
}

/// Kills the processes whose environment holds `RUNBOOK_TEST_TAG=tag`, each with its process
/// group unless that is ours. Repeats while it finds some (one may fork meanwhile).
pub fn kill_tagged(tag: &str) {
    use nix::sys::signal::{Signal, kill, killpg};
    use nix::unistd::{Pid, getpgrp};
    let needle = format!("{TAG_VAR}={tag}");
    let (me, my_group) = (std::process::id() as i32, getpgrp().as_raw());
    for _ in 0..50 {
        let mut found = 0;
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
                continue;
            };
            if pid == me || pid <= 1 {
                continue;
            }
            // A zombie's environment reads empty: it is dead already.
            let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
                continue;
            };
            if !environ.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
                continue;
            }
            found += 1;
            let group = std::fs::read_to_string(entry.path().join("stat"))
                .ok()
                .and_then(|stat| {
                    // `pid (comm) state ppid pgrp ...`; comm may hold spaces and parens.
                    let rest = &stat[stat.rfind(')')? + 1..];
                    rest.split_whitespace().nth(2)?.parse::<i32>().ok()
                })
                .unwrap_or(0);
            if group > 1 && group != my_group {
                let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
            } else {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        if found == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A throwaway workspace in its own temp dir.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        Workspace {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file (creating its folders).
    pub fn file(self, rel: &str, text: &str) -> Self {
        let p = self.dir.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(p, text).expect("write");
        self
    }

    /// Writes `playbooks/NAME.yaml`.
    pub fn playbook(self, name: &str, text: &str) -> Self {
        self.file(&format!("playbooks/{name}.yaml"), text)
    }

    pub fn run(&self, args: &[&str]) -> Output {
        run(self.path(), args)
    }

    /// The directory of the workspace's only run (its journal, its plan).
    pub fn run_dir(&self) -> PathBuf {
        let runs = self.path().join(".runbook/runs");
        std::fs::read_dir(&runs)
            .expect("a runs directory")
            .flatten()
            .find(|e| e.path().is_dir())
            .expect("a run")
            .path()
    }

    /// The records of the journal of the workspace's only run.
    pub fn journal(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.run_dir().join("journal.jsonl"))
            .expect("a journal")
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON record ({e}): {l}")))
            .collect()
    }

    /// The lines of a file the steps wrote (none when there is no such file).
    pub fn lines(&self, file: &str) -> Vec<String> {
        std::fs::read_to_string(self.path().join(file))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }
}

/// The events or records of one `type`.
pub fn of_type<'e>(events: &'e [serde_json::Value], kind: &str) -> Vec<&'e serde_json::Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

impl Default for Workspace {
    fn default() -> Self {
        Self::new()
    }
}

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
    /// Starts `runbook --color never ARGS --output json` in `dir` with stdin closed.
    pub fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Background {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--output", "json"]);
        Background::spawn(dir, &all, env)
    }

    /// Starts `runbook --color never ARGS` in `dir` with stdin closed, reading its stdout
    /// line by line (for commands other than a run: `schedule run-due`).
    pub fn spawn(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Background {
        let tag = new_tag();
        let mut child = command(dir, args, &tag)
            .envs(env.iter().copied())
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
