//! Where events go: every sink sees every event, in order.

use std::sync::{Arc, Mutex};

use super::event::{Event, RunEvent};

pub trait Sink: Send {
    fn event(&mut self, e: &Event);
    /// The run is over: flush, draw the summary.
    fn finish(&mut self) {}
}

/// Fans events out to the sinks; shared by the step tasks.
#[derive(Clone)]
pub struct Emitter {
    sinks: Arc<Mutex<Vec<Box<dyn Sink>>>>,
}

impl Emitter {
    pub fn new(sinks: Vec<Box<dyn Sink>>) -> Self {
        Emitter {
            sinks: Arc::new(Mutex::new(sinks)),
        }
    }

    pub fn emit(&self, kind: RunEvent) {
        let e = Event::now(kind);
        if let Ok(mut sinks) = self.sinks.lock() {
            for s in sinks.iter_mut() {
                s.event(&e);
            }
        }
    }

    pub fn finish(&self) {
        if let Ok(mut sinks) = self.sinks.lock() {
            for s in sinks.iter_mut() {
                s.finish();
            }
        }
    }
}
