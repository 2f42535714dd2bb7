//! Running `wait`: sleeps, ending early when the run is failing or interrupted.

use crate::spec::WaitFor;
use crate::wake::Woke;

impl WaitFor {
    /// Sleeps for the duration, or until the run is failing or interrupted.
    pub async fn execute(&self, cx: &super::ActionCx<'_>) -> super::Outcome {
        let Some(d) = self.known() else {
            return super::Outcome::fail(format!("`wait: {self}` did not render to a duration"));
        };
        match cx.waits.sleep(d.std()).await {
            Woke::Elapsed => super::Outcome::ok(serde_json::Value::Null),
            woke => super::Outcome::fail(super::cut_short(woke)),
        }
    }
}
