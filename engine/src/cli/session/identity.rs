//! A new run's identity: who starts it, on which machine, for which plan.

use crate::exec::RunInfo;
pub use crate::identity::{host, user};
use crate::plan::Plan;

/// A new run of `plan`, started now by [`user`] on [`host`].
pub fn run_info(plan: &Plan) -> RunInfo {
    let now = chrono::Utc::now();
    // Sortable by time, unique enough for one machine: the time and 4 hex digits of the pid.
    let id = format!("{}-{:04x}", now.format("%Y%m%dT%H%M%SZ"), std::process::id() & 0xffff);
    RunInfo {
        id,
        user: user(),
        host: host(),
        started_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        playbook: plan.playbook.name.clone(),
        env: plan.env.name.clone(),
        file_sha256: String::new(),
        trigger: None,
    }
}
