//! Unit tests of approvals: signatures and allowed_signers, the policy that decides whether
//! one approval counts, saved plans' approvals (expiry, quorum), live decisions and their
//! tally, `audit verify`'s check of journaled approvals, the gatekeeper, and what the
//! terminal prompt accepts as an answer.

mod audit;
mod gatekeeper;
mod live;
mod plan_file;
mod policy;
mod prompter;
mod signature;
mod support;
