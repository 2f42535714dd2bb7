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
