//! `k8s`: typed Kubernetes operations through the API (kube), each with its effect and undo.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Duration;
use super::util::Num;
use super::{ActionKind, Effect};

/// One Kubernetes operation: `k8s: { scale: { deployment: x, namespace: y, replicas: 5 } }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum K8sSpec {
    /// Read any object (or a list by selector); the result is its JSON.
    Get(K8sGet),
    /// A read-only health check.
    Check(#[schemars(with = "CheckSchema")] K8sCheck),
    /// Wait for a rollout to complete or a condition to hold.
    Wait(K8sWait),
    /// Set a deployment's replicas; rollback restores the previous count.
    Scale(K8sScale),
    /// Rollout restart of a deployment.
    Restart(K8sDeployment),
    /// Change a container image; rollback restores the previous image.
    SetImage(K8sSetImage),
    /// Roll a deployment back to its previous (or a given) revision.
    Undo(K8sUndo),
    /// Server-side apply of a manifest file or inline YAML.
    Apply(K8sApply),
    /// Delete an object.
    Delete(K8sObject),
    /// Mark a node unschedulable.
    Cordon(K8sNode),
    /// Mark a node schedulable.
    Uncordon(K8sNode),
    /// Cordon a node and evict its pods, respecting PodDisruptionBudgets.
    Drain(K8sDrain),
    /// Tail logs of pods by label selector, optionally counting lines that match a pattern.
    Logs(K8sLogs),
    /// What `rollback: auto` of `apply` runs (captured by the run, never written in a playbook).
    #[schemars(skip)]
    Revert(K8sRevert),
}

/// Objects put back as they were, and objects deleted because the change created them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct K8sRevert {
    /// The objects as they were before the change (whole, as the API returned them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restore: Vec<serde_json::Value>,
    /// The objects the change created.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delete: Vec<K8sObject>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct K8sGet {
    /// Kind, e.g. `deployment`, `pods`, `nodes`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// `group/version` for kinds outside the core and apps groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
}

/// The schema of `check`: the checks, or a bare name for the one whose options are all
/// optional (`check: nodes-ready`), which the deserializer accepts too.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum CheckSchema {
    Bare(BareCheck),
    Full(K8sCheck),
}

