//! Requests to replies: routing, authentication, the test's forbidden verbs and injected conflicts,
//! and the verbs (get, list, watch, create, update, patch, delete, deletecollection) on objects and on
//! the status, scale, eviction and log subresources; Tables for `kubectl get`.

use std::time::Duration;

use serde_json::{Value, json};

use super::catalog;
use super::controllers;
use super::openapi;
use super::patch::{self, PatchType};
use super::pods;
use super::selector::{FieldSelector, LabelSelector};
use super::state::{Key, Res, Shared, State};
use super::status::{ApiError, success};
use super::stored_kinds;
use super::table;

/// One HTTP request, decoded.
pub(crate) struct Request {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    /// Lowercased names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn dry_run(&self) -> bool {
        self.param("dryRun") == Some("All")
    }

    /// A write that is not a dry run (in the query, or for a delete in its body's options).
    fn persists(&self) -> bool {
        let in_body = || {
            serde_json::from_slice::<Value>(&self.body)
                .is_ok_and(|o| o["dryRun"].as_array().is_some_and(|d| d.iter().any(|x| x == "All")))
        };
        matches!(self.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE") && !self.dry_run() && !in_body()
    }

    /// "METHOD path?query", as `KubeServer::requests` lists it.
    fn line(&self) -> String {
        let query: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if query.is_empty() {
            format!("{} {}", self.method, self.path)
        } else {
            format!("{} {}?{}", self.method, self.path, query.join("&"))
        }
    }
}

