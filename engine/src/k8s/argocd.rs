//! The `argocd` actions on Application objects: reads, syncs and rollbacks as `operation`s the
//! ArgoCD application controller carries out, and waits on what it reports in `status`.

use std::ops::ControlFlow::{Break, Continue};

use kube::api::{Api, ApiResource, DynamicObject};
use serde_json::{Value as Json, json};

use super::client::describe;
use super::conflict::retry_on_conflict;
use super::run::Op;
use crate::cx::Outcome;
use crate::spec::{
    Action, ArgocdHistory, ArgocdRestore, ArgocdRollback, ArgocdSpec, ArgocdSync, ArgocdWait, DEFAULT_NAMESPACE, Undo,
};

fn resource() -> ApiResource {
    ApiResource {
        group: "argoproj.io".into(),
        version: "v1alpha1".into(),
        api_version: "argoproj.io/v1alpha1".into(),
        kind: "Application".into(),
        plural: "applications".into(),
    }
}

pub async fn execute(op: &Op<'_, '_>, spec: &ArgocdSpec) -> Outcome {
    let (app, written) = spec.app();
    let ns = written.unwrap_or_else(|| {
        let env = op.cx.env.argocd.as_ref().and_then(|a| a.namespace.as_deref());
        env.unwrap_or(DEFAULT_NAMESPACE)
    });
    let api: Api<DynamicObject> = Api::namespaced_with(op.cluster.client.clone(), ns, &resource());
    let target = Target { api, app, ns };
    match spec {
        ArgocdSpec::Status(_) => match target.read().await {
            Ok(a) => Outcome::ok(status(&a, ns, usize::MAX)),
            Err(e) => Outcome::fail(e),
        },
        ArgocdSpec::History(h) => history(&target, h).await,
        ArgocdSpec::Sync(s) => sync(op, &target, s).await,
        ArgocdSpec::Rollback(r) => rollback(op, &target, r).await,
        ArgocdSpec::Restore(r) => restore(op, &target, r).await,
        ArgocdSpec::Wait(w) => wait(op, &target, w).await,
    }
}

/// The Application a step addresses.
struct Target<'a> {
    api: Api<DynamicObject>,
    app: &'a str,
    ns: &'a str,
}

impl Target<'_> {
    fn what(&self, verb: &str) -> String {
        format!("{verb} application {} in {}", self.app, self.ns)
    }

    async fn read(&self) -> Result<Json, String> {
        let obj = self
            .api
            .get(self.app)
            .await
            .map_err(|e| describe(&self.what("read"), &e))?;
        Ok(serde_json::to_value(obj).unwrap_or_default())
    }
}

/// A history entry as steps read it.
fn entry(h: &Json) -> Json {
    let params: serde_json::Map<String, Json> = h["source"]["helm"]["parameters"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .filter_map(|p| Some((p["name"].as_str()?.to_string(), p["value"].clone())))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "id": h["id"],
        "revision": h["revision"],
        "deployed_at": h["deployedAt"],
        "source": h["source"],
        "parameters": params,
    })
}

/// The history, newest first.
fn entries(app: &Json) -> Vec<Json> {
    let mut list: Vec<Json> = app["status"]["history"].as_array().cloned().unwrap_or_default();
    list.sort_by_key(|h| std::cmp::Reverse(h["id"].as_i64().unwrap_or(0)));
    list.iter().map(entry).collect()
}

fn auto_sync(app: &Json) -> bool {
    app["spec"]["syncPolicy"]["automated"].is_object()
}

