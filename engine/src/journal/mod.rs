//! The audit journal: one hash-chained JSON-lines file per run, fsync'd where it matters,
//! an index of runs, and the verification that finds tampering.

mod past;
mod record;
mod store;
#[cfg(test)]
mod tests;
mod verify;
mod writer;

pub use past::{Past, read_past};
pub use record::{Record, ZERO_HASH, record_hash};
pub use store::{RunSummary, StateDir};
pub use verify::{Verdict, verify_file};
pub use writer::JournalSink;