/// What to answer.
pub(crate) enum Reply {
    Json(u16, Value),
    /// JSON under another media type (aggregated discovery).
    Typed(u16, &'static str, Value),
    Text(u16, String),
    /// Raw bytes under a media type (the OpenAPI v2 protobuf document).
    Bytes(u16, &'static str, Vec<u8>),
    Watch(Box<Watch>),
}

/// A watch to stream: which objects, and from when.
pub(crate) struct Watch {
    pub group: String,
    pub plural: String,
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    /// Replay changes after this resourceVersion; None starts with every current object as ADDED.
    pub since: Option<u64>,
    pub timeout: Option<Duration>,
    /// `sendInitialEvents=true`: end the initial ADDED events with a bookmark.
    pub initial_events: bool,
    pub kind: String,
    pub api_version: String,
    /// `kubectl get -w`: each event's object as a Table of one row (the resource, `includeObject`).
    pub table: Option<(Res, Option<String>)>,
}

impl Watch {
    /// An event's object as this watch sends it.
    pub fn render(&self, object: Value) -> Value {
        match &self.table {
            Some((res, include)) => table::of(res, &object, include.as_deref()),
            None => object,
        }
    }
}

impl Watch {
    pub fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(obj) && self.fields.matches(obj)
    }
}

const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Answers one request; every request is recorded.
pub(crate) fn handle(shared: &Shared, req: &Request) -> Reply {
    let mut state = shared.lock();
    state.requests.push(req.line());
    let reply = dispatch(shared.port, &mut state, req).unwrap_or_else(|e| Reply::Json(e.code, e.to_json()));
    let admitted = match &reply {
        Reply::Json(code, _) | Reply::Typed(code, _, _) | Reply::Text(code, _) | Reply::Bytes(code, _, _) => {
            (200..300).contains(code)
        }
        Reply::Watch(_) => false,
    };
    if admitted && req.persists() {
        state.writes.push(req.line());
    }
    drop(state);
    shared.changed.notify_all();
    reply
}

fn dispatch(port: u16, state: &mut State, req: &Request) -> Result<Reply, ApiError> {
    let segs: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
    // What the real server shows to anyone (system:public-info-viewer).
    match segs.as_slice() {
        ["version"] => return Ok(Reply::Json(200, catalog::version())),
        ["healthz" | "livez" | "readyz"] => return Ok(Reply::Text(200, "ok".into())),
        _ => {}
    }
    let token = req.header("authorization").and_then(|a| a.strip_prefix("Bearer "));
    if token != Some("test-token") && !(token.is_none() && state.anonymous) {
        return Err(ApiError::unauthorized());
    }
    let aggregated = req
        .header("accept")
        .is_some_and(|a| a.contains("as=APIGroupDiscoveryList"));
    let doc = |v: Option<Value>| v.map(|v| Reply::Json(200, v)).ok_or_else(ApiError::no_route);
    match segs.as_slice() {
        ["openapi", "v2"] => Ok(Reply::Bytes(200, openapi::V2_PROTOBUF, openapi::v2())),
        ["openapi", "v3"] => Ok(Reply::Json(200, openapi::root())),
        ["openapi", "v3", "api", version] => doc(openapi::group_version("", version)),
        ["openapi", "v3", "apis", group, version] => doc(openapi::group_version(group, version)),
        ["api"] if aggregated => Ok(Reply::Typed(200, AGGREGATED, catalog::aggregated(true))),
        ["apis"] if aggregated && state.discover_stored => Ok(Reply::Typed(
            200,
            AGGREGATED,
            stored_kinds::aggregated(state, catalog::aggregated(false)),
        )),
        ["apis"] if aggregated => Ok(Reply::Typed(200, AGGREGATED, catalog::aggregated(false))),
        ["api"] => Ok(Reply::Json(200, catalog::api_versions(port))),
        ["apis"] if state.discover_stored => Ok(Reply::Json(
            200,
            stored_kinds::api_group_list(state, catalog::api_group_list()),
        )),
        ["apis"] => Ok(Reply::Json(200, catalog::api_group_list())),
        ["api", version] => doc(catalog::api_resource_list("", version)),
        ["apis", group] if state.discover_stored => {
            doc(catalog::api_group_doc(group).or_else(|| stored_kinds::api_group_doc(state, group)))
        }
        ["apis", group] => doc(catalog::api_group_doc(group)),
        ["apis", group, version] if state.discover_stored => doc(catalog::api_resource_list(group, version)
            .or_else(|| stored_kinds::api_resource_list(state, group, version))),
        ["apis", group, version] => doc(catalog::api_resource_list(group, version)),
        ["api", version, rest @ ..] => resource(state, req, "", version, rest),
        ["apis", group, version, rest @ ..] => resource(state, req, group, version, rest),
        _ => Err(ApiError::no_route()),
    }
}

/// The Kubernetes verb of a request, as RBAC names it.
fn verb(req: &Request, has_name: bool) -> &'static str {
    match (req.method.as_str(), has_name) {
        ("GET", false) if matches!(req.param("watch"), Some("true" | "1")) => "watch",
        ("GET", false) => "list",
        ("GET", true) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", false) => "deletecollection",
        ("DELETE", true) => "delete",
        _ => "unknown",
    }
}