#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[allow(dead_code)]
enum BareCheck {
    NodesReady,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum K8sCheck {
    /// Every node (matching `selector`) is Ready.
    NodesReady {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        selector: Option<String>,
    },
    /// The deployment has at least `min_replicas` available replicas (default: its spec).
    DeploymentAvailable {
        deployment: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_replicas: Option<Num>,
    },
    /// No pod matching `selector` is in CrashLoopBackOff, Error, or Pending beyond `grace`.
    PodsHealthy {
        selector: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        grace: Option<Duration>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct K8sWait {
    /// `rollout` (a deployment's rollout completes), `condition=<Type>` or `delete`.
    #[serde(rename = "for")]
    pub for_: String,
    /// Kind of the object(s) (default `deployment`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `group/version` for kinds outside the built-in table (e.g. `cert-manager.io/v1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct K8sScale {
    pub deployment: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub replicas: Num,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct K8sDeployment {
    pub deployment: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct K8sSetImage {
    pub deployment: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub image: String,
    /// Container name (default: the only container; required when there are several).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct K8sUndo {
    pub deployment: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_revision: Option<Num>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct K8sApply {
    /// Path of a manifest file (relative to the workspace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Inline manifest (YAML text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct K8sObject {
    pub kind: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct K8sNode {
    pub node: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct K8sDrain {
    pub node: String,
    /// Grace period given to each evicted pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace: Option<Duration>,
    /// Skip DaemonSet pods (default true, as `kubectl drain --ignore-daemonsets`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_daemonsets: Option<bool>,
    /// Evict pods using emptyDir volumes (their data is lost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_emptydir_data: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct K8sLogs {
    pub selector: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Lines per pod (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Duration>,
    /// A regex; `result.matches` counts the lines that match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

fn kind_problem(kind: &str, api_version: Option<&str>) -> Option<String> {
    super::k8s_kinds::problem(kind, api_version)
}

fn ns(n: &Option<String>) -> String {
    n.as_deref().map(|n| format!(" -n {n}")).unwrap_or_default()
}

impl ActionKind for K8sSpec {
    fn effect(&self) -> Effect {
        match self {
            K8sSpec::Get(_) | K8sSpec::Check(_) | K8sSpec::Wait(_) | K8sSpec::Logs(_) => Effect::ReadOnly,
            K8sSpec::Delete(_) => Effect::Irreversible,
            K8sSpec::Revert(_) => Effect::Mutating,
            _ => Effect::Mutating,
        }
    }

    fn problems(&self) -> Vec<String> {
        // Templates are checked here once rendered; run-time ones by the engine.
        let at_least = |n: &Option<&Num>, min: i64, what: &str| -> Option<String> {
            match n.map(Num::get) {
                Some(Ok(v)) if v < min => Some(format!("`{what}` must be at least {min}, not {v}")),
                _ => None,
            }
        };
        let mut out = Vec::new();
        match self {
            K8sSpec::Scale(s) => out.extend(at_least(&Some(&s.replicas), 0, "replicas")),
            K8sSpec::Check(K8sCheck::DeploymentAvailable { min_replicas, .. }) => {
                out.extend(at_least(&min_replicas.as_ref(), 0, "min_replicas"))
            }
            K8sSpec::Undo(u) => out.extend(at_least(&u.to_revision.as_ref(), 1, "to_revision")),
            K8sSpec::Logs(l) => {
                out.extend(at_least(&l.tail.as_ref(), 0, "tail"));
                if let Some(p) = l.pattern.as_deref().filter(|p| !p.contains("{{"))
                    && let Err(e) = regex::Regex::new(p)
                {
                    // The regex crate's message spans lines; its last line says what is wrong.
                    let text = e.to_string();
                    let why = text.lines().last().unwrap_or_default().trim_start_matches("error: ");
                    out.push(format!("`pattern` is not a valid regex: {why}"));
                }
            }
            K8sSpec::Get(g) => out.extend(kind_problem(&g.kind, g.api_version.as_deref())),
            K8sSpec::Delete(o) => out.extend(kind_problem(&o.kind, o.api_version.as_deref())),
            K8sSpec::Wait(w) => {
                out.extend(kind_problem(
                    w.kind.as_deref().unwrap_or("deployment"),
                    w.api_version.as_deref(),
                ));
                let f = w.for_.as_str();
                let known =
                    matches!(f, "rollout" | "delete") || f.strip_prefix("condition=").is_some_and(|c| !c.is_empty());
                if !known && !f.contains("{{") {
                    out.push(format!(
                        "`for: {f}` is not a wait: use `rollout`, `condition=<Type>` (e.g. `condition=Ready`) or `delete`"
                    ));
                }
                if w.for_ == "rollout" && w.name.is_none() {
                    out.push("`for: rollout` needs the deployment's `name`".into());
                }
                if w.name.is_none() && w.selector.is_none() && w.for_ != "rollout" {
                    out.push("`wait` needs a `name` or a `selector`".into());
                }
            }
            K8sSpec::Apply(a) if a.file.is_some() == a.manifest.is_some() => {
                out.push("`apply` needs exactly one of `file` and `manifest`".into())
            }
            K8sSpec::Revert(_) => {
                out.push("`revert` is what `rollback: auto` of `apply` runs; it is not written in playbooks".into())
            }
            _ => {}
        }
        out
    }

    fn auto_rollback(&self) -> Option<&'static str> {
        match self {
            K8sSpec::Scale(_) => Some("restore the previous replica count"),
            K8sSpec::SetImage(_) => Some("restore the previous image"),
            K8sSpec::Apply(_) => Some("restore the previous objects, delete the ones created"),
            K8sSpec::Cordon(_) | K8sSpec::Drain(_) => Some("uncordon the node"),
            K8sSpec::Uncordon(_) => Some("cordon the node again"),
            K8sSpec::Undo(_) | K8sSpec::Restart(_) => Some("roll back to the revision that was current before"),
            _ => None,
        }
    }

    // Summaries read like the kubectl line an operator would have pasted.
    fn summary(&self) -> String {
        match self {
            K8sSpec::Get(g) => {
                let mut s = format!("get {}", g.kind);
                if let Some(n) = &g.name {
                    s.push_str(&format!(" {n}"));
                }
                if let Some(sel) = &g.selector {
                    s.push_str(&format!(" -l {sel}"));
                }
                s + &ns(&g.namespace)
            }
            K8sSpec::Check(K8sCheck::NodesReady { selector }) => match selector {
                Some(sel) => format!("check nodes-ready -l {sel}"),
                None => "check nodes-ready".to_string(),
            },
            K8sSpec::Check(K8sCheck::DeploymentAvailable {
                deployment,
                namespace,
                min_replicas,
            }) => {
                let min = min_replicas.as_ref().map(|m| format!(" (min {m})")).unwrap_or_default();
                format!(
                    "check deployment-available deployment/{deployment}{}{min}",
                    ns(namespace)
                )
            }
            K8sSpec::Check(K8sCheck::PodsHealthy {
                selector,
                namespace,
                grace,
            }) => {
                let g = grace.map(|g| format!(" (grace {g})")).unwrap_or_default();
                format!("check pods-healthy -l {selector}{}{g}", ns(namespace))
            }
            K8sSpec::Wait(w) => {
                let target = match (&w.name, &w.selector) {
                    (Some(n), _) => format!("{}/{n}", w.kind.as_deref().unwrap_or("deployment")),
                    (None, Some(sel)) => format!("{} -l {sel}", w.kind.as_deref().unwrap_or("deployment")),
                    (None, None) => w.kind.clone().unwrap_or_else(|| "deployment".into()),
                };
                format!("wait --for={} {target}{}", w.for_, ns(&w.namespace))
            }
            K8sSpec::Scale(s) => {
                format!(
                    "scale deployment/{}{} --replicas={}",
                    s.deployment,
                    ns(&s.namespace),
                    s.replicas
                )
            }
            K8sSpec::Restart(d) => format!("rollout restart deployment/{}{}", d.deployment, ns(&d.namespace)),
            K8sSpec::SetImage(s) => format!(
                "set image deployment/{}{} {}={}",
                s.deployment,
                ns(&s.namespace),
                s.container.as_deref().unwrap_or("*"),
                s.image
            ),
            K8sSpec::Undo(u) => {
                let rev = u
                    .to_revision
                    .as_ref()
                    .map(|r| format!(" --to-revision={r}"))
                    .unwrap_or_default();
                format!("rollout undo deployment/{}{}{rev}", u.deployment, ns(&u.namespace))
            }
            K8sSpec::Apply(a) => match (&a.file, &a.manifest) {
                (Some(f), _) => format!("apply --server-side -f {f}{}", ns(&a.namespace)),
                _ => format!("apply --server-side (inline manifest){}", ns(&a.namespace)),
            },
            K8sSpec::Delete(o) => format!("delete {}/{}{}", o.kind, o.name, ns(&o.namespace)),
            K8sSpec::Cordon(n) => format!("cordon {}", n.node),
            K8sSpec::Uncordon(n) => format!("uncordon {}", n.node),
            K8sSpec::Drain(d) => {
                let mut s = format!("drain {}", d.node);
                if d.ignore_daemonsets.unwrap_or(true) {
                    s.push_str(" --ignore-daemonsets");
                }
                if d.delete_emptydir_data.unwrap_or(false) {
                    s.push_str(" --delete-emptydir-data");
                }
                s
            }
            K8sSpec::Logs(l) => {
                let mut s = format!("logs -l {}{}", l.selector, ns(&l.namespace));
                if let Some(t) = &l.tail {
                    s.push_str(&format!(" --tail={t}"));
                }
                if let Some(p) = &l.pattern {
                    s.push_str(&format!(" | count /{p}/"));
                }
                s
            }
            K8sSpec::Revert(r) => {
                let mut parts: Vec<String> = r
                    .restore
                    .iter()
                    .map(|o| {
                        let kind = o["kind"].as_str().unwrap_or("object").to_ascii_lowercase();
                        format!("restore {kind}/{}", o["metadata"]["name"].as_str().unwrap_or("?"))
                    })
                    .collect();
                parts.extend(
                    r.delete
                        .iter()
                        .map(|o| format!("delete {}/{}", o.kind.to_ascii_lowercase(), o.name)),
                );
                if parts.is_empty() {
                    "nothing to revert".into()
                } else {
                    parts.join(", ")
                }
            }
        }
    }
}
