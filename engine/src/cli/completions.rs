//! `runbook completions SHELL`: shell completion scripts.

use clap::CommandFactory;
use clap_complete::Shell;

use super::app::Cli;
use crate::error;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub shell: Shell,
}

pub fn exec(a: Args) -> i32 {
    let mut cmd = Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "runbook", &mut std::io::stdout());
    error::SUCCESS
}
