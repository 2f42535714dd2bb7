//! `runbook runs`: recent runs with playbook, environment, user, status, start and duration.

use super::common::{Format, Global};
use crate::error;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many runs (newest first).
    #[arg(short = 'n', long, default_value = "20")]
    pub limit: usize,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

pub fn exec(g: &Global, a: Args) -> i32 {
    let ws = match g.ws() {
        Ok(ws) => ws,
        Err(code) => return code,
    };
    let runs: Vec<_> = g.state(&ws).list().into_iter().take(a.limit).collect();
    match a.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&runs).unwrap_or_default()),
        Format::Text => {
            if runs.is_empty() {
                eprintln!("no runs yet in {}", crate::source::display_path(&g.state(&ws).root));
                return error::SUCCESS;
            }
            println!(
                "{:<24}  {:<20}  {:<8}  {:<10}  {:<16}  {:<20}  {:>8}  TRIGGER",
                "RUN", "PLAYBOOK", "ENV", "USER", "STATUS", "STARTED", "TIME"
            );
            for r in runs {
                let time = r
                    .duration_ms
                    .map(|d| format!("{:.1}s", d as f64 / 1000.0))
                    .unwrap_or_else(|| "-".into());
                let started = r.started.get(..19).unwrap_or(&r.started).replace('T', " ");
                let trigger = r.trigger.as_deref().unwrap_or("-");
                println!(
                    "{:<24}  {:<20}  {:<8}  {:<10}  {:<16}  {:<20}  {:>8}  {trigger}",
                    r.run, r.playbook, r.env, r.user, r.status, started, time
                );
            }
        }
    }
    error::SUCCESS
}
