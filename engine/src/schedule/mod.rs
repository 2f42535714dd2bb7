//! Scheduled runs: cron expressions in a zone, the checked schedules of `runbook.yaml`, the
//! run-due decision, the durable firing records, and starting a firing's run.

mod check;
mod cron;
mod due;
mod firings;
mod launch;
mod trigger;

pub use check::{DEFAULT_CATCHUP, MIN_CATCHUP, Schedule, load};
pub use cron::{CronZone, NICKNAMES, parse_cron, parse_zone, zone_names};
pub use due::{Decision, MAX_MISSED, decide};
pub use firings::{FiringRecord, FiringStatus, Firings, FiringsLock, last_handled, latest_by_firing};
pub use launch::{Claim, Job, LineSink, Outcome, Previous, claim};
pub use trigger::{Trigger, utc};
