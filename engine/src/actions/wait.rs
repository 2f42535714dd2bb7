//! `wait`: sleeps for a duration (a soak period between canary steps, say).

use super::{ActionKind, Effect};
use crate::playbook::Duration;

impl ActionKind for Duration {
    fn effect(&self) -> Effect {
        Effect::ReadOnly
    }
    fn summary(&self) -> String {
        self.to_string()
    }
}

impl Duration {
    /// Sleeps for the duration, or until the run is interrupted.
    pub async fn execute(&self, cx: &super::ActionCx<'_>) -> super::Outcome {
        let (mut cancel, mut settle) = (cx.cancel.clone(), cx.settle.clone());
        tokio::select! {
            _ = tokio::time::sleep(self.std()) => super::Outcome::ok(serde_json::Value::Null),
            _ = cancel.wait_for(|c| *c) => super::Outcome::fail("interrupted"),
            _ = settle.wait_for(|c| *c) => super::Outcome::fail("ended early: the run is failing"),
        }
    }
}
