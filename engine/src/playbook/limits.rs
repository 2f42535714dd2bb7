//! The largest values runbook accepts for durations and for the numbers that feed its
//! arithmetic (retries, fan-out, concurrency, approvals), in one place for code and docs.
//!
//! Every bound is checked where the value is read (the YAML deserializer for durations, the
//! compiler for numbers), so that a typo such as `timeout: 9300000000000000000s` is an error
//! at its file:line:col instead of an overflow panic in the middle of a run.

// Durations are bounded where they are read, by `spec::Duration` (a field type of actions as
// well as of steps, and `spec` sits below `playbook`), so their bound is defined beside it and
// re-exported here to keep every limit in one list.
pub use crate::spec::{MAX_DURATION_SECS, MAX_DURATION_TEXT};

/// Most attempts of a `retry` (the first included). More than a hundred tries of the same
/// action is a loop, not a retry: write `until` with an `interval` for polling.
pub const MAX_RETRY_ATTEMPTS: u32 = 100;

/// The range of `retry.backoff`, the factor the delay is multiplied by after each attempt.
/// Below 1 the delays would shrink toward zero (a busy loop); above 10 they outgrow any
/// timeout after a few attempts.
pub const MIN_RETRY_BACKOFF: f64 = 1.0;
pub const MAX_RETRY_BACKOFF: f64 = 10.0;

/// The shortest period of a guard. Each period is a Prometheus query; a period near zero
/// would query it in a busy loop.
pub const MIN_GUARD_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// Most steps running at once (`concurrency`) and most iterations of a `for_each` running at
/// once (`max_parallel`). Each running step is a task and usually a process or a connection
/// to an API server; a thousand is past what any cluster API or shell host takes gladly.
pub const MAX_CONCURRENCY: u32 = 1000;

/// Most distinct approvers an `approval` may ask for (`min`). A gate that needs more people
/// than this can never be passed in practice.
pub const MAX_APPROVALS: u32 = 100;

/// The range of a Kubernetes lock's `lease_duration`. Kubernetes counts it in whole seconds;
/// a crashed run's Lease blocks every other run of its key until it expires, so an hour is
/// the most that is still safe to wait out.
pub const MIN_LEASE_SECS: u64 = 1;
pub const MAX_LEASE_SECS: u64 = 3600;

/// serde readers for the bounded counts: each reads any whole number and rejects one above
/// its limit with a message naming the field and the limit, where the value was written.
/// (Read as `u32` directly, `99999999999` would only be "not a whole number (0 or more)".)
pub(crate) mod de {
    use serde::de::{Deserialize, Deserializer, Error};

    use super::{MAX_APPROVALS, MAX_CONCURRENCY, MAX_RETRY_ATTEMPTS};
    use crate::yaml::Sp;

    fn at_most<E: Error>(v: u64, max: u32, what: &str, unit: &str) -> Result<u32, E> {
        match u32::try_from(v) {
            Ok(n) if n <= max => Ok(n),
            _ => Err(E::custom(format!("{what} must be at most {max}{unit}, not {v}"))),
        }
    }

    fn spanned<'de, D: Deserializer<'de>>(d: D, max: u32, what: &str, unit: &str) -> Result<Option<Sp<u32>>, D::Error> {
        Option::<Sp<u64>>::deserialize(d)?
            .map(|s| at_most(s.value, max, what, unit).map(|n| Sp::new(s.span, n)))
            .transpose()
    }

    pub fn concurrency<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Sp<u32>>, D::Error> {
        spanned(d, MAX_CONCURRENCY, "concurrency", " steps at once")
    }

    pub fn max_parallel<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Sp<u32>>, D::Error> {
        spanned(d, MAX_CONCURRENCY, "max_parallel", " iterations at once")
    }

    pub fn attempts<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        at_most(u64::deserialize(d)?, MAX_RETRY_ATTEMPTS, "retry.attempts", "")
    }

    pub fn approvals<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        Option::<u64>::deserialize(d)?
            .map(|v| at_most(v, MAX_APPROVALS, "approval.min", " approvers"))
            .transpose()
    }
}
