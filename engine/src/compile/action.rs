//! Checking what an action and its templates read, and planning an action: templates known
//! before the run are rendered, the others kept for the engine, and a summary for people.

use std::collections::BTreeSet;

use serde_json::Value as Json;

use super::compiler::Compiler;
use super::model::*;
use super::refs::{self, Scope};
use crate::expr::template::{Quoting, TemplateError, is_template};
use crate::source::Span;
use crate::spec::{Action, FieldRole, with_lenient_numbers};
use crate::yaml::{Node, NodeKind, Sp};

impl Compiler<'_> {
    /// Checks the names a template or expression reads, reporting each problem; `None`
    /// when there was one.
    fn checked_names(
        &mut self,
        names: Result<BTreeSet<String>, TemplateError>,
        scope: &Scope,
        span: Span,
        what: &str,
    ) -> Option<BTreeSet<String>> {
        let names = match names {
            Ok(n) => n,
            Err(e) => {
                self.error(format!("{what}: {e}"), span);
                return None;
            }
        };
        self.note_params(&names);
        let problems = refs::check(&names, scope);
        let ok = problems.is_empty();
        for (m, h) in problems {
            self.error(format!("{what}: {m}"), span).help = Some(h);
        }
        ok.then_some(names)
    }

    pub(super) fn note_params(&mut self, names: &BTreeSet<String>) {
        for p in refs::params_read(names) {
            self.used_params.insert(p.to_string());
        }
    }

    /// Checks an expression; returns the names it reads.
    pub(super) fn check_expr(&mut self, src: &str, span: Span, scope: &Scope, what: &str) -> Option<BTreeSet<String>> {
        let names = self.t.expr_names(src);
        self.checked_names(names, scope, span, what)
    }

    /// Checks a template and renders it for people; returns (rendered-for-display, runtime?).
    pub(super) fn check_template(
        &mut self,
        src: &str,
        q: Quoting,
        span: Span,
        scope: &Scope,
        what: &str,
    ) -> Option<(String, bool)> {
        if !is_template(src) {
            return Some((src.to_string(), false));
        }
        let names = self.t.names(src, q);
        let names = self.checked_names(names, scope, span, what)?;
        let runtime = refs::is_runtime(&names, scope.loop_var);
        let shown_src = if runtime {
            let loop_var = scope.loop_var;
            crate::expr::template::mark_runtime_expressions(src, |expr| {
                let names = self.t.expr_names(expr).ok()?;
                if names.iter().any(|n| n.starts_with("secrets")) {
                    Some("***".to_string())
                } else {
                    refs::is_runtime(&names, loop_var).then(|| format!("<{expr}>"))
                }
            })
        } else {
            src.to_string()
        };
        match self.t.render(&shown_src, q, &self.display_ctx) {
            Ok(s) => Some((s, runtime)),
            // A run-time value may not support what the template does with it before the run
            // (a filter over a list): show the template as written.
            Err(_) if runtime => Some((src.to_string(), true)),
            Err(e) => {
                self.error(format!("{what}: {e}"), span);
                None
            }
        }
    }

    /// Renders an action's templates: those known before the run into `spec`, the others kept
    /// for the engine; `summary` shows run-time values as `<steps.x.y>` and secrets as `***`.
    pub(super) fn plan_action(
        &mut self,
        action: &Sp<Action>,
        node: Option<&Node>,
        scope: &Scope,
    ) -> Option<PlannedAction> {
        let key = action.key();
        let mut exec = match serde_json::to_value(&action.value) {
            Ok(v) => v,
            Err(e) => {
                self.error(format!("`{key}`: {e}"), action.span);
                return None;
            }
        };
        let mut display = exec.clone();
        let mut leaves = Vec::new();
        let mut templates = Vec::new();
        collect_strings(&exec, String::new(), &mut Vec::new(), &mut leaves);
        let mut ok = true;
        for (pointer, path, s) in leaves {
            let span = node
                .map(|n| locate(n, &path[1.min(path.len())..]))
                .unwrap_or(action.span);
            let field = path.last().map(String::as_str).unwrap_or(key);
            let below: Vec<&str> = path.iter().skip(1).map(String::as_str).collect();
            let q = match action.value.field_role(&below) {
                // Expressions are evaluated by the engine, not rendered.
                FieldRole::Expr => {
                    let expr_scope = Scope { result: true, ..*scope };
                    if self.check_expr(&s, span, &expr_scope, field).is_none() {
                        ok = false;
                    }
                    continue;
                }
                _ if !is_template(&s) => continue,
                FieldRole::Shell => {
                    self.lints.shell_template(&s, span);
                    Quoting::Shell
                }
                FieldRole::Plain => Quoting::Plain,
            };
            let what = format!("{key} {}", path[1..].join("."));
            let Some((shown, runtime)) = self.check_template(&s, q, span, scope, what.trim()) else {
                ok = false;
                continue;
            };
            if let Some(slot) = display.pointer_mut(&pointer) {
                *slot = Json::String(shown.clone());
            }
            if runtime || self.missing_params() {
                templates.push(pointer);
            } else if let Some(slot) = exec.pointer_mut(&pointer) {
                *slot = Json::String(shown);
            }
        }
        if !ok {
            return None;
        }
        let spec: Action = match serde_json::from_value(exec) {
            Ok(a) => a,
            Err(e) => {
                self.error(format!("`{key}` after rendering its templates: {e}"), action.span);
                return None;
            }
        };
        let problems = spec.problems();
        if !problems.is_empty() {
            for p in problems {
                self.error(format!("`{}`: {p}", spec.verb()), action.span);
            }
            return None;
        }
        let shown: Action = with_lenient_numbers(|| serde_json::from_value(display)).unwrap_or_else(|_| spec.clone());
        Some(PlannedAction {
            effect: spec.effect(),
            summary: shown.summary(),
            spec,
            templates,
        })
    }
}

/// Every string leaf with its JSON pointer and key path.
fn collect_strings(v: &Json, pointer: String, path: &mut Vec<String>, out: &mut Vec<(String, Vec<String>, String)>) {
    match v {
        Json::String(s) => out.push((pointer, path.clone(), s.clone())),
        Json::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                collect_strings(item, format!("{pointer}/{i}"), path, out);
                path.pop();
            }
        }
        Json::Object(map) => {
            for (k, item) in map {
                path.push(k.clone());
                let escaped = k.replace('~', "~0").replace('/', "~1");
                collect_strings(item, format!("{pointer}/{escaped}"), path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// The span of the deepest node along a key path (falls back to the closest ancestor: short
/// forms like `shell: cmd` have no `run` node).
fn locate(node: &Node, path: &[String]) -> Span {
    let mut cur = node;
    for seg in path {
        let next = match &cur.kind {
            NodeKind::Map(_) => cur.get(seg),
            NodeKind::Seq(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => break,
        }
    }
    cur.span
}
