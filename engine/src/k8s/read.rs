//! The read-only `k8s` actions: get, check, wait, logs.

use std::ops::ControlFlow::{Break, Continue};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, LogParams};
use serde_json::{Value as Json, json};

use super::client::{clean, code, describe};
use super::run::Op;
use crate::cx::Outcome;
use crate::spec::{K8sCheck, K8sGet, K8sLogs, K8sWait};

/// How long a pod may stay Pending before `pods-healthy` counts it, unless `grace` says.
const DEFAULT_GRACE_SECS: i64 = 60;

fn num(n: &crate::spec::Num, what: &str) -> Result<i64, String> {
    n.get().map_err(|e| format!("`{what}`: {e}"))
}

pub async fn get(op: &Op<'_, '_>, g: &K8sGet) -> Outcome {
    let (api, ar, _) = match op
        .cluster
        .dynamic(&g.kind, g.api_version.as_deref(), &g.namespace)
        .await
    {
        Ok(x) => x,
        Err(e) => return Outcome::fail(e),
    };
    let ns = op.cluster.ns(&g.namespace);
    match &g.name {
        Some(name) => match api.get(name).await {
            Ok(o) => Outcome::ok(clean(serde_json::to_value(o).unwrap_or_default())),
            Err(e) => Outcome::fail(describe(&format!("get {}/{name} in {ns}", ar.kind.to_lowercase()), &e)),
        },
        None => {
            let mut lp = ListParams::default();
            if let Some(sel) = &g.selector {
                lp = lp.labels(sel);
            }
            match api.list(&lp).await {
                Ok(list) => {
                    let items: Vec<Json> = list
                        .items
                        .into_iter()
                        .map(|o| clean(serde_json::to_value(o).unwrap_or_default()))
                        .collect();
                    Outcome::ok(json!({ "count": items.len(), "items": items }))
                }
                Err(e) => Outcome::fail(describe(&format!("list {}", ar.plural), &e)),
            }
        }
    }
}

pub async fn check(op: &Op<'_, '_>, c: &K8sCheck) -> Outcome {
    match c {
        K8sCheck::NodesReady { selector } => nodes_ready(op, selector.as_deref()).await,
        K8sCheck::DeploymentAvailable {
            deployment,
            namespace,
            min_replicas,
        } => {
            let ns = op.cluster.ns(namespace);
            let api: Api<Deployment> = Api::namespaced(op.cluster.client.clone(), ns);
            let d = match api.get(deployment).await {
                Ok(d) => d,
                Err(e) => return Outcome::fail(describe(&format!("deployment/{deployment} in {ns}"), &e)),
            };
            let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1) as i64;
            let min = match min_replicas.as_ref().map(|m| num(m, "min_replicas")).transpose() {
                Ok(m) => m.unwrap_or(desired),
                Err(e) => return Outcome::fail(e),
            };
            let st = d.status.unwrap_or_default();
            let available = st.available_replicas.unwrap_or(0) as i64;
            let result = json!({
                "deployment": deployment,
                "namespace": ns,
                "desired": desired,
                "available": available,
                "ready": st.ready_replicas.unwrap_or(0),
                "updated": st.updated_replicas.unwrap_or(0),
                "min": min,
            });
            if available >= min {
                Outcome::ok(result)
            } else {
                Outcome::fail(format!(
                    "deployment/{deployment} in {ns} has {available} available replicas, fewer than {min}"
                ))
                .with_result(result)
            }
        }
        K8sCheck::PodsHealthy {
            selector,
            namespace,
            grace,
        } => {
            let ns = op.cluster.ns(namespace);
            let api: Api<Pod> = Api::namespaced(op.cluster.client.clone(), ns);
            let pods = match api.list(&ListParams::default().labels(selector)).await {
                Ok(l) => l.items,
                Err(e) => return Outcome::fail(describe(&format!("list pods -l {selector} in {ns}"), &e)),
            };
            if pods.is_empty() {
                return Outcome::fail(format!("no pods match `{selector}` in {ns}"));
            }
            let grace = grace.map(|g| g.std().as_secs() as i64).unwrap_or(DEFAULT_GRACE_SECS);
            let unhealthy: Vec<Json> = pods
                .iter()
                .filter_map(|p| unhealthy(p, grace).map(|why| json!({ "pod": p.metadata.name, "reason": why })))
                .collect();
            let result = json!({
                "selector": selector,
                "namespace": ns,
                "pods": pods.len(),
                "healthy": pods.len() - unhealthy.len(),
                "unhealthy": unhealthy,
            });
            if unhealthy.is_empty() {
                Outcome::ok(result)
            } else {
                let list: Vec<String> = unhealthy
                    .iter()
                    .map(|u| {
                        format!(
                            "{} ({})",
                            u["pod"].as_str().unwrap_or("?"),
                            u["reason"].as_str().unwrap_or("?")
                        )
                    })
                    .collect();
                Outcome::fail(format!(
                    "{} of {} pods matching `{selector}` in {ns} are unhealthy: {}",
                    list.len(),
                    pods.len(),
                    list.join(", ")
                ))
                .with_result(result)
            }
        }
    }
}