fn resource(state: &mut State, req: &Request, group: &str, version: &str, rest: &[&str]) -> Result<Reply, ApiError> {
    let (namespace, tail) = match rest {
        ["namespaces", ns, plural, tail @ ..] if !(tail.is_empty() && matches!(*plural, "status" | "finalize")) => {
            (Some(*ns), &rest[2..])
        }
        _ => (None, rest),
    };
    let (plural, name, sub) = match tail {
        [p] => (*p, None, None),
        [p, n] => (*p, Some(*n), None),
        [p, n, s] => (*p, Some(*n), Some(*s)),
        _ => return Err(ApiError::no_route()),
    };
    let res = Res::resolve(state, group, version, plural, namespace.is_some());
    if let Some(known) = catalog::by_plural(group, plural) {
        let misplaced = (known.namespaced && namespace.is_none() && name.is_some())
            || (!known.namespaced && namespace.is_some())
            || known.version != version
            || sub.is_some_and(|s| !known.subresources.contains(&s));
        if misplaced {
            return Err(ApiError::no_route());
        }
    }
    let verb = verb(req, name.is_some());
    let resource = match sub {
        Some(s) => format!("{plural}/{s}"),
        None => plural.to_string(),
    };
    if state.forbidden.contains(&(verb.to_string(), resource.clone())) {
        return Err(ApiError::forbidden(
            group,
            &resource,
            name.unwrap_or_default(),
            verb,
            namespace.filter(|_| res.namespaced),
        ));
    }
    let Some(name) = name else {
        return collection(state, req, &res, namespace);
    };
    let key = res.key(namespace, name);
    let dry_run = req.dry_run();
    if matches!(req.method.as_str(), "PUT" | "PATCH") {
        injected_conflict(state, &res, &key, &resource)?;
    }
    match (req.method.as_str(), sub) {
        ("GET", None) if table::wanted(req.header("accept")) => get(state, &res, &key)
            .map(|v| Reply::Typed(200, table::MEDIA, table::of(&res, &v, req.param("includeObject")))),
        ("GET", None | Some("status")) => get(state, &res, &key).map(|v| Reply::Json(200, v)),
        ("GET", Some("scale")) => get(state, &res, &key).map(|v| Reply::Json(200, scale_view(&v))),
        ("GET", Some("log")) => pods::logs(state, &key.namespace, name, &req.query).map(|t| Reply::Text(200, t)),
        ("POST", Some("eviction")) => {
            let pod = pods::check_eviction(state, &key.namespace, name)?;
            if !dry_run {
                remove(state, &pod, false);
            }
            Ok(Reply::Json(201, pods::evicted()))
        }
        ("PUT", None | Some("status")) => {
            let body = json_body(req)?;
            update(state, &res, &key, body, sub.is_some(), dry_run).map(|v| Reply::Json(200, v))
        }
        ("PUT", Some("scale")) => {
            let body = json_body(req)?;
            put_scale(state, &res, &key, &body, dry_run).map(|v| Reply::Json(200, v))
        }
        ("PATCH", None | Some("status")) => {
            patch_object(state, &res, &key, req, sub.is_some()).map(|(code, v)| Reply::Json(code, v))
        }
        ("PATCH", Some("scale")) => {
            let old = get(state, &res, &key)?;
            let ptype = patch_type(req)?;
            let mut scale = scale_view(&old);
            patch::apply(&mut scale, &patch::parse_body(&req.body, ptype)?, ptype)?;
            put_scale(state, &res, &key, &scale, dry_run).map(|v| Reply::Json(200, v))
        }
        ("DELETE", None) => delete(state, &res, &key, req).map(|v| Reply::Json(200, v)),
        _ => Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource",
        )),
    }
}

fn collection(state: &mut State, req: &Request, res: &Res, namespace: Option<&str>) -> Result<Reply, ApiError> {
    match req.method.as_str() {
        "GET" if matches!(req.param("watch"), Some("true" | "1")) => {
            watch(req, res, namespace).map(|w| Reply::Watch(Box::new(w)))
        }
        "GET" if table::wanted(req.header("accept")) => list(state, req, res, namespace)
            .map(|v| Reply::Typed(200, table::MEDIA, table::of(res, &v, req.param("includeObject")))),
        "GET" => list(state, req, res, namespace).map(|v| Reply::Json(200, v)),
        "POST" => {
            let Some(ns) = namespace.or((!res.namespaced).then_some("")) else {
                return Err(ApiError::method_not_allowed(
                    "the server does not allow this method on the requested resource",
                ));
            };
            let body = json_body(req)?;
            create(state, res, ns, body, req.dry_run()).map(|v| Reply::Json(201, v))
        }
        "DELETE" => {
            let doomed: Vec<Value> = selected(state, req, res, namespace)?;
            let mut items = Vec::new();
            for obj in doomed {
                let key = res.key(
                    obj["metadata"]["namespace"].as_str(),
                    obj["metadata"]["name"].as_str().unwrap_or_default(),
                );
                if let Some(gone) = remove(state, &key, false) {
                    items.push(gone);
                }
            }
            Ok(Reply::Json(200, list_doc(state, res, items, None)))
        }
        _ => Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource",
        )),
    }
}

