//! `argocd`: ArgoCD Applications (`argoproj.io/v1alpha1`) through the Kubernetes API, as the
//! `argocd app` CLI would drive them: status, history, sync, wait, rollback.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::util::Num;
use super::{ActionKind, Effect};

/// One ArgoCD operation: `argocd: { sync: { app: myapp-backend-prod, set: { image.tag: v1.2.3 } } }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum ArgocdSpec {
    /// Sync and health, the deployed revision, images, the last operation and the history.
    Status(ArgocdApp),
    /// The deployment history, newest first (`result.current`, `result.previous`).
    History(ArgocdHistory),
    /// Start a sync (optionally to a revision, optionally setting Helm parameters first, as
    /// `argocd app set -p`) and wait for the operation to finish; rollback syncs back to the
    /// revision and source deployed before.
    Sync(ArgocdSync),
    /// Wait until the application is Synced and Healthy (and at `revision`, when given), or
    /// fail at the step's timeout naming what is not.
    Wait(ArgocdWait),
    /// Sync to a history entry (`to`, default the one before the current one), as
    /// `argocd app rollback`; refused while automated sync is on, which would undo it.
    Rollback(ArgocdRollback),
    /// What `rollback: auto` of `sync` and `rollback` runs (captured by the run, never
    /// written in a playbook).
    #[schemars(skip)]
    Restore(ArgocdRestore),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArgocdApp {
    /// The Application's name.
    pub app: String,
    /// Namespace of the Application object (default: the environment's `argocd.namespace`,
    /// else `argocd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArgocdHistory {
    pub app: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Entries to return, newest first (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<Num>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArgocdSync {
    pub app: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Git revision to sync to (default: the Application's target revision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Helm parameters set on the Application before the sync (`image.tag: v1.2.3`).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub set: IndexMap<String, String>,
    /// Delete resources that are no longer in Git.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArgocdWait {
    pub app: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The revision that must be deployed (a commit, or its first characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Whether it must also be Synced with Git (default true). After a `rollback` it is
    /// OutOfSync until Git is reverted: wait for health with `synced: false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArgocdRollback {
    pub app: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// History id to go back to (default: the entry before the current one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Num>,
}

/// The Application's source and deployed revision as they were before a change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArgocdRestore {
    pub app: String,
    pub namespace: String,
    /// `spec.source` as it was (whole, as the API returned it).
    pub source: serde_json::Value,
    /// The revision deployed before (synced back to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
}

/// Where an Application lives when the step names no namespace.
pub const DEFAULT_NAMESPACE: &str = "argocd";

impl ArgocdSpec {
    /// The Application, and its namespace when the step names one (else the environment's
    /// `argocd.namespace`, else [`DEFAULT_NAMESPACE`]).
    pub fn app(&self) -> (&str, Option<&str>) {
        let (app, ns) = match self {
            ArgocdSpec::Status(a) => (&a.app, &a.namespace),
            ArgocdSpec::History(h) => (&h.app, &h.namespace),
            ArgocdSpec::Sync(s) => (&s.app, &s.namespace),
            ArgocdSpec::Wait(w) => (&w.app, &w.namespace),
            ArgocdSpec::Rollback(r) => (&r.app, &r.namespace),
            ArgocdSpec::Restore(r) => return (&r.app, Some(&r.namespace)),
        };
        (app, ns.as_deref())
    }
}

impl ActionKind for ArgocdSpec {
    fn effect(&self) -> Effect {
        match self {
            ArgocdSpec::Status(_) | ArgocdSpec::History(_) | ArgocdSpec::Wait(_) => Effect::ReadOnly,
            ArgocdSpec::Sync(_) | ArgocdSpec::Rollback(_) | ArgocdSpec::Restore(_) => Effect::Mutating,
        }
    }

    fn auto_rollback(&self) -> Option<&'static str> {
        match self {
            ArgocdSpec::Sync(_) | ArgocdSpec::Rollback(_) => {
                Some("restore the previous source and sync back to the revision deployed before")
            }
            _ => None,
        }
    }

    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let (app, _) = self.app();
        if !app.contains("{{") && !is_name(app) {
            out.push(format!(
                "`app: {app}` is not an Application name (lowercase letters, digits, `-` and `.`)"
            ));
        }
        let at_least_one = |n: &Option<Num>, what: &str| match n.as_ref().map(Num::get) {
            Some(Ok(v)) if v < 1 => Some(format!("`{what}` must be at least 1, not {v}")),
            _ => None,
        };
        match self {
            ArgocdSpec::History(h) => out.extend(at_least_one(&h.limit, "limit")),
            ArgocdSpec::Rollback(r) => out.extend(at_least_one(&r.to, "to")),
            ArgocdSpec::Sync(s) => {
                for name in s.set.keys().filter(|k| k.trim().is_empty() || k.contains('=')) {
                    out.push(format!("`set` has a parameter name `{name}` that ArgoCD cannot take"));
                }
            }
            ArgocdSpec::Restore(_) => {
                out.push("`restore` is what `rollback: auto` of `sync` runs; it is not written in playbooks".into())
            }
            _ => {}
        }
        out
    }

    // Summaries read like the `argocd` line an operator would have pasted.
    fn summary(&self) -> String {
        let (app, ns) = self.app();
        let ns = ns.map(|ns| format!(" --app-namespace {ns}")).unwrap_or_default();
        match self {
            ArgocdSpec::Status(_) => format!("app get {app}{ns}"),
            ArgocdSpec::History(_) => format!("app history {app}{ns}"),
            ArgocdSpec::Sync(s) => {
                let mut line = String::new();
                if !s.set.is_empty() {
                    let params: Vec<String> = s.set.iter().map(|(k, v)| format!("-p {k}={v}")).collect();
                    line.push_str(&format!("app set {app}{ns} {} && ", params.join(" ")));
                }
                line.push_str(&format!("app sync {app}{ns}"));
                if let Some(r) = &s.revision {
                    line.push_str(&format!(" --revision {r}"));
                }
                if s.prune == Some(true) {
                    line.push_str(" --prune");
                }
                line
            }
            ArgocdSpec::Wait(w) => {
                let rev = w.revision.as_ref().map(|r| format!(" at {r}")).unwrap_or_default();
                let sync = if w.synced == Some(false) { "" } else { " --sync" };
                format!("app wait {app}{ns}{sync} --health{rev}")
            }
            ArgocdSpec::Rollback(r) => match &r.to {
                Some(id) => format!("app rollback {app} {id}{ns}"),
                None => format!("app rollback {app}{ns}"),
            },
            ArgocdSpec::Restore(r) => match &r.revision {
                Some(rev) => format!("restore {app}{ns}'s source and sync it to {rev}"),
                None => format!("restore {app}{ns}'s source"),
            },
        }
    }
}

/// A Kubernetes object name (RFC 1123 subdomain), as Applications are named.
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_read_like_the_cli() {
        let sync: ArgocdSpec = serde_json::from_value(serde_json::json!({
            "sync": { "app": "myapp-backend-prod", "set": { "image.tag": "v1.2.3" } }
        }))
        .expect("a sync");
        assert_eq!(
            sync.summary(),
            "app set myapp-backend-prod -p image.tag=v1.2.3 && app sync myapp-backend-prod"
        );
        let rb: ArgocdSpec =
            serde_json::from_value(serde_json::json!({ "rollback": { "app": "a", "to": 3, "namespace": "cd" } }))
                .expect("a rollback");
        assert_eq!(rb.summary(), "app rollback a 3 --app-namespace cd");
    }

    #[test]
    fn bad_names_and_numbers_are_problems() {
        let bad: ArgocdSpec =
            serde_json::from_value(serde_json::json!({ "history": { "app": "My_App", "limit": 0 } })).expect("parses");
        let problems = bad.problems();
        assert!(problems[0].contains("not an Application name"), "{problems:?}");
        assert!(problems[1].contains("`limit` must be at least 1"), "{problems:?}");
    }
}
