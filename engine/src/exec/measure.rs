//! Measures (`measures:`): computed once a run is over, from the moments the engine itself saw
//! its steps start and finish (a monotonic clock, not the journal's wall-clock stamps), and
//! from expressions over the steps' results and outputs.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use serde_json::Value as Json;

use crate::compile::{Edge, Measure, Measured, Moment};
use crate::event::{RunEvent, StepStatus};

/// When a step started and finished, as the engine saw it.
#[derive(Debug, Clone, Copy, Default)]
struct Times {
    /// Its action began: the first `step_started` (of any attempt or iteration) was on disk.
    started: Option<Instant>,
    /// It ended, and how: for a `for_each` step, once its last iteration had ended.
    finished: Option<(Instant, StepStatus)>,
}

/// The moments of a run's steps, by step id.
#[derive(Debug, Default)]
pub struct Clock {
    steps: Mutex<HashMap<String, Times>>,
}

impl Clock {
    /// The step's action began; only the first time counts (its first attempt, its first
    /// iteration).
    pub fn started(&self, step: &str, at: Instant) {
        let mut steps = self.steps.lock().unwrap_or_else(PoisonError::into_inner);
        steps.entry(step.to_string()).or_default().started.get_or_insert(at);
    }

    /// The step ended (a `for_each` step: all its iterations).
    pub fn finished(&self, step: &str, at: Instant, status: StepStatus) {
        let mut steps = self.steps.lock().unwrap_or_else(PoisonError::into_inner);
        steps.entry(step.to_string()).or_default().finished = Some((at, status));
    }

    fn times(&self, step: &str) -> Times {
        let steps = self.steps.lock().unwrap_or_else(PoisonError::into_inner);
        steps.get(step).copied().unwrap_or_default()
    }

    /// The instant of a moment, or why there is none.
    fn moment(&self, m: &Moment, resumed: &HashSet<String>) -> Result<Instant, String> {
        let t = self.times(&m.step);
        let step = &m.step;
        let unknown = || {
            if resumed.contains(step) {
                format!("`{step}` ran before the run was resumed: this run did not see its time")
            } else {
                match t.finished {
                    Some((_, StepStatus::Skipped)) => format!("`{step}` was skipped"),
                    Some((_, StepStatus::Declined)) => format!("`{step}` was declined"),
                    Some((_, s)) => format!("`{step}` ended {} before its action began", status_text(s)),
                    None => format!("`{step}` did not run"),
                }
            }
        };
        match m.at {
            Edge::Started => t.started.ok_or_else(unknown),
            Edge::Finished => match t.finished {
                Some((at, StepStatus::Ok)) => Ok(at),
                Some((_, s)) if t.started.is_some() => Err(format!("`{step}` ended {}", status_text(s))),
                Some(_) => Err(unknown()),
                None if t.started.is_some() => Err(format!("`{step}` started but did not finish")),
                None => Err(unknown()),
            },
        }
    }
}

fn status_text(s: StepStatus) -> &'static str {
    match s {
        StepStatus::Ok => "ok",
        StepStatus::Failed => "failed",
        StepStatus::TimedOut => "timed out",
        StepStatus::Skipped => "skipped",
        StepStatus::Declined => "declined",
    }
}

/// Computes one measure into its event. `eval` evaluates an expression over the run's
/// values; `resumed` holds the steps a resumed run had finished before it stopped.
pub fn compute(
    m: &Measure,
    clock: &Clock,
    eval: &dyn Fn(&str) -> Result<Json, String>,
    resumed: &HashSet<String>,
) -> RunEvent {
    let value = match &m.measures {
        Measured::Between { from, to } => clock.moment(from, resumed).and_then(|start| {
            let end = clock.moment(to, resumed)?;
            Ok(if end >= start {
                end.duration_since(start).as_secs_f64()
            } else {
                -start.duration_since(end).as_secs_f64()
            })
        }),
        Measured::Value { expr } => match eval(expr) {
            Ok(v) => seconds(&v).ok_or_else(|| format!("`{expr}` is not a number of seconds: {v}")),
            Err(e) => Err(format!("`{expr}`: {e}")),
        },
    };
    let target = m.target.std().as_secs_f64();
    let (value, reason) = match value {
        // To the millisecond: what a person reads, and what the journal's JSON keeps exactly.
        Ok(v) => (Some((v * 1000.0).round() / 1000.0), None),
        Err(why) => (None, Some(format!("not measured: {why}"))),
    };
    RunEvent::Measure {
        name: m.name.clone(),
        description: m.description.clone(),
        measures: m.measures.text(),
        value_seconds: value,
        target_seconds: target,
        met: value.is_some_and(|v| v <= target),
        on_miss: m.on_miss,
        reason,
    }
}

