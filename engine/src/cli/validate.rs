//! `runbook validate`: checks runbook.yaml and playbooks in every environment, with lints.

use std::path::{Path, PathBuf};

use super::common::{Global, count};
use crate::compile::{self, Options};
use crate::error;
use crate::playbook::{self, WORKSPACE_FILE, Workspace};
use crate::source::Diagnostic;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Playbook files or directories (default: runbook.yaml and every playbook of the workspace).
    pub paths: Vec<PathBuf>,
    /// Treat warnings as errors.
    #[arg(long)]
    pub strict: bool,
    /// Check only these environments (default: all of them).
    #[arg(short, long = "env", value_name = "ENV")]
    pub envs: Vec<String>,
}

pub fn exec(g: &Global, a: Args) -> i32 {
    let ws = match g.workspace() {
        Ok(ws) => ws,
        Err(d) => {
            g.print(&d);
            eprintln!("error: {} is invalid", WORKSPACE_FILE);
            return error::INVALID;
        }
    };
    let files = match files(&ws, &a.paths) {
        Ok(f) => f,
        Err(d) => {
            g.print(&[d]);
            return error::INVALID;
        }
    };
    let envs = match select_envs(&ws, &a.envs) {
        Ok(e) => e,
        Err(d) => {
            g.print(&[d]);
            return error::INVALID;
        }
    };
    let (mut errors, mut warnings) = (0, 0);
    let mut checked = 0;
    if ws.config_source.is_some() && a.paths.is_empty() {
        checked += 1;
        errors += check_schedules(g, &ws);
        let approvals = crate::approve::ApprovalPolicy::validate(&ws);
        g.print(&approvals);
        errors += approvals.len();
    }
    for file in &files {
        checked += 1;
        let diags = check_file(&ws, &envs, file);
        errors += diags.iter().filter(|d| d.is_error()).count();
        warnings += diags.iter().filter(|d| !d.is_error()).count();
        g.print(&diags);
    }
    let failed = errors > 0 || (a.strict && warnings > 0);
    let verdict = if failed { "failed" } else { "ok" };
    eprintln!(
        "validate {verdict}: {} checked in {}, {}, {}",
        count(checked, "file"),
        count(envs.len(), "environment"),
        count(errors, "error"),
        count(warnings, "warning")
    );
    if failed { error::INVALID } else { error::SUCCESS }
}

fn select_envs(ws: &Workspace, names: &[String]) -> Result<Vec<compile::EnvInfo>, Diagnostic> {
    if names.is_empty() {
        return Ok(compile::all_envs(ws));
    }
    names.iter().map(|n| compile::select_env(ws, Some(n))).collect()
}

/// The playbook files to check: the arguments (directories expanded) or the workspace's.
fn files(ws: &Workspace, paths: &[PathBuf]) -> Result<Vec<PathBuf>, Diagnostic> {
    if paths.is_empty() {
        return Ok(ws.playbook_files());
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| Diagnostic::error(format!("cannot read {}: {e}", p.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| playbook::is_yaml(p) && p.file_name().and_then(|n| n.to_str()) != Some(WORKSPACE_FILE))
                .collect();
            entries.sort();
            out.extend(entries);
        } else if p.is_file() {
            if p.file_name().and_then(|n| n.to_str()) != Some(WORKSPACE_FILE) {
                out.push(p.clone());
            }
        } else {
            return Err(Diagnostic::error(format!("{}: no such file or directory", p.display())));
        }
    }
    Ok(out)
}

/// Every problem of one playbook file, across environments, each reported once.
pub fn check_file(ws: &Workspace, envs: &[compile::EnvInfo], file: &Path) -> Vec<Diagnostic> {
    let lp = match playbook::read_playbook(file) {
        Ok(lp) => lp,
        Err(d) => return d,
    };
    let opts = Options {
        env: None,
        params: &[],
        allow_missing_params: true,
    };
    // Each problem once, with the environments it holds in.
    let mut found: Vec<(Diagnostic, Vec<String>)> = Vec::new();
    for env in envs {
        let diags = match compile::compile_for(&lp, env.clone(), &opts) {
            Ok(c) => {
                let mut d = compile::check_subplaybooks(ws, &c);
                d.extend(c.warnings);
                d
            }
            Err(d) => d,
        };
        for d in diags {
            match found
                .iter_mut()
                .find(|(f, _)| f.message == d.message && f.span == d.span)
            {
                Some((_, in_envs)) => in_envs.push(env.name.clone()),
                None => found.push((d, vec![env.name.clone()])),
            }
        }
    }
    found
        .into_iter()
        .map(|(mut d, in_envs)| {
            // Only worth saying when the problem is not everywhere.
            if in_envs.len() < envs.len() {
                let plural = if in_envs.len() == 1 { "" } else { "s" };
                d.message = format!("{} (environment{plural} {})", d.message, in_envs.join(", "));
            }
            d
        })
        .collect()
}

/// Schedules: cron, zone, environment, playbook, params and pre-approved steps, each
/// problem at its place in runbook.yaml.
fn check_schedules(g: &Global, ws: &Workspace) -> usize {
    let (_, diags) = crate::schedule::load(ws);
    g.print(&diags);
    diags.len()
}
