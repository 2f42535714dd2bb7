//! The sinks that show a run: JSON lines, plain lines, a live progress display.

mod json;
mod progress;
mod summary;

pub use json::JsonLines;
pub use progress::Progress;
