//! `log`: writes a line to the progress display and the journal.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ActionKind, Effect};

/// The message of a `log` action (a template).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct LogLine(pub String);

impl ActionKind for LogLine {
    fn effect(&self) -> Effect {
        Effect::ReadOnly
    }
    fn summary(&self) -> String {
        self.0.clone()
    }
}
