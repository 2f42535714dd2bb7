//! The one sleep every wait goes through, and the run's signals it wakes on: a soak `wait`,
//! an `until` poll, a retry backoff, an approval wait, a guard interval, a Kubernetes or RDS
//! poll and a lock wait all sleep here, so a failing or interrupted run stops every one of
//! them at once, and no loop can spin on a wait that returns straight away.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

mod poll;

pub use poll::{Unmet, poll};

/// Why a sleep ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woke {
    /// The time passed.
    Elapsed,
    /// The run is failing (a step failed, a guard tripped, the journal failed) or was
    /// interrupted: waits that only make sense on the happy path end.
    Settling,
    /// What runs must stop: a signal (or, during a cleanup, a second one).
    Cancelled,
}

/// A signal the process was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Int,
    Term,
    Hup,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Int => "SIGINT",
            Signal::Term => "SIGTERM",
            Signal::Hup => "SIGHUP",
        }
    }
}

/// The signals of one process: the first asks the run to stop, a second kills what runs.
/// Shared by every engine of the run (sub-playbooks included) and by the lock wait.
pub struct Signals {
    /// A signal arrived; the dispatcher journals it, then stops what runs.
    requested: CancellationToken,
    /// The dispatcher has journaled the interruption: running commands get SIGTERM.
    interrupt: CancellationToken,
    /// A second signal: SIGKILL now, skip the grace period.
    kill: CancellationToken,
    first: OnceLock<Signal>,
    /// Between SIGTERM and SIGKILL when a signal stops the run.
    pub grace: Duration,
}

impl Signals {
    pub fn new(grace: Duration) -> Arc<Signals> {
        Arc::new(Signals {
            requested: CancellationToken::new(),
            interrupt: CancellationToken::new(),
            kill: CancellationToken::new(),
            first: OnceLock::new(),
            grace,
        })
    }

    /// Takes note of a signal: the first is a request to stop, any later one a kill.
    pub fn deliver(&self, s: Signal) {
        if self.first.set(s).is_ok() {
            self.requested.cancel();
        } else {
            self.requested.cancel();
            self.interrupt.cancel();
            self.kill.cancel();
        }
    }

    /// The first signal, if one arrived.
    pub fn received(&self) -> Option<Signal> {
        self.first.get().copied()
    }

    pub async fn requested(&self) {
        self.requested.cancelled().await
    }

    /// The interruption is on record: stop what runs (with a grace period).
    pub fn interrupt(&self) {
        self.interrupt.cancel();
    }

    pub fn interrupted(&self) -> bool {
        self.interrupt.is_cancelled()
    }

    pub fn killed(&self) -> bool {
        self.kill.is_cancelled()
    }

    /// Resolves on a second signal.
    pub async fn second(&self) {
        self.kill.cancelled().await
    }

    /// Takes over SIGINT, SIGTERM and SIGHUP for the rest of the process (call inside a
    /// tokio runtime). Registering the handlers replaces the default actions, which would
    /// kill the engine outright and orphan its steps' process groups; SIGXFSZ is taken too,
    /// so a file-size limit fails a journal write with EFBIG instead of killing the process.
    pub fn install(self: &Arc<Self>) -> std::io::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let mut hup = signal(SignalKind::hangup())?;
        let mut xfsz = signal(SignalKind::from_raw(nix::sys::signal::Signal::SIGXFSZ as i32))?;
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                let s = tokio::select! {
                    _ = int.recv() => Signal::Int,
                    _ = term.recv() => Signal::Term,
                    _ = hup.recv() => Signal::Hup,
                    // The write that crossed the limit reports EFBIG; nothing else to do.
                    _ = xfsz.recv() => continue,
                };
                me.deliver(s);
            }
        });
        Ok(())
    }

    /// Waits for the happy path: they end when `settling` is cancelled (the run is failing
    /// or interrupted) and stop what runs on the first signal.
    pub fn happy(&self, settling: &CancellationToken) -> Waits {
        Waits {
            settle: Some(settling.clone()),
            stop: self.interrupt.clone(),
            kill: self.kill.clone(),
            grace: self.grace,
        }
    }

    /// Waits of a cleanup (rollbacks, `on_failure`, `finally`): they wait as written. A
    /// signal stops them, unless the cleanup itself answers an earlier signal, in which
    /// case only a second one does.
    pub fn cleanup(&self) -> Waits {
        Waits {
            settle: None,
            stop: if self.interrupted() {
                self.kill.clone()
            } else {
                self.interrupt.clone()
            },
            kill: self.kill.clone(),
            grace: self.grace,
        }
    }

    /// Waits outside a run (a lock wait): a signal ends them.
    pub fn outside(&self) -> Waits {
        Waits {
            settle: None,
            stop: self.requested.clone(),
            kill: self.kill.clone(),
            grace: self.grace,
        }
    }
}

