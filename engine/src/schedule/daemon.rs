//! `runbook scheduler`: the foreground daemon. It sleeps until the next firing of any
//! schedule (no polling), claims what is due exactly as `run-due` does, and runs each firing
//! as a child `runbook` process, so a crashing run never takes it down. SIGHUP reloads
//! `runbook.yaml` (an invalid file keeps the old schedules); SIGTERM or SIGINT stops
//! scheduling, passes the signal on to the running drills, waits for them, and ends.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;
use tokio::task::JoinSet;

use super::check::Schedule;
use super::launch::{LineSink, Outcome, round};
use crate::journal::StateDir;
use crate::wake::{Signal, Signals};

/// The longest single sleep: the sleep runs on the monotonic clock, which stands still while
/// the machine is suspended and ignores wall-clock corrections, so the daemon looks at the
/// wall clock again at least this often.
const LONGEST_SLEEP: Duration = Duration::from_secs(3600);

/// Where the daemon's lines go, one event each.
pub trait Log: Send + Sync {
    fn event(&self, event: serde_json::Value);
}

/// Plain lines (`TIME scheduler: …`) or JSON lines, on stderr.
pub struct StderrLog {
    pub json: bool,
}

impl Log for StderrLog {
    fn event(&self, mut event: serde_json::Value) {
        let ts = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
        if self.json {
            if let Some(m) = event.as_object_mut() {
                m.insert("ts".into(), ts.into());
            }
            eprintln!("{event}");
            return;
        }
        let text = |k: &str| event[k].as_str().map(String::from);
        let mut line = format!("{ts} scheduler:");
        if let Some(s) = text("schedule") {
            line.push_str(&format!(" [{s}]"));
        }
        line.push(' ');
        line.push_str(&text("message").unwrap_or_default());
        eprintln!("{line}");
    }
}

/// How the schedules are (re)loaded: from the workspace, as `runbook.yaml` says now.
pub type Loader = Box<dyn Fn() -> Result<Vec<Schedule>, String> + Send + Sync>;

/// What the daemon runs with.
pub struct Daemon {
    pub exe: PathBuf,
    pub workspace: PathBuf,
    pub state: StateDir,
    pub load: Loader,
    pub log: Arc<dyn Log>,
}

/// The next wake-up: the earliest next firing of any schedule after `now`, and which ones.
pub fn next_wake(schedules: &[Schedule], now: DateTime<Utc>) -> Option<(DateTime<Utc>, Vec<String>)> {
    let nexts: Vec<(DateTime<Utc>, &str)> = schedules
        .iter()
        .filter_map(|s| s.zone.next_after(now).map(|t| (t, s.name.as_str())))
        .collect();
    let first = nexts.iter().map(|(t, _)| *t).min()?;
    let names = nexts
        .iter()
        .filter(|(t, _)| *t == first)
        .map(|(_, n)| n.to_string())
        .collect();
    Some((first, names))
}

