//! `plan --check`: the preflight. Evaluates a plan against the live systems before anything
//! runs (preconditions, read-only steps with known inputs, server-side dry runs of
//! Kubernetes writes) and says per step whether it is ready, would fail, or cannot be known
//! until an earlier step runs. Nothing mutating runs; nothing is journaled or locked.

mod action;
mod check;
mod model;
mod reads;
mod text;

pub use check::{Means, check};
pub use model::{CHECK_FORMAT, CheckLine, How, Preflight, Section, Status, StepCheck, Verdict};
pub use text::render as render_text;
