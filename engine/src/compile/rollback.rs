//! A step's rollback: `auto` when its action can undo itself, else one action or a list,
//! each checked like a step's action and allowed to read the step's own outputs.

use super::compiler::Compiler;
use super::model::*;
use super::refs::Scope;
use super::steps::check_retry;
use crate::playbook::{ACTION_KEYS, RawStep, Rollback, RollbackAction};
use crate::source::Span;
use crate::yaml::{Node, NodeKind};

impl Compiler<'_> {
    /// The step's rollback plan; `id` is the step's, whose outputs the rollback may read.
    pub(super) fn rollback(
        &mut self,
        raw: &RawStep,
        node: Option<&Node>,
        action: Option<&PlannedAction>,
        steps_check: &dyn Fn(&str) -> Result<(), String>,
        lv: Option<&str>,
        id: &str,
    ) -> Option<RollbackPlan> {
        let rb = raw.rollback.as_ref()?;
        // A rollback runs after its step, so it may read the step's own outputs.
        let own = |s: &str| if s == id { Ok(()) } else { steps_check(s) };
        match &rb.value {
            Rollback::Auto => match action.map(|a| a.spec.auto_rollback()) {
                // The action itself did not compile; its error is reported already.
                None if !raw.actions().is_empty() => None,
                Some(Some(d)) => Some(RollbackPlan::Auto {
                    description: d.to_string(),
                }),
                _ => {
                    let what = action
                        .map(|a| format!("`{}`", a.spec.key()))
                        .unwrap_or("this step".into());
                    self.error(
                        format!("`rollback: auto` needs an action that can undo itself; {what} cannot"),
                        rb.span,
                    )
                    .help = Some("write the rollback action instead: `rollback: { shell: ... }`".into());
                    None
                }
            },
            Rollback::One(one) => {
                let rnode = node.and_then(|n| n.get("rollback"));
                let step = self.rollback_step(one, rb.span, rnode, &own, lv)?;
                Some(RollbackPlan::Steps(vec![step]))
            }
            Rollback::Many(list) => {
                let nodes: Vec<&Node> = match node.and_then(|n| n.get("rollback")).map(|n| &n.kind) {
                    Some(NodeKind::Seq(items)) => items.iter().collect(),
                    _ => Vec::new(),
                };
                let mut steps = Vec::new();
                for (i, r) in list.iter().enumerate() {
                    if let Some(s) = self.rollback_step(&r.value, r.span, nodes.get(i).copied(), &own, lv) {
                        steps.push(s);
                    }
                }
                if list.is_empty() {
                    self.error("an empty rollback list undoes nothing; remove `rollback`", rb.span);
                }
                Some(RollbackPlan::Steps(steps))
            }
        }
    }

    /// One rollback entry: exactly one action, with its own retry and timeout.
    fn rollback_step(
        &mut self,
        r: &RollbackAction,
        span: Span,
        node: Option<&Node>,
        steps_check: &dyn Fn(&str) -> Result<(), String>,
        lv: Option<&str>,
    ) -> Option<RollbackStep> {
        let actions = r.actions();
        if actions.len() != 1 {
            self.error(
                if actions.is_empty() {
                    format!("a rollback entry needs one action: one of {}", ACTION_KEYS.join(", "))
                } else {
                    "a rollback entry runs one action; write a list for several".to_string()
                },
                span,
            );
            return None;
        }
        let a = &actions[0];
        let known = self.known.clone();
        let scope = Scope::of(&known, Some(steps_check), false, lv);
        let planned = self.plan_action(a, node.and_then(|n| n.get(a.key())), &scope)?;
        if let Some(rt) = &r.retry {
            check_retry(&mut self.diags, &rt.value, rt.span, node.and_then(|n| n.get("retry")));
        }
        if let Some(t) = &r.timeout
            && t.value.std().is_zero()
        {
            self.error("`timeout` must be longer than 0s", t.span);
        }
        Some(RollbackStep {
            name: r.name.clone(),
            action: planned,
            timeout: r.timeout.as_ref().map(|t| t.value),
            retry: r.retry.as_ref().map(|t| t.value.clone()),
        })
    }
}