async fn nodes_ready(op: &Op<'_, '_>, selector: Option<&str>) -> Outcome {
    let api: Api<Node> = Api::all(op.cluster.client.clone());
    let mut lp = ListParams::default();
    if let Some(sel) = selector {
        lp = lp.labels(sel);
    }
    let nodes = match api.list(&lp).await {
        Ok(l) => l.items,
        Err(e) => return Outcome::fail(describe("list nodes", &e)),
    };
    if nodes.is_empty() {
        return Outcome::fail(match selector {
            Some(s) => format!("no nodes match `{s}`"),
            None => "the cluster has no nodes".into(),
        });
    }
    let not_ready: Vec<String> = nodes
        .iter()
        .filter(|n| !condition_true(n.status.as_ref().and_then(|s| s.conditions.as_ref()), "Ready"))
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    let result = json!({ "total": nodes.len(), "ready": nodes.len() - not_ready.len(), "not_ready": not_ready });
    if not_ready.is_empty() {
        Outcome::ok(result)
    } else {
        Outcome::fail(format!(
            "{} of {} nodes are not Ready: {}",
            not_ready.len(),
            nodes.len(),
            not_ready.join(", ")
        ))
        .with_result(result)
    }
}

fn condition_true<C: serde::Serialize>(conditions: Option<&Vec<C>>, kind: &str) -> bool {
    conditions.is_some_and(|cs| {
        cs.iter().any(|c| {
            let v = serde_json::to_value(c).unwrap_or_default();
            v["type"] == kind && v["status"] == "True"
        })
    })
}

/// Why a pod counts as unhealthy, if it does.
fn unhealthy(p: &Pod, grace_secs: i64) -> Option<String> {
    const BAD: &[&str] = &[
        "CrashLoopBackOff",
        "Error",
        "ImagePullBackOff",
        "ErrImagePull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
        "OOMKilled",
    ];
    let st = p.status.as_ref()?;
    for cs in st
        .container_statuses
        .iter()
        .flatten()
        .chain(st.init_container_statuses.iter().flatten())
    {
        let state = cs.state.as_ref();
        if let Some(reason) = state.and_then(|s| s.waiting.as_ref()).and_then(|w| w.reason.as_deref())
            && BAD.contains(&reason)
        {
            return Some(format!("{}: {reason}", cs.name));
        }
        if let Some(t) = state.and_then(|s| s.terminated.as_ref())
            && t.exit_code != 0
        {
            return Some(format!(
                "{}: {}",
                cs.name,
                t.reason.clone().unwrap_or_else(|| format!("exited {}", t.exit_code))
            ));
        }
    }
    match st.phase.as_deref() {
        Some("Failed") => Some(st.reason.clone().unwrap_or_else(|| "Failed".into())),
        Some("Pending") => {
            let created = p.metadata.creation_timestamp.as_ref()?.0.as_second();
            let age = k8s_openapi::jiff::Timestamp::now().as_second() - created;
            (age > grace_secs).then(|| format!("Pending for {age}s"))
        }
        _ => None,
    }
}

