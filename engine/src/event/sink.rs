//! Where events go. One thread owns every sink (the journal, the progress display, JSON
//! lines) and gives them each event in order, after the run's redactor — the one choke
//! point every event, message and record passes through — has hidden its secrets. Nothing
//! of it (an fsync, a write to a slow pipe) runs on the async runtime: a step that must not
//! begin before its record is on disk awaits the journal's acknowledgement instead.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::model::{Event, RunEvent};
use crate::redact::Redactor;

pub trait Sink: Send {
    /// Takes one event; an error says why it could not.
    fn event(&mut self, e: &Event) -> Result<(), String>;
    /// Whether this sink is the audit trail: a failed write here fails the run, and steps
    /// wait for it before their side effects.
    fn durable(&self) -> bool {
        false
    }
    /// The run is over: flush, draw the summary.
    fn finish(&mut self) {}
}

enum Msg {
    Event(Box<RunEvent>, Option<Ack>),
    Finish(oneshot::Sender<()>),
}

/// Who waits for a record, and whether it may be written after an earlier record failed.
struct Ack {
    reply: oneshot::Sender<Result<(), String>>,
    /// Refused once the journal has failed: a run's own step does not start after the
    /// journal lost an event, even one sent just before it (the channel keeps the order).
    strict: bool,
}

/// Sends events to the sinks' thread; shared by the step tasks.
#[derive(Clone)]
pub struct Emitter {
    tx: std::sync::mpsc::Sender<Msg>,
    redactor: Arc<Redactor>,
    failed: CancellationToken,
    failure: Arc<Mutex<Option<String>>>,
}

impl Emitter {
    /// Starts the sinks' thread. Durable sinks get each event first: a record is on disk
    /// before anyone is shown it.
    pub fn new(mut sinks: Vec<Box<dyn Sink>>, redactor: Arc<Redactor>) -> Self {
        sinks.sort_by_key(|s| !s.durable());
        let (tx, rx) = std::sync::mpsc::channel::<Msg>();
        let failed = CancellationToken::new();
        let failure = Arc::new(Mutex::new(None));
        let (f, why, r) = (failed.clone(), failure.clone(), redactor.clone());
        let spawned = std::thread::Builder::new()
            .name("runbook-events".into())
            .spawn(move || serve(rx, sinks, &r, &f, &why));
        if let Err(e) = spawned {
            // Nothing can be recorded: every record fails, so nothing runs.
            *failure.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(format!("cannot start the journal writer: {e}"));
            failed.cancel();
        }
        Emitter {
            tx,
            redactor,
            failed,
            failure,
        }
    }

    /// The run's redactor, which every event passes through.
    pub fn redactor(&self) -> Arc<Redactor> {
        self.redactor.clone()
    }

    /// Sends an event on; it is written in order with the others.
    pub fn emit(&self, kind: RunEvent) {
        let _ = self.tx.send(Msg::Event(Box::new(kind), None));
    }

    /// Sends an event and waits until the journal has it on disk (fsync'd for the records
    /// that precede a change). An error means it is not on record.
    /// After a failed write it is tried again: a record that fits (the disk had room
    /// again) continues the chain, one that does not is refused again.
    pub async fn record(&self, kind: RunEvent) -> Result<(), String> {
        self.acked(kind, false).await
    }

    /// Like [`Emitter::record`], but refused without a try once any earlier record failed:
    /// for the start of the run's own steps, which must not run after a lost record.
    pub async fn record_strict(&self, kind: RunEvent) -> Result<(), String> {
        self.acked(kind, true).await
    }

