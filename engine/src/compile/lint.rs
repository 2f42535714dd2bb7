//! Lint warnings that `validate` reports (and `--strict` turns into errors).

use std::collections::HashSet;
use std::sync::Arc;

use super::model::{Playbook, Step};
use crate::playbook::{RawPlaybook, Risk};
use crate::source::{Diagnostic, Source, Span};
use crate::spec::{Action, Effect, K8sSpec};

/// The lints, by code; docs/validate.md describes each.
pub const LINTS: &[(&str, &str)] = &[
    (
        "mutating-without-rollback",
        "a mutating step has neither a rollback nor a gate",
    ),
    (
        "risky-without-gate",
        "a high or critical step has no confirmation or approval in some environment",
    ),
    ("raw-in-shell", "`| raw` lets a value into a shell command unquoted"),
    (
        "quoted-interpolation",
        "an interpolation sits inside shell quotes, so the quotes become part of the value",
    ),
    ("unused-param", "a param no template reads"),
    ("when-false", "a step can never run because of `when: false`"),
    (
        "gitops-owned",
        "a step changes the image of a Deployment that an auto-syncing ArgoCD Application owns",
    ),
    (
        "escalate-without-contacts",
        "`escalate:` in a workspace without `contacts:`: nobody would be notified",
    ),
];

#[derive(Default)]
pub struct Lints {
    found: Vec<Diagnostic>,
}

impl Lints {
    fn warn(&mut self, code: &'static str, msg: String, span: Span, help: &str) {
        let mut d = Diagnostic::warning(code, msg).help(help);
        d.span = Some(span);
        self.found.push(d);
    }

    pub fn escalate_without_contacts(&mut self, span: Span) {
        self.warn(
            "escalate-without-contacts",
            "`escalate`: this workspace has no `contacts:`, so nobody is notified while a step waits".into(),
            span,
            "add `contacts:` (people, rotation, escalation levels, channels) to runbook.yaml; see docs/escalation.md",
        );
    }

    pub fn when_false(&mut self, id: &str, span: Span) {
        self.warn(
            "when-false",
            format!("step `{id}` never runs: `when: false`"),
            span,
            "remove the step, or give `when` a condition",
        );
    }

    /// Checks a shell command's template for `| raw` and quoted interpolations.
    pub fn shell_template(&mut self, src: &str, span: Span) {
        if raw_filter().is_match(src) {
            self.warn(
                "raw-in-shell",
                "`| raw` puts a value into a shell command without quoting".into(),
                span,
                "values are quoted as one shell word by default; remove `| raw` unless the value is trusted shell code",
            );
        }
        if quoted_interpolation(src) {
            self.warn(
                "quoted-interpolation",
                "an interpolation inside shell quotes: the quotes become part of the value".into(),
                span,
                "write `{{ x }}` without quotes; every value is already one quoted word",
            );
        }
    }

    /// Adds the lints that need the whole compiled playbook, and attaches the file.
    pub fn finish(
        mut self,
        pb: &Playbook,
        raw: &RawPlaybook,
        src: &Arc<Source>,
        used_params: &HashSet<String>,
    ) -> Vec<Diagnostic> {
        for step in pb.steps.iter().chain(&pb.on_failure).chain(&pb.finally) {
            self.step(step, &pb.env.name);
            self.gitops_owned(step, &pb.env);
        }
        for name in raw.params.keys() {
            if !used_params.contains(name)
                && let Some(span) = super::params::param_span(raw, name)
            {
                self.warn(
                    "unused-param",
                    format!("param `{name}` is never used"),
                    span,
                    "read it in a template (`{{ params.NAME }}`) or remove it",
                );
            }
        }
        self.found.into_iter().map(|d| d.in_file(src)).collect()
    }

    fn step(&mut self, step: &Step, env: &str) {
        let mutating = matches!(step.effect, Effect::Mutating | Effect::Irreversible);
        if mutating && step.rollback.is_none() && step.gates.is_empty() {
            self.warn(
                "mutating-without-rollback",
                format!(
                    "step `{}` changes things but has neither a rollback nor a gate",
                    step.id
                ),
                step.span,
                "add `rollback:` (or `rollback: auto`), or a `confirm:`/`approval:` gate",
            );
        }
        if step.risk >= Risk::High && step.gates.is_empty() {
            self.warn(
                "risky-without-gate",
                format!(
                    "step `{}` is {} risk but nothing gates it in environment `{env}`",
                    step.id,
                    step.risk.as_str()
                ),
                step.span,
                "add `confirm:` or `approval:` to the step, or include the level in the environment's policy.confirm",
            );
        }
    }
}

impl Lints {
    /// A direct image change on a Deployment that ArgoCD syncs by itself lasts until its next
    /// sync: the deploy must go through Git (or the Application).
    fn gitops_owned(&mut self, step: &Step, env: &super::EnvInfo) {
        let Some(apps) = env.argocd.as_ref().map(|a| &a.applications) else {
            return;
        };
        let Some(Action::K8s(spec)) = step.action.as_ref().map(|a| &a.spec) else {
            return;
        };
        let (verb, deployment, namespace) = match spec {
            K8sSpec::SetImage(s) => ("sets the image of", &s.deployment, &s.namespace),
            K8sSpec::Undo(u) => ("rolls back", &u.deployment, &u.namespace),
            _ => return,
        };
        let owner = apps.iter().find(|(_, app)| {
            app.auto_sync
                && namespace.as_deref() == Some(app.namespace.as_str())
                && app.deployments.iter().any(|d| d == deployment)
        });
        if let Some((name, app)) = owner {
            self.warn(
                "gitops-owned",
                format!(
                    "step `{}` {verb} deployment/{deployment} in {}, which ArgoCD Application `{name}` syncs automatically: its next sync undoes the change",
                    step.id, app.namespace
                ),
                step.span,
                &format!(
                    "deploy through the Application: `argocd: {{ sync: {{ app: {name}, set: {{ image.tag: ... }} }} }}`, or turn its automated sync off first"
                ),
            );
        }
    }
}

fn raw_filter() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r"\|\s*raw\b").unwrap_or_else(|e| unreachable!("static regex: {e}")))
}

/// Is some `{{ … }}` inside a '…' or "…" string on its line?
fn quoted_interpolation(src: &str) -> bool {
    for line in src.lines() {
        let mut quote: Option<char> = None;
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            match quote {
                None if c == '\'' || c == '"' => quote = Some(c),
                Some(q) if c == q => quote = None,
                Some(_) if c == '{' && chars.get(i + 1) == Some(&'{') => return true,
                _ => {}
            }
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_interpolations_inside_quotes() {
        assert!(quoted_interpolation(r#"test "{{ x }}" = y"#));
        assert!(quoted_interpolation("echo '{{ x }}'"));
        assert!(!quoted_interpolation("test {{ x }} = y"));
        assert!(!quoted_interpolation(r#"echo "done" {{ x }}"#));
    }
}
