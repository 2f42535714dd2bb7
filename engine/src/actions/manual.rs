//! Running `manual`: shows the instructions and waits until the operator says the work is done.

use crate::spec::ManualSpec;

impl ManualSpec {
    /// Shows the instructions and waits for the operator's "done"; without a terminal,
    /// `--input STEP=done` says it was done.
    pub async fn execute(&self, cx: &super::ActionCx<'_>) -> super::Outcome {
        let text = self.instructions.as_deref().or(cx.doc).unwrap_or("(no instructions)");
        if let Some(answer) = cx.inputs.get(cx.step) {
            return if answer == "done" {
                super::Outcome::ok(serde_json::json!({ "done": true, "how": "--input" }))
            } else {
                super::Outcome::fail(format!("--input {}={answer}: a manual step takes `done`", cx.step))
            };
        }
        let shown = cx
            .redact
            .redact(&format!("Manual step `{}`:\n{text}", cx.step))
            .into_owned();
        match cx.prompter.confirm("Done?", &shown, &cx.waits).await {
            Ok(true) => super::Outcome::ok(serde_json::json!({ "done": true, "how": "terminal" })),
            Ok(false) => super::Outcome::fail("the operator did not confirm the manual step as done"),
            Err(crate::approve::PromptError::Withdrawn(why)) => super::Outcome::fail(format!("not done: {why}")),
            Err(why) => super::Outcome {
                refused: true,
                error: Some(format!(
                    "manual step `{}` needs an operator and {why}: when it is done, run with --input {}=done",
                    cx.step, cx.step
                )),
                ..Default::default()
            },
        }
    }
}
