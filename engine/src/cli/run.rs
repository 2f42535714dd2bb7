//! `runbook run`: compile the plan, then run it with gates, rollback and live progress.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use super::common::{EnvParams, Global};
use super::session::{self, Output, RunFlags, Session};
use crate::approve::Gatekeeper;
use crate::error;
use crate::exec::{Engine, Reach, RunOptions};
use crate::journal::JournalSink;
use crate::lock::Holder;
use crate::plan::{self, Plan};
use crate::yaml::suggest_name;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The playbook's name.
    #[arg(required_unless_present_any = ["file", "plan"])]
    pub name: Option<String>,
    /// Run exactly this saved plan (`runbook plan ... --out FILE`, approved with
    /// `runbook approve FILE --as NAME`). Refused when the playbook, params or environment
    /// now compile to a different plan.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["name", "file", "env", "params"])]
    pub plan: Option<PathBuf>,
    /// Run a playbook file directly.
    #[arg(long, value_name = "PATH", conflicts_with = "name")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub with: EnvParams,
    /// Show the plan and run nothing (the same as `runbook plan`).
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub flags: RunFlags,
    /// What started this run when no person did, `schedule:NAME@FIRING` (set by `runbook
    /// schedule run-due`): journaled in `run_started` and shown by `runbook runs`. An
    /// approval gate of such a run fails closed: nobody is there to ask for one.
    #[arg(long, hide = true, value_name = "TRIGGER", value_parser = parse_trigger, conflicts_with = "plan")]
    pub trigger: Option<String>,
    /// This run is a firing of the schedule SCHEDULE (what an exported CronJob runs): its
    /// playbook, environment, params and approvals must be the schedule's, the firing is
    /// journaled as its trigger, and on a day the schedule does not fire (a CronJob cannot
    /// say `MON#1`, `L` or `W`) nothing runs and it exits 0.
    #[arg(long, value_name = "SCHEDULE", conflicts_with_all = ["plan", "file", "trigger"])]
    pub scheduled: Option<String>,
}

fn parse_trigger(s: &str) -> Result<String, String> {
    crate::schedule::Trigger::parse(s).map(|t| t.to_string())
}

