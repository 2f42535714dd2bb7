//! `assert`: an expression that must hold, or the step fails with its `message`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ActionKind, Effect};

/// The expression of an `assert` action, e.g. `steps.baseline.value < 0.01`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct AssertExpr(pub String);

impl ActionKind for AssertExpr {
    fn effect(&self) -> Effect {
        Effect::ReadOnly
    }
    fn summary(&self) -> String {
        self.0.clone()
    }
}

impl AssertExpr {
    pub fn execute(&self, cx: &super::ActionCx<'_>, message: Option<&str>) -> super::Outcome {
        match (cx.eval)(&self.0, &[]) {
            Ok(v) if crate::exec::truthy(&v) => super::Outcome::ok(serde_json::json!({ "value": v })),
            Ok(v) => super::Outcome::fail(match message {
                Some(m) => format!("{m} (`{}` is {v})", self.0),
                None => format!("`{}` does not hold ({v})", self.0),
            }),
            Err(e) => super::Outcome::fail(format!("assert `{}`: {e}", self.0)),
        }
    }
}
