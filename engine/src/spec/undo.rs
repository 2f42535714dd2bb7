//! The undo of an action run, captured before the change: data the engine runs at rollback
//! and the journal keeps (`journal::journal_undo` leaves a Secret's data out).

use super::Action;

/// The undo of one action run, from the state it saw before changing it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Undo {
    /// The state already held (or the change never happened): nothing to undo.
    Nothing,
    /// Run this action.
    Run(Box<Action>),
}