fn json_body(req: &Request) -> Result<Value, ApiError> {
    // `kubectl create <kind>` sends protobuf, which this server does not read: a 415 says so
    // plainly, where decoding it as JSON would blame the body.
    if let Some(ct) = req.header("content-type")
        && ct
            .split(';')
            .next()
            .is_none_or(|base| base.trim() != "application/json")
    {
        return Err(ApiError {
            message: format!(
                "the body of the request was in an unknown format - accepted media types include: application/json; got {ct:?}"
            ),
            ..ApiError::unsupported_media_type(ct)
        });
    }
    let v: Value = serde_json::from_slice(&req.body)
        .map_err(|e| ApiError::bad_request(format!("the body of the request could not be decoded as JSON: {e}")))?;
    if !v.is_object() {
        return Err(ApiError::bad_request("the body of the request must be a JSON object"));
    }
    Ok(v)
}

fn patch_type(req: &Request) -> Result<PatchType, ApiError> {
    PatchType::from_content_type(req.header("content-type").unwrap_or_default())
}

/// The test's `conflict_next`: answer 409 as if someone else had just written the object (and make
/// that so, by giving it a new resourceVersion).
fn injected_conflict(state: &mut State, res: &Res, key: &Key, resource: &str) -> Result<(), ApiError> {
    if state.conflicts.get(resource).copied().unwrap_or(0) == 0 {
        return Ok(());
    }
    let Some(obj) = state.get(key).cloned() else {
        return Ok(());
    };
    if let Some(n) = state.conflicts.get_mut(resource) {
        *n -= 1;
    }
    state.commit(key.clone(), obj);
    Err(ApiError::conflict(&res.group, &res.plural, &key.name))
}

fn get(state: &State, res: &Res, key: &Key) -> Result<Value, ApiError> {
    state
        .get(key)
        .map(|o| pods::view(state, key, o))
        .ok_or_else(|| ApiError::not_found(&res.group, &res.plural, &key.name))
}

fn selectors(req: &Request, res: &Res) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let labels = LabelSelector::parse(req.param("labelSelector").unwrap_or_default()).map_err(ApiError::bad_request)?;
    let fields = FieldSelector::parse(req.param("fieldSelector").unwrap_or_default(), &res.plural)
        .map_err(ApiError::bad_request)?;
    Ok((labels, fields))
}

/// The objects a collection request selects, as reads show them.
fn selected(state: &State, req: &Request, res: &Res, namespace: Option<&str>) -> Result<Vec<Value>, ApiError> {
    let (labels, fields) = selectors(req, res)?;
    Ok(state
        .of(&res.group, &res.plural, namespace)
        .into_iter()
        .filter(|(_, o)| labels.matches(o) && fields.matches(o))
        .map(|(k, o)| pods::view(state, &k, &o))
        .collect())
}

fn list_doc(state: &State, res: &Res, items: Vec<Value>, cont: Option<(String, usize)>) -> Value {
    let mut meta = json!({ "resourceVersion": state.rv.to_string() });
    if let Some((token, remaining)) = cont {
        meta["continue"] = json!(token);
        meta["remainingItemCount"] = json!(remaining);
    }
    json!({
        "apiVersion": res.api_version(),
        "kind": format!("{}List", res.kind),
        "metadata": meta,
        "items": items,
    })
}

