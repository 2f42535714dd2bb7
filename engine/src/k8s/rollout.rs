//! The deployment `k8s` actions: scale, restart, set-image, undo; each captures its undo first.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::{Api, ListParams};
use serde_json::json;

use super::client::{describe, update};
use super::conflict::retry_on_conflict;
use super::run::Op;
use crate::cx::Outcome;
use crate::spec::{Action, K8sDeployment, K8sScale, K8sSetImage, K8sSpec, K8sUndo, Num, Undo};

const REVISION: &str = "deployment.kubernetes.io/revision";

fn run(spec: K8sSpec) -> Undo {
    Undo::Run(Box::new(Action::K8s(spec)))
}

/// The undo of a change to a deployment's template: back to the revision current before it.
fn back_to(deployment: &str, namespace: &str, revision: Option<i64>) -> Undo {
    match revision {
        Some(rev) => run(K8sSpec::Undo(K8sUndo {
            deployment: deployment.to_string(),
            namespace: Some(namespace.to_string()),
            to_revision: Some(Num::Lit(rev)),
        })),
        None => Undo::Nothing,
    }
}

fn revision_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Option<i64> {
    meta.annotations.as_ref()?.get(REVISION)?.parse().ok()
}

pub async fn scale(op: &Op<'_, '_>, s: &K8sScale) -> Outcome {
    let ns = op.cluster.ns(&s.namespace).to_string();
    let replicas = match s.replicas.get() {
        Ok(n) if (0..=i32::MAX as i64).contains(&n) => n as i32,
        Ok(n) => return Outcome::fail(format!("`replicas` must be at least 0, not {n}")),
        Err(e) => return Outcome::fail(format!("`replicas`: {e}")),
    };
    let what = format!("scale deployment/{} in {ns}", s.deployment);
    let api: Api<Deployment> = Api::namespaced(op.cluster.client.clone(), &ns);
    let (api, what, ns) = (&api, &what, &ns);
    let done = retry_on_conflict(what, || async move {
        let mut sc = api.get_scale(&s.deployment).await.map_err(|e| describe(what, &e))?;
        let previous = sc.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
        if previous == replicas {
            op.captured.set(Undo::Nothing);
            return Ok(Ok((previous, false)));
        }
        op.captured.set(run(K8sSpec::Scale(K8sScale {
            deployment: s.deployment.clone(),
            namespace: Some(ns.clone()),
            replicas: Num::Lit(previous as i64),
        })));
        sc.spec.get_or_insert_with(Default::default).replicas = Some(replicas);
        Ok(api
            .replace_scale(&s.deployment, &op.post(), &sc)
            .await
            .map(|_| (previous, true)))
    })
    .await;
    match done {
        Ok((previous, changed)) => Outcome::ok(json!({
            "deployment": s.deployment, "namespace": ns, "previous": previous, "replicas": replicas, "changed": changed,
        })),
        Err(n) => Outcome::fail(n.message),
    }
}

pub async fn restart(op: &Op<'_, '_>, d: &K8sDeployment) -> Outcome {
    let ns = op.cluster.ns(&d.namespace).to_string();
    let api: Api<Deployment> = Api::namespaced(op.cluster.client.clone(), &ns);
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let captured = op.captured;
    let (name, namespace) = (d.deployment.clone(), ns.clone());
    let result = update(
        &api,
        &d.deployment,
        &format!("restart deployment/{} in {ns}", d.deployment),
        &op.post(),
        |dep| {
            let before = revision_of(&dep.metadata);
            captured.set(back_to(&name, &namespace, before));
            let template = &mut dep.spec.get_or_insert_with(Default::default).template;
            template
                .metadata
                .get_or_insert_with(Default::default)
                .annotations
                .get_or_insert_with(Default::default)
                .insert("kubectl.kubernetes.io/restartedAt".into(), now.clone());
            Ok(Some(before))
        },
    )
    .await;
    match result {
        Ok((_, before)) => Outcome::ok(json!({
            "deployment": d.deployment, "namespace": ns, "restarted_at": now, "previous_revision": before.flatten(),
        })),
        Err(e) => Outcome::fail(e),
    }
}

