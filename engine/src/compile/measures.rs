//! The playbook's measures: the time between two step moments, or a value computed when
//! the run has ended, each with its target.

use super::compiler::{Compiler, valid_id};
use super::graph::StepList;
use super::model::*;
use super::refs::Scope;
use crate::playbook::{LoadedPlaybook, OnMiss};
use crate::yaml::{Sp, suggest_name};

impl<'a> Compiler<'a> {
    /// Checks the measures: `from` and `to` name steps of the playbook as `STEP.started` or
    /// `STEP.finished`, or `value` is an expression that may read any step (it is computed
    /// when the run has ended, like a `finally` step's templates); the target is a duration.
    pub(super) fn measures(&mut self, lists: [&StepList; 3]) -> Vec<Measure> {
        let lp: &'a LoadedPlaybook = self.lp;
        let node = lp.node.get("measures");
        let mut ids: Vec<&str> = lists
            .iter()
            .flat_map(|l| l.raws.iter().map(|(r, _)| r.id.value.as_str()))
            .collect();
        ids.sort();
        let broken = |id: &str| lists.iter().any(|l| l.broken.contains(id));
        let mut out = Vec::new();
        for (name, spec) in &lp.raw.measures {
            let Some(spec) = &spec.0 else { continue };
            let before = self.diags.mark();
            if !valid_id(name) {
                let span = node.and_then(|n| n.key_span(name)).unwrap_or(spec.span);
                self.error(
                    format!("measure name `{name}` is not valid: use lowercase letters, digits, `-` and `_`"),
                    span,
                );
            }
            let moment = |c: &mut Self, which: &str, v: &Sp<String>| -> Option<Moment> {
                match Moment::parse(&v.value) {
                    Err(why) => {
                        c.error(format!("measure `{name}`: `{which}`: {why}"), v.span).help =
                            Some("write it as `STEP.started` or `STEP.finished`".into());
                        None
                    }
                    Ok(m) if !ids.contains(&m.step.as_str()) && !broken(&m.step) => {
                        c.error(
                            format!("measure `{name}`: `{which}` names unknown step `{}`", m.step),
                            v.span,
                        )
                        .help = Some(suggest_name(&m.step, &ids, "step"));
                        None
                    }
                    Ok(m) => Some(m),
                }
            };
            let m = &spec.value;
            let measured = match (&m.from, &m.to, &m.value) {
                (Some(from), Some(to), None) => {
                    let (f, t) = (moment(self, "from", from), moment(self, "to", to));
                    match (f, t) {
                        (Some(from), Some(to))
                            if from.step == to.step && !(from.at == Edge::Started && to.at == Edge::Finished) =>
                        {
                            self.error(
                                format!(
                                    "measure `{name}` runs from `{from}` to `{to}`: a step ends after it starts, so this measures nothing"
                                ),
                                spec.span,
                            );
                            None
                        }
                        (Some(from), Some(to)) => Some(Measured::Between { from, to }),
                        _ => None,
                    }
                }
                (None, None, Some(expr)) => {
                    let any_step = |id: &str| -> Result<(), String> {
                        if ids.contains(&id) || broken(id) {
                            Ok(())
                        } else {
                            Err(format!(
                                "undefined step `steps.{id}` ({})",
                                suggest_name(id, &ids, "step")
                            ))
                        }
                    };
                    let known = self.known.clone();
                    let scope = Scope::of(&known, Some(&any_step), false, None);
                    let names = self.check_expr(&expr.value, expr.span, &scope, &format!("measure `{name}` value"));
                    match names {
                        // A number is journaled as it is: the redactor cannot hide it.
                        Some(n) if n.iter().any(|n| n.starts_with("secrets")) => {
                            self.error(
                                format!("measure `{name}` reads a secret, and its value is journaled and shown"),
                                expr.span,
                            );
                            None
                        }
                        Some(_) => Some(Measured::Value {
                            expr: expr.value.clone(),
                        }),
                        None => None,
                    }
                }
                (from, to, value) => {
                    let what = if value.is_some() {
                        "has both `value` and `from`/`to`: it measures one or the other"
                    } else if from.is_none() && to.is_none() {
                        "says nothing to measure"
                    } else if from.is_none() {
                        "has `to` without `from`"
                    } else {
                        "has `from` without `to`"
                    };
                    self.error(format!("measure `{name}` {what}"), spec.span).help = Some(
                        "a measure is either `from: STEP.started|finished` with `to: ...`, or `value: EXPRESSION` (seconds)"
                            .into(),
                    );
                    None
                }
            };
            if let (Some(measures), false) = (measured, self.diags.errors_since(before)) {
                out.push(Measure {
                    name: name.clone(),
                    description: m.description.clone(),
                    measures,
                    target: m.target.value,
                    on_miss: m.on_miss.unwrap_or(OnMiss::Warn),
                });
            }
        }
        out
    }
}
