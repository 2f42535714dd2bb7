//! The server's state: every object by (group, plural, namespace, name), the one resourceVersion
//! counter, the log of changes that watches replay, and the test's knobs (forbidden verbs, injected
//! conflicts, stuck rollouts, pod logs) and request log.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::AtomicBool;
use std::sync::{Condvar, Mutex};

use serde_json::{Value, json};

use super::catalog;

/// Where an object is stored. `namespace` is "" for cluster-scoped objects.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Key {
    pub group: String,
    pub plural: String,
    pub namespace: String,
    pub name: String,
}

/// A resource as one request addresses it.
#[derive(Debug, Clone)]
pub(crate) struct Res {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub kind: String,
    pub namespaced: bool,
    /// Whether status is written only through the `status` subresource.
    pub status_sub: bool,
}

impl Res {
    fn known(k: &catalog::Known) -> Res {
        Res {
            group: k.group.into(),
            version: k.version.into(),
            plural: k.plural.into(),
            kind: k.kind.into(),
            namespaced: k.namespaced,
            status_sub: k.subresources.contains(&"status"),
        }
    }

    /// A resource by group and plural; `namespaced` and `version` decide for plurals not in the catalog.
    pub fn resolve(state: &State, group: &str, version: &str, plural: &str, namespaced: bool) -> Res {
        if let Some(k) = catalog::by_plural(group, plural) {
            return Res::known(k);
        }
        let stored_kind = state
            .objects
            .iter()
            .find(|(k, _)| k.group == group && k.plural == plural)
            .and_then(|(_, v)| v["kind"].as_str().map(String::from));
        Res {
            group: group.into(),
            version: version.into(),
            plural: plural.into(),
            kind: stored_kind.unwrap_or_else(|| catalog::guess_kind(plural)),
            namespaced,
            status_sub: false,
        }
    }

    /// The resource of an object, from its apiVersion and kind.
    pub fn of_object(obj: &Value) -> Res {
        let api_version = obj["apiVersion"].as_str().unwrap_or("v1");
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let kind = obj["kind"].as_str().unwrap_or_default();
        match catalog::by_kind(group, kind) {
            Some(k) => Res::known(k),
            None => Res {
                group: group.into(),
                version: version.into(),
                plural: catalog::guess_plural(kind),
                kind: kind.into(),
                namespaced: obj["metadata"]["namespace"].is_string(),
                status_sub: false,
            },
        }
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn key(&self, namespace: Option<&str>, name: &str) -> Key {
        Key {
            group: self.group.clone(),
            plural: self.plural.clone(),
            namespace: if self.namespaced {
                namespace.unwrap_or_default().to_string()
            } else {
                String::new()
            },
            name: name.to_string(),
        }
    }

    pub fn is(&self, group: &str, plural: &str) -> bool {
        self.group == group && self.plural == plural
    }
}

/// One change, as a watch reports it.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub rv: u64,
    pub key: Key,
    /// ADDED, MODIFIED or DELETED.
    pub kind: &'static str,
    pub object: Value,
    /// The object before a MODIFIED, to tell when it entered or left a watch's selector.
    pub previous: Option<Value>,
}

pub(crate) struct State {
    pub objects: BTreeMap<Key, Value>,
    /// The last resourceVersion handed out.
    pub rv: u64,
    pub events: Vec<Event>,
    uid_seed: u64,
    uid_seq: u64,
    /// (verb, resource[/subresource]) pairs answered with 403.
    pub forbidden: HashSet<(String, String)>,
    /// resource[/subresource] -> how many more writes answer 409.
    pub conflicts: HashMap<String, usize>,
    /// (namespace, deployment) whose rollouts do not progress.
    pub stuck: HashSet<(String, String)>,
    /// Stuck deployments whose rollouts have outlived their progressDeadlineSeconds.
    pub past_deadline: HashSet<(String, String)>,
    /// (namespace, pod) -> log text.
    pub logs: HashMap<(String, String), String>,
    /// Whether requests without the bearer token are served (kubectl sends no token over plain HTTP).
    pub anonymous: bool,
    /// Whether discovery lists the stored kinds the catalog does not know (the sandbox's CRDs).
    pub discover_stored: bool,
    /// "METHOD path?query" of every request.
    pub requests: Vec<String>,
    /// "METHOD path?query" of every write that was persisted (not a dry run, answered 2xx).
    pub writes: Vec<String>,
}