pub async fn wait(op: &Op<'_, '_>, w: &K8sWait) -> Outcome {
    let kind = w.kind.as_deref().unwrap_or("deployment");
    let ns = op.cluster.ns(&w.namespace).to_string();
    if w.for_ == "rollout" {
        let Some(name) = &w.name else {
            return Outcome::fail("`for: rollout` needs the deployment's `name`");
        };
        return rollout_wait(op, name, &ns).await;
    }
    let (api, ar, _) = match op.cluster.dynamic(kind, w.api_version.as_deref(), &w.namespace).await {
        Ok(x) => x,
        Err(e) => return Outcome::fail(e),
    };
    let target = match (&w.name, &w.selector) {
        (Some(n), _) => format!("{}/{n}", ar.kind.to_lowercase()),
        (None, Some(s)) => format!("{} -l {s}", ar.plural),
        (None, None) => return Outcome::fail("`wait` needs a `name` or a `selector`"),
    };
    let condition = w.for_.strip_prefix("condition=");
    if condition.is_none() && w.for_ != "delete" {
        return Outcome::fail(format!(
            "`for: {}` is not a wait: use rollout, condition=<Type> or delete",
            w.for_
        ));
    }
    let (api, target, ns) = (&api, &target, &ns);
    let found = op
        .poll(|| async move {
            // The objects now, as JSON.
            let objects: Result<Vec<Json>, kube::Error> = match &w.name {
                Some(n) => match api.get(n).await {
                    Ok(o) => Ok(vec![serde_json::to_value(o).unwrap_or_default()]),
                    Err(e) if code(&e) == Some(404) => Ok(vec![]),
                    Err(e) => Err(e),
                },
                None => {
                    let lp = ListParams::default().labels(w.selector.as_deref().unwrap_or_default());
                    api.list(&lp).await.map(|l| {
                        l.items
                            .into_iter()
                            .map(|o| serde_json::to_value(o).unwrap_or_default())
                            .collect()
                    })
                }
            };
            let objects = match objects {
                Ok(o) => o,
                Err(e) => return Break(Outcome::fail(describe(&format!("wait for {target} in {ns}"), &e))),
            };
            let pending: Vec<String> = match condition {
                None => objects
                    .iter()
                    .map(|o| o["metadata"]["name"].as_str().unwrap_or("?").to_string())
                    .collect(),
                Some(c) => {
                    if objects.is_empty() {
                        vec![format!("no {target} yet")]
                    } else {
                        objects
                            .iter()
                            .filter(|o| {
                                !o["status"]["conditions"]
                                    .as_array()
                                    .is_some_and(|cs| cs.iter().any(|x| x["type"] == c && x["status"] == "True"))
                            })
                            .map(|o| o["metadata"]["name"].as_str().unwrap_or("?").to_string())
                            .collect()
                    }
                }
            };
            if pending.is_empty() {
                return Break(Outcome::ok(
                    json!({ "target": target, "namespace": ns, "for": w.for_, "count": objects.len() }),
                ));
            }
            Continue(pending)
        })
        .await;
    found.unwrap_or_else(|unmet| {
        op.unmet(unmet, |pending| {
            let what = match condition {
                Some(c) => format!("condition {c} is not True for {}", pending.join(", ")),
                None => format!("still present: {}", pending.join(", ")),
            };
            format!("waited {} for {target} in {ns}: {what}", op.waited())
        })
    })
}

