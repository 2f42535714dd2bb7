//! Runs a program in its own process group and captures its output; a timeout or a cancel
//! kills the whole group (SIGTERM, a grace period, then SIGKILL), so no process is left.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use indexmap::IndexMap;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio::sync::watch;

/// Most bytes kept of each stream; beyond it the start is dropped (the end matters most).
const MAX_OUTPUT: usize = 4 << 20;
/// Time between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub program: String,
    pub args: Vec<String>,
    pub env: IndexMap<String, String>,
    pub dir: PathBuf,
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

/// Runs the program; `cancel` turning true kills it like a timeout does.
pub async fn run(
    spec: &ProcessSpec,
    timeout: Duration,
    mut cancel: watch::Receiver<bool>,
) -> std::io::Result<ProcessResult> {
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
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();

    let finished = async {
        let read_out = async {
            let mut buf = Vec::new();
            if let Some(o) = out.as_mut() {
                read_capped(o, &mut buf).await;
            }
            buf
        };
        let read_err = async {
            let mut buf = Vec::new();
            if let Some(e) = err.as_mut() {
                read_capped(e, &mut buf).await;
            }
            buf
        };
        // The output is complete only when every process of the group has closed it.
        let (status, o, e) = tokio::join!(child.wait(), read_out, read_err);
        (status, o, e)
    };
    tokio::pin!(finished);

    let cancelled = async {
        loop {
            if *cancel.borrow() {
                return;
            }
            if cancel.changed().await.is_err() {
                // The sender is gone: nobody can cancel any more.
                std::future::pending::<()>().await;
            }
        }
    };

    let stop = tokio::select! {
        (status, o, e) = &mut finished => {
            return Ok(ProcessResult {
                exit_code: status?.code(),
                stdout: String::from_utf8_lossy(&o).into_owned(),
                stderr: String::from_utf8_lossy(&e).into_owned(),
                timed_out: false,
                cancelled: false,
            });
        }
        _ = tokio::time::sleep(timeout) => Stop::Timeout,
        _ = cancelled => Stop::Cancel,
    };

    let (status, o, e) = match pid {
        Some(pid) => {
            let group = Pid::from_raw(pid);
            let _ = killpg(group, Signal::SIGTERM);
            match tokio::time::timeout(GRACE, &mut finished).await {
                Ok(done) => done,
                Err(_) => {
                    let _ = killpg(group, Signal::SIGKILL);
                    finished.await
                }
            }
        }
        None => finished.await,
    };
    Ok(ProcessResult {
        exit_code: status.ok().and_then(|s| s.code()),
        stdout: String::from_utf8_lossy(&o).into_owned(),
        stderr: String::from_utf8_lossy(&e).into_owned(),
        timed_out: matches!(stop, Stop::Timeout),
        cancelled: matches!(stop, Stop::Cancel),
    })
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