pub async fn set_image(op: &Op<'_, '_>, s: &K8sSetImage) -> Outcome {
    let ns = op.cluster.ns(&s.namespace).to_string();
    let api: Api<Deployment> = Api::namespaced(op.cluster.client.clone(), &ns);
    let captured = op.captured;
    let what = format!("set image of deployment/{} in {ns}", s.deployment);
    let result = update(&api, &s.deployment, &what, &op.post(), |dep| {
        let containers = &mut dep
            .spec
            .get_or_insert_with(Default::default)
            .template
            .spec
            .get_or_insert_with(Default::default)
            .containers;
        let names: Vec<String> = containers.iter().map(|c| c.name.clone()).collect();
        let c = match &s.container {
            Some(want) => containers.iter_mut().find(|c| &c.name == want).ok_or_else(|| {
                format!(
                    "deployment/{} in {ns} has no container `{want}` (it has: {})",
                    s.deployment,
                    names.join(", ")
                )
            })?,
            None if containers.len() == 1 => &mut containers[0],
            None => {
                return Err(format!(
                    "deployment/{} in {ns} has {} containers ({}): say which with `container`",
                    s.deployment,
                    names.len(),
                    names.join(", ")
                ));
            }
        };
        let previous = c.image.clone().unwrap_or_default();
        let container = c.name.clone();
        if previous == s.image {
            captured.set(Undo::Nothing);
            return Ok(None);
        }
        captured.set(run(K8sSpec::SetImage(K8sSetImage {
            deployment: s.deployment.clone(),
            namespace: Some(ns.clone()),
            image: previous.clone(),
            container: Some(container.clone()),
        })));
        c.image = Some(s.image.clone());
        Ok(Some((container, previous)))
    })
    .await;
    match result {
        Ok((_, Some((container, previous)))) => Outcome::ok(json!({
            "deployment": s.deployment, "namespace": ns, "container": container,
            "previous": previous, "image": s.image, "changed": true,
        })),
        Ok((_, None)) => Outcome::ok(json!({
            "deployment": s.deployment, "namespace": ns, "previous": s.image, "image": s.image, "changed": false,
        })),
        Err(e) => Outcome::fail(e),
    }
}

/// The deployment's ReplicaSets (those it controls), with their revisions, oldest first.
async fn revisions(op: &Op<'_, '_>, ns: &str, d: &Deployment) -> Result<Vec<(i64, ReplicaSet)>, String> {
    let name = d.metadata.name.clone().unwrap_or_default();
    let api: Api<ReplicaSet> = Api::namespaced(op.cluster.client.clone(), ns);
    let selector = d
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.as_ref())
        .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","))
        .unwrap_or_default();
    let list = api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| describe(&format!("list the replicasets of deployment/{name} in {ns}"), &e))?;
    let uid = d.metadata.uid.clone();
    let mut out: Vec<(i64, ReplicaSet)> = list
        .items
        .into_iter()
        .filter(|rs| {
            rs.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.controller == Some(true) && Some(&o.uid) == uid.as_ref())
        })
        .filter_map(|rs| revision_of(&rs.metadata).map(|r| (r, rs)))
        .collect();
    out.sort_by_key(|(r, _)| *r);
    Ok(out)
}

pub async fn undo(op: &Op<'_, '_>, u: &K8sUndo) -> Outcome {
    let ns = op.cluster.ns(&u.namespace).to_string();
    let api: Api<Deployment> = Api::namespaced(op.cluster.client.clone(), &ns);
    let what = format!("rollout undo deployment/{} in {ns}", u.deployment);
    let wanted = match u.to_revision.as_ref().map(Num::get).transpose() {
        Ok(r) => r,
        Err(e) => return Outcome::fail(format!("`to_revision`: {e}")),
    };
    let d = match api.get(&u.deployment).await {
        Ok(d) => d,
        Err(e) => return Outcome::fail(describe(&what, &e)),
    };
    let current = revision_of(&d.metadata);
    let revs = match revisions(op, &ns, &d).await {
        Ok(r) => r,
        Err(e) => return Outcome::fail(e),
    };
    let known: Vec<String> = revs.iter().map(|(r, _)| r.to_string()).collect();
    let target = match wanted {
        Some(n) => revs.iter().find(|(r, _)| *r == n),
        None => revs.iter().rev().find(|(r, _)| Some(*r) < current),
    };
    let Some((target_rev, rs)) = target else {
        return Outcome::fail(match wanted {
            Some(n) => format!(
                "deployment/{} in {ns} has no revision {n} (it has: {})",
                u.deployment,
                known.join(", ")
            ),
            None => format!(
                "deployment/{} in {ns} has no revision before {}",
                u.deployment,
                current.unwrap_or(0)
            ),
        });
    };
    if Some(*target_rev) == current {
        op.captured.set(Undo::Nothing);
        return Outcome::ok(
            json!({ "deployment": u.deployment, "namespace": ns, "revision": current, "changed": false }),
        );
    }
    let mut template = rs.spec.as_ref().and_then(|s| s.template.clone()).unwrap_or_default();
    if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove("pod-template-hash");
    }
    let captured = op.captured;
    let (name, namespace) = (u.deployment.clone(), ns.clone());
    let result = update(&api, &u.deployment, &what, &op.post(), |dep| {
        let before = revision_of(&dep.metadata);
        captured.set(back_to(&name, &namespace, before));
        dep.spec.get_or_insert_with(Default::default).template = template.clone();
        Ok(Some(before))
    })
    .await;
    match result {
        Ok((after, before)) => Outcome::ok(json!({
            "deployment": u.deployment,
            "namespace": ns,
            "from_revision": before.flatten(),
            "to_revision": target_rev,
            "revision": revision_of(&after.metadata),
            "changed": true,
        })),
        Err(e) => Outcome::fail(e),
    }
}