pub fn exec(g: &Global, a: Args) -> i32 {
    let ws = match g.ws() {
        Ok(ws) => ws,
        Err(code) => return code,
    };
    let trigger = match &a.scheduled {
        None => a.trigger.clone(),
        Some(name) => match scheduled_trigger(g, &ws, name, &a) {
            Ok(Some(t)) => Some(t),
            Ok(None) => return error::SUCCESS,
            Err(code) => return code,
        },
    };
    let (plan, file_sha256, saved) = match &a.plan {
        Some(path) => match saved_plan(g, path) {
            Ok((p, sha)) => (p, sha, true),
            Err(code) => return code,
        },
        None => match super::plan::build(
            g,
            a.name.as_deref(),
            a.file.as_deref(),
            a.with.env.as_deref(),
            &a.with.params,
        ) {
            Ok((p, sha)) => (p, sha, false),
            Err(code) => return code,
        },
    };
    if a.dry_run {
        print!("{}", plan::render_text(&plan));
        eprintln!("dry run: nothing was run");
        return error::SUCCESS;
    }
    let reach = crate::exec::reach(&ws.root, &plan, "");
    if let Err(msg) = check_names(&reach, &a.flags) {
        eprintln!("error: {msg}");
        return error::INVALID;
    }
    // A plan this build cannot run whole is refused before anything runs.
    if let Some(msg) = reach.refusal() {
        eprintln!("error: {msg}");
        return error::INVALID;
    }
    let secrets = match session::read_secrets(&plan, &ws.root) {
        Ok(s) => s,
        Err(msg) => {
            eprintln!("error: {msg}");
            return error::INVALID;
        }
    };
    let mut run = session::run_info(&plan);
    run.file_sha256 = file_sha256;
    run.trigger = trigger.clone();
    let policy = Arc::new(crate::approve::ApprovalPolicy::load(&ws));
    if saved && let Err(missing) = crate::approve::check_saved(&plan, &run.user, &policy, chrono::Utc::now()) {
        eprintln!("error: the saved plan lacks approvals; nothing was run:\n{missing}");
        return error::REFUSED;
    }

    // Signals are ours from here: a SIGTERM while waiting for the lock ends the wait, and
    // one during the run stops it cleanly.
    let session = match Session::start(a.flags.grace) {
        Ok(s) => s,
        Err(code) => return code,
    };
    // One run per lock key: taken before anything runs, held until the process ends.
    let state = g.state(&ws);
    let holder = Holder {
        run: run.id.clone(),
        user: run.user.clone(),
        host: run.host.clone(),
        pid: std::process::id(),
        since: run.started_at.clone(),
    };
    let _lock = match session.take_lock(&ws, &plan, &state, &holder, a.flags.lock_wait) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let journal = match JournalSink::create(state.clone(), &run.id)
        .and_then(|j| session::save_plan(&state, &run.id, &plan, &ws.root).map(|_| j))
    {
        Ok(j) => j,
        Err(e) => {
            eprintln!(
                "error: cannot create the journal in {}: {e}; nothing was run",
                state.root.display()
            );
            return error::INVALID;
        }
    };

    let (progress, json) = session::display(a.flags.output == Output::Json);
    let prompter = session::prompter(a.flags.non_interactive, &progress);
    let webhooks = session::contact_webhooks(&plan);
    let values: Vec<&str> = secrets.values().chain(webhooks.values()).map(String::as_str).collect();
    let emitter = session::emitter(journal, progress, json, &values);
    let gates = Gatekeeper {
        approved: a.flags.approve.iter().cloned().collect(),
        prompter,
        user: run.user.clone(),
        saved: saved.then(|| Arc::new(plan.clone())),
        // Nobody waits on a scheduled run to approve it: its approval gates fail closed.
        live: trigger.is_none().then(|| (state.clone(), run.id.clone())),
        policy,
    };
    let opts = RunOptions {
        workdir: ws.root.clone(),
        inputs: a.flags.inputs.iter().cloned().collect::<HashMap<_, _>>(),
        signals: session.signals.clone(),
        webhooks: Arc::new(webhooks),
    };
    let engine = Engine::new(plan, &run, secrets, gates, opts, emitter.clone());
    session.drive(engine, &emitter, &run.id)
}

/// The trigger of a `--scheduled` run: the schedule's firing it stands for, once the run is
/// checked to be the one the schedule starts. `None`: the schedule does not fire now.
fn scheduled_trigger(g: &Global, ws: &crate::playbook::Workspace, name: &str, a: &Args) -> Result<Option<String>, i32> {
    let (schedules, diags) = crate::schedule::load(ws);
    let Some(s) = schedules.iter().find(|s| s.name == name) else {
        g.print(&diags);
        let names: Vec<&str> = schedules.iter().map(|s| s.name.as_str()).collect();
        eprintln!(
            "error: --scheduled {name}: runbook.yaml has no valid schedule `{name}` ({}); nothing was run",
            suggest_name(name, &names, "schedule")
        );
        return Err(error::INVALID);
    };
    let env = a
        .with
        .env
        .clone()
        .or_else(|| ws.config.default_env.as_ref().map(|e| e.value.clone()));
    let sorted = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    let given_params: Vec<String> = a.with.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let own_params: Vec<String> = s.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut differs = Vec::new();
    if a.name.as_deref() != Some(s.playbook.as_str()) {
        differs.push(format!("it runs playbook `{}`", s.playbook));
    }
    if env.as_deref() != Some(s.env.as_str()) {
        differs.push(format!("in environment `{}`", s.env));
    }
    if sorted(&given_params) != sorted(&own_params) {
        differs.push(format!("with params [{}]", own_params.join(", ")));
    }
    if sorted(&a.flags.approve) != sorted(&s.approve) {
        differs.push(format!("approving [{}]", s.approve.join(", ")));
    }
    if !a.flags.non_interactive {
        differs.push("unattended (--non-interactive)".into());
    }
    if !differs.is_empty() {
        eprintln!(
            "error: --scheduled {name}: this is not the run the schedule starts: {}; nothing was run",
            differs.join(", ")
        );
        eprintln!("  the schedule's run: {}", s.run_command().join(" "));
        return Err(error::INVALID);
    }
    let now = chrono::Utc::now();
    match crate::schedule::firing_for(s, now) {
        Some(firing) => Ok(Some(
            crate::schedule::Trigger {
                schedule: s.name.clone(),
                firing,
            }
            .to_string(),
        )),
        None => {
            let next = s
                .zone
                .next_after(now)
                .map(|t| s.zone.local(t).to_rfc3339())
                .unwrap_or_else(|| "none".into());
            eprintln!(
                "schedule `{name}` (`{}` {}) does not fire now: its CronJob runs on more days than it does; next firing {next}; nothing was run",
                s.cron, s.timezone
            );
            Ok(None)
        }
    }
}

