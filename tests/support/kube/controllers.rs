//! What the control plane does around a write, run synchronously: defaults, the node lifecycle's
//! unschedulable taint, the deployment controller (ReplicaSets, revisions, status), and garbage
//! collection of owned objects and namespace contents (ArgoCD's controller is in `argocd`). No
//! pods are ever created.

use serde_json::{Value, json};

use super::state::{Key, Res, State, now};

const REVISION: &str = "deployment.kubernetes.io/revision";
const HASH_LABEL: &str = "pod-template-hash";
const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

/// Defaults and derived fields, filled before an object is stored.
pub(crate) fn normalize(res: &Res, obj: &mut Value) {
    match (res.group.as_str(), res.plural.as_str()) {
        ("", "nodes") => node_taints(obj),
        ("", "namespaces") => default_phase(obj, "Active"),
        ("", "pods") => default_phase(obj, "Pending"),
        ("apps", "deployments") => {
            let spec = &mut obj["spec"];
            if spec["replicas"].is_null() {
                spec["replicas"] = json!(1);
            }
            if spec["strategy"].is_null() {
                spec["strategy"] =
                    json!({ "type": "RollingUpdate", "rollingUpdate": { "maxUnavailable": "25%", "maxSurge": "25%" } });
            }
            if spec["revisionHistoryLimit"].is_null() {
                spec["revisionHistoryLimit"] = json!(10);
            }
            if spec["progressDeadlineSeconds"].is_null() {
                spec["progressDeadlineSeconds"] = json!(600);
            }
        }
        _ => {}
    }
}

fn default_phase(obj: &mut Value, phase: &str) {
    if obj["status"]["phase"].is_null() {
        obj["status"]["phase"] = json!(phase);
    }
}

/// A cordoned node carries the `node.kubernetes.io/unschedulable:NoSchedule` taint, and only then.
fn node_taints(obj: &mut Value) {
    let cordoned = obj["spec"]["unschedulable"].as_bool().unwrap_or(false);
    let mut taints: Vec<Value> = obj["spec"]["taints"].as_array().cloned().unwrap_or_default();
    let has = taints.iter().any(|t| t["key"] == UNSCHEDULABLE_TAINT);
    if cordoned && !has {
        taints.push(json!({ "key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule", "timeAdded": now() }));
    } else if !cordoned && has {
        taints.retain(|t| t["key"] != UNSCHEDULABLE_TAINT);
    } else {
        return;
    }
    if taints.is_empty() {
        if let Some(spec) = obj["spec"].as_object_mut() {
            spec.remove("taints");
        }
    } else {
        obj["spec"]["taints"] = Value::Array(taints);
    }
}

/// Controllers that react to a stored object.
pub(crate) fn after_write(state: &mut State, key: &Key) {
    if key.group == "apps" && key.plural == "deployments" {
        reconcile_deployment(state, &key.namespace, &key.name);
    }
    super::argocd::after_write(state, key);
}

