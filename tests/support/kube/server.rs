//! `KubeServer`: starts the API server on 127.0.0.1, writes kubeconfigs for it, and lets a test seed
//! and inspect objects and turn on failures.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use serde_json::Value;

use super::api;
use super::controllers;
use super::http;
use super::pods;
use super::state::{Res, Shared, State};

/// A Kubernetes API server on 127.0.0.1:`port`, serving until dropped. Requests need the bearer
/// token `test-token` (the kubeconfig from [`KubeServer::write_kubeconfig`] has it).
pub struct KubeServer {
    pub port: u16,
    pub(super) shared: Arc<Shared>,
    http: Arc<tiny_http::Server>,
}

impl KubeServer {
    /// Binds 127.0.0.1 on a free port and serves on background threads.
    pub fn start() -> KubeServer {
        KubeServer::start_on(0).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Binds 127.0.0.1:`port` (0: a free one) and serves on background threads.
    pub fn start_on(port: u16) -> Result<KubeServer, String> {
        let http = tiny_http::Server::http(("127.0.0.1", port))
            .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
        let http = Arc::new(http);
        let port = http.server_addr().to_ip().map_or(port, |a| a.port());
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new()),
            changed: Condvar::new(),
            stopped: AtomicBool::new(false),
            port,
        });
        let (server, state) = (http.clone(), shared.clone());
        std::thread::spawn(move || http::serve(server, state));
        Ok(KubeServer { port, shared, http })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Writes `dir/kubeconfig` and returns its path: context `context` (the current one) reaches this
    /// server as user `test` with bearer token `test-token` in namespace `default`; context
    /// `unreachable` points at http://127.0.0.1:1, where nothing listens.
    pub fn write_kubeconfig(&self, dir: &Path, context: &str) -> PathBuf {
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: {url}
- name: unreachable
  cluster:
    server: http://127.0.0.1:1
users:
- name: test
  user:
    token: test-token
contexts:
- name: {context}
  context:
    cluster: test
    user: test
    namespace: default
- name: unreachable
  context:
    cluster: unreachable
    user: test
    namespace: default
current-context: {context}
",
            url = self.url()
        );
        std::fs::write(&path, text).expect("write the kubeconfig");
        path
    }

    /// Seeds or overwrites an object (`apiVersion`, `kind`, `metadata.name`, and `metadata.namespace`
    /// for namespaced kinds). Fills uid, resourceVersion, creationTimestamp and generation (kept from
    /// the object it overwrites), keeps the given status, and runs the controllers: a Deployment gets
    /// its ReplicaSet, revision and status.
    pub fn put(&self, obj: Value) {
        if let Err(e) = self.store_seed(obj, false) {
            panic!("put: {e}");
        }
    }

    /// [`KubeServer::put`] for objects from outside a test (a seed file): an object the server
    /// would not store (no string `apiVersion`, `kind` or `metadata.name`, a namespaced kind
    /// without `metadata.namespace`, a name that is not a lowercase RFC 1123 subdomain) is an
    /// error saying why, and nothing is stored.
    pub fn try_put(&self, obj: Value) -> Result<(), String> {
        self.store_seed(obj, true)
    }

    /// Tests may seed what validation refuses (to see how a run copes), so only objects from
    /// outside are `validate`d.
    fn store_seed(&self, obj: Value, validate: bool) -> Result<(), String> {
        if !obj.is_object() {
            return Err("an object must be a mapping".into());
        }
        for field in ["apiVersion", "kind"] {
            if validate && obj[field].as_str().is_none_or(str::is_empty) {
                return Err(format!("the object has no {field}"));
            }
        }
        let res = Res::of_object(&obj);
        let Some(name) = obj["metadata"]["name"].as_str().map(String::from) else {
            return Err(format!("the {} has no metadata.name", res.kind));
        };
        if validate {
            api::validate(&res, &obj).map_err(|e| format!("{} {name}: {}", res.kind, e.message))?;
        }
        let namespace = obj["metadata"]["namespace"].as_str().map(String::from);
        if res.namespaced && namespace.is_none() {
            return Err(format!(
                "{} {name} is namespaced but has no metadata.namespace",
                res.kind
            ));
        }
        let key = res.key(namespace.as_deref(), &name);
        let mut obj = obj;
        obj["apiVersion"] = Value::String(res.api_version());
        obj["kind"] = Value::String(res.kind.clone());
        let mut state = self.shared.lock();
        let obj = match state.get(&key).cloned() {
            Some(old) => api::merge_update(&old, obj, false, false),
            None => {
                state.stamp_new(&mut obj);
                obj
            }
        };
        api::store(&mut state, &res, key, obj, false);
        drop(state);
        self.shared.changed.notify_all();
        Ok(())
    }

    /// The object of `kind` ("Deployment", "Node", "Pod", "Lease", ...) as a read would show it, or None.
    pub fn get(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let state = self.shared.lock();
        state
            .objects
            .iter()
            .find(|(k, v)| v["kind"] == kind && k.name == name && k.namespace == namespace.unwrap_or_default())
            .map(|(k, v)| pods::view(&state, k, v))
    }

    /// Every object of `kind`, in `namespace` or (None) in all, ordered by namespace and name.
    pub fn list(&self, kind: &str, namespace: Option<&str>) -> Vec<Value> {
        let state = self.shared.lock();
        state
            .objects
            .iter()
            .filter(|(k, v)| v["kind"] == kind && namespace.is_none_or(|ns| k.namespace == ns))
            .map(|(k, v)| pods::view(&state, k, v))
            .collect()
    }

    /// The log text of a pod, as `pods/{pod}/log` serves it.
    pub fn set_logs(&self, namespace: &str, pod: &str, text: &str) {
        self.shared
            .lock()
            .logs
            .insert((namespace.to_string(), pod.to_string()), text.to_string());
    }

    /// From now on every `verb` (get, list, watch, create, update, patch, delete, deletecollection)
    /// on `resource` (a plural, optionally with a subresource: "deployments/scale", "pods/eviction")
    /// answers 403 Forbidden, in every namespace.
    pub fn forbid(&self, verb: &str, resource: &str) {
        self.shared
            .lock()
            .forbidden
            .insert((verb.to_string(), resource.to_string()));
    }

    /// The next `n` PUTs or PATCHes to an existing object of `resource` (matched exactly: "deployments"
    /// does not cover "deployments/scale") answer 409 Conflict, each giving the object a new
    /// resourceVersion as if someone else had just written it.
    pub fn conflict_next(&self, resource: &str, n: usize) {
        self.shared.lock().conflicts.insert(resource.to_string(), n);
    }

    /// While stuck, rollouts of this Deployment do not progress: ReplicaSet status stays as it is, so
    /// a new template shows updatedReplicas 0 and the old availability, Progressing reason
    /// ReplicaSetUpdated. Unsticking completes the rollout.
    pub fn set_stuck(&self, namespace: &str, deployment: &str, stuck: bool) {
        let mut state = self.shared.lock();
        let id = (namespace.to_string(), deployment.to_string());
        if stuck {
            state.stuck.insert(id);
        } else {
            state.stuck.remove(&id);
            controllers::reconcile_deployment(&mut state, namespace, deployment);
        }
        drop(state);
        self.shared.changed.notify_all();
    }

    /// Makes the Deployment stuck (see [`KubeServer::set_stuck`]) with its deadline passed: an
    /// unfinished rollout reports Progressing False, `ProgressDeadlineExceeded`, as the deployment
    /// controller does after `progressDeadlineSeconds` without progress (no pod could start).
    pub fn set_past_deadline(&self, namespace: &str, deployment: &str) {
        let mut state = self.shared.lock();
        let id = (namespace.to_string(), deployment.to_string());
        state.stuck.insert(id.clone());
        state.past_deadline.insert(id);
        controllers::reconcile_deployment(&mut state, namespace, deployment);
        drop(state);
        self.shared.changed.notify_all();
    }

    /// Makes the object of `kind` `namespace/name` (which must exist) `secs` seconds older: its
    /// creationTimestamp moves back, as if it had been created then (a pod Pending for ten
    /// minutes).
    pub fn backdate(&self, kind: &str, namespace: Option<&str>, name: &str, secs: i64) {
        let mut state = self.shared.lock();
        let key = state
            .objects
            .iter()
            .find(|(k, v)| v["kind"] == kind && k.name == name && k.namespace == namespace.unwrap_or_default())
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| panic!("backdate: no {kind} {name}"));
        let mut obj = state.objects[&key].clone();
        let then = chrono::Utc::now() - chrono::Duration::seconds(secs);
        obj["metadata"]["creationTimestamp"] = Value::String(then.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        state.commit(key, obj);
        drop(state);
        self.shared.changed.notify_all();
    }

    /// Serves requests that carry no bearer token, as an API server with anonymous access would
    /// (a wrong token is still refused). kubectl sends no token over plain HTTP, so the sandbox
    /// turns this on for it.
    pub fn allow_anonymous(&self) {
        self.shared.lock().anonymous = true;
    }

    /// Lists in discovery the kinds stored here that the server does not know (an ArgoCD
    /// Application from a seed), as if their CRDs were installed: kubectl finds a resource
    /// only through discovery.
    pub fn discover_stored_kinds(&self) {
        self.shared.lock().discover_stored = true;
    }

    /// "METHOD path?query" of every request so far, in order; the path and query are percent-decoded
    /// (`GET /api/v1/namespaces/prod/pods?labelSelector=app=web`).
    pub fn requests(&self) -> Vec<String> {
        self.shared.lock().requests.clone()
    }

    /// "METHOD path?query" of every write the server persisted (admitted and not a dry run), in
    /// order: a test that must change nothing asserts this is empty.
    pub fn writes(&self) -> Vec<String> {
        self.shared.lock().writes.clone()
    }
}

impl Drop for KubeServer {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        self.shared.changed.notify_all();
        self.http.unblock();
    }
}
