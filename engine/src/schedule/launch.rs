//! A due firing, from its claim to its outcome: the claim (missed firings and `started`
//! written under the schedule's lock, before anything runs), the overlap policy, the run as
//! a child process of this same binary (`runbook run … --non-interactive --trigger …`),
//! and the record of how it ended.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::check::Schedule;
use super::due::{Decision, decide};
use super::firings::{FiringRecord, FiringStatus, Firings, last_handled, latest_by_firing};
use super::trigger::{Trigger, utc};
use crate::journal::StateDir;
use crate::playbook::Overlap;
use crate::wake::{Signal, Signals, Woke};

/// The run of an earlier firing of the same schedule that may still go on.
#[derive(Debug, Clone, PartialEq)]
pub struct Previous {
    pub firing: DateTime<Utc>,
    pub pid: u32,
}

/// What a call decided for one schedule, with the records already on disk.
#[derive(Debug, Clone)]
pub struct Claim {
    pub decision: Decision,
    /// The newest firing whose run was started and has no end recorded.
    pub previous: Option<Previous>,
}

/// Decides for `schedule` at `now` and writes, under its lock, the missed firings and the
/// `started` record of the due one: on disk before its run starts, so no other call starts
/// it too.
pub fn claim(state: &StateDir, schedule: &Schedule, now: DateTime<Utc>) -> std::io::Result<Claim> {
    let firings = Firings::new(state, &schedule.name);
    let held = firings.lock()?;
    let records = firings.read();
    let decision = decide(&schedule.zone, schedule.catchup, last_handled(&records), now);
    let previous = latest_by_firing(&records)
        .into_iter()
        .rev()
        .find(|r| r.status == FiringStatus::Running)
        .and_then(|r| {
            Some(Previous {
                firing: r.firing_time()?,
                pid: r.pid?,
            })
        });
    let local = |t: DateTime<Utc>| {
        Some(
            schedule
                .zone
                .local(t)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )
    };
    let mut out: Vec<FiringRecord> = decision
        .missed
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut r = FiringRecord::new(*t, FiringStatus::Missed);
            r.local = local(*t);
            r.earlier_missed = i == 0 && decision.earlier_missed;
            r.reason = Some(
                if Some(*t) == decision.missed.last().copied() && decision.due.is_none() {
                    format!("found {} late, past catchup {}", late(now, *t), show(schedule.catchup))
                } else {
                    "a later firing came before it ran".into()
                },
            );
            r
        })
        .collect();
    if let Some(t) = decision.due {
        let mut r = FiringRecord::new(t, FiringStatus::Started);
        r.local = local(t);
        r.pid = Some(std::process::id());
        r.host = Some(crate::identity::host());
        out.push(r);
    }
    firings.append(&held, &out)?;
    Ok(Claim { decision, previous })
}

fn late(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    show((now - t).to_std().unwrap_or_default())
}

fn show(d: Duration) -> String {
    crate::playbook::Duration(Duration::from_secs(d.as_secs())).to_string()
}

/// What one look at the schedules found: the firings to run now, those that were missed,
/// and the schedules whose records could not be written (nothing started for them).
#[derive(Default)]
pub struct Round {
    pub jobs: Vec<Job>,
    /// Schedule, missed firing, and whether older ones were missed before it.
    pub missed: Vec<(String, DateTime<Utc>, bool)>,
    pub errors: Vec<(String, std::io::Error)>,
}

/// Claims, at `now`, the due firing of every schedule (`run-due` once, the scheduler at each
/// wake-up); the runs start when the jobs run.
pub fn round(
    state: &StateDir,
    schedules: &[Schedule],
    now: DateTime<Utc>,
    exe: &std::path::Path,
    workspace: &std::path::Path,
) -> Round {
    let mut out = Round::default();
    for s in schedules {
        let c = match claim(state, s, now) {
            Ok(c) => c,
            Err(e) => {
                out.errors.push((s.name.clone(), e));
                continue;
            }
        };
        for (i, t) in c.decision.missed.iter().enumerate() {
            out.missed
                .push((s.name.clone(), *t, i == 0 && c.decision.earlier_missed));
        }
        if let Some(firing) = c.decision.due {
            out.jobs.push(Job {
                exe: exe.to_path_buf(),
                workspace: workspace.to_path_buf(),
                state: state.clone(),
                schedule: s.clone(),
                firing,
                now,
                previous: c.previous,
            });
        }
    }
    out
}

/// How a firing's run ended, as its record says.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: FiringStatus,
    pub run: Option<String>,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
}

