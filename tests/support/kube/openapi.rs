//! The OpenAPI v3 documents kubectl reads before `apply`, `create` or `replace`: one per group
//! version, without schemas, whose PATCH operations take `fieldValidation`. kubectl then leaves
//! validation to the server instead of refusing for want of a schema (it falls back to OpenAPI
//! v2, a protobuf document, otherwise); it builds strategic merge patches from its own types.

use serde_json::{Value, json};

use super::catalog;

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `GET /openapi/v3`: where each group version's document is.
pub(crate) fn root() -> Value {
    let paths: serde_json::Map<String, Value> = catalog::group_versions()
        .into_iter()
        .map(|(g, v)| {
            let path = gv_path(g, v);
            let url = format!("/openapi/v3/{path}");
            (path, json!({ "serverRelativeURL": url }))
        })
        .collect();
    json!({ "paths": paths })
}

/// `GET /openapi/v3/api/v1` or `/openapi/v3/apis/{group}/{version}`, or None for a group version
/// not served.
pub(crate) fn group_version(group: &str, version: &str) -> Option<Value> {
    let mut paths = serde_json::Map::new();
    for k in catalog::KNOWN
        .iter()
        .filter(|k| k.group == group && k.version == version)
    {
        let base = format!("/{}", gv_path(group, version));
        let path = if k.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}/{{name}}", k.plural)
        } else {
            format!("{base}/{}/{{name}}", k.plural)
        };
        let gvk = json!({ "group": group, "version": version, "kind": k.kind });
        let params = json!([
            { "name": "fieldValidation", "in": "query", "schema": { "type": "string", "uniqueItems": true } },
            { "name": "fieldManager", "in": "query", "schema": { "type": "string", "uniqueItems": true } },
            { "name": "dryRun", "in": "query", "schema": { "type": "string", "uniqueItems": true } },
        ]);
        let op = |action: &str| {
            json!({
                "operationId": format!("{action}{}", k.kind),
                "parameters": params,
                "responses": {},
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
            })
        };
        paths.insert(
            path,
            json!({ "get": op("get"), "put": op("put"), "patch": op("patch") }),
        );
    }
    if paths.is_empty() {
        return None;
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": catalog::version()["gitVersion"] },
        "paths": paths,
        "components": { "schemas": {} },
    }))
}
