//! The serde types of playbook files and `runbook.yaml`, and loading them from a workspace.

mod action_fields;
pub mod contacts;
pub mod limits;
mod load;
mod raw;
mod workspace;

pub use crate::spec::Duration;
pub use action_fields::ACTION_KEYS;
pub use contacts::Contacts;
pub use load::*;
pub use raw::*;
pub use workspace::*;
