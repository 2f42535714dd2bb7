//! Server-side apply (with the objects' previous state captured for the undo), delete, and the
//! revert that undoes an apply.

use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value as Json, json};

use super::client::{code, describe};
use super::conflict::retry_on_conflict;
use super::run::Op;
use crate::cx::Outcome;
use crate::spec::{Action, K8sApply, K8sObject, K8sRevert, K8sSpec, Undo};

/// The field manager our applies own fields as.
const MANAGER: &str = "runbook";

/// The documents of a manifest, `List`s flattened, empty documents dropped.
fn documents(text: &str, from: &str) -> Result<Vec<Json>, String> {
    let docs: Vec<Json> = serde_saphyr::from_multiple(text).map_err(|e| format!("{from}: not YAML: {e}"))?;
    let mut out = Vec::new();
    for d in docs {
        match d {
            Json::Null => {}
            Json::Object(ref m) if m.get("kind").and_then(Json::as_str) == Some("List") => {
                out.extend(m.get("items").and_then(Json::as_array).cloned().unwrap_or_default())
            }
            Json::Object(_) => out.push(d),
            other => return Err(format!("{from}: a document is not an object: {other}")),
        }
    }
    if out.is_empty() {
        return Err(format!("{from}: no objects to apply"));
    }
    Ok(out)
}

