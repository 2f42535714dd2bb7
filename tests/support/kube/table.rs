//! Server-side printing: the `meta.k8s.io/v1` Table that `kubectl get` asks for, with the columns
//! the real server prints for pods, deployments, replicasets, nodes, namespaces and services (and
//! the CRDs print for ArgoCD Applications and cert-manager Certificates), Name and Age for anything
//! else. Scripts read these columns (`kubectl get pods --no-headers`).

use serde_json::{Value, json};

use super::state::Res;

/// Whether an `Accept` header asks for a Table.
pub(crate) fn wanted(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.contains("as=Table"))
}

/// The media type of a Table reply.
pub(crate) const MEDIA: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

fn column(name: &str, kind: &str, priority: u8) -> Value {
    let format = if name == "Name" { "name" } else { "" };
    json!({ "name": name, "type": kind, "format": format, "description": "", "priority": priority })
}

/// The columns of a resource: (name, type, priority; 1 is shown by `-o wide` only).
fn columns(res: &Res) -> &'static [(&'static str, &'static str, u8)] {
    match (res.group.as_str(), res.plural.as_str()) {
        ("", "pods") => &[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "string", 0),
            ("Age", "string", 0),
            ("IP", "string", 1),
            ("Node", "string", 1),
            ("Nominated Node", "string", 1),
            ("Readiness Gates", "string", 1),
        ],
        ("apps", "deployments") => &[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Up-to-date", "integer", 0),
            ("Available", "integer", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        ("apps", "replicasets") => &[
            ("Name", "string", 0),
            ("Desired", "integer", 0),
            ("Current", "integer", 0),
            ("Ready", "integer", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        ("", "nodes") => &[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Roles", "string", 0),
            ("Age", "string", 0),
            ("Version", "string", 0),
            ("Internal-IP", "string", 1),
            ("External-IP", "string", 1),
            ("OS-Image", "string", 1),
            ("Kernel-Version", "string", 1),
            ("Container-Runtime", "string", 1),
        ],
        ("", "namespaces") => &[("Name", "string", 0), ("Status", "string", 0), ("Age", "string", 0)],
        ("", "services") => &[
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Cluster-IP", "string", 0),
            ("External-IP", "string", 0),
            ("Port(s)", "string", 0),
            ("Age", "string", 0),
            ("Selector", "string", 1),
        ],
        // The printer columns of the projects' CRDs.
        ("argoproj.io", "applications") => &[
            ("Name", "string", 0),
            ("Sync Status", "string", 0),
            ("Health Status", "string", 0),
            ("Age", "string", 0),
            ("Revision", "string", 1),
            ("Project", "string", 1),
        ],
        ("cert-manager.io", "certificates") => &[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Secret", "string", 0),
            ("Age", "string", 0),
        ],
        _ => &[("Name", "string", 0), ("Age", "string", 0)],
    }
}

/// `kubectl`'s short ages: 45s, 3m12s, 25m, 5h3m, 2d4h, 30d, 3y.
fn age(obj: &Value) -> String {
    let Some(created) = obj["metadata"]["creationTimestamp"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    else {
        return "<unknown>".into();
    };
    let s = (chrono::Utc::now() - created.with_timezone(&chrono::Utc))
        .num_seconds()
        .max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86400);
    match s {
        _ if s < 120 => format!("{s}s"),
        _ if m < 10 => format!("{m}m{}s", s % 60),
        _ if h < 3 => format!("{m}m"),
        _ if h < 8 => format!("{h}h{}m", m % 60),
        _ if h < 48 => format!("{h}h"),
        _ if d < 8 => format!("{d}d{}h", h % 24),
        _ if d < 730 => format!("{d}d"),
        _ => format!("{}y", d / 365),
    }
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn text(v: &Value, fallback: &str) -> String {
    v.as_str().filter(|s| !s.is_empty()).unwrap_or(fallback).to_string()
}

fn joined(items: &Value, field: &str) -> String {
    let all: Vec<String> = items
        .as_array()
        .map(|a| a.iter().map(|c| text(&c[field], "")).collect())
        .unwrap_or_default();
    all.join(",")
}

fn selector(sel: &Value) -> String {
    super::selector::LabelSelector::to_query(sel)
}

fn pod_status(pod: &Value) -> String {
    if !pod["metadata"]["deletionTimestamp"].is_null() {
        return "Terminating".into();
    }
    let statuses = pod["status"]["containerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for s in &statuses {
        if let Some(reason) = s["state"]["waiting"]["reason"].as_str() {
            return reason.into();
        }
        if let Some(reason) = s["state"]["terminated"]["reason"].as_str() {
            return reason.into();
        }
    }
    text(&pod["status"]["reason"], &text(&pod["status"]["phase"], "Pending"))
}

fn cells(res: &Res, o: &Value) -> Vec<Value> {
    let name = json!(o["metadata"]["name"]);
    match (res.group.as_str(), res.plural.as_str()) {
        ("", "pods") => {
            let statuses = o["status"]["containerStatuses"].as_array().cloned().unwrap_or_default();
            let total = o["spec"]["containers"].as_array().map_or(0, Vec::len);
            let ready = statuses.iter().filter(|s| s["ready"] == true).count();
            let restarts: i64 = statuses.iter().map(|s| int(&s["restartCount"])).sum();
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(pod_status(o)),
                json!(restarts.to_string()),
                json!(age(o)),
                json!(text(&o["status"]["podIP"], "<none>")),
                json!(text(&o["spec"]["nodeName"], "<none>")),
                json!("<none>"),
                json!("<none>"),
            ]
        }
        ("apps", "deployments") => {
            let containers = &o["spec"]["template"]["spec"]["containers"];
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    int(&o["status"]["readyReplicas"]),
                    o["spec"]["replicas"].as_i64().unwrap_or(1)
                )),
                json!(int(&o["status"]["updatedReplicas"])),
                json!(int(&o["status"]["availableReplicas"])),
                json!(age(o)),
                json!(joined(containers, "name")),
                json!(joined(containers, "image")),
                json!(selector(&o["spec"]["selector"])),
            ]
        }
        ("apps", "replicasets") => {
            let containers = &o["spec"]["template"]["spec"]["containers"];
            vec![
                name,
                json!(int(&o["spec"]["replicas"])),
                json!(int(&o["status"]["replicas"])),
                json!(int(&o["status"]["readyReplicas"])),
                json!(age(o)),
                json!(joined(containers, "name")),
                json!(joined(containers, "image")),
                json!(selector(&o["spec"]["selector"])),
            ]
        }
        ("", "nodes") => {
            let ready = o["status"]["conditions"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
                .map_or("Unknown", |c| if c["status"] == "True" { "Ready" } else { "NotReady" });
            let status = if o["spec"]["unschedulable"] == true {
                format!("{ready},SchedulingDisabled")
            } else {
                ready.to_string()
            };
            let roles: Vec<&str> = o["metadata"]["labels"]
                .as_object()
                .map(|l| {
                    l.keys()
                        .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
                        .collect()
                })
                .unwrap_or_default();
            let address = |kind: &str| {
                o["status"]["addresses"]
                    .as_array()
                    .and_then(|a| a.iter().find(|x| x["type"] == kind))
                    .map_or("<none>".to_string(), |x| text(&x["address"], "<none>"))
            };
            let info = &o["status"]["nodeInfo"];
            vec![
                name,
                json!(status),
                json!(if roles.is_empty() {
                    "<none>".to_string()
                } else {
                    roles.join(",")
                }),
                json!(age(o)),
                json!(text(&info["kubeletVersion"], "")),
                json!(address("InternalIP")),
                json!(address("ExternalIP")),
                json!(text(&info["osImage"], "<unknown>")),
                json!(text(&info["kernelVersion"], "<unknown>")),
                json!(text(&info["containerRuntimeVersion"], "<unknown>")),
            ]
        }
        ("", "namespaces") => vec![name, json!(text(&o["status"]["phase"], "Active")), json!(age(o))],
        ("", "services") => {
            let ports: Vec<String> = o["spec"]["ports"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| format!("{}/{}", int(&p["port"]), text(&p["protocol"], "TCP")))
                        .collect()
                })
                .unwrap_or_default();
            let sel: Vec<String> = o["spec"]["selector"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| format!("{k}={}", text(v, ""))).collect())
                .unwrap_or_default();
            vec![
                name,
                json!(text(&o["spec"]["type"], "ClusterIP")),
                json!(text(&o["spec"]["clusterIP"], "<none>")),
                json!("<none>"),
                json!(if ports.is_empty() {
                    "<none>".to_string()
                } else {
                    ports.join(",")
                }),
                json!(age(o)),
                json!(if sel.is_empty() {
                    "<none>".to_string()
                } else {
                    sel.join(",")
                }),
            ]
        }
        ("argoproj.io", "applications") => vec![
            name,
            json!(text(&o["status"]["sync"]["status"], "")),
            json!(text(&o["status"]["health"]["status"], "")),
            json!(age(o)),
            json!(text(&o["status"]["sync"]["revision"], "")),
            json!(text(&o["spec"]["project"], "")),
        ],
        ("cert-manager.io", "certificates") => {
            let ready = o["status"]["conditions"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
                .map_or(String::new(), |c| text(&c["status"], ""));
            vec![
                name,
                json!(ready),
                json!(text(&o["spec"]["secretName"], "")),
                json!(age(o)),
            ]
        }
        _ => vec![name, json!(age(o))],
    }
}

