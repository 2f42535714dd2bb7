//! The resources this server knows by name: their kind, scope and subresources, and the discovery
//! documents (`/api`, `/apis`, `/api/v1`, `/apis/{group}/{version}`, aggregated discovery) made from them.
//! Any other plural is still stored generically; it just is not listed.

use serde_json::{Value, json};

/// One served resource.
pub(crate) struct Known {
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short: &'static [&'static str],
    pub subresources: &'static [&'static str],
}

const fn k(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    subresources: &'static [&'static str],
) -> Known {
    Known {
        group,
        version,
        plural,
        kind,
        namespaced,
        short,
        subresources,
    }
}

pub(crate) const KNOWN: &[Known] = &[
    k("", "v1", "configmaps", "ConfigMap", true, &["cm"], &[]),
    k("", "v1", "endpoints", "Endpoints", true, &["ep"], &[]),
    k("", "v1", "events", "Event", true, &["ev"], &[]),
    k(
        "",
        "v1",
        "namespaces",
        "Namespace",
        false,
        &["ns"],
        &["status", "finalize"],
    ),
    k("", "v1", "nodes", "Node", false, &["no"], &["status"]),
    k(
        "",
        "v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        true,
        &["pvc"],
        &["status"],
    ),
    k(
        "",
        "v1",
        "persistentvolumes",
        "PersistentVolume",
        false,
        &["pv"],
        &["status"],
    ),
    k("", "v1", "pods", "Pod", true, &["po"], &["status", "log", "eviction"]),
    k("", "v1", "secrets", "Secret", true, &[], &[]),
    k("", "v1", "serviceaccounts", "ServiceAccount", true, &["sa"], &[]),
    k("", "v1", "services", "Service", true, &["svc"], &["status"]),
    k(
        "apps",
        "v1",
        "controllerrevisions",
        "ControllerRevision",
        true,
        &[],
        &[],
    ),
    k("apps", "v1", "daemonsets", "DaemonSet", true, &["ds"], &["status"]),
    k(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        true,
        &["deploy"],
        &["status", "scale"],
    ),
    k(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        true,
        &["rs"],
        &["status", "scale"],
    ),
    k(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        true,
        &["sts"],
        &["status", "scale"],
    ),
    k(
        "autoscaling",
        "v1",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        true,
        &["hpa"],
        &["status"],
    ),
    k("batch", "v1", "cronjobs", "CronJob", true, &["cj"], &["status"]),
    k("batch", "v1", "jobs", "Job", true, &[], &["status"]),
    k("coordination.k8s.io", "v1", "leases", "Lease", true, &[], &[]),
    k(
        "networking.k8s.io",
        "v1",
        "ingresses",
        "Ingress",
        true,
        &["ing"],
        &["status"],
    ),
    k(
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        "NetworkPolicy",
        true,
        &["netpol"],
        &[],
    ),
    k(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        true,
        &["pdb"],
        &["status"],
    ),
    k(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        false,
        &[],
        &[],
    ),
    k(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
        false,
        &[],
        &[],
    ),
    k(
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "RoleBinding",
        true,
        &[],
        &[],
    ),
    k("rbac.authorization.k8s.io", "v1", "roles", "Role", true, &[], &[]),
    // The CRDs of the platform: ArgoCD (no status subresource, as its CRD), cert-manager, Istio.
    k(
        "argoproj.io",
        "v1alpha1",
        "applications",
        "Application",
        true,
        &["app", "apps"],
        &[],
    ),
    k(
        "argoproj.io",
        "v1alpha1",
        "appprojects",
        "AppProject",
        true,
        &["appproj", "appprojs"],
        &[],
    ),
    k(
        "cert-manager.io",
        "v1",
        "certificates",
        "Certificate",
        true,
        &["cert", "certs"],
        &["status"],
    ),
    k(
        "networking.istio.io",
        "v1beta1",
        "virtualservices",
        "VirtualService",
        true,
        &["vs"],
        &[],
    ),
];

const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// The singular name: the lowercased kind, for every resource listed here.
fn singular_of(known: &Known) -> String {
    known.kind.to_lowercase()
}

pub(crate) fn by_plural(group: &str, plural: &str) -> Option<&'static Known> {
    KNOWN.iter().find(|k| k.group == group && k.plural == plural)
}

pub(crate) fn by_kind(group: &str, kind: &str) -> Option<&'static Known> {
    KNOWN.iter().find(|k| k.group == group && k.kind == kind)
}

/// The group and version of a subresource's own kind, its kind, and its verbs.
fn subresource(
    known: &'static Known,
    sub: &str,
) -> (&'static str, &'static str, &'static str, &'static [&'static str]) {
    match sub {
        "scale" => ("autoscaling", "v1", "Scale", &["get", "patch", "update"]),
        "eviction" => ("policy", "v1", "Eviction", &["create"]),
        "log" => ("", "v1", "Pod", &["get"]),
        "finalize" => ("", "v1", "Namespace", &["update"]),
        _ => (known.group, known.version, known.kind, &["get", "patch", "update"]),
    }
}

/// The group versions served, core first: `(group, version)`.
pub(crate) fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for k in KNOWN {
        if !out.contains(&(k.group, k.version)) {
            out.push((k.group, k.version));
        }
    }
    out
}

