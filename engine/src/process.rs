//! Runs a program in its own process group and captures its output; a timeout or a signal
//! to the run stops the whole group (SIGTERM, a grace period, then SIGKILL), so no process
//! is left. It returns only once the group's leader is gone.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use indexmap::IndexMap;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::wake::Waits;

/// Most bytes kept of each stream; beyond it the start is dropped (the end matters most).
const MAX_OUTPUT: usize = 4 << 20;
/// Time between SIGTERM and SIGKILL after a timeout (a signal to the run has its own).
const GRACE: Duration = Duration::from_secs(2);
/// How long the output is still read after the group was killed: a process that left the
/// group may hold the pipes open forever.
const DRAIN: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub program: String,
    pub args: Vec<String>,
    pub env: IndexMap<String, String>,
    pub dir: PathBuf,
    /// Report a death by signal N as exit status 128+N, as `sh -c` does for what it runs: a
    /// `shell` command that skips `sh` must end with the status `sh` would have given.
    pub as_sh: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ProcessResult {
    /// `None` when a signal ended it.
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
    pub cancelled: bool,
}

/// Why the process was stopped early.
enum Stop {
    Timeout,
    Cancel,
}

/// Runs the program; `waits` stopping (a signal to the run) stops it as a timeout does, after
/// the waits' own grace period, and a second signal kills it at once.
pub async fn run(spec: &ProcessSpec, timeout: Duration, waits: &Waits) -> std::io::Result<ProcessResult> {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .envs(&spec.env)
        .current_dir(&spec.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group: a timeout kills everything it started, not only `sh`.
        .process_group(0);
    let mut child = cmd.spawn()?;
    let pid = child.id().map(|p| p as i32);
    let mut read_out = tokio::spawn(read_all(child.stdout.take()));
    let mut read_err = tokio::spawn(read_all(child.stderr.take()));

    // Done when the leader has exited and every process of its group has closed the output;
    // the timeout and a signal to the run count for both.
    let limit = tokio::time::sleep(timeout);
    tokio::pin!(limit);
    let mut leader = None;
    let stop = loop {
        tokio::select! {
            s = child.wait(), if leader.is_none() => leader = Some(s?),
            (o, e) = async { tokio::join!(&mut read_out, &mut read_err) }, if leader.is_some() => {
                return Ok(ProcessResult {
                    exit_code: leader.and_then(|s| status_code(s, spec.as_sh)),
                    stdout: text(o),
                    stderr: text(e),
                    timed_out: false,
                    cancelled: false,
                });
            }
            _ = &mut limit => break Stop::Timeout,
            _ = waits.stopping() => break Stop::Cancel,
        }
    };

    let grace = match stop {
        Stop::Timeout => GRACE,
        Stop::Cancel => waits.grace,
    };
    if let Some(pid) = pid {
        let group = Pid::from_raw(pid);
        let _ = killpg(group, Signal::SIGTERM);
        tokio::select! {
            s = child.wait(), if leader.is_none() => leader = s.ok(),
            _ = async { tokio::join!(&mut read_out, &mut read_err) }, if leader.is_some() => {}
            _ = tokio::time::sleep(grace) => {}
            _ = waits.killing() => {}
        }
        // Whatever is left of the group goes, the leader's children included.
        let _ = killpg(group, Signal::SIGKILL);
    }
    if leader.is_none() {
        leader = child.wait().await.ok();
    }
    let (o, e) = match tokio::time::timeout(DRAIN, async { tokio::join!(read_out, read_err) }).await {
        Ok((o, e)) => (text(o), text(e)),
        Err(_) => (String::new(), String::new()),
    };
    Ok(ProcessResult {
        // Stopped by us: the whole group, `sh` included, died of the signal; no code either way.
        exit_code: leader.and_then(|s| s.code()),
        stdout: o,
        stderr: e,
        timed_out: matches!(stop, Stop::Timeout),
        cancelled: matches!(stop, Stop::Cancel),
    })
}

/// The exit code, or with `as_sh` 128+N for a death by signal N.
fn status_code(s: std::process::ExitStatus, as_sh: bool) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    s.code().or_else(|| s.signal().filter(|_| as_sh).map(|n| 128 + n))
}

fn text(r: Result<Vec<u8>, tokio::task::JoinError>) -> String {
    String::from_utf8_lossy(&r.unwrap_or_default()).into_owned()
}

async fn read_all<R: tokio::io::AsyncRead + Unpin>(r: Option<R>) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Some(mut r) = r {
        read_capped(&mut r, &mut buf).await;
    }
    buf
}

async fn read_capped<R: tokio::io::AsyncRead + Unpin>(r: &mut R, buf: &mut Vec<u8>) {
    let mut chunk = [0u8; 8192];
    loop {
        match r.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > MAX_OUTPUT {
                    let cut = buf.len() - MAX_OUTPUT;
                    buf.drain(..cut);
                }
            }
        }
    }
}
