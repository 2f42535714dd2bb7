//! Where answers to gates come from: the terminal, `--approve` flags, saved plans' and other
//! people's (signed) approvals; and the rules that decide each gate (fail closed without a
//! terminal).

mod agent;
pub mod audit;
mod gatekeeper;
pub mod live;
mod plan_file;
mod policy;
mod prompter;
pub mod signature;
#[cfg(test)]
mod tests;

pub use gatekeeper::{Answer, Gatekeeper};
pub use plan_file::{DEFAULT_APPROVAL_TTL, check_saved, satisfies, statement};
pub use policy::{ApprovalPolicy, DEFAULT_ALLOWED_SIGNERS};
pub use prompter::{PromptError, Prompter, Terminal};
pub use signature::SignedApproval;
