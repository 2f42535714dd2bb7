//! Running `input`: asks the operator (or reads `--input STEP=VALUE`) for `result.value`.

use crate::spec::InputSpec;

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
