//! The plan: the compiled DAG in waves, with a stable hash, and its text, JSON, Mermaid and
//! DOT renderings.

mod graph;
mod hash;
mod model;
mod text;

pub use graph::{dot, mermaid};
pub use hash::canonical;
pub use model::{PLAN_FORMAT, Plan, PlanApproval, PlanBody, PlaybookInfo, SubPlan};
pub use text::render as render_text;
