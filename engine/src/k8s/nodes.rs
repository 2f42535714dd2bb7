//! The node `k8s` actions: cordon, uncordon, and drain (evictions that respect
//! PodDisruptionBudgets, as `kubectl drain` does).

use std::collections::BTreeMap;
use std::ops::ControlFlow::{Break, Continue};

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, EvictParams, ListParams};
use serde_json::json;

use super::client::{code, describe, update};
use super::run::Op;
use crate::cx::{Outcome, cut_short};
use crate::spec::{Action, K8sDrain, K8sNode, K8sSpec, Undo};
use crate::wake::Woke;

/// Sets `spec.unschedulable`; the undo puts back what it was.
pub async fn cordon(op: &Op<'_, '_>, node: &str, on: bool) -> Outcome {
    match set_unschedulable(op, node, on).await {
        Ok(changed) => Outcome::ok(json!({ "node": node, "unschedulable": on, "changed": changed })),
        Err(e) => Outcome::fail(e),
    }
}

async fn set_unschedulable(op: &Op<'_, '_>, node: &str, on: bool) -> Result<bool, String> {
    let api: Api<Node> = Api::all(op.cluster.client.clone());
    let verb = if on { "cordon" } else { "uncordon" };
    let captured = op.captured;
    let (_, changed) = update(&api, node, &format!("{verb} node {node}"), &op.post(), |n| {
        let spec = n.spec.get_or_insert_with(Default::default);
        if spec.unschedulable.unwrap_or(false) == on {
            captured.set(Undo::Nothing);
            return Ok(None);
        }
        let back = K8sNode { node: node.to_string() };
        captured.set(Undo::Run(Box::new(Action::K8s(if on {
            K8sSpec::Uncordon(back)
        } else {
            K8sSpec::Cordon(back)
        }))));
        spec.unschedulable = Some(on).filter(|on| *on);
        Ok(Some(()))
    })
    .await?;
    Ok(changed.is_some())
}

fn pod_id(p: &Pod) -> String {
    format!(
        "{}/{}",
        p.metadata.namespace.as_deref().unwrap_or("default"),
        p.metadata.name.as_deref().unwrap_or("?")
    )
}

pub async fn drain(op: &Op<'_, '_>, d: &K8sDrain) -> Outcome {
    let node = &d.node;
    if let Err(e) = set_unschedulable(op, node, true).await {
        return Outcome::fail(e);
    }
    let pods_api: Api<Pod> = Api::all(op.cluster.client.clone());
    let lp = ListParams::default().fields(&format!("spec.nodeName={node}"));
    let pods = match pods_api.list(&lp).await {
        Ok(l) => l.items,
        Err(e) => return Outcome::fail(describe(&format!("list the pods on node {node}"), &e)),
    };
    // Decide for every pod first, as kubectl does: nothing is evicted when one cannot be.
    let (mut evict, mut skipped, mut refused) = (Vec::new(), Vec::new(), Vec::new());
    for p in pods {
        let id = pod_id(&p);
        let annotations = p.metadata.annotations.clone().unwrap_or_default();
        let owners = p.metadata.owner_references.clone().unwrap_or_default();
        let controller = owners.iter().find(|o| o.controller == Some(true));
        let done = matches!(
            p.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        );
        let empty_dir = p
            .spec
            .as_ref()
            .is_some_and(|s| s.volumes.iter().flatten().any(|v| v.empty_dir.is_some()));
        if annotations.contains_key("kubernetes.io/config.mirror") {
            skipped.push(format!("{id} (mirror pod)"));
        } else if controller.is_some_and(|c| c.kind == "DaemonSet") {
            if d.ignore_daemonsets.unwrap_or(true) {
                skipped.push(format!("{id} (DaemonSet)"));
            } else {
                refused.push(format!(
                    "{id} is managed by a DaemonSet (set `ignore_daemonsets: true`)"
                ));
            }
        } else if controller.is_none() && !done {
            refused.push(format!(
                "{id} is not managed by a controller: nothing would recreate it (delete it yourself first)"
            ));
        } else if empty_dir && !done && !d.delete_emptydir_data.unwrap_or(false) {
            refused.push(format!(
                "{id} uses emptyDir storage, which eviction loses (set `delete_emptydir_data: true`)"
            ));
        } else {
            evict.push(p);
        }
    }
    if !refused.is_empty() {
        return Outcome::fail(format!(
            "cannot drain node {node} (it stays cordoned): {}",
            refused.join("; ")
        ));
    }
    let grace = d.grace.map(|g| g.std().as_secs() as i64);
    let ep = EvictParams {
        delete_options: Some(DeleteParams {
            grace_period_seconds: grace.map(|g| g as u32),
            dry_run: op.dry_run,
            ..Default::default()
        }),
        post_options: op.post(),
    };
    // Evict all at once; a pod its budget protects is asked again until the deadline.
    let results = futures_util::future::join_all(evict.iter().map(|p| evict_one(op, p, &ep))).await;
    let mut blocked: BTreeMap<String, String> = BTreeMap::new();
    let mut evicted = Vec::new();
    for (p, r) in evict.iter().zip(results) {
        match r {
            Ok(()) => evicted.push(pod_id(p)),
            Err(e) => {
                blocked.insert(pod_id(p), e);
            }
        }
    }
    let result = json!({ "node": node, "evicted": evicted, "skipped": skipped, "blocked": blocked });
    if blocked.is_empty() {
        return Outcome::ok(result);
    }
    let why: Vec<String> = blocked.iter().map(|(p, e)| format!("{p}: {e}")).collect();
    let counts = format!("{} evicted, {} not", evicted.len(), blocked.len());
    // Budgets that never allowed the eviction, or pods slow to go, ran out the clock; any other
    // answer (forbidden, gone wrong) is a plain failure.
    let waited = blocked
        .values()
        .all(|e| e.contains("disruption budget") || e.contains("still terminating"));
    let mut o = if op.dry_run {
        // Nothing was waited for: the budgets refuse these evictions now.
        Outcome::fail(format!(
            "a dry run of the drain of node {node}: {counts} admitted now: {}",
            why.join("; ")
        ))
    } else if waited {
        op.timed_out(format!(
            "drain of node {node} did not finish within {} ({counts}): {}",
            op.waited(),
            why.join("; ")
        ))
    } else {
        Outcome::fail(format!("drain of node {node} failed ({counts}): {}", why.join("; ")))
    };
    o.result = result;
    o
}