/// Waits like `kubectl rollout status`: the new ReplicaSet is fully updated and available and
/// no old replicas remain; a rollout past its progress deadline fails at once.
pub async fn rollout_wait(op: &Op<'_, '_>, name: &str, ns: &str) -> Outcome {
    let api: Api<Deployment> = Api::namespaced(op.cluster.client.clone(), ns);
    let api = &api;
    let done = op
        .poll(|| async move {
            let d = match api.get(name).await {
                Ok(d) => d,
                Err(e) => {
                    return Break(Outcome::fail(describe(
                        &format!("wait for the rollout of deployment/{name} in {ns}"),
                        &e,
                    )));
                }
            };
            let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let generation = d.metadata.generation.unwrap_or(0);
            let st = d.status.clone().unwrap_or_default();
            let revision = d
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("deployment.kubernetes.io/revision"))
                .cloned();
            let deadline_exceeded = st
                .conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded"));
            if deadline_exceeded {
                return Break(Outcome::fail(format!(
                    "the rollout of deployment/{name} in {ns} exceeded its progress deadline"
                )));
            }
            let updated = st.updated_replicas.unwrap_or(0);
            let available = st.available_replicas.unwrap_or(0);
            let total = st.replicas.unwrap_or(0);
            if st.observed_generation.unwrap_or(0) < generation {
                Continue("the controller has not seen the change yet".to_string())
            } else if updated < desired {
                Continue(format!("{updated} of {desired} new replicas updated"))
            } else if total > updated {
                Continue(format!("{} old replicas pending termination", total - updated))
            } else if available < updated {
                Continue(format!("{available} of {updated} updated replicas available"))
            } else {
                Break(Outcome::ok(json!({
                    "deployment": name,
                    "namespace": ns,
                    "replicas": desired,
                    "revision": revision,
                })))
            }
        })
        .await;
    done.unwrap_or_else(|unmet| {
        op.unmet(unmet, |why| {
            format!(
                "the rollout of deployment/{name} in {ns} did not complete within {}: {why}",
                op.waited()
            )
        })
    })
}

pub async fn logs(op: &Op<'_, '_>, l: &K8sLogs) -> Outcome {
    let ns = op.cluster.ns(&l.namespace);
    let api: Api<Pod> = Api::namespaced(op.cluster.client.clone(), ns);
    let pods = match api.list(&ListParams::default().labels(&l.selector)).await {
        Ok(p) => p.items,
        Err(e) => return Outcome::fail(describe(&format!("list pods -l {} in {ns}", l.selector), &e)),
    };
    if pods.is_empty() {
        return Outcome::fail(format!("no pods match `{}` in {ns}", l.selector));
    }
    let pattern = match l.pattern.as_deref().map(regex::Regex::new).transpose() {
        Ok(p) => p,
        Err(e) => return Outcome::fail(format!("`pattern`: {e}")),
    };
    let tail = match l.tail.as_ref().map(|t| num(t, "tail")).transpose() {
        Ok(t) => t.unwrap_or(100),
        Err(e) => return Outcome::fail(e),
    };
    let params = LogParams {
        container: l.container.clone(),
        tail_lines: Some(tail),
        since_seconds: l.since.map(|s| s.std().as_secs() as i64),
        ..Default::default()
    };
    let (mut lines, mut matches, mut output) = (0usize, 0usize, String::new());
    let mut matched: Vec<String> = Vec::new();
    for p in &pods {
        let name = p.metadata.name.clone().unwrap_or_default();
        let text = match api.logs(&name, &params).await {
            Ok(t) => t,
            Err(e) => return Outcome::fail(describe(&format!("logs of pod {name} in {ns}"), &e)),
        };
        for line in text.lines() {
            lines += 1;
            output.push_str(&format!("[{name}] {line}\n"));
            if pattern.as_ref().is_some_and(|re| re.is_match(line)) {
                matches += 1;
                if matched.len() < 20 {
                    matched.push(format!("[{name}] {line}"));
                }
            }
        }
    }
    let mut o = Outcome::ok(json!({
        "selector": l.selector,
        "namespace": ns,
        "pods": pods.len(),
        "lines": lines,
        "matches": matches,
        "matched": matched,
    }));
    o.output = output;
    o
}
