//! The one poll: look, and look again every interval on the one sleep, until a look settles
//! it, the deadline passes, or the run starts failing or must stop.

use std::future::Future;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use super::{Waits, Woke};

/// How a poll ended without what it waited for.
#[derive(Debug, PartialEq, Eq)]
pub enum Unmet<S> {
    /// The deadline passed; the last look saw `S`.
    Deadline(S),
    /// The run started failing (the waits settled) after a look that saw `S`.
    Settling(S),
    /// What runs must stop (a signal): the look in flight, if any, was dropped.
    Stopped,
}

impl<S> Unmet<S> {
    /// What the last look saw, unless the poll was stopped.
    pub fn seen(self) -> Option<S> {
        match self {
            Unmet::Deadline(s) | Unmet::Settling(s) => Some(s),
            Unmet::Stopped => None,
        }
    }
}

/// Looks until `look` breaks, and returns what it broke with; a look that continues says what
/// it saw. Between looks it sleeps `every` on `waits`, never past `deadline`, where it takes a
/// last look. A look in flight is dropped when what runs must stop (looks are reads, or writes
/// that are safe to ask again); when the run only starts failing, the look finishes first.
pub async fn poll<T, S, F, L>(waits: &Waits, every: Duration, deadline: Instant, mut look: L) -> Result<T, Unmet<S>>
where
    L: FnMut() -> F,
    F: Future<Output = ControlFlow<T, S>>,
{
    let polling = async {
        loop {
            let seen = match look().await {
                ControlFlow::Break(t) => return Ok(t),
                ControlFlow::Continue(seen) => seen,
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Unmet::Deadline(seen));
            }
            match waits.sleep(left.min(every)).await {
                Woke::Elapsed => {}
                Woke::Settling => return Err(Unmet::Settling(seen)),
                Woke::Cancelled => return Err(Unmet::Stopped),
            }
        }
    };
    tokio::select! {
        biased;
        _ = waits.stopping() => Err(Unmet::Stopped),
        done = polling => done,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::wake::{Signals, deadline};

    const EVERY: Duration = Duration::from_millis(10);

    #[tokio::test]
    async fn it_looks_until_a_look_breaks() {
        let looks = AtomicUsize::new(0);
        let found = poll(&Waits::detached(), EVERY, deadline(Duration::from_secs(60)), || async {
            match looks.fetch_add(1, Ordering::Relaxed) + 1 {
                n if n < 3 => ControlFlow::Continue(n),
                n => ControlFlow::Break(n),
            }
        })
        .await;
        assert_eq!(found, Ok::<_, Unmet<usize>>(3));
    }

    #[tokio::test]
    async fn at_the_deadline_it_takes_a_last_look_and_says_what_it_saw() {
        let looks = std::sync::Mutex::new(Vec::new());
        let end = deadline(Duration::from_millis(100));
        let unmet = poll(&Waits::detached(), Duration::from_millis(40), end, || async {
            let mut looks = looks.lock().unwrap();
            looks.push(Instant::now());
            ControlFlow::<(), _>::Continue(looks.len())
        })
        .await;
        let looks = looks.into_inner().unwrap();
        assert_eq!(unmet, Err(Unmet::Deadline(looks.len())));
        // The sleep before the last look is cut to the deadline: one look there, none after.
        let (last, before) = (looks[looks.len() - 1], looks[looks.len() - 2]);
        assert!(last >= end && before < end, "{looks:?} against {end:?}");
    }

    #[tokio::test]
    async fn a_failing_run_ends_the_poll_after_its_look() {
        let signals = Signals::new(Duration::from_secs(10));
        let settling = CancellationToken::new();
        let waits = signals.happy(&settling);
        let looks = AtomicUsize::new(0);
        let unmet = poll(&waits, EVERY, deadline(Duration::from_secs(60)), || async {
            let n = looks.fetch_add(1, Ordering::Relaxed) + 1;
            if n == 2 {
                settling.cancel();
            }
            ControlFlow::<(), _>::Continue(n)
        })
        .await;
        assert_eq!(unmet, Err(Unmet::Settling(2)));
    }

    #[tokio::test]
    async fn a_stop_drops_the_look_in_flight() {
        let signals = Signals::new(Duration::from_secs(10));
        let waits = signals.happy(&CancellationToken::new());
        let stopper = signals.clone();
        let unmet = poll(&waits, EVERY, deadline(Duration::from_secs(60)), || async {
            // A request the server never answers.
            stopper.interrupt();
            std::future::pending::<ControlFlow<(), ()>>().await
        })
        .await;
        assert_eq!(unmet, Err(Unmet::Stopped));
        assert_eq!(Unmet::<()>::Stopped.seen(), None);
    }
}