fn gv_string(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// `GET /api`.
pub(crate) fn api_versions(port: u16) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": format!("127.0.0.1:{port}") }],
    })
}

fn api_group(group: &str) -> Value {
    let versions: Vec<Value> = group_versions()
        .into_iter()
        .filter(|(g, _)| *g == group)
        .map(|(g, v)| json!({ "groupVersion": gv_string(g, v), "version": v }))
        .collect();
    json!({
        "name": group,
        "versions": versions,
        "preferredVersion": versions.first().cloned().unwrap_or(Value::Null),
    })
}

/// `GET /apis`.
pub(crate) fn api_group_list() -> Value {
    let mut groups: Vec<&str> = Vec::new();
    for (g, _) in group_versions() {
        if !g.is_empty() && !groups.contains(&g) {
            groups.push(g);
        }
    }
    json!({
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": groups.into_iter().map(api_group).collect::<Vec<_>>(),
    })
}

/// `GET /apis/{group}`, or None for a group not served.
pub(crate) fn api_group_doc(group: &str) -> Option<Value> {
    if !KNOWN.iter().any(|k| k.group == group) {
        return None;
    }
    let mut doc = api_group(group);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

/// `GET /api/v1` or `GET /apis/{group}/{version}`, or None for a group version not served.
pub(crate) fn api_resource_list(group: &str, version: &str) -> Option<Value> {
    let known: Vec<&'static Known> = KNOWN
        .iter()
        .filter(|k| k.group == group && k.version == version)
        .collect();
    if known.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for k in known {
        resources.push(json!({
            "name": k.plural,
            "singularName": singular_of(k),
            "namespaced": k.namespaced,
            "kind": k.kind,
            "verbs": VERBS,
            "shortNames": k.short,
            "storageVersionHash": "",
        }));
        for sub in k.subresources {
            let (g, v, kind, verbs) = subresource(k, sub);
            let mut r = json!({
                "name": format!("{}/{sub}", k.plural),
                "singularName": "",
                "namespaced": k.namespaced,
                "kind": kind,
                "verbs": verbs,
            });
            if (g, v) != (k.group, k.version) {
                r["group"] = json!(g);
                r["version"] = json!(v);
            }
            resources.push(r);
        }
    }
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv_string(group, version),
        "resources": resources,
    }))
}

/// Aggregated discovery (`Accept: ...;as=APIGroupDiscoveryList`) of the core group (`core`) or of
/// every other group.
pub(crate) fn aggregated(core: bool) -> Value {
    let mut items = Vec::new();
    let mut groups: Vec<&str> = Vec::new();
    for (g, _) in group_versions() {
        if g.is_empty() == core && !groups.contains(&g) {
            groups.push(g);
        }
    }
    for group in groups {
        let mut versions = Vec::new();
        for (g, version) in group_versions() {
            if g != group {
                continue;
            }
            let resources: Vec<Value> = KNOWN
                .iter()
                .filter(|k| k.group == group && k.version == version)
                .map(|k| {
                    let subresources: Vec<Value> = k
                        .subresources
                        .iter()
                        .map(|sub| {
                            let (sg, sv, kind, verbs) = subresource(k, sub);
                            json!({
                                "subresource": sub,
                                "responseKind": { "group": sg, "version": sv, "kind": kind },
                                "verbs": verbs,
                            })
                        })
                        .collect();
                    json!({
                        "resource": k.plural,
                        "responseKind": { "group": group, "version": version, "kind": k.kind },
                        "scope": if k.namespaced { "Namespaced" } else { "Cluster" },
                        "singularResource": singular_of(k),
                        "verbs": VERBS,
                        "shortNames": k.short,
                        "subresources": subresources,
                    })
                })
                .collect();
            versions.push(json!({ "version": version, "resources": resources, "freshness": "Current" }));
        }
        let metadata = if group.is_empty() {
            json!({})
        } else {
            json!({ "name": group })
        };
        items.push(json!({ "metadata": metadata, "versions": versions }));
    }
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    })
}

/// `GET /version`.
pub(crate) fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-04-23T00:00:00Z",
        "goVersion": "go1.24.2",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// A plural for a kind this server does not know (`Widget` -> `widgets`), as kubectl guesses it.
pub(crate) fn guess_plural(kind: &str) -> String {
    let lower = kind.to_lowercase();
    if lower.ends_with('s') || lower.ends_with('x') || lower.ends_with("ch") || lower.ends_with("sh") {
        format!("{lower}es")
    } else if let Some(stem) = lower.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        format!("{stem}ies")
    } else {
        format!("{lower}s")
    }
}

/// A kind for a plural this server does not know (`widgets` -> `Widget`).
pub(crate) fn guess_kind(plural: &str) -> String {
    let singular = if let Some(stem) = plural.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = plural.strip_suffix("ses") {
        format!("{stem}s")
    } else {
        plural.strip_suffix('s').unwrap_or(plural).to_string()
    };
    let mut chars = singular.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => singular,
    }
}