/// One due firing to run.
pub struct Job {
    /// This binary.
    pub exe: PathBuf,
    pub workspace: PathBuf,
    pub state: StateDir,
    pub schedule: Schedule,
    pub firing: DateTime<Utc>,
    /// The time the call decided at (`--now`).
    pub now: DateTime<Utc>,
    pub previous: Option<Previous>,
}

/// Where a run's stderr lines go (the caller prints them).
pub type LineSink = Arc<dyn Fn(&str) + Send + Sync>;

impl Job {
    fn trigger(&self) -> String {
        Trigger {
            schedule: self.schedule.name.clone(),
            firing: self.firing,
        }
        .to_string()
    }

    /// How long until the schedule's next firing, from the time of the decision: the
    /// longest a queued run waits for the lock, and a cancelled run to end.
    fn until_next(&self) -> Duration {
        self.schedule
            .zone
            .next_after(self.firing)
            .and_then(|n| (n - self.now).to_std().ok())
            .unwrap_or_default()
            .max(Duration::from_secs(1))
    }

    /// Runs the firing to its end and records the outcome. A signal to this process is
    /// passed on once to the run, which stops cleanly; its outcome is still recorded.
    pub async fn run(self, signals: Arc<Signals>, on_line: LineSink) -> Outcome {
        let outcome = self.run_child(&signals, &on_line).await;
        let firings = Firings::new(&self.state, &self.schedule.name);
        let mut r = FiringRecord::new(self.firing, outcome.status);
        r.run = outcome.run.clone();
        r.exit_code = outcome.exit_code;
        r.reason = outcome.reason.clone();
        let written = tokio::task::spawn_blocking(move || firings.lock().and_then(|held| firings.append(&held, &[r])))
            .await
            .map_err(std::io::Error::other)
            .and_then(|w| w);
        if let Err(e) = written {
            on_line(&format!(
                "error: cannot record how firing {} ended: {e}",
                utc(self.firing)
            ));
        }
        outcome
    }

