//! Test support: runs the built `runbook` binary in a directory and captures what it says;
//! builds throwaway workspaces.

pub mod kube;
pub mod servers;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;

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

/// Runs `runbook ARGS` in `dir`, without colors, stdin closed, and with a clean
/// environment for our variables.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    run_with_env::<&str, &str>(dir, args, &[])
}

/// Like [`run`], with extra environment variables.
pub fn run_with_env<K: AsRef<std::ffi::OsStr>, V: AsRef<std::ffi::OsStr>>(
    dir: &Path,
    args: &[&str],
    env: &[(K, V)],
) -> Output {
    let out = Command::new(binary())
        .args(["--color", "never"])
        .args(args)
        .current_dir(dir)
        .env_remove("RUNBOOK_STATE_DIR")
        .env_remove("RUNBOOK_USER")
        .env("NO_COLOR", "1")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the runbook binary runs");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
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
}

impl Default for Workspace {
    fn default() -> Self {
        Self::new()
    }
}

/// A `runbook` run in the background with `--output json`, read event by event.
pub struct Background {
    pub child: std::process::Child,
    out: std::io::BufReader<std::process::ChildStdout>,
    /// Every line read so far.
    pub lines: Vec<String>,
}

impl Background {
    /// Starts `runbook --color never ARGS --output json` in `dir` with stdin closed.
    pub fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Background {
        let mut child = Command::new(binary())
            .args(["--color", "never"])
            .args(args)
            .args(["--output", "json"])
            .current_dir(dir)
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("runbook starts");
        let out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        Background {
            child,
            out,
            lines: Vec::new(),
        }
    }

    /// Reads events until one line satisfies `found`; panics if the run ends first.
    pub fn wait_for(&mut self, found: impl Fn(&str) -> bool) -> String {
        use std::io::BufRead;
        loop {
            let mut line = String::new();
            let n = self.out.read_line(&mut line).expect("read");
            assert!(
                n > 0,
                "the run ended before the awaited event:\n{}",
                self.lines.join("")
            );
            self.lines.push(line.clone());
            if found(&line) {
                return line;
            }
        }
    }

    /// Reads the rest of the events, until the run ends.
    pub fn rest(&mut self) -> String {
        use std::io::Read;
        let mut rest = String::new();
        let _ = self.out.read_to_string(&mut rest);
        self.lines.push(rest.clone());
        rest
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
