//! Exit codes: the only place errors become numbers (design §10).

/// The run (or command) succeeded.
pub const SUCCESS: i32 = 0;
/// A step failed and the rollback completed.
pub const STEP_FAILED: i32 = 1;
/// Every step went as planned, but a measure with `on_miss: fail` missed its target.
pub const MEASURE_MISSED: i32 = 1;
/// Bad usage, or an invalid playbook or workspace.
pub const INVALID: i32 = 2;
/// A rollback failed: a human must finish undoing.
pub const ROLLBACK_FAILED: i32 = 3;
/// A confirmation or approval was refused or unanswered.
pub const REFUSED: i32 = 4;
/// The run lock is held by another run.
pub const LOCKED: i32 = 5;
/// Interrupted by SIGINT (Ctrl-C).
pub const INTERRUPTED: i32 = 130;
/// Stopped by SIGTERM or SIGHUP (CI cancellation, `systemctl stop`, a pod's eviction).
pub const TERMINATED: i32 = 143;
