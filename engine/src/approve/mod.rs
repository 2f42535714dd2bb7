//! Where answers to gates come from: the terminal, `--approve` flags; and the rules that
//! decide each gate (fail closed without a terminal).

mod gatekeeper;
pub mod live;
mod plan_file;
mod prompter;
pub mod signature;

pub use gatekeeper::{Answer, Gatekeeper};
pub use plan_file::satisfies;
pub use prompter::{PromptError, Prompter, Terminal};
