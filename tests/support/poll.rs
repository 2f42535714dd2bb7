//! Waiting for something observable to happen, always with a deadline: the one poll loop
//! the tests use instead of sleeping for a guessed while.

use std::fmt::Display;
use std::time::{Duration, Instant};

/// How often a condition is checked again once the first quick checks found nothing: often
/// enough that a test does not wait noticeably past the event, rarely enough that a probe
/// that scans /proc or runs a program does not load a busy machine.
pub const PACE: Duration = Duration::from_millis(20);

/// Calls `probe` until it yields a value, within `limit`; `None` if it never did. The
/// first checks come quickly (most events are near), then every `pace`.
pub fn poll_every<T>(limit: Duration, pace: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(1).min(pace);
    loop {
        if let Some(found) = probe() {
            return Some(found);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
        pause = (pause * 2).min(pace);
    }
}

/// [`poll_every`] at the usual [`PACE`].
pub fn poll<T>(limit: Duration, probe: impl FnMut() -> Option<T>) -> Option<T> {
    poll_every(limit, PACE, probe)
}

/// Whether `holds` became true within `limit` (checked at the usual [`PACE`]), for a test
/// that says itself what went wrong when it did not.
pub fn within(limit: Duration, mut holds: impl FnMut() -> bool) -> bool {
    poll(limit, || holds().then_some(())).is_some()
}

/// Waits until `holds` is true; panics naming `what` when it is not within `limit`.
#[track_caller]
pub fn eventually(limit: Duration, what: impl Display, holds: impl FnMut() -> bool) {
    assert!(within(limit, holds), "not within {limit:?}: {what}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_that_answers_late_is_waited_for() {
        let start = Instant::now();
        let got = poll(Duration::from_secs(5), || {
            (start.elapsed() >= Duration::from_millis(60)).then_some(7)
        });
        assert_eq!(got, Some(7));
    }

    #[test]
    fn a_probe_that_never_answers_gives_up_at_the_deadline() {
        let start = Instant::now();
        assert!(!within(Duration::from_millis(80), || false));
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(80), "gave up early: {took:?}");
        assert!(took < Duration::from_secs(2), "overran the deadline: {took:?}");
    }

    #[test]
    #[should_panic(expected = "not within 30ms: the sky fell")]
    fn eventually_names_what_did_not_happen() {
        eventually(Duration::from_millis(30), "the sky fell", || false);
    }
}
