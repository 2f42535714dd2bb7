//! Which steps' results a template, an expression or an action reads (`steps.X`): what a
//! preflight must have run before it can render them.

use std::collections::BTreeSet;

use crate::compile::PlannedAction;
use crate::expr::template::{Quoting, Templates};
use crate::spec::FieldRole;

/// Stands for "some earlier step" when a template reads `steps` as a whole (`steps[name]`).
pub const ANY_STEP: &str = "*";

/// The step ids among the dotted names a template or expression reads.
fn step_ids(names: BTreeSet<String>) -> BTreeSet<String> {
    names
        .into_iter()
        .filter_map(|n| {
            let rest = n.strip_prefix("steps")?;
            match rest.strip_prefix('.') {
                Some(tail) => Some(tail.split('.').next().unwrap_or(tail).to_string()),
                None if rest.is_empty() => Some(ANY_STEP.to_string()),
                None => None,
            }
        })
        .collect()
}

/// The steps an expression reads; one that does not parse reads nothing (the compiler
/// checked it, and evaluating it reports the error).
pub fn in_expr(t: &Templates, expr: &str) -> BTreeSet<String> {
    t.expr_names(expr).map(step_ids).unwrap_or_default()
}

/// The steps an action's run-time templates and its expressions (`assert`, `expect`) read.
pub fn in_action(t: &Templates, a: &PlannedAction) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for e in a.spec.expressions() {
        out.extend(in_expr(t, e));
    }
    if a.templates.is_empty() {
        return out;
    }
    let Ok(spec) = serde_json::to_value(&a.spec) else {
        return out;
    };
    for pointer in &a.templates {
        if let Some(src) = spec.pointer(pointer).and_then(|v| v.as_str()) {
            let q = if a.spec.field_role_at(pointer) == FieldRole::Shell {
                Quoting::Shell
            } else {
                Quoting::Plain
            };
            out.extend(t.names(src, q).map(step_ids).unwrap_or_default());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_ids_are_the_second_segment_of_steps_names() {
        let t = Templates::new();
        let ids = in_expr(&t, "steps.current.replicas > params.n and steps.other.status == 'ok'");
        assert_eq!(ids.into_iter().collect::<Vec<_>>(), ["current", "other"]);
        assert!(in_expr(&t, "params.n > 1").is_empty());
        assert_eq!(
            in_expr(&t, "steps[params.which]").into_iter().collect::<Vec<_>>(),
            [ANY_STEP]
        );
    }
}
