//! The playbook's guards: Prometheus queries run beside the steps, each with the
//! expression that aborts the run.

use super::compiler::Compiler;
use super::model::*;
use super::refs::Scope;
use crate::playbook::Duration;
use crate::playbook::limits::MIN_GUARD_EVERY;
use crate::spec::Action;
use crate::yaml::Sp;

impl Compiler<'_> {
    /// The guards; they run beside the steps, so they may not read `steps.*`.
    pub(super) fn guards(&mut self) -> Vec<GuardPlan> {
        let mut out = Vec::new();
        let guards = self.lp.raw.guards.clone();
        for g in guards.iter().filter_map(|g| g.0.as_ref()) {
            // A guard queries Prometheus each period: a period near zero is a busy loop
            // against it. (Tests tick at 500ms; real guards at 15s or more.)
            if let Some(e) = &g.every
                && e.value.std() < MIN_GUARD_EVERY
            {
                self.error(
                    format!(
                        "guard `every` must be at least {}, not {}",
                        Duration(MIN_GUARD_EVERY),
                        e.value
                    ),
                    e.span,
                );
            }
            let action = Sp::new(g.prometheus.span, Action::Prometheus(g.prometheus.value.clone()));
            let steps_check = |id: &str| -> Result<(), String> {
                Err(format!("guards cannot read `steps.{id}`: they run beside the steps"))
            };
            let known = self.known.clone();
            let scope = Scope::of(&known, Some(&steps_check), false, None);
            let Some(planned) = self.plan_action(&action, None, &scope) else {
                continue;
            };
            let abort_scope = Scope::of(&known, Some(&steps_check), true, None);
            self.check_expr(&g.abort_if.value, g.abort_if.span, &abort_scope, "abort_if");
            out.push(GuardPlan {
                name: g.name.value.clone(),
                action: planned,
                abort_if: g.abort_if.value.clone(),
                every: g.every.as_ref().map(|e| e.value).unwrap_or(Duration::from_secs(30)),
            });
        }
        out
    }
}
