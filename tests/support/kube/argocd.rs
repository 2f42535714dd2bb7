//! The ArgoCD application controller, as much as tests need: it carries out an Application's
//! `operation` (a sync to a revision, with the source Git holds there), renders the Helm
//! parameters `image.repository`/`image.tag` and `resources.{limits,requests}.memory` onto the
//! containers of the Deployments the Application manages
//! (label `app.kubernetes.io/instance: <app>` in its destination namespace), keeps
//! `status.history`, and derives sync status and health. Automated sync syncs a changed source;
//! self-heal also puts back what someone changed by hand. Revisions are not read from Git: a
//! branch name resolves to a commit made up from the source, so a changed source is a new commit.

use serde_json::{Value, json};

use super::controllers::{canonical, reconcile_deployment};
use super::state::{Key, State, now};

const INSTANCE: &str = "app.kubernetes.io/instance";
const HISTORY_LIMIT: usize = 10;

/// Reacts to a stored Application or Deployment.
pub(crate) fn after_write(state: &mut State, key: &Key) {
    if key.group == "argoproj.io" && key.plural == "applications" {
        reconcile(state, key);
    } else if key.group == "apps" && key.plural == "deployments" {
        let apps: Vec<Key> = state
            .of("argoproj.io", "applications", None)
            .into_iter()
            .filter(|(k, app)| {
                app["spec"]["destination"]["namespace"] == key.namespace.as_str()
                    && managed(state, app, &k.name).iter().any(|(d, _)| d == key)
            })
            .map(|(k, _)| k)
            .collect();
        for app in apps {
            reconcile(state, &app);
        }
    }
}

/// The Deployments an Application manages.
fn managed(state: &State, app: &Value, name: &str) -> Vec<(Key, Value)> {
    let ns = app["spec"]["destination"]["namespace"].as_str().unwrap_or_default();
    state
        .of("apps", "deployments", Some(ns))
        .into_iter()
        .filter(|(_, d)| d["metadata"]["labels"][INSTANCE] == name)
        .collect()
}

fn param<'a>(source: &'a Value, name: &str) -> Option<&'a str> {
    source["helm"]["parameters"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)?["value"]
        .as_str()
}

/// The image a source renders for a container that runs `current`, if the source sets a tag.
fn rendered_image(source: &Value, current: &str) -> Option<String> {
    let tag = param(source, "image.tag")?;
    let repo = match param(source, "image.repository") {
        Some(r) => r.to_string(),
        None => current.rsplit_once(':').map_or(current, |(r, _)| r).to_string(),
    };
    Some(format!("{repo}:{tag}"))
}

/// The commit a revision names: a full SHA as is; a branch or tag (or nothing: the target
/// revision) becomes a commit made up from the source; anything else does not resolve.
fn resolve(revision: &str, app: &Value, source: &Value) -> Result<String, String> {
    let is_sha = revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit());
    if is_sha {
        return Ok(revision.to_ascii_lowercase());
    }
    let target = app["spec"]["source"]["targetRevision"].as_str().unwrap_or("HEAD");
    if revision.is_empty() || ["HEAD", "main", "master", target].contains(&revision) {
        return Ok(commit_of(source));
    }
    Err(format!(
        "rpc error: code = Unknown desc = unable to resolve '{revision}' to a commit SHA"
    ))
}

/// A stable 40-hex "commit" for a source.
fn commit_of(source: &Value) -> String {
    use std::hash::{Hash, Hasher};
    let text = canonical(source);
    (0..3u8)
        .map(|salt| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (salt, &text).hash(&mut h);
            format!("{:016x}", h.finish())
        })
        .collect::<String>()[..40]
        .to_string()
}

fn reconcile(state: &mut State, key: &Key) {
    let Some(mut app) = state.get(key).cloned() else {
        return;
    };
    let before = app.clone();
    if let Some(operation) = app.get("operation").filter(|o| o.is_object()).cloned() {
        run_operation(state, key, &mut app, &operation);
    } else if let Some(automated) = app["spec"]["syncPolicy"]["automated"].as_object() {
        let self_heal = automated.get("selfHeal").and_then(Value::as_bool).unwrap_or(false);
        let new_commit = app["status"]["sync"]["comparedTo"]["source"] != app["spec"]["source"];
        if new_commit || (self_heal && out_of_sync(state, &app, &key.name)) {
            let op = json!({ "sync": {}, "initiatedBy": { "automated": true } });
            run_operation(state, key, &mut app, &op);
        }
    }
    refresh(state, &mut app, &key.name);
    if app != before {
        state.commit(key.clone(), app);
    }
}

fn out_of_sync(state: &State, app: &Value, name: &str) -> bool {
    managed(state, app, name).iter().any(|(_, d)| {
        containers(d)
            .iter()
            .any(|img| rendered_image(&app["spec"]["source"], img).is_some_and(|want| &want != img))
    })
}

