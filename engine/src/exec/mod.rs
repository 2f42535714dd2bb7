//! The engine: runs a plan's steps as a DAG on tokio, with gates, timeouts, retries,
//! rollback and events.

mod attempt;
mod context;
mod dispatch;
mod engine;
mod escalate;
mod event;
mod gate;
mod guard;
mod leftovers;
mod measure;
mod retry;
mod rollback;
mod sink;
mod step;
mod sub;
mod undo;

pub use context::{RunInfo, Runtime};
pub use engine::{Engine, Resume, RunOptions};
pub use event::{Event, RunEvent, RunStatus, StepStatus};
pub use leftovers::{Leftover, leftovers};
pub use sink::{Emitter, Sink};
pub use step::Unit;
pub use sub::{Reach, reach};
