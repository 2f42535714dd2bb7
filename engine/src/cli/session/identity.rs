//! Who runs this, and where: the one answer every command that journals, locks or approves
//! gives.

use crate::exec::RunInfo;
use crate::plan::Plan;

/// Who is running this: `RUNBOOK_USER` (when set and not empty), else the OS user's name,
/// else `$USER`, else `unknown`. `RUNBOOK_USER` comes first so that a shared account (a CI
/// job, a CronJob) can say whom it acts for.
pub fn user() -> String {
    std::env::var("RUNBOOK_USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.name)
        })
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// This machine's name, or `unknown`.
pub fn host() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown".into())
}

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
