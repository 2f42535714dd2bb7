//! What a run tells the world: the events (the journal's records, the display's lines, the
//! JSON stream) and the one thread that hands them, redacted, to every sink. Below the
//! engine, which emits them, and the journal and displays, which take them.

mod model;
mod sink;

pub use model::{Event, RunEvent, RunStatus, StepStatus};
pub use sink::{Emitter, Sink};
