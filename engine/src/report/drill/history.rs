//! A drill's history: its last runs, one row each with its outcome and measures, and the
//! trend of each measure across them.

use indexmap::IndexMap;
use serde::Serialize;

use super::model::{MeasureRow, REPORT_FORMAT, RunReport};

#[derive(Debug, Clone, Serialize)]
pub struct History {
    pub format: u32,
    pub playbook: String,
    /// Oldest first.
    pub runs: Vec<HistoryRow>,
    /// One per measure any of the runs recorded, in the order they first appear.
    pub trends: Vec<Trend>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryRow {
    pub run: String,
    pub started: String,
    pub env: String,
    pub user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Its journal's hash chain verifies.
    pub verified: bool,
    pub measures: Vec<MeasureRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Trend {
    pub name: String,
    /// The target of the newest run that recorded it.
    pub target_seconds: f64,
    /// One per run, oldest first; `None` where the run did not measure it.
    pub values: Vec<Option<f64>>,
    /// Runs that met it, of those that recorded it.
    pub met: usize,
    pub recorded: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worst: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    /// The newest value against the mean of those before it (lower is better: a measure is
    /// a time or an age with a ceiling): `better`, `worse`, `steady`, or `unknown` with
    /// fewer than two values.
    pub direction: String,
}

/// Within this fraction of the earlier mean, a value is `steady`.
const STEADY: f64 = 0.05;

impl History {
    /// `runs`: the reports of the drill's runs, oldest first.
    pub fn build(playbook: &str, runs: &[RunReport]) -> History {
        let mut names: IndexMap<String, f64> = IndexMap::new();
        for r in runs {
            for m in &r.measures {
                // The newest target wins: a drill's objective may have been tightened.
                names.insert(m.name.clone(), m.target_seconds);
            }
        }
        let trends = names
            .into_iter()
            .map(|(name, target_seconds)| {
                let rows: Vec<Option<&MeasureRow>> = runs
                    .iter()
                    .map(|r| r.measures.iter().find(|m| m.name == name))
                    .collect();
                let values: Vec<Option<f64>> = rows.iter().map(|m| m.and_then(|m| m.value_seconds)).collect();
                let known: Vec<f64> = values.iter().flatten().copied().collect();
                let direction = match known.split_last() {
                    Some((last, before)) if !before.is_empty() => {
                        let mean = before.iter().sum::<f64>() / before.len() as f64;
                        let tolerance = (mean.abs() * STEADY).max(0.001);
                        if *last < mean - tolerance {
                            "better"
                        } else if *last > mean + tolerance {
                            "worse"
                        } else {
                            "steady"
                        }
                    }
                    _ => "unknown",
                };
                Trend {
                    name,
                    target_seconds,
                    met: rows.iter().flatten().filter(|m| m.met).count(),
                    recorded: rows.iter().flatten().count(),
                    best: known.iter().copied().reduce(f64::min),
                    worst: known.iter().copied().reduce(f64::max),
                    mean: (!known.is_empty()).then(|| known.iter().sum::<f64>() / known.len() as f64),
                    direction: direction.into(),
                    values,
                }
            })
            .collect();
        History {
            format: REPORT_FORMAT,
            playbook: playbook.to_string(),
            runs: runs
                .iter()
                .map(|r| HistoryRow {
                    run: r.header.run.clone(),
                    started: r.header.started.clone(),
                    env: r.header.env.clone(),
                    user: r.header.user.clone(),
                    trigger: r.header.trigger.clone(),
                    outcome: r.header.outcome.clone(),
                    exit_code: r.header.exit_code,
                    duration_ms: r.header.duration_ms,
                    verified: r.header.journal.verified,
                    measures: r.measures.clone(),
                })
                .collect(),
            trends,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::{Header, JournalCheck};
    use super::*;

    fn run(id: &str, rto: Option<f64>) -> RunReport {
        RunReport {
            format: 1,
            header: Header {
                run: id.into(),
                outcome: "succeeded".into(),
                journal: JournalCheck {
                    verified: true,
                    records: 3,
                    detail: String::new(),
                },
                ..Header::default()
            },
            timeline: vec![],
            gates: vec![],
            escalations: vec![],
            rollbacks: vec![],
            failures: vec![],
            outputs: vec![],
            measures: vec![MeasureRow {
                name: "rto".into(),
                description: None,
                measures: "a.started → b.finished".into(),
                value_seconds: rto,
                target_seconds: 60.0,
                met: rto.is_some_and(|v| v <= 60.0),
                on_miss: "warn".into(),
                reason: rto.is_none().then(|| "not measured".into()),
            }],
            dag: None,
            remaining_undo: vec![],
        }
    }

    #[test]
    fn the_trend_compares_the_newest_run_with_those_before() {
        let h = History::build("drill", &[run("1", Some(50.0)), run("2", None), run("3", Some(70.0))]);
        let t = &h.trends[0];
        assert_eq!(t.values, vec![Some(50.0), None, Some(70.0)]);
        assert_eq!((t.met, t.recorded), (1, 3));
        assert_eq!((t.best, t.worst, t.mean), (Some(50.0), Some(70.0), Some(60.0)));
        assert_eq!(t.direction, "worse");
        let h = History::build("drill", &[run("1", Some(50.0)), run("2", Some(40.0))]);
        assert_eq!(h.trends[0].direction, "better");
        let h = History::build("drill", &[run("1", Some(50.0)), run("2", Some(51.0))]);
        assert_eq!(h.trends[0].direction, "steady");
        let h = History::build("drill", &[run("1", Some(50.0))]);
        assert_eq!(h.trends[0].direction, "unknown");
    }
}