/// What `status` gives steps: the fields `argocd app get` shows.
fn status(app: &Json, ns: &str, limit: usize) -> Json {
    let st = &app["status"];
    let history: Vec<Json> = entries(app).into_iter().take(limit).collect();
    let op = &st["operationState"];
    let resources: Vec<Json> = st["resources"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    json!({
                        "kind": r["kind"], "name": r["name"], "namespace": r["namespace"],
                        "status": r["status"], "health": r["health"]["status"],
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "app": app["metadata"]["name"],
        "namespace": ns,
        "sync": st["sync"]["status"].as_str().unwrap_or("Unknown"),
        "health": st["health"]["status"].as_str().unwrap_or("Unknown"),
        "revision": st["sync"]["revision"],
        "target_revision": app["spec"]["source"]["targetRevision"],
        "auto_sync": auto_sync(app),
        "self_heal": app["spec"]["syncPolicy"]["automated"]["selfHeal"].as_bool().unwrap_or(false),
        "images": st["summary"]["images"].as_array().cloned().unwrap_or_default(),
        "operation": if op.is_object() {
            json!({
                "phase": op["phase"], "message": op["message"],
                "started_at": op["startedAt"], "finished_at": op["finishedAt"],
            })
        } else {
            Json::Null
        },
        "current": history.first().cloned().unwrap_or(Json::Null),
        "previous": history.get(1).cloned().unwrap_or(Json::Null),
        "history": history,
        "resources": resources,
    })
}

async fn history(target: &Target<'_>, h: &ArgocdHistory) -> Outcome {
    let limit = match h.limit.as_ref().map(|n| n.get()) {
        None => 10,
        Some(Ok(n)) if (1..=1000).contains(&n) => n as usize,
        Some(Ok(n)) => return Outcome::fail(format!("`limit` must be from 1 to 1000, not {n}")),
        Some(Err(e)) => return Outcome::fail(format!("`limit`: {e}")),
    };
    match target.read().await {
        Ok(app) => {
            let s = status(&app, target.ns, limit);
            let lines: Vec<String> = s["history"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| {
                    format!(
                        "{:<4} {}  {}",
                        e["id"],
                        e["deployed_at"].as_str().unwrap_or("-"),
                        e["revision"].as_str().unwrap_or("-")
                    )
                })
                .collect();
            let mut o = Outcome::ok(json!({
                "app": target.app, "namespace": target.ns,
                "history": s["history"], "current": s["current"], "previous": s["previous"],
            }));
            o.output = lines.join("\n");
            o
        }
        Err(e) => Outcome::fail(e),
    }
}

/// The undo of a change to an Application: its source as it was, synced back to the
/// revision that was deployed.
fn restore_undo(target: &Target<'_>, app: &Json) -> Undo {
    Undo::Run(Box::new(Action::Argocd(ArgocdSpec::Restore(ArgocdRestore {
        app: target.app.to_string(),
        namespace: target.ns.to_string(),
        source: app["spec"]["source"].clone(),
        revision: app["status"]["sync"]["revision"].as_str().map(String::from),
    }))))
}

/// Who started an operation, as ArgoCD records it.
fn initiated_by(op: &Op<'_, '_>) -> Json {
    json!({ "username": format!("runbook (run {})", op.cx.run_id) })
}

/// Sets `operation` on the Application (after `prepare` changed its spec) and waits until the
/// controller has carried it out. `prepare` returns the undo to keep, captured from the state
/// it is about to change.
async fn operate(
    op: &Op<'_, '_>,
    target: &Target<'_>,
    verb: &str,
    operation: Json,
    prepare: impl Fn(&Json) -> Result<(Json, Option<Undo>), String>,
) -> Outcome {
    let what = target.what(verb);
    let captured = op.captured;
    // ArgoCD's timestamps have whole seconds: an operation is known as ours by a mark in its
    // `info`, which the controller copies into `status.operationState.operation`.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mark = json!({ "name": "runbook", "value": format!("run {} step {} at {nanos}", op.cx.run_id, op.cx.step) });
    let mut operation = operation;
    match operation["info"].as_array_mut() {
        Some(info) => info.push(mark.clone()),
        None => operation["info"] = json!([mark.clone()]),
    }
    // Read, change, replace with the resourceVersion read (again on a conflict). The undo is
    // kept before the write: a write whose answer is lost is still undone.
    let (what, operation, prepare) = (&what, &operation, &prepare);
    let written = retry_on_conflict(what, || async move {
        let mut obj = target.api.get(target.app).await.map_err(|e| describe(what, &e))?;
        let current = serde_json::to_value(&obj).unwrap_or_default();
        if let Some(running) = current.get("operation").filter(|o| !o.is_null()) {
            let by = running["initiatedBy"]["username"].as_str().unwrap_or("someone");
            return Err(format!(
                "{what}: another operation is already in progress (started by {by}); wait for it or terminate it (`argocd app terminate-op {}`)",
                target.app
            ));
        }
        let (spec, undo) = prepare(&current)?;
        if let Some(u) = undo {
            captured.set(u);
        }
        obj.data["spec"] = spec;
        obj.data["operation"] = operation.clone();
        Ok(target.api.replace(target.app, &op.post(), &obj).await.map(drop))
    })
    .await;
    if let Err(n) = written {
        // A write the API server refused (a 4xx answer) changed nothing, so it leaves
        // nothing to undo.
        if n.refused.is_some_and(|c| (400..500).contains(&c)) {
            captured.set(Undo::Nothing);
        }
        return Outcome::fail(n.message);
    }
    if op.dry_run {
        return Outcome::ok(json!({ "app": target.app, "namespace": target.ns, "dry_run": true }));
    }
    let mark = &mark;
    let done = op
        .poll(|| async move {
            let app = match target.read().await {
                Ok(a) => a,
                Err(e) => return Break(Outcome::fail(e)),
            };
            let state = &app["status"]["operationState"];
            let ours = state["operation"]["info"]
                .as_array()
                .is_some_and(|info| info.contains(mark));
            let done = app.get("operation").is_none_or(Json::is_null)
                && ours
                && matches!(state["phase"].as_str(), Some("Succeeded" | "Failed" | "Error"));
            if !done {
                return Continue(state["phase"].as_str().unwrap_or("not started").to_string());
            }
            let message = state["message"].as_str().unwrap_or_default();
            let revision = &state["syncResult"]["revision"];
            Break(if state["phase"] == "Succeeded" {
                let mut o = Outcome::ok(json!({
                    "app": target.app, "namespace": target.ns, "revision": revision,
                    "phase": state["phase"], "message": message,
                    "sync": app["status"]["sync"]["status"], "health": app["status"]["health"]["status"],
                }));
                o.output = format!(
                    "{} {verb}ed to {}: {message}",
                    target.app,
                    revision.as_str().unwrap_or("?")
                );
                o
            } else {
                Outcome::fail(format!(
                    "{what}: the operation ended {}: {message}",
                    state["phase"].as_str().unwrap_or("?")
                ))
            })
        })
        .await;
    done.unwrap_or_else(|unmet| {
        op.unmet(unmet, |phase| {
            format!(
                "{what}: the operation did not finish within {} (phase: {phase}; is ArgoCD's application controller running?)",
                op.waited()
            )
        })
    })
}

async fn sync(op: &Op<'_, '_>, target: &Target<'_>, s: &ArgocdSync) -> Outcome {
    let mut sync = json!({});
    if let Some(r) = &s.revision {
        sync["revision"] = json!(r);
    }
    if let Some(p) = s.prune {
        sync["prune"] = json!(p);
    }
    let operation = json!({ "sync": sync, "initiatedBy": initiated_by(op) });
    operate(op, target, "sync", operation, |app| {
        let mut spec = app["spec"].clone();
        if !s.set.is_empty() {
            if !spec["source"].is_object() {
                return Err(format!(
                    "{}: it has no single `source` to set Helm parameters on (multi-source Applications are not supported by `set`)",
                    target.what("sync")
                ));
            }
            let params = &mut spec["source"]["helm"]["parameters"];
            let mut list: Vec<Json> = params.as_array().cloned().unwrap_or_default();
            for (name, value) in &s.set {
                match list.iter_mut().find(|p| p["name"] == name.as_str()) {
                    Some(p) => p["value"] = json!(value),
                    None => list.push(json!({ "name": name, "value": value })),
                }
            }
            *params = Json::Array(list);
        }
        Ok((spec, Some(restore_undo(target, app))))
    })
    .await
}

async fn rollback(op: &Op<'_, '_>, target: &Target<'_>, r: &ArgocdRollback) -> Outcome {
    let to = match r.to.as_ref().map(|n| n.get()) {
        None => None,
        Some(Ok(n)) if n >= 1 => Some(n),
        Some(Ok(n)) => return Outcome::fail(format!("`to` must be a history id (1 or more), not {n}")),
        Some(Err(e)) => return Outcome::fail(format!("`to`: {e}")),
    };
    let app = match target.read().await {
        Ok(a) => a,
        Err(e) => return Outcome::fail(e),
    };
    let what = target.what("roll back");
    if auto_sync(&app) {
        return Outcome::fail(format!(
            "{what}: refused, automated sync is on and would sync it straight back to Git; turn it off first (`argocd app set {} --sync-policy none`) or revert the commit in Git",
            target.app
        ));
    }
    let history = entries(&app);
    let chosen = match to {
        Some(id) => history.iter().find(|h| h["id"].as_i64() == Some(id)),
        None => history.get(1),
    };
    let Some(chosen) = chosen.cloned() else {
        let ids: Vec<String> = history.iter().map(|h| h["id"].to_string()).collect();
        return Outcome::fail(match to {
            Some(id) => format!("{what}: no history id {id} (it has: {})", ids.join(", ")),
            None => format!("{what}: there is no earlier deployment in its history"),
        });
    };
    let operation = json!({
        "sync": { "revision": chosen["revision"], "source": chosen["source"] },
        "initiatedBy": initiated_by(op),
        "info": [{ "name": "Rollback", "value": format!("to history id {}", chosen["id"]) }],
    });
    let mut o = operate(op, target, "roll back", operation, |app| {
        Ok((app["spec"].clone(), Some(restore_undo(target, app))))
    })
    .await;
    if o.ok {
        o.result["to"] = chosen;
    }
    o
}

async fn restore(op: &Op<'_, '_>, target: &Target<'_>, r: &ArgocdRestore) -> Outcome {
    let mut sync = json!({});
    if let Some(rev) = &r.revision {
        sync["revision"] = json!(rev);
    }
    let operation = json!({ "sync": sync, "initiatedBy": initiated_by(op) });
    operate(op, target, "restore", operation, |app| {
        let mut spec = app["spec"].clone();
        spec["source"] = r.source.clone();
        Ok((spec, None))
    })
    .await
}

async fn wait(op: &Op<'_, '_>, target: &Target<'_>, w: &ArgocdWait) -> Outcome {
    let ready = op
        .poll(|| async move {
            let app = match target.read().await {
                Ok(a) => a,
                Err(e) => return Break(Outcome::fail(e)),
            };
            let s = status(&app, target.ns, 10);
            let running = app.get("operation").is_some_and(|o| !o.is_null());
            let revision = s["revision"].as_str().unwrap_or_default();
            let at_revision = w
                .revision
                .as_deref()
                .is_none_or(|want| !want.is_empty() && revision.starts_with(want));
            let synced = w.synced == Some(false) || s["sync"] == "Synced";
            if synced && s["health"] == "Healthy" && !running && at_revision {
                return Break(Outcome::ok(s));
            }
            Continue((s, running))
        })
        .await;
    ready.unwrap_or_else(|unmet| {
        op.unmet(unmet, |(s, running)| {
            format!(
                "application {} in {} is not ready after {}: {}",
                target.app,
                target.ns,
                op.waited(),
                not_ready(&s, running, w.revision.as_deref(), w.synced != Some(false))
            )
        })
    })
}

/// What keeps an Application from being Synced and Healthy, in words.
fn not_ready(s: &Json, running: bool, want: Option<&str>, synced: bool) -> String {
    let mut why = Vec::new();
    if synced && s["sync"] != "Synced" {
        why.push(format!("sync {}", s["sync"].as_str().unwrap_or("Unknown")));
    }
    if s["health"] != "Healthy" {
        why.push(format!("health {}", s["health"].as_str().unwrap_or("Unknown")));
    }
    if running {
        why.push("an operation is still running".into());
    }
    if let Some(want) = want {
        let have = s["revision"].as_str().unwrap_or("none");
        if !have.starts_with(want) {
            why.push(format!("revision {have}, not {want}"));
        }
    }
    let unhealthy: Vec<String> = s["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| !r["health"].is_null() && r["health"] != "Healthy")
        .map(|r| {
            format!(
                "{} {}/{} {}",
                r["kind"].as_str().unwrap_or("?"),
                r["namespace"].as_str().unwrap_or("-"),
                r["name"].as_str().unwrap_or("?"),
                r["health"].as_str().unwrap_or("?")
            )
        })
        .collect();
    if !unhealthy.is_empty() {
        why.push(format!("not healthy: {}", unhealthy.join(", ")));
    }
    if let Some(m) = s["operation"]["message"]
        .as_str()
        .filter(|_| s["operation"]["phase"] != "Succeeded")
    {
        why.push(format!(
            "last operation {}: {m}",
            s["operation"]["phase"].as_str().unwrap_or("?")
        ));
    }
    if why.is_empty() {
        "it changed as we looked".into()
    } else {
        why.join("; ")
    }
}