/// LIST, with `limit` and `continue` paging (the token is the offset of the next item).
fn list(state: &State, req: &Request, res: &Res, namespace: Option<&str>) -> Result<Value, ApiError> {
    let items = selected(state, req, res, namespace)?;
    let start = match req.param("continue").filter(|c| !c.is_empty()) {
        Some(token) => token
            .parse::<usize>()
            .map_err(|_| ApiError::bad_request("continue key is not valid"))?,
        None => 0,
    };
    let limit = req
        .param("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0);
    let total = items.len();
    let end = limit.map_or(total, |l| (start + l).min(total));
    let page: Vec<Value> = items.into_iter().skip(start).take(end.saturating_sub(start)).collect();
    let cont = (end < total).then(|| (end.to_string(), total - end));
    Ok(list_doc(state, res, page, cont))
}

fn watch(req: &Request, res: &Res, namespace: Option<&str>) -> Result<Watch, ApiError> {
    let (labels, fields) = selectors(req, res)?;
    let since = match req.param("resourceVersion").filter(|rv| !rv.is_empty() && *rv != "0") {
        Some(rv) => Some(
            rv.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?,
        ),
        None => None,
    };
    Ok(Watch {
        group: res.group.clone(),
        plural: res.plural.clone(),
        namespace: namespace.map(String::from),
        labels,
        fields,
        since: if req.param("sendInitialEvents") == Some("true") {
            None
        } else {
            since
        },
        timeout: req
            .param("timeoutSeconds")
            .and_then(|t| t.parse().ok())
            .map(Duration::from_secs),
        initial_events: req.param("sendInitialEvents") == Some("true"),
        kind: res.kind.clone(),
        api_version: res.api_version(),
        table: table::wanted(req.header("accept")).then(|| (res.clone(), req.param("includeObject").map(String::from))),
    })
}

/// Defaults, then stores the object as the next revision and runs the controllers; returns the
/// object as it now reads. A dry run returns what would have been stored.
pub(crate) fn store(state: &mut State, res: &Res, key: Key, mut obj: Value, dry_run: bool) -> Value {
    controllers::normalize(res, &mut obj);
    if dry_run {
        return obj;
    }
    state.commit(key.clone(), obj);
    controllers::after_write(state, &key);
    state.get(&key).map(|o| pods::view(state, &key, o)).unwrap_or_default()
}

/// Removes an object and what it owns.
fn remove(state: &mut State, key: &Key, orphan: bool) -> Option<Value> {
    let gone = state.remove(key)?;
    controllers::after_delete(state, key, &gone, orphan);
    Some(gone)
}

fn set_or_remove(obj: &mut Value, field: &str, value: Option<Value>) {
    match value.filter(|v| !v.is_null()) {
        Some(v) => obj[field] = v,
        None => {
            if let Some(m) = obj.as_object_mut() {
                m.remove(field);
            }
        }
    }
}

/// The object an update stores: `new`, with the metadata only the server sets kept from `old`, the
/// old status kept when `keep_status` (it is written through the status subresource), and the
/// generation bumped when the spec changed. With `status_only`, only the status of `new` is taken.
pub(crate) fn merge_update(old: &Value, mut new: Value, status_only: bool, keep_status: bool) -> Value {
    if status_only {
        let mut out = old.clone();
        set_or_remove(&mut out, "status", new.get("status").cloned());
        return out;
    }
    new["apiVersion"] = old["apiVersion"].clone();
    new["kind"] = old["kind"].clone();
    if !new["metadata"].is_object() {
        new["metadata"] = json!({});
    }
    for field in ["name", "namespace", "uid", "creationTimestamp", "generation"] {
        set_or_remove(&mut new["metadata"], field, old["metadata"].get(field).cloned());
    }
    set_or_remove(&mut new["metadata"], "resourceVersion", None);
    if keep_status {
        set_or_remove(&mut new, "status", old.get("status").cloned());
    }
    if new.get("spec") != old.get("spec")
        && let Some(g) = old["metadata"]["generation"].as_i64()
    {
        new["metadata"]["generation"] = json!(g + 1);
    }
    new
}

/// A write naming a resourceVersion must name the current one.
fn precondition(res: &Res, old: &Value, new: &Value) -> Result<(), ApiError> {
    match new["metadata"]["resourceVersion"].as_str() {
        Some(rv) if !rv.is_empty() && Some(rv) != old["metadata"]["resourceVersion"].as_str() => {
            Err(ApiError::conflict(
                &res.group,
                &res.plural,
                old["metadata"]["name"].as_str().unwrap_or_default(),
            ))
        }
        _ => Ok(()),
    }
}

fn create(state: &mut State, res: &Res, namespace: &str, mut obj: Value, dry_run: bool) -> Result<Value, ApiError> {
    obj["apiVersion"] = json!(res.api_version());
    obj["kind"] = json!(res.kind);
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    let name = match (
        obj["metadata"]["name"].as_str(),
        obj["metadata"]["generateName"].as_str(),
    ) {
        (Some(n), _) if !n.is_empty() => n.to_string(),
        (_, Some(prefix)) if !prefix.is_empty() => format!("{prefix}{}", state.suffix()),
        _ => {
            return Err(ApiError::invalid(
                &res.group,
                &res.kind,
                "",
                "metadata.name",
                "FieldValueRequired",
                "Required value: name or generateName is required",
            ));
        }
    };
    obj["metadata"]["name"] = json!(name);
    if res.namespaced {
        match obj["metadata"]["namespace"].as_str() {
            Some(ns) if !ns.is_empty() && ns != namespace => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => obj["metadata"]["namespace"] = json!(namespace),
        }
    } else if let Some(m) = obj["metadata"].as_object_mut() {
        m.remove("namespace");
    }
    validate(res, &obj)?;
    let key = res.key(Some(namespace), &name);
    if state.get(&key).is_some() {
        return Err(ApiError::already_exists(&res.group, &res.plural, &name));
    }
    state.stamp_new(&mut obj);
    // Controllers own the status of these; a create starts it afresh.
    if res.status_sub
        && !matches!(res.plural.as_str(), "nodes" | "namespaces")
        && let Some(m) = obj.as_object_mut()
    {
        m.remove("status");
    }
    Ok(store(state, res, key, obj, dry_run))
}

/// What the real server's validation refuses that tests rely on (a dry run is validated too): a
/// name that is not a lowercase RFC 1123 subdomain, a negative replica count.
pub(crate) fn validate(res: &Res, obj: &Value) -> Result<(), ApiError> {
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let subdomain = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !subdomain {
        return Err(ApiError::invalid(
            &res.group,
            &res.kind,
            name,
            "metadata.name",
            "FieldValueInvalid",
            &format!(
                "Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
            ),
        ));
    }
    if let Some(n) = obj["spec"]["replicas"].as_i64()
        && n < 0
        && matches!(res.plural.as_str(), "deployments" | "replicasets" | "statefulsets")
    {
        return Err(ApiError::invalid(
            &res.group,
            &res.kind,
            name,
            "spec.replicas",
            "FieldValueInvalid",
            &format!("Invalid value: {n}: must be greater than or equal to 0"),
        ));
    }
    Ok(())
}

fn check_identity(key: &Key, res: &Res, body: &Value) -> Result<(), ApiError> {
    if let Some(n) = body["metadata"]["name"].as_str()
        && n != key.name
    {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({n}) does not match the name on the URL ({})",
            key.name
        )));
    }
    if res.namespaced
        && let Some(ns) = body["metadata"]["namespace"].as_str()
        && !ns.is_empty()
        && ns != key.namespace
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    Ok(())
}

