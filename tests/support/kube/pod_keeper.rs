//! For the sandbox, what the ReplicaSet controller, the scheduler and the kubelets do together:
//! every ReplicaSet gets as many pods as its spec asks, Running and Ready on the Ready,
//! schedulable node that has the fewest pods, or Pending (Unschedulable) when there is none; a
//! pod annotated `kube-sandbox/waiting: REASON` (on itself or its template) fails that way.
//! The tests' server keeps no pods unless asked, so that a test seeds exactly the pods it means.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};

use super::KubeServer;
use super::state::{Key, Shared, State, now};

impl KubeServer {
    /// From now on, a thread keeps the pods of every ReplicaSet (until the server is dropped).
    /// Pods that no ReplicaSet owns are left alone.
    pub fn keep_pods(&self) {
        let shared = self.shared.clone();
        std::thread::spawn(move || keep(&shared));
    }
}

fn keep(shared: &Arc<Shared>) {
    let mut state = shared.lock();
    loop {
        if shared.stopped.load(Ordering::SeqCst) {
            return;
        }
        if reconcile(&mut state) {
            shared.changed.notify_all();
        }
        // Woken by every change (ours too: the next pass finds nothing to do), and at least
        // twice a second to notice the stop flag.
        state = shared
            .changed
            .wait_timeout(state, Duration::from_millis(500))
            .map(|(s, _)| s)
            .unwrap_or_else(|e| e.into_inner().0);
    }
}

fn pod_key(namespace: &str, name: &str) -> Key {
    Key {
        group: String::new(),
        plural: "pods".into(),
        namespace: namespace.into(),
        name: name.into(),
    }
}

fn owner_uid(pod: &Value) -> Option<&str> {
    pod["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true && r["kind"] == "ReplicaSet")?["uid"]
        .as_str()
}

fn schedulable(node: &Value) -> bool {
    let ready = node["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
    ready && node["spec"]["unschedulable"] != true
}

/// One pass; whether anything changed.
fn reconcile(state: &mut State) -> bool {
    let mut changed = false;
    let nodes: Vec<(String, String)> = state
        .of("", "nodes", None)
        .into_iter()
        .filter(|(_, n)| schedulable(n))
        .map(|(k, n)| {
            let ip = n["status"]["addresses"]
                .as_array()
                .and_then(|a| a.iter().find(|x| x["type"] == "InternalIP"))
                .and_then(|x| x["address"].as_str())
                .unwrap_or("10.0.0.1")
                .to_string();
            (k.name, ip)
        })
        .collect();
    let all_nodes: Vec<String> = state.of("", "nodes", None).into_iter().map(|(k, _)| k.name).collect();
    let pods = state.of("", "pods", None);
    let mut load: Vec<usize> = nodes
        .iter()
        .map(|(n, _)| pods.iter().filter(|(_, p)| p["spec"]["nodeName"] == n.as_str()).count())
        .collect();

    // Pods of a node that is gone are gone with it; their ReplicaSet makes new ones below.
    for (k, p) in &pods {
        if owner_uid(p).is_some()
            && let Some(node) = p["spec"]["nodeName"].as_str()
            && !all_nodes.iter().any(|n| n == node)
        {
            state.remove(k);
            changed = true;
        }
    }
    // Pods told to fail, by hand or through their template, fail as told.
    for (k, p) in state.of("", "pods", None) {
        if let Some(reason) = p["metadata"]["annotations"][WAITING].as_str()
            && p["status"]["phase"] == "Running"
            && p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"].as_str()
                != Some(waiting_reason(reason))
        {
            let mut p = p.clone();
            fail(&mut p, reason);
            state
                .logs
                .insert((k.namespace.clone(), k.name.clone()), crash_log(reason).into());
            state.commit(k, p);
            changed = true;
        }
    }
    for (rs_key, rs) in state.of("apps", "replicasets", None) {
        let uid = rs["metadata"]["uid"].as_str().unwrap_or_default().to_string();
        let want = usize::try_from(rs["spec"]["replicas"].as_i64().unwrap_or(0).max(0)).unwrap_or(0);
        let mut mine: Vec<(Key, Value)> = state
            .of("", "pods", Some(&rs_key.namespace))
            .into_iter()
            .filter(|(_, p)| owner_uid(p) == Some(uid.as_str()))
            .collect();
        // Pending pods are scheduled as soon as a node can take them.
        for (k, p) in &mine {
            if p["status"]["phase"] == "Pending"
                && let Some(i) = least_loaded(&load)
            {
                let mut p = p.clone();
                place(&mut p, &nodes[i].0, &nodes[i].1, state.rv);
                load[i] += 1;
                state.commit(k.clone(), p);
                changed = true;
            }
        }
        // Extra pods go newest first, as the ReplicaSet controller prefers.
        mine.sort_by(|a, b| {
            a.1["metadata"]["creationTimestamp"]
                .as_str()
                .cmp(&b.1["metadata"]["creationTimestamp"].as_str())
                .then(a.0.name.cmp(&b.0.name))
        });
        while mine.len() > want {
            if let Some((k, _)) = mine.pop() {
                state.remove(&k);
                changed = true;
            }
        }
        for _ in mine.len()..want {
            let name = format!("{}-{}", rs_key.name, state.suffix());
            let mut pod = json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": name,
                    "namespace": rs_key.namespace,
                    "labels": rs["spec"]["template"]["metadata"]["labels"],
                    "annotations": rs["spec"]["template"]["metadata"]["annotations"],
                    "ownerReferences": [{
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": rs_key.name,
                        "uid": uid,
                        "controller": true,
                        "blockOwnerDeletion": true,
                    }],
                },
                "spec": rs["spec"]["template"]["spec"],
                "status": {
                    "phase": "Pending",
                    "conditions": [{
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": "0/0 nodes are available: no Ready, schedulable node.",
                        "lastProbeTime": null,
                        "lastTransitionTime": now(),
                    }],
                },
            });
            if pod["metadata"]["annotations"].is_null()
                && let Some(meta) = pod["metadata"].as_object_mut()
            {
                meta.remove("annotations");
            }
            if let Some(i) = least_loaded(&load) {
                place(&mut pod, &nodes[i].0, &nodes[i].1, state.rv);
                load[i] += 1;
            }
            state.stamp_new(&mut pod);
            state.commit(pod_key(&rs_key.namespace, &name), pod);
            changed = true;
        }
    }
    changed
}

