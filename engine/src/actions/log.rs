//! Running `log`: writes the line to the run's events.

use crate::spec::LogLine;

impl LogLine {
    pub fn execute(&self, cx: &super::ActionCx<'_>) -> super::Outcome {
        (cx.log)(self.0.clone());
        super::Outcome::ok(serde_json::json!({ "message": self.0 }))
    }
}