    async fn acked(&self, kind: RunEvent, strict: bool) -> Result<(), String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Event(Box::new(kind), Some(Ack { reply, strict })))
            .map_err(|_| "the journal writer has stopped".to_string())?;
        rx.await
            .unwrap_or_else(|_| Err("the journal writer has stopped".into()))
    }

    /// Resolves once a journal write has failed.
    pub async fn journal_failed(&self) {
        self.failed.cancelled().await
    }

    /// Why the journal failed, if it did.
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Flushes the sinks and lets them draw their summaries; returns once they have.
    pub async fn finish(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Finish(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

fn serve(
    rx: std::sync::mpsc::Receiver<Msg>,
    mut sinks: Vec<Box<dyn Sink>>,
    redactor: &Redactor,
    failed: &CancellationToken,
    failure: &Mutex<Option<String>>,
) {
    let mut warned = vec![false; sinks.len()];
    for msg in rx {
        let (kind, ack) = match msg {
            Msg::Event(kind, ack) => (kind, ack),
            Msg::Finish(done) => {
                sinks.iter_mut().for_each(|s| s.finish());
                let _ = done.send(());
                continue;
            }
        };
        let ack = match ack {
            Some(a) if a.strict && failed.is_cancelled() => {
                let why = failure
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
                    .unwrap_or_default();
                let _ = a.reply.send(Err(format!("the journal failed earlier: {why}")));
                continue;
            }
            other => other,
        };
        let event = redacted(Event::now(*kind), redactor);
        let mut recorded = Ok(());
        let mut ack = ack.map(|a| a.reply);
        for (i, sink) in sinks.iter_mut().enumerate() {
            // The step waiting for its record goes on as soon as the durable sinks have it.
            if !sink.durable()
                && let Some(a) = ack.take()
            {
                let _ = a.send(recorded.clone());
            }
            match sink.event(&event) {
                Ok(()) => {}
                Err(why) if sink.durable() => {
                    let mut f = failure.lock().unwrap_or_else(PoisonError::into_inner);
                    if f.is_none() {
                        *f = Some(why.clone());
                    }
                    failed.cancel();
                    recorded = Err(why);
                }
                Err(why) => {
                    if !warned[i] {
                        warned[i] = true;
                        eprintln!("warning: {}", redactor.redact(&why));
                    }
                }
            }
        }
        if let Some(a) = ack {
            let _ = a.send(recorded);
        }
    }
    sinks.iter_mut().for_each(|s| s.finish());
}

/// The event with every secret hidden, in every string it carries.
fn redacted(event: Event, redactor: &Redactor) -> Event {
    if redactor.is_empty() {
        return event;
    }
    let Ok(mut value) = serde_json::to_value(&event) else {
        return event;
    };
    redactor.redact_json(&mut value);
    serde_json::from_value(value).unwrap_or_else(|_| Event {
        ts: event.ts.clone(),
        kind: RunEvent::Log {
            step: None,
            message: crate::redact::MASK.into(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A journal whose writes fail while `full` is set, keeping what it wrote.
    struct Disk {
        full: Arc<std::sync::atomic::AtomicBool>,
        wrote: Arc<Mutex<Vec<String>>>,
    }

    impl Sink for Disk {
        fn event(&mut self, e: &Event) -> Result<(), String> {
            if self.full.load(std::sync::atomic::Ordering::SeqCst) {
                return Err("disk full".into());
            }
            let text = serde_json::to_string(&e.kind).unwrap_or_default();
            self.wrote.lock().unwrap_or_else(PoisonError::into_inner).push(text);
            Ok(())
        }
        fn durable(&self) -> bool {
            true
        }
    }

    fn log(message: &str) -> RunEvent {
        RunEvent::Log {
            step: None,
            message: message.into(),
        }
    }

    #[tokio::test]
    async fn after_a_failed_record_strict_ones_are_refused_and_others_tried() {
        let full = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let wrote = Arc::new(Mutex::new(Vec::new()));
        let disk = Disk {
            full: full.clone(),
            wrote: wrote.clone(),
        };
        let secret = Arc::new(Redactor::new(["hunter2-secret"]));
        let e = Emitter::new(vec![Box::new(disk)], secret);
        assert_eq!(e.record_strict(log("one with hunter2-secret")).await, Ok(()));
        full.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(e.record(log("lost")).await.is_err());
        full.store(false, std::sync::atomic::Ordering::SeqCst);
        // A strict record after the lost one is refused even though the disk has room
        // again (the channel keeps the order, so this holds for one merely sent before).
        let strict = e.record_strict(log("a step's start")).await;
        assert!(strict.is_err_and(|why| why.contains("disk full")));
        assert_eq!(e.record(log("an undo's start")).await, Ok(()));
        assert_eq!(e.failure().as_deref(), Some("disk full"));
        e.finish().await;
        let wrote = wrote.lock().unwrap_or_else(PoisonError::into_inner).clone();
        assert_eq!(wrote.len(), 2);
        assert!(
            wrote[0].contains("***") && !wrote[0].contains("hunter2"),
            "redacted: {wrote:?}"
        );
        assert!(wrote[1].contains("an undo's start"));
    }
}
