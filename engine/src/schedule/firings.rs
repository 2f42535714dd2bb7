//! A schedule's firing records, `<state_dir>/schedules/<name>/firings.jsonl`: one JSON line
//! per step of a firing's life (claimed, its run known, how it ended, or missed), appended
//! and fsync'd while holding the schedule's lock, `<state_dir>/schedules/<name>/lock`. A
//! firing is claimed (`started`) on disk before its run starts, so two `run-due` calls never
//! start it twice, and a crash after the claim leaves it claimed, never run again.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::journal::StateDir;

/// Where a firing stands. `started` is written before the run; `running` once its run id is
/// known; then one of the ends. `missed` and `skipped` firings never ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FiringStatus {
    Started,
    Running,
    Succeeded,
    /// The run failed (exit 1 or 3), or could not start (exit 2: the playbook no longer
    /// compiles with the schedule's params, a secret is missing, …).
    Failed,
    /// A gate failed closed (exit 4): a confirmation not in `approve`, or an approval.
    Refused,
    /// The previous run still held the lock (`overlap: skip`, or `queue` until the next
    /// firing).
    Skipped,
    /// A signal stopped the run (exit 130 or 143): `cancel-previous`, or a stop of run-due.
    Terminated,
    /// Too old to run when it was found (past `catchup`, or not the latest firing).
    Missed,
}

impl FiringStatus {
    /// How a run's exit code reads in the record.
    pub fn of_exit(code: i32) -> FiringStatus {
        use crate::error::*;
        match code {
            SUCCESS => FiringStatus::Succeeded,
            REFUSED => FiringStatus::Refused,
            LOCKED => FiringStatus::Skipped,
            INTERRUPTED | TERMINATED => FiringStatus::Terminated,
            _ => FiringStatus::Failed,
        }
    }

    /// Whether the firing's run is over (or never was).
    pub fn is_end(self) -> bool {
        !matches!(self, FiringStatus::Started | FiringStatus::Running)
    }

    pub fn name(self) -> &'static str {
        match self {
            FiringStatus::Started => "started",
            FiringStatus::Running => "running",
            FiringStatus::Succeeded => "succeeded",
            FiringStatus::Failed => "failed",
            FiringStatus::Refused => "refused",
            FiringStatus::Skipped => "skipped",
            FiringStatus::Terminated => "terminated",
            FiringStatus::Missed => "missed",
        }
    }
}

/// One line of `firings.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FiringRecord {
    /// The firing, UTC (RFC 3339, `Z`): with the schedule's name, what identifies it.
    pub firing: String,
    pub status: FiringStatus,
    /// When this record was written (UTC).
    pub ts: String,
    /// The firing as a wall time in the schedule's zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<String>,
    /// The run's id, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// `started`: the `run-due` process that claimed it; `running`: the run's process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why it ended so: the gate that failed closed, who held the lock, the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `missed`: more firings were missed before this one than one call lists.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub earlier_missed: bool,
}

impl FiringRecord {
    pub fn new(firing: DateTime<Utc>, status: FiringStatus) -> FiringRecord {
        FiringRecord {
            firing: super::trigger::utc(firing),
            status,
            ts: super::trigger::utc(Utc::now()),
            local: None,
            run: None,
            pid: None,
            host: None,
            exit_code: None,
            reason: None,
            earlier_missed: false,
        }
    }

    pub fn firing_time(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(&self.firing)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// The firing records of one schedule.
#[derive(Debug, Clone)]
pub struct Firings {
    dir: PathBuf,
}

/// The schedule's lock, held while its records are read and decided on and written.
#[derive(Debug)]
pub struct FiringsLock {
    _file: File,
}

impl Firings {
    pub fn new(state: &StateDir, schedule: &str) -> Firings {
        Firings {
            dir: state.root.join("schedules").join(schedule),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join("firings.jsonl")
    }

    /// Takes the schedule's lock, waiting for another `run-due` that holds it (it holds it
    /// only to read, decide and write: never while a run goes on). The OS releases it when
    /// the holder dies.
    pub fn lock(&self) -> std::io::Result<FiringsLock> {
        let created = !self.dir.exists();
        StateDir::private_dir(&self.dir)?;
        if created {
            // The new directory's entry must survive a crash with the records in it.
            if let Some(parent) = self.dir.parent() {
                File::open(parent)?.sync_all()?;
            }
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(self.dir.join("lock"))?;
        file.lock()?;
        Ok(FiringsLock { _file: file })
    }

    /// The records, oldest first. A line cut short by a crash is left out.
    pub fn read(&self) -> Vec<FiringRecord> {
        std::fs::read_to_string(self.path())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Appends records in one write and fsyncs them (and, for a new file, its directory
    /// entry) before returning: a `started` record is on disk before its run starts.
    pub fn append(&self, _held: &FiringsLock, records: &[FiringRecord]) -> std::io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let path = self.path();
        let created = !path.exists();
        let mut text = String::new();
        for r in records {
            text.push_str(&serde_json::to_string(r).map_err(std::io::Error::other)?);
            text.push('\n');
        }
        let mut f = StateDir::append(&path)?;
        f.write_all(text.as_bytes())?;
        f.sync_data()?;
        if created {
            File::open(&self.dir)?.sync_all()?;
        }
        Ok(())
    }
}

/// The newest firing that has a record: firings up to it are handled.
pub fn last_handled(records: &[FiringRecord]) -> Option<DateTime<Utc>> {
    records.iter().filter_map(FiringRecord::firing_time).max()
}

/// Each firing's latest record, oldest firing first.
pub fn latest_by_firing(records: &[FiringRecord]) -> Vec<&FiringRecord> {
    let mut out: Vec<&FiringRecord> = Vec::new();
    for r in records {
        match out.iter_mut().find(|o| o.firing == r.firing) {
            Some(o) => *o = r,
            None => out.push(r),
        }
    }
    out.sort_by_key(|r| r.firing_time());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_appended_durably_and_read_back_past_a_torn_line() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let state = StateDir::new(dir.path());
        let f = Firings::new(&state, "nightly");
        let t = |s: &str| DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc);
        {
            let held = f.lock().expect("the lock");
            let mut started = FiringRecord::new(t("2027-01-01T03:00:00Z"), FiringStatus::Started);
            started.pid = Some(42);
            f.append(
                &held,
                &[
                    FiringRecord::new(t("2027-01-01T02:00:00Z"), FiringStatus::Missed),
                    started,
                ],
            )
            .expect("written");
        }
        // A crash in the middle of a line.
        std::fs::OpenOptions::new()
            .append(true)
            .open(f.path())
            .and_then(|mut file| file.write_all(b"{\"firing\":\"2027-01"))
            .expect("torn");
        let records = f.read();
        assert_eq!(records.len(), 2);
        assert_eq!(last_handled(&records), Some(t("2027-01-01T03:00:00Z")));
        let latest = latest_by_firing(&records);
        assert_eq!(latest[1].status, FiringStatus::Started);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(f.path()).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn exit_codes_read_as_outcomes() {
        assert_eq!(FiringStatus::of_exit(0), FiringStatus::Succeeded);
        assert_eq!(FiringStatus::of_exit(1), FiringStatus::Failed);
        assert_eq!(FiringStatus::of_exit(2), FiringStatus::Failed);
        assert_eq!(FiringStatus::of_exit(4), FiringStatus::Refused);
        assert_eq!(FiringStatus::of_exit(5), FiringStatus::Skipped);
        assert_eq!(FiringStatus::of_exit(143), FiringStatus::Terminated);
    }
}