/// `--approve` and `--input` must name steps of the plan (sub-playbooks' steps as
/// `caller/step`): a typo must not silently leave a gate closed.
fn check_names(reach: &Reach, a: &RunFlags) -> Result<(), String> {
    let ids: Vec<&str> = reach.labels.iter().map(String::as_str).collect();
    let known: HashSet<&str> = ids.iter().copied().collect();
    for (flag, name) in a
        .approve
        .iter()
        .map(|s| ("--approve", s))
        .chain(a.inputs.iter().map(|(k, _)| ("--input", k)))
    {
        if !known.contains(name.as_str()) {
            return Err(format!(
                "{flag} {name}: no step `{name}` in this plan ({})",
                suggest_name(name, &ids, "step")
            ));
        }
    }
    Ok(())
}

/// The saved plan, recompiled from today's playbook with its params and environment: the
/// hashes must agree, so what runs is exactly what was approved.
fn saved_plan(g: &Global, path: &std::path::Path) -> Result<(Plan, String), i32> {
    let saved = session::read_plan(path).map_err(|e| {
        eprintln!("error: {e}");
        error::INVALID
    })?;
    let params = session::as_given(&saved.params);
    let env = saved.env.name.clone();
    // Name what changed before comparing hashes: "the plan changed" alone sends people
    // looking.
    if let Ok(ws) = g.workspace() {
        let changed = crate::compile::changed_files(&ws.root, &saved.files);
        if !changed.is_empty() {
            eprintln!(
                "error: {} changed since {} was made and approved; nothing was run:",
                if changed.len() == 1 {
                    "a file it reads"
                } else {
                    "files it reads"
                },
                path.display()
            );
            for c in &changed {
                eprintln!("  {c}");
            }
            eprintln!(
                "make and approve a new plan (`runbook plan {} --out FILE`)",
                saved.playbook.name
            );
            return Err(error::INVALID);
        }
    }
    if let Err(why) = super::plan::sealable(&saved) {
        eprintln!("error: {}: {why}; nothing was run", path.display());
        return Err(error::INVALID);
    }
    let (mut fresh, sha) = super::plan::build(g, Some(&saved.playbook.name), None, Some(&env), &params)?;
    if fresh.hash != saved.hash {
        eprintln!(
            "error: the playbook, its params or the environment now compile to a different plan ({}) than {} ({}); nothing was run. Make and approve a new plan.",
            fresh.hash,
            path.display(),
            saved.hash
        );
        return Err(error::INVALID);
    }
    fresh.approvals = saved.approvals;
    Ok((fresh, sha))
}
