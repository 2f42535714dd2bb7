//! `runbook schedule list | run-due | export`: the schedules of runbook.yaml, their next
//! firings and last runs; the call that system cron or a systemd timer makes every minute to
//! start the firings that are due; and the schedules as Kubernetes CronJobs.

mod export;

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use clap::{Subcommand, ValueEnum};
use serde::Serialize;

use export::ExportArgs;

use super::common::{Global, count};
use super::session::Session;
use crate::error;
use crate::journal::{RunSummary, StateDir};
use crate::schedule::{self, FiringRecord, FiringStatus, Firings, Schedule, Trigger};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Each schedule: playbook, environment, cron and zone, its next firings (in its zone
    /// and UTC), its last run, and firings that were missed.
    List(ListArgs),
    /// Start the firings that are due now (call it every minute from system cron or a
    /// systemd timer); waits for the runs it starts and reports how they ended.
    RunDue(RunDueArgs),
    /// Write the schedules as Kubernetes objects (`kubectl apply -f`): a CronJob per
    /// schedule, a ServiceAccount with a Role for Lease locks, a volume claim for the state
    /// dir, and the workspace as a ConfigMap.
    Export(ExportArgs),
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Count the next firings from this time (RFC 3339) instead of now.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub from: Option<DateTime<Utc>>,
    /// How many next firings to show.
    #[arg(long = "next", value_name = "N", default_value = "3")]
    pub next: usize,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct RunDueArgs {
    /// Decide as if it were this time (RFC 3339) instead of now.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<DateTime<Utc>>,
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("`{s}` is not an RFC 3339 time ({e}), e.g. 2027-03-28T03:30:00+02:00"))
}

pub fn exec(g: &Global, a: Args) -> i32 {
    match a.command {
        Command::List(a) => list(g, a),
        Command::RunDue(a) => run_due(g, a),
        Command::Export(a) => export::exec(g, a),
    }
}

/// One schedule as `schedule list --format json` prints it (a stable format: fields are
/// only ever added).
#[derive(Debug, Serialize)]
struct Listed {
    name: String,
    playbook: String,
    env: String,
    cron: String,
    timezone: String,
    overlap: crate::playbook::Overlap,
    catchup: String,
    /// The next firings, in the schedule's zone.
    next: Vec<String>,
    /// The same, in UTC.
    next_utc: Vec<String>,
    /// The newest run the schedule started, from the runs index.
    last_run: Option<LastRun>,
    /// The newest firing record: what happened to the latest firing handled.
    last_firing: Option<FiringRecord>,
    /// Firings that did not run, since the last one that did (in the schedule's zone).
    missed: Vec<String>,
}

#[derive(Debug, Serialize)]
struct LastRun {
    run: String,
    status: String,
    started: String,
    /// The firing that started it (UTC).
    firing: String,
}

/// Every schedule of the workspace, or exit 2 when one is invalid (its problems printed,
/// then what did not happen because of them).
pub(super) fn all_valid(g: &Global, ws: &crate::playbook::Workspace, consequence: &str) -> Result<Vec<Schedule>, i32> {
    let (schedules, diags) = schedule::load(ws);
    if diags.is_empty() {
        return Ok(schedules);
    }
    g.print(&diags);
    eprintln!(
        "error: runbook.yaml has invalid schedules: {}; {consequence}",
        count(diags.len(), "error")
    );
    Err(error::INVALID)
}

/// This program, to start runs as child processes with.
pub(super) fn this_program() -> Result<std::path::PathBuf, i32> {
    std::env::current_exe().map_err(|e| {
        eprintln!("error: cannot find this program to start runs with: {e}");
        error::INVALID
    })
}

