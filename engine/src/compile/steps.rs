//! One step: its loop, action, risk, condition, polling, outputs, retry and time limit;
//! gates, preconditions and rollback are checked by their own rooms.

use indexmap::IndexMap;

use super::compiler::{Compiler, Diags, valid_ident};
use super::graph::StepList;
use super::model::*;
use super::refs::{self, Scope};
use crate::expr::template::Quoting;
use crate::playbook::limits::{MAX_DURATION_SECS, MAX_DURATION_TEXT, MAX_RETRY_BACKOFF, MIN_RETRY_BACKOFF};
use crate::playbook::{ACTION_KEYS, Condition, Duration, OnFailure, RawStep, Retry, Risk};
use crate::source::Span;
use crate::spec::{Action, Effect};
use crate::yaml::{Node, Sp};

const DEFAULT_TIMEOUT_SECS: u64 = 600;

impl Compiler<'_> {
    /// Compiles the steps of a list; `main` is the main list, which the other lists' steps
    /// may read.
    pub(super) fn compile_list(&mut self, list: &StepList, main: &StepList) -> Vec<Step> {
        let mut out = Vec::with_capacity(list.raws.len());
        for (i, (raw, node)) in list.raws.iter().enumerate() {
            let check = |id: &str| list.may_read(main, i, id);
            if let Some(mut step) = self.compile_step(raw, *node, &check) {
                if let Some(dag) = &list.dag {
                    step.needs = dag.deps[i].iter().map(|&j| list.raws[j].0.id.value.clone()).collect();
                }
                out.push(step);
            }
        }
        out
    }

    /// One step, or `None` when it had errors (reported): the step's own parts here, its
    /// gates, preconditions, escalation and rollback by their rooms.
    fn compile_step(
        &mut self,
        raw: &Sp<RawStep>,
        node: Option<&Node>,
        steps_check: &dyn Fn(&str) -> Result<(), String>,
    ) -> Option<Step> {
        let before = self.diags.mark();
        let id = raw.id.value.clone();
        let loop_var = loop_var(&mut self.diags, raw);
        let lv = loop_var.as_deref();

        // The action: exactly one key.
        let actions = raw.actions();
        if actions.len() > 1 {
            let keys: Vec<String> = actions.iter().map(|a| format!("`{}`", a.key())).collect();
            self.error(
                format!(
                    "step `{id}` has {} actions ({}): a step runs exactly one",
                    actions.len(),
                    keys.join(", ")
                ),
                node.and_then(|n| n.key_span(actions[1].key()))
                    .unwrap_or(actions[1].span),
            );
        }
        let action_node = |key: &str| node.and_then(|n| n.get(key));
        let known = self.known.clone();
        let scope = Scope::of(&known, Some(steps_check), false, lv);
        let action = actions
            .first()
            .and_then(|a| self.plan_action(a, action_node(a.key()), &scope));
        if actions.is_empty() && raw.confirm.is_none() && raw.approval.is_none() {
            self.error(
                format!("step `{id}` has no action: add one of {}", ACTION_KEYS.join(", ")),
                raw.id.span,
            )
            .help = Some("a step with only `confirm` or `approval` is a pure gate".into());
        }
        let effect = action.as_ref().map(|a| a.effect).unwrap_or(Effect::ReadOnly);
        if let (Some(a), Some(_)) = (&action, &raw.message)
            && !matches!(a.spec, Action::Assert(_))
            && let Some(span) = node.and_then(|n| n.key_span("message"))
        {
            self.error(
                "`message` is the failure text of an `assert` step; this step has another action",
                span,
            );
        }

        // Risk: read-only work is low risk unless the step says otherwise.
        let risk = match (&raw.risk, effect) {
            (Some(r), _) => r.value,
            (None, Effect::ReadOnly | Effect::External) => Risk::Low,
            (None, _) => self.lp.raw.risk.as_ref().map(|r| r.value).unwrap_or(Risk::Medium),
        };

        let when = self.when(raw, steps_check, lv);
        let preconditions = self.preconditions(raw, node, steps_check, lv);
        let gates = self.gates(raw, node, risk, steps_check, lv);
        if effect == Effect::Irreversible && gates.is_empty() {
            let what = action.as_ref().map(|a| a.spec.verb()).unwrap_or_default();
            self.error(
                format!("step `{id}` is irreversible (`{what}`) and nothing gates it"),
                raw.id.span,
            )
            .help = Some("add `confirm:` or `approval:` to the step".into());
        }

        let until = raw.until.as_ref().map(|u| {
            let known = self.known.clone();
            let scope = Scope::of(&known, Some(steps_check), true, lv);
            self.check_expr(&u.value, u.span, &scope, "until");
            u.value.clone()
        });
        if let Some(i) = &raw.interval
            && raw.until.is_none()
        {
            self.error(
                "`interval` is the time between `until` polls; this step has no `until`",
                i.span,
            );
        }
        let mut outputs = IndexMap::new();
        for (name, tpl) in &raw.outputs {
            if !valid_ident(name) {
                self.error(format!("output name `{name}` is not an identifier"), tpl.span);
            }
            let known = self.known.clone();
            let scope = Scope::of(&known, Some(steps_check), true, lv);
            self.check_template(&tpl.value, Quoting::Plain, tpl.span, &scope, "output");
            outputs.insert(name.clone(), tpl.value.clone());
        }
        let for_each = raw.for_each.as_ref().map(|f| {
            let known = self.known.clone();
            let scope = Scope::of(&known, Some(steps_check), false, None);
            self.check_expr(&f.value, f.span, &scope, "for_each");
            ForEach {
                items: f.value.clone(),
                as_: loop_var.clone().unwrap_or_else(|| "item".into()),
                max_parallel: match &raw.max_parallel {
                    Some(m) if m.value == 0 => {
                        self.error("max_parallel must be at least 1", m.span);
                        1
                    }
                    Some(m) => m.value,
                    None => 1,
                },
            }
        });
        // With several actions the rollback cannot be judged against "the" action.
        let rollback = if actions.len() > 1 {
            None
        } else {
            self.rollback(raw, node, action.as_ref(), steps_check, lv, &id)
        };
        if let Some(r) = &raw.retry {
            check_retry(&mut self.diags, &r.value, r.span, node.and_then(|n| n.get("retry")));
        }
        for (what, d) in [("timeout", &raw.timeout), ("interval", &raw.interval)] {
            if let Some(d) = d
                && d.value.std().is_zero()
            {
                self.error(format!("`{what}` must be longer than 0s"), d.span);
            }
        }
        if raw.on_decline.is_some()
            && gates.iter().all(|g| g.kind != GateKind::Confirm)
            && let Some(span) = node.and_then(|n| n.key_span("on_decline"))
        {
            self.error(
                "`on_decline` says what a \"no\" to a confirmation does; this step asks none",
                span,
            );
        }
        let missing_params = self.missing_params();
        let timeout = timeout(&mut self.diags, raw, action.as_ref(), missing_params);
        let escalate = self.escalation(raw, &gates, action.as_ref(), risk);
        if self.diags.errors_since(before) {
            return None;
        }
        Some(Step {
            id,
            name: raw.name.clone(),
            doc: raw.doc.clone(),
            needs: Vec::new(),
            when,
            risk,
            effect,
            gates,
            on_decline: raw.on_decline,
            preconditions,
            action,
            for_each,
            timeout,
            retry: raw.retry.as_ref().map(|r| r.value.clone()),
            until,
            interval: match (&raw.interval, &raw.until) {
                (Some(i), _) => Some(i.value),
                (None, Some(_)) => Some(Duration::from_secs(10)),
                _ => None,
            },
            outputs,
            rollback,
            on_failure: raw.on_failure.unwrap_or(OnFailure::Rollback),
            idempotent: raw.idempotent.unwrap_or(false),
            message: raw.message.clone(),
            escalate,
            span: raw.span,
        })
    }

    /// The step's `when`: decided now when it reads only what is known before the run,
    /// else kept for the engine.
    fn when(
        &mut self,
        raw: &RawStep,
        steps_check: &dyn Fn(&str) -> Result<(), String>,
        lv: Option<&str>,
    ) -> Option<When> {
        let w = raw.when.as_ref()?;
        match &w.value {
            Condition::Literal(b) => {
                if !b {
                    self.lints.when_false(&raw.id.value, w.span);
                }
                Some(When {
                    expr: b.to_string(),
                    value: Some(*b),
                })
            }
            Condition::Expr(e) => {
                let known = self.known.clone();
                let scope = Scope::of(&known, Some(steps_check), false, lv);
                let names = self.check_expr(e, w.span, &scope, "when")?;
                let value = if refs::is_runtime(&names, lv)
                    || (self.missing_params() && names.iter().any(|n| n.starts_with("params")))
                {
                    None
                } else {
                    match self.t.eval(e, &self.ctx) {
                        Ok(v) => Some(v.is_true()),
                        Err(err) => {
                            self.error(format!("when: {err}"), w.span);
                            None
                        }
                    }
                };
                Some(When { expr: e.clone(), value })
            }
        }
    }
}

