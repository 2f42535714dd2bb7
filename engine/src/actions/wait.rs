//! `wait`: sleeps for a duration (a soak period between canary steps, say).

use super::{ActionKind, Effect};
use crate::playbook::Duration;
use crate::wake::Woke;

impl ActionKind for Duration {
    fn effect(&self) -> Effect {
        Effect::ReadOnly
    }
    fn summary(&self) -> String {
        self.to_string()
    }
}

impl Duration {
    /// Sleeps for the duration, or until the run is failing or interrupted.
    pub async fn execute(&self, cx: &super::ActionCx<'_>) -> super::Outcome {
        match cx.waits.sleep(self.std()).await {
            Woke::Elapsed => super::Outcome::ok(serde_json::Value::Null),
            woke => super::Outcome::fail(super::cut_short(woke)),
        }
    }
}
