//! The engine: runs a plan's steps as a DAG on tokio, with gates, timeouts, retries,
//! rollback and events.

mod attempt;
mod context;
mod dispatch;
mod engine;
mod escalate;
mod gate;
mod guard;
mod leftovers;
mod measure;
mod retry;
mod rollback;
mod step;
mod sub;
mod undo;

pub use context::{RunInfo, Runtime};
pub use engine::{Engine, Resume, RunOptions};
pub use leftovers::{Leftover, leftovers};
// The events are the engine's output: callers that drive a run find them here too.
pub use crate::event::{Emitter, Event, RunEvent, RunStatus, Sink, StepStatus};
pub use step::Unit;
pub use sub::{Reach, reach};