fn rfc_local(s: &Schedule, t: DateTime<Utc>) -> String {
    s.zone.local(t).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn list(g: &Global, a: ListArgs) -> i32 {
    let ws = match g.ws() {
        Ok(ws) => ws,
        Err(code) => return code,
    };
    let schedules = match all_valid(g, &ws, "nothing is listed") {
        Ok(s) => s,
        Err(code) => return code,
    };
    let from = a.from.unwrap_or_else(Utc::now);
    let state = g.state(&ws);
    let runs = state.list();
    let listed: Vec<Listed> = schedules
        .iter()
        .map(|s| listed(s, &state, &runs, from, a.next))
        .collect();
    match a.format {
        Format::Json => {
            let text = serde_json::to_string_pretty(&listed).unwrap_or_else(|e| unreachable!("plain data: {e}"));
            println!("{text}");
        }
        Format::Text => {
            if listed.is_empty() {
                eprintln!("no schedules in runbook.yaml");
            }
            print!("{}", render_text(&listed));
        }
    }
    error::SUCCESS
}

fn listed(s: &Schedule, state: &StateDir, runs: &[RunSummary], from: DateTime<Utc>, n: usize) -> Listed {
    let next = s.zone.next_n(from, n);
    let records = Firings::new(state, &s.name).read();
    let latest = schedule::latest_by_firing(&records);
    // Missed since the last firing that ran: recorded, and those run-due would record now.
    let ran = latest
        .iter()
        .filter(|r| r.status != FiringStatus::Missed && r.status != FiringStatus::Skipped)
        .filter_map(|r| r.firing_time())
        .max();
    let mut missed: Vec<DateTime<Utc>> = latest
        .iter()
        .filter(|r| r.status == FiringStatus::Missed)
        .filter_map(|r| r.firing_time())
        .filter(|t| ran.is_none_or(|ran| *t > ran) && *t <= from)
        .collect();
    // A schedule's history begins with its first record: before it, nothing was missed.
    if let Some(handled) = schedule::last_handled(&records) {
        missed.extend(schedule::decide(&s.zone, s.catchup, Some(handled), from).missed);
    }
    missed.sort();
    missed.dedup();
    let last_run = runs
        .iter()
        .find(|r| r.trigger.as_deref().is_some_and(|t| Trigger::of_schedule(t, &s.name)))
        .map(|r| LastRun {
            run: r.run.clone(),
            status: r.status.clone(),
            started: r.started.clone(),
            firing: r
                .trigger
                .as_deref()
                .and_then(|t| Trigger::parse(t).ok())
                .map(|t| schedule::utc(t.firing))
                .unwrap_or_default(),
        });
    Listed {
        name: s.name.clone(),
        playbook: s.playbook.clone(),
        env: s.env.clone(),
        cron: s.cron.clone(),
        timezone: s.timezone.clone(),
        overlap: s.overlap,
        catchup: crate::playbook::Duration(s.catchup).to_string(),
        next: next.iter().map(|t| rfc_local(s, *t)).collect(),
        next_utc: next.iter().map(|t| schedule::utc(*t)).collect(),
        last_run,
        last_firing: records.last().cloned(),
        missed: missed.iter().map(|t| rfc_local(s, *t)).collect(),
    }
}

fn render_text(listed: &[Listed]) -> String {
    let mut out = String::new();
    for (i, l) in listed.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!(
            "{}  playbook {} · env {} · cron \"{}\" {} · overlap {} · catchup {}\n",
            l.name,
            l.playbook,
            l.env,
            l.cron,
            l.timezone,
            serde_json::to_value(l.overlap)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            l.catchup
        ));
        for (j, (local, utc)) in l.next.iter().zip(&l.next_utc).enumerate() {
            let label = if j == 0 { "next" } else { "" };
            out.push_str(&format!("  {label:<8}{local}  ({utc})\n"));
        }
        match &l.last_run {
            Some(r) => out.push_str(&format!(
                "  {:<8}{} {} (firing {}, started {})\n",
                "last", r.run, r.status, r.firing, r.started
            )),
            None => out.push_str(&format!("  {:<8}never run\n", "last")),
        }
        if let Some(f) = &l.last_firing
            && l.last_run.as_ref().is_none_or(|r| r.firing != f.firing)
        {
            let why = f.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
            out.push_str(&format!("  {:<8}{} {}{why}\n", "firing", f.firing, f.status.name()));
        }
        if !l.missed.is_empty() {
            out.push_str(&format!("  {:<8}{}\n", "missed", l.missed.join(", ")));
        }
    }
    out
}

fn run_due(g: &Global, a: RunDueArgs) -> i32 {
    let ws = match g.ws() {
        Ok(ws) => ws,
        Err(code) => return code,
    };
    let (schedules, diags) = schedule::load(&ws);
    // A broken schedule must not keep the others from running; it is reported, and the
    // call fails (exit 2) so cron's mail says so.
    g.print(&diags);
    let now = a.now.unwrap_or_else(Utc::now);
    let exe = match this_program() {
        Ok(e) => e,
        Err(code) => return code,
    };
    let session = match Session::start(None) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let state = g.state(&ws);
    let mut failed = !diags.is_empty();
    let found = schedule::round(&state, &schedules, now, &exe, &ws.root);
    for (name, e) in &found.errors {
        eprintln!(
            "error: schedule `{name}`: cannot write its firing records in {}: {e}; nothing was started",
            crate::source::display_path(&state.root)
        );
        failed = true;
    }
    let local = |name: &str, t: DateTime<Utc>| {
        schedules
            .iter()
            .find(|s| s.name == name)
            .map(|s| rfc_local(s, t))
            .unwrap_or_else(|| t.to_rfc3339())
    };
    for (name, t, earlier) in &found.missed {
        let earlier = if *earlier { " (and earlier ones)" } else { "" };
        println!("{name}: firing {} missed{earlier}", local(name, *t));
    }
    let jobs = found.jobs;
    for job in &jobs {
        println!(
            "{}: firing {} started",
            job.schedule.name,
            rfc_local(&job.schedule, job.firing)
        );
    }
    let outcomes = session.rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for job in jobs {
            let name = job.schedule.name.clone();
            let local = rfc_local(&job.schedule, job.firing);
            let prefix = name.clone();
            let on_line: schedule::LineSink = Arc::new(move |line: &str| {
                if line.is_empty() {
                    eprintln!("[{prefix}]");
                } else {
                    eprintln!("[{prefix}] {line}");
                }
            });
            let signals = session.signals.clone();
            set.spawn(async move { (name, local, job.run(signals, on_line).await) });
        }
        let mut out = Vec::new();
        while let Some(done) = set.join_next().await {
            if let Ok(o) = done {
                out.push(o);
            }
        }
        out
    });
    for (name, local, o) in &outcomes {
        let run = o.run.as_deref().map(|r| format!(" (run {r})")).unwrap_or_default();
        let why = o.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
        println!("{name}: firing {local} {}{run}{why}", o.status.name());
        if matches!(
            o.status,
            FiringStatus::Failed | FiringStatus::Refused | FiringStatus::Terminated
        ) {
            failed = true;
        }
    }
    // Stopped by a signal itself, it exits as a run does (its runs were stopped too).
    let signalled = session.signals.received().is_some().then(|| session.signal_code());
    session.rt.shutdown_timeout(std::time::Duration::from_secs(1));
    if let Some(code) = signalled {
        return code;
    }
    if !diags.is_empty() {
        error::INVALID
    } else if failed {
        error::STEP_FAILED
    } else {
        error::SUCCESS
    }
}
