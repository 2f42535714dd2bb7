//! For the sandbox, discovery of the kinds it stores but does not know (ArgoCD Applications,
//! cert-manager Certificates, Istio VirtualServices from a seed), as if their CRDs were
//! installed, so that `kubectl get applications -n argocd` finds them.

use serde_json::{Value, json};

use super::catalog;
use super::state::State;

/// One stored resource that the catalog does not list.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Stored {
    group: String,
    version: String,
    plural: String,
    kind: String,
    namespaced: bool,
}

/// The short names the projects themselves give their kinds.
fn short_names(group: &str, plural: &str) -> &'static [&'static str] {
    match (group, plural) {
        ("argoproj.io", "applications") => &["app", "apps"],
        ("argoproj.io", "appprojects") => &["appproj", "appprojs"],
        ("cert-manager.io", "certificates") => &["cert", "certs"],
        ("cert-manager.io", "clusterissuers") => &["ciss"],
        ("networking.istio.io", "virtualservices") => &["vs"],
        ("networking.istio.io", "destinationrules") => &["dr"],
        _ => &[],
    }
}

fn stored(state: &State) -> Vec<Stored> {
    let mut out: Vec<Stored> = state
        .objects
        .iter()
        .filter(|(k, _)| !k.group.is_empty() && catalog::by_plural(&k.group, &k.plural).is_none())
        .map(|(k, v)| {
            let api_version = v["apiVersion"].as_str().unwrap_or_default();
            let version = api_version.rsplit_once('/').map_or(api_version, |(_, v)| v);
            Stored {
                group: k.group.clone(),
                version: version.to_string(),
                plural: k.plural.clone(),
                kind: v["kind"].as_str().unwrap_or_default().to_string(),
                namespaced: !k.namespace.is_empty(),
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

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

/// The groups to add to `GET /apis`, each `(group, [versions])`, in name order.
fn groups(state: &State) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for s in stored(state) {
        if catalog::group_versions().iter().any(|(g, _)| *g == s.group) {
            continue;
        }
        match out.iter_mut().find(|(g, _)| *g == s.group) {
            Some((_, versions)) if !versions.contains(&s.version) => versions.push(s.version),
            Some(_) => {}
            None => out.push((s.group, vec![s.version])),
        }
    }
    out
}

fn group_doc(group: &str, versions: &[String]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| json!({ "groupVersion": format!("{group}/{v}"), "version": v }))
        .collect();
    json!({ "name": group, "versions": versions, "preferredVersion": versions.first().cloned().unwrap_or(Value::Null) })
}

/// `GET /apis` with the stored groups added.
pub(crate) fn api_group_list(state: &State, mut doc: Value) -> Value {
    if let Some(list) = doc["groups"].as_array_mut() {
        list.extend(groups(state).iter().map(|(g, vs)| group_doc(g, vs)));
    }
    doc
}

/// `GET /apis/{group}` of a stored group.
pub(crate) fn api_group_doc(state: &State, group: &str) -> Option<Value> {
    let (g, versions) = groups(state).into_iter().find(|(g, _)| g == group)?;
    let mut doc = group_doc(&g, &versions);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

fn resources(state: &State, group: &str, version: &str) -> Vec<Stored> {
    stored(state)
        .into_iter()
        .filter(|s| s.group == group && s.version == version)
        .collect()
}

/// `GET /apis/{group}/{version}` of a stored group version.
pub(crate) fn api_resource_list(state: &State, group: &str, version: &str) -> Option<Value> {
    if groups(state).iter().all(|(g, _)| g != group) {
        return None;
    }
    let resources: Vec<Value> = resources(state, group, version)
        .iter()
        .map(|s| {
            json!({
                "name": s.plural,
                "singularName": s.kind.to_lowercase(),
                "namespaced": s.namespaced,
                "kind": s.kind,
                "verbs": VERBS,
                "shortNames": short_names(group, &s.plural),
            })
        })
        .collect();
    if resources.is_empty() {
        return None;
    }
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": format!("{group}/{version}"),
        "resources": resources,
    }))
}

/// Aggregated discovery of the non-core groups with the stored groups added.
pub(crate) fn aggregated(state: &State, mut doc: Value) -> Value {
    let Some(items) = doc["items"].as_array_mut() else {
        return doc;
    };
    for (group, versions) in groups(state) {
        let versions: Vec<Value> = versions
            .iter()
            .map(|version| {
                let resources: Vec<Value> = resources(state, &group, version)
                    .iter()
                    .map(|s| {
                        json!({
                            "resource": s.plural,
                            "responseKind": { "group": group, "version": version, "kind": s.kind },
                            "scope": if s.namespaced { "Namespaced" } else { "Cluster" },
                            "singularResource": s.kind.to_lowercase(),
                            "verbs": VERBS,
                            "shortNames": short_names(&group, &s.plural),
                        })
                    })
                    .collect();
                json!({ "version": version, "resources": resources, "freshness": "Current" })
            })
            .collect();
        items.push(json!({ "metadata": { "name": group }, "versions": versions }));
    }
    doc
}
