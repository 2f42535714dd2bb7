//! `runbook scheduler`: the foreground daemon for systemd or a container; see
//! [`crate::schedule::Daemon`].

use std::sync::Arc;

use super::common::Global;
use crate::error;
use crate::schedule::{self, Daemon, StderrLog};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// `text`: plain lines on stderr; `json`: one JSON event per line on stderr.
    #[arg(long, value_enum, default_value = "text")]
    pub output: super::session::Output,
}

pub fn exec(g: &Global, a: Args) -> i32 {
    let ws = match g.ws() {
        Ok(ws) => ws,
        Err(code) => return code,
    };
    // At start, a broken runbook.yaml is an error to fix, not a daemon to leave running with
    // half of its schedules.
    let schedules = match super::schedule::all_valid(g, &ws, "the scheduler did not start") {
        Ok(s) => s,
        Err(code) => return code,
    };
    let exe = match super::schedule::this_program() {
        Ok(e) => e,
        Err(code) => return code,
    };
    let root = ws.root.clone();
    let color = g.color;
    let load: schedule::Loader = Box::new(move || {
        let ws = crate::playbook::find_workspace(&root).map_err(|d| render(&d, color))?;
        match schedule::load(&ws) {
            (schedules, diags) if diags.is_empty() => Ok(schedules),
            (_, diags) => Err(render(&diags, color)),
        }
    });
    let daemon = Daemon {
        exe,
        workspace: ws.root.clone(),
        state: g.state(&ws),
        load,
        log: Arc::new(StderrLog {
            json: a.output == super::session::Output::Json,
        }),
    };
    // One thread is plenty for sleeping and watching a few child processes, and keeps the
    // idle daemon small.
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the scheduler: {e}");
            return error::INVALID;
        }
    };
    match rt.block_on(daemon.run(schedules)) {
        Ok(()) => error::SUCCESS,
        Err(e) => {
            eprintln!("error: the scheduler cannot take over its signals: {e}");
            error::INVALID
        }
    }
}

/// Diagnostics as one line each, for the reload message.
fn render(diags: &[crate::source::Diagnostic], _color: bool) -> String {
    diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("; ")
}