/// The Table of a list (`items`) or of one object, keeping the list's resourceVersion and
/// `continue`. Each row carries the object's metadata (`kubectl -A` reads the namespace from it),
/// or the whole object with `includeObject=Object`, or nothing with `includeObject=None`.
pub(crate) fn of(res: &Res, doc: &Value, include: Option<&str>) -> Value {
    let objects: Vec<&Value> = match doc["items"].as_array() {
        Some(items) => items.iter().collect(),
        None => vec![doc],
    };
    let rows: Vec<Value> = objects
        .into_iter()
        .map(|o| {
            let mut row = json!({ "cells": cells(res, o) });
            match include {
                Some("None") => {}
                Some("Object") => row["object"] = o.clone(),
                _ => {
                    row["object"] = json!({
                        "kind": "PartialObjectMetadata",
                        "apiVersion": "meta.k8s.io/v1",
                        "metadata": o["metadata"],
                    })
                }
            }
            row
        })
        .collect();
    let mut meta = json!({ "resourceVersion": doc["metadata"]["resourceVersion"] });
    for field in ["continue", "remainingItemCount"] {
        if !doc["metadata"][field].is_null() {
            meta[field] = doc["metadata"][field].clone();
        }
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": columns(res).iter().map(|(n, t, p)| column(n, t, *p)).collect::<Vec<_>>(),
        "rows": rows,
    })
}