/// What ends the waits of one part of a run, and what stops its commands.
#[derive(Clone, Debug)]
pub struct Waits {
    settle: Option<CancellationToken>,
    stop: CancellationToken,
    kill: CancellationToken,
    /// Between SIGTERM and SIGKILL when `stop` ends a command.
    pub grace: Duration,
}

impl Waits {
    /// Waits that only a signal ends, for tests and tools that run outside a run.
    pub fn detached() -> Waits {
        Waits {
            settle: None,
            stop: CancellationToken::new(),
            kill: CancellationToken::new(),
            grace: Duration::from_secs(10),
        }
    }

    /// Sleeps `d`, or less when the run settles or stops. The one sleep.
    pub async fn sleep(&self, d: Duration) -> Woke {
        let settle = async {
            match &self.settle {
                Some(s) => s.cancelled().await,
                None => std::future::pending().await,
            }
        };
        // Stopping wins over settling, and both over a sleep that ends at the same moment.
        tokio::select! {
            biased;
            _ = self.stop.cancelled() => Woke::Cancelled,
            _ = settle => Woke::Settling,
            _ = tokio::time::sleep(d) => Woke::Elapsed,
        }
    }

    /// Resolves when these waits end early (settling or stopped), saying which.
    pub async fn ended(&self) -> Woke {
        loop {
            // Never elapses: a year at a time, and an ended wait returns at once.
            match self.sleep(Duration::from_secs(365 * 86_400)).await {
                Woke::Elapsed => continue,
                other => return other,
            }
        }
    }

    /// Why these waits ended, if they did.
    pub fn state(&self) -> Option<Woke> {
        if self.stop.is_cancelled() {
            Some(Woke::Cancelled)
        } else if self.settle.as_ref().is_some_and(|s| s.is_cancelled()) {
            Some(Woke::Settling)
        } else {
            None
        }
    }

    /// Whether these are the waits of the run's own steps (not of a cleanup).
    pub fn happy_path(&self) -> bool {
        self.settle.is_some()
    }

    pub fn stopped(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// Resolves when what runs must stop.
    pub async fn stopping(&self) {
        self.stop.cancelled().await
    }

    /// Resolves on a second signal: kill without a grace period.
    pub async fn killing(&self) {
        self.kill.cancelled().await
    }

    /// The waits of an action that must not end on settling: a step already past its gate
    /// keeps its command running when another step fails.
    pub fn without_settle(&self) -> Waits {
        Waits {
            settle: None,
            ..self.clone()
        }
    }
}

/// `now + d`, or a moment far enough ahead when the sum would overflow `Instant`.
pub fn deadline(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86_400)))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_sleep_elapses_settles_or_is_cancelled() {
        let signals = Signals::new(Duration::from_secs(10));
        let settling = CancellationToken::new();
        let w = signals.happy(&settling);
        assert_eq!(w.sleep(Duration::from_secs(5)).await, Woke::Elapsed);

        let s = settling.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            s.cancel();
        });
        let start = tokio::time::Instant::now();
        assert_eq!(w.sleep(Duration::from_secs(3600)).await, Woke::Settling);
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        // Once settled, a sleep returns at once, and says why: a loop that checks the answer
        // cannot spin.
        assert_eq!(w.sleep(Duration::from_secs(3600)).await, Woke::Settling);
        // Cleanup waits ignore settling.
        assert_eq!(signals.cleanup().sleep(Duration::from_secs(2)).await, Woke::Elapsed);
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_signal_is_a_request_and_the_second_a_kill() {
        let signals = Signals::new(Duration::from_secs(10));
        let settling = CancellationToken::new();
        let happy = signals.happy(&settling);
        signals.deliver(Signal::Term);
        assert_eq!(signals.received(), Some(Signal::Term));
        // Until the dispatcher journals it, nothing is stopped.
        assert_eq!(happy.state(), None);
        assert_eq!(signals.outside().state(), Some(Woke::Cancelled));
        signals.interrupt();
        assert_eq!(happy.sleep(Duration::from_secs(60)).await, Woke::Cancelled);
        // A cleanup that answers the interruption runs on until a second signal.
        let cleanup = signals.cleanup();
        assert_eq!(cleanup.sleep(Duration::from_secs(1)).await, Woke::Elapsed);
        signals.deliver(Signal::Int);
        assert_eq!(signals.received(), Some(Signal::Term));
        assert_eq!(cleanup.sleep(Duration::from_secs(60)).await, Woke::Cancelled);
    }

    #[test]
    fn a_deadline_never_overflows() {
        let far = deadline(Duration::MAX);
        assert!(far > Instant::now());
    }
}
