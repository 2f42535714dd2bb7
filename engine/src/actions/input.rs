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

impl InputSpec {
    /// Asks for a value (`result.value`): at the terminal, or from `--input STEP=VALUE`.
    pub async fn execute(&self, cx: &super::ActionCx<'_>) -> super::Outcome {
        let answer = match cx.inputs.get(cx.step) {
            Some(v) => v.clone(),
            None => match cx
                .prompter
                .input(
                    &cx.redact.redact(&self.prompt),
                    self.choices.as_deref(),
                    self.default.as_deref(),
                    &cx.waits,
                )
                .await
            {
                Ok(v) => v,
                Err(crate::approve::PromptError::Withdrawn(why)) => {
                    return super::Outcome::fail(format!("no answer: {why}"));
                }
                Err(why) => {
                    return super::Outcome {
                        refused: true,
                        error: Some(format!(
                            "step `{}` asks \"{}\" and {why}: answer with --input {}=VALUE",
                            cx.step, self.prompt, cx.step
                        )),
                        ..Default::default()
                    };
                }
            },
        };
        if let Some(choices) = &self.choices
            && !choices.contains(&answer)
        {
            return super::Outcome::fail(format!("`{answer}` is not one of: {}", choices.join(", ")));
        }
        if let Some(p) = &self.pattern {
            match regex::Regex::new(&format!("^(?:{p})$")) {
                Ok(re) if !re.is_match(&answer) => {
                    return super::Outcome::fail(format!("`{answer}` does not match pattern `{p}`"));
                }
                Err(e) => return super::Outcome::fail(format!("invalid pattern `{p}`: {e}")),
                _ => {}
            }
        }
        super::Outcome::ok(serde_json::json!({ "value": answer }))
    }
}