    async fn run_child(&self, signals: &Arc<Signals>, on_line: &LineSink) -> Outcome {
        let s = &self.schedule;
        let trigger = self.trigger();
        let mut lock_wait = None;
        match s.overlap {
            Overlap::Skip => {}
            Overlap::Queue => lock_wait = Some(self.until_next()),
            Overlap::CancelPrevious => {
                if let Some(prev) = &self.previous {
                    self.cancel(prev, signals, on_line).await;
                }
            }
        }
        // Stopped before the run started: the claimed firing does not start late.
        if signals.received().is_some() {
            return Outcome {
                status: FiringStatus::Terminated,
                run: None,
                exit_code: None,
                reason: Some("run-due was stopped by a signal before the run started".into()),
            };
        }
        let mut cmd = tokio::process::Command::new(&self.exe);
        cmd.args(["--color", "never", "-C"])
            .arg(&self.workspace)
            .arg("--state-dir")
            .arg(&self.state.root)
            .args(["run", &s.playbook, "-e", &s.env]);
        for (k, v) in &s.params {
            cmd.arg("-p").arg(format!("{k}={v}"));
        }
        for step in &s.approve {
            cmd.args(["--approve", step]);
        }
        cmd.args(["--non-interactive", "--output", "json", "--trigger", &trigger]);
        if let Some(w) = lock_wait {
            cmd.args(["--lock-wait", &format!("{}s", w.as_secs())]);
        }
        // Its own process group: a Ctrl-C at the terminal reaches this process alone, which
        // decides what the run gets.
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                return Outcome {
                    status: FiringStatus::Failed,
                    run: None,
                    exit_code: None,
                    reason: Some(format!("cannot start {}: {e}", self.exe.display())),
                };
            }
        };
        let pid = child.id().unwrap_or(0);
        let firings = Firings::new(&self.state, &s.name);
        let mut running = FiringRecord::new(self.firing, FiringStatus::Running);
        running.pid = Some(pid);
        let recorded = firings.lock().and_then(|held| firings.append(&held, &[running]));
        if let Err(e) = recorded {
            on_line(&format!("warning: cannot record the run's pid: {e}"));
        }
        let stdout = child
            .stdout
            .take()
            .map(|o| tokio::spawn(read_events(BufReader::new(o))));
        let stderr = child.stderr.take().map(|e| {
            let on_line = on_line.clone();
            tokio::spawn(async move {
                let mut last_error = None;
                let mut lines = BufReader::new(e).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(msg) = line.strip_prefix("error: ") {
                        last_error = Some(msg.to_string());
                    }
                    on_line(&line);
                }
                last_error
            })
        });
        // The first signal is passed on (the run stops cleanly), and a second one too (the
        // run then kills its steps at once).
        let sig = || match signals.received() {
            Some(Signal::Int) => nix::sys::signal::Signal::SIGINT,
            _ => nix::sys::signal::Signal::SIGTERM,
        };
        let (mut forwarded, mut again) = (false, false);
        let status = loop {
            tokio::select! {
                status = child.wait() => break status,
                _ = signals.requested(), if !forwarded => {
                    forwarded = true;
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig());
                }
                _ = signals.second(), if forwarded && !again => {
                    again = true;
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig());
                }
            }
        };
        let events = match stdout {
            Some(t) => t.await.unwrap_or_default(),
            None => Events::default(),
        };
        let last_error = match stderr {
            Some(t) => t.await.ok().flatten(),
            None => None,
        };
        let code = status.ok().and_then(|s| s.code());
        let firing_status = code.map(FiringStatus::of_exit).unwrap_or(FiringStatus::Failed);
        let reason = match firing_status {
            FiringStatus::Refused => events.refused.or(last_error),
            FiringStatus::Skipped => last_error.map(|e| match s.overlap {
                Overlap::Queue => format!("still locked at the next firing: {e}"),
                _ => e,
            }),
            FiringStatus::Failed => events.failed.or(last_error).or_else(|| {
                Some(match code {
                    Some(c) => format!("exit {c}"),
                    None => "killed by a signal".into(),
                })
            }),
            FiringStatus::Terminated => last_error,
            _ => None,
        };
        Outcome {
            status: firing_status,
            run: events.run,
            exit_code: code,
            reason,
        }
    }

    /// `cancel-previous`: stops the previous run of this schedule (SIGTERM; it journals the
    /// stop and ends cleanly) and waits for it to be gone, at most until the next firing.
    async fn cancel(&self, prev: &Previous, signals: &Arc<Signals>, on_line: &LineSink) {
        let theirs = Trigger {
            schedule: self.schedule.name.clone(),
            firing: prev.firing,
        }
        .to_string();
        // The pid must still be that run: a reused pid is left alone.
        if !runs_trigger(prev.pid, &theirs) {
            return;
        }
        on_line(&format!(
            "cancel-previous: stopping the run of firing {} (pid {})",
            utc(prev.firing),
            prev.pid
        ));
        let pid = nix::unistd::Pid::from_raw(prev.pid as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = tokio::time::Instant::now() + self.until_next().max(Duration::from_secs(60));
        let waits = signals.outside();
        while runs_trigger(prev.pid, &theirs) && tokio::time::Instant::now() < deadline {
            if waits.sleep(Duration::from_millis(100)).await != Woke::Elapsed {
                return;
            }
        }
    }
}

/// Whether process `pid` lives and is the run started with this trigger.
fn runs_trigger(pid: u32, trigger: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| c.split(|b| *b == 0).any(|arg| arg == trigger.as_bytes()))
        .unwrap_or(false)
}

/// What the run's JSON events said.
#[derive(Debug, Default)]
struct Events {
    run: Option<String>,
    /// The gate that failed closed (or was refused): `step restore: …`.
    refused: Option<String>,
    refused_step: Option<String>,
    /// The first step that failed, and why.
    failed: Option<String>,
}

async fn read_events<R: tokio::io::AsyncBufRead + Unpin>(r: R) -> Events {
    let mut ev = Events::default();
    let mut lines = r.lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        match v["type"].as_str() {
            Some("run_started") => ev.run = Some(text("run")),
            Some("gate") if v["approved"] == false && ev.refused.is_none() => {
                ev.refused_step = Some(text("step"));
                ev.refused = Some(format!(
                    "the {} gate of step `{}` {}",
                    text("kind"),
                    text("step"),
                    text("how")
                ));
            }
            Some("step_finished") if v["status"] == "declined" && ev.refused_step.as_deref() == v["step"].as_str() => {
                if let (Some(r), Some(e)) = (&mut ev.refused, v["error"].as_str()) {
                    r.push_str(&format!(" ({e})"));
                }
            }
            Some("step_finished")
                if matches!(v["status"].as_str(), Some("failed" | "timed_out")) && ev.failed.is_none() =>
            {
                let err = v["error"].as_str().map(|e| format!(": {e}")).unwrap_or_default();
                ev.failed = Some(format!("step `{}` {}{err}", text("step"), text("status")));
            }
            _ => {}
        }
    }
    ev
}
