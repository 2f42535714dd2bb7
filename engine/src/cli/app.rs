//! The clap definition of the CLI and the dispatch to subcommands.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use super::{
    approve, audit, completions, contacts, list, plan, report, resume, rollback, run, runs, schedule, scheduler,
    schema, show, validate,
};
use crate::error;

#[derive(Debug, Parser)]
#[command(
    name = "runbook",
    version,
    about = "Executable runbooks: plan, check and run YAML playbooks safely"
)]
pub struct Cli {
    /// Start looking for the workspace (runbook.yaml) in this directory instead of the current one.
    #[arg(short = 'C', long = "workspace", global = true, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// State dir (journals, locks, approvals); default: the workspace's `state_dir`.
    #[arg(long, global = true, value_name = "DIR", env = "RUNBOOK_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Colors in messages.
    #[arg(long, global = true, value_enum, default_value = "auto")]
    pub color: Color,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the playbooks: name, risk, description, params.
    List(list::Args),
    /// Show one playbook: params, steps, docs.
    Show(show::Args),
    /// Check playbooks and runbook.yaml: schema, references, templates, lints.
    Validate(validate::Args),
    /// Compile a playbook into its plan: waves of steps, gates, rollbacks, hash.
    Plan(plan::Args),
    /// Run a playbook: steps as a DAG, with gates, timeouts, retries and rollback.
    Run(run::Args),
    /// Continue a run that stopped (a crash, a kill) from its journal.
    Resume(resume::Args),
    /// Undo a stopped run's finished steps (interrupted, killed, refused, or its rollback
    /// unfinished), newest first, from its journal.
    Rollback(rollback::Args),
    /// Approve a saved plan (`plan --out FILE`): the approval is bound to its hash.
    Approve(approve::Args),
    /// Recent runs: id, playbook, environment, user, status, start, duration.
    Runs(runs::Args),
    /// A run's audit journal: show, export, verify.
    Audit(audit::Args),
    /// A run's report (header, timeline, gates, rollbacks, outputs, measures) from its
    /// journal and plan, or a playbook's history of runs: Markdown, JSON or HTML.
    Report(report::Args),
    /// Scheduled runs: list the schedules and their next firings; start the due ones.
    Schedule(schedule::Args),
    /// The foreground scheduler daemon (systemd, a container): sleeps until the next firing,
    /// runs each as a child process; SIGHUP reloads runbook.yaml, SIGTERM drains and exits 0.
    Scheduler(scheduler::Args),
    /// Who is on call now (or `--at`), the escalation path and the channels (`contacts:`).
    Contacts(contacts::Args),
    /// Print the JSON Schemas of playbooks and runbook.yaml (for editors).
    Schema(schema::Args),
    /// Print shell completions.
    Completions(completions::Args),
}

/// Runs the CLI with the process's arguments and returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { error::INVALID } else { error::SUCCESS };
            let _ = e.print();
            return code;
        }
    };
    let color = match cli.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            use std::io::IsTerminal;
            std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    };
    let g = super::common::Global {
        workspace: cli.workspace.clone(),
        state_dir: cli.state_dir.clone(),
        color,
    };
    match cli.command {
        Command::List(a) => list::exec(&g, a),
        Command::Show(a) => show::exec(&g, a),
        Command::Validate(a) => validate::exec(&g, a),
        Command::Plan(a) => plan::exec(&g, a),
        Command::Run(a) => run::exec(&g, a),
        Command::Runs(a) => runs::exec(&g, a),
        Command::Approve(a) => approve::exec(&g, a),
        Command::Resume(a) => resume::exec(&g, a),
        Command::Rollback(a) => rollback::exec(&g, a),
        Command::Audit(a) => audit::exec(&g, a),
        Command::Report(a) => report::exec(&g, a),
        Command::Schedule(a) => schedule::exec(&g, a),
        Command::Scheduler(a) => scheduler::exec(&g, a),
        Command::Contacts(a) => contacts::exec(&g, a),
        Command::Schema(a) => schema::exec(&g, a),
        Command::Completions(a) => completions::exec(a),
    }
}