pub async fn apply(op: &Op<'_, '_>, a: &K8sApply) -> Outcome {
    let (text, from) = match (&a.file, &a.manifest) {
        (Some(f), None) => {
            let path = op.cx.workdir.join(f);
            match std::fs::read(&path) {
                Ok(bytes) => {
                    // The manifest applied is the one planned (and approved), byte for byte.
                    if let Err(why) = crate::compile::check_sealed(op.cx.sealed, f, &bytes) {
                        return Outcome::fail(why);
                    }
                    match String::from_utf8(bytes) {
                        Ok(t) => (t, f.clone()),
                        Err(_) => return Outcome::fail(format!("manifest {} is not UTF-8 text", path.display())),
                    }
                }
                Err(e) => return Outcome::fail(format!("cannot read manifest {}: {e}", path.display())),
            }
        }
        (None, Some(m)) => (m.clone(), "the inline manifest".to_string()),
        _ => return Outcome::fail("`apply` needs exactly one of `file` and `manifest`"),
    };
    let docs = match documents(&text, &from) {
        Ok(d) => d,
        Err(e) => return Outcome::fail(e),
    };
    // Check every document before changing anything.
    for (i, d) in docs.iter().enumerate() {
        for key in ["apiVersion", "kind"] {
            if d.get(key).and_then(Json::as_str).is_none() {
                return Outcome::fail(format!("{from}: document {} has no `{key}`", i + 1));
            }
        }
        if d["metadata"]["name"].as_str().is_none() {
            return Outcome::fail(format!("{from}: document {} has no `metadata.name`", i + 1));
        }
    }
    let mut revert = K8sRevert {
        restore: Vec::new(),
        delete: Vec::new(),
    };
    let mut applied = Vec::new();
    for mut doc in docs {
        let kind = doc["kind"].as_str().unwrap_or_default().to_string();
        let api_version = doc["apiVersion"].as_str().unwrap_or_default().to_string();
        let name = doc["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let ns = doc["metadata"]["namespace"]
            .as_str()
            .map(String::from)
            .or_else(|| a.namespace.clone());
        let (api, _, namespaced) = match op.cluster.dynamic(&kind, Some(&api_version), &ns).await {
            Ok(x) => x,
            Err(e) => return Outcome::fail(e),
        };
        let ns = namespaced.then(|| op.cluster.ns(&ns).to_string());
        if let (Some(ns), Some(meta)) = (&ns, doc.get_mut("metadata").and_then(Json::as_object_mut)) {
            meta.insert("namespace".into(), Json::String(ns.clone()));
        }
        let at = ns.as_deref().map(|n| format!(" in {n}")).unwrap_or_default();
        let what = format!("apply {}/{name}{at}", kind.to_lowercase());
        let before = match api.get_opt(&name).await {
            Ok(b) => b,
            Err(e) => return fail_with(describe(&what, &e), applied),
        };
        let before_rv = before.as_ref().and_then(|b| b.metadata.resource_version.clone());
        match &before {
            Some(b) => revert.restore.push(serde_json::to_value(b).unwrap_or_default()),
            None => revert.delete.push(K8sObject {
                kind: kind.clone(),
                name: name.clone(),
                namespace: ns.clone(),
                api_version: Some(api_version.clone()),
            }),
        }
        op.captured.set(undo_of(&revert));
        let pp = PatchParams {
            dry_run: op.dry_run,
            ..PatchParams::apply(MANAGER).force()
        };
        match api.patch(&name, &pp, &Patch::Apply(&doc)).await {
            Ok(after) => {
                let action = match (&before_rv, &after.metadata.resource_version) {
                    (None, _) => "created",
                    (Some(a), Some(b)) if a == b => "unchanged",
                    _ => "configured",
                };
                applied.push(json!({ "kind": kind, "name": name, "namespace": ns, "action": action }));
            }
            Err(e) => return fail_with(describe(&what, &e), applied),
        }
    }
    Outcome::ok(json!({ "applied": applied }))
}

fn undo_of(r: &K8sRevert) -> Undo {
    Undo::Run(Box::new(Action::K8s(K8sSpec::Revert(r.clone()))))
}

fn fail_with(error: String, applied: Vec<Json>) -> Outcome {
    Outcome::fail(error).with_result(json!({ "applied": applied }))
}

pub async fn delete(op: &Op<'_, '_>, o: &K8sObject) -> Outcome {
    let (api, ar, namespaced) = match op
        .cluster
        .dynamic(&o.kind, o.api_version.as_deref(), &o.namespace)
        .await
    {
        Ok(x) => x,
        Err(e) => return Outcome::fail(e),
    };
    let at = if namespaced {
        format!(" in {}", op.cluster.ns(&o.namespace))
    } else {
        String::new()
    };
    let what = format!("delete {}/{}{at}", ar.kind.to_lowercase(), o.name);
    let dp = DeleteParams {
        dry_run: op.dry_run,
        ..DeleteParams::background()
    };
    match api.delete(&o.name, &dp).await {
        Ok(_) => Outcome::ok(json!({ "kind": ar.kind, "name": o.name, "deleted": true })),
        // The desired state holds already; an undo must be safe to repeat.
        Err(e) if code(&e) == Some(404) => {
            Outcome::ok(json!({ "kind": ar.kind, "name": o.name, "deleted": true, "already_absent": true }))
        }
        Err(e) => Outcome::fail(describe(&what, &e)),
    }
}

/// Strips what only the server writes, so the object can be written back.
fn writable(mut v: Json) -> Json {
    if let Some(m) = v.as_object_mut() {
        m.remove("status");
        if let Some(meta) = m.get_mut("metadata").and_then(Json::as_object_mut) {
            for k in [
                "resourceVersion",
                "uid",
                "creationTimestamp",
                "generation",
                "managedFields",
                "selfLink",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            ] {
                meta.remove(k);
            }
        }
    }
    v
}

pub async fn revert(op: &Op<'_, '_>, r: &K8sRevert) -> Outcome {
    let mut done = Vec::new();
    for obj in &r.restore {
        let kind = obj["kind"].as_str().unwrap_or_default().to_string();
        let api_version = obj["apiVersion"].as_str().unwrap_or_default().to_string();
        let name = obj["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let ns = obj["metadata"]["namespace"].as_str().map(String::from);
        let what = format!("restore {}/{name}", kind.to_lowercase());
        if kind == "Secret" && obj["data"] == crate::journal::REDACTED_SECRET {
            return Outcome::fail(format!(
                "{what}: a Secret's previous data is not kept in the journal; restore it by hand"
            ));
        }
        let (api, _, _) = match op.cluster.dynamic(&kind, Some(&api_version), &ns).await {
            Ok(x) => x,
            Err(e) => return Outcome::fail(e),
        };
        if let Err(e) = put_back(&api, &name, writable(obj.clone()), &what, &op.post()).await {
            return Outcome::fail(e);
        }
        done.push(json!({ "kind": kind, "name": name, "namespace": ns, "action": "restored" }));
    }
    for o in &r.delete {
        let out = delete(op, o).await;
        if !out.ok {
            return out;
        }
        done.push(json!({ "kind": o.kind, "name": o.name, "namespace": o.namespace, "action": "deleted" }));
    }
    Outcome::ok(json!({ "reverted": done }))
}

/// Replaces the object with `desired` at its current resourceVersion (created if it is gone).
async fn put_back(
    api: &Api<DynamicObject>,
    name: &str,
    desired: Json,
    what: &str,
    pp: &PostParams,
) -> Result<(), String> {
    let desired = &desired;
    retry_on_conflict(what, || async move {
        let mut obj: DynamicObject =
            serde_json::from_value(desired.clone()).map_err(|e| format!("{what}: not an object: {e}"))?;
        Ok(match api.get_opt(name).await.map_err(|e| describe(what, &e))? {
            Some(now) => {
                obj.metadata.resource_version = now.metadata.resource_version;
                api.replace(name, pp, &obj).await.map(drop)
            }
            None => api.create(pp, &obj).await.map(drop),
        })
    })
    .await
    .map_err(|n| n.message)
}
