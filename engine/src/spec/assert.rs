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
