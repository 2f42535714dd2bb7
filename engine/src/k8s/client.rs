//! A connection to a cluster, made the way kubectl makes it, and kube errors as one line each.

use std::time::Duration;

use kube::api::{Api, ApiResource, DynamicObject, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::Scope;
use kube::{Client, Config};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::conflict::retry_on_conflict;
use crate::spec::{KindInfo, kind_by_api_version, lookup_kind};

/// A client and the namespace to use when an action names none.
#[derive(Clone)]
pub struct Cluster {
    pub client: Client,
    pub namespace: String,
}

/// The kubeconfig (`KUBECONFIG`, else `~/.kube/config`) with `context` or its current one;
/// without a kubeconfig, the in-cluster service account.
pub async fn connect(context: Option<&str>) -> Result<Cluster, String> {
    let config = match context {
        Some(ctx) => {
            let options = KubeConfigOptions {
                context: Some(ctx.to_string()),
                ..Default::default()
            };
            let kc =
                Kubeconfig::read().map_err(|e| format!("kube context `{ctx}`: cannot read the kubeconfig: {e}"))?;
            Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(|e| format!("kube context `{ctx}`: {}", chain(&e)))?
        }
        None => Config::infer()
            .await
            .map_err(|e| format!("no Kubernetes configuration (kubeconfig or in-cluster): {}", chain(&e)))?,
    };
    let namespace = config.default_namespace.clone();
    let mut config = config;
    // A dead API server should fail a step, not hang it for kube's default of minutes.
    config.connect_timeout = Some(Duration::from_secs(10));
    // Every request the actions send is short (no watches): one the server never answers
    // fails within a minute, and polls ask again, rather than holding a step for kube's
    // default of five minutes.
    config.read_timeout = Some(Duration::from_secs(60));
    // kube's default retries a 429 for minutes; a PodDisruptionBudget's 429 must come back to
    // `drain`, which asks again within the step's timeout and names the budget. Steps have
    // their own `retry`.
    config.default_retry = false;
    let client = Client::try_from(config).map_err(|e| format!("Kubernetes client: {}", chain(&e)))?;
    Ok(Cluster { client, namespace })
}

/// An error with its causes, `a: b: c`.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let more = c.to_string();
        if !s.contains(&more) {
            s.push_str(": ");
            s.push_str(&more);
        }
        cur = c.source();
    }
    s
}

/// A kube error as one line that says what was being done and what the server said.
pub fn describe(what: &str, e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => {
            let msg = if s.message.is_empty() {
                s.reason.clone()
            } else {
                s.message.clone()
            };
            match s.code {
                404 => format!("{what}: not found ({msg})"),
                403 => format!("{what}: forbidden ({msg})"),
                401 => format!("{what}: unauthorized: the credentials were refused ({msg})"),
                409 => format!("{what}: conflict ({msg})"),
                code => format!("{what}: {msg} (HTTP {code})"),
            }
        }
        other => format!("{what}: cannot talk to the API server: {}", chain(other)),
    }
}

pub fn code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

impl Cluster {
    pub fn ns<'a>(&'a self, ns: &'a Option<String>) -> &'a str {
        ns.as_deref().unwrap_or(&self.namespace)
    }

    /// The API of a kind named as an operator writes it, in `ns` when namespaced.
    pub async fn dynamic(
        &self,
        kind: &str,
        api_version: Option<&str>,
        ns: &Option<String>,
    ) -> Result<(Api<DynamicObject>, ApiResource, bool), String> {
        let known = match api_version {
            Some(av) => kind_by_api_version(av, kind).or_else(|| lookup_kind(kind).filter(|k| k.api_version() == av)),
            None => lookup_kind(kind),
        };
        let (ar, namespaced) = match (known, api_version) {
            (Some(k), _) => (resource(k), k.namespaced),
            (None, Some(av)) => {
                // Discovery, matching the kind as kubectl does: `Certificate`, `certificate`
                // or `certificates`.
                let (group, version) = av.split_once('/').unwrap_or(("", av));
                let gv = kube::core::GroupVersion::gv(group, version);
                let found = kube::discovery::pinned_group(&self.client, &gv)
                    .await
                    .map_err(|e| describe(&format!("look up kind {kind} in {av}"), &e))?;
                let lower = kind.to_ascii_lowercase();
                let (ar, caps) = found
                    .versioned_resources(version)
                    .into_iter()
                    .find(|(ar, _)| ar.kind.eq_ignore_ascii_case(kind) || ar.plural == lower)
                    .ok_or_else(|| format!("the API server has no kind `{kind}` in {av}"))?;
                (ar, caps.scope == Scope::Namespaced)
            }
            (None, None) => return Err(format!("unknown kind `{kind}`: give `api_version`")),
        };
        let api = if namespaced {
            Api::namespaced_with(self.client.clone(), self.ns(ns), &ar)
        } else {
            Api::all_with(self.client.clone(), &ar)
        };
        Ok((api, ar, namespaced))
    }
}

pub fn resource(k: &KindInfo) -> ApiResource {
    ApiResource {
        group: k.group.into(),
        version: k.version.into(),
        api_version: k.api_version(),
        kind: k.kind.into(),
        plural: k.plural.into(),
    }
}

/// Read, change, replace with the resourceVersion read: the change applies to exactly the
/// state that was read (which is what the undo captures), or it is retried on a fresh read.
/// `change` gets the object and returns what to remember of it, or `None` to leave it as is.
/// `pp` says whether the replace is a server-side dry run (`plan --check`).
pub async fn update<K, T>(
    api: &Api<K>,
    name: &str,
    what: &str,
    pp: &PostParams,
    change: impl Fn(&mut K) -> Result<Option<T>, String>,
) -> Result<(K, Option<T>), String>
where
    K: Clone + DeserializeOwned + Serialize + std::fmt::Debug + kube::Resource,
{
    let change = &change;
    retry_on_conflict(what, || async move {
        let mut obj = api.get(name).await.map_err(|e| describe(what, &e))?;
        let Some(seen) = change(&mut obj)? else {
            return Ok(Ok((obj, None)));
        };
        Ok(api.replace(name, pp, &obj).await.map(|new| (new, Some(seen))))
    })
    .await
    .map_err(|n| n.message)
}

/// An object as JSON without the fields that only the server writes.
pub fn clean(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(m) = v.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        m.remove("managedFields");
    }
    v
}