impl Daemon {
    /// Runs until SIGTERM or SIGINT, then waits for the drills it started. `schedules` are
    /// the ones loaded at start.
    pub async fn run(self, mut schedules: Vec<Schedule>) -> std::io::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut hup = signal(SignalKind::hangup())?;
        // What the drills' `Job`s watch: a stop of the daemon is passed on to each run once.
        let signals = Signals::new(Duration::from_secs(10));
        let mut running: JoinSet<(String, DateTime<Utc>, Outcome)> = JoinSet::new();
        self.log.event(json!({
            "event": "started",
            "schedules": schedules.len(),
            "message": format!("{} schedule(s); state in {}", schedules.len(), crate::source::display_path(&self.state.root)),
        }));
        // Firings that came within their catchup while the daemon was not running are due
        // now, as for `run-due`.
        self.start_due(&schedules, &signals, &mut running);
        let stop = loop {
            let now = Utc::now();
            let wake = next_wake(&schedules, now);
            let pause = wake
                .as_ref()
                .map(|(t, _)| (*t - now).to_std().unwrap_or_default())
                .unwrap_or(LONGEST_SLEEP)
                .min(LONGEST_SLEEP);
            if let Some((t, names)) = &wake {
                self.log.event(json!({
                    "event": "sleeping",
                    "until": t.to_rfc3339_opts(SecondsFormat::Secs, true),
                    "schedules": names,
                    "message": format!("next firing {} ({})", t.to_rfc3339_opts(SecondsFormat::Secs, true), names.join(", ")),
                }));
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {
                    // A firing is due only once its time has come on the wall clock too.
                    if wake.as_ref().is_some_and(|(t, _)| Utc::now() >= *t) {
                        self.start_due(&schedules, &signals, &mut running);
                    }
                }
                Some(done) = running.join_next() => self.ended(done),
                _ = hup.recv() => {
                    match (self.load)() {
                        Ok(fresh) => {
                            self.log.event(json!({
                                "event": "reloaded",
                                "schedules": fresh.len(),
                                "message": format!("reloaded runbook.yaml: {} schedule(s)", fresh.len()),
                            }));
                            schedules = fresh;
                            self.start_due(&schedules, &signals, &mut running);
                        }
                        Err(why) => self.log.event(json!({
                            "event": "reload_failed",
                            "message": format!("runbook.yaml was not reloaded, the {} schedule(s) loaded before go on: {why}", schedules.len()),
                        })),
                    }
                }
                _ = term.recv() => break Signal::Term,
                _ = int.recv() => break Signal::Int,
            }
        };
        self.log.event(json!({
            "event": "stopping",
            "signal": stop.name(),
            "running": running.len(),
            "message": format!("{}: no new firings; waiting for {} running drill(s)", stop.name(), running.len()),
        }));
        signals.deliver(stop);
        loop {
            tokio::select! {
                done = running.join_next() => match done {
                    Some(done) => self.ended(done),
                    None => break,
                },
                // A second signal is passed on too: the runs kill their steps at once.
                _ = term.recv() => signals.deliver(Signal::Term),
                _ = int.recv() => signals.deliver(Signal::Int),
            }
        }
        self.log.event(json!({ "event": "stopped", "message": "stopped" }));
        Ok(())
    }

    /// Claims the due firings now and starts their runs.
    fn start_due(
        &self,
        schedules: &[Schedule],
        signals: &Arc<Signals>,
        running: &mut JoinSet<(String, DateTime<Utc>, Outcome)>,
    ) {
        let found = round(&self.state, schedules, Utc::now(), &self.exe, &self.workspace);
        for (name, e) in &found.errors {
            self.log.event(json!({
                "event": "error",
                "schedule": name,
                "message": format!("cannot write its firing records: {e}; nothing was started"),
            }));
        }
        for (name, t, earlier) in &found.missed {
            self.log.event(json!({
                "event": "firing_missed",
                "schedule": name,
                "firing": t.to_rfc3339_opts(SecondsFormat::Secs, true),
                "message": format!("firing {} missed{}", t.to_rfc3339_opts(SecondsFormat::Secs, true), if *earlier { " (and earlier ones)" } else { "" }),
            }));
        }
        for job in found.jobs {
            let (name, firing) = (job.schedule.name.clone(), job.firing);
            self.log.event(json!({
                "event": "firing_started",
                "schedule": name,
                "firing": firing.to_rfc3339_opts(SecondsFormat::Secs, true),
                "message": format!("firing {} started: {} in {}", firing.to_rfc3339_opts(SecondsFormat::Secs, true), job.schedule.playbook, job.schedule.env),
            }));
            let log = self.log.clone();
            let n = name.clone();
            let on_line: LineSink = Arc::new(move |line: &str| {
                if !line.trim().is_empty() {
                    log.event(json!({ "event": "run_output", "schedule": n, "message": line }));
                }
            });
            let signals = signals.clone();
            running.spawn(async move { (name, firing, job.run(signals, on_line).await) });
        }
    }

    fn ended(&self, done: Result<(String, DateTime<Utc>, Outcome), tokio::task::JoinError>) {
        let Ok((name, firing, o)) = done else {
            self.log
                .event(json!({ "event": "error", "message": "a firing's task failed" }));
            return;
        };
        let run = o.run.as_deref().map(|r| format!(" (run {r})")).unwrap_or_default();
        let why = o.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
        self.log.event(json!({
            "event": "firing_ended",
            "schedule": name,
            "firing": firing.to_rfc3339_opts(SecondsFormat::Secs, true),
            "status": o.status.name(),
            "run": o.run,
            "exit_code": o.exit_code,
            "reason": o.reason,
            "message": format!("firing {} {}{run}{why}", firing.to_rfc3339_opts(SecondsFormat::Secs, true), o.status.name()),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(name: &str, cron: &str, tz: &str) -> Schedule {
        Schedule::for_test(name, cron, tz)
    }

    #[test]
    fn it_wakes_for_the_earliest_next_firing_of_any_schedule() {
        let now: DateTime<Utc> = "2027-03-27T08:30:00Z".parse().expect("time");
        let s = [
            schedule("backup", "0 2 * * *", "UTC"),
            schedule("health", "0 9 * * *", "UTC"),
            schedule("health-too", "0 9 * * *", "UTC"),
            schedule("berlin", "0 10 * * *", "Europe/Berlin"),
        ];
        let (t, names) = next_wake(&s, now).expect("a wake-up");
        assert_eq!(t.to_rfc3339(), "2027-03-27T09:00:00+00:00");
        // 10:00 in Berlin (UTC+1 until the 28th) is 09:00 UTC as well.
        assert_eq!(names, vec!["health", "health-too", "berlin"]);
        // After the change to summer time it is 08:00 UTC, an hour earlier.
        let later: DateTime<Utc> = "2027-03-29T06:00:00Z".parse().expect("time");
        let (t, names) = next_wake(&s, later).expect("a wake-up");
        assert_eq!(t.to_rfc3339(), "2027-03-29T08:00:00+00:00");
        assert_eq!(names, vec!["berlin"]);
        assert_eq!(next_wake(&[], now), None);
    }
}
