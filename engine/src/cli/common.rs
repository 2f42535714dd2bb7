//! What subcommands share: finding the workspace, loading a playbook by name or file,
//! parsing `-p` pairs, and printing diagnostics.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::playbook::{self, LoadedPlaybook, Workspace};
use crate::source::Diagnostic;

/// How a listing prints: for people, or as JSON for programs.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Options every subcommand has.
pub struct Global {
    pub workspace: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub color: bool,
}

impl Global {
    /// The workspace, or the diagnostics that say why it could not be loaded.
    pub fn workspace(&self) -> Result<Workspace, Vec<Diagnostic>> {
        let start = match &self.workspace {
            Some(dir) => dir.clone(),
            None => {
                std::env::current_dir().map_err(|e| vec![Diagnostic::error(format!("no current directory: {e}"))])?
            }
        };
        if !start.is_dir() {
            return Err(vec![Diagnostic::error(format!(
                "{} is not a directory",
                start.display()
            ))]);
        }
        playbook::find_workspace(&start)
    }

    /// The workspace, or (having printed why) the exit code.
    pub fn ws(&self) -> Result<Workspace, i32> {
        self.workspace().map_err(|d| {
            self.print(&d);
            crate::error::INVALID
        })
    }

    /// The state dir: `--state-dir`, else the workspace's.
    pub fn state(&self, ws: &Workspace) -> crate::journal::StateDir {
        crate::journal::StateDir::new(self.state_dir.clone().unwrap_or_else(|| ws.state_dir.clone()))
    }

    pub fn print(&self, diags: &[Diagnostic]) {
        let mut err = std::io::stderr().lock();
        for d in diags {
            let _ = write!(err, "{}", d.render(self.color));
        }
    }
}

/// A playbook named NAME in the workspace, or the file given with `--file`.
pub fn load(ws: &Workspace, name: Option<&str>, file: Option<&Path>) -> Result<LoadedPlaybook, Vec<Diagnostic>> {
    let path = match (name, file) {
        (_, Some(f)) => f.to_path_buf(),
        (Some(n), None) => ws.playbook_path(n).map_err(|d| vec![d])?,
        (None, None) => return Err(vec![Diagnostic::error("name a playbook, or give --file PATH")]),
    };
    playbook::load_playbook(&path)
}

/// The environment and params a playbook is compiled with (`plan`, `run`).
#[derive(Debug, clap::Args)]
pub struct EnvParams {
    /// Environment (default: the workspace's default_env).
    #[arg(short, long = "env", value_name = "ENV")]
    pub env: Option<String>,
    /// A param value; repeat for several.
    #[arg(short, long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
}

/// Parses `-p name=value`.
pub fn parse_param(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected NAME=VALUE, got `{s}`")),
    }
}

/// "1 error", "3 warnings".
pub fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}
