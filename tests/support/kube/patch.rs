//! The four patch types: JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge patch,
//! and server-side apply.
//!
//! Strategic merge uses the merge keys of the built-in types (containers, env, volumes, ports, ...);
//! other lists are replaced, as the real server does. Server-side apply is approximated by a strategic
//! merge of the applied configuration into the live object: there is no field ownership, so fields an
//! earlier apply set and a later one dropped are kept, and no apply conflicts between managers arise.

use serde_json::{Map, Value};

use super::status::ApiError;

pub(crate) const MERGE: &str = "application/merge-patch+json";
pub(crate) const JSON: &str = "application/json-patch+json";
pub(crate) const STRATEGIC: &str = "application/strategic-merge-patch+json";
pub(crate) const APPLY: &str = "application/apply-patch+yaml";

/// Which patch a `Content-Type` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchType {
    Merge,
    Json,
    Strategic,
    Apply,
}

impl PatchType {
    pub fn from_content_type(ct: &str) -> Result<PatchType, ApiError> {
        let base = ct.split(';').next().unwrap_or_default().trim();
        match base {
            MERGE => Ok(PatchType::Merge),
            JSON => Ok(PatchType::Json),
            STRATEGIC => Ok(PatchType::Strategic),
            APPLY | "application/apply-patch+cbor" => Ok(PatchType::Apply),
            _ => Err(ApiError::unsupported_media_type(ct)),
        }
    }
}

/// Parses a patch body: JSON, or for apply also YAML.
pub(crate) fn parse_body(body: &[u8], kind: PatchType) -> Result<Value, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    match serde_json::from_str(text) {
        Ok(v) => Ok(v),
        Err(_) if kind == PatchType::Apply => serde_saphyr::from_str::<Value>(text)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}"))),
        Err(e) => Err(ApiError::bad_request(format!("error decoding patch: {e}"))),
    }
}

/// Applies `patch` of type `kind` to `doc`.
pub(crate) fn apply(doc: &mut Value, patch: &Value, kind: PatchType) -> Result<(), ApiError> {
    match kind {
        PatchType::Merge => {
            if !patch.is_object() {
                return Err(ApiError::bad_request("the patch must be a JSON object"));
            }
            json_patch::merge(doc, patch);
            Ok(())
        }
        PatchType::Json => {
            let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            json_patch::patch(doc, &ops).map_err(|e| {
                ApiError::new(
                    422,
                    "Invalid",
                    format!("the server rejected our request due to an error in our request: {e}"),
                )
            })
        }
        PatchType::Strategic | PatchType::Apply => {
            if !patch.is_object() {
                return Err(ApiError::bad_request("the patch must be a JSON object"));
            }
            strategic(doc, patch);
            Ok(())
        }
    }
}

/// The merge key of a list field of the built-in types, when its items merge rather than replace.
fn merge_key(field: &str, items: &[Value]) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims"
        | "schedulingGates" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "ports" => {
            if items.iter().any(|i| i.get("containerPort").is_some()) {
                Some("containerPort")
            } else {
                Some("port")
            }
        }
        "conditions" => Some("type"),
        "ownerReferences" => Some("uid"),
        "hostAliases" => Some("ip"),
        "topologySpreadConstraints" => Some("topologyKey"),
        _ => None,
    }
}

/// Lists of scalars that merge as sets.
fn merges_as_set(field: &str) -> bool {
    matches!(field, "finalizers")
}

fn is_directive(key: &str) -> bool {
    key == "$patch" || key.starts_with("$setElementOrder/") || key.starts_with("$retainKeys")
}

/// A patch value with its directives removed, to be stored as is.
fn clean(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !is_directive(k) && !k.starts_with("$deleteFromPrimitiveList/"))
                .map(|(k, v)| (k.clone(), clean(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(clean).collect()),
        other => other.clone(),
    }
}

/// Strategic merge of `patch` into `target`.
pub(crate) fn strategic(target: &mut Value, patch: &Value) {
    let Value::Object(pm) = patch else {
        *target = patch.clone();
        return;
    };
    if pm.get("$patch").and_then(Value::as_str) == Some("replace") {
        *target = clean(patch);
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(tm) = target else { return };
    for (k, v) in pm {
        if is_directive(k) {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Some(drop)) = (tm.get_mut(field), v.as_array()) {
                list.retain(|x| !drop.contains(x));
            }
            continue;
        }
        if v.is_null() {
            tm.remove(k);
            continue;
        }
        match (tm.get_mut(k), v) {
            (Some(Value::Array(list)), Value::Array(items)) => merge_list(list, items, k),
            (Some(existing), Value::Object(_)) => strategic(existing, v),
            _ => {
                tm.insert(k.clone(), clean(v));
            }
        }
    }
}

fn merge_list(list: &mut Vec<Value>, items: &[Value], field: &str) {
    if items
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        *list = items.iter().filter(|i| i.get("$patch").is_none()).map(clean).collect();
        return;
    }
    if merges_as_set(field) {
        for i in items {
            if !list.contains(i) {
                list.push(i.clone());
            }
        }
        return;
    }
    let Some(key) = merge_key(field, items) else {
        *list = items.iter().map(clean).collect();
        return;
    };
    for item in items {
        let id = &item[key];
        if item.get("$patch").and_then(Value::as_str) == Some("delete") {
            list.retain(|x| &x[key] != id);
        } else if let Some(existing) = list.iter_mut().find(|x| &x[key] == id) {
            strategic(existing, item);
        } else {
            list.push(clean(item));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategic_merges_containers_by_name_and_replaces_args() {
        let mut doc = json!({"spec": {"containers": [
            {"name": "app", "image": "a:1", "args": ["x"]},
            {"name": "side", "image": "s:1"}
        ]}});
        strategic(
            &mut doc,
            &json!({"spec": {"containers": [{"name": "app", "image": "a:2", "args": ["y"]}]}}),
        );
        assert_eq!(
            doc,
            json!({"spec": {"containers": [
                {"name": "app", "image": "a:2", "args": ["y"]},
                {"name": "side", "image": "s:1"}
            ]}})
        );
        strategic(
            &mut doc,
            &json!({"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}),
        );
        assert_eq!(doc["spec"]["containers"].as_array().map(Vec::len), Some(1));
    }
}