fn containers(d: &Value) -> Vec<String> {
    d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c["image"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Carries out `operation` (a sync, possibly with the source of a history entry) and records it.
fn run_operation(state: &mut State, key: &Key, app: &mut Value, operation: &Value) {
    let started = now();
    let sync = &operation["sync"];
    let source = match &sync["source"] {
        s if s.is_object() => s.clone(),
        _ => app["spec"]["source"].clone(),
    };
    let revision = sync["revision"].as_str().unwrap_or_default();
    let mut op_state = json!({ "operation": operation, "startedAt": started });
    match resolve(revision, app, &source) {
        Ok(commit) => {
            for (dkey, mut d) in managed(state, app, &key.name) {
                let mut changed = false;
                if let Some(cs) = d["spec"]["template"]["spec"]["containers"].as_array_mut() {
                    for c in cs {
                        let current = c["image"].as_str().unwrap_or_default().to_string();
                        if let Some(want) = rendered_image(&source, &current).filter(|w| *w != current) {
                            c["image"] = json!(want);
                            changed = true;
                        }
                        for kind in ["limits", "requests"] {
                            let Some(want) = param(&source, &format!("resources.{kind}.memory")) else {
                                continue;
                            };
                            if c["resources"][kind]["memory"].as_str() != Some(want) {
                                c["resources"][kind]["memory"] = json!(want);
                                changed = true;
                            }
                        }
                    }
                }
                if changed {
                    let generation = d["metadata"]["generation"].as_i64().unwrap_or(1);
                    d["metadata"]["generation"] = json!(generation + 1);
                    state.commit(dkey.clone(), d);
                    reconcile_deployment(state, &dkey.namespace, &dkey.name);
                }
            }
            let mut history: Vec<Value> = app["status"]["history"].as_array().cloned().unwrap_or_default();
            let id = history.iter().filter_map(|h| h["id"].as_i64()).max().unwrap_or(0) + 1;
            history.push(json!({
                "id": id, "revision": commit, "source": source,
                "deployStartedAt": started, "deployedAt": now(), "initiatedBy": operation["initiatedBy"],
            }));
            let keep = history.len().saturating_sub(HISTORY_LIMIT);
            app["status"]["history"] = json!(history[keep..]);
            app["status"]["sync"]["revision"] = json!(commit);
            app["status"]["sync"]["comparedTo"] =
                json!({ "source": app["spec"]["source"], "destination": app["spec"]["destination"] });
            op_state["phase"] = json!("Succeeded");
            op_state["message"] = json!("successfully synced (all tasks run)");
            op_state["syncResult"] = json!({ "revision": commit, "source": source });
        }
        Err(e) => {
            op_state["phase"] = json!("Failed");
            op_state["message"] = json!(e);
        }
    }
    op_state["finishedAt"] = json!(now());
    app["status"]["operationState"] = op_state;
    if let Some(m) = app.as_object_mut() {
        m.remove("operation");
    }
}

/// Sync status, health, resources and images from the managed Deployments as they are now.
fn refresh(state: &State, app: &mut Value, name: &str) {
    let desired = app["spec"]["source"].clone();
    let mut images = Vec::new();
    let mut resources = Vec::new();
    let (mut synced, mut healthy) = (true, true);
    for (k, d) in managed(state, app, name) {
        let live = containers(&d);
        let in_sync = live
            .iter()
            .all(|img| rendered_image(&desired, img).is_none_or(|want| &want == img));
        let want = d["spec"]["replicas"].as_i64().unwrap_or(1);
        let st = &d["status"];
        let done = st["updatedReplicas"].as_i64().unwrap_or(0) >= want
            && st["availableReplicas"].as_i64().unwrap_or(0) >= want
            && st["observedGeneration"].as_i64() >= d["metadata"]["generation"].as_i64();
        synced &= in_sync;
        healthy &= done;
        images.extend(live);
        resources.push(json!({
            "group": "apps", "version": "v1", "kind": "Deployment", "namespace": k.namespace, "name": k.name,
            "status": if in_sync { "Synced" } else { "OutOfSync" },
            "health": { "status": if done { "Healthy" } else { "Progressing" } },
        }));
    }
    images.sort();
    images.dedup();
    app["status"]["sync"]["status"] = json!(if synced { "Synced" } else { "OutOfSync" });
    app["status"]["health"]["status"] = json!(if healthy { "Healthy" } else { "Progressing" });
    app["status"]["resources"] = json!(resources);
    app["status"]["summary"]["images"] = json!(images);
    app["status"]["reconciledAt"] = json!(now());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_branch_resolves_to_a_commit_of_its_source_and_unknown_names_do_not() {
        let app = json!({ "spec": { "source": { "targetRevision": "main" } } });
        let a = json!({ "helm": { "parameters": [{ "name": "image.tag", "value": "v1" }] } });
        let b = json!({ "helm": { "parameters": [{ "name": "image.tag", "value": "v2" }] } });
        let ca = resolve("main", &app, &a).expect("resolves");
        assert_eq!(ca.len(), 40);
        assert_eq!(resolve("", &app, &a), Ok(ca.clone()));
        assert_ne!(resolve("main", &app, &b), Ok(ca.clone()));
        assert_eq!(resolve(&ca, &app, &b), Ok(ca.clone()));
        assert!(resolve("v9.9.9", &app, &a).is_err());
    }

    #[test]
    fn the_tag_is_rendered_onto_the_current_repository() {
        let s = json!({ "helm": { "parameters": [{ "name": "image.tag", "value": "v1.2.3" }] } });
        assert_eq!(
            rendered_image(&s, "ecr/myapp-backend:v1.2.2").as_deref(),
            Some("ecr/myapp-backend:v1.2.3")
        );
        assert_eq!(rendered_image(&json!({}), "x:1"), None);
    }
}