/// The name of a `for_each` step's loop variable (`as:`, `item` by default); `as` and
/// `max_parallel` on a step without a loop are errors.
fn loop_var(diags: &mut Diags, raw: &RawStep) -> Option<String> {
    let loop_var: Option<String> = match (&raw.for_each, &raw.as_) {
        (Some(_), Some(a)) => {
            if !valid_ident(&a.value) {
                diags.error(format!("`as: {}` is not a valid variable name", a.value), a.span);
            }
            Some(a.value.clone())
        }
        (Some(_), None) => Some("item".to_string()),
        (None, Some(a)) => {
            diags.error(
                "`as` names the loop variable of `for_each`, which this step does not have",
                a.span,
            );
            None
        }
        (None, None) => None,
    };
    if raw.for_each.is_none()
        && let Some(m) = &raw.max_parallel
    {
        diags.error("`max_parallel` applies to `for_each` steps only", m.span);
    }
    loop_var
}

/// Checks a step's or a rollback's `retry`. `node` is the `retry` mapping, to point at the
/// bad field; `span` is used without it.
pub(super) fn check_retry(diags: &mut Diags, r: &Retry, span: Span, node: Option<&Node>) {
    let at = |key: &str| node.and_then(|n| n.get(key)).map(|n| n.span).unwrap_or(span);
    if r.attempts == 0 {
        diags.error(
            "retry.attempts counts every attempt, the first included: it must be at least 1",
            span,
        );
    }
    let backoff = r.backoff.unwrap_or(1.0);
    if !(MIN_RETRY_BACKOFF..=MAX_RETRY_BACKOFF).contains(&backoff) {
        diags.error(
            format!(
                "retry.backoff multiplies the delay after each attempt: it must be between {MIN_RETRY_BACKOFF} and {MAX_RETRY_BACKOFF}, not {backoff}"
            ),
            at("backoff"),
        );
        return;
    }
    // The wait before the last attempt is `delay × backoff^(attempts-2)`, and the engine
    // multiplies once more after it: bounding that wait keeps every product a valid
    // duration. (`attempts` is at most 100 when read, so the power is finite.)
    if r.attempts >= 2 {
        let delay = r.delay.map(|d| d.std().as_secs_f64()).unwrap_or(1.0);
        let last = delay * backoff.powi(r.attempts as i32 - 2);
        if last > MAX_DURATION_SECS as f64 {
            diags.error(
                format!(
                    "retry waits longer than the longest duration runbook accepts ({MAX_DURATION_TEXT}) before attempt {}: the delay is multiplied by the backoff {backoff} after each attempt",
                    r.attempts
                ),
                span,
            )
            .help = Some("lower `attempts`, `delay` or `backoff`".into());
        }
    }
}