/// Evicts one pod, asking again while its disruption budget forbids it, and waits until it is gone.
async fn evict_one(op: &Op<'_, '_>, p: &Pod, ep: &EvictParams) -> Result<(), String> {
    let ns = p.metadata.namespace.clone().unwrap_or_else(|| "default".into());
    let name = p.metadata.name.clone().unwrap_or_default();
    let uid = p.metadata.uid.clone();
    let api: Api<Pod> = Api::namespaced(op.cluster.client.clone(), &ns);
    let (api, ns, name) = (&api, &ns, &name);
    // Whether there is a pod to wait for, or why it could not be evicted.
    let evicted = op
        .poll(|| async move {
            match api.evict(name, ep).await {
                // A dry run's eviction was admitted; the pod stays, so there is nothing to wait for.
                Ok(_) => Break(Ok(!op.dry_run)),
                Err(e) if code(&e) == Some(404) => Break(Ok(false)),
                Err(kube::Error::Api(s)) if s.code == 429 => {
                    let causes: Vec<String> = s
                        .details
                        .as_ref()
                        .map(|d| d.causes.iter().map(|c| c.message.clone()).collect())
                        .unwrap_or_default();
                    let why = if causes.is_empty() {
                        s.message.clone()
                    } else {
                        format!("{} ({})", s.message, causes.join("; "))
                    };
                    // A dry run reports the budget now rather than waiting for it to allow.
                    if op.dry_run { Break(Err(why)) } else { Continue(why) }
                }
                // No answer at all (a dropped connection, a timeout): the eviction may or may
                // not have happened; asking again is safe (a gone pod answers 404).
                Err(e) if code(&e).is_none() && !op.dry_run => {
                    Continue(describe(&format!("evict pod {ns}/{name}"), &e))
                }
                Err(e) => Break(Err(describe(&format!("evict pod {ns}/{name}"), &e))),
            }
        })
        .await;
    match evicted {
        Ok(Ok(true)) => {}
        Ok(Ok(false)) => return Ok(()),
        Ok(Err(why)) => return Err(why),
        Err(unmet) => return Err(unmet.seen().unwrap_or_else(|| cut_short(Woke::Cancelled).into())),
    }
    // Evicted: gone once no pod of that name and uid is left.
    let uid = &uid;
    op.poll(|| async move {
        match api.get_opt(name).await {
            Ok(None) => Break(Ok(())),
            Ok(Some(now)) if &now.metadata.uid != uid => Break(Ok(())),
            Ok(Some(_)) => Continue(()),
            Err(e) if code(&e).is_none() => Continue(()),
            Err(e) => Break(Err(describe(&format!("wait for pod {ns}/{name} to go"), &e))),
        }
    })
    .await
    .unwrap_or_else(|_| Err("evicted, but still terminating".into()))
}
