//! Scheduled runs: cron expressions in a zone, the checked schedules of `runbook.yaml`, the
//! run-due decision, the durable firing records, starting a firing's run, the scheduler
//! daemon, and the export as Kubernetes CronJobs.

mod check;
mod cron;
mod daemon;
mod due;
#[cfg(feature = "k8s")]
mod export;
mod firings;
mod kube_cron;
mod launch;
mod trigger;

pub use check::{DEFAULT_CATCHUP, MIN_CATCHUP, Schedule, load};
pub use cron::{CronZone, NICKNAMES, parse_cron, parse_zone, zone_names};
pub use daemon::{Daemon, Loader, Log, StderrLog, next_wake};
pub use due::{Decision, MAX_MISSED, decide};
#[cfg(feature = "k8s")]
pub use export::{ExportOptions, Manifest, cron_job_name, export};
pub use firings::{FiringRecord, FiringStatus, Firings, FiringsLock, last_handled, latest_by_firing};
pub use kube_cron::{KubeCron, firing_for, kubernetes_cron};
pub use launch::{Claim, Job, LineSink, Outcome, Previous, Round, claim, round};
pub use trigger::{Trigger, utc};