fn least_loaded(load: &[usize]) -> Option<usize> {
    load.iter().enumerate().min_by_key(|(_, n)| **n).map(|(i, _)| i)
}

/// Puts the pod on `node`, Running and Ready, every container started.
fn place(pod: &mut Value, node: &str, node_ip: &str, seq: u64) {
    let ts = now();
    let condition =
        |kind: &str| json!({ "type": kind, "status": "True", "lastProbeTime": null, "lastTransitionTime": ts });
    let containers: Vec<Value> = pod["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|c| {
            json!({
                "name": c["name"],
                "image": c["image"],
                "imageID": "",
                "ready": true,
                "started": true,
                "restartCount": 0,
                "state": { "running": { "startedAt": ts } },
            })
        })
        .collect();
    // A pod IP in the node's subnet, different for each pod.
    let subnet = node_ip.rsplit_once('.').map_or("10.0.0", |(s, _)| s);
    pod["spec"]["nodeName"] = json!(node);
    pod["status"] = json!({
        "phase": "Running",
        "hostIP": node_ip,
        "podIP": format!("{subnet}.{}", 10 + seq % 240),
        "startTime": ts,
        "conditions": [
            condition("PodReadyToStartContainers"),
            condition("Initialized"),
            condition("Ready"),
            condition("ContainersReady"),
            condition("PodScheduled"),
        ],
        "containerStatuses": containers,
        "qosClass": "Burstable",
    });
}

/// The annotation that makes a pod fail: `CrashLoopBackOff`, `OOMKilled` (a crash loop whose last
/// termination was OOMKilled), `ImagePullBackOff`, `ErrImagePull`, `CreateContainerConfigError`.
pub(crate) const WAITING: &str = "kube-sandbox/waiting";

/// What the container waits in for a value of [`WAITING`].
fn waiting_reason(annotation: &str) -> &str {
    if annotation == "OOMKilled" {
        "CrashLoopBackOff"
    } else {
        annotation
    }
}

/// What the crashed container printed last: a line incident playbooks count.
fn crash_log(annotation: &str) -> &'static str {
    match annotation {
        "OOMKilled" => "fatal error: runtime: out of memory\n",
        "CrashLoopBackOff" => "panic: dial tcp 10.0.5.10:5432: connect: connection refused\n",
        _ => "",
    }
}

/// Makes a placed pod fail with `annotation`: not ready, its container waiting; crash loops have
/// restarted five times after an Error (or OOMKilled) termination.
fn fail(pod: &mut Value, annotation: &str) {
    let reason = waiting_reason(annotation);
    let crashed = reason == "CrashLoopBackOff";
    let ts = now();
    if let Some(conditions) = pod["status"]["conditions"].as_array_mut() {
        for c in conditions
            .iter_mut()
            .filter(|c| c["type"] == "Ready" || c["type"] == "ContainersReady")
        {
            c["status"] = json!("False");
            c["reason"] = json!("ContainersNotReady");
            c["lastTransitionTime"] = json!(ts);
        }
    }
    if let Some(statuses) = pod["status"]["containerStatuses"].as_array_mut() {
        for c in statuses {
            c["ready"] = json!(false);
            c["started"] = json!(false);
            c["restartCount"] = json!(if crashed { 5 } else { 0 });
            c["state"] =
                json!({ "waiting": { "reason": reason, "message": format!("kube-sandbox/waiting: {annotation}") } });
            if crashed {
                let (code, why) = if annotation == "OOMKilled" {
                    (137, "OOMKilled")
                } else {
                    (1, "Error")
                };
                c["lastState"] =
                    json!({ "terminated": { "exitCode": code, "reason": why, "startedAt": ts, "finishedAt": ts } });
            }
        }
    }
}
