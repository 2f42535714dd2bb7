//! Test support: runs the built `runbook` binary in a directory and captures what it says,
//! always within a deadline, and never leaves a process behind; builds throwaway workspaces.

pub mod app;
mod background;
mod invocation;
pub mod kube;
pub mod platform;
mod poll;
mod process;
pub mod servers;
pub mod webhooks;
pub mod world;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;

pub use background::{Background, EVENT_DEADLINE};
pub use invocation::{Invocation, exit_code, runbook};
pub use poll::{PACE, eventually, poll, poll_every, within};
pub use process::{Output, RUN_DEADLINE, kill_tagged, run_program};

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

/// Runs `runbook ARGS` in `dir`, expecting nothing in particular: [`runbook`] without
/// anything more to say.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    runbook(dir, args).run()
}

/// The path of `name` on PATH, if it is there.
pub fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.is_file())
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

    /// `runbook ARGS` in the workspace, to be configured, then run.
    pub fn runbook<S: AsRef<std::ffi::OsStr>>(&self, args: impl IntoIterator<Item = S>) -> Invocation {
        runbook(self.path(), args)
    }

    /// Runs `runbook ARGS` in the workspace, expecting nothing in particular.
    pub fn run(&self, args: &[&str]) -> Output {
        self.runbook(args).run()
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