fn update(
    state: &mut State,
    res: &Res,
    key: &Key,
    body: Value,
    status_only: bool,
    dry_run: bool,
) -> Result<Value, ApiError> {
    let old = state
        .get(key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(&res.group, &res.plural, &key.name))?;
    check_identity(key, res, &body)?;
    precondition(res, &old, &body)?;
    let new = merge_update(&old, body, status_only, res.status_sub);
    validate(res, &new)?;
    Ok(store(state, res, key.clone(), new, dry_run))
}

fn patch_object(
    state: &mut State,
    res: &Res,
    key: &Key,
    req: &Request,
    status_only: bool,
) -> Result<(u16, Value), ApiError> {
    let ptype = patch_type(req)?;
    if ptype == PatchType::Apply && req.param("fieldManager").is_none_or(str::is_empty) {
        return Err(ApiError {
            details: json!({ "group": "meta.k8s.io", "kind": "PatchOptions", "causes": [{
                "reason": "FieldValueRequired",
                "message": "Required value: is required for apply patch",
                "field": "fieldManager",
            }] }),
            ..ApiError::new(
                422,
                "Invalid",
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            )
        });
    }
    let body = patch::parse_body(&req.body, ptype)?;
    let dry_run = req.dry_run();
    let Some(old) = state.get(key).cloned() else {
        if ptype == PatchType::Apply && !status_only {
            check_identity(key, res, &body)?;
            let mut obj = body;
            obj["metadata"]["name"] = json!(key.name);
            return create(state, res, &key.namespace, obj, dry_run).map(|v| (201, v));
        }
        return Err(ApiError::not_found(&res.group, &res.plural, &key.name));
    };
    if ptype == PatchType::Apply {
        check_identity(key, res, &body)?;
    }
    let mut doc = old.clone();
    patch::apply(&mut doc, &body, ptype)?;
    precondition(res, &old, &doc)?;
    let new = merge_update(&old, doc, status_only, res.status_sub);
    validate(res, &new)?;
    Ok((200, store(state, res, key.clone(), new, dry_run)))
}

