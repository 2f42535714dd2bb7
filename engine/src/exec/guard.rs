//! Guards: metric watchers that run beside the steps. Each runs its query every `every`;
//! when `abort_if` holds the run fails into rollback, naming the guard and the value seen.
//! A query that cannot be answered is reported and does not trip the guard: an outage of
//! the metrics system is not a reason to undo a healthy change.

use std::time::{Duration, Instant};

use super::engine::Engine;
use crate::event::RunEvent;
use crate::wake::{Waits, Woke};

/// A guard that tripped.
pub struct Tripped {
    pub guard: String,
    pub value: serde_json::Value,
    pub abort_if: String,
}

impl Engine {
    /// Watches the plan's guards until one trips, or the run settles or stops (`None`).
    pub(super) async fn watch_guards(&self, waits: Waits) -> Option<Tripped> {
        let guards = &self.plan.guards;
        let mut next: Vec<Instant> = guards.iter().map(|_| Instant::now()).collect();
        loop {
            let now = Instant::now();
            for (i, g) in guards.iter().enumerate() {
                if now < next[i] {
                    continue;
                }
                next[i] = crate::wake::deadline(g.every.std());
                let label = format!("guard {}", g.name);
                let timeout = g.every.std().max(Duration::from_secs(5));
                let o = self
                    .run_action_with(&label, (None, None), &g.action, &[], timeout, &waits)
                    .await;
                if !o.ok {
                    self.emit(RunEvent::Log {
                        step: None,
                        message: format!(
                            "{label}: cannot check ({}); not tripping on a missing value",
                            o.error.unwrap_or_default()
                        ),
                    });
                    continue;
                }
                let value = o.result.get("value").cloned().unwrap_or(serde_json::Value::Null);
                let extra = [("value", value.clone()), ("result", o.result.clone())];
                match self.rt.eval(&g.abort_if, &extra) {
                    Ok(v) if crate::expr::truthy(&v) => {
                        return Some(Tripped {
                            guard: g.name.clone(),
                            value,
                            abort_if: g.abort_if.clone(),
                        });
                    }
                    Ok(_) => {}
                    Err(e) => self.emit(RunEvent::Log {
                        step: None,
                        message: format!("{label}: abort_if `{}`: {e}", g.abort_if),
                    }),
                }
            }
            let wake = next.iter().min().copied().unwrap_or(now);
            // At least a moment between rounds, whatever `every` says.
            let pause = wake
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(100));
            if waits.sleep(pause).await != Woke::Elapsed {
                return None;
            }
        }
    }
}