/// The state, the signal that it changed (for watches), and the stop flag.
pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub changed: Condvar,
    pub stopped: AtomicBool,
    pub port: u16,
}

impl Shared {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock is a bug in this server; the state is still usable for the
        // test that reports it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Now, as metadata timestamps are written.
pub(crate) fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl State {
    pub fn new() -> State {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(std::process::id().into());
        State {
            objects: BTreeMap::new(),
            rv: 1000,
            events: Vec::new(),
            uid_seed: h.finish(),
            uid_seq: 0,
            forbidden: HashSet::new(),
            conflicts: HashMap::new(),
            stuck: HashSet::new(),
            past_deadline: HashSet::new(),
            logs: HashMap::new(),
            anonymous: false,
            discover_stored: false,
            requests: Vec::new(),
            writes: Vec::new(),
        }
    }

    /// A fresh UUID-shaped uid.
    pub fn uid(&mut self) -> String {
        self.uid_seq += 1;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        h.write_u64(self.uid_seed);
        h.write_u64(self.uid_seq);
        let a = h.finish();
        h.write_u64(a);
        let b = h.finish();
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            b >> 52,
            b & 0xffff_ffff_ffff
        )
    }

    /// A random-looking suffix for `generateName`.
    pub fn suffix(&mut self) -> String {
        const CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let uid = self.uid();
        uid.bytes()
            .filter(u8::is_ascii_hexdigit)
            .take(5)
            .map(|b| CHARS[(b as usize * 7) % CHARS.len()] as char)
            .collect()
    }

    /// Fills what the server sets on a new object: uid, creationTimestamp, and generation for objects
    /// with a spec.
    pub fn stamp_new(&mut self, obj: &mut Value) {
        let uid = self.uid();
        let meta = &mut obj["metadata"];
        meta["uid"] = json!(uid);
        meta["creationTimestamp"] = json!(now());
        if let Some(m) = meta.as_object_mut() {
            m.remove("resourceVersion");
            m.remove("deletionTimestamp");
            m.remove("generation");
        }
        if obj.get("spec").is_some() {
            obj["metadata"]["generation"] = json!(1);
        }
    }

    pub fn get(&self, key: &Key) -> Option<&Value> {
        self.objects.get(key)
    }

    /// Objects of one resource, in one namespace or all (`None`), in key order.
    pub fn of(&self, group: &str, plural: &str, namespace: Option<&str>) -> Vec<(Key, Value)> {
        self.objects
            .iter()
            .filter(|(k, _)| k.group == group && k.plural == plural && namespace.is_none_or(|ns| k.namespace == ns))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Stores `obj` under `key` as the next resourceVersion; returns the stored object.
    pub fn commit(&mut self, key: Key, mut obj: Value) -> Value {
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let previous = self.objects.insert(key.clone(), obj.clone());
        self.events.push(Event {
            rv: self.rv,
            key,
            kind: if previous.is_some() { "MODIFIED" } else { "ADDED" },
            object: obj.clone(),
            previous,
        });
        obj
    }

    /// Removes the object under `key`, as a new resourceVersion; returns it.
    pub fn remove(&mut self, key: &Key) -> Option<Value> {
        let mut obj = self.objects.remove(key)?;
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.events.push(Event {
            rv: self.rv,
            key: key.clone(),
            kind: "DELETED",
            object: obj.clone(),
            previous: None,
        });
        Some(obj)
    }
}