/// The step's time limit: as written, else one that fits the action (a `wait` gets its
/// duration and a minute, people get a day, everything else 10 minutes).
fn timeout(diags: &mut Diags, raw: &RawStep, action: Option<&PlannedAction>, missing_params: bool) -> Duration {
    let waited = match action.map(|a| &a.spec) {
        Some(Action::Wait(w)) => {
            // Params left out (validate) leave the template unrendered; anything else
            // that does is read at run time, too late for the step's timeout.
            if w.known().is_none()
                && !missing_params
                && let Some(span) = raw.wait.as_ref().map(|w| w.span)
            {
                diags
                    .error(
                        format!(
                            "`wait: {w}` reads what only the run knows: a wait's duration must be known before the run"
                        ),
                        span,
                    )
                    .help = Some("use params, vars or env values (a `duration` param: `-p soak=30m`)".into());
            }
            w.known()
        }
        _ => None,
    };
    match (&raw.timeout, waited) {
        (Some(t), Some(w)) if t.value < w => {
            diags
                .error(
                    format!(
                        "this step waits {w} but its timeout is {}: it would always time out",
                        t.value
                    ),
                    t.span,
                )
                .help = Some("raise `timeout`, or remove it: a `wait` step gets its duration plus a minute".into());
            t.value
        }
        (Some(t), _) => t.value,
        (None, Some(w)) => Duration(w.std() + std::time::Duration::from_secs(60)),
        (None, None) => match action.map(|a| &a.spec) {
            Some(Action::Manual(_) | Action::Input(_)) | None => Duration::from_secs(24 * 3600),
            _ => Duration::from_secs(DEFAULT_TIMEOUT_SECS),
        },
    }
}
