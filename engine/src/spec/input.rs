//! `input`: asks the operator for a value or one of a set of choices (`result.value`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::util::ShortForm;
use super::{ActionKind, Effect};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    pub prompt: String,
    /// The allowed answers; without them any text is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<String>>,
    /// A regex the answer must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

impl ShortForm for InputSpec {
    const SHORT: &'static str = "the prompt";
    fn from_short(prompt: String) -> Self {
        InputSpec {
            prompt,
            choices: None,
            pattern: None,
            default: None,
        }
    }
}

impl ActionKind for InputSpec {
    fn effect(&self) -> Effect {
        Effect::ReadOnly
    }
    fn summary(&self) -> String {
        match &self.choices {
            Some(c) => format!("ask: {} [{}]", self.prompt, c.join(" | ")),
            None => format!("ask: {}", self.prompt),
        }
    }
}