fn delete(state: &mut State, res: &Res, key: &Key, req: &Request) -> Result<Value, ApiError> {
    let old = state
        .get(key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(&res.group, &res.plural, &key.name))?;
    let opts: Value = if req.body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&req.body).map_err(|e| ApiError::bad_request(e.to_string()))?
    };
    let pre = &opts["preconditions"];
    let mismatch = |field: &str| {
        pre[field]
            .as_str()
            .is_some_and(|want| old["metadata"][field].as_str() != Some(want))
    };
    if mismatch("resourceVersion") || mismatch("uid") {
        return Err(ApiError::conflict(&res.group, &res.plural, &key.name));
    }
    let dry_run = req.dry_run() || opts["dryRun"].as_array().is_some_and(|d| d.iter().any(|x| x == "All"));
    let orphan = opts["propagationPolicy"] == "Orphan"
        || req.param("propagationPolicy") == Some("Orphan")
        || opts["orphanDependents"] == true;
    let gone = if dry_run {
        old
    } else {
        remove(state, key, orphan).unwrap_or(old)
    };
    // Pods answer with the object (their deletion is graceful on a real cluster); the rest with a Status.
    if res.is("", "pods") {
        return Ok(gone);
    }
    let mut details = json!({ "name": key.name, "kind": res.plural, "uid": gone["metadata"]["uid"] });
    if !res.group.is_empty() {
        details["group"] = json!(res.group);
    }
    Ok(success(200, Some(details)))
}

/// The autoscaling/v1 Scale of a Deployment, ReplicaSet or StatefulSet.
fn scale_view(obj: &Value) -> Value {
    let meta = &obj["metadata"];
    let mut status = json!({ "replicas": obj["status"]["replicas"].as_i64().unwrap_or(0) });
    if !obj["spec"]["selector"].is_null() {
        status["selector"] = json!(LabelSelector::to_query(&obj["spec"]["selector"]));
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
            "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": { "replicas": obj["spec"]["replicas"].as_i64().unwrap_or(1) },
        "status": status,
    })
}

fn put_scale(state: &mut State, res: &Res, key: &Key, scale: &Value, dry_run: bool) -> Result<Value, ApiError> {
    let old = get(state, res, key)?;
    check_identity(key, res, scale)?;
    precondition(res, &old, scale)?;
    let replicas = scale["spec"]["replicas"].as_i64().unwrap_or(0);
    if replicas < 0 {
        return Err(ApiError::invalid(
            "autoscaling",
            "Scale",
            &key.name,
            "spec.replicas",
            "FieldValueInvalid",
            &format!("Invalid value: {replicas}: must be greater than or equal to 0"),
        ));
    }
    let mut new = old.clone();
    new["spec"]["replicas"] = json!(replicas);
    let new = merge_update(&old, new, false, res.status_sub);
    let stored = store(state, res, key.clone(), new, dry_run);
    Ok(scale_view(&stored))
}