/// Garbage collection after a delete: a namespace's contents, and (unless orphaned) every object
/// whose ownerReferences name a deleted object.
pub(crate) fn after_delete(state: &mut State, key: &Key, deleted: &Value, orphan: bool) {
    if key.group.is_empty() && key.plural == "namespaces" {
        let inside: Vec<Key> = state
            .objects
            .keys()
            .filter(|k| k.namespace == key.name)
            .cloned()
            .collect();
        for k in inside {
            state.remove(&k);
        }
    }
    if orphan {
        return;
    }
    let mut gone = vec![deleted["metadata"]["uid"].as_str().unwrap_or_default().to_string()];
    while let Some(uid) = gone.pop() {
        if uid.is_empty() {
            continue;
        }
        let owned: Vec<Key> = state
            .objects
            .iter()
            .filter(|(_, v)| {
                v["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid.as_str()))
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in owned {
            if let Some(obj) = state.remove(&k) {
                gone.push(obj["metadata"]["uid"].as_str().unwrap_or_default().to_string());
            }
        }
    }
}

/// JSON with object keys sorted, whatever map serde_json was built with.
pub(crate) fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&m[k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// A pod template without the `pod-template-hash` label (and without an empty labels map), for
/// comparing a Deployment's template with a ReplicaSet's.
fn unhashed(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(labels) = t["metadata"]["labels"].as_object_mut() {
        labels.remove(HASH_LABEL);
        if labels.is_empty()
            && let Some(meta) = t["metadata"].as_object_mut()
        {
            meta.remove("labels");
        }
    }
    t
}

/// The template hash: FNV-1a of the canonical template, 10 hex digits.
fn template_hash(template: &Value) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in canonical(&unhashed(template)).bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:010x}", h & 0xff_ffff_ffff)
}

fn revision(obj: &Value) -> u64 {
    obj["metadata"]["annotations"][REVISION]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// An int-or-percent of `total`, rounded down (maxUnavailable in a rolling update).
fn scaled_down(v: &Value, total: i64) -> i64 {
    match v {
        Value::String(s) => s
            .strip_suffix('%')
            .and_then(|p| p.parse::<i64>().ok())
            .map(|p| p * total / 100)
            .unwrap_or(0),
        other => int(other),
    }
}

/// Writes `obj` under `key` only if it changed, so that controllers do not churn resourceVersions.
fn write_if_changed(state: &mut State, key: &Key, obj: Value) {
    if state.get(key) != Some(&obj) {
        state.commit(key.clone(), obj);
    }
}

fn condition(kind: &str, status: &str, reason: &str, message: &str, previous: &Value) -> Value {
    let old = previous["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == kind));
    let ts = now();
    let transition = match old {
        Some(c) if c["status"] == status => c["lastTransitionTime"].clone(),
        _ => json!(ts),
    };
    let update = match old {
        Some(c) if c["status"] == status && c["reason"] == reason && c["message"] == message => {
            c["lastUpdateTime"].clone()
        }
        _ => json!(ts),
    };
    json!({
        "type": kind,
        "status": status,
        "lastUpdateTime": update,
        "lastTransitionTime": transition,
        "reason": reason,
        "message": message,
    })
}

/// Sets `field` to `n`, or removes it when 0 (the API omits zero counts).
fn set_count(status: &mut Value, field: &str, n: i64) {
    if n == 0 {
        if let Some(m) = status.as_object_mut() {
            m.remove(field);
        }
    } else {
        status[field] = json!(n);
    }
}

/// The deployment controller: makes or reuses the ReplicaSet of the current template, numbers
/// revisions, scales ReplicaSets, and derives the Deployment's status from theirs. A stuck deployment
/// leaves ReplicaSet status as it is, so its rollout never completes.
pub(crate) fn reconcile_deployment(state: &mut State, namespace: &str, name: &str) {
    let dep_key = Key {
        group: "apps".into(),
        plural: "deployments".into(),
        namespace: namespace.into(),
        name: name.into(),
    };
    let Some(dep) = state.get(&dep_key).cloned() else {
        return;
    };
    let uid = dep["metadata"]["uid"].as_str().unwrap_or_default().to_string();
    let desired = dep["spec"]["replicas"].as_i64().unwrap_or(1);
    let template = dep["spec"]["template"].clone();
    let paused = dep["spec"]["paused"].as_bool().unwrap_or(false);
    let stuck = state.stuck.contains(&(namespace.to_string(), name.to_string()));
    let past_deadline = state.past_deadline.contains(&(namespace.to_string(), name.to_string()));
    let generation = dep["metadata"]["generation"].clone();

    let owned: Vec<(Key, Value)> = state
        .of("apps", "replicasets", Some(namespace))
        .into_iter()
        .filter(|(_, rs)| {
            rs["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid.as_str() && r["controller"] == true))
        })
        .collect();
    let max_revision = owned.iter().map(|(_, rs)| revision(rs)).max().unwrap_or(0);
    let wanted = unhashed(&template);
    let matching = owned.iter().find(|(_, rs)| unhashed(&rs["spec"]["template"]) == wanted);

    let (new_key, mut new_rs) = match (matching, paused) {
        (Some((k, rs)), _) => {
            let mut rs = rs.clone();
            if revision(&rs) < max_revision {
                rs["metadata"]["annotations"][REVISION] = json!((max_revision + 1).to_string());
            }
            (k.clone(), rs)
        }
        // A paused deployment rolls nothing out: it keeps scaling its newest ReplicaSet.
        (None, true) => match owned.iter().max_by_key(|(_, rs)| revision(rs)) {
            Some((k, rs)) => (k.clone(), rs.clone()),
            None => return,
        },
        (None, false) => {
            let hash = template_hash(&template);
            let mut tmpl = template.clone();
            tmpl["metadata"]["labels"][HASH_LABEL] = json!(hash);
            let mut selector = dep["spec"]["selector"].clone();
            selector["matchLabels"][HASH_LABEL] = json!(hash);
            let mut labels = template["metadata"]["labels"].clone();
            labels[HASH_LABEL] = json!(hash);
            let rs_name = format!("{name}-{hash}");
            let mut rs = json!({
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": rs_name,
                    "namespace": namespace,
                    "labels": labels,
                    "annotations": { REVISION: (max_revision + 1).to_string() },
                    "ownerReferences": [{
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": name,
                        "uid": uid,
                        "controller": true,
                        "blockOwnerDeletion": true,
                    }],
                },
                "spec": { "replicas": 0, "selector": selector, "template": tmpl },
                "status": { "replicas": 0 },
            });
            state.stamp_new(&mut rs);
            let key = Key {
                group: "apps".into(),
                plural: "replicasets".into(),
                namespace: namespace.into(),
                name: rs_name,
            };
            (key, rs)
        }
    };

    // Scale: the new ReplicaSet to the desired count; old ones to 0 once the rollout completes.
    let surge = scaled_down(&dep["spec"]["strategy"]["rollingUpdate"]["maxSurge"], desired).max(1);
    new_rs["spec"]["replicas"] = json!(desired);
    new_rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] = json!(desired.to_string());
    new_rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] = json!((desired + surge).to_string());
    if !stuck {
        new_rs["status"] = json!({ "replicas": desired, "observedGeneration": new_rs["metadata"]["generation"] });
        for field in ["fullyLabeledReplicas", "readyReplicas", "availableReplicas"] {
            set_count(&mut new_rs["status"], field, desired);
        }
    }
    write_if_changed(state, &new_key, new_rs);
    if !stuck {
        for (k, rs) in &owned {
            if *k == new_key {
                continue;
            }
            let mut rs = rs.clone();
            rs["spec"]["replicas"] = json!(0);
            rs["status"] = json!({ "replicas": 0, "observedGeneration": rs["metadata"]["generation"] });
            write_if_changed(state, k, rs);
        }
    }

    // The Deployment's status, from its ReplicaSets as they now are.
    let rss: Vec<(Key, Value)> = state
        .of("apps", "replicasets", Some(namespace))
        .into_iter()
        .filter(|(k, _)| *k == new_key || owned.iter().any(|(o, _)| o == k))
        .collect();
    let sum = |field: &str| rss.iter().map(|(_, rs)| int(&rs["status"][field])).sum::<i64>();
    let (replicas, ready, available) = (sum("replicas"), sum("readyReplicas"), sum("availableReplicas"));
    let new_now = state.get(&new_key).cloned().unwrap_or_default();
    let updated = int(&new_now["status"]["replicas"]);
    let new_revision = revision(&new_now);
    let max_unavailable = scaled_down(&dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"], desired);
    let available_condition = if available >= desired - max_unavailable {
        condition(
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            &dep,
        )
    } else {
        condition(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            &dep,
        )
    };
    let rs_name = &new_key.name;
    let progressing = if paused {
        condition(
            "Progressing",
            "Unknown",
            "DeploymentPaused",
            "Deployment is paused",
            &dep,
        )
    } else if updated == desired && replicas == desired && available == desired {
        condition(
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            &format!("ReplicaSet \"{rs_name}\" has successfully progressed."),
            &dep,
        )
    } else if past_deadline {
        condition(
            "Progressing",
            "False",
            "ProgressDeadlineExceeded",
            &format!("ReplicaSet \"{rs_name}\" has timed out progressing."),
            &dep,
        )
    } else {
        condition(
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            &format!("ReplicaSet \"{rs_name}\" is progressing."),
            &dep,
        )
    };
    let mut status = json!({ "observedGeneration": generation, "conditions": [available_condition, progressing] });
    set_count(&mut status, "replicas", replicas);
    set_count(&mut status, "updatedReplicas", updated);
    set_count(&mut status, "readyReplicas", ready);
    set_count(&mut status, "availableReplicas", available);
    set_count(&mut status, "unavailableReplicas", (desired - available).max(0));
    let mut dep_after = dep.clone();
    dep_after["status"] = status;
    if new_revision > 0 {
        dep_after["metadata"]["annotations"][REVISION] = json!(new_revision.to_string());
    }
    write_if_changed(state, &dep_key, dep_after);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_hash_ignores_its_own_label_and_key_order() {
        let a =
            json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "x"}]}});
        let b = json!({"spec": {"containers": [{"image": "x", "name": "app"}]}, "metadata": {"labels": {"pod-template-hash": "1", "app": "web"}}});
        assert_eq!(template_hash(&a), template_hash(&b));
        assert_eq!(template_hash(&a).len(), 10);
    }
}
