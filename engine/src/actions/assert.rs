//! Running `assert`: evaluates the expression; the step fails with its `message` when it does not hold.

use crate::spec::AssertExpr;

impl AssertExpr {
    pub fn execute(&self, cx: &super::ActionCx<'_>, message: Option<&str>) -> super::Outcome {
        match (cx.eval)(&self.0, &[]) {
            Ok(v) if crate::expr::truthy(&v) => super::Outcome::ok(serde_json::json!({ "value": v })),
            Ok(v) => super::Outcome::fail(match message {
                Some(m) => format!("{m} (`{}` is {v})", self.0),
                None => format!("`{}` does not hold ({v})", self.0),
            }),
            Err(e) => super::Outcome::fail(format!("assert `{}`: {e}", self.0)),
        }
    }
}
