//! `manual`: shows instructions and waits until the operator says the work is done.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::util::ShortForm;
use super::{ActionKind, Effect};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualSpec {
    /// What the operator must do (markdown). Default: the step's `doc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
}

impl ShortForm for ManualSpec {
    const SHORT: &'static str = "the instructions";
    fn from_short(s: String) -> Self {
        ManualSpec { instructions: Some(s) }
    }
}

impl ActionKind for ManualSpec {
    // A human changes something; we record who said it was done.
    fn effect(&self) -> Effect {
        Effect::Mutating
    }
    fn summary(&self) -> String {
        match &self.instructions {
            Some(i) => format!("operator does: {}", first_line(i)),
            None => "operator follows the step's doc".to_string(),
        }
    }
}

pub(crate) fn first_line(s: &str) -> String {
    let mut lines = s.trim().lines();
    let first = lines.next().unwrap_or("").to_string();
    if lines.next().is_some() {
        format!("{first} …")
    } else {
        first
    }
}
