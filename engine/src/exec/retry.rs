//! Retries with backoff, for a step's action and for a rollback action alike: how many
//! attempts, how long between them, and the wait itself, which goes through the run's one
//! sleep so that a failing or interrupted run ends it at once.

use std::time::Duration;

use crate::wake::{Waits, Woke};

/// Where a retried action stands: which attempt this is, and the wait before the next.
#[derive(Debug, Clone)]
pub(super) struct Retry {
    attempt: u32,
    attempts: u32,
    delay: Duration,
    backoff: f64,
}

impl Retry {
    /// The first attempt of an action with this `retry:` (none: a single attempt).
    pub(super) fn new(retry: Option<&crate::playbook::Retry>) -> Retry {
        Retry {
            attempt: 1,
            attempts: retry.map(|r| r.attempts.max(1)).unwrap_or(1),
            delay: retry
                .and_then(|r| r.delay)
                .map(|d| d.std())
                .unwrap_or(Duration::from_secs(1)),
            backoff: retry.and_then(|r| r.backoff).unwrap_or(1.0),
        }
    }

    /// The attempt under way, from 1.
    pub(super) fn attempt(&self) -> u32 {
        self.attempt
    }

    /// After a failed attempt: true once the delay has passed and another attempt may
    /// start. False when this was the last attempt, or `waits` ended (the run is failing
    /// or was stopped); then nothing is waited. `retrying` hears of a wait before it
    /// begins (the attempt that failed, and the delay), to say so.
    pub(super) async fn again(&mut self, waits: &Waits, retrying: impl FnOnce(u32, Duration)) -> bool {
        if self.attempt >= self.attempts || waits.state().is_some() {
            return false;
        }
        retrying(self.attempt, self.delay);
        if waits.sleep(self.delay).await != Woke::Elapsed {
            return false;
        }
        self.attempt += 1;
        self.delay = next_delay(self.delay, self.backoff);
        true
    }
}

/// The next retry delay: `backoff` times this one, never past the longest wait there is
/// (the compiler bounds delays and backoffs; this holds whatever a saved plan says).
fn next_delay(delay: Duration, backoff: f64) -> Duration {
    const MOST: Duration = Duration::from_secs(crate::playbook::limits::MAX_DURATION_SECS);
    Duration::try_from_secs_f64(delay.as_secs_f64() * backoff)
        .unwrap_or(MOST)
        .min(MOST)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wake::Signals;
    use tokio_util::sync::CancellationToken;

    fn retry(attempts: u32, delay_ms: u64, backoff: Option<f64>) -> crate::playbook::Retry {
        crate::playbook::Retry {
            attempts,
            delay: Some(crate::playbook::Duration(Duration::from_millis(delay_ms))),
            backoff,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_are_counted_and_the_delay_grows_by_the_backoff() {
        let waits = Waits::detached();
        let r = retry(4, 100, Some(2.0));
        let mut tries = Retry::new(Some(&r));
        let mut heard = Vec::new();
        let start = tokio::time::Instant::now();
        while tries.again(&waits, |n, d| heard.push((n, d))).await {}
        assert_eq!(tries.attempt(), 4);
        let ms = |n| Duration::from_millis(n);
        assert_eq!(heard, vec![(1, ms(100)), (2, ms(200)), (3, ms(400))]);
        assert_eq!(start.elapsed(), ms(700));
    }

    #[tokio::test(start_paused = true)]
    async fn without_retry_there_is_one_attempt_and_no_wait() {
        let mut tries = Retry::new(None);
        assert_eq!(tries.attempt(), 1);
        assert!(!tries.again(&Waits::detached(), |_, _| panic!("no wait")).await);
    }

    #[tokio::test(start_paused = true)]
    async fn a_settling_run_ends_the_wait_and_the_retries() {
        let signals = Signals::new(Duration::from_secs(1));
        let settling = CancellationToken::new();
        let waits = signals.happy(&settling);
        let r = retry(5, 60_000, None);
        let mut tries = Retry::new(Some(&r));
        let s = settling.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            s.cancel();
        });
        let start = tokio::time::Instant::now();
        assert!(!tries.again(&waits, |_, _| {}).await, "settling ends the wait");
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        // Once the run settles, no wait starts at all.
        assert!(!tries.again(&waits, |_, _| panic!("no wait once settled")).await);
        assert_eq!(tries.attempt(), 1);
    }

    #[test]
    fn the_delay_never_passes_the_longest_wait() {
        let most = Duration::from_secs(crate::playbook::limits::MAX_DURATION_SECS);
        assert_eq!(next_delay(most, 10.0), most);
        assert_eq!(next_delay(Duration::from_secs(2), 1.5), Duration::from_secs(3));
    }
}
