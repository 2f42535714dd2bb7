//! The audit journal: one hash-chained JSON-lines file per run, fsync'd where it matters,
//! an index of runs, and the verification that finds tampering.

mod past;
mod record;
#[cfg(test)]
mod tests;
mod undo;
mod verify;
mod writer;

pub use past::{Past, read_past};
pub use record::{Record, ZERO_HASH, record_hash};
pub use undo::{REDACTED_SECRET, journal_undo};
pub use verify::{Verdict, verify_file};
pub use writer::JournalSink;
// Where journals live; re-exported because the journal is what most callers want it for.
pub use crate::state::{IndexLine, RunSummary, StateDir};
