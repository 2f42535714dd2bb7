//! Who runs this, and where: the one answer every command that journals, locks, approves
//! or launches a scheduled run gives.

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
