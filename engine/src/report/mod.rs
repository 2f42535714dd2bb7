//! What people see of runs: the sinks that show one as it goes (JSON lines, plain lines, a
//! live progress display), and the drill reports made from journals afterwards.

pub mod drill;
mod json;
mod progress;
mod summary;

pub use json::JsonLines;
pub use progress::Progress;