/// A number of seconds: a finite number, or a string that reads as one (an output rendered
/// through a template).
fn seconds(v: &Json) -> Option<f64> {
    let n = match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }?;
    n.is_finite().then_some(n)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::playbook::OnMiss;

    fn between(from: &str, to: &str, target_secs: u64) -> Measure {
        Measure {
            name: "rto".into(),
            description: None,
            measures: Measured::Between {
                from: Moment::parse(from).unwrap(),
                to: Moment::parse(to).unwrap(),
            },
            target: crate::playbook::Duration::from_secs(target_secs),
            on_miss: OnMiss::Fail,
        }
    }

    fn value(expr: &str, target_secs: u64) -> Measure {
        Measure {
            name: "rpo".into(),
            description: Some("age of the newest snapshot".into()),
            measures: Measured::Value { expr: expr.into() },
            target: crate::playbook::Duration::from_secs(target_secs),
            on_miss: OnMiss::Warn,
        }
    }

    fn no_eval(_: &str) -> Result<Json, String> {
        Err("no values".into())
    }

    /// (value, met, reason) of a measure event.
    fn outcome(e: RunEvent) -> (Option<f64>, bool, Option<String>) {
        match e {
            RunEvent::Measure {
                value_seconds,
                met,
                reason,
                ..
            } => (value_seconds, met, reason),
            other => panic!("not a measure: {other:?}"),
        }
    }

    #[test]
    fn the_time_between_two_moments_is_measured_against_the_target() {
        let clock = Clock::default();
        let t0 = Instant::now();
        clock.started("restore", t0 + Duration::from_millis(100));
        // A retry or a later iteration does not move the start.
        clock.started("restore", t0 + Duration::from_millis(900));
        clock.finished("restore", t0 + Duration::from_secs(5), StepStatus::Ok);
        clock.started("verify", t0 + Duration::from_secs(6));
        clock.finished("verify", t0 + Duration::from_millis(12_345), StepStatus::Ok);
        let none = HashSet::new();
        let m = between("restore.started", "verify.finished", 30);
        assert_eq!(
            outcome(compute(&m, &clock, &no_eval, &none)),
            (Some(12.245), true, None)
        );
        let m = between("restore.finished", "verify.finished", 7);
        assert_eq!(
            outcome(compute(&m, &clock, &no_eval, &none)),
            (Some(7.345), false, None)
        );
        // The target is a bound: exactly at it is met.
        let m = between("restore.finished", "verify.started", 1);
        assert_eq!(outcome(compute(&m, &clock, &no_eval, &none)), (Some(1.0), true, None));
        // Measured backwards (to before from): negative, said as it is.
        let m = between("verify.finished", "restore.started", 1);
        assert_eq!(outcome(compute(&m, &clock, &no_eval, &none)).0, Some(-12.245));
    }

    #[test]
    fn a_moment_that_never_came_leaves_the_measure_unmeasured_and_unmet() {
        let clock = Clock::default();
        let t0 = Instant::now();
        clock.started("restore", t0);
        clock.finished("restore", t0 + Duration::from_secs(1), StepStatus::Failed);
        clock.finished("gate", t0, StepStatus::Skipped);
        clock.started("slow", t0);
        let none = HashSet::new();
        for (to, why) in [
            ("restore.finished", "not measured: `restore` ended failed"),
            ("verify.finished", "not measured: `verify` did not run"),
            ("gate.started", "not measured: `gate` was skipped"),
            ("slow.finished", "not measured: `slow` started but did not finish"),
        ] {
            let m = between("restore.started", to, 30);
            assert_eq!(
                outcome(compute(&m, &clock, &no_eval, &none)),
                (None, false, Some(why.to_string())),
                "{to}"
            );
        }
        let resumed: HashSet<String> = ["early".to_string()].into();
        let m = between("early.finished", "restore.started", 30);
        let (_, met, why) = outcome(compute(&m, &clock, &no_eval, &resumed));
        assert!(!met && why.is_some_and(|w| w.contains("before the run was resumed")));
    }

    #[test]
    fn a_value_is_an_expression_in_seconds() {
        let clock = Clock::default();
        let none = HashSet::new();
        let eval = |expr: &str| -> Result<Json, String> {
            match expr {
                "steps.latest.age_seconds" => Ok(serde_json::json!(3600.25)),
                "steps.latest.text" => Ok(serde_json::json!(" 90 ")),
                "steps.latest.id" => Ok(serde_json::json!("snap-1")),
                _ => Err("undefined value".into()),
            }
        };
        let m = value("steps.latest.age_seconds", 24 * 3600);
        assert_eq!(outcome(compute(&m, &clock, &eval, &none)), (Some(3600.25), true, None));
        let m = value("steps.latest.text", 60);
        assert_eq!(outcome(compute(&m, &clock, &eval, &none)), (Some(90.0), false, None));
        let m = value("steps.latest.id", 60);
        assert_eq!(
            outcome(compute(&m, &clock, &eval, &none)).2.as_deref(),
            Some("not measured: `steps.latest.id` is not a number of seconds: \"snap-1\"")
        );
        let m = value("steps.gone.age", 60);
        assert_eq!(
            outcome(compute(&m, &clock, &eval, &none)).2.as_deref(),
            Some("not measured: `steps.gone.age`: undefined value")
        );
    }
}
