//! Running a program to its end within a deadline and capturing what it said, and stopping
//! every process a test started (the binary, the steps it ran in their own groups).

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

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

/// Runs another program (a browser, a tool the tests use) with stdin closed, within
/// `limit`: panics, after killing it and every process it started, when it has not ended
/// by then.
pub fn run_program(program: &Path, args: &[&str], limit: Duration) -> Output {
    let tag = new_tag();
    let mut cmd = Command::new(program);
    cmd.args(args).env(TAG_VAR, &tag);
    let shown = format!("{} {}", program.display(), args.join(" "));
    let out = capture(cmd, &tag, None, limit, &shown);
    // What it left running (a browser's helpers) goes with it.
    kill_tagged(&tag);
    out
}

/// Spawns `cmd` (which carries `tag`) with `stdin` written to it, or stdin closed, and
/// reads its output to the end. Panics, after killing it and what it started, when it has
/// not ended within `limit`; `shown` names it then.
pub(crate) fn capture(mut cmd: Command, tag: &str, stdin: Option<Vec<u8>>, limit: Duration, shown: &str) -> Output {
    let mut child = cmd
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("`{shown}` does not start: {e}"));
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // On a thread of its own: a program that does not read all of it must not block
        // the test, and the pipe closes (end of input) when the thread is done.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&text);
        });
    }
    let stdout = read_all(child.stdout.take().expect("stdout"));
    let stderr = read_all(child.stderr.take().expect("stderr"));
    let deadline = Instant::now() + limit;
    let status = wait_until(&mut child, deadline);
    let text = |rx: &Receiver<Vec<u8>>, until: Instant| {
        let left = until.saturating_duration_since(Instant::now());
        String::from_utf8_lossy(&rx.recv_timeout(left).unwrap_or_default()).into_owned()
    };
    let Some(status) = status else {
        stop(&mut child, tag);
        let grace = Instant::now() + Duration::from_secs(5);
        panic!(
            "`{shown}` did not end within {limit:?}; killed.\n--- stdout\n{}--- stderr\n{}",
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

/// Marks a spawned binary and, through inheritance, every process it starts (the engine
/// runs each step in a process group of its own, so neither the child's pid nor its group
/// reaches them).
pub(crate) const TAG_VAR: &str = "RUNBOOK_TEST_TAG";

pub(crate) fn new_tag() -> String {
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
pub(crate) fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    let limit = deadline.saturating_duration_since(Instant::now());
    crate::poll::poll(limit, || child.try_wait().ok().flatten())
}

/// Kills the child if it still runs, reaps it, then kills every process that carries its
/// tag: the steps it started, by their process groups, even after the child died.
pub(crate) fn stop(child: &mut Child, tag: &str) {
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
