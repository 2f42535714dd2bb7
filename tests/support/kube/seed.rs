//! Objects to seed with `KubeServer::put`, so that tests stay short.

use serde_json::{Map, Value, json};

use super::state::now;

fn labels(pairs: &[(&str, &str)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect::<Map<_, _>>(),
    )
}

fn ready_condition(kind: &str, ready: bool) -> Value {
    json!({
        "type": kind,
        "status": if ready { "True" } else { "False" },
        "lastProbeTime": null,
        "lastTransitionTime": now(),
    })
}

/// A Namespace.
pub fn namespace(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": { "name": name, "labels": { "kubernetes.io/metadata.name": name } },
        "spec": { "finalizers": ["kubernetes"] },
        "status": { "phase": "Active" },
    })
}

/// A schedulable Node whose `Ready` condition is `ready`.
pub fn node(name: &str, ready: bool) -> Value {
    let ts = now();
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": { "name": name, "labels": { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux" } },
        "spec": {},
        "status": {
            "conditions": [{
                "type": "Ready",
                "status": if ready { "True" } else { "False" },
                "reason": if ready { "KubeletReady" } else { "KubeletNotReady" },
                "message": if ready { "kubelet is posting ready status" } else { "container runtime is down" },
                "lastHeartbeatTime": ts,
                "lastTransitionTime": ts,
            }],
            "addresses": [{ "type": "Hostname", "address": name }],
        },
    })
}

/// A Deployment of `replicas` pods with one container named `app` running `image`, selecting and
/// labelled `app=<name>`. Seeding it creates revision 1 and its ReplicaSet.
pub fn deployment(namespace: &str, name: &str, replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": name, "namespace": namespace, "labels": { "app": name } },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": { "containers": [{ "name": "app", "image": image }] },
            },
        },
    })
}

fn pod_base(namespace: &str, name: &str, pod_labels: &[(&str, &str)], node: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": name, "namespace": namespace, "labels": labels(pod_labels) },
        "spec": {
            "nodeName": node,
            "containers": [{ "name": "app", "image": "app:1" }],
        },
    })
}

/// A Running pod on `node` with one container `app`; `ready` sets its Ready and ContainersReady
/// conditions and the container's readiness.
pub fn pod(namespace: &str, name: &str, pod_labels: &[(&str, &str)], node: &str, ready: bool) -> Value {
    let mut p = pod_base(namespace, name, pod_labels, node);
    p["status"] = json!({
        "phase": "Running",
        "conditions": [ready_condition("Ready", ready), ready_condition("ContainersReady", ready)],
        "containerStatuses": [{
            "name": "app",
            "image": "app:1",
            "imageID": "",
            "ready": ready,
            "started": true,
            "restartCount": 0,
            "state": { "running": { "startedAt": now() } },
        }],
    });
    p
}

/// A Running but unready pod whose container `app` is waiting with `reason` (e.g.
/// "CrashLoopBackOff", "ImagePullBackOff"), after 5 restarts.
pub fn pod_waiting(namespace: &str, name: &str, pod_labels: &[(&str, &str)], node: &str, reason: &str) -> Value {
    let mut p = pod_base(namespace, name, pod_labels, node);
    p["status"] = json!({
        "phase": "Running",
        "conditions": [ready_condition("Ready", false), ready_condition("ContainersReady", false)],
        "containerStatuses": [{
            "name": "app",
            "image": "app:1",
            "imageID": "",
            "ready": false,
            "started": false,
            "restartCount": 5,
            "state": { "waiting": { "reason": reason, "message": format!("container app is in {reason}") } },
            "lastState": { "terminated": { "exitCode": 1, "reason": "Error", "finishedAt": now() } },
        }],
    });
    p
}

/// A PodDisruptionBudget over pods labelled `app=<selector_app>` with `minAvailable`.
pub fn pdb(namespace: &str, name: &str, selector_app: &str, min_available: i64) -> Value {
    json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": { "name": name, "namespace": namespace },
        "spec": { "minAvailable": min_available, "selector": { "matchLabels": { "app": selector_app } } },
    })
}

/// A PodDisruptionBudget over pods labelled `app=<selector_app>` with `maxUnavailable`.
pub fn pdb_max_unavailable(namespace: &str, name: &str, selector_app: &str, max_unavailable: i64) -> Value {
    json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": { "name": name, "namespace": namespace },
        "spec": { "maxUnavailable": max_unavailable, "selector": { "matchLabels": { "app": selector_app } } },
    })
}

/// An ArgoCD Application `name` in `namespace` deploying the Helm chart `helm` of the platform
/// repository to `destination` with `image` (`image.repository` and `image.tag`), deployed once
/// (history id 1); `automated` turns on automated sync, with self-heal when `Some(true)`. The
/// Deployments it manages carry `app.kubernetes.io/instance: <name>` (see [`managed_by`]).
pub fn application(namespace: &str, name: &str, destination: &str, image: &str, automated: Option<bool>) -> Value {
    let (repository, tag) = image.rsplit_once(':').unwrap_or((image, "latest"));
    let source = json!({
        "repoURL": "https://gitlab.com/mycompany/kubernetes-cicd-complete.git",
        "path": "helm",
        "targetRevision": "main",
        "helm": { "parameters": [
            { "name": "image.repository", "value": repository },
            { "name": "image.tag", "value": tag },
        ] },
    });
    let mut app = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": { "name": name, "namespace": namespace },
        "spec": {
            "project": "default",
            "source": source,
            "destination": { "server": "https://kubernetes.default.svc", "namespace": destination },
        },
        "status": {
            "sync": {
                "status": "Synced",
                "revision": "1111111111111111111111111111111111111111",
                "comparedTo": { "source": source, "destination": { "server": "https://kubernetes.default.svc", "namespace": destination } },
            },
            "health": { "status": "Healthy" },
            "history": [{
                "id": 1,
                "revision": "1111111111111111111111111111111111111111",
                "source": source,
                "deployedAt": "2026-01-01T00:00:00Z",
            }],
        },
    });
    if let Some(self_heal) = automated {
        app["spec"]["syncPolicy"] = json!({ "automated": { "prune": true, "selfHeal": self_heal } });
    }
    app
}

/// `deployment` labelled as managed by the ArgoCD Application `app`.
pub fn managed_by(mut deployment: Value, app: &str) -> Value {
    deployment["metadata"]["labels"]["app.kubernetes.io/instance"] = json!(app);
    deployment
}
